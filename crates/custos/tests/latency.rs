//! Camera-to-glass latency of the live view in a real browser: a stamp
//! camera (tests/support/rtsp_camera.py paints each picture's capture time
//! into it), a site recording it, and Debian's chromium reading the stamp of
//! every frame it shows (tests/web/latency.mjs). The issue asks for live
//! view at most 2 s behind the camera; the script fails when the p95 is
//! over that. Figures: docs/benchmarks.md, "Live view: camera to glass".
//! The same harness checks that the live view plays on after the camera
//! stalls or the browser pauses it, and shows B-frame pictures in order.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Camera, Site};

/// Frames measured after the warm-up (10 s at 15 fps).
const FRAMES: usize = 150;

/// One live view measured in Chromium: a camera serving `spec`, a site
/// recording it as `id`, and tests/web/latency.mjs in `mode`.
struct LiveRun {
    /// The script's figures (its last line).
    figures: serde_json::Value,
    /// The camera as `GET /api/v1/cameras` showed it once recording.
    camera: serde_json::Value,
}

fn watch_live(id: &str, spec: &str, mode: &str, env: &[(&str, &str)]) -> LiveRun {
    let web = common::browser_tests();
    let cam = Camera::start(&[("/cam", spec)], None);
    let site = Site::new(&format!(
        "[[camera]]\nid = \"{id}\"\nname = \"Camera {id}\"\nurl = \"{}\"\nanalysis = false\n",
        cam.url("/cam")
    ));
    let token = site.admin_token();
    let mut serve = site.serve();
    let cameras = site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(15),
        "recording",
        |v| v["cameras"][0]["state"] == "recording",
    );
    let out = Command::new("node")
        .arg(web.join("latency.mjs"))
        .current_dir(&web)
        .env("CUSTOS_URL", site.base_url())
        .env("ADMIN_USER", "admin")
        .env("ADMIN_PASSWORD", "a long test password")
        .env("CAMERA", id)
        .env("FRAMES", FRAMES.to_string())
        .env("MODE", mode)
        .envs(env.iter().copied())
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    println!("{report}");
    assert!(
        out.status.success(),
        "the live view failed in the browser:\n{report}\nlog:\n{}",
        site.log()
    );
    let figures: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON figures in the output:\n{report}"));
    assert!(serve
        .terminate(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    LiveRun {
        figures,
        camera: cameras["cameras"][0].clone(),
    }
}

fn ms(figures: &serde_json::Value, key: &str) -> i64 {
    figures[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key}: {figures}"))
}

#[test]
fn live_view_camera_to_glass_latency_in_chromium() {
    let t0 = Instant::now();
    // A realistic sub stream: 640×360 at 15 fps, a key frame every second.
    let figures = watch_live("door", "stamp-h264:640x360@15:15:800", "latency", &[]).figures;
    assert!(
        figures["decoded"].as_u64() >= Some(FRAMES as u64),
        "{figures}"
    );
    assert!(
        ms(&figures, "min_ms") > 0,
        "a frame shown before it was made: {figures}"
    );
    assert!(ms(&figures, "p95_ms") <= 2000, "{figures}");
    println!(
        "camera to glass over {} frames: median {} ms, p95 {} ms, max {} ms; \
         median to the server sending it {} ms, to the browser receiving it {} ms \
         (test took {:.1} s)",
        figures["decoded"],
        ms(&figures, "median_ms"),
        ms(&figures, "p95_ms"),
        ms(&figures, "max_ms"),
        ms(&figures, "sent_median_ms"),
        ms(&figures, "arrived_median_ms"),
        t0.elapsed().as_secs_f64()
    );
}

/// A camera that stops sending for three seconds (a stalled link or a busy
/// encoder) while it is watched, and a browser that pauses the video (as
/// power saving may): the live view must go on playing, close to live.
#[test]
fn live_view_goes_on_after_the_camera_stalls_or_the_browser_pauses_it() {
    // The camera stalls 12 s after its first picture (the site connects
    // first, the browser's measurement starts a few seconds later); the
    // browser pauses the video 3 s into the measurement.
    let figures = watch_live(
        "stalls",
        "stamp-h264:640x360@15:15:800,stall=12:3",
        "latency",
        &[("PAUSE_AT_MS", "3000")],
    )
    .figures;
    assert!(
        figures["decoded"].as_u64() >= Some(FRAMES as u64),
        "{figures}"
    );
    assert_eq!(figures["state"]["paused"], false, "{figures}");
    let events = figures["state"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        events.iter().any(|e| e["type"] == "pause"),
        "the video was paused: {figures}"
    );
    // The stall shows as one long step between the stamps of two frames
    // shown one after the other.
    assert!(ms(&figures, "stamp_step_max_ms") >= 2500, "{figures}");
    assert!(ms(&figures, "p95_ms") <= 2000, "{figures}");
}

/// With B-frames the live view's fragments arrive in decode order; Chromium
/// must show the pictures in the camera's order (the composition offsets
/// in each fragment say where each goes). A count camera (each picture
/// carries its number) with a B-pyramid, read back from every frame the
/// browser presents.
#[test]
fn live_view_shows_b_frame_pictures_in_the_cameras_order_in_chromium() {
    let run = watch_live(
        "hall",
        "count-h264:640x360@15:15,bframes=3,pyramid=1",
        "order",
        &[],
    );
    assert_eq!(run.camera["recording"]["reorder_depth"], 2);
    let figures = run.figures;
    assert_eq!(figures["backwards"], 0, "{figures}");
    assert_eq!(figures["repeated"], 0, "{figures}");
    // Nearly every step is to the next picture: a B-frame missing from the
    // fragments would show as a skip at every GOP.
    let consecutive = figures["consecutive"].as_u64().unwrap_or(0);
    assert!(
        consecutive * 10 >= (FRAMES as u64 - 1) * 9,
        "too many pictures skipped: {figures}"
    );
}
