//! A camera's settings: the one shape the configuration file's checker
//! builds and the settings API reads and writes, and the conversions to
//! what the recorder (`custos_media::source::SourceSpec`) and the analyzer
//! (`custos_vision::AnalyzerConfig`) take.
//!
//! Defaults, the transport's names, camera credentials and percent-decoding
//! are defined here once. Passwords never leave in printable form: `Debug`
//! and the JSON form show URLs through `redact_url`, and a password named
//! by `password_env` is read only when a source is built.

use std::fmt;

use custos_media::source::{redact_url, SourceSpec, Transport};
use custos_media::tls_pin::Fingerprint;
use custos_vision::{AnalyzerConfig, Polygon};
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

/// Length of each recorded segment file when a camera does not say.
pub const DEFAULT_SEGMENT_SECONDS: u32 = 60;
/// Pictures analysed per second when a camera does not say.
pub const DEFAULT_ANALYSIS_FPS: u32 = 5;

/// A `[[camera]]` table as the API reads and writes it.
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraSettings {
    /// `[a-z0-9-]`, unique; fixed once recorded under it.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// `rtsp://host[:port]/path`, without a password (shown redacted; sent
    /// back unchanged, it keeps the password the file has).
    #[serde(serialize_with = "shown_url")]
    pub url: String,
    /// A second (sub) stream for analysis, if the camera has one.
    #[serde(default, serialize_with = "shown_optional_url")]
    pub analysis_url: Option<String>,
    /// `tcp` (default) or `udp`.
    #[serde(default = "default_transport")]
    pub transport: String,
    /// The camera account's name.
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable of the server that holds the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Length of each recorded segment file.
    #[serde(default = "default_segment_seconds")]
    pub segment_seconds: u32,
    /// Delete footage older than this many days.
    #[serde(default)]
    pub retain_days: Option<u32>,
    /// Keep at most this many bytes of footage.
    #[serde(default)]
    pub retain_bytes: Option<u64>,
    /// A disabled camera is kept in the file but not recorded.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Motion and tamper detection.
    #[serde(default)]
    pub analysis: AnalysisSettings,
}

/// How a camera's pictures are analysed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSettings {
    /// Motion and tamper detection on.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Pictures analysed per second (1–30).
    #[serde(default = "default_fps")]
    pub fps: u32,
    /// Motion sensitivity, 0–1.
    #[serde(default = "default_sensitivity")]
    pub sensitivity: f32,
    /// Smallest moving area, as a fraction of the picture.
    #[serde(default = "default_min_area")]
    pub min_area: f32,
    /// Motion closer together than this is one event.
    #[serde(default = "default_merge_seconds")]
    pub merge_seconds: u32,
    /// Detect covering, defocus, moving and freezing.
    #[serde(default = "yes")]
    pub tamper: bool,
    /// Where motion counts (none: the whole picture).
    #[serde(default)]
    pub zones: Vec<RegionSettings>,
    /// Where motion never counts (a window, a clock).
    #[serde(default)]
    pub masks: Vec<RegionSettings>,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        // The analyzer's own defaults, so that they are written only once.
        let analyzer = AnalyzerConfig::default();
        AnalysisSettings {
            enabled: true,
            fps: DEFAULT_ANALYSIS_FPS,
            sensitivity: analyzer.sensitivity,
            min_area: analyzer.min_area,
            merge_seconds: u32::try_from(analyzer.motion_merge_gap_ms / 1000).unwrap_or_default(),
            tamper: analyzer.tamper,
            zones: Vec::new(),
            masks: Vec::new(),
        }
    }
}

/// A polygon on the picture; corners in 0–1 of its width and height.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionSettings {
    /// A zone's name (masks may leave it empty).
    #[serde(default)]
    pub name: String,
    /// At least three corners `[x, y]`.
    pub points: Vec<[f32; 2]>,
}

fn default_transport() -> String {
    transport_name(Transport::default()).to_owned()
}
fn default_segment_seconds() -> u32 {
    DEFAULT_SEGMENT_SECONDS
}
fn yes() -> bool {
    true
}
fn default_fps() -> u32 {
    AnalysisSettings::default().fps
}
fn default_sensitivity() -> f32 {
    AnalysisSettings::default().sensitivity
}
fn default_min_area() -> f32 {
    AnalysisSettings::default().min_area
}
fn default_merge_seconds() -> u32 {
    AnalysisSettings::default().merge_seconds
}

/// The transport's name in the file and the API: `tcp` or `udp`.
pub fn transport_name(transport: Transport) -> &'static str {
    match transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    }
}

/// The transport named `text`, if it is one.
pub fn parse_transport(text: &str) -> Option<Transport> {
    match text {
        "tcp" => Some(Transport::Tcp),
        "udp" => Some(Transport::Udp),
        _ => None,
    }
}

/// A URL as it may be shown: parsed and redacted. Text that does not parse
/// as a URL is not repeated if it could hold user information.
pub fn shown(text: &str) -> String {
    match Url::parse(text) {
        Ok(url) => redact_url(&url),
        Err(_) if text.contains('@') => "(not a valid URL)".to_owned(),
        Err(_) => text.to_owned(),
    }
}

fn shown_url<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&shown(text))
}

fn shown_optional_url<S: Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match text {
        Some(text) => s.serialize_some(&shown(text)),
        None => s.serialize_none(),
    }
}

impl CameraSettings {
    /// The settings as the API shows them: URLs without their passwords.
    pub fn redacted(&self) -> CameraSettings {
        CameraSettings {
            url: shown(&self.url),
            analysis_url: self.analysis_url.as_deref().map(shown),
            ..self.clone()
        }
    }
}

impl fmt::Debug for CameraSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CameraSettings")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &shown(&self.url))
            .field("analysis_url", &self.analysis_url.as_deref().map(shown))
            .field("transport", &self.transport)
            .field("username", &self.username)
            .field("password_env", &self.password_env)
            .field("segment_seconds", &self.segment_seconds)
            .field("retain_days", &self.retain_days)
            .field("retain_bytes", &self.retain_bytes)
            .field("enabled", &self.enabled)
            .field("analysis", &self.analysis)
            .finish()
    }
}

impl AnalysisSettings {
    /// What the analyzer is told; everything the settings do not name
    /// (the work size) keeps the analyzer's default.
    pub fn analyzer_config(&self) -> AnalyzerConfig {
        let polygon = |r: &RegionSettings| Polygon {
            name: r.name.clone(),
            points: r.points.iter().map(|&[x, y]| (x, y)).collect(),
        };
        AnalyzerConfig {
            sensitivity: self.sensitivity,
            min_area: self.min_area,
            zones: self.zones.iter().map(polygon).collect(),
            masks: self.masks.iter().map(polygon).collect(),
            motion_merge_gap_ms: i64::from(self.merge_seconds) * 1000,
            tamper: self.tamper,
            ..AnalyzerConfig::default()
        }
    }
}

/// A camera as the site runs it: its settings (URLs as the file holds
/// them, passwords included) and what only the file sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    pub settings: CameraSettings,
    /// For `rtsps://` and `https://` cameras: the SHA-256 fingerprint of the
    /// camera's (usually self-signed) certificate, the one to trust.
    pub tls_fingerprint: Option<Fingerprint>,
}

/// Why a camera's sources could not be built. Messages never hold a URL's
/// text or a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CameraError {
    #[error(
        "camera {camera:?}: password_env: the environment variable {var} {why}; \
         set it to the camera's password before starting custos"
    )]
    PasswordEnv {
        camera: String,
        var: String,
        why: &'static str,
    },
    #[error("camera {camera:?}: {key}: not a valid URL ({reason})")]
    Url {
        camera: String,
        key: &'static str,
        reason: url::ParseError,
    },
    #[error("camera {camera:?}: transport: expected \"tcp\" or \"udp\", found {found:?}")]
    Transport { camera: String, found: String },
}

impl Camera {
    /// The camera's main stream, parsed.
    pub fn url(&self) -> Result<Url, CameraError> {
        self.parse_url("url", &self.settings.url)
    }

    /// The analysis stream, parsed, when the camera has one.
    pub fn analysis_url(&self) -> Result<Option<Url>, CameraError> {
        self.settings
            .analysis_url
            .as_deref()
            .map(|text| self.parse_url("analysis_url", text))
            .transpose()
    }

    fn parse_url(&self, key: &'static str, text: &str) -> Result<Url, CameraError> {
        Url::parse(text).map_err(|reason| CameraError::Url {
            camera: self.settings.id.clone(),
            key,
            reason,
        })
    }

    pub fn transport(&self) -> Result<Transport, CameraError> {
        parse_transport(&self.settings.transport).ok_or_else(|| CameraError::Transport {
            camera: self.settings.id.clone(),
            found: self.settings.transport.clone(),
        })
    }

    /// The credentials to apply to the main stream: the user name from
    /// `username` or else the URL, the password from the environment
    /// variable `password_env` (read now, at call time) or else the URL.
    /// Escapes in the URL (`%40`) are decoded. `None` when there are
    /// neither.
    pub fn credentials(&self) -> Result<Option<(String, String)>, CameraError> {
        let url = self.url()?;
        let from_url = url_credentials(&url);
        let user = match &self.settings.username {
            Some(u) => Some(u.clone()),
            None => from_url
                .as_ref()
                .map(|(u, _)| u.clone())
                .filter(|u| !u.is_empty()),
        };
        let password = match &self.settings.password_env {
            Some(var) => {
                let problem = |why| CameraError::PasswordEnv {
                    camera: self.settings.id.clone(),
                    var: var.clone(),
                    why,
                };
                match std::env::var(var) {
                    Ok(p) if p.is_empty() => return Err(problem("is empty")),
                    Ok(p) => Some(p),
                    Err(std::env::VarError::NotPresent) => return Err(problem("is not set")),
                    Err(std::env::VarError::NotUnicode(_)) => {
                        return Err(problem("is not valid Unicode"))
                    }
                }
            }
            None => url.password().map(percent_decode),
        };
        Ok(match (user, password) {
            (None, None) => None,
            (user, password) => Some((user.unwrap_or_default(), password.unwrap_or_default())),
        })
    }

    /// Where the recorder reads the camera from.
    pub fn source_spec(&self) -> Result<SourceSpec, CameraError> {
        Ok(SourceSpec {
            url: self.url()?,
            transport: self.transport()?,
            credentials: self.credentials()?,
            tls_fingerprint: self.tls_fingerprint,
        })
    }

    /// Where analysis reads the camera's sub stream from, when it has one:
    /// with the credentials its URL holds, else the camera's.
    pub fn analysis_source_spec(&self) -> Result<Option<SourceSpec>, CameraError> {
        let Some(url) = self.analysis_url()? else {
            return Ok(None);
        };
        let credentials = match url_credentials(&url) {
            Some(own) => Some(own),
            None => self.credentials()?,
        };
        Ok(Some(SourceSpec {
            url,
            transport: self.transport()?,
            credentials,
            tls_fingerprint: self.tls_fingerprint,
        }))
    }
}

/// The user name and password a URL holds, `%XX` escapes decoded; `None`
/// when it holds neither.
pub fn url_credentials(url: &Url) -> Option<(String, String)> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    Some((
        percent_decode(url.username()),
        url.password().map(percent_decode).unwrap_or_default(),
    ))
}

/// Decodes `%XX` escapes (as in the user-info part of a URL); other bytes,
/// including a stray `%` and `+` (literal in user info), are kept.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex_digit(h).zip(hex_digit(l)),
            _ => None,
        };
        match escaped {
            Some((h, l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(url: &str) -> Camera {
        Camera {
            settings: serde_json::from_value(serde_json::json!({
                "id": "door", "name": "Door", "url": url,
            }))
            .expect("settings"),
            tls_fingerprint: None,
        }
    }

    #[test]
    fn defaults_are_the_files_and_the_analyzers() {
        let c = camera("rtsp://10.0.0.5/main");
        assert_eq!(c.settings.transport, "tcp");
        assert_eq!(c.settings.segment_seconds, 60);
        assert!(c.settings.enabled);
        let a = &c.settings.analysis;
        assert_eq!(
            (a.fps, a.sensitivity, a.min_area, a.merge_seconds),
            (5, 0.5, 0.002, 3)
        );
        assert_eq!(a.analyzer_config(), AnalyzerConfig::default());
    }

    #[test]
    fn passwords_are_neither_shown_nor_debug_printed_but_reach_the_source() {
        let c = camera("rtsp://vi%40ewer:s3%3Acret@10.0.0.5/main");
        let json = serde_json::to_string(&c.settings).expect("json");
        assert!(!json.contains("s3"), "{json}");
        assert!(json.contains("vi%40ewer:***@"), "{json}");
        assert!(!format!("{c:?}").contains("s3"));
        assert!(!c.settings.redacted().url.contains("s3"));
        let spec = c.source_spec().expect("spec");
        assert_eq!(
            spec.credentials,
            Some(("vi@ewer".to_owned(), "s3:cret".to_owned()))
        );
        assert!(!format!("{spec:?}").contains("s3"));
    }

    #[test]
    fn the_analysis_stream_has_its_own_credentials_or_the_cameras() {
        let mut c = camera("rtsp://admin:pw@10.0.0.5/main");
        c.settings.analysis_url = Some("rtsp://10.0.0.5/sub".into());
        let spec = c.analysis_source_spec().expect("spec").expect("some");
        assert_eq!(spec.credentials, Some(("admin".into(), "pw".into())));
        c.settings.analysis_url = Some("rtsp://other:x@10.0.0.5/sub".into());
        let spec = c.analysis_source_spec().expect("spec").expect("some");
        assert_eq!(spec.credentials, Some(("other".into(), "x".into())));
    }

    #[test]
    fn a_missing_password_variable_names_the_camera_and_the_variable() {
        let mut c = camera("rtsp://10.0.0.5/main");
        c.settings.password_env = Some("CUSTOS_SITE_TEST_UNSET_PASSWORD".into());
        let err = c.source_spec().expect_err("unset");
        assert_eq!(
            err.to_string(),
            "camera \"door\": password_env: the environment variable \
             CUSTOS_SITE_TEST_UNSET_PASSWORD is not set; set it to the camera's password \
             before starting custos"
        );
    }

    #[test]
    fn percent_escapes_are_decoded_and_stray_ones_kept() {
        assert_eq!(percent_decode("a%40b%2"), "a@b%2");
        assert_eq!(percent_decode("100%zz+"), "100%zz+");
    }
}
