//! The site's settings as the binary keeps them (its configuration file):
//! the [`SiteSettings`] the settings API changes them through, the opening
//! hours, and what a probe of a camera's stream measured.
//!
//! A provider checks the whole new file as `custos check-config` would
//! before replacing the old one atomically, and says what the change did to
//! the file ([`FileChange`]), so the change can be logged. Secrets never
//! pass through here: a camera's password is named by `password_env`, and a
//! probe's password is used once and kept nowhere.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::camera::CameraSettings;

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
    crate::camera::transport_name(custos_media::source::Transport::default()).to_owned()
}

/// Logs a change of the settings file by `by` (`config.changed`, with the
/// file's digests before and after), before it is applied: a change the
/// log does not hold is never applied.
pub fn log_change(
    store: &custos_store::Store,
    by: &str,
    section: &str,
    change: &FileChange,
    now_ms: i64,
) -> Result<(), crate::NotLogged> {
    tracing::info!(target: "custos::audit", user = by, %section, old = %change.old_sha256, new = %change.new_sha256, "configuration changed");
    let entry = custos_ledger::catalogue::leaf(
        now_ms,
        &custos_ledger::catalogue::ConfigChanged {
            by,
            section,
            old_sha256: &change.old_sha256,
            new_sha256: &change.new_sha256,
        },
    )?;
    store.enqueue_log(vec![entry])?;
    Ok(())
}
