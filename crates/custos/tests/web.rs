//! The web app in a real browser: Debian's chromium driven by
//! playwright-core (tests/web/ui.mjs) against a site recording a real RTSP
//! camera. Screenshots of each page are kept under
//! target/tmp/web-screenshots.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Camera, Site};
use serde_json::json;

#[test]
fn the_web_app_in_chromium() {
    // Missing browser tools fail here, before the site is set up.
    common::browser_tests();
    let cam = Camera::start(&[("/cam", "live-h264:320x240@10:10:300")], None);
    let site = Site::new(&format!(
        "[[camera]]\nid = \"stacks\"\nname = \"Stacks room\"\nurl = \"{}\"\nanalysis = false\nsegment_seconds = 4\n",
        cam.url("/cam")
    ));
    let token = site.admin_token();
    site.add_user("vera", "viewer", "viewer test password");

    let mut serve = site.serve();
    for (path, body) in [
        (
            "/api/v1/locations",
            json!({"code": "R1", "name": "Reading room", "coverage": [{"camera": "stacks"}]}),
        ),
        (
            "/api/v1/people",
            json!({"staff_id": "S1", "name": "Ada Reader"}),
        ),
        (
            "/api/v1/items",
            json!({"barcode": "BX1", "title": "Letters 1921", "home_location": "R1"}),
        ),
        (
            "/api/v1/items",
            json!({"barcode": "BX2", "title": "Maps of the harbour", "home_location": "R1"}),
        ),
    ] {
        let (status, v) = site.send_json(&token, "POST", path, body);
        assert_eq!(status, 201, "{path}: {v}");
    }
    site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(15),
        "recording",
        |v| v["cameras"][0]["state"] == "recording",
    );

    let base = site.base_url();
    let (passed, report) = common::browser_checks(
        "ui.mjs",
        &[
            ("CUSTOS_URL", base.as_str()),
            ("ADMIN_USER", "admin"),
            ("ADMIN_PASSWORD", "a long test password"),
            ("VIEWER_USER", "vera"),
            ("VIEWER_PASSWORD", "viewer test password"),
        ],
    );
    assert!(
        passed,
        "browser checks failed:\n{report}\nlog:\n{}",
        site.log()
    );
    let shots = common::screenshots_dir();
    for shot in [
        "dashboard",
        "register",
        "desk",
        "item",
        "alerts",
        "events",
        "dashboard-phone",
        "locations",
        "person",
        "settings-camera",
        "settings",
        "live",
        "playback",
        "audit",
        "inventories",
        "register-nothing-found",
        "sign-in-locked",
        "users-locked",
        "dashboard-admin-phone",
        "register-phone",
        "locations-phone",
        "settings-phone",
        "settings-camera-phone",
        "users-phone",
        "audit-phone",
    ] {
        assert!(
            shots.join(format!("{shot}.png")).exists(),
            "no screenshot {shot}"
        );
    }

    // What the browser downloaded: an MP4 that ffprobe reads, and an
    // evidence bundle that verifies offline.
    let mp4 = common::ffprobe(&shots.join("download.mp4"));
    assert_eq!(mp4["streams"][0]["codec_name"], "h264", "{mp4}");
    let unpacked = shots.join("bundle");
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::create_dir_all(&unpacked).expect("mkdir");
    let untar = Command::new("tar")
        .arg("-xf")
        .arg(shots.join("bundle.tar"))
        .arg("-C")
        .arg(&unpacked)
        .status()
        .expect("tar");
    assert!(untar.success());
    let bundle_dir = std::fs::read_dir(&unpacked)
        .expect("read bundle")
        .flatten()
        .next()
        .expect("the tar holds the bundle directory")
        .path();
    let verified = site
        .custos(&["verify", &bundle_dir.to_string_lossy()])
        .output()
        .expect("custos verify");
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    // The thumbnail the dashboard showed is a real JPEG of the camera's
    // picture; a second look within minutes is not logged again.
    let thumb = shots.join("thumbnail.jpg");
    for _ in 0..2 {
        let r = ureq::get(&format!(
            "{}/api/v1/cameras/stacks/snapshot.jpg",
            site.base_url()
        ))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("thumbnail");
        assert_eq!(r.content_type(), "image/jpeg");
        let mut jpeg = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut jpeg).expect("read thumbnail");
        std::fs::write(&thumb, &jpeg).expect("write thumbnail");
    }
    let probe = common::ffprobe(&thumb);
    assert_eq!(probe["streams"][0]["codec_name"], "mjpeg", "{probe}");
    assert_eq!(probe["streams"][0]["width"], 320, "{probe}");
    assert_eq!(probe["streams"][0]["height"], 240, "{probe}");
    let storage = site.get_json(&token, "/api/v1/storage");
    assert!(
        storage["disk"]["total_bytes"].as_u64() > Some(0),
        "{storage}"
    );
    assert!(
        storage["cameras"][0]["bytes"].as_u64() > Some(0),
        "{storage}"
    );

    archivist_sees_only_the_footage_of_their_rooms(&site, &token);

    assert!(serve
        .terminate(Duration::from_secs(10))
        .is_some_and(|s| s.success()));

    // Thumbnail views are logged once per user and camera in 5 minutes:
    // the admin's browser and API looks make one entry, the viewer's one.
    let log = custos_ledger::storage::LogStorage::open_read_only(&site.data_dir().join("log"))
        .expect("log");
    let mut thumbnail_views = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..log.size() {
        let v: serde_json::Value =
            serde_json::from_slice(&log.entry(i).expect("entry")).expect("json");
        if v["type"] == "footage.viewed" && v["thumbnail"] == true {
            assert_eq!(v["camera"], "stacks", "{v}");
            *thumbnail_views
                .entry(v["user"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    // The admin looked at thumbnails in each run of the pipeline (the
    // settings changes restarted it twice, and a restart starts with no
    // memory of logged views): one entry per run, not one per picture.
    let runs = (0..log.size())
        .filter_map(|i| {
            serde_json::from_slice::<serde_json::Value>(&log.entry(i).expect("entry")).ok()
        })
        .filter(|v| v["type"] == "config.loaded")
        .count();
    assert_eq!(runs, 3, "serve ran three times");
    assert_eq!(
        thumbnail_views.get("admin"),
        Some(&runs),
        "{thumbnail_views:?}"
    );
    assert_eq!(thumbnail_views.get("vera"), Some(&1), "{thumbnail_views:?}");
    let downloads = (0..log.size())
        .map(|i| serde_json::from_slice::<serde_json::Value>(&log.entry(i).expect("entry")))
        .filter(|v| {
            v.as_ref()
                .is_ok_and(|v| v["type"] == "footage.viewed" && v["download"] == true)
        })
        .count();
    assert_eq!(downloads, 1, "the MP4 download is logged as one");

    // The settings the browser changed are in the file and in the log.
    let config = std::fs::read_to_string(&site.config).expect("config");
    assert!(config.contains("[[camera.zone]]"), "{config}");
    assert!(config.contains("time_zone = \"Europe/Berlin\""), "{config}");
    let changes: Vec<serde_json::Value> = (0..log.size())
        .filter_map(|i| serde_json::from_slice(&log.entry(i).expect("entry")).ok())
        .filter(|v: &serde_json::Value| v["type"] == "config.changed")
        .collect();
    let sections: Vec<&str> = changes
        .iter()
        .filter_map(|v| v["section"].as_str())
        .collect();
    assert_eq!(sections, ["hours", "camera stacks"], "{changes:?}");
    assert!(changes.iter().all(|v| v["by"] == "admin"), "{changes:?}");
}

/// Status and body of a GET with `token`, whatever the status.
fn get_status(site: &Site, token: &str, path: &str) -> (u16, String) {
    match ureq::get(&format!("{}{path}", site.base_url()))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(r) => (r.status(), String::new()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

/// An archivist sees the footage of the cameras covering their rooms and
/// nothing else; the admin assigns the rooms. (The browser test made the
/// blind-spot shelf S9; the camera covers room R1.)
fn archivist_sees_only_the_footage_of_their_rooms(site: &Site, admin: &str) {
    let (status, v) = site.send_json(
        admin,
        "POST",
        "/api/v1/users",
        json!({"name": "arne", "role": "archivist", "password": "archivist test password"}),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["rooms"], json!([]), "{v}");
    let arne = site.token("arne");
    let now = common::now_ms();
    let footage = [
        "/api/v1/cameras/stacks/snapshot.jpg".to_owned(),
        format!(
            "/api/v1/cameras/stacks/video.mp4?start_ms={}&end_ms={now}",
            now - 60_000
        ),
    ];

    for path in &footage {
        let (status, body) = get_status(site, &arne, path);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("no rooms"), "{body}");
    }
    let (status, v) = site.send_json(
        admin,
        "PATCH",
        "/api/v1/users/arne",
        json!({"rooms": ["S9"]}),
    );
    assert_eq!((status, &v["rooms"]), (200, &json!(["S9"])), "{v}");
    for path in &footage {
        let (status, body) = get_status(site, &arne, path);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("does not cover your rooms (S9)"), "{body}");
    }
    let (status, v) = site.send_json(
        admin,
        "PATCH",
        "/api/v1/users/arne",
        json!({"rooms": ["R1"]}),
    );
    assert_eq!((status, &v["rooms"]), (200, &json!(["R1"])), "{v}");
    for path in &footage {
        let (status, body) = get_status(site, &arne, path);
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, v) = site.send_json(
        admin,
        "PATCH",
        "/api/v1/users/arne",
        json!({"rooms": ["R1", "NOPE"]}),
    );
    assert_eq!(status, 404, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("NOPE")),
        "{v}"
    );
    let users = site.get_json(admin, "/api/v1/users");
    let arne_now = users["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["name"] == "arne"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        arne_now["rooms"],
        json!(["R1"]),
        "a refused change changes nothing"
    );
}
