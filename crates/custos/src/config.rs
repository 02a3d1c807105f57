//! The configuration file.
//!
//! The TOML text is parsed with `toml_edit`, which keeps the byte span of
//! every key and value, and the tree is then walked by hand. Each problem is
//! collected rather than returned, so one run of `custos check-config` shows
//! every mistake in the file, each with its line, column and what was
//! expected. Unknown keys are errors: a misspelt `retain_days` must not
//! silently keep video forever.
//!
//! A camera's table is read into `custos_site::camera`'s types, the same
//! the settings API reads and writes. Passwords never leave this module in
//! printable form: `Debug` of the config types shows URLs through
//! `redact_url`, and messages about a URL never repeat the URL's text.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use custos_media::source::Transport;
use custos_site::camera::{
    parse_transport, transport_name, AnalysisSettings, Camera, CameraSettings, RegionSettings,
    DEFAULT_SEGMENT_SECONDS,
};
use sha2::{Digest, Sha256};
use toml_edit::{ImDocument, Item, TableLike, Value};
use url::Url;

/// A whole site's configuration.
#[derive(Clone)]
pub struct Config {
    /// Where the index and the video live. Relative paths are resolved
    /// against the config file's directory by [`load`].
    pub data_dir: PathBuf,
    /// The site's name, `[a-z0-9-]{1,64}`; later the origin of its log.
    pub site: String,
    pub server: ServerConfig,
    /// How often retention runs (`[retention] check_seconds`, default 60).
    pub retention_check_seconds: u32,
    /// `[retention] disk_reserve`: bytes of the data disk video never takes
    /// (default: 2 % of the disk, between 8 MB and 1 GB).
    pub disk_reserve: Option<u64>,
    /// `[retention] delete_oldest_when_full` (default true): when the disk
    /// is full, the oldest unheld footage is deleted to keep recording.
    pub delete_oldest_when_full: bool,
    pub cameras: Vec<Camera>,
    /// Opening hours (`[hours]`); none means the rooms are never closed.
    pub hours: Option<custos_custody::hours::OpeningHours>,
    /// `[alerts]`.
    pub alerts: AlertsConfig,
    /// `[[notify]]` destinations.
    pub notify: Vec<NotifyConfig>,
    /// Lower-case hex SHA-256 of the file's bytes, to log which file ran.
    pub source_hash: String,
}

/// The `[alerts]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertsConfig {
    /// How often the rules run (`check_seconds`, default 30).
    pub check_seconds: u32,
    /// Raise `disk.nearly_full` above this use of the data disk, in percent
    /// (`disk_full_percent`, default 90).
    pub disk_full_percent: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            check_seconds: 30,
            disk_full_percent: 90,
        }
    }
}

/// One `[[notify]]` table: where alerts and camera states are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Unique name; the outbox refers to it.
    pub name: String,
    /// Send alerts (`alerts`, default true).
    pub alerts: bool,
    /// Send camera state changes (`camera_states`, default true for MQTT).
    pub camera_states: bool,
    /// Seconds one attempt may take (`timeout_seconds`, default 10).
    pub timeout_seconds: u32,
    pub target: NotifyTarget,
}

/// The kind-specific part of a `[[notify]]` table. Secrets are named by
/// environment variables and read when the server starts.
#[derive(Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    Webhook {
        url: Url,
        secret_env: String,
    },
    Mqtt {
        host: String,
        port: u16,
        username: Option<String>,
        password_env: Option<String>,
    },
    Email {
        host: String,
        port: u16,
        security: String,
        username: Option<String>,
        password_env: Option<String>,
        from: String,
        to: Vec<String>,
    },
}

/// The `[server]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// `tls_cert` and `tls_key`: PEM files (certificate chain, private key);
    /// with them the server speaks only HTTPS and cookies are `Secure`.
    /// Relative paths are relative to the config file.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `metrics = true` serves `GET /metrics` (off by default).
    pub metrics: bool,
    /// `metrics_token_env`: the environment variable holding the token a
    /// Prometheus scraper sends (`Authorization: Bearer …`); without it,
    /// only admins' and auditors' credentials read the metrics.
    pub metrics_token_env: Option<String>,
}

impl fmt::Debug for NotifyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A webhook URL may carry a token in its path or query: only its
            // origin is shown.
            NotifyTarget::Webhook { url, secret_env } => f
                .debug_struct("Webhook")
                .field(
                    "url",
                    &format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("")),
                )
                .field("secret_env", secret_env)
                .finish(),
            NotifyTarget::Mqtt {
                host,
                port,
                username,
                password_env,
            } => f
                .debug_struct("Mqtt")
                .field("host", host)
                .field("port", port)
                .field("username", username)
                .field("password_env", password_env)
                .finish(),
            NotifyTarget::Email {
                host,
                port,
                security,
                username,
                password_env,
                from,
                to,
            } => f
                .debug_struct("Email")
                .field("host", host)
                .field("port", port)
                .field("security", security)
                .field("username", username)
                .field("password_env", password_env)
                .field("from", from)
                .field("to", to)
                .finish(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("site", &self.site)
            .field("server", &self.server)
            .field("retention_check_seconds", &self.retention_check_seconds)
            .field("disk_reserve", &self.disk_reserve)
            .field("delete_oldest_when_full", &self.delete_oldest_when_full)
            .field("cameras", &self.cameras)
            .field("hours", &self.hours.is_some())
            .field("alerts", &self.alerts)
            .field("notify", &self.notify)
            .field("source_hash", &self.source_hash)
            .finish()
    }
}

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line; 0 when the problem has no place in the file (the file
    /// cannot be read, an environment variable is missing).
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    pub message: String,
}

/// Every problem found in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name (or other source) the positions refer to.
    pub origin: String,
    /// In the order they appear in the file; never empty.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    /// One problem per line, `FILE:LINE:COL: message` (`FILE: message` for a
    /// problem without a position), with no trailing newline.
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

impl ConfigError {
    fn unplaced(origin: &str, message: String) -> ConfigError {
        ConfigError {
            origin: origin.to_owned(),
            problems: vec![Problem {
                line: 0,
                column: 0,
                message,
            }],
        }
    }
}

/// Reads and checks the config file at `path`. A relative `data_dir` is
/// taken relative to the file's directory, so a site moves as a whole.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::unplaced(&origin, format!("cannot read the config file: {e}")))?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let bytes = e.as_bytes();
            let valid = e.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(bytes.get(..valid).unwrap_or_default());
            let (line, column) = line_col(&prefix, prefix.len());
            return Err(ConfigError {
                origin,
                problems: vec![Problem {
                    line,
                    column,
                    message: "the file is not valid UTF-8; expected UTF-8 text".into(),
                }],
            });
        }
    };
    let mut config = parse(&text, &origin)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if config.data_dir.is_relative() {
            config.data_dir = dir.join(&config.data_dir);
        }
        if let Some((cert, key)) = &mut config.server.tls {
            for p in [cert, key] {
                if p.is_relative() {
                    *p = dir.join(&*p);
                }
            }
        }
    }
    Ok(config)
}

/// Checks config text. `origin` names the file in messages. A relative
/// `data_dir` is returned as written (relative to the working directory).
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let doc = ImDocument::parse(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        let detail: Vec<&str> = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        ConfigError {
            origin: origin.to_owned(),
            problems: vec![Problem {
                line,
                column,
                message: format!("TOML syntax error: {}", detail.join("; ")),
            }],
        }
    })?;
    let mut checker = Checker {
        text,
        problems: Vec::new(),
    };
    let parts = checker.root(doc.as_table());
    checker.problems.sort_by_key(|p| (p.line, p.column));
    match parts {
        Some((
            data_dir,
            site,
            server,
            (retention_check_seconds, disk_reserve, delete_oldest_when_full),
            cameras,
            rules,
        )) if checker.problems.is_empty() => Ok(Config {
            data_dir,
            site,
            server,
            retention_check_seconds,
            disk_reserve,
            delete_oldest_when_full,
            cameras,
            hours: rules.hours,
            alerts: rules.alerts,
            notify: rules.notify,
            source_hash: hex::encode(Sha256::digest(text.as_bytes())),
        }),
        _ => {
            if checker.problems.is_empty() {
                // Every path that gives up reports why; this is a safety net.
                checker.problems.push(Problem {
                    line: 1,
                    column: 1,
                    message: "the configuration is incomplete".into(),
                });
            }
            Err(ConfigError {
                origin: origin.to_owned(),
                problems: checker.problems,
            })
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

const TOP_KEYS: &[&str] = &[
    "data_dir",
    "site",
    "server",
    "retention",
    "camera",
    "hours",
    "alerts",
    "notify",
];
const HOURS_KEYS: &[&str] = &[
    "time_zone",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "closed",
];
const ALERTS_KEYS: &[&str] = &["check_seconds", "disk_full_percent"];
const NOTIFY_KEYS: &[&str] = &[
    "name",
    "type",
    "alerts",
    "camera_states",
    "timeout_seconds",
    "url",
    "secret_env",
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "from",
    "to",
];
const SERVER_KEYS: &[&str] = &[
    "listen",
    "tls_cert",
    "tls_key",
    "metrics",
    "metrics_token_env",
];
const RETENTION_KEYS: &[&str] = &["check_seconds", "disk_reserve", "delete_oldest_when_full"];
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

const DEFAULT_SITE: &str = "custos";
const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 8080);
const DEFAULT_RETENTION_CHECK_SECONDS: u32 = 60;

/// A table being checked: its keys, where it starts, how to name it.
struct Section<'t> {
    table: &'t dyn TableLike,
    /// The header (`[server]`, `[[camera]]`) or the `{` of an inline table;
    /// missing keys are reported here.
    span: Option<Range<usize>>,
    /// How messages name it: "the top level", "[server]", "[[camera]]".
    name: &'static str,
    known: &'static [&'static str],
}

impl<'t> Section<'t> {
    /// The item under `key` and the best place to point at for it.
    fn get(&self, key: &str) -> Option<(&'t Item, Option<Range<usize>>)> {
        let (k, item) = self.table.get_key_value(key)?;
        let span = item
            .span()
            .or_else(|| k.span())
            .or_else(|| self.span.clone());
        Some((item, span))
    }
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

type Parts = (
    PathBuf,
    String,
    ServerConfig,
    // `[retention]`: check_seconds, disk_reserve, delete_oldest_when_full.
    (u32, Option<u64>, bool),
    Vec<Camera>,
    SiteRules,
);

/// The sections about alerts: hours, rules and destinations.
struct SiteRules {
    hours: Option<custos_custody::hours::OpeningHours>,
    alerts: AlertsConfig,
    notify: Vec<NotifyConfig>,
}

impl Checker<'_> {
    fn report(&mut self, span: Option<Range<usize>>, message: String) {
        let (line, column) = span.map_or((1, 1), |s| line_col(self.text, s.start));
        self.problems.push(Problem {
            line,
            column,
            message,
        });
    }

    fn unknown_keys(&mut self, section: &Section<'_>) {
        for (key, item) in section.table.iter() {
            if section.known.contains(&key) {
                continue;
            }
            let span = section
                .table
                .key(key)
                .and_then(|k| k.span())
                .or_else(|| item.span())
                .or_else(|| section.span.clone());
            self.report(
                span,
                format!(
                    "unknown key {key:?} {} {}; expected one of: {}",
                    if section.name.starts_with('[') {
                        "in"
                    } else {
                        "at"
                    },
                    section.name,
                    section.known.join(", ")
                ),
            );
        }
    }

    fn missing(&mut self, section: &Section<'_>, key: &str, expected: &str) {
        self.report(
            section.span.clone(),
            format!(
                "{} is missing the required key {key:?}; expected {expected}",
                section.name
            ),
        );
    }

    /// A string value, or a report that something else is there.
    fn string(
        &mut self,
        section: &Section<'_>,
        key: &str,
        expected: &str,
    ) -> Option<(String, Option<Range<usize>>)> {
        let (item, span) = section.get(key)?;
        match item.as_str() {
            Some(s) => Some((s.to_owned(), span)),
            None => {
                self.report(
                    span,
                    format!("{key}: expected {expected}, found {}", describe(item)),
                );
                None
            }
        }
    }

    /// An integer in `min..=max`, or a report naming the range.
    fn integer<T: TryFrom<i64>>(
        &mut self,
        section: &Section<'_>,
        key: &str,
        min: i64,
        max: i64,
    ) -> Option<T> {
        let (item, span) = section.get(key)?;
        let value = item
            .as_integer()
            .filter(|v| (min..=max).contains(v))
            .and_then(|v| T::try_from(v).ok());
        if value.is_none() {
            self.report(
                span,
                format!(
                    "{key}: expected an integer from {min} to {max}, found {}",
                    describe(item)
                ),
            );
        }
        value
    }

    fn boolean(&mut self, section: &Section<'_>, key: &str) -> Option<bool> {
        let (item, span) = section.get(key)?;
        let value = item.as_bool();
        if value.is_none() {
            self.report(
                span,
                format!("{key}: expected true or false, found {}", describe(item)),
            );
        }
        value
    }

    /// A `[name]` table (or inline table) under `key` of the root.
    fn sub_table<'t>(
        &mut self,
        root: &Section<'t>,
        key: &str,
        name: &'static str,
        known: &'static [&'static str],
    ) -> Option<Section<'t>> {
        let (item, span) = root.get(key)?;
        match item.as_table_like() {
            Some(table) => {
                let section = Section {
                    table,
                    span,
                    name,
                    known,
                };
                self.unknown_keys(&section);
                Some(section)
            }
            None => {
                self.report(
                    span,
                    format!("{key}: expected a {name} table, found {}", describe(item)),
                );
                None
            }
        }
    }

    fn root(&mut self, table: &toml_edit::Table) -> Option<Parts> {
        let root = Section {
            table,
            span: Some(0..0),
            name: "the top level",
            known: TOP_KEYS,
        };
        self.unknown_keys(&root);

        let data_dir_expected = "a directory path such as \"/var/lib/custos\"";
        let data_dir = match self.string(&root, "data_dir", data_dir_expected) {
            Some((d, span)) if d.trim().is_empty() => {
                self.report(
                    span,
                    format!("data_dir: expected {data_dir_expected}, found an empty string"),
                );
                None
            }
            Some((d, _)) => Some(PathBuf::from(d)),
            None => {
                if root.get("data_dir").is_none() {
                    self.report(
                        Some(0..0),
                        format!(
                            "missing the required key \"data_dir\"; expected {data_dir_expected}, \
                             where the index and the video are kept"
                        ),
                    );
                }
                None
            }
        };

        let site_expected = "1 to 64 characters of a-z, 0-9 and -";
        let site = match self.string(&root, "site", &format!("a string of {site_expected}")) {
            Some((s, _)) if valid_name(&s, 64) => s,
            Some((s, span)) => {
                self.report(
                    span,
                    format!("site: expected {site_expected}, found {}", quote(&s)),
                );
                DEFAULT_SITE.to_owned()
            }
            None => DEFAULT_SITE.to_owned(),
        };

        let mut listen = SocketAddr::from(DEFAULT_LISTEN);
        let mut tls = None;
        let (mut metrics, mut metrics_token_env) = (false, None);
        if let Some(server) = self.sub_table(&root, "server", "[server]", SERVER_KEYS) {
            metrics = self.boolean(&server, "metrics").unwrap_or(false);
            metrics_token_env = self.env_name(&server, "metrics_token_env");
            if metrics_token_env.is_some() && !metrics {
                self.report(
                    server.get("metrics_token_env").and_then(|(_, span)| span),
                    "metrics_token_env: the metrics are off; expected metrics = true with it"
                        .into(),
                );
            }
            let cert = self.string(&server, "tls_cert", "the path of a PEM certificate chain");
            let key = self.string(&server, "tls_key", "the path of a PEM private key");
            match (cert, key) {
                (Some((c, _)), Some((k, _))) => tls = Some((PathBuf::from(c), PathBuf::from(k))),
                (Some((_, span)), None) | (None, Some((_, span))) => self.report(
                    span,
                    "tls_cert and tls_key go together: give both, or neither for plain HTTP".into(),
                ),
                (None, None) => {}
            }
            let expected = "an IP address and port such as \"127.0.0.1:8080\"";
            if let Some((text, span)) = self.string(&server, "listen", expected) {
                match text.trim().parse::<SocketAddr>() {
                    Ok(addr) => listen = addr,
                    Err(_) => self.report(
                        span,
                        format!("listen: expected {expected}, found {}", quote(&text)),
                    ),
                }
            }
        }

        let mut retention_check_seconds = DEFAULT_RETENTION_CHECK_SECONDS;
        let mut disk = (None, true);
        if let Some(retention) = self.sub_table(&root, "retention", "[retention]", RETENTION_KEYS) {
            if let Some(s) = self.integer(&retention, "check_seconds", 1, 86_400) {
                retention_check_seconds = s;
            }
            disk.0 = self.byte_size(&retention, "disk_reserve");
            disk.1 = self
                .boolean(&retention, "delete_oldest_when_full")
                .unwrap_or(true);
        }

        let cameras = self.cameras(&root);
        let rules = SiteRules {
            hours: self.hours(&root),
            alerts: self.alerts(&root),
            notify: self.notify(&root),
        };
        Some((
            data_dir?,
            site,
            ServerConfig {
                listen,
                tls,
                metrics,
                metrics_token_env,
            },
            (retention_check_seconds, disk.0, disk.1),
            cameras,
            rules,
        ))
    }

    /// Every `[[camera]]` table (or `camera = [{...}]`); only cameras with
    /// no problems are returned, but all are checked.
    fn cameras(&mut self, root: &Section<'_>) -> Vec<Camera> {
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

    fn camera(
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

    fn analysis(&mut self, section: &Section<'_>) -> AnalysisSettings {
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
    fn fraction(&mut self, section: &Section<'_>, key: &str, min: f64) -> Option<f32> {
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
    fn regions(
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

    fn camera_url(&mut self, section: &Section<'_>, key: &str) -> Option<Url> {
        let (text, span) = self.string(section, key, &format!("a URL: {URL_EXPECTED}"))?;
        match check_url(&text) {
            Ok(url) => Some(url),
            Err(why) => {
                self.report(span, format!("{key}: {why}; expected {URL_EXPECTED}"));
                None
            }
        }
    }

    fn retain_bytes(&mut self, section: &Section<'_>) -> Option<u64> {
        self.byte_size(section, "retain_bytes")
    }

    /// A byte size: an integer, or a string with a unit (`"50GB"`).
    fn byte_size(&mut self, section: &Section<'_>, key: &str) -> Option<u64> {
        let (item, span) = section.get(key)?;
        let message = match item.as_value() {
            Some(Value::Integer(i)) => match u64::try_from(*i.value()) {
                Ok(b) if b > 0 => return Some(b),
                _ => format!("expected {SIZE_EXPECTED}, found {}", describe(item)),
            },
            Some(Value::String(s)) => match parse_byte_size(s.value()) {
                Ok(b) => return Some(b),
                Err(why) => format!("{why} in {}; expected {SIZE_EXPECTED}", quote(s.value())),
            },
            _ => format!("expected {SIZE_EXPECTED}, found {}", describe(item)),
        };
        self.report(span, format!("{key}: {message}"));
        None
    }
}

const URL_EXPECTED: &str = "rtsp://host/path, rtsps://host/path, http://host/path (an MJPEG \
     stream), https://host/path or file:///absolute/path.mp4";

const SIZE_EXPECTED: &str = "an integer number of bytes above 0 or a string such as \"50GB\" \
     (units B, KB, MB, GB, TB in steps of 1000; KiB, MiB, GiB, TiB in steps of 1024)";

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

/// Parses a byte size written as a string: a number (decimals allowed) and
/// an optional unit, B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB,
/// TiB (powers of 1024), case-insensitive. The result must be a whole
/// number of bytes, above zero, that fits in 64 bits.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let multiplier: u128 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KIB" => 1 << 10,
        "MIB" => 1 << 20,
        "GIB" => 1 << 30,
        "TIB" => 1 << 40,
        _ => return Err(format!("unknown unit {unit:?}")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_ok(whole) || !digits_ok(fraction) || whole.len() > 20 {
        return Err("no number before the unit".into());
    }
    if fraction.len() > 12 {
        return Err("too many decimal places".into());
    }
    let too_big = || "too large for 64 bits".to_string();
    let whole: u128 = whole.parse().map_err(|_| too_big())?;
    let (fraction_value, scale) = if fraction.is_empty() {
        (0, 1)
    } else {
        let value: u128 = fraction.parse().map_err(|_| too_big())?;
        (
            value,
            10u128.pow(u32::try_from(fraction.len()).map_err(|_| too_big())?),
        )
    };
    let fraction_bytes = fraction_value * multiplier;
    if !fraction_bytes.is_multiple_of(scale) {
        return Err("not a whole number of bytes".into());
    }
    let bytes = whole
        .checked_mul(multiplier)
        .and_then(|b| b.checked_add(fraction_bytes / scale))
        .ok_or_else(too_big)?;
    let bytes = u64::try_from(bytes).map_err(|_| too_big())?;
    if bytes == 0 {
        return Err("a size of zero bytes".into());
    }
    Ok(bytes)
}

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A string as quoted in messages, shortened if long.
fn quote(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let short: String = s.chars().take(MAX).collect();
        format!("{short:?}…")
    }
}

/// What a TOML item is, for "found …" in messages.
fn describe(item: &Item) -> String {
    match item {
        Item::None => "nothing".into(),
        Item::Table(_) => "a table".into(),
        Item::ArrayOfTables(_) => "an array of tables".into(),
        Item::Value(v) => describe_value(v),
    }
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("string {}", quote(s.value())),
        Value::Integer(i) => format!("integer {}", i.value()),
        Value::Float(f) => format!("float {}", f.value()),
        Value::Boolean(b) => format!("boolean {}", b.value()),
        Value::Datetime(d) => format!("date-time {}", d.value()),
        Value::Array(_) => "an array".into(),
        Value::InlineTable(_) => "an inline table".into(),
    }
}

impl Checker<'_> {
    /// `[hours]`: the site's time zone, weekly hours and closed days.
    fn hours(&mut self, root: &Section<'_>) -> Option<custos_custody::hours::OpeningHours> {
        let section = self.sub_table(root, "hours", "[hours]", HOURS_KEYS)?;
        let Some((tz, _)) = self.string(
            &section,
            "time_zone",
            "an IANA time zone such as \"Europe/Berlin\"",
        ) else {
            if section.get("time_zone").is_none() {
                self.missing(
                    &section,
                    "time_zone",
                    "an IANA time zone such as \"Europe/Berlin\"",
                );
            }
            return None;
        };
        let mut weekly = std::collections::BTreeMap::new();
        for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
            if let Some((text, _)) = self.string(
                &section,
                day,
                "hours such as \"08:00-12:00,13:00-17:30\" or \"closed\"",
            ) {
                weekly.insert(day.to_owned(), text);
            }
        }
        let mut closed = Vec::new();
        if let Some((item, span)) = section.get("closed") {
            match item.as_array() {
                Some(array) => {
                    for v in array.iter() {
                        match v.as_str() {
                            Some(d) => closed.push(d.to_owned()),
                            None => self.report(
                                v.span().or(span.clone()),
                                format!(
                                    "closed: expected dates such as \"2026-12-25\", found {}",
                                    describe_value(v)
                                ),
                            ),
                        }
                    }
                }
                None => self.report(
                    span,
                    format!(
                        "closed: expected an array of dates such as [\"2026-12-25\"], found {}",
                        describe(item)
                    ),
                ),
            }
        }
        match custos_custody::hours::parse(&tz, &weekly, &closed) {
            Ok(h) => Some(h),
            Err(e) => {
                self.report(section.span.clone(), format!("[hours]: {e}"));
                None
            }
        }
    }

    /// `[alerts]`.
    fn alerts(&mut self, root: &Section<'_>) -> AlertsConfig {
        let d = AlertsConfig::default();
        let Some(section) = self.sub_table(root, "alerts", "[alerts]", ALERTS_KEYS) else {
            return d;
        };
        AlertsConfig {
            check_seconds: self
                .integer(&section, "check_seconds", 1, 3600)
                .unwrap_or(d.check_seconds),
            disk_full_percent: self
                .integer(&section, "disk_full_percent", 1, 100)
                .unwrap_or(d.disk_full_percent),
        }
    }

    /// Every `[[notify]]` table.
    fn notify(&mut self, root: &Section<'_>) -> Vec<NotifyConfig> {
        let mut tables: Vec<(&dyn TableLike, Option<Range<usize>>)> = Vec::new();
        match root.get("notify") {
            None => {}
            Some((Item::ArrayOfTables(array), _)) => {
                for t in array.iter() {
                    tables.push((t, t.span()));
                }
            }
            Some((item, span)) => self.report(
                span,
                format!(
                    "notify: expected [[notify]] tables, found {}",
                    describe(item)
                ),
            ),
        }
        let mut out: Vec<NotifyConfig> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (table, span) in tables {
            let section = Section {
                table,
                span,
                name: "[[notify]]",
                known: NOTIFY_KEYS,
            };
            self.unknown_keys(&section);
            // Names are checked for clashes even when the rest of a table
            // is wrong, so every problem is reported in one pass.
            if let Some((item, span)) = section.get("name") {
                if let Some(name) = item.as_str() {
                    if !seen.insert(name.to_owned()) {
                        self.report(
                            span,
                            format!("name: another [[notify]] is already called {name:?}"),
                        );
                        continue;
                    }
                }
            }
            if let Some(n) = self.notify_one(&section) {
                out.push(n);
            }
        }
        out
    }

    fn required_string(
        &mut self,
        section: &Section<'_>,
        key: &str,
        expected: &str,
    ) -> Option<String> {
        match self.string(section, key, expected) {
            Some((s, span)) if s.trim().is_empty() => {
                self.report(
                    span,
                    format!("{key}: expected {expected}, found an empty string"),
                );
                None
            }
            Some((s, _)) => Some(s),
            None => {
                if section.get(key).is_none() {
                    self.missing(section, key, expected);
                }
                None
            }
        }
    }

    fn env_name(&mut self, section: &Section<'_>, key: &str) -> Option<String> {
        let (name, span) = self.string(section, key, "an environment variable name")?;
        if !valid_env_name(&name) {
            self.report(
                span,
                format!(
                    "{key}: expected an environment variable name, found {}",
                    quote(&name)
                ),
            );
            return None;
        }
        Some(name)
    }

    fn notify_one(&mut self, section: &Section<'_>) -> Option<NotifyConfig> {
        let name = self.required_string(section, "name", "a name of a-z, 0-9 and -");
        let name = match name {
            Some(n) if valid_name(&n, 64) => Some(n),
            Some(n) => {
                self.report(
                    section.get("name").and_then(|(_, s)| s),
                    format!(
                        "name: expected 1 to 64 characters of a-z, 0-9 and -, found {}",
                        quote(&n)
                    ),
                );
                None
            }
            None => None,
        };
        let kind = self.required_string(section, "type", "\"webhook\", \"mqtt\" or \"email\"");
        let alerts = self.boolean(section, "alerts").unwrap_or(true);
        let timeout_seconds = self
            .integer(section, "timeout_seconds", 1, 300)
            .unwrap_or(10);
        let target = match kind.as_deref() {
            Some("webhook") => {
                let url = self.required_string(section, "url", "an http:// or https:// URL");
                let url = url.and_then(|u| match Url::parse(&u) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                        Some(url)
                    }
                    _ => {
                        self.report(
                            section.get("url").and_then(|(_, s)| s),
                            format!(
                                "url: expected an http:// or https:// URL, found {}",
                                quote(&u)
                            ),
                        );
                        None
                    }
                });
                let secret_env = self.env_name(section, "secret_env");
                if section.get("secret_env").is_none() {
                    self.missing(
                        section,
                        "secret_env",
                        "the environment variable holding the signing secret",
                    );
                }
                Some(NotifyTarget::Webhook {
                    url: url?,
                    secret_env: secret_env?,
                })
            }
            Some("mqtt") => {
                let host = self.required_string(section, "host", "a host name or IP address");
                let port = self.integer(section, "port", 1, 65535).unwrap_or(1883);
                Some(NotifyTarget::Mqtt {
                    host: host?,
                    port,
                    username: self
                        .string(section, "username", "a user name")
                        .map(|(s, _)| s),
                    password_env: self.env_name(section, "password_env"),
                })
            }
            Some("email") => {
                let host = self.required_string(section, "host", "an SMTP server's host name");
                let port = self.integer(section, "port", 1, 65535).unwrap_or(25);
                let security =
                    match self.string(section, "security", "\"none\", \"starttls\" or \"tls\"") {
                        Some((s, _)) if ["none", "starttls", "tls"].contains(&s.as_str()) => s,
                        Some((s, span)) => {
                            self.report(
                                span,
                                format!(
                                "security: expected \"none\", \"starttls\" or \"tls\", found {}",
                                quote(&s)
                            ),
                            );
                            "none".to_owned()
                        }
                        None => "starttls".to_owned(),
                    };
                let from = self.required_string(section, "from", "the sender's address");
                let mut to = Vec::new();
                match section.get("to") {
                    Some((item, span)) => match item.as_array() {
                        Some(a) if !a.is_empty() && a.iter().all(|v| v.as_str().is_some()) => {
                            to = a
                                .iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect();
                        }
                        _ => self.report(
                            span,
                            format!(
                                "to: expected a non-empty array of addresses, found {}",
                                describe(item)
                            ),
                        ),
                    },
                    None => self.missing(section, "to", "an array of addresses"),
                }
                let username = self
                    .string(section, "username", "a user name")
                    .map(|(s, _)| s);
                let password_env = self.env_name(section, "password_env");
                if username.is_some() != password_env.is_some() {
                    self.report(
                        section.span.clone(),
                        "[[notify]]: an SMTP login needs both username and password_env".into(),
                    );
                }
                Some(NotifyTarget::Email {
                    host: host?,
                    port,
                    security,
                    username,
                    password_env,
                    from: from?,
                    to,
                })
            }
            Some(other) => {
                self.report(
                    section.get("type").and_then(|(_, s)| s),
                    format!(
                        "type: expected \"webhook\", \"mqtt\" or \"email\", found {}",
                        quote(other)
                    ),
                );
                None
            }
            None => None,
        };
        let target = target?;
        let camera_states = self
            .boolean(section, "camera_states")
            .unwrap_or(matches!(target, NotifyTarget::Mqtt { .. }));
        Some(NotifyConfig {
            name: name?,
            alerts,
            camera_states,
            timeout_seconds,
            target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problems of `text` as (line, column, message); empty if it parses.
    fn problems(text: &str) -> Vec<(usize, usize, String)> {
        match parse(text, "t.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.line, p.column, p.message))
                .collect(),
        }
    }

    fn positions(text: &str) -> Vec<(usize, usize)> {
        problems(text).into_iter().map(|(l, c, _)| (l, c)).collect()
    }

    fn valid(text: &str) -> Config {
        match parse(text, "t.toml") {
            Ok(c) => c,
            Err(e) => panic!("expected a valid config, got:\n{e}"),
        }
    }

    /// The single problem of a file with one camera holding `lines`.
    fn camera_problem(lines: &str) -> (usize, usize, String) {
        let p = problems(&format!("data_dir = \"d\"\n[[camera]]\n{lines}"));
        assert_eq!(p.len(), 1, "{p:#?}");
        p.into_iter().next().unwrap_or_default()
    }

    const FULL: &str = r#"# a full site
data_dir = "/var/lib/custos"
site = "main-archive"

[server]
listen = "0.0.0.0:9000"

[retention]
check_seconds = 5

[[camera]]
id = "stacks"
name = "Stacks room"
url = "rtsp://viewer@10.0.0.5/stream1"
analysis_url = "rtsp://10.0.0.5/stream2"
transport = "udp"
username = "operator"
password_env = "STACKS_PASSWORD"
segment_seconds = 30
retain_days = 30
retain_bytes = "50GB"
enabled = false

[[camera]]
id = "door-2"
url = "file:///srv/clips/door.mp4"
"#;

    #[test]
    fn a_full_valid_file() {
        let c = valid(FULL);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/custos"));
        assert_eq!(c.site, "main-archive");
        assert_eq!(c.server.listen, SocketAddr::from(([0, 0, 0, 0], 9000)));
        assert_eq!(c.retention_check_seconds, 5);
        assert_eq!(c.cameras.len(), 2);
        let s = &c.cameras[0].settings;
        assert_eq!(s.id, "stacks");
        assert_eq!(s.name, "Stacks room");
        assert_eq!(s.url, "rtsp://viewer@10.0.0.5/stream1");
        assert_eq!(s.analysis_url.as_deref(), Some("rtsp://10.0.0.5/stream2"));
        assert_eq!(s.transport, "udp");
        assert_eq!(s.username.as_deref(), Some("operator"));
        assert_eq!(s.password_env.as_deref(), Some("STACKS_PASSWORD"));
        assert_eq!(s.segment_seconds, 30);
        assert_eq!(s.retain_days, Some(30));
        assert_eq!(s.retain_bytes, Some(50_000_000_000));
        assert!(!s.enabled);
        assert_eq!(c.cameras[1].url().expect("url").scheme(), "file");
        assert_eq!(
            c.source_hash,
            hex::encode(Sha256::digest(FULL.as_bytes())),
            "the hash is of the file's bytes"
        );
        assert_eq!(c.source_hash.len(), 64);
        assert_ne!(valid("data_dir = \"x\"\n").source_hash, c.source_hash);
    }

    #[test]
    fn defaults() {
        let c = valid("data_dir = \"data\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://h/s\"\n");
        assert_eq!(c.data_dir, PathBuf::from("data"), "parse keeps it relative");
        assert_eq!(c.site, "custos");
        assert_eq!(c.server.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(c.retention_check_seconds, 60);
        let cam = &c.cameras[0].settings;
        assert_eq!(cam.name, "a", "name defaults to the id");
        assert_eq!(cam.transport, "tcp");
        assert_eq!(cam.segment_seconds, 60);
        assert_eq!(
            (cam.retain_days, cam.retain_bytes, cam.analysis_url.clone()),
            (None, None, None)
        );
        assert_eq!(
            (cam.username.clone(), cam.password_env.clone()),
            (None, None)
        );
        assert!(cam.enabled);
        assert!(valid("data_dir = \"d\"\n").cameras.is_empty());
        // Inline forms are the same TOML and are accepted.
        let inline = valid(&format!(
            "data_dir = \"d\"\nserver = {{ listen = \"[::1]:81\" }}\n\
             camera = [{{ id = \"b\", url = \"rtsps://h/s\", tls_fingerprint = \"{}\" }}]\n",
            "0f".repeat(32)
        ));
        assert_eq!(inline.server.listen.port(), 81);
        assert_eq!(inline.cameras[0].settings.id, "b");
    }

    #[test]
    fn relative_data_dir_is_relative_to_the_file() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("custos.toml");
        std::fs::write(&path, "data_dir = \"data\"\n").expect("writing the config");
        let c = load(&path).expect("a valid config");
        assert_eq!(c.data_dir, dir.path().join("data"));
        std::fs::write(&path, "data_dir = \"/abs/data\"\n").expect("writing the config");
        let c = load(&path).expect("a valid config");
        assert_eq!(c.data_dir, PathBuf::from("/abs/data"));

        let absent = dir.path().join("absent.toml");
        let e = load(&absent).expect_err("no such file");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!(
                "{}: cannot read the config file",
                absent.display()
            )),
            "{shown}"
        );

        std::fs::write(&path, b"data_dir = \"d\"\nsite = \"\xff\"\n").expect("writing");
        let e = load(&path).expect_err("not UTF-8");
        assert_eq!((e.problems[0].line, e.problems[0].column), (2, 9), "{e}");
    }

    #[test]
    fn every_error_is_reported_with_its_position() {
        let text = "\
data_dir = \"/x\"
site = \"Main Archive\"
[server]
listen = \"nowhere\"
[[camera]]
id = \"stacks\"
url = \"ftp://cam/\"
segment_seconds = \"sixty\"
retain_days = 0
transport = \"sctp\"
enabled = \"yes\"
[[camera]]
name = \"no id, no url\"
";
        let p = problems(text);
        assert_eq!(
            positions(text),
            vec![
                (2, 8),
                (4, 10),
                (7, 7),
                (8, 19),
                (9, 15),
                (10, 13),
                (11, 11),
                (12, 1),
                (12, 1)
            ],
            "{p:#?}"
        );
        assert_eq!(
            p[0].2,
            "site: expected 1 to 64 characters of a-z, 0-9 and -, found \"Main Archive\""
        );
        assert!(
            p[1].2
                .starts_with("listen: expected an IP address and port"),
            "{}",
            p[1].2
        );
        assert!(
            p[2].2.starts_with("url: unsupported scheme \"ftp\""),
            "{}",
            p[2].2
        );
        assert_eq!(
            p[3].2,
            "segment_seconds: expected an integer from 1 to 3600, found string \"sixty\""
        );
        assert_eq!(
            p[4].2,
            "retain_days: expected an integer from 1 to 36500, found integer 0"
        );
        assert_eq!(
            p[5].2,
            "transport: expected \"tcp\" or \"udp\", found \"sctp\""
        );
        assert_eq!(
            p[6].2,
            "enabled: expected true or false, found string \"yes\""
        );
        assert!(
            p[7].2.contains("missing the required key \"id\""),
            "{}",
            p[7].2
        );
        assert!(
            p[8].2.contains("missing the required key \"url\""),
            "{}",
            p[8].2
        );

        let e = parse(text, "site.toml").expect_err("invalid");
        let shown = e.to_string();
        assert_eq!(shown.lines().count(), 9, "{shown}");
        assert!(
            shown
                .lines()
                .nth(3)
                .is_some_and(|l| l.starts_with("site.toml:8:19: segment_seconds:")),
            "{shown}"
        );
    }

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
    fn missing_data_dir_points_at_line_one() {
        let p = problems("\n\nsite = \"a\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].0, p[0].1), (1, 1));
        assert!(p[0].2.contains("\"data_dir\""), "{}", p[0].2);
    }

    #[test]
    fn unknown_keys_everywhere() {
        let text =
            "data_dir = \"d\"\ncolour = \"red\"\n[server]\nlisten = \"127.0.0.1:1\"\nport = 2\n\
                    [[camera]]\nid = \"a\"\nurl = \"rtsp://h/s\"\n  retain = 3\n[extra]\n";
        let p = problems(text);
        assert_eq!(
            positions(text),
            vec![(2, 1), (5, 1), (9, 3), (10, 2)],
            "{p:#?}"
        );
        assert_eq!(
            p[0].2,
            "unknown key \"colour\" at the top level; expected one of: \
             data_dir, site, server, retention, camera, hours, alerts, notify"
        );
        assert_eq!(
            p[1].2,
            "unknown key \"port\" in [server]; expected one of: listen, tls_cert, tls_key, metrics, \
             metrics_token_env"
        );
        assert_eq!(
            p[2].2,
            "unknown key \"retain\" in [[camera]]; expected one of: id, name, url, \
             analysis_url, transport, username, password_env, tls_fingerprint, segment_seconds, \
             retain_days, retain_bytes, enabled, analysis, analysis_fps, motion_sensitivity, \
             motion_min_area, motion_merge_seconds, tamper, zone, mask"
        );
        assert!(p[3].2.starts_with("unknown key \"extra\" at the top level"));
    }

    #[test]
    fn hours_alerts_and_notify_destinations() {
        let c = valid(
            "data_dir = \"d\"\n[hours]\ntime_zone = \"Europe/Berlin\"\nmon = \"08:00-17:00\"\n\
             closed = [\"2026-12-25\"]\n[alerts]\ncheck_seconds = 5\n\
             [[notify]]\nname = \"ops\"\ntype = \"webhook\"\nurl = \"https://h/x?token=abc\"\nsecret_env = \"S\"\n\
             [[notify]]\nname = \"mq\"\ntype = \"mqtt\"\nhost = \"127.0.0.1\"\n\
             [[notify]]\nname = \"mail\"\ntype = \"email\"\nhost = \"smtp\"\nfrom = \"a@b\"\nto = [\"c@d\"]\n",
        );
        assert!(c.hours.is_some());
        assert_eq!(c.alerts.check_seconds, 5);
        assert_eq!(c.alerts.disk_full_percent, 90);
        let names: Vec<&str> = c.notify.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["ops", "mq", "mail"]);
        // MQTT carries camera states by default, the others do not.
        let states: Vec<bool> = c.notify.iter().map(|n| n.camera_states).collect();
        assert_eq!(states, [false, true, false]);
        // A webhook URL's path and query may hold a token: never shown.
        let shown = format!("{c:?}");
        assert!(!shown.contains("token=abc"), "{shown}");

        let bad = "data_dir = \"d\"\n[hours]\ntime_zone = \"Mars/Olympus\"\n\
                   [[notify]]\nname = \"x\"\ntype = \"pigeon\"\n\
                   [[notify]]\nname = \"y\"\ntype = \"webhook\"\nurl = \"ftp://h\"\n\
                   [[notify]]\nname = \"y\"\ntype = \"mqtt\"\nhost = \"h\"\n";
        let p = problems(bad);
        let all: Vec<String> = p.iter().map(|(l, c, m)| format!("{l}:{c} {m}")).collect();
        let text = all.join("\n");
        assert!(text.contains("Mars/Olympus"), "{text}");
        assert!(text.contains("pigeon"), "{text}");
        assert!(text.contains("ftp://h"), "{text}");
        assert!(text.contains("secret_env"), "{text}");
        assert!(text.contains("already called \"y\""), "{text}");
    }

    #[test]
    fn tls_needs_both_files_relative_to_the_config() {
        let p = problems("data_dir = \"d\"\n[server]\ntls_cert = \"c.pem\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].0, p[0].1), (3, 12));
        assert!(p[0].2.contains("tls_key"), "{}", p[0].2);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("custos.toml");
        std::fs::write(
            &file,
            "data_dir = \"d\"\n[server]\ntls_cert = \"c.pem\"\ntls_key = \"/k.pem\"\n",
        )
        .expect("write");
        let c = load(&file).expect("load");
        assert_eq!(
            c.server.tls,
            Some((dir.path().join("c.pem"), PathBuf::from("/k.pem")))
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
    fn retain_bytes_units() {
        let bytes = |v: &str| {
            valid(&format!(
                "data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://h/s\"\nretain_bytes = {v}\n"
            ))
            .cameras[0]
                .settings
                .retain_bytes
        };
        assert_eq!(bytes("150000"), Some(150_000));
        assert_eq!(bytes("\"50GB\""), Some(50_000_000_000));
        assert_eq!(bytes("\"2 TB\""), Some(2_000_000_000_000));
        assert_eq!(bytes("\"500MiB\""), Some(500 << 20));
        assert_eq!(bytes("\"1.5GiB\""), Some(3 << 29));
        assert_eq!(bytes("\"3KB\""), Some(3_000));
        assert_eq!(bytes("\"4kib\""), Some(4_096));
        assert_eq!(bytes("\"1TiB\""), Some(1 << 40));
        assert_eq!(bytes("\"7B\""), Some(7));

        for bad in [
            "\"50 parsecs\"",
            "\"GB\"",
            "\"0GB\"",
            "0",
            "-5",
            "\"1.5B\"",
            "\"99999999TB\"",
            "1.5",
            "true",
        ] {
            let (l, c, m) = camera_problem(&format!(
                "id = \"a\"\nurl = \"rtsp://h/s\"\nretain_bytes = {bad}\n"
            ));
            assert_eq!((l, c), (5, 16), "{bad}");
            assert!(m.starts_with("retain_bytes: "), "{bad}: {m}");
            assert!(
                m.contains("expected an integer number of bytes above 0 or a string"),
                "{bad}: {m}"
            );
        }
        let (_, _, m) =
            camera_problem("id = \"a\"\nurl = \"rtsp://h/s\"\nretain_bytes = \"50 parsecs\"\n");
        assert!(
            m.starts_with("retain_bytes: unknown unit \"parsecs\" in \"50 parsecs\"; expected"),
            "{m}"
        );
    }

    #[test]
    fn toml_syntax_error_position() {
        let p = problems("data_dir = \"d\"\n[server\nlisten = \"127.0.0.1:1\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].0, p[0].1), (2, 8), "{p:?}");
        assert!(p[0].2.starts_with("TOML syntax error: "), "{}", p[0].2);
        assert!(!p[0].2.contains('\n'), "one line: {}", p[0].2);

        let p = problems("data_dir = \"d\"\n[[camera]]\nid = \"a\"\nid = \"b\"\n");
        assert_eq!((p[0].0, p[0].1), (4, 1), "a duplicate key: {p:?}");
        let e = parse("x = = 1", "bad.toml").expect_err("syntax");
        assert!(
            e.to_string().starts_with("bad.toml:1:5: TOML syntax error"),
            "{e}"
        );
    }

    #[test]
    fn wrong_toml_types_are_errors_not_panics() {
        let text = "data_dir = [1]\nsite = 3\nserver = \"x\"\nretention = 1.5\ncamera = \"x\"\n";
        let p = problems(text);
        assert_eq!(
            positions(text),
            vec![(1, 12), (2, 8), (3, 10), (4, 13), (5, 10)],
            "{p:#?}"
        );
        assert_eq!(
            p[0].2,
            "data_dir: expected a directory path such as \"/var/lib/custos\", found an array"
        );
        assert!(
            p[2].2.starts_with("server: expected a [server] table"),
            "{}",
            p[2].2
        );
        assert!(
            p[4].2.starts_with("camera: expected [[camera]] tables"),
            "{}",
            p[4].2
        );
        let p = problems("data_dir = \"d\"\n[camera]\nid = \"a\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].2.ends_with("found a table"), "{p:?}");
        let p = problems("data_dir = \"d\"\ncamera = [1, {id = \"a\", url = \"rtsp://h/s\"}]\n");
        assert_eq!(
            positions("data_dir = \"d\"\ncamera = [1, {id = \"a\", url = \"rtsp://h/s\"}]\n"),
            vec![(2, 11)],
            "{p:?}"
        );
    }

    #[test]
    fn redaction_hides_passwords() {
        let c = valid(
            "data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://admin:s3cr%40t@h/s\"\n\
             analysis_url = \"rtsp://admin:other-pw@h/t\"\n",
        );
        let shown = format!("{c:?} {c:#?} {:?}", c.cameras);
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(!shown.contains("other-pw"), "{shown}");
        assert!(shown.contains("rtsp://admin:***@h/s"), "{shown}");
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

    #[test]
    fn mangled_files_give_positioned_errors_never_panics() {
        let alphabet: Vec<char> = "=\"[]{}.,:#\n 019azAZ-_é%@/\\'".chars().collect();
        let original: Vec<char> = FULL.chars().collect();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n.max(1) as u64).unwrap_or(0)
        };
        let mut rejected = 0;
        for _ in 0..3000 {
            let mut chars = original.clone();
            for _ in 0..=next(3) {
                let at = next(chars.len());
                let c = alphabet[next(alphabet.len())];
                match next(3) {
                    0 => chars[at] = c,
                    1 => {
                        chars.remove(at);
                    }
                    _ => chars.insert(at, c),
                }
            }
            let text: String = chars.into_iter().collect();
            if let Err(e) = parse(&text, "m.toml") {
                rejected += 1;
                assert!(!e.problems.is_empty(), "{text:?}");
                let lines = text.split('\n').count();
                for p in &e.problems {
                    assert!((1..=lines).contains(&p.line), "{p:?} in {text:?}");
                    assert!(p.column >= 1, "{p:?} in {text:?}");
                }
            }
        }
        assert!(rejected > 500, "the mutations do break files: {rejected}");
    }

    #[test]
    fn line_col_counts_characters() {
        let text = "ab\nçd\ne";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 5), (2, 2), "ç is two bytes, one column");
        assert_eq!(line_col(text, 4), (2, 1), "inside a character");
        assert_eq!(line_col(text, 99), (3, 2));
    }
}
