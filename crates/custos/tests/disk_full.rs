//! A full disk, for real: the site's data directory on a 32 MiB tmpfs,
//! filled while a camera records.
//!
//! - Filled by something that is not footage: recording fails, says why
//!   (per camera, in the API) and logs the pictures it loses; no empty
//!   segment files pile up; a clean stop seals what was recorded and the
//!   site passes its own verify; a site restarted on the completely full
//!   disk starts, names the cause of what it cannot do, and verifies.
//! - Filled by footage: the oldest footage makes room and recording goes on.
//!
//! Mounting needs root (CI runs as root); elsewhere the test says so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const DISK_MB: u64 = 32;

/// A tmpfs mounted at a directory, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mount point");
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let mut cmd = if root {
            Command::new("mount")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "mount"]);
            c
        };
        let out = cmd
            .args(["-t", "tmpfs", "-o", &format!("size={DISK_MB}m"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a {DISK_MB} MiB tmpfs and needs root or passwordless sudo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    custos_media::segment::available_bytes(dir).expect("statvfs")
}

/// Writes a file of `bytes` (allocated) as the "something else" filling
/// the disk.
fn filler(path: &Path, bytes: u64) {
    let out = Command::new("fallocate")
        .args(["-l", &bytes.to_string()])
        .arg(path)
        .output()
        .expect("run fallocate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A site whose retention may delete footage to make room, or not.
fn camera_toml(url: &str, delete_oldest_when_full: bool) -> String {
    format!(
        "[[camera]]\nid = \"vault\"\nurl = \"{url}\"\nsegment_seconds = 2\nanalysis = false\n\
         [alerts]\ncheck_seconds = 1\ndisk_full_percent = 50\n[retention]\ncheck_seconds = 1\n\
         delete_oldest_when_full = {delete_oldest_when_full}\n"
    )
}

/// About 2 MB/s: the disk's last MBs go in seconds.
const FAST_CAMERA: &str = "live-h264:1280x720@15:15:16000";

fn camera(site: &Site, token: &str) -> serde_json::Value {
    site.get_json(token, "/api/v1/cameras")["cameras"][0].clone()
}

fn verify(site: &Site) -> (bool, String) {
    let out = site
        .custos(&["verify", "--config", &site.config.to_string_lossy()])
        .output()
        .expect("run verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn empty_mp4s(data: &Path) -> Vec<PathBuf> {
    video_files(data)
        .into_iter()
        .filter(|f| {
            f.extension().is_some_and(|e| e == "mp4")
                && std::fs::metadata(f).map(|m| m.len()).unwrap_or(0) < 2048
        })
        .collect()
}

#[test]
fn a_disk_filled_by_something_else_fails_loudly_loses_nothing_recorded_and_recovers() {
    // An archive whose footage may only go by its retention rules: nothing
    // is deleted to make room.
    let cam = Camera::start(&[("/cam", FAST_CAMERA)], None);
    let site = Site::new(&camera_toml(&cam.url("/cam"), false));
    let data = site.data_dir();
    let _disk = Tmpfs::mount(&data);
    let token = site.admin_token();
    let mut serve = site.serve();
    site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(20),
        "recording",
        |v| v["cameras"][0]["state"] == "recording",
    );
    // Something else takes the disk but for 14 MB (the reserve is 8 MB).
    filler(&data.join("other-data.bin"), free_bytes(&data) - (14 << 20));

    // Recording reaches the reserve and fails, saying why.
    let failing = site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(60),
        "recording failing",
        |v| v["cameras"][0]["recording_error"].is_string(),
    );
    let error = failing["cameras"][0]["recording_error"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(error.contains("the disk is full"), "{error}");
    // Time for losses to pile up, alerts to be raised and key frames to be
    // tried against the full disk.
    std::thread::sleep(Duration::from_secs(6));
    let c = camera(&site, &token);
    assert!(
        c["recording"]["pictures_dropped"]["write_error"].as_u64() > Some(15),
        "pictures lost to the full disk are counted: {c}"
    );
    assert!(
        empty_mp4s(&data).is_empty(),
        "no empty segment files: {:?}",
        empty_mp4s(&data)
    );
    let alerts = site.get_json(&token, "/api/v1/alerts?state=unresolved&limit=50");
    let kinds: Vec<&str> = alerts["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"recording.loss"), "{alerts}");
    // The disk alert, raised at 56 % (the filler), says how full it is now.
    let disk = alerts["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["kind"] == "disk.nearly_full")
        .unwrap_or_else(|| panic!("no disk alert: {alerts}"));
    let usage = custos_site::storage::disk_usage(&data).expect("statvfs");
    let shown = disk["details"]["used_percent"].as_f64().unwrap_or(0.0);
    assert!(
        (shown - usage.used_percent).abs() <= 3.0,
        "the alert says {shown} %, the disk is {:.1} % full: {disk}",
        usage.used_percent
    );
    assert!(
        disk["summary"]
            .as_str()
            .is_some_and(|s| s.contains("the data disk is full")),
        "{disk}"
    );
    // A verify while it runs finds nothing wrong (young files are being
    // written, not unknown).
    let (ok, text) = verify(&site);
    assert!(ok, "verify on the running site: {text}");

    // A clean stop seals what was recorded; the site passes its own verify.
    let status = serve.terminate(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "clean stop:\n{}",
        site.log()
    );
    let segments = site.segments();
    assert!(!segments.is_empty());
    assert!(segments.iter().all(|s| s.state == "sealed"), "{segments:?}");
    for s in &segments {
        let errors = ffmpeg_decode_errors(&data.join(&s.path));
        assert!(errors.is_empty(), "{}: {errors}", s.path);
    }
    let (ok, text) = verify(&site);
    assert!(ok, "verify after a clean stop on a full disk: {text}");
    // The log says which pictures were lost, and why.
    let log = std::fs::read_to_string(site.dir.path().join("serve.log")).unwrap_or_default();
    assert!(log.contains("recording failed"), "{log}");

    // Now the disk is completely full (the ballast aside, which is ours).
    let _ = std::fs::remove_file(data.join("other-data.bin.2"));
    let left = free_bytes(&data);
    if left > 0 {
        filler(&data.join("other-data.bin.2"), left);
    }
    assert!(free_bytes(&data) < 1 << 20, "the disk is full");
    // A site restarted on it starts (the ballast gives the index room).
    let mut serve = site.serve();
    let c = site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(30),
        "recording failing again",
        |v| v["cameras"][0]["recording_error"].is_string(),
    );
    assert!(
        c["cameras"][0]["recording_error"]
            .as_str()
            .is_some_and(|e| e.contains("the disk is full")),
        "{c}"
    );
    let status = serve.terminate(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "clean stop:\n{}",
        site.log()
    );
    let (ok, text) = verify(&site);
    assert!(ok, "verify on a full disk: {text}");
    drop(cam);
}

#[test]
fn a_disk_filled_by_footage_makes_room_and_keeps_recording() {
    let cam = Camera::start(&[("/cam", FAST_CAMERA)], None);
    let site = Site::new(&camera_toml(&cam.url("/cam"), true));
    let data = site.data_dir();
    let _disk = Tmpfs::mount(&data);
    let token = site.admin_token();
    let mut serve = site.serve();
    // Record more than the disk holds.
    let t0 = Instant::now();
    let mut written = 0u64;
    while written < (DISK_MB + 4) << 20 {
        assert!(
            t0.elapsed() < Duration::from_secs(150),
            "only {written} bytes written in {:?}",
            t0.elapsed()
        );
        std::thread::sleep(Duration::from_secs(2));
        written = camera(&site, &token)["recording"]["bytes_written"]
            .as_u64()
            .unwrap_or(0);
    }
    let c = camera(&site, &token);
    assert_eq!(c["state"], "recording", "{c}");
    // Pictures may be lost while the room is made (a second or two at this
    // rate), never for good: recording is running now.
    assert!(c["recording_error"].is_null(), "{c}");
    let status = serve.terminate(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "clean stop:\n{}",
        site.log()
    );
    let deleted: Vec<SegmentRow> = site
        .segments()
        .into_iter()
        .filter(|s| s.state == "deleted")
        .collect();
    assert!(!deleted.is_empty(), "the oldest footage made room");
    let conn = rusqlite::Connection::open(data.join("custos.db")).expect("index");
    let reason: String = conn
        .query_row(
            "SELECT delete_reason FROM segments WHERE state = 'deleted' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("reason");
    assert!(reason.contains("the disk was full"), "{reason}");
    let (ok, text) = verify(&site);
    assert!(ok, "verify: {text}");
    drop(cam);
}
