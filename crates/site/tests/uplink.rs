//! A site enrols with a central office and has its checkpoints co-signed
//! over HTTP by a real witness (a small HTTP server in the test that judges
//! with `custos_ledger::witness` and signs with a real key): it recovers
//! from an outage and from a witness that holds another size (409), and a
//! rewritten history is refused (422) and logged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custos_ledger::catalogue::{self, ConfigLoaded};
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::note::{open_checkpoint, sign_checkpoint, Checkpoint, SigningKey, VerifierKey};
use custos_ledger::storage::LogStorage;
use custos_ledger::witness::{add_checkpoint, parse_add_checkpoint};
use custos_site::uplink::{self, CentralOffice, EnrolError, Uplink, WitnessBoard};
use custos_store::Store;

const CODE: &str = "enrol-7f3a-91c2";
const SITE_KEY: &str = "custos.example/stacks";

/// The central office: enrolment and its witness.
struct Centre {
    key: CosigningKey,
    addr: String,
    state: Mutex<CentreState>,
}

#[derive(Default)]
struct CentreState {
    log_key: Option<VerifierKey>,
    latest: Option<Checkpoint>,
    /// 503s to answer before judging.
    outages: u32,
    /// (old size sent, status answered) of every add-checkpoint.
    answered: Vec<(u64, u16)>,
    /// Every request body seen (to look for the code elsewhere).
    bodies: Vec<String>,
}

impl Centre {
    fn start() -> Arc<Centre> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let centre = Arc::new(Centre {
            key: CosigningKey::from_seed("central.custos.example/witness", &[4; 32])
                .expect("witness key"),
            addr: listener.local_addr().expect("addr").to_string(),
            state: Mutex::default(),
        });
        let serving = centre.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serving.answer(stream);
            }
        });
        centre
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CentreState> {
        self.state.lock().expect("centre state")
    }

    fn answer(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut request_line = String::new();
        reader.read_line(&mut request_line).expect("request line");
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).expect("header");
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        let body = String::from_utf8(body).expect("UTF-8");
        let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
        self.state().bodies.push(body.clone());
        let (status, content_type, text) = match path.as_str() {
            "/api/v1/enrol" => self.enrol(&body),
            "/w/add-checkpoint" => self.add_checkpoint(&body),
            _ => (404, "text/plain", "no such route\n".to_owned()),
        };
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{text}",
            text.len()
        );
    }

    fn enrol(&self, body: &str) -> (u16, &'static str, String) {
        let request: serde_json::Value = serde_json::from_str(body).expect("JSON");
        if request["code"] != CODE {
            return (
                403,
                "application/json",
                r#"{"error":"unknown or used enrolment code"}"#.to_owned(),
            );
        }
        let key =
            VerifierKey::parse(request["log_key"].as_str().expect("log_key")).expect("a log key");
        self.state().log_key = Some(key);
        let answer = serde_json::json!({
            "site": "stacks",
            "witness_key": self.key.verifier().to_string(),
            "witness_url": format!("{}/w/", self.url()),
        });
        (200, "application/json", answer.to_string())
    }

    fn add_checkpoint(&self, body: &str) -> (u16, &'static str, String) {
        let mut state = self.state();
        if state.outages > 0 {
            state.outages -= 1;
            return (503, "text/plain", "down for maintenance\n".to_owned());
        }
        let request = match parse_add_checkpoint(body) {
            Ok(r) => r,
            Err(e) => return (e.http_status(), "text/plain", format!("{e}\n")),
        };
        let known = state.log_key.clone();
        let judged = add_checkpoint(
            &request,
            |origin| known.clone().filter(|k| k.name() == origin),
            state.latest.as_ref(),
            &self.key,
            1_796_540_000,
        );
        let (status, content_type, text) = match judged {
            Ok(done) => {
                state.latest = Some(done.checkpoint);
                (200, "text/plain", done.line)
            }
            Err(refusal) => {
                let status = refusal.http_status();
                match state.latest.as_ref().filter(|_| status == 409) {
                    Some(latest) => (status, "text/x.tlog.size", format!("{}\n", latest.size)),
                    None if status == 409 => (status, "text/x.tlog.size", "0\n".to_owned()),
                    None => (status, "text/plain", format!("{refusal}\n")),
                }
            }
        };
        state.answered.push((request.old_size, status));
        (status, content_type, text)
    }
}

/// A site: its index, its log (written here as the site's log writer
/// writes it) and its key.
struct Site {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    log_dir: std::path::PathBuf,
    store: Store,
    log: LogStorage,
    key: SigningKey,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("custos.db");
        let log_dir = dir.path().join("log");
        std::fs::create_dir_all(&log_dir).expect("log dir");
        Site {
            store: Store::open(&db).expect("index"),
            log: LogStorage::open(&log_dir).expect("log"),
            key: SigningKey::from_seed(SITE_KEY, &[3; 32]).expect("key"),
            db,
            log_dir,
            _dir: dir,
        }
    }

    /// Appends `n` entries and signs the checkpoint of the new size.
    fn grow(&mut self, n: usize) -> u64 {
        let leaves: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let hash = format!("{:064x}", self.log.size() as usize + i);
                catalogue::leaf(
                    1_767_225_600_000,
                    &ConfigLoaded {
                        sha256: &hash,
                        cameras: Some(1),
                    },
                )
                .expect("leaf")
            })
            .collect();
        self.log.append_batch(&leaves).expect("append");
        let size = self.log.size();
        custos_site::sitelog::sign_and_store(&self.store, &self.log, &self.key, size)
            .expect("checkpoint");
        size
    }

    fn outbox_kinds(&self) -> Vec<serde_json::Value> {
        self.store
            .outbox(1000)
            .expect("outbox")
            .into_iter()
            .map(|e| serde_json::from_slice(&e.leaf).expect("JSON"))
            .collect()
    }

    fn start_uplink(
        &self,
        centre: &Centre,
        board: &WitnessBoard,
        throttle: &Arc<custos_site::central_wire::Throttle>,
    ) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
        let stop = Arc::new(AtomicBool::new(false));
        let up = Uplink {
            db_path: self.db.clone(),
            log_dir: self.log_dir.clone(),
            log_key: self.key.verifier(),
            central: Some(CentralOffice {
                url: centre.url(),
                enrol_code: Some(CODE.to_owned()),
                report_seconds: custos_site::uplink::DEFAULT_REPORT_SECONDS,
                max_kbps: None,
                tls_fingerprint: None,
            }),
            timeout: Duration::from_secs(5),
            poll: Duration::from_millis(50),
            board: board.clone(),
            throttle: throttle.clone(),
        };
        let flag = stop.clone();
        let thread = std::thread::spawn(move || uplink::run(up, flag));
        (stop, thread)
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_site_enrols_and_its_checkpoints_are_cosigned_until_its_history_is_rewritten() {
    let centre = Centre::start();
    let mut site = Site::new();
    let first = site.grow(3);
    // The centre co-signed size 3 once already (the site lost the answer),
    // and it is down for the site's first attempt.
    let opened = |site: &Site, size: u64| {
        let note = site
            .store
            .checkpoints()
            .expect("checkpoints")
            .into_iter()
            .find(|c| c.tree_size == size)
            .expect("stored")
            .note;
        open_checkpoint(&note, &site.key.verifier()).expect("opens")
    };
    {
        let mut state = centre.state();
        state.latest = Some(opened(&site, first));
        state.outages = 1;
    }
    let size = site.grow(2);
    let board = WitnessBoard::default();
    let throttle = Arc::new(custos_site::central_wire::Throttle::new(None));
    let (stop, thread) = site.start_uplink(&centre, &board, &throttle);

    wait_for("the checkpoint of size 5 co-signed", || {
        site.store
            .witness(uplink::CENTRAL)
            .expect("witness")
            .is_some_and(|w| w.cosigned_size == size)
    });
    // The checkpoints sent count on the uplink's shared cap.
    assert!(throttle.sent() > 100, "{} bytes counted", throttle.sent());
    // Enrolled: the witness key pinned and logged.
    let pinned = uplink::enrolment(&site.store)
        .expect("read")
        .expect("enrolled");
    assert_eq!(pinned.key, centre.key.verifier().to_string());
    assert_eq!(pinned.url, format!("{}/w", centre.url()));
    let kinds = site.outbox_kinds();
    let enrolled = kinds
        .iter()
        .find(|e| e["type"] == "central.enrolled")
        .expect("central.enrolled logged");
    assert_eq!(enrolled["site"], "stacks");
    assert_eq!(enrolled["url"], centre.url());
    assert_eq!(enrolled["witness_key"], pinned.key);
    assert!(
        !kinds.iter().any(|e| e.to_string().contains(CODE)),
        "the enrolment code is not logged"
    );
    // The outage, the 409 naming size 3, then the proof from 3.
    assert_eq!(
        centre.state().answered,
        [(0, 409), (3, 200)],
        "503 answers are not judged"
    );
    // The cosignature kept verifies with the witness's key, appended to the
    // site's own note, which still opens with the site's key.
    let latest = site.store.latest_checkpoint().expect("q").expect("some");
    let note = uplink::with_cosignatures(&site.store, &latest).expect("note");
    assert_eq!(centre.key.verifier().verify(&note), Ok(1_796_540_000));
    assert_eq!(
        open_checkpoint(&note, &site.key.verifier())
            .expect("opens")
            .size,
        size
    );
    let status = board.snapshot();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(
        (
            status[0].cosigned_size,
            status[0].last_error.clone(),
            status[0].refused
        ),
        (size, None, None)
    );
    assert!(status[0].last_success_ms.is_some());

    // The log grows: co-signed again, from 5, with no conflict.
    let grown = site.grow(4);
    wait_for("the checkpoint of size 9 co-signed", || {
        site.store
            .witness(uplink::CENTRAL)
            .expect("witness")
            .is_some_and(|w| w.cosigned_size == grown)
    });
    assert_eq!(centre.state().answered.last(), Some(&(5, 200)));

    // The centre holds another history at size 9 (the site's log was
    // rewritten under the same key): the next checkpoint is refused as
    // inconsistent, and the site logs the refusal.
    let forked = Checkpoint {
        root: [7; 32],
        ..opened(&site, grown)
    };
    let forked_note = sign_checkpoint(&forked, &site.key);
    centre.state().latest =
        Some(open_checkpoint(&forked_note, &site.key.verifier()).expect("opens"));
    let refused_size = site.grow(2);
    wait_for("the refusal logged", || {
        site.outbox_kinds()
            .iter()
            .any(|e| e["type"] == "witness.refused")
    });
    let kinds = site.outbox_kinds();
    let refusal = kinds
        .iter()
        .find(|e| e["type"] == "witness.refused")
        .expect("refusal");
    assert_eq!(refusal["witness"], "central");
    assert_eq!(refusal["status"], 422);
    assert_eq!(refusal["tree_size"], refused_size);
    assert!(
        refusal["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not consistent")),
        "{refusal}"
    );
    let status = board.snapshot();
    assert_eq!(status[0].refused, Some(422));
    assert_eq!(status[0].cosigned_size, grown, "nothing new co-signed");
    assert!(site.store.cosignatures(refused_size).expect("q").is_empty());

    // Enrolment happened once: no second enrolment request, and the code
    // was sent only in it.
    let bodies = centre.state().bodies.clone();
    assert_eq!(bodies.iter().filter(|b| b.contains(CODE)).count(), 1);

    stop.store(true, Ordering::Relaxed);
    thread.join().expect("uplink thread");
}

#[test]
fn a_refused_or_missing_enrolment_code_pins_nothing_and_says_why() {
    let centre = Centre::start();
    let site = Site::new();
    let wrong = CentralOffice {
        url: centre.url(),
        enrol_code: Some("not-the-code".to_owned()),
        report_seconds: custos_site::uplink::DEFAULT_REPORT_SECONDS,
        max_kbps: None,
        tls_fingerprint: None,
    };
    let e = uplink::enrol(
        &site.store,
        &wrong,
        &site.key.verifier(),
        Duration::from_secs(5),
    )
    .expect_err("refused");
    assert!(
        matches!(&e, EnrolError::Refused { status: 403, message, .. } if message == "unknown or used enrolment code"),
        "{e}"
    );
    assert!(!e.is_transient());
    assert!(!e.to_string().contains("not-the-code"), "{e}");
    let none = CentralOffice {
        url: centre.url(),
        enrol_code: None,
        report_seconds: custos_site::uplink::DEFAULT_REPORT_SECONDS,
        max_kbps: None,
        tls_fingerprint: None,
    };
    let e = uplink::enrol(
        &site.store,
        &none,
        &site.key.verifier(),
        Duration::from_secs(5),
    )
    .expect_err("no code");
    assert!(e.to_string().contains("needed only until"), "{e}");
    assert!(site.store.witnesses().expect("q").is_empty());
    assert!(site.outbox_kinds().is_empty());

    // A centre that is not there is worth retrying.
    let gone = CentralOffice {
        url: "http://127.0.0.1:9".to_owned(),
        enrol_code: Some(CODE.to_owned()),
        report_seconds: custos_site::uplink::DEFAULT_REPORT_SECONDS,
        max_kbps: None,
        tls_fingerprint: None,
    };
    let e = uplink::enrol(
        &site.store,
        &gone,
        &site.key.verifier(),
        Duration::from_secs(5),
    )
    .expect_err("unreachable");
    assert!(e.is_transient(), "{e}");

    // Enrolled once, enrolling again changes nothing; another centre is refused.
    let right = CentralOffice {
        url: centre.url(),
        enrol_code: Some(CODE.to_owned()),
        report_seconds: custos_site::uplink::DEFAULT_REPORT_SECONDS,
        max_kbps: None,
        tls_fingerprint: None,
    };
    let first = uplink::enrol(
        &site.store,
        &right,
        &site.key.verifier(),
        Duration::from_secs(5),
    )
    .expect("enrolled");
    assert!(first.new);
    let again = uplink::enrol(
        &site.store,
        &right,
        &site.key.verifier(),
        Duration::from_secs(5),
    )
    .expect("already");
    assert!(!again.new);
    assert_eq!(again.witness_key, first.witness_key);
    let e = uplink::enrol(
        &site.store,
        &gone,
        &site.key.verifier(),
        Duration::from_secs(5),
    )
    .expect_err("another centre");
    assert!(matches!(e, EnrolError::OtherCentre { .. }), "{e}");
}
