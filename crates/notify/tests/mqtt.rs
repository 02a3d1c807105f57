//! MQTT delivery against a real mosquitto broker (Debian packages
//! `mosquitto` and `mosquitto-clients`).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use custos_notify::{deliver, DeliveryError, Destination, MqttConfig};
use support::{
    alert, camera_state, closed_port, free_port, require_program, wait_for_port, Reaped,
};

/// A mosquitto listening on 127.0.0.1, killed when dropped.
struct Broker {
    port: u16,
    _process: Reaped,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// `credentials`: require this user and password instead of anonymous.
    fn start(credentials: Option<(&str, &str)>) -> Broker {
        require_program("mosquitto", "mosquitto");
        require_program("mosquitto_sub", "mosquitto-clients");
        require_program("stdbuf", "coreutils");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        // Run as root, mosquitto drops to user `mosquitto` and could not read
        // our private temporary files; staying the current user avoids that.
        let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let mut config = format!(
            "listener {port} 127.0.0.1\npersistence false\nuser {}\n",
            me.trim()
        );
        match credentials {
            None => config.push_str("allow_anonymous true\n"),
            Some((user, password)) => {
                let file = dir.path().join("passwords");
                let status = Command::new("mosquitto_passwd")
                    .args(["-b", "-c"])
                    .arg(&file)
                    .args([user, password])
                    .status()
                    .unwrap();
                assert!(status.success(), "mosquitto_passwd failed");
                config.push_str(&format!(
                    "allow_anonymous false\npassword_file {}\n",
                    file.display()
                ));
            }
        }
        let config_file = dir.path().join("mosquitto.conf");
        std::fs::write(&config_file, config).unwrap();
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&config_file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_port(port, &mut child, "mosquitto");
        Broker {
            port,
            _process: Reaped(child),
            _dir: dir,
        }
    }
}

fn mqtt(port: u16, credentials: Option<(&str, &str)>, client_id: &str) -> Destination {
    Destination::Mqtt(MqttConfig {
        host: "127.0.0.1".to_string(),
        port,
        username: credentials.map(|(u, _)| u.to_string()),
        password: credentials.map(|(_, p)| p.to_string()),
        client_id: client_id.to_string(),
        timeout: Duration::from_secs(5),
    })
}

/// A received message: topic, payload, and the flags mosquitto_sub's debug
/// line showed (`q1`, `r1`, ...).
#[derive(Debug)]
struct Received {
    topic: String,
    payload: serde_json::Value,
    qos: u8,
    retained: bool,
}

/// `mosquitto_sub -d -v`: debug lines start with "Client " (or
/// "Subscribed ("); each PUBLISH
/// debug line (with the QoS and retain flags) precedes its "topic payload"
/// line.
struct Subscriber {
    process: Reaped,
    lines: mpsc::Receiver<String>,
}

impl Subscriber {
    /// Subscribes to `topic` and returns once the broker's SUBACK is in, so
    /// that nothing published afterwards can be missed.
    fn start(port: u16, topic: &str, count: u32, wait_secs: u32) -> Subscriber {
        // Line-buffered: piped, mosquitto_sub would hold its SUBACK line
        // back until it exits.
        let mut child: Child = Command::new("stdbuf")
            .args([
                "-oL",
                "mosquitto_sub",
                "-d",
                "-v",
                "-q",
                "1",
                "-h",
                "127.0.0.1",
                "-i",
            ])
            .arg(format!("sub-{}", free_port()))
            .args(["-p", &port.to_string(), "-t", topic])
            .args(["-C", &count.to_string(), "-W", &wait_secs.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let subscriber = Subscriber {
            process: Reaped(child),
            lines,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = subscriber
                .lines
                .recv_timeout(left)
                .expect("mosquitto_sub did not report its SUBACK");
            if line.contains("received SUBACK") {
                return subscriber;
            }
        }
    }

    /// Everything received until mosquitto_sub exits (after `count`
    /// messages or its `-W` timeout).
    fn collect(mut self) -> Vec<Received> {
        let mut received = Vec::new();
        let mut flags = None;
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(15)) {
            if line.starts_with("Subscribed (") {
                continue;
            }
            if line.starts_with("Client ") {
                if line.contains("received PUBLISH") {
                    flags = Some(line);
                }
                continue;
            }
            let flags = flags
                .take()
                .expect("a PUBLISH debug line before the message");
            let (topic, payload) = line.split_once(' ').unwrap();
            received.push(Received {
                topic: topic.to_string(),
                payload: serde_json::from_str(payload).unwrap(),
                qos: if flags.contains("q1") { 1 } else { 0 },
                retained: flags.contains("r1"),
            });
        }
        let _ = self.process.0.wait();
        received
    }
}

#[test]
fn mqtt_publishes_alerts_live_and_camera_states_retained() {
    let broker = Broker::start(None);
    let listener = Subscriber::start(broker.port, "custos/#", 2, 10);

    let dest = mqtt(broker.port, None, "custos-test-1");
    let delivered = deliver(&dest, &alert(11, "archive-1")).unwrap();
    assert!(
        delivered.detail.starts_with("PUBACK"),
        "{}",
        delivered.detail
    );
    let state = camera_state(12, "archive-1", "stacks");
    let delivered = deliver(&dest, &state).unwrap();
    assert!(
        delivered.detail.starts_with("PUBACK"),
        "{}",
        delivered.detail
    );

    let live = listener.collect();
    assert_eq!(live.len(), 2, "{live:?}");
    assert_eq!(live[0].topic, "custos/archive-1/alerts");
    assert_eq!(
        live[0].payload,
        serde_json::to_value(alert(11, "archive-1").payload()).unwrap()
    );
    assert_eq!(live[0].qos, 1, "{live:?}");
    assert_eq!(live[1].topic, "custos/archive-1/cameras/stacks/state");
    assert_eq!(
        live[1].payload,
        serde_json::to_value(state.payload()).unwrap()
    );
    assert_eq!(live[1].payload["camera"], "stacks");

    // A subscriber arriving later gets the camera state (retained) and not
    // the alert (an event, not retained): one message within 2 s.
    let late = Subscriber::start(broker.port, "custos/#", 2, 2).collect();
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0].topic, "custos/archive-1/cameras/stacks/state");
    assert!(late[0].retained, "{late:?}");
    assert_eq!(late[0].payload["id"], 12);
}

#[test]
fn mqtt_broker_not_running_is_transient() {
    require_program("mosquitto", "mosquitto");
    let started = Instant::now();
    let (_held, port) = closed_port();
    let err = deliver(&mqtt(port, None, "custos-test-2"), &alert(1, "s")).unwrap_err();
    assert!(matches!(err, DeliveryError::Connection { .. }), "{err:?}");
    assert!(!err.is_permanent());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn mqtt_credentials_right_delivers_and_wrong_is_permanent() {
    let broker = Broker::start(Some(("custos", "right-pass")));

    let ok = mqtt(broker.port, Some(("custos", "right-pass")), "custos-test-3");
    deliver(&ok, &alert(1, "s")).unwrap();

    let bad = mqtt(broker.port, Some(("custos", "wrong-pass")), "custos-test-4");
    let err = deliver(&bad, &alert(2, "s")).unwrap_err();
    assert!(matches!(err, DeliveryError::MqttRefused { .. }), "{err:?}");
    assert!(err.is_permanent(), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("wrong-pass"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", broker.port)),
        "{text}"
    );

    let anonymous = mqtt(broker.port, None, "custos-test-5");
    let err = deliver(&anonymous, &alert(3, "s")).unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
}

#[test]
fn mqtt_silent_server_times_out() {
    // Accepts TCP but never sends a CONNACK.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = thread::spawn(move || {
        let held = listener.accept();
        thread::sleep(Duration::from_secs(3));
        drop(held);
    });
    let mut dest = mqtt(port, None, "custos-test-6");
    if let Destination::Mqtt(c) = &mut dest {
        c.timeout = Duration::from_millis(500);
    }
    let started = Instant::now();
    let err = deliver(&dest, &alert(1, "s")).unwrap_err();
    assert!(matches!(err, DeliveryError::Timeout { .. }), "{err:?}");
    assert!(!err.is_permanent());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(holder);
}
