//! End to end: `custos serve` enrols with a central office given in
//! `[central]` and has its checkpoints co-signed by the office's witness
//! over HTTP; an evidence bundle then carries the cosignature, and
//! `custos verify --witness` proves it, or fails for the wrong key, a
//! missing cosignature or an unmet quorum.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::note::{Checkpoint, VerifierKey};
use custos_ledger::witness::{add_checkpoint, parse_add_checkpoint};

const CODE: &str = "enrol-0b5e-44d1";

/// The central office: `POST /api/v1/enrol` and its witness under `/w`.
struct Centre {
    key: CosigningKey,
    url: String,
    log_key: Mutex<Option<VerifierKey>>,
    latest: Mutex<Option<Checkpoint>>,
}

impl Centre {
    fn start() -> Arc<Centre> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let centre = Arc::new(Centre {
            key: CosigningKey::from_seed("central.custos.example/witness", &[8; 32]).expect("key"),
            url: format!("http://{}", listener.local_addr().expect("addr")),
            log_key: Mutex::default(),
            latest: Mutex::default(),
        });
        let serving = centre.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serving.answer(stream);
            }
        });
        centre
    }

    fn answer(&self, mut stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let (status, text) = match request_line.split(' ').nth(1) {
            Some("/api/v1/enrol") => {
                let request: serde_json::Value = serde_json::from_str(&body).expect("JSON");
                if request["code"] == CODE {
                    let key = request["log_key"].as_str().expect("log_key");
                    *self.log_key.lock().expect("lock") =
                        Some(VerifierKey::parse(key).expect("log key"));
                    let answer = serde_json::json!({
                        "site": "test",
                        "witness_key": self.key.verifier().to_string(),
                        "witness_url": format!("{}/w", self.url),
                    });
                    (200, answer.to_string())
                } else {
                    (403, r#"{"error":"unknown code"}"#.to_owned())
                }
            }
            Some("/w/add-checkpoint") => {
                let mut latest = self.latest.lock().expect("lock");
                let known = self.log_key.lock().expect("lock").clone();
                let judged = parse_add_checkpoint(&body).and_then(|request| {
                    add_checkpoint(
                        &request,
                        |origin| known.clone().filter(|k| k.name() == origin),
                        latest.as_ref(),
                        &self.key,
                        1_796_540_000,
                    )
                });
                match judged {
                    Ok(done) => {
                        *latest = Some(done.checkpoint);
                        (200, done.line)
                    }
                    Err(e) if e.http_status() == 409 => {
                        (409, format!("{}\n", latest.as_ref().map_or(0, |c| c.size)))
                    }
                    Err(e) => (e.http_status(), format!("{e}\n")),
                }
            }
            _ => (404, "no such route\n".to_owned()),
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn query_i64(site: &Site, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(site.data_dir().join("custos.db")).expect("index");
    conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
        .expect("query")
        .unwrap_or(0)
}

#[test]
fn a_served_site_is_witnessed_and_its_bundle_verifies_with_the_witness_key() {
    let centre = Centre::start();
    let clip = test_data("vtest-h264.mp4");
    let site = Site::new(&format!(
        "[[camera]]\nid = \"lobby\"\nurl = \"file://{}\"\nsegment_seconds = 1\n\
         [central]\nurl = \"{}\"\nenrol_code = \"{CODE}\"\n",
        clip.display(),
        centre.url
    ));
    let mut serve = site.serve();
    let deadline = Instant::now() + Duration::from_secs(30);
    let sealed = loop {
        let sealed: Vec<SegmentRow> = site
            .segments()
            .into_iter()
            .filter(|s| s.state == "sealed")
            .collect();
        if sealed.len() >= 3 {
            break sealed;
        }
        assert!(Instant::now() < deadline, "no segments: {}", site.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    // Every entry logged so far is under a checkpoint the witness co-signed.
    std::thread::sleep(Duration::from_secs(2));
    let logged = query_i64(&site, "SELECT MAX(idx) + 1 FROM log_entries");
    let deadline = Instant::now() + Duration::from_secs(30);
    while query_i64(&site, "SELECT MAX(tree_size) FROM cosignatures") < logged {
        assert!(
            Instant::now() < deadline,
            "nothing co-signed: {}",
            site.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        serve
            .terminate(Duration::from_secs(15))
            .is_some_and(|s| s.success()),
        "{}",
        site.log()
    );
    assert!(
        !site.log().contains(CODE),
        "the enrolment code is not logged"
    );

    let cfg = site.config.to_string_lossy().into_owned();
    let out = site.dir.path().join("bundle");
    let export = site
        .custos(&[
            "export",
            "--config",
            &cfg,
            "--camera",
            "lobby",
            "--start-ms",
            &sealed[0].start_ms.to_string(),
            "--end-ms",
            &sealed[2].end_ms.to_string(),
            "--out",
            &out.to_string_lossy(),
            "--reason",
            "witness test",
        ])
        .output()
        .expect("export");
    assert!(export.status.success(), "{}", text(&export));
    let checkpoint = std::fs::read_to_string(out.join("checkpoint")).expect("checkpoint");
    assert!(
        checkpoint.contains("\u{2014} central.custos.example/witness "),
        "{checkpoint}"
    );

    let bundle = out.to_string_lossy().into_owned();
    let witness = centre.key.verifier().to_string();
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", bundle.as_str()];
        args.extend_from_slice(extra);
        site.custos(&args).output().expect("verify")
    };
    // Without --witness: verified, the cosignature named but unchecked.
    let plain = verify(&[]);
    assert!(plain.status.success(), "{}", text(&plain));
    assert!(
        text(&plain).contains("1 cosignature line(s) (central.custos.example/witness+"),
        "{}",
        text(&plain)
    );
    // With the witness's key: proven, with its time.
    let good = verify(&["--witness", &witness]);
    assert!(good.status.success(), "{}", text(&good));
    assert!(
        text(&good).contains("co-signed by witness central.custos.example/witness+"),
        "{}",
        text(&good)
    );
    // Another key under the same name: not its cosignature.
    let impostor = CosigningKey::from_seed("central.custos.example/witness", &[9; 32])
        .expect("key")
        .verifier()
        .to_string();
    let wrong = verify(&["--witness", &impostor]);
    assert!(!wrong.status.success(), "{}", text(&wrong));
    assert!(text(&wrong).contains("co-signed by 0 of the witnesses given"));
    // Two keys: both required by default; one of two is enough with a
    // quorum of 1.
    let both = verify(&["--witness", &witness, "--witness", &impostor]);
    assert!(!both.status.success(), "{}", text(&both));
    let quorum = verify(&[
        "--witness",
        &witness,
        "--witness",
        &impostor,
        "--witness-quorum",
        "1",
    ]);
    assert!(quorum.status.success(), "{}", text(&quorum));
    let bad_quorum = verify(&["--witness", &witness, "--witness-quorum", "2"]);
    assert!(!bad_quorum.status.success());
    assert!(
        text(&bad_quorum).contains("--witness-quorum 2"),
        "{}",
        text(&bad_quorum)
    );

    // The cosignature lines removed: no witness co-signature, a failure
    // once one is asked for.
    let site_only: String = checkpoint
        .lines()
        .filter(|l| !l.contains("central.custos.example/witness"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(out.join("checkpoint"), site_only).expect("write");
    let missing = verify(&["--witness", &witness]);
    assert!(!missing.status.success(), "{}", text(&missing));
    assert!(
        text(&missing).contains("the bundle carries no witness co-signature"),
        "{}",
        text(&missing)
    );
    let plain = verify(&[]);
    assert!(plain.status.success(), "{}", text(&plain));
    assert!(text(&plain).contains("The bundle carries no witness co-signature"));
}
