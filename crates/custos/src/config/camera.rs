//! `[[camera]]` tables, read into `custos_site::camera`'s types (the
//! settings API's), and the camera URL rules.

use std::collections::HashMap;
use std::ops::Range;

use custos_media::source::Transport;
use custos_site::camera::{
    parse_transport, transport_name, AnalysisSettings, Camera, CameraSettings, RegionSettings,
    DEFAULT_SEGMENT_SECONDS,
};
use toml_edit::{Item, TableLike, Value};
use url::Url;

use super::checker::{
    describe, describe_value, quote, valid_env_name, valid_name, Checker, Section,
};
use super::errors::line_col;

const CAMERA_KEYS: &[&str] = &[
    "id",
    "name",
    "url",
    "analysis_url",
    "transport",
    "username",
    "password_env",
    "tls_fingerprint",
    "segment_seconds",
    "retain_days",
    "retain_bytes",
    "enabled",
    "analysis",
    "analysis_fps",
    "motion_sensitivity",
    "motion_min_area",
    "motion_merge_seconds",
    "tamper",
    "zone",
    "mask",
];

const REGION_KEYS: &[&str] = &["name", "points"];

impl Checker<'_> {
    /// Every `[[camera]]` table (or `camera = [{...}]`); only cameras with
    /// no problems are returned, but all are checked.
    pub(super) fn cameras(&mut self, root: &Section<'_>) -> Vec<Camera> {
        let mut tables: Vec<(&dyn TableLike, Option<Range<usize>>)> = Vec::new();
        match root.get("camera") {
            None => {}
            Some((Item::ArrayOfTables(array), _)) => {
                for t in array.iter() {
                    tables.push((t, t.span()));
                }
            }
            Some((Item::Value(Value::Array(array)), _)) => {
                for v in array.iter() {
                    match v.as_inline_table() {
                        Some(t) => tables.push((t, t.span())),
                        None => self.report(
                            v.span(),
                            format!(
                                "camera: expected a table of camera settings, found {}",
                                describe_value(v)
                            ),
                        ),
                    }
                }
            }
            Some((item, span)) => self.report(
                span,
                format!(
                    "camera: expected [[camera]] tables, found {}",
                    describe(item)
                ),
            ),
        }

        let mut cameras = Vec::new();
        let mut first_line_of_id: HashMap<String, usize> = HashMap::new();
        for (table, span) in tables {
            let section = Section {
                table,
                span,
                name: "[[camera]]",
                known: CAMERA_KEYS,
            };
            let before = self.problems.len();
            let camera = self.camera(&section, &mut first_line_of_id);
            if let Some(camera) = camera.filter(|_| self.problems.len() == before) {
                cameras.push(camera);
            }
        }
        cameras
    }

    pub(super) fn camera(
        &mut self,
        section: &Section<'_>,
        first_line_of_id: &mut HashMap<String, usize>,
    ) -> Option<Camera> {
        self.unknown_keys(section);

        let id_rules = "1 to 32 characters of a-z, 0-9 and -";
        let id = match self.string(section, "id", &format!("a string of {id_rules}")) {
            Some((id, span)) if valid_name(&id, 32) => {
                let line = section
                    .span
                    .as_ref()
                    .map_or(1, |s| line_col(self.text, s.start).0);
                match first_line_of_id.get(&id) {
                    Some(first) => {
                        let message = format!(
                            "id: camera id {id:?} is already used by the [[camera]] on line {first}; \
                             expected ids to be unique"
                        );
                        self.report(span, message);
                    }
                    None => {
                        first_line_of_id.insert(id.clone(), line);
                    }
                }
                Some(id)
            }
            Some((id, span)) => {
                self.report(
                    span,
                    format!("id: expected {id_rules}, found {}", quote(&id)),
                );
                None
            }
            None => {
                if section.get("id").is_none() {
                    self.missing(section, "id", &format!("a camera id of {id_rules}"));
                }
                None
            }
        };

        let name = match self.string(section, "name", "a string") {
            Some((n, span)) if n.trim().is_empty() => {
                self.report(span, "name: expected a non-empty string, found \"\"".into());
                None
            }
            other => other.map(|(n, _)| n),
        };

        let url = self.camera_url(section, "url");
        if section.get("url").is_none() {
            self.missing(section, "url", URL_EXPECTED);
        }
        let analysis_url = self.camera_url(section, "analysis_url");

        let transport = match self.string(section, "transport", "\"tcp\" or \"udp\"") {
            None => Transport::default(),
            Some((t, span)) => parse_transport(&t).unwrap_or_else(|| {
                self.report(
                    span,
                    format!(
                        "transport: expected \"tcp\" or \"udp\", found {}",
                        quote(&t)
                    ),
                );
                Transport::default()
            }),
        };

        let username = match self.string(section, "username", "a string") {
            Some((u, span)) if u.is_empty() => {
                self.report(
                    span,
                    "username: expected a non-empty string, found \"\"".into(),
                );
                None
            }
            other => other.map(|(u, _)| u),
        };

        let env_expected = "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)";
        let password_env = match self.string(section, "password_env", env_expected) {
            Some((var, span)) => {
                if !valid_env_name(&var) {
                    // The value is not repeated: it may be a password
                    // written in the wrong place.
                    self.report(
                        span.clone(),
                        format!(
                            "password_env: expected {env_expected}, found a string that is not one"
                        ),
                    );
                }
                for (key, u) in [("url", &url), ("analysis_url", &analysis_url)] {
                    if u.as_ref().is_some_and(|u| u.password().is_some()) {
                        self.report(
                            span.clone(),
                            format!(
                                "password_env: {key} also holds a password; expected the \
                                 password in one place only (remove it from the URL)"
                            ),
                        );
                    }
                }
                Some(var)
            }
            None => None,
        };

        let tls_fingerprint = match self.string(section, "tls_fingerprint", "a SHA-256 fingerprint")
        {
            Some((text, span)) => match custos_media::tls_pin::Fingerprint::parse(&text) {
                Ok(pin) => {
                    let tls = |u: &Option<Url>| {
                        u.as_ref()
                            .is_some_and(|u| matches!(u.scheme(), "rtsps" | "https"))
                    };
                    if !tls(&url) && !tls(&analysis_url) {
                        self.report(
                            span,
                            "tls_fingerprint: the camera's URLs are not rtsps:// or https://; \
                             expected it only for a camera reached over TLS"
                                .into(),
                        );
                    }
                    Some(pin)
                }
                Err(e) => {
                    self.report(span, format!("tls_fingerprint: {e}"));
                    None
                }
            },
            None => None,
        };
        for (key, u) in [("url", &url), ("analysis_url", &analysis_url)] {
            let Some(u) = u else { continue };
            if matches!(u.scheme(), "rtsps" | "https") && section.get("tls_fingerprint").is_none() {
                let span = section.get(key).and_then(|(_, span)| span);
                self.report(
                    span,
                    format!(
                        "{key}: a camera reached over TLS needs tls_fingerprint, the SHA-256 \
                         fingerprint of its certificate (openssl s_client -connect HOST:PORT \
                         </dev/null | openssl x509 -noout -fingerprint -sha256 shows it)"
                    ),
                );
            }
            if u.scheme() == "rtsps" && transport == Transport::Udp {
                let span = section.get("transport").and_then(|(_, span)| span);
                self.report(
                    span,
                    "transport: an rtsps camera sends its video inside the TLS connection; \
                     expected \"tcp\""
                        .into(),
                );
            }
        }

        let segment_seconds = self
            .integer(section, "segment_seconds", 1, 3600)
            .unwrap_or(DEFAULT_SEGMENT_SECONDS);
        let retain_days = self.integer(section, "retain_days", 1, 36_500);
        let retain_bytes = self.retain_bytes(section);
        let enabled = self.boolean(section, "enabled").unwrap_or(true);
        let analysis = self.analysis(section);

        let (id, url) = (id?, url?);
        Some(Camera {
            settings: CameraSettings {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                url: url.to_string(),
                analysis_url: analysis_url.map(String::from),
                transport: transport_name(transport).to_owned(),
                username,
                password_env,
                segment_seconds,
                retain_days,
                retain_bytes,
                enabled,
                analysis,
            },
            tls_fingerprint,
        })
    }

    pub(super) fn analysis(&mut self, section: &Section<'_>) -> AnalysisSettings {
        let d = AnalysisSettings::default();
        AnalysisSettings {
            enabled: self.boolean(section, "analysis").unwrap_or(d.enabled),
            fps: self
                .integer(section, "analysis_fps", 1, 30)
                .unwrap_or(d.fps),
            sensitivity: self
                .fraction(section, "motion_sensitivity", 0.0)
                .unwrap_or(d.sensitivity),
            min_area: self
                .fraction(section, "motion_min_area", 0.0)
                .unwrap_or(d.min_area),
            merge_seconds: self
                .integer(section, "motion_merge_seconds", 0, 600)
                .unwrap_or(d.merge_seconds),
            tamper: self.boolean(section, "tamper").unwrap_or(d.tamper),
            zones: self.regions(section, "zone", "[[camera.zone]]", true),
            masks: self.regions(section, "mask", "[[camera.mask]]", false),
        }
    }

    /// A number from `min` to 1 (integers allowed).
    pub(super) fn fraction(&mut self, section: &Section<'_>, key: &str, min: f64) -> Option<f32> {
        let (item, span) = section.get(key)?;
        let value = item
            .as_float()
            .or_else(|| item.as_integer().map(|i| i as f64))
            .filter(|v| (min..=1.0).contains(v));
        if value.is_none() {
            self.report(
                span,
                format!(
                    "{key}: expected a number from {min} to 1, found {}",
                    describe(item)
                ),
            );
        }
        value.map(|v| v as f32)
    }

    /// The `[[camera.zone]]` (or `mask`) tables: a name (required for zones)
    /// and at least three corners `[x, y]` in 0..1.
    pub(super) fn regions(
        &mut self,
        camera: &Section<'_>,
        key: &str,
        name: &'static str,
        named: bool,
    ) -> Vec<RegionSettings> {
        let mut tables: Vec<(&dyn TableLike, Option<Range<usize>>)> = Vec::new();
        match camera.get(key) {
            None => return Vec::new(),
            Some((Item::ArrayOfTables(array), _)) => {
                tables.extend(array.iter().map(|t| (t as &dyn TableLike, t.span())));
            }
            Some((Item::Value(Value::Array(array)), _)) => {
                for v in array.iter() {
                    match v.as_inline_table() {
                        Some(t) => tables.push((t, t.span())),
                        None => self.report(
                            v.span(),
                            format!(
                                "{key}: expected a table with name and points, found {}",
                                describe_value(v)
                            ),
                        ),
                    }
                }
            }
            Some((item, span)) => {
                self.report(
                    span,
                    format!("{key}: expected {name} tables, found {}", describe(item)),
                );
                return Vec::new();
            }
        }
        let points_expected = "at least 3 points [x, y] with x and y from 0 to 1";
        let mut regions = Vec::new();
        for (n, (table, span)) in tables.into_iter().enumerate() {
            let section = Section {
                table,
                span,
                name,
                known: REGION_KEYS,
            };
            self.unknown_keys(&section);
            let region_name = match self.string(&section, "name", "a string") {
                Some((s, span)) if s.trim().is_empty() => {
                    self.report(span, "name: expected a non-empty string, found \"\"".into());
                    None
                }
                Some((s, _)) => Some(s),
                None if named && section.get("name").is_none() => {
                    self.missing(
                        &section,
                        "name",
                        "a name for the zone, such as \"reading table\"",
                    );
                    None
                }
                None => Some(format!("{key} {}", n + 1)),
            };
            let Some((item, pspan)) = section.get("points") else {
                self.missing(&section, "points", points_expected);
                continue;
            };
            let mut points = Vec::new();
            let mut bad = item.as_array().is_none();
            for v in item.as_array().into_iter().flatten() {
                let xy: Option<Vec<f64>> = v.as_array().map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_float().or_else(|| c.as_integer().map(|i| i as f64)))
                        .collect()
                });
                match xy.as_deref() {
                    Some(&[x, y]) if (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y) => {
                        points.push([x as f32, y as f32]);
                    }
                    _ => bad = true,
                }
            }
            if bad || points.len() < 3 {
                self.report(
                    pspan,
                    format!(
                        "points: expected {points_expected}, found {}",
                        describe(item)
                    ),
                );
                continue;
            }
            if let Some(region_name) = region_name {
                regions.push(RegionSettings {
                    name: region_name,
                    points,
                });
            }
        }
        regions
    }

    pub(super) fn camera_url(&mut self, section: &Section<'_>, key: &str) -> Option<Url> {
        let (text, span) = self.string(section, key, &format!("a URL: {URL_EXPECTED}"))?;
        match check_url(&text) {
            Ok(url) => Some(url),
            Err(why) => {
                self.report(span, format!("{key}: {why}; expected {URL_EXPECTED}"));
                None
            }
        }
    }

    pub(super) fn retain_bytes(&mut self, section: &Section<'_>) -> Option<u64> {
        self.byte_size(section, "retain_bytes")
    }
}

const URL_EXPECTED: &str = "rtsp://host/path, rtsps://host/path, http://host/path (an MJPEG \
     stream), https://host/path or file:///absolute/path.mp4";

/// Parses a camera URL; the reason never repeats the URL, which may hold a
/// password.
fn check_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("not a valid URL ({e})"))?;
    match url.scheme() {
        "rtsp" | "rtsps" | "http" | "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("an {} URL needs a host", url.scheme()));
            }
        }
        "file" => {
            // The url crate would quietly turn `file:clip.mp4` into
            // `file:///clip.mp4`; insist on what was meant, written out.
            let written = text.trim().to_ascii_lowercase();
            let absolute =
                written.starts_with("file:///") || written.starts_with("file://localhost/");
            if !absolute || url.host_str().is_some_and(|h| !h.is_empty()) {
                return Err("a file URL needs an absolute path (three slashes)".into());
            }
            if url.to_file_path().is_err() {
                return Err("the file URL does not name a local path".into());
            }
        }
        other => return Err(format!("unsupported scheme {other:?}")),
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::tests::*;

    #[test]
    fn analysis_settings_zones_and_masks() {
        let c = valid(
            r#"data_dir = "d"
[[camera]]
id = "stacks"
url = "rtsp://h/s"
analysis_fps = 8
motion_sensitivity = 0.7
motion_min_area = 0.01
motion_merge_seconds = 5
tamper = false

[[camera.zone]]
name = "reading table"
points = [[0.1, 0.5], [0.6, 0.5], [0.6, 1], [0.1, 1.0]]

[[camera.mask]]
points = [[0, 0], [1, 0], [1, 0.1]]

[[camera]]
id = "door"
url = "rtsp://h/d"
analysis = false
"#,
        );
        let a = &c.cameras[0].settings.analysis;
        assert!(a.enabled && !a.tamper);
        assert_eq!(
            (a.fps, a.sensitivity, a.min_area, a.merge_seconds),
            (8, 0.7, 0.01, 5)
        );
        assert_eq!(a.zones.len(), 1);
        assert_eq!(a.zones[0].name, "reading table");
        assert_eq!(a.zones[0].points[2], [0.6, 1.0]);
        assert_eq!(a.masks[0].name, "mask 1");
        assert!(!c.cameras[1].settings.analysis.enabled);
        assert_eq!(c.cameras[1].settings.analysis.fps, 5);

        let bad = problems(
            r#"data_dir = "d"
[[camera]]
id = "stacks"
url = "rtsp://h/s"
analysis_fps = 0
motion_sensitivity = 2
[[camera.zone]]
points = [[0.1, 0.5], [0.6, 0.5]]
[[camera.zone]]
name = "desk"
points = [[0.1, 0.5], [1.5, 0.5], [0, 0]]
colour = "red"
"#,
        );
        let lines: Vec<(usize, bool)> = bad
            .iter()
            .map(|(l, _, m)| (*l, m.contains("expected")))
            .collect();
        assert_eq!(
            lines,
            vec![
                (5, true),
                (6, true),
                (7, true),
                (8, true),
                (11, true),
                (12, true)
            ],
            "{bad:#?}"
        );
    }

    #[test]
    fn duplicate_camera_id_names_the_first() {
        let text = "data_dir = \"d\"\n\n[[camera]]\nid = \"a\"\nurl = \"rtsp://h/1\"\n\
                    [[camera]]\nid = \"b\"\nurl = \"rtsp://h/2\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://h/3\"\n";
        let p = problems(text);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!((p[0].0, p[0].1), (10, 6));
        assert!(
            p[0].2
                .contains("\"a\" is already used by the [[camera]] on line 3"),
            "{}",
            p[0].2
        );
    }

    #[test]
    fn bad_id_characters() {
        for bad in [
            "Stacks",
            "stacks room",
            "stäcks",
            "",
            "a_b",
            &"x".repeat(33),
        ] {
            let (line, column, message) =
                camera_problem(&format!("id = \"{bad}\"\nurl = \"rtsp://h/s\"\n"));
            assert_eq!((line, column), (3, 6), "{bad:?}");
            assert!(
                message.starts_with("id: expected 1 to 32 characters of a-z, 0-9 and -"),
                "{message}"
            );
        }
        assert_eq!(
            valid(&format!(
                "data_dir = \"d\"\n[[camera]]\nid = \"{}\"\nurl = \"rtsp://h/s\"\n",
                "a-9".repeat(10)
            ))
            .cameras
            .len(),
            1
        );
        let (_, _, m) = camera_problem("id = 7\nurl = \"rtsp://h/s\"\n");
        assert!(m.starts_with("id: expected a string of"), "{m}");
        assert!(m.ends_with("found integer 7"), "{m}");
    }

    #[test]
    fn url_scheme_and_host_rules() {
        let (l, c, m) = camera_problem("id = \"a\"\nurl = \"ftp://cam/s\"\n");
        assert_eq!((l, c), (4, 7));
        assert!(
            m.starts_with("url: unsupported scheme \"ftp\"; expected rtsp://"),
            "{m}"
        );
        // A camera over TLS needs the fingerprint of its certificate, and
        // sends rtsps over TCP only.
        let (_, _, m) = camera_problem("id = \"a\"\nurl = \"rtsps://h/s\"\n");
        assert!(
            m.starts_with("url: a camera reached over TLS needs tls_fingerprint"),
            "{m}"
        );
        let (_, _, m) =
            camera_problem("id = \"a\"\nurl = \"rtsp://h/s\"\ntls_fingerprint = \"AB\"\n");
        assert!(
            m.starts_with("tls_fingerprint: expected a SHA-256 fingerprint"),
            "{m}"
        );
        let pin = "ab".repeat(32);
        let (_, _, m) = camera_problem(&format!(
            "id = \"a\"\nurl = \"rtsp://h/s\"\ntls_fingerprint = \"{pin}\"\n"
        ));
        assert!(m.contains("not rtsps:// or https://"), "{m}");
        let (_, _, m) = camera_problem(&format!(
            "id = \"a\"\nurl = \"rtsps://h/s\"\ntls_fingerprint = \"{pin}\"\ntransport = \"udp\"\n"
        ));
        assert!(m.starts_with("transport: an rtsps camera"), "{m}");
        let (_, _, m) = camera_problem("id = \"a\"\nurl = \"rtsp:///stream\"\n");
        assert!(m.contains("needs a host"), "{m}");
        let (_, _, m) = camera_problem("id = \"a\"\nurl = \"not a url\"\n");
        assert!(m.starts_with("url: not a valid URL"), "{m}");
        let (l, c, m) =
            camera_problem("id = \"a\"\nurl = \"rtsp://h/s\"\nanalysis_url = \"ftp://h/s\"\n");
        assert_eq!((l, c), (5, 16));
        assert!(m.starts_with("analysis_url: unsupported scheme"), "{m}");
        let (_, _, m) = camera_problem("id = \"a\"\nurl = [\"rtsp://h/s\"]\n");
        assert!(m.starts_with("url: expected a URL"), "{m}");
        assert!(m.ends_with("found an array"), "{m}");
    }

    #[test]
    fn file_url_must_be_absolute() {
        for bad in [
            "file://relative/clip.mp4",
            "file:clip.mp4",
            "file:./clip.mp4",
        ] {
            let (l, c, m) = camera_problem(&format!("id = \"a\"\nurl = \"{bad}\"\n"));
            assert_eq!((l, c), (4, 7), "{bad}");
            assert!(m.contains("needs an absolute path"), "{bad}: {m}");
        }
        let ok = valid("data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"file:///srv/a.mp4\"\n");
        assert_eq!(
            ok.cameras[0].url().expect("url").to_file_path(),
            Ok(PathBuf::from("/srv/a.mp4"))
        );
    }

    #[test]
    fn password_env_with_a_password_in_the_url() {
        let (l, c, m) = camera_problem(
            "id = \"a\"\nurl = \"rtsp://u:hunter2@h/s\"\npassword_env = \"CAM_PW\"\n",
        );
        assert_eq!((l, c), (5, 16));
        assert!(m.contains("url also holds a password"), "{m}");
        assert!(!m.contains("hunter2"), "{m}");
        // A user name alone in the URL is fine.
        valid("data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://u@h/s\"\npassword_env = \"CAM_PW\"\n");
        let (_, _, m) =
            camera_problem("id = \"a\"\nurl = \"rtsp://h/s\"\npassword_env = \"s3cret!\"\n");
        assert!(
            m.starts_with("password_env: expected an environment variable name"),
            "{m}"
        );
        assert!(
            !m.contains("s3cret"),
            "the value may be a misplaced password: {m}"
        );
    }

    #[test]
    fn credentials_from_the_url_and_the_environment() {
        let c = valid(
            "data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://ad%20min:s3cr%40t@h/s\"\n",
        );
        assert_eq!(
            c.cameras[0].credentials().expect("credentials"),
            Some(("ad min".to_owned(), "s3cr@t".to_owned()))
        );
        let none = valid("data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://h/s\"\n");
        assert_eq!(none.cameras[0].credentials().expect("credentials"), None);

        let var = "CUSTOS_CONFIG_TEST_PASSWORD_5C1E";
        let c = valid(&format!(
            "data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://urluser@h/s\"\n\
             username = \"op\"\npassword_env = \"{var}\"\n"
        ));
        std::env::set_var(var, "from-env");
        assert_eq!(
            c.cameras[0].credentials().expect("credentials"),
            Some(("op".to_owned(), "from-env".to_owned()))
        );
        std::env::set_var(var, "changed");
        assert_eq!(
            c.cameras[0]
                .credentials()
                .expect("credentials")
                .map(|(_, p)| p),
            Some("changed".to_owned()),
            "read at call time"
        );
    }

    #[test]
    fn credentials_error_when_the_variable_is_unset() {
        let var = "CUSTOS_CONFIG_TEST_NEVER_SET_9F27";
        let c = valid(&format!(
            "data_dir = \"d\"\n[[camera]]\nid = \"door\"\nurl = \"rtsp://h/s\"\npassword_env = \"{var}\"\n"
        ));
        let e = c.cameras[0]
            .credentials()
            .expect_err("the variable is unset");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!(
                "camera \"door\": password_env: the environment variable {var} is not set"
            )),
            "{shown}"
        );
    }
}
