//! The configuration file: parsed by hand over `toml_edit`'s spanned tree so
//! that every problem — not just the first — is reported with its line,
//! column and what was expected, and unknown keys are errors.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use toml_edit::{ImDocument, Item, Table, Value};
use url::Url;

pub use custos_media::source::redact_url;

/// A whole site's configuration.
pub struct Config {
    pub data_dir: PathBuf,
    /// The site's name: `[a-z0-9-]+` (the log's origin line later).
    pub site: String,
    pub server: ServerConfig,
    /// How often retention runs.
    pub retention_check_seconds: u32,
    pub cameras: Vec<CameraConfig>,
    /// Lower-hex SHA-256 of the file as read, logged at start.
    pub source_hash: String,
}

pub struct ServerConfig {
    pub listen: SocketAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

#[derive(Clone)]
pub struct CameraConfig {
    pub id: String,
    pub name: String,
    pub url: Url,
    pub analysis_url: Option<Url>,
    pub transport: Transport,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub segment_seconds: u32,
    pub retain_days: Option<u32>,
    pub retain_bytes: Option<u64>,
    pub enabled: bool,
}

impl fmt::Debug for CameraConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CameraConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("analysis_url", &self.analysis_url.as_ref().map(redact_url))
            .field("transport", &self.transport)
            .field("username", &self.username)
            .field("password_env", &self.password_env)
            .field("segment_seconds", &self.segment_seconds)
            .field("retain_days", &self.retain_days)
            .field("retain_bytes", &self.retain_bytes)
            .field("enabled", &self.enabled)
            .finish()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("site", &self.site)
            .field("listen", &self.server.listen)
            .field("cameras", &self.cameras)
            .finish()
    }
}

impl CameraConfig {
    /// User name and password for the camera: the user from `username` or
    /// the URL, the password from the environment variable `password_env`
    /// (read now) or the URL. Percent-escapes in the URL are decoded.
    pub fn credentials(&self) -> Result<Option<(String, String)>, ConfigError> {
        let user = self.username.clone().or_else(|| {
            (!self.url.username().is_empty()).then(|| percent_decode(self.url.username()))
        });
        let password = match &self.password_env {
            Some(var) => Some(std::env::var(var).map_err(|_| ConfigError {
                origin: format!("camera {}", self.id),
                problems: vec![Problem {
                    line: 0,
                    column: 0,
                    message: format!("password_env: environment variable {var} is not set"),
                }],
            })?),
            None => self.url.password().map(percent_decode),
        };
        Ok(match (user, password) {
            (None, None) => None,
            (u, p) => Some((u.unwrap_or_default(), p.unwrap_or_default())),
        })
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based; 0 when the problem has no place in the file.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every problem found in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.line == 0 {
                write!(f, "{}: {}", self.origin, p.message)?;
            } else {
                write!(f, "{}:{}:{}: {}", self.origin, p.line, p.column, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads and checks a config file. Relative `data_dir` paths are taken
/// relative to the file's directory, so a site can be moved as a whole.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| single(&origin, format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col(
            &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
            usize::MAX,
        );
        ConfigError {
            origin: origin.clone(),
            problems: vec![Problem {
                line,
                column,
                message: "the file is not valid UTF-8".into(),
            }],
        }
    })?;
    let mut config = parse(&text, &origin)?;
    if config.data_dir.is_relative() {
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
    }
    Ok(config)
}

fn single(origin: &str, message: String) -> ConfigError {
    ConfigError {
        origin: origin.to_owned(),
        problems: vec![Problem {
            line: 0,
            column: 0,
            message,
        }],
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn at(&mut self, span: Option<Range<usize>>, message: String) {
        let (line, column) = span.map_or((1, 1), |s| line_col(self.text, s.start));
        self.problems.push(Problem {
            line,
            column,
            message,
        });
    }

    /// Reports keys of `table` not in `known`.
    fn unknown_keys(&mut self, table: &Table, known: &[&str], place: &str) {
        for (key, _) in table.iter() {
            if !known.contains(&key) {
                let span = table.key(key).and_then(|k| k.span());
                self.at(
                    span,
                    format!(
                        "unknown key {key:?} in {place}; expected one of: {}",
                        known.join(", ")
                    ),
                );
            }
        }
    }

    fn string(
        &mut self,
        table: &Table,
        key: &str,
        place: &str,
    ) -> Option<(String, Option<Range<usize>>)> {
        let item = table.get(key)?;
        match item.as_value() {
            Some(Value::String(s)) => Some((s.value().clone(), item.span())),
            _ => {
                self.at(
                    item.span(),
                    format!("{key}{place}: expected a string, found {}", describe(item)),
                );
                None
            }
        }
    }

    fn integer(&mut self, table: &Table, key: &str, range: (i64, i64), place: &str) -> Option<i64> {
        let item = table.get(key)?;
        let expected = format!("expected an integer from {} to {}", range.0, range.1);
        match item.as_value() {
            Some(Value::Integer(i)) if (range.0..=range.1).contains(i.value()) => Some(*i.value()),
            _ => {
                self.at(
                    item.span(),
                    format!("{key}{place}: {expected}, found {}", describe(item)),
                );
                None
            }
        }
    }

    fn boolean(&mut self, table: &Table, key: &str, place: &str) -> Option<bool> {
        let item = table.get(key)?;
        match item.as_value() {
            Some(Value::Boolean(b)) => Some(*b.value()),
            _ => {
                self.at(
                    item.span(),
                    format!(
                        "{key}{place}: expected true or false, found {}",
                        describe(item)
                    ),
                );
                None
            }
        }
    }

    fn url(&mut self, table: &Table, key: &str, place: &str) -> Option<Url> {
        let (text, span) = self.string(table, key, place)?;
        match check_camera_url(&text) {
            Ok(u) => Some(u),
            Err(reason) => {
                self.at(span, format!("{key}{place}: {reason}"));
                None
            }
        }
    }
}

fn describe(item: &Item) -> String {
    match item {
        Item::None => "nothing".into(),
        Item::Table(_) => "a table".into(),
        Item::ArrayOfTables(_) => "an array of tables".into(),
        Item::Value(v) => match v {
            Value::String(s) => format!("string {:?}", s.value()),
            Value::Integer(i) => format!("integer {}", i.value()),
            Value::Float(f) => format!("float {}", f.value()),
            Value::Boolean(b) => format!("boolean {}", b.value()),
            Value::Datetime(_) => "a date-time".into(),
            Value::Array(_) => "an array".into(),
            Value::InlineTable(_) => "an inline table".into(),
        },
    }
}

fn check_camera_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| {
        format!("not a valid URL ({e}); expected rtsp://host/path or file:///path.mp4")
    })?;
    match url.scheme() {
        "rtsp" | "rtsps" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err("an rtsp URL needs a host".into());
            }
        }
        "file" => {
            if url.host_str().is_some_and(|h| !h.is_empty()) || url.to_file_path().is_err() {
                return Err(
                    "a file URL needs an absolute local path, like file:///srv/clips/a.mp4".into(),
                );
            }
        }
        other => {
            return Err(format!(
                "unsupported scheme {other:?}; expected rtsp, rtsps or file"
            ))
        }
    }
    Ok(url)
}

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses a byte size: an integer, or a string with a unit (B, KB, MB, GB, TB
/// in steps of 1000; KiB, MiB, GiB, TiB in steps of 1024).
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (number, unit) = (t[..split].replace('_', ""), t[split..].trim());
    let multiplier: u64 = match unit {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit {other:?}; expected B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like \"50GB\""))?;
    let bytes = value * multiplier as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{text:?} must be more than zero bytes"));
    }
    Ok(bytes as u64)
}

const TOP_KEYS: &[&str] = &["data_dir", "site", "server", "retention", "camera"];
const RETENTION_KEYS: &[&str] = &["check_seconds"];
const SERVER_KEYS: &[&str] = &["listen"];
const CAMERA_KEYS: &[&str] = &[
    "id",
    "name",
    "url",
    "analysis_url",
    "transport",
    "username",
    "password_env",
    "segment_seconds",
    "retain_days",
    "retain_bytes",
    "enabled",
];

/// Parses config text. `origin` names the file in messages; relative paths stay relative.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let doc = ImDocument::parse(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        let message = format!("TOML syntax error: {}", e.message().trim());
        ConfigError {
            origin: origin.to_owned(),
            problems: vec![Problem {
                line,
                column,
                message,
            }],
        }
    })?;
    let root = doc.as_table();
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    c.unknown_keys(root, TOP_KEYS, "the top level");

    let data_dir = match c.string(root, "data_dir", "") {
        Some((d, span)) if d.trim().is_empty() => {
            c.at(span, "data_dir: must not be empty".into());
            None
        }
        Some((d, _)) => Some(PathBuf::from(d)),
        None => {
            if root.get("data_dir").is_none() {
                c.at(None, "data_dir: required key missing; expected the directory for the index and video, e.g. data_dir = \"/var/lib/custos\"".into());
            }
            None
        }
    };
    let site = match c.string(root, "site", "") {
        Some((s, _)) if valid_name(&s, 64) => s,
        Some((s, span)) => {
            c.at(
                span,
                format!("site: {s:?} must be 1 to 64 characters of a-z, 0-9 and -"),
            );
            String::new()
        }
        None => "custos".into(),
    };

    let mut listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
    match root.get("server") {
        None => {}
        Some(Item::Table(server)) => {
            c.unknown_keys(server, SERVER_KEYS, "[server]");
            if let Some((text, span)) = c.string(server, "listen", " in [server]") {
                match text.parse() {
                    Ok(a) => listen = a,
                    Err(_) => c.at(span, format!("listen in [server]: {text:?} is not an address; expected IP:PORT such as \"127.0.0.1:8080\"")),
                }
            }
        }
        Some(other) => c.at(
            other.span(),
            format!(
                "server: expected a [server] table, found {}",
                describe(other)
            ),
        ),
    }

    let mut retention_check_seconds = 60;
    match root.get("retention") {
        None => {}
        Some(Item::Table(t)) => {
            c.unknown_keys(t, RETENTION_KEYS, "[retention]");
            if let Some(s) = c.integer(t, "check_seconds", (1, 86_400), " in [retention]") {
                retention_check_seconds = s as u32;
            }
        }
        Some(other) => c.at(
            other.span(),
            format!(
                "retention: expected a [retention] table, found {}",
                describe(other)
            ),
        ),
    }

    let mut cameras: Vec<CameraConfig> = Vec::new();
    let mut first_line_of: Vec<(String, usize)> = Vec::new();
    match root.get("camera") {
        None => {}
        Some(Item::ArrayOfTables(arr)) => {
            for table in arr.iter() {
                let header = table.span();
                let before = c.problems.len();
                let camera = parse_camera(&mut c, table, header.clone());
                if let Some(cam) = camera {
                    let line = line_col(text, header.clone().map_or(0, |s| s.start)).0;
                    if let Some((_, first)) = first_line_of.iter().find(|(id, _)| *id == cam.id) {
                        let span = table.get("id").and_then(|i| i.span());
                        c.at(
                            span,
                            format!("id: camera {:?} is already defined on line {first}", cam.id),
                        );
                    } else if c.problems.len() == before {
                        first_line_of.push((cam.id.clone(), line));
                        cameras.push(cam);
                    }
                }
            }
        }
        Some(other) => c.at(
            other.span(),
            format!(
                "camera: expected [[camera]] tables, found {}",
                describe(other)
            ),
        ),
    }

    c.problems.sort_by_key(|p| (p.line, p.column));
    match (c.problems.is_empty(), data_dir) {
        (true, Some(data_dir)) => Ok(Config {
            data_dir,
            site,
            server: ServerConfig { listen },
            retention_check_seconds,
            cameras,
            source_hash: hex::encode(Sha256::digest(text.as_bytes())),
        }),
        _ => Err(ConfigError {
            origin: origin.to_owned(),
            problems: c.problems,
        }),
    }
}

fn parse_camera(
    c: &mut Checker<'_>,
    t: &Table,
    header: Option<Range<usize>>,
) -> Option<CameraConfig> {
    let place = " in [[camera]]";
    c.unknown_keys(t, CAMERA_KEYS, "[[camera]]");
    let id = match c.string(t, "id", place) {
        Some((id, _)) if valid_name(&id, 32) => Some(id),
        Some((id, span)) => {
            c.at(
                span,
                format!("id{place}: {id:?} must be 1 to 32 characters of a-z, 0-9 and -"),
            );
            None
        }
        None => {
            if t.get("id").is_none() {
                c.at(
                    header.clone(),
                    "[[camera]]: required key \"id\" missing".into(),
                );
            }
            None
        }
    };
    let url = c.url(t, "url", place);
    if t.get("url").is_none() {
        c.at(header.clone(), "[[camera]]: required key \"url\" missing; expected rtsp://host/path or file:///path.mp4".into());
    }
    let analysis_url = c.url(t, "analysis_url", place);
    let transport = match c.string(t, "transport", place) {
        None => Transport::Tcp,
        Some((s, _)) if s == "tcp" => Transport::Tcp,
        Some((s, _)) if s == "udp" => Transport::Udp,
        Some((s, span)) => {
            c.at(
                span,
                format!("transport{place}: expected \"tcp\" or \"udp\", found {s:?}"),
            );
            Transport::Tcp
        }
    };
    let username = c.string(t, "username", place).map(|(s, _)| s);
    let password_env = match c.string(t, "password_env", place) {
        Some((v, span)) => {
            let valid = v
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
                && v.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            if !valid {
                c.at(
                    span.clone(),
                    format!("password_env{place}: {v:?} is not an environment variable name"),
                );
            }
            if url.as_ref().is_some_and(|u| u.password().is_some()) {
                c.at(span, format!("password_env{place}: the url also holds a password; keep it in one place only"));
            }
            Some(v)
        }
        None => None,
    };
    let segment_seconds = c
        .integer(t, "segment_seconds", (1, 3600), place)
        .unwrap_or(60) as u32;
    let retain_days = c
        .integer(t, "retain_days", (1, 36500), place)
        .map(|d| d as u32);
    let retain_bytes = match t.get("retain_bytes") {
        None => None,
        Some(item) => match item.as_value() {
            Some(Value::Integer(i)) if *i.value() > 0 => Some(*i.value() as u64),
            Some(Value::String(s)) => match parse_byte_size(s.value()) {
                Ok(b) => Some(b),
                Err(e) => {
                    c.at(item.span(), format!("retain_bytes{place}: {e}"));
                    None
                }
            },
            _ => {
                c.at(item.span(), format!("retain_bytes{place}: expected a positive integer or a size such as \"50GB\", found {}", describe(item)));
                None
            }
        },
    };
    let enabled = c.boolean(t, "enabled", place).unwrap_or(true);
    let name = c.string(t, "name", place).map(|(s, _)| s);
    let (id, url) = (id?, url?);
    Some(CameraConfig {
        name: name.unwrap_or_else(|| id.clone()),
        id,
        url,
        analysis_url,
        transport,
        username,
        password_env,
        segment_seconds,
        retain_days,
        retain_bytes,
        enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(usize, usize, String)> {
        match parse(text, "t.toml") {
            Ok(_) => vec![],
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.line, p.column, p.message))
                .collect(),
        }
    }

    #[test]
    fn full_valid_file_and_defaults() {
        let c = parse(
            "data_dir = \"/var/lib/custos\"\nsite = \"main-archive\"\n[server]\nlisten = \"0.0.0.0:9000\"\n\
             [[camera]]\nid = \"stacks\"\nurl = \"rtsp://u:p@10.0.0.5/s1\"\nanalysis_url = \"rtsp://10.0.0.5/s2\"\n\
             transport = \"udp\"\nsegment_seconds = 30\nretain_days = 30\nretain_bytes = \"50GB\"\n\
             [[camera]]\nid = \"door\"\nurl = \"file:///srv/a.mp4\"\nenabled = false\n",
            "t.toml",
        )
        .expect("valid");
        assert_eq!(c.site, "main-archive");
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:9000");
        let s = &c.cameras[0];
        assert_eq!(
            (
                s.transport,
                s.segment_seconds,
                s.retain_days,
                s.retain_bytes
            ),
            (Transport::Udp, 30, Some(30), Some(50_000_000_000))
        );
        let d = &c.cameras[1];
        assert_eq!(
            (d.name.as_str(), d.segment_seconds, d.enabled, d.transport),
            ("door", 60, false, Transport::Tcp)
        );
        assert_eq!(c.source_hash.len(), 64);
        let minimal = parse("data_dir = \"d\"\n", "t.toml").expect("minimal");
        assert_eq!(minimal.site, "custos");
        assert_eq!(minimal.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(minimal.retention_check_seconds, 60);
        let r = parse(
            "data_dir = \"d\"\n[retention]\ncheck_seconds = 5\n",
            "t.toml",
        )
        .expect("retention");
        assert_eq!(r.retention_check_seconds, 5);
        let p = problems("data_dir = \"d\"\n[retention]\ncheck_seconds = 0\nevery = 1\n");
        assert_eq!(p.len(), 2, "{p:?}");
    }

    #[test]
    fn every_error_is_reported_with_its_position() {
        let text = "data_dir = \"/x\"\ncolour = 1\n[server]\nlisten = \"nowhere\"\nport = 2\n[[camera]]\nid = \"Bad Id\"\nurl = \"http://cam/\"\nsegment_seconds = \"sixty\"\nretain_bytes = \"5 parsecs\"\n";
        let p = problems(text);
        let at: Vec<(usize, usize)> = p.iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(
            at,
            vec![(2, 1), (4, 10), (5, 1), (7, 6), (8, 7), (9, 19), (10, 16)],
            "{p:#?}"
        );
        assert!(p[0].2.contains("unknown key \"colour\" in the top level"));
        assert!(p[2]
            .2
            .contains("unknown key \"port\" in [server]; expected one of: listen"));
        assert!(p[4].2.contains("unsupported scheme \"http\""));
        assert!(
            p[5].2
                .contains("expected an integer from 1 to 3600, found string \"sixty\""),
            "{}",
            p[5].2
        );
        assert!(p[6].2.contains("unknown unit"));
    }

    #[test]
    fn missing_required_keys_and_duplicates() {
        let p = problems("[[camera]]\nname = \"x\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://h/s\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://h/t\"\n");
        let msgs: Vec<&str> = p.iter().map(|(_, _, m)| m.as_str()).collect();
        assert!(
            msgs.iter().any(|m| m.contains("data_dir: required")),
            "{msgs:?}"
        );
        assert!(
            p.iter()
                .any(|(l, _, m)| *l == 1 && m.contains("\"id\" missing")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|(l, _, m)| *l == 7 && m.contains("already defined on line 3")),
            "{p:?}"
        );
    }

    #[test]
    fn url_rules() {
        let bad = |u: &str| {
            problems(&format!(
                "data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"{u}\"\n"
            ))
        };
        assert!(bad("file://relative/x.mp4")[0]
            .2
            .contains("absolute local path"));
        assert!(
            bad("rtsp:///nohost")[0].2.contains("host"),
            "{:?}",
            bad("rtsp:///nohost")
        );
        assert!(bad("not a url")[0].2.contains("not a valid URL"));
        let both = problems("data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://u:pw@h/s\"\npassword_env = \"CAM_PW\"\n");
        assert!(both[0].2.contains("one place only"), "{both:?}");
    }

    #[test]
    fn wrong_types_are_errors_not_panics() {
        let p = problems("data_dir = [1]\nsite = \"Not Valid\"\nserver = 3\ncamera = \"x\"\n");
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].2.contains("expected a string, found an array"));
    }

    #[test]
    fn syntax_error_position() {
        let p = problems("data_dir = \"d\"\n[server\nlisten = 1\n");
        assert_eq!(
            (p[0].0, p[0].2.starts_with("TOML syntax error")),
            (2, true),
            "{p:?}"
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("500MiB"), Ok(500 << 20));
        assert_eq!(parse_byte_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_byte_size("1_000"), Ok(1000));
        assert!(parse_byte_size("0GB").is_err());
        assert!(parse_byte_size("12 bananas").is_err());
    }

    #[test]
    fn passwords_never_appear_in_debug_and_come_from_the_environment() {
        let c = parse(
            "data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://admin:s3cr%40t@h/s\"\n",
            "t.toml",
        )
        .expect("valid");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr"), "{dbg}");
        assert!(dbg.contains("admin:***@h"), "{dbg}");
        assert_eq!(
            c.cameras[0].credentials().expect("creds"),
            Some(("admin".into(), "s3cr@t".into()))
        );

        let c = parse("data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://h/s\"\nusername = \"op\"\npassword_env = \"CUSTOS_CONFIG_TEST_PW_7\"\n", "t.toml")
            .expect("valid");
        let e = c.cameras[0].credentials().expect_err("unset");
        assert!(
            e.to_string().contains("CUSTOS_CONFIG_TEST_PW_7 is not set"),
            "{e}"
        );
        std::env::set_var("CUSTOS_CONFIG_TEST_PW_7", "from-env");
        assert_eq!(
            c.cameras[0].credentials().expect("creds"),
            Some(("op".into(), "from-env".into()))
        );
    }

    #[test]
    fn relative_data_dir_is_relative_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "data_dir = \"data\"\n").expect("write");
        assert_eq!(load(&path).expect("load").data_dir, dir.path().join("data"));
        let e = load(&dir.path().join("absent.toml")).expect_err("absent");
        assert!(
            e.to_string().contains("absent.toml") && e.to_string().contains("cannot read"),
            "{e}"
        );
    }

    #[test]
    fn mangled_files_give_errors_never_panics() {
        let good = "data_dir = \"/var/lib/custos\"\nsite = \"a-b\"\n[server]\nlisten = \"127.0.0.1:8080\"\n[retention]\ncheck_seconds = 5\n\
                    [[camera]]\nid = \"stacks\"\nurl = \"rtsp://u:p@10.0.0.5/s\"\nretain_bytes = \"5GiB\"\nsegment_seconds = 60\n";
        let alphabet: Vec<char> = "=\"[]{}.,:#\n 0123456789abcxyz-_é\\'".chars().collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5000 {
            let mut chars: Vec<char> = good.chars().collect();
            for _ in 0..1 + next() % 4 {
                let at = (next() % chars.len() as u64) as usize;
                match next() % 3 {
                    0 => chars[at] = alphabet[(next() % alphabet.len() as u64) as usize],
                    1 => {
                        chars.remove(at);
                    }
                    _ => chars.insert(at, alphabet[(next() % alphabet.len() as u64) as usize]),
                }
            }
            let text: String = chars.into_iter().collect();
            if let Err(e) = parse(&text, "m.toml") {
                assert!(
                    !e.problems.is_empty(),
                    "an error names at least one problem: {text:?}"
                );
                let lines = text.lines().count().max(1);
                for p in &e.problems {
                    assert!(
                        p.line >= 1 && p.line <= lines + 1,
                        "line {} outside the file: {text:?}",
                        p.line
                    );
                }
            }
        }
    }
}
