//! The site's settings over HTTP (admin only): cameras (add, edit, test a
//! stream with a probe, draw motion zones and privacy masks) and opening
//! hours.
//!
//! The configuration file stays the one source of truth: a change is
//! written to it (by the [`SiteSettings`] the binary provides, which checks
//! the whole new file as `custos check-config` would, before replacing the
//! old one atomically), logged as `config.changed` with the old and new
//! file digests and who made it, and then applied by restarting the
//! recording pipeline in-process (segments are sealed first; every camera
//! reconnects within seconds). Without a provider (a process that was not
//! given its configuration file's path) these routes answer 404.
//!
//! Secrets never pass through here: a camera's password is named by
//! `password_env` (an environment variable of the server), URLs are shown
//! without their password, and a probe's password is used once and kept
//! nowhere.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use custos_ledger::catalogue::{leaf, ConfigChanged};
use serde::{Deserialize, Serialize};

pub use custos_site::camera::{AnalysisSettings, CameraSettings, RegionSettings};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::roles::SETTINGS_ADMINS;
use crate::SharedState;

/// The `[hours]` table: when the rooms are open, in the site's time zone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursSettings {
    /// An IANA time zone such as `Europe/Berlin`; `null` removes the
    /// opening hours (the rooms are then never closed).
    pub time_zone: Option<String>,
    /// Monday's hours, such as `08:00-12:00,13:00-17:30`, or `closed`
    /// (absent: closed).
    #[serde(default)]
    pub mon: Option<String>,
    #[allow(missing_docs)]
    #[serde(default)]
    pub tue: Option<String>,
    #[allow(missing_docs)]
    #[serde(default)]
    pub wed: Option<String>,
    #[allow(missing_docs)]
    #[serde(default)]
    pub thu: Option<String>,
    #[allow(missing_docs)]
    #[serde(default)]
    pub fri: Option<String>,
    #[allow(missing_docs)]
    #[serde(default)]
    pub sat: Option<String>,
    #[allow(missing_docs)]
    #[serde(default)]
    pub sun: Option<String>,
    /// Whole days closed, such as `2026-12-25`.
    #[serde(default)]
    pub closed: Vec<String>,
}

/// Body of `POST /api/v1/settings/probe`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    /// The stream to test: `rtsp://…`, `rtsps://…`, `http(s)://…` (MJPEG).
    pub url: String,
    /// The camera account's name.
    #[serde(default)]
    pub username: Option<String>,
    /// Its password, used for this probe only and kept nowhere.
    #[serde(default)]
    pub password: Option<String>,
    /// `tcp` (default) or `udp`.
    #[serde(default = "default_transport")]
    pub transport: String,
    /// For `rtsps://` and `https://`: the SHA-256 fingerprint of the
    /// camera's certificate, the one to trust.
    #[serde(default)]
    pub tls_fingerprint: Option<String>,
}

/// What a probe measured.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProbeResult {
    /// `h264`, `h265` or `mjpeg`.
    pub codec: String,
    /// The RFC 6381 codec string, as browsers want it.
    pub rfc6381: String,
    /// Picture width in pixels.
    pub width: u16,
    /// Picture height in pixels.
    pub height: u16,
    /// Frames per second measured from timestamps.
    pub fps: f64,
    /// Frames from one key frame to the next, when two were seen.
    pub gop_frames: Option<u32>,
    /// Bits per second measured over the sample.
    pub bitrate_bps: u64,
    /// Seconds of stream measured.
    pub sampled_seconds: f64,
    /// Pictures the stream may reorder (B-frames): 0 without B-frames; the
    /// recorder holds this many back to give each its decode time.
    pub reorder_depth: u32,
}

/// What a change did to the configuration file.
#[derive(Clone, Debug)]
pub struct FileChange {
    /// SHA-256 of the file before, lower-case hex.
    pub old_sha256: String,
    /// SHA-256 of the file after.
    pub new_sha256: String,
}

/// Why a settings request failed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The change would make the configuration invalid; the message lists
    /// every problem (line, column, expected). Nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// No such camera.
    #[error("{0}")]
    NotFound(String),
    /// The stream could not be probed (unreachable, refused, no video).
    #[error("{0}")]
    Probe(String),
    /// The file could not be read or written.
    #[error("{0}")]
    Io(String),
}

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            SettingsError::NotFound(m) => ApiError::not_found(m),
            SettingsError::Probe(m) => ApiError::new(StatusCode::BAD_GATEWAY, m),
            SettingsError::Io(m) => ApiError::internal("changing the configuration file", &m),
        }
    }
}

/// A future a probe returns.
pub type ProbeFuture = Pin<Box<dyn Future<Output = Result<ProbeResult, SettingsError>> + Send>>;

/// The site's settings, as the binary keeps them (its configuration file).
/// The blocking methods run on a blocking thread.
pub trait SiteSettings: Send + Sync {
    /// Every `[[camera]]`, in file order, passwords redacted.
    fn cameras(&self) -> Result<Vec<CameraSettings>, SettingsError>;
    /// Replaces the camera with `camera.id`, or adds it when there is none.
    fn put_camera(&self, camera: &CameraSettings) -> Result<FileChange, SettingsError>;
    /// The `[hours]` table (all `None` when there is none).
    fn hours(&self) -> Result<HoursSettings, SettingsError>;
    /// Replaces the `[hours]` table (removes it when `time_zone` is `None`).
    fn set_hours(&self, hours: &HoursSettings) -> Result<FileChange, SettingsError>;
    /// Connects to a stream and measures what it sends (within 10 s).
    fn probe(&self, request: ProbeRequest) -> ProbeFuture;
    /// Restarts the recording pipeline with the file as it now is.
    fn apply(&self);
}

fn default_transport() -> String {
    custos_site::camera::transport_name(custos_media::source::Transport::default()).to_owned()
}

fn provider(state: &SharedState) -> Result<Arc<dyn SiteSettings>, ApiError> {
    state.settings.clone().ok_or_else(|| {
        ApiError::not_found(
            "this server's settings cannot be changed over the API; edit its configuration file",
        )
    })
}

async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, SettingsError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(what, &e))?
        .map_err(ApiError::from)
}

/// Logs a change of the file, then restarts the pipeline to apply it.
async fn log_and_apply(
    state: &SharedState,
    settings: &Arc<dyn SiteSettings>,
    user: &str,
    section: String,
    change: FileChange,
) -> Result<(), ApiError> {
    tracing::info!(target: "custos::audit", user, %section, old = %change.old_sha256, new = %change.new_sha256, "configuration changed");
    let leaf = leaf(
        crate::now_ms(),
        &ConfigChanged {
            by: user,
            section: &section,
            old_sha256: &change.old_sha256,
            new_sha256: &change.new_sha256,
        },
    )
    .map_err(|e| ApiError::internal("recording the change in the log", &e))?;
    state
        .write("recording the change in the log", move |s| {
            s.enqueue_log(vec![leaf])
        })
        .await?;
    settings.apply();
    Ok(())
}

/// `GET /api/v1/settings/cameras` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CameraSettingsList {
    cameras: Vec<CameraSettings>,
}

/// `GET /api/v1/settings/cameras`: every camera of the configuration.
#[utoipa::path(
    get,
    path = "/api/v1/settings/cameras",
    tag = "settings",
    responses(
        (status = 200, description = "Every camera of the configuration file, passwords redacted", body = CameraSettingsList),
        (status = 404, description = "This server's settings cannot be changed over the API"),
    ),
)]
pub(crate) async fn list_cameras(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<CameraSettingsList>, ApiError> {
    require_role(&user, SETTINGS_ADMINS)?;
    let settings = provider(&state)?;
    let cameras = blocking("reading the cameras", move || settings.cameras()).await?;
    Ok(Json(CameraSettingsList { cameras }))
}

/// Answer of a change: what the file holds now; the pipeline restarts.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Applied<T> {
    /// The setting as the file now holds it.
    saved: T,
    /// The recording pipeline restarts to apply it (a few seconds).
    restarting: bool,
}

/// `PUT /api/v1/settings/cameras/{id}`: adds or replaces a camera.
#[utoipa::path(
    put,
    path = "/api/v1/settings/cameras/{id}",
    tag = "settings",
    params(("id" = String, Path, description = "The camera's id (the body's id must match)")),
    request_body = CameraSettings,
    responses(
        (status = 200, description = "Saved and logged; the pipeline restarts to apply it", body = Applied<CameraSettings>),
        (status = 400, description = "The body's id differs from the path's"),
        (status = 422, description = "The configuration would be invalid; every problem is listed and nothing was written"),
        (status = 404, description = "This server's settings cannot be changed over the API"),
    ),
)]
pub(crate) async fn put_camera(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(camera): ApiJson<CameraSettings>,
) -> Result<Json<Applied<CameraSettings>>, ApiError> {
    require_role(&user, SETTINGS_ADMINS)?;
    if camera.id != id {
        return Err(ApiError::bad_request(format!(
            "the body's id {:?} differs from the path's {id:?}",
            camera.id
        )));
    }
    let settings = provider(&state)?;
    let (change, saved) = {
        let settings = Arc::clone(&settings);
        blocking("saving the camera", move || {
            let change = settings.put_camera(&camera)?;
            let saved = settings
                .cameras()?
                .into_iter()
                .find(|c| c.id == camera.id)
                .ok_or_else(|| SettingsError::NotFound(format!("camera {:?}", camera.id)))?;
            Ok((change, saved))
        })
        .await?
    };
    log_and_apply(
        &state,
        &settings,
        &user.name,
        format!("camera {id}"),
        change,
    )
    .await?;
    Ok(Json(Applied {
        saved,
        restarting: true,
    }))
}

/// `GET /api/v1/settings/hours`.
#[utoipa::path(
    get,
    path = "/api/v1/settings/hours",
    tag = "settings",
    responses(
        (status = 200, description = "The opening hours (time_zone null: none set)", body = HoursSettings),
        (status = 404, description = "This server's settings cannot be changed over the API"),
    ),
)]
pub(crate) async fn get_hours(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<HoursSettings>, ApiError> {
    require_role(&user, SETTINGS_ADMINS)?;
    let settings = provider(&state)?;
    Ok(Json(
        blocking("reading the opening hours", move || settings.hours()).await?,
    ))
}

/// `PUT /api/v1/settings/hours`.
#[utoipa::path(
    put,
    path = "/api/v1/settings/hours",
    tag = "settings",
    request_body = HoursSettings,
    responses(
        (status = 200, description = "Saved and logged; the pipeline restarts to apply it", body = Applied<HoursSettings>),
        (status = 422, description = "The configuration would be invalid; every problem is listed and nothing was written"),
        (status = 404, description = "This server's settings cannot be changed over the API"),
    ),
)]
pub(crate) async fn put_hours(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiJson(hours): ApiJson<HoursSettings>,
) -> Result<Json<Applied<HoursSettings>>, ApiError> {
    require_role(&user, SETTINGS_ADMINS)?;
    let settings = provider(&state)?;
    let (change, saved) = {
        let settings = Arc::clone(&settings);
        blocking("saving the opening hours", move || {
            let change = settings.set_hours(&hours)?;
            Ok((change, settings.hours()?))
        })
        .await?
    };
    log_and_apply(&state, &settings, &user.name, "hours".into(), change).await?;
    Ok(Json(Applied {
        saved,
        restarting: true,
    }))
}

/// `POST /api/v1/settings/probe`: tests a stream before it is saved.
#[utoipa::path(
    post,
    path = "/api/v1/settings/probe",
    tag = "settings",
    request_body = ProbeRequest,
    responses(
        (status = 200, description = "What the stream sends, measured over a few seconds", body = ProbeResult),
        (status = 400, description = "Not an rtsp:// URL"),
        (status = 502, description = "The camera could not be reached, refused the credentials or sent no video"),
        (status = 404, description = "This server's settings cannot be changed over the API"),
    ),
)]
pub(crate) async fn probe(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiJson(request): ApiJson<ProbeRequest>,
) -> Result<Json<ProbeResult>, ApiError> {
    require_role(&user, SETTINGS_ADMINS)?;
    let settings = provider(&state)?;
    if !request.url.starts_with("rtsp://") && !request.url.starts_with("rtsps://") {
        return Err(ApiError::bad_request(
            "url must be an rtsp:// address of the camera's stream",
        ));
    }
    Ok(Json(settings.probe(request).await?))
}
