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

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use custos_site::camera::CameraSettings;
use custos_site::settings::{
    log_change, FileChange, HoursSettings, ProbeRequest, ProbeResult, SettingsError, SiteSettings,
};
use serde::Serialize;

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::roles::SETTINGS_ADMINS;
use crate::SharedState;

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
    let what = "recording the change in the log";
    let user = user.to_owned();
    state
        .write_as(what, move |store| {
            log_change(store, &user, &section, &change, crate::now_ms())
                .map_err(|e| ApiError::not_logged(what, e))
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
