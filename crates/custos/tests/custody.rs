//! The custody register end to end: a real camera (gst-rtsp-server), a
//! real MQTT broker (mosquitto) and a webhook receiver; items checked out
//! at a covered and at an uncovered location, the camera stopped and an
//! item checked in; footage links, alerts, log entries and notifications
//! checked through the API, the log, MQTT and the webhook.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, now_ms, Camera, Site};
use serde_json::{json, Value};

/// One request received: lower-case header names with values, and the body.
type Received = (Vec<(String, String)>, Vec<u8>);

/// A webhook receiver: answers 200 to every POST and keeps the requests.
struct Receiver {
    port: u16,
    requests: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&requests);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut headers = Vec::new();
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                    }
                }
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                store.lock().expect("lock").push((headers, body));
            }
        });
        Receiver { port, requests }
    }

    fn bodies(&self) -> Vec<Received> {
        self.requests.lock().expect("lock").clone()
    }
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A mosquitto broker on a free port, killed on drop.
struct Broker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Broker {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            // Run as whoever runs the test: as root, mosquitto would switch to
            // its own user, which cannot read this private directory.
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser {}\n",
                current_user()
            ),
        )
        .expect("conf");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto must be installed (Debian package mosquitto)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            child,
            port,
            _dir: dir,
        }
    }

    /// Subscribes to `topic` and collects `count` messages (or what came
    /// within `wait_s`), as "topic payload" lines.
    fn subscribe(&self, topic: &str, count: u32, wait_s: u32) -> Child {
        Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-t",
                topic,
                "-v",
            ])
            .args(["-C", &count.to_string(), "-W", &wait_s.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub must be installed (Debian package mosquitto-clients)")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn created(site: &Site, token: &str, path: &str, body: Value) -> Value {
    let (status, v) = site.send_json(token, "POST", path, body.clone());
    assert_eq!(status, 201, "POST {path} {body}: {v}");
    v
}

fn alerts_of(site: &Site, token: &str, kind: &str) -> Vec<Value> {
    site.get_json(token, &format!("/api/v1/alerts?kind={kind}"))["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn custody_events_get_footage_links_alerts_and_notifications() {
    let mut cam = Camera::start(&[("/cam", "live-h264:320x240@10:10:300")], None);
    let broker = Broker::start();
    let receiver = Receiver::start();
    let secret = "webhook test secret";
    let site = Site::new(&format!(
        "[alerts]\ncheck_seconds = 1\n\
         [[notify]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/custos\"\nsecret_env = \"HOOK_SECRET\"\n\
         [[notify]]\nname = \"broker\"\ntype = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {}\n\
         [[camera]]\nid = \"stacks\"\nurl = \"{}\"\nsegment_seconds = 2\nanalysis = false\n",
        receiver.port,
        broker.port,
        cam.url("/cam")
    ));
    let token = site.admin_token();
    let alerts_sub = broker.subscribe("custos/test/alerts", 3, 150);
    let mut serve = site.serve_with_env(&[("HOOK_SECRET", secret)]);
    site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(15),
        "recording",
        |v| v["cameras"][0]["state"] == "recording",
    );
    let recording_since = Instant::now();

    // The register: a covered room, an uncovered store room, a person, items.
    created(
        &site,
        &token,
        "/api/v1/locations",
        json!({"code": "R1", "name": "Reading room", "coverage": [{"camera": "stacks"}]}),
    );
    created(
        &site,
        &token,
        "/api/v1/locations",
        json!({"code": "R1-T1", "name": "Table 1", "kind": "reading_table", "room": "R1"}),
    );
    created(
        &site,
        &token,
        "/api/v1/locations",
        json!({"code": "S9", "name": "Store room"}),
    );
    let (status, err) = site.send_json(
        &token,
        "POST",
        "/api/v1/locations",
        json!({"code": "X", "name": "x", "coverage": [{"camera": "nope"}]}),
    );
    assert_eq!(status, 422, "{err}");
    assert!(
        err["error"].as_str().unwrap_or("").contains("nope"),
        "{err}"
    );
    created(
        &site,
        &token,
        "/api/v1/people",
        json!({"staff_id": "S1", "name": "Ada Reader"}),
    );
    for (barcode, home) in [("A1", "R1-T1"), ("B2", "S9"), ("C3", "R1")] {
        created(
            &site,
            &token,
            "/api/v1/items",
            json!({"barcode": barcode, "title": format!("Box {barcode}"), "home_location": home}),
        );
    }
    let blind = site.get_json(&token, "/api/v1/reports/blind-spots");
    let codes: Vec<&str> = blind["locations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|l| l["code"].as_str())
        .collect();
    assert_eq!(codes, ["S9"], "{blind}");

    // Impossible actions are refused with their reason.
    let (status, err) = site.send_json(
        &token,
        "POST",
        "/api/v1/items/A1/custody",
        json!({"action": "check_in"}),
    );
    assert_eq!(status, 409, "{err}");
    let (status, err) = site.send_json(
        &token,
        "POST",
        "/api/v1/items/ZZ/custody",
        json!({"action": "check_in"}),
    );
    assert_eq!(status, 404, "{err}");

    // C3, due almost at once, becomes overdue; checking it in resolves the
    // alert.
    created(
        &site,
        &token,
        "/api/v1/items/C3/custody",
        json!({"action": "check_out", "to": "S1", "due_ms": now_ms() + 1500}),
    );
    site.wait_json(
        &token,
        "/api/v1/alerts?kind=item.overdue",
        Duration::from_secs(15),
        "an overdue alert",
        |v| v["alerts"][0]["barcode"] == "C3",
    );
    created(
        &site,
        &token,
        "/api/v1/items/C3/custody",
        json!({"action": "check_in"}),
    );
    site.wait_json(
        &token,
        "/api/v1/alerts?kind=item.overdue",
        Duration::from_secs(15),
        "the overdue alert resolved",
        |v| v["alerts"][0]["state"] == "resolved",
    );

    // Out at a covered place (the table, seen through its room's camera)
    // once the camera has recorded the 30 s before, and at an uncovered one.
    let settle = Duration::from_secs(33).saturating_sub(recording_since.elapsed());
    std::thread::sleep(settle);
    let due = now_ms() + 3_600_000;
    let a = created(
        &site,
        &token,
        "/api/v1/items/A1/custody",
        json!({"action": "check_out", "to": "S1", "due_ms": due}),
    );
    assert_eq!(a["item"]["status"], "out", "{a}");
    assert_eq!(a["event"]["cameras"][0]["camera"], "stacks", "{a}");
    let (status, err) = site.send_json(
        &token,
        "POST",
        "/api/v1/items/A1/custody",
        json!({"action": "check_out", "to": "S1", "due_ms": due}),
    );
    assert_eq!(status, 409, "already out: {err}");
    let b = created(
        &site,
        &token,
        "/api/v1/items/B2/custody",
        json!({"action": "check_out", "to": "S1", "due_ms": due}),
    );
    assert_eq!(b["event"]["cameras"], json!([]), "{b}");

    // Once A1's window has passed, its footage is recorded; B2 has none and
    // raises custody.no_footage.
    let alert = site.wait_json(
        &token,
        "/api/v1/alerts?kind=custody.no_footage",
        Duration::from_secs(70),
        "no_footage for B2",
        |v| {
            v["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["barcode"] == "B2"))
        },
    );
    assert!(
        alert["alerts"]
            .as_array()
            .expect("list")
            .iter()
            .all(|x| x["barcode"] != "A1"),
        "{alert}"
    );
    let a1 = site.get_json(&token, "/api/v1/items/A1");
    let window = &a1["custody"][0]["footage"][0];
    assert_eq!(window["camera"], "stacks", "{a1}");
    assert_eq!(window["recorded"], true, "{a1}");
    assert_eq!(
        window["end_ms"].as_i64().unwrap_or(0) - window["start_ms"].as_i64().unwrap_or(0),
        60_000,
        "{a1}"
    );
    assert_eq!(a1["custody"][0]["no_footage"], false, "{a1}");
    let b2 = site.get_json(&token, "/api/v1/items/B2");
    assert_eq!(b2["custody"][0]["no_footage"], true, "{b2}");

    // The camera stops; A1 comes back while nothing records: no footage.
    cam.stop();
    site.wait_json(
        &token,
        "/api/v1/alerts?kind=camera.offline",
        Duration::from_secs(40),
        "an offline alert",
        |v| v["alerts"][0]["state"] == "open",
    );
    let back = created(
        &site,
        &token,
        "/api/v1/items/A1/custody",
        json!({"action": "check_in"}),
    );
    assert_eq!(back["item"]["status"], "in_place", "{back}");
    assert_eq!(back["item"]["location"], "R1-T1", "{back}");
    let event_id = back["event"]["id"].as_i64().expect("id");
    site.wait_json(
        &token,
        "/api/v1/alerts?kind=custody.no_footage",
        Duration::from_secs(70),
        "no_footage for the check-in",
        |v| {
            v["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["details"]["custody_event"] == event_id))
        },
    );
    let a1 = site.get_json(&token, "/api/v1/items/A1");
    assert_eq!(a1["custody"][1]["footage"][0]["recorded"], false, "{a1}");

    // People acknowledge and resolve alerts; each change is kept.
    let id = alerts_of(&site, &token, "custody.no_footage")[0]["id"]
        .as_i64()
        .expect("id");
    let (status, v) = site.send_json(
        &token,
        "POST",
        &format!("/api/v1/alerts/{id}/acknowledge"),
        json!({"note": ""}),
    );
    assert_eq!(status, 400, "a note is required: {v}");
    let (status, v) = site.send_json(
        &token,
        "POST",
        &format!("/api/v1/alerts/{id}/acknowledge"),
        json!({"note": "guard checked the room"}),
    );
    assert_eq!(
        (status, v["state"].clone()),
        (200, json!("acknowledged")),
        "{v}"
    );
    let (status, v) = site.send_json(
        &token,
        "POST",
        &format!("/api/v1/alerts/{id}/resolve"),
        json!({"note": "camera repaired"}),
    );
    assert_eq!(
        (status, v["state"].clone()),
        (200, json!("resolved")),
        "{v}"
    );
    let detail = site.get_json(&token, &format!("/api/v1/alerts/{id}"));
    let states: Vec<&str> = detail["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["state"].as_str())
        .collect();
    assert_eq!(states, ["open", "acknowledged", "resolved"], "{detail}");

    // Notifications: the webhook got signed alerts, every attempt is listed.
    let notifications = site.wait_json(
        &token,
        "/api/v1/notifications?state=delivered",
        Duration::from_secs(20),
        "delivered notifications",
        |v| v["notifications"].as_array().is_some_and(|n| n.len() >= 4),
    );
    assert!(
        notifications["notifications"][0]["attempts_made"][0]["ok"] == true,
        "{notifications}"
    );
    let hooks = receiver.bodies();
    assert!(!hooks.is_empty(), "the webhook received nothing");
    let mut kinds = Vec::new();
    for (headers, body) in &hooks {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let ts: u64 = get("x-custos-timestamp").parse().expect("timestamp header");
        assert!(
            custos_notify::verify_signature(
                secret.as_bytes(),
                ts,
                body,
                &get("x-custos-signature")
            ),
            "bad signature on {}",
            String::from_utf8_lossy(body)
        );
        assert!(!custos_notify::verify_signature(
            b"wrong",
            ts,
            body,
            &get("x-custos-signature")
        ));
        let v: Value = serde_json::from_slice(body).expect("json body");
        if let Some(k) = v["body"]["kind"].as_str() {
            kinds.push(k.to_owned());
        }
    }
    for wanted in ["item.overdue", "custody.no_footage", "camera.offline"] {
        assert!(
            kinds.iter().any(|k| k == wanted),
            "webhook kinds {kinds:?} lack {wanted}"
        );
    }

    // MQTT: alerts arrived; the camera's state is retained for newcomers.
    let out = alerts_sub.wait_with_output().expect("mosquitto_sub");
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        lines.lines().count() >= 3 && lines.contains("custos/test/alerts"),
        "{lines}"
    );
    let state = broker
        .subscribe("custos/test/cameras/stacks/state", 1, 10)
        .wait_with_output()
        .expect("sub");
    let state = String::from_utf8_lossy(&state.stdout).into_owned();
    assert!(
        state.contains("\"state\":\"offline\""),
        "retained camera state: {state}"
    );

    assert!(
        serve
            .terminate(Duration::from_secs(15))
            .is_some_and(|s| s.success()),
        "{}",
        site.log()
    );

    // The log holds every custody event and alert.
    let log = custos_ledger::storage::LogStorage::open_read_only(&site.data_dir().join("log"))
        .expect("log");
    let mut types = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..log.size() {
        let v: Value = serde_json::from_slice(&log.entry(i).expect("entry")).expect("json");
        *types
            .entry(v["type"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    assert_eq!(types.get("custody.event"), Some(&5), "{types:?}");
    assert_eq!(types.get("register.item"), Some(&3), "{types:?}");
    assert_eq!(types.get("register.location"), Some(&3), "{types:?}");
    assert!(
        types.get("alert.raised").is_some_and(|n| *n >= 4),
        "{types:?}"
    );
    assert!(
        types.get("alert.changed").is_some_and(|n| *n >= 3),
        "{types:?}"
    );
}
