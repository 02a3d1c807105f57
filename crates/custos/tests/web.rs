//! The web app in a real browser: Debian's chromium driven by
//! playwright-core (tests/web/ui.mjs) against a site recording a real RTSP
//! camera. Screenshots of each page are kept under
//! target/tmp/web-screenshots.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{repo_root, Camera, Site};
use serde_json::json;

#[test]
fn the_web_app_in_chromium() {
    let web = repo_root().join("tests/web");
    assert!(
        web.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/web` (scripts/test.sh does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "chromium is missing (Debian package chromium; scripts/install-deps.sh installs it)"
    );
    let cam = Camera::start(&[("/cam", "live-h264:320x240@10:10:300")], None);
    let site = Site::new(&format!(
        "[[camera]]\nid = \"stacks\"\nname = \"Stacks room\"\nurl = \"{}\"\nanalysis = false\n",
        cam.url("/cam")
    ));
    let token = site.admin_token();
    let cfg = site.config.to_string_lossy().into_owned();
    let mut add = site
        .custos(&[
            "user",
            "add",
            "vera",
            "--role",
            "viewer",
            "--password-stdin",
            "--config",
            &cfg,
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"viewer test password\n")
        .expect("write");
    assert!(add.wait().expect("wait").success());

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

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    let out = Command::new("node")
        .arg(web.join("ui.mjs"))
        .current_dir(&web)
        .env("CUSTOS_URL", site.base_url())
        .env("ADMIN_USER", "admin")
        .env("ADMIN_PASSWORD", "a long test password")
        .env("VIEWER_USER", "vera")
        .env("VIEWER_PASSWORD", "viewer test password")
        .env("SHOTS", &shots)
        .output()
        .expect("node must be installed");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert!(
        out.status.success(),
        "browser checks failed:\n{report}\nlog:\n{}",
        site.log()
    );
    for shot in [
        "dashboard",
        "register",
        "desk",
        "item",
        "alerts",
        "events",
        "dashboard-phone",
    ] {
        assert!(
            shots.join(format!("{shot}.png")).exists(),
            "no screenshot {shot}"
        );
    }
    assert!(serve
        .terminate(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
}
