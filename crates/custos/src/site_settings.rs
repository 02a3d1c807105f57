//! The settings the web app changes (cameras, opening hours), kept in the
//! configuration file itself.
//!
//! A change is made on the file's `toml_edit` document, so comments and the
//! layout of everything else survive; the whole new text is then checked
//! by [`config::parse`] (every problem, as `custos check-config` shows
//! them) and only a valid file replaces the old one, atomically (write a
//! sibling, fsync, rename, fsync the directory). [`FileSettings::apply`]
//! then asks `serve` to restart its pipeline with the new file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use custos_media::source::{redact_url, SourceSpec};
use custos_site::camera::{
    parse_transport, shown, transport_name, AnalysisSettings, CameraSettings, RegionSettings,
    DEFAULT_SEGMENT_SECONDS,
};
use custos_site::settings::{
    FileChange, HoursSettings, ProbeFuture, ProbeRequest, SettingsError, SiteSettings,
};
use sha2::{Digest, Sha256};
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

use crate::config;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The configuration file as the settings API sees it.
pub struct FileSettings {
    path: PathBuf,
    /// One change at a time: each reads, edits and replaces the whole file.
    writing: Mutex<()>,
    /// Woken by [`SiteSettings::apply`]; `serve` waits on it.
    reload: Arc<tokio::sync::Notify>,
}

impl FileSettings {
    pub fn new(path: &Path) -> Self {
        FileSettings {
            path: path.to_owned(),
            writing: Mutex::new(()),
            reload: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Completes when a change asks for the pipeline to restart.
    pub fn reload_requested(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.reload)
    }

    fn read(&self) -> Result<String, SettingsError> {
        std::fs::read_to_string(&self.path)
            .map_err(|e| SettingsError::Io(format!("reading {}: {e}", self.path.display())))
    }

    fn parse(&self, text: &str) -> Result<config::Config, SettingsError> {
        config::parse(text, &self.path.display().to_string())
            .map_err(|e| SettingsError::Invalid(e.to_string()))
    }

    /// Applies `edit` to the file's document, checks the result and
    /// replaces the file with it.
    fn change(
        &self,
        edit: impl FnOnce(&mut DocumentMut, &config::Config) -> Result<(), SettingsError>,
    ) -> Result<FileChange, SettingsError> {
        let _one_at_a_time = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.read()?;
        let current = self.parse(&old)?;
        let mut doc: DocumentMut = old
            .parse()
            .map_err(|e| SettingsError::Invalid(format!("{}: {e}", self.path.display())))?;
        edit(&mut doc, &current)?;
        let new = doc.to_string();
        // The same checks as at start: a change that would stop the next
        // start is refused here, with every problem named.
        self.parse(&new)?;
        write_atomically(&self.path, new.as_bytes())
            .map_err(|e| SettingsError::Io(format!("writing {}: {e}", self.path.display())))?;
        Ok(FileChange {
            old_sha256: hex::encode(Sha256::digest(old.as_bytes())),
            new_sha256: hex::encode(Sha256::digest(new.as_bytes())),
        })
    }
}

impl SiteSettings for FileSettings {
    fn cameras(&self) -> Result<Vec<CameraSettings>, SettingsError> {
        let config = self.parse(&self.read()?)?;
        Ok(config
            .cameras
            .iter()
            .map(|c| c.settings.redacted())
            .collect())
    }

    fn put_camera(&self, camera: &CameraSettings) -> Result<FileChange, SettingsError> {
        self.change(|doc, current| {
            let existing = current.cameras.iter().find(|c| c.settings.id == camera.id);
            // A URL sent back as it was shown keeps the password the file
            // has; any other URL must not carry one.
            let url = match existing {
                Some(c) if camera.url == shown(&c.settings.url) => c.settings.url.clone(),
                _ => {
                    if url::Url::parse(&camera.url).is_ok_and(|u| u.password().is_some()) {
                        return Err(SettingsError::Invalid(
                            "url: put the camera's password in an environment variable and \
                             name it in password_env, not in the URL"
                                .into(),
                        ));
                    }
                    camera.url.clone()
                }
            };
            let cameras = doc
                .entry("camera")
                .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
                .as_array_of_tables_mut()
                .ok_or_else(|| {
                    SettingsError::Invalid("camera: expected [[camera]] tables".into())
                })?;
            let position = cameras
                .iter()
                .position(|t| t.get("id").and_then(Item::as_str) == Some(camera.id.as_str()));
            let table = match position {
                Some(i) => cameras
                    .get_mut(i)
                    .ok_or_else(|| SettingsError::NotFound(format!("camera {:?}", camera.id)))?,
                None => {
                    let mut t = Table::new();
                    t.insert("id", value(camera.id.clone()));
                    cameras.push(t);
                    let last = cameras.len() - 1;
                    cameras
                        .get_mut(last)
                        .ok_or_else(|| SettingsError::Io("adding the camera table".into()))?
                }
            };
            write_camera(table, camera, url);
            Ok(())
        })
    }

    fn hours(&self) -> Result<HoursSettings, SettingsError> {
        let text = self.read()?;
        let doc: DocumentMut = text
            .parse()
            .map_err(|e| SettingsError::Invalid(format!("{}: {e}", self.path.display())))?;
        let Some(table) = doc.get("hours").and_then(Item::as_table_like) else {
            return Ok(HoursSettings::default());
        };
        let text_of = |key: &str| table.get(key).and_then(Item::as_str).map(str::to_owned);
        let days: Vec<Option<String>> = WEEKDAYS.iter().map(|d| text_of(d)).collect();
        Ok(HoursSettings {
            time_zone: text_of("time_zone"),
            mon: days[0].clone(),
            tue: days[1].clone(),
            wed: days[2].clone(),
            thu: days[3].clone(),
            fri: days[4].clone(),
            sat: days[5].clone(),
            sun: days[6].clone(),
            closed: table
                .get("closed")
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    fn set_hours(&self, hours: &HoursSettings) -> Result<FileChange, SettingsError> {
        self.change(|doc, _| {
            let Some(tz) = &hours.time_zone else {
                doc.remove("hours");
                return Ok(());
            };
            let table = doc
                .entry("hours")
                .or_insert(Item::Table(Table::new()))
                .as_table_mut()
                .ok_or_else(|| SettingsError::Invalid("hours: expected an [hours] table".into()))?;
            table.insert("time_zone", value(tz.clone()));
            let days = [
                &hours.mon, &hours.tue, &hours.wed, &hours.thu, &hours.fri, &hours.sat, &hours.sun,
            ];
            for (day, hours) in WEEKDAYS.iter().zip(days) {
                match hours.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
                    Some(h) => {
                        table.insert(day, value(h));
                    }
                    None => {
                        table.remove(day);
                    }
                }
            }
            if hours.closed.is_empty() {
                table.remove("closed");
            } else {
                let closed: Array = hours.closed.iter().map(|d| d.trim()).collect();
                table.insert("closed", value(closed));
            }
            Ok(())
        })
    }

    fn probe(&self, request: ProbeRequest) -> ProbeFuture {
        Box::pin(async move {
            let url = url::Url::parse(&request.url)
                .map_err(|e| SettingsError::Probe(format!("url: {e}")))?;
            let transport = parse_transport(&request.transport).unwrap_or_default();
            let credentials = match (request.username, request.password) {
                (Some(u), Some(p)) => Some((u, p)),
                (Some(u), None) => Some((u, String::new())),
                _ => None,
            };
            let pin = match request
                .tls_fingerprint
                .as_deref()
                .filter(|t| !t.trim().is_empty())
            {
                Some(text) => Some(
                    custos_media::tls_pin::Fingerprint::parse(text)
                        .map_err(|e| SettingsError::Probe(format!("tls_fingerprint: {e}")))?,
                ),
                None => None,
            };
            let spec = SourceSpec {
                url,
                transport,
                credentials,
                tls_fingerprint: pin,
            };
            crate::probe::probe(&spec)
                .await
                .map_err(|e| SettingsError::Probe(format!("{}: {e}", redact_url(&spec.url))))
        })
    }

    fn apply(&self) {
        // `notify_one` keeps the wake-up if serve is not waiting yet.
        self.reload.notify_one();
    }
}

/// A float as TOML shows it: the shortest text of the `f32` ("0.002",
/// not "0.0020000000949949026").
fn float(x: f32) -> Item {
    value(x.to_string().parse::<f64>().unwrap_or(f64::from(x)))
}

/// Sets `key`, or removes it when `v` is `None` (the default applies). A
/// value replacing another keeps its comment and spacing.
fn set(table: &mut Table, key: &str, v: Option<Item>) {
    match v {
        Some(mut item) => {
            if let (Some(old), Some(new)) =
                (table.get(key).and_then(Item::as_value), item.as_value_mut())
            {
                *new.decor_mut() = old.decor().clone();
            }
            table.insert(key, item);
        }
        None => {
            table.remove(key);
        }
    }
}

/// Writes the camera's keys into its table, leaving out those at their
/// defaults and keeping the table's comments.
fn write_camera(table: &mut Table, c: &CameraSettings, url: String) {
    let d = AnalysisSettings::default();
    let a = &c.analysis;
    set(table, "name", Some(value(c.name.clone())));
    set(table, "url", Some(value(url)));
    set(table, "analysis_url", c.analysis_url.clone().map(value));
    set(
        table,
        "transport",
        (c.transport != transport_name(Default::default())).then(|| value(c.transport.clone())),
    );
    set(table, "username", c.username.clone().map(value));
    set(table, "password_env", c.password_env.clone().map(value));
    set(
        table,
        "segment_seconds",
        (c.segment_seconds != DEFAULT_SEGMENT_SECONDS).then(|| value(i64::from(c.segment_seconds))),
    );
    set(
        table,
        "retain_days",
        c.retain_days.map(|v| value(i64::from(v))),
    );
    set(
        table,
        "retain_bytes",
        c.retain_bytes
            .map(|v| value(i64::try_from(v).unwrap_or(i64::MAX))),
    );
    set(table, "enabled", (!c.enabled).then(|| value(false)));
    set(table, "analysis", (!a.enabled).then(|| value(false)));
    set(
        table,
        "analysis_fps",
        (a.fps != d.fps).then(|| value(i64::from(a.fps))),
    );
    set(
        table,
        "motion_sensitivity",
        (a.sensitivity != d.sensitivity).then(|| float(a.sensitivity)),
    );
    set(
        table,
        "motion_min_area",
        (a.min_area != d.min_area).then(|| float(a.min_area)),
    );
    set(
        table,
        "motion_merge_seconds",
        (a.merge_seconds != d.merge_seconds).then(|| value(i64::from(a.merge_seconds))),
    );
    set(table, "tamper", (!a.tamper).then(|| value(false)));
    set(table, "zone", regions(&a.zones, true));
    set(table, "mask", regions(&a.masks, false));
}

fn regions(list: &[RegionSettings], named: bool) -> Option<Item> {
    if list.is_empty() {
        return None;
    }
    let mut tables = ArrayOfTables::new();
    for r in list {
        let mut t = Table::new();
        if named || !r.name.is_empty() {
            t.insert("name", value(r.name.clone()));
        }
        let mut points = Array::new();
        for [x, y] in &r.points {
            let mut p = Array::new();
            for v in [x, y] {
                // Four decimals: a tenth of a pixel on a 4K picture.
                p.push(((f64::from(*v)) * 10_000.0).round() / 10_000.0);
            }
            points.push(p);
        }
        t.insert("points", value(points));
        tables.push(t);
    }
    Some(Item::ArrayOfTables(tables))
}

/// Replaces `path` with `bytes` so a crash leaves the old file or the new
/// one, never half of either.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let tmp = dir.join(format!(".{name}.saving"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    // The file may be read by others (a config manager); keep its mode.
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })?
    .sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# The reading-room site.
data_dir = "data"

# Cameras in the order of the corridor.
[[camera]]
id = "stacks"
name = "Stacks"
url = "rtsp://viewer:s3cret@10.0.0.5/main"  # the main stream
segment_seconds = 10

[[camera]]
id = "door"
url = "rtsp://10.0.0.6/main"
"#;

    fn settings(text: &str) -> (tempfile::TempDir, FileSettings) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("custos.toml");
        std::fs::write(&path, text).expect("write");
        let s = FileSettings::new(&path);
        (dir, s)
    }

    #[test]
    fn a_camera_is_shown_without_its_password_and_saved_keeping_it_and_the_comments() {
        let (_dir, s) = settings(FILE);
        let cams = s.cameras().expect("cameras");
        assert_eq!(cams.len(), 2);
        assert_eq!(cams[0].url, "rtsp://viewer:***@10.0.0.5/main");
        let mut stacks = cams[0].clone();
        stacks.name = "Stacks room".into();
        stacks.analysis.zones.push(RegionSettings {
            name: "table".into(),
            points: vec![[0.1, 0.5], [0.6, 0.5], [0.6, 1.0]],
        });
        stacks.analysis.sensitivity = 0.7;
        let change = s.put_camera(&stacks).expect("saved");
        assert_ne!(change.old_sha256, change.new_sha256);
        let text = std::fs::read_to_string(&s.path).expect("read");
        assert!(text.contains("s3cret"), "the password is kept:\n{text}");
        assert!(
            text.contains("# Cameras in the order of the corridor."),
            "{text}"
        );
        assert!(text.contains("# the main stream"), "{text}");
        assert!(text.contains("motion_sensitivity = 0.7\n"), "{text}");
        let again = s.cameras().expect("cameras");
        assert_eq!(again[0].name, "Stacks room");
        assert_eq!(again[0].analysis.zones, stacks.analysis.zones);
        assert_eq!(again[0].segment_seconds, 10);
        assert_eq!(again[1].id, "door", "the other camera is untouched");
    }

    #[test]
    fn a_new_camera_is_added_and_an_invalid_one_refused_with_the_file_unchanged() {
        let (_dir, s) = settings(FILE);
        let mut hall = s.cameras().expect("cameras")[1].clone();
        hall.id = "hall".into();
        hall.url = "rtsp://10.0.0.7/main".into();
        hall.password_env = Some("HALL_PASSWORD".into());
        hall.username = Some("admin".into());
        s.put_camera(&hall).expect("added");
        assert_eq!(s.cameras().expect("cameras").len(), 3);

        let before = std::fs::read_to_string(&s.path).expect("read");
        let mut bad = hall.clone();
        bad.analysis.fps = 0;
        bad.analysis.zones.push(RegionSettings {
            name: "x".into(),
            points: vec![[0.1, 0.1], [2.0, 0.1]],
        });
        let err = s.put_camera(&bad).expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("analysis_fps"), "{text}");
        assert!(text.contains("points"), "{text}");
        let mut leaky = hall.clone();
        leaky.url = "rtsp://admin:pw@10.0.0.7/main".into();
        let err = s.put_camera(&leaky).expect_err("password in the URL");
        assert!(err.to_string().contains("password_env"), "{err}");
        assert_eq!(std::fs::read_to_string(&s.path).expect("read"), before);
    }

    #[test]
    fn opening_hours_are_set_read_and_removed() {
        let (_dir, s) = settings(FILE);
        assert_eq!(s.hours().expect("hours"), HoursSettings::default());
        let hours = HoursSettings {
            time_zone: Some("Europe/Berlin".into()),
            mon: Some("08:00-17:00".into()),
            sat: Some("closed".into()),
            closed: vec!["2026-12-25".into()],
            ..Default::default()
        };
        s.set_hours(&hours).expect("saved");
        assert_eq!(s.hours().expect("hours"), hours);
        let bad = HoursSettings {
            time_zone: Some("Mars/Olympus".into()),
            ..Default::default()
        };
        let err = s.set_hours(&bad).expect_err("bad zone");
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
        s.set_hours(&HoursSettings::default()).expect("removed");
        assert!(!std::fs::read_to_string(&s.path)
            .expect("read")
            .contains("[hours]"));
    }
}
