//! `custos demo` end to end, as a newcomer runs it: from an empty
//! directory, the web app's address printed first, a register to look at,
//! custody actions during the first minute (one where no camera sees, one
//! that falls overdue), and a camera covered for a while, whose tamper
//! alert opens and closes. Everything the demo makes stays in its own
//! directory.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, Proc};
use serde_json::Value;

/// The demo's banner, up to its last line.
struct Banner {
    lines: Vec<String>,
    token: Option<String>,
    password: Option<String>,
}

/// Starts `custos demo` in `cwd` (its default directory) and reads its
/// banner.
fn start_demo(cwd: &Path, port: u16) -> (Proc, Banner) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(cwd)
        .env("CUSTOS_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start custos demo");
    let stdout = child.stdout.take().expect("stdout");
    let proc = Proc {
        child,
        name: "demo".into(),
    };
    let mut banner = Banner {
        lines: Vec::new(),
        token: None,
        password: None,
    };
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner line");
        let trimmed = line.trim().to_owned();
        if let Some(t) = trimmed.strip_prefix("token:") {
            banner.token = Some(t.trim().to_owned());
        }
        if let Some(l) = trimmed.strip_prefix("login:") {
            banner.password = l.split_whitespace().nth(2).map(str::to_owned);
        }
        banner.lines.push(line);
        if trimmed.starts_with("config:") {
            break; // the last line of the banner
        }
    }
    (proc, banner)
}

/// Waits until the site answers (the banner is printed as it starts).
fn wait_until_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("http://127.0.0.1:{port}/api/v1/health"))
        .call()
        .is_err()
    {
        assert!(Instant::now() < deadline, "the demo never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get(port: u16, token: &str, path: &str) -> Value {
    ureq::get(&format!("http://127.0.0.1:{port}{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .into_json()
        .expect("json")
}

/// Waits until `pred` holds for the alerts, returning them.
fn wait_for_alerts(
    port: u16,
    token: &str,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v = get(port, token, "/api/v1/alerts?state=open&limit=200");
        let mut alerts = v["alerts"].as_array().cloned().unwrap_or_default();
        let resolved = get(port, token, "/api/v1/alerts?state=resolved&limit=200");
        alerts.extend(resolved["alerts"].as_array().cloned().unwrap_or_default());
        if pred(&alerts) {
            return alerts;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; alerts: {alerts:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn has(alerts: &[Value], kind: &str, state: &str, about: &str) -> bool {
    alerts.iter().any(|a| {
        a["kind"] == kind
            && a["state"] == state
            && a["summary"].as_str().is_some_and(|s| s.contains(about))
    })
}

#[test]
fn the_demo_shows_the_register_custody_and_a_covered_camera() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let (mut demo, banner) = start_demo(cwd.path(), port);
    let text = banner.lines.join("\n");

    // The web app's address comes first, then the API's.
    let web = format!("http://127.0.0.1:{port}/");
    let web_line = banner
        .lines
        .iter()
        .position(|l| l.contains(&web) && !l.contains("/api/"));
    let api_line = banner.lines.iter().position(|l| l.contains("/api/v1/"));
    assert_eq!(
        web_line,
        Some(0),
        "the web app's address is printed first:\n{text}"
    );
    assert!(
        api_line.is_some_and(|a| a > 0),
        "the API's address follows:\n{text}"
    );
    let token = banner.token.clone().expect("the demo prints a token");
    assert!(
        banner.password.as_ref().is_some_and(|p| p.len() >= 12),
        "the demo prints a one-time admin password:\n{text}"
    );
    wait_until_up(port);
    let page = ureq::get(&web).call().expect("the web app");
    assert_eq!(page.content_type(), "text/html");
    assert!(page.into_string().expect("html").contains("Custos"));

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = get(port, &token, "/api/v1/cameras");
        let cams = v["cameras"].as_array().cloned().unwrap_or_default();
        if cams.len() == 2 && cams.iter().all(|c| c["state"] == "recording") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the demo cameras never all recorded: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A register to look at: rooms seen by the cameras and one no camera
    // sees, people, a few hundred items.
    let locations = get(port, &token, "/api/v1/locations");
    let locations = locations["locations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let blind: Vec<&str> = locations
        .iter()
        .filter(|l| l["blind_spot"] == true && l["kind"] == "room")
        .filter_map(|l| l["code"].as_str())
        .collect();
    assert_eq!(blind, ["BASEMENT"], "{locations:#?}");
    for covered in ["READ", "STACKS"] {
        assert!(
            locations
                .iter()
                .any(|l| l["code"] == covered && l["blind_spot"] == false),
            "{covered} is seen by a camera: {locations:#?}"
        );
    }
    let people = get(port, &token, "/api/v1/people");
    assert!(
        people["people"].as_array().is_some_and(|p| p.len() >= 5),
        "{people}"
    );
    let items = get(port, &token, "/api/v1/items?limit=1000");
    let count = items["items"].as_array().map_or(0, Vec::len);
    assert!((200..=1000).contains(&count), "{count} items");

    // Within the first minute: the stacks camera is covered, its alert
    // opens, then closes; the action in the basement has no footage; a
    // short loan falls overdue.
    let alerts = wait_for_alerts(port, &token, "the covered camera's alert to open", |a| {
        a.iter()
            .any(|a| a["kind"] == "tamper.covered" && a["camera"] == "stacks")
    });
    assert!(
        !alerts.iter().any(
            |a| a["kind"].as_str().is_some_and(|k| k.starts_with("tamper."))
                && a["camera"] != "stacks"
        ),
        "only the stacks camera is tampered with: {alerts:#?}"
    );
    let alerts = wait_for_alerts(
        port,
        &token,
        "the covered camera's alert to close, the blind spot and the overdue loan",
        |a| {
            has(a, "tamper.covered", "resolved", "stacks")
                && has(
                    a,
                    "custody.no_footage",
                    "open",
                    "no camera covers location B-01",
                )
                && has(a, "item.overdue", "open", "D-0002")
        },
    );
    assert_eq!(
        alerts
            .iter()
            .filter(|a| a["kind"] == "custody.no_footage")
            .count(),
        1,
        "only the action where no camera sees lacks footage: {alerts:#?}"
    );
    let custody = get(port, &token, "/api/v1/custody?limit=100");
    let events = custody["events"].as_array().cloned().unwrap_or_default();
    assert!(events.len() >= 3, "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["barcode"] == "D-0002" && e["action"] == "check_out"),
        "{events:#?}"
    );
    let covered = get(
        port,
        &token,
        "/api/v1/events?camera=stacks&kind=tamper.covered",
    );
    let covered = covered["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(covered.len(), 1, "{covered:#?}");
    let seconds = (covered[0]["end_ms"].as_i64().unwrap_or(0)
        - covered[0]["start_ms"].as_i64().unwrap_or(0))
        / 1000;
    assert!(
        (10..=20).contains(&seconds),
        "covered for {seconds} s: {covered:#?}"
    );

    assert!(demo
        .terminate(Duration::from_secs(15))
        .is_some_and(|s| s.success()));

    // A second run keeps the register as it is and replays nothing.
    let (mut again, banner) = start_demo(cwd.path(), port);
    let text = banner.lines.join("\n");
    assert!(
        text.contains("the register as earlier runs left it"),
        "{text}"
    );
    assert!(
        banner.password.is_none() || !text.contains("one-time"),
        "{text}"
    );
    wait_until_up(port);
    let items = get(port, &token, "/api/v1/items?limit=1000");
    assert_eq!(items["items"].as_array().map_or(0, Vec::len), count);
    assert!(again
        .terminate(Duration::from_secs(15))
        .is_some_and(|s| s.success()));

    // Everything the demo made is in its own directory.
    let made: Vec<String> = std::fs::read_dir(cwd.path())
        .expect("read the working directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(made, ["custos-demo"]);
    let ignored =
        std::fs::read_to_string(common::repo_root().join(".gitignore")).expect(".gitignore");
    assert!(
        ignored
            .lines()
            .any(|l| l.trim().trim_end_matches('/') == "/custos-demo"),
        ".gitignore keeps the demo's directory out of the repository"
    );
}
