//! The configuration file.
//!
//! The TOML text is parsed with `toml_edit`, which keeps the byte span of
//! every key and value, and the tree is then walked by hand. Each problem is
//! collected rather than returned, so one run of `custos check-config` shows
//! every mistake in the file, each with its line, column and what was
//! expected. Unknown keys are errors: a misspelt `retain_days` must not
//! silently keep video forever.
//!
//! This module holds the top level (`Config`, [`load`], [`parse`]); each
//! table has its own module, `checker` the checks of single values and
//! `errors` where a problem is (line and column).
//!
//! A camera's table is read into `custos_site::camera`'s types, the same
//! the settings API reads and writes. Passwords never leave this module in
//! printable form: `Debug` of the config types shows URLs through
//! `redact_url`, and messages about a URL never repeat the URL's text.

mod alerts;
mod camera;
mod checker;
mod errors;
mod escrow;
mod hours;
mod notify;
mod server;
mod witness;

use std::fmt;
use std::path::{Path, PathBuf};

use custos_site::camera::Camera;
use custos_site::uplink::{CentralOffice, ConfiguredWitness};
use sha2::{Digest, Sha256};
use toml_edit::ImDocument;

pub use alerts::AlertsConfig;
use checker::{quote, valid_name, Checker, Section};
use errors::line_col;
pub use errors::{ConfigError, Problem};
pub use notify::{NotifyConfig, NotifyTarget};
pub use server::ServerConfig;

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
    /// `[central]`: the central office the site enrols with and whose
    /// witness co-signs its checkpoints.
    pub central: Option<CentralOffice>,
    /// `[[witness]]`: independent witnesses, each key pinned here.
    pub witnesses: Vec<ConfiguredWitness>,
    /// `[escrow]`: the bucket the log is published to.
    pub escrow: Option<escrow::EscrowConfig>,
    /// Lower-case hex SHA-256 of the file's bytes, to log which file ran.
    pub source_hash: String,
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
            .field("central", &self.central)
            .field("witnesses", &self.witnesses)
            .field("escrow", &self.escrow)
            .field("source_hash", &self.source_hash)
            .finish()
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

/// The `[[notify]]` tables of another configuration file (the central
/// office's), checked as a site's are; the rest of the file is not looked at.
pub fn notify_tables(text: &str, origin: &str) -> Result<Vec<NotifyConfig>, ConfigError> {
    let doc = syntax(text, origin)?;
    let mut checker = Checker {
        text,
        problems: Vec::new(),
    };
    let root = Section {
        table: doc.as_table(),
        span: None,
        name: "the top level",
        known: &[],
    };
    let tables = checker.notify(&root);
    if checker.problems.is_empty() {
        Ok(tables)
    } else {
        checker.problems.sort_by_key(|p| (p.line, p.column));
        Err(ConfigError {
            origin: origin.to_owned(),
            problems: checker.problems,
        })
    }
}

/// The TOML document, or its syntax error with line and column.
fn syntax<'t>(text: &'t str, origin: &str) -> Result<ImDocument<&'t str>, ConfigError> {
    ImDocument::parse(text).map_err(|e| {
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
    })
}

/// Checks config text. `origin` names the file in messages. A relative
/// `data_dir` is returned as written (relative to the working directory).
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let doc = syntax(text, origin)?;
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
            central: rules.central,
            witnesses: rules.witnesses,
            escrow: rules.escrow,
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

const TOP_KEYS: &[&str] = &[
    "data_dir",
    "site",
    "server",
    "retention",
    "camera",
    "hours",
    "alerts",
    "notify",
    "central",
    "witness",
    "escrow",
];
const RETENTION_KEYS: &[&str] = &["check_seconds", "disk_reserve", "delete_oldest_when_full"];

const DEFAULT_SITE: &str = "custos";
const DEFAULT_RETENTION_CHECK_SECONDS: u32 = 60;

type Parts = (
    PathBuf,
    String,
    ServerConfig,
    // `[retention]`: check_seconds, disk_reserve, delete_oldest_when_full.
    (u32, Option<u64>, bool),
    Vec<Camera>,
    SiteRules,
);

/// The sections about alerts (hours, rules and destinations) and about
/// the log's witnesses.
struct SiteRules {
    hours: Option<custos_custody::hours::OpeningHours>,
    alerts: AlertsConfig,
    notify: Vec<NotifyConfig>,
    central: Option<CentralOffice>,
    witnesses: Vec<ConfiguredWitness>,
    escrow: Option<escrow::EscrowConfig>,
}

impl Checker<'_> {
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

        let server = self.server(&root);

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
            central: self.central(&root),
            witnesses: self.witnesses(&root),
            escrow: {
                let ids: Vec<&str> = cameras.iter().map(|c| c.settings.id.as_str()).collect();
                self.escrow(&root, &site, &ids)
            },
        };
        Some((
            data_dir?,
            site,
            server,
            (retention_check_seconds, disk.0, disk.1),
            cameras,
            rules,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    /// The problems of `text` as (line, column, message); empty if it parses.
    pub(super) fn problems(text: &str) -> Vec<(usize, usize, String)> {
        match parse(text, "t.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.line, p.column, p.message))
                .collect(),
        }
    }

    pub(super) fn positions(text: &str) -> Vec<(usize, usize)> {
        problems(text).into_iter().map(|(l, c, _)| (l, c)).collect()
    }

    pub(super) fn valid(text: &str) -> Config {
        match parse(text, "t.toml") {
            Ok(c) => c,
            Err(e) => panic!("expected a valid config, got:\n{e}"),
        }
    }

    /// The single problem of a file with one camera holding `lines`.
    pub(super) fn camera_problem(lines: &str) -> (usize, usize, String) {
        let p = problems(&format!("data_dir = \"d\"\n[[camera]]\n{lines}"));
        assert_eq!(p.len(), 1, "{p:#?}");
        p.into_iter().next().unwrap_or_default()
    }

    pub(super) const FULL: &str = r#"# a full site
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
             data_dir, site, server, retention, camera, hours, alerts, notify, central, witness, escrow"
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
}
