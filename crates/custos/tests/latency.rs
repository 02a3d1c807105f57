//! Camera-to-glass latency of the live view in a real browser: a stamp
//! camera (tests/support/rtsp_camera.py paints each picture's capture time
//! into it), a site recording it, and Debian's chromium reading the stamp of
//! every frame it shows (tests/web/latency.mjs). The issue asks for live
//! view at most 2 s behind the camera; the script fails when the p95 is
//! over that. Figures: docs/benchmarks.md, "Live view: camera to glass".

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Camera, Site};

/// Frames measured after the warm-up (10 s at 15 fps).
const FRAMES: usize = 150;

#[test]
fn live_view_camera_to_glass_latency_in_chromium() {
    let t0 = Instant::now();
    let web = common::browser_tests();
    // A realistic sub stream: 640×360 at 15 fps, a key frame every second.
    let cam = Camera::start(&[("/stamp", "stamp-h264:640x360@15:15:800")], None);
    let site = Site::new(&format!(
        "[[camera]]\nid = \"door\"\nname = \"Door\"\nurl = \"{}\"\nanalysis = false\n",
        cam.url("/stamp")
    ));
    let token = site.admin_token();
    let mut serve = site.serve();
    site.wait_json(
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
        .env("CAMERA", "door")
        .env("FRAMES", FRAMES.to_string())
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    println!("{report}");
    assert!(
        out.status.success(),
        "latency measurement failed:\n{report}\nlog:\n{}",
        site.log()
    );
    let figures: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON figures in the output:\n{report}"));
    let ms = |k: &str| {
        figures[k]
            .as_i64()
            .unwrap_or_else(|| panic!("{k}: {figures}"))
    };
    assert!(
        figures["decoded"].as_u64() >= Some(FRAMES as u64),
        "{figures}"
    );
    assert!(
        ms("min_ms") > 0,
        "a frame shown before it was made: {figures}"
    );
    assert!(ms("p95_ms") <= 2000, "{figures}");
    println!(
        "camera to glass over {} frames: median {} ms, p95 {} ms, max {} ms; \
         median to the server sending it {} ms, to the browser receiving it {} ms \
         (test took {:.1} s)",
        figures["decoded"],
        ms("median_ms"),
        ms("p95_ms"),
        ms("max_ms"),
        ms("sent_median_ms"),
        ms("arrived_median_ms"),
        t0.elapsed().as_secs_f64()
    );

    assert!(serve
        .terminate(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
}

/// With B-frames the live view's fragments arrive in decode order; Chromium
/// must show the pictures in the camera's order (the composition offsets
/// in each fragment say where each goes). A count camera (each picture
/// carries its number) with a B-pyramid, read back from every frame the
/// browser presents.
#[test]
fn live_view_shows_b_frame_pictures_in_the_cameras_order_in_chromium() {
    let web = common::browser_tests();
    let cam = Camera::start(
        &[("/count", "count-h264:640x360@15:15,bframes=3,pyramid=1")],
        None,
    );
    let site = Site::new(&format!(
        "[[camera]]\nid = \"hall\"\nname = \"Hall\"\nurl = \"{}\"\nanalysis = false\n",
        cam.url("/count")
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
    assert_eq!(cameras["cameras"][0]["recording"]["reorder_depth"], 2);

    let out = Command::new("node")
        .arg(web.join("latency.mjs"))
        .current_dir(&web)
        .env("CUSTOS_URL", site.base_url())
        .env("ADMIN_USER", "admin")
        .env("ADMIN_PASSWORD", "a long test password")
        .env("CAMERA", "hall")
        .env("FRAMES", FRAMES.to_string())
        .env("MODE", "order")
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    println!("{report}");
    assert!(
        out.status.success(),
        "the browser did not show the pictures in order:\n{report}\nlog:\n{}",
        site.log()
    );
    let figures: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON figures in the output:\n{report}"));
    assert_eq!(figures["backwards"], 0, "{figures}");
    assert_eq!(figures["repeated"], 0, "{figures}");
    // Nearly every step is to the next picture: a B-frame missing from the
    // fragments would show as a skip at every GOP.
    let consecutive = figures["consecutive"].as_u64().unwrap_or(0);
    assert!(
        consecutive * 10 >= (FRAMES as u64 - 1) * 9,
        "too many pictures skipped: {figures}"
    );
    assert!(serve
        .terminate(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
}
