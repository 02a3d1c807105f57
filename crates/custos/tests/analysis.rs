//! End to end: `custos analyze` over real footage with tampering applied by
//! ffmpeg at known times, and live analysis in `custos serve` of a camera
//! (gst-rtsp-server) whose lens gets covered: the event, its snapshot and
//! its log entries.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// Encodes the first `seconds` of vtest.avi with `filter` applied into an
/// H.264 MP4 (GOP 10, no B-frames, as cameras send).
fn clip(dir: &Path, name: &str, seconds: u32, filter: &str) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(test_data("vtest.avi"))
        .args(["-t", &seconds.to_string(), "-vf", filter])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "10",
            "-bf",
            "0",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg failed for {filter}");
    out
}

fn analyze(file: &Path) -> (Vec<serde_json::Value>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .arg("analyze")
        .arg(file)
        .arg("--json")
        .output()
        .expect("run custos analyze");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let summary = lines.pop().expect("a summary line");
    assert!(summary.get("summary").is_some(), "{summary}");
    (lines, summary)
}

#[test]
fn analyze_reports_a_covered_lens_with_its_times_and_nothing_on_clean_footage() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The lens covered by a black card from 20 s to 32 s.
    let covered = clip(
        dir.path(),
        "covered.mp4",
        45,
        "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,20,32)'",
    );
    let (events, summary) = analyze(&covered);
    assert_eq!(summary["summary"]["frames"], 450, "{summary}");
    let seconds = summary["summary"]["seconds"].as_f64().expect("seconds");
    assert!((44.8..=45.0).contains(&seconds), "{summary}");
    let tamper: Vec<_> = events
        .iter()
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("tamper.")))
        .collect();
    assert_eq!(tamper.len(), 1, "{events:#?}");
    assert_eq!(tamper[0]["kind"], "tamper.covered");
    let start = tamper[0]["start_s"].as_f64().expect("start_s");
    let end = tamper[0]["end_s"].as_f64().expect("end_s");
    assert!((20.0..=25.0).contains(&start), "onset {start}");
    assert!((32.0..=37.0).contains(&end), "end {end}");
    // People walk through the hall: motion, as separate merged events.
    assert!(events.iter().any(|e| e["kind"] == "motion"), "{events:#?}");

    let clean = clip(dir.path(), "clean.mp4", 45, "null");
    let (events, _) = analyze(&clean);
    let tamper: Vec<_> = events.iter().filter(|e| e["kind"] != "motion").collect();
    assert!(
        tamper.is_empty(),
        "false alarm on clean footage: {tamper:#?}"
    );
}

#[test]
fn analyze_names_a_file_it_cannot_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.mkv");
    std::fs::write(&junk, b"not a video").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .arg("analyze")
        .arg(&junk)
        .arg("--json")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("junk.mkv"), "{err}");
}

#[test]
fn live_analysis_records_a_covered_camera_with_snapshot_and_log_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A camera that plays 30 s of the hall, its lens covered from 10 s to 20 s.
    let clip = clip(
        dir.path(),
        "live.mp4",
        30,
        "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,10,20)'",
    );
    let cam = Camera::start(&[("/cam", &format!("file:{}", clip.display()))], None);
    let site = Site::new(&format!(
        "[[camera]]\nid = \"hall\"\nurl = \"{}\"\nsegment_seconds = 5\n",
        cam.url("/cam")
    ));
    let token = site.admin_token();
    let mut serve = site.serve();
    let covered = site.wait_json(
        &token,
        "/api/v1/events?kind=tamper.covered",
        Duration::from_secs(40),
        "a tamper.covered event that ended",
        |v| v["events"][0]["end_ms"].is_i64(),
    );
    let event = &covered["events"][0];
    let duration =
        event["end_ms"].as_i64().expect("end") - event["start_ms"].as_i64().expect("start");
    assert!((6_000..=15_000).contains(&duration), "{event}");
    // The camera's state said so while it lasted is not checked here (it
    // is brief); the snapshot is a JPEG of the covered picture.
    let snapshot = event["snapshot"].as_str().expect("a snapshot");
    let mut jpeg = Vec::new();
    use std::io::Read;
    ureq::get(&format!("{}{snapshot}", site.base_url()))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("snapshot")
        .into_reader()
        .read_to_end(&mut jpeg)
        .expect("read");
    let path = dir.path().join("snap.jpg");
    std::fs::write(&path, &jpeg).expect("write");
    let probe = ffprobe(&path);
    assert_eq!(probe["streams"][0]["codec_name"], "mjpeg", "{probe}");
    // The camera's status carries the analysis counters: pictures analysed
    // at about 5 per second, none dropped on an idle machine.
    let cameras = site.get_json(&token, "/api/v1/cameras");
    let analysis = &cameras["cameras"][0]["analysis"];
    assert!(
        analysis["frames_analysed"].as_u64().unwrap_or(0) >= 30,
        "{cameras}"
    );
    assert!(analysis["error"].is_null(), "{cameras}");
    assert!(
        serve
            .terminate(Duration::from_secs(10))
            .is_some_and(|s| s.success()),
        "{}",
        site.log()
    );
    // The start and the end of the event are in the site's log.
    let log = custos_ledger::storage::LogStorage::open_read_only(&site.data_dir().join("log"))
        .expect("log");
    let mut kinds = Vec::new();
    for i in 0..log.size() {
        let v: serde_json::Value =
            serde_json::from_slice(&log.entry(i).expect("entry")).expect("json");
        if v["kind"] == "tamper.covered" {
            kinds.push(v["type"].as_str().unwrap_or("").to_owned());
        }
    }
    assert_eq!(
        kinds,
        ["analysis.started", "analysis.event"],
        "{}",
        site.log()
    );
}

/// The process id of `parent`'s `custos-av` child, if it has one.
fn helper_of(parent: u32) -> Option<u32> {
    let out = Command::new("pgrep")
        .args(["-P", &parent.to_string(), "-x", "custos-av"])
        .output()
        .expect("run pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
}

#[test]
fn live_analysis_carries_on_when_the_decoding_helper_dies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = clip(dir.path(), "hall.mp4", 30, "null");
    let cam = Camera::start(&[("/cam", &format!("file:{}", clip.display()))], None);
    let site = Site::new(&format!(
        "[[camera]]\nid = \"hall\"\nurl = \"{}\"\nsegment_seconds = 5\n",
        cam.url("/cam")
    ));
    let token = site.admin_token();
    let mut serve = site.serve();
    let analysed = |v: &serde_json::Value| v["cameras"][0]["analysis"]["frames_analysed"].as_u64();
    let before = site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(30),
        "pictures analysed",
        |v| analysed(v).unwrap_or(0) >= 10,
    );
    let first = helper_of(serve.child.id()).expect("custos serve runs a custos-av helper");
    let status = Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let at_kill = analysed(&before).unwrap_or(0);
    // Analysis goes on, in a new helper, from the camera's next key frame.
    let after = site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(30),
        "pictures analysed after the helper died",
        |v| analysed(v).unwrap_or(0) >= at_kill + 40,
    );
    assert!(
        after["cameras"][0]["analysis"]["error"].is_null(),
        "{after}"
    );
    let second = helper_of(serve.child.id()).expect("a new helper");
    assert_ne!(first, second);
    // Recording did not notice.
    assert_eq!(after["cameras"][0]["state"], "recording", "{after}");
    assert!(
        serve
            .terminate(Duration::from_secs(10))
            .is_some_and(|s| s.success()),
        "{}",
        site.log()
    );
    let log = site.log();
    assert!(log.contains("the decoding helper stopped"), "{log}");
    assert!(log.contains("analysis lost its decoder"), "{log}");
}
