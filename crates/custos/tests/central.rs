//! End to end: a central office (`custos central serve` on a throwaway
//! PostgreSQL cluster) and two sites (`custos serve`, cameras on
//! gst-rtsp-server), as they run in the field.
//!
//! The sites enrol with one-time codes and have every checkpoint co-signed;
//! their reports and their logs reach the centre. A covered camera at one
//! site shows at the centre as that site's alert, and an acknowledgement
//! made at the centre is carried out by the site and comes back in its log.
//! The centre going away loses nothing: the sites catch up when it is back.
//! The other site, restored from an older copy of its data (a rewritten
//! history), is refused, suspended and alerted on, while the first goes on.
//! An evidence bundle exported at the first site carries the centre's
//! cosignature and verifies offline with the witness key alone. And a
//! backlog shipped over a link that keeps breaking arrives whole, once.
//! A site that escrows its evidence leaves, once its box is gone, a bundle
//! in the bucket that verifies with the centre's cosignature.

mod common;
#[path = "../../central/tests/hook/mod.rs"]
mod hook;
#[path = "../../central/tests/pg/mod.rs"]
mod pg;
#[path = "../../escrow/tests/common/mod.rs"]
mod s3;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
use custos_ledger::storage::LogStorage;
use custos_media::tls_pin::Fingerprint;
use custos_site::central_mirror::Shipper;
use custos_site::central_wire::Throttle;
use hook::Received;
use serde_json::{json, Value};

const WITNESS_NAME: &str = "central.custos.test/witness";
const HOOK_SECRET: &str = "the duty officer's webhook secret";

/// Whether the receiver got an alert of `kind` about `site`.
/// (Only what is signed with the secret counts.)
fn hooked(got: &Mutex<Vec<Received>>, site: &str, kind: &str) -> bool {
    got.lock()
        .expect("lock")
        .iter()
        .filter(|r| r.signed_with(HOOK_SECRET))
        .map(Received::json)
        .any(|v| v["site"] == site && v["body"]["kind"] == kind)
}

/// `custos central serve` and its configuration.
struct Centre {
    dir: tempfile::TempDir,
    config: PathBuf,
    url: String,
    proc: Option<Proc>,
    /// The fingerprint of its TLS certificate.
    pin: Fingerprint,
}

/// A self-signed certificate and its key, made by openssl in `dir`, and
/// its fingerprint.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf, Fingerprint) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=central.custos.test",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{}", text(&made));
    let pem = std::fs::read_to_string(&cert).expect("cert");
    (cert, key, pem_fingerprint(&pem))
}

/// The SHA-256 fingerprint of the first certificate of a PEM file.
fn pem_fingerprint(pem: &str) -> Fingerprint {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM base64");
    Fingerprint::of(&der)
}

impl Centre {
    /// A centre on `database_url`, serving HTTPS with a self-signed
    /// certificate, whose alerts go to the webhook `hook`.
    fn start(database_url: &str, hook: &str) -> Centre {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let (cert, key, pin) = certificate(dir.path(), "centre");
        let config = dir.path().join("central.toml");
        let toml = format!(
            "listen = \"127.0.0.1:{port}\"\npublic_url = \"https://127.0.0.1:{port}\"\n\
             witness_name = \"{WITNESS_NAME}\"\nwitness_key_file = \"{}\"\n\
             [tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\
             [database]\nurl = \"{database_url}\"\npool_size = 8\n\
             [[notify]]\nname = \"duty\"\ntype = \"webhook\"\nurl = \"{hook}\"\n\
             secret_env = \"CENTRAL_HOOK_SECRET\"\n",
            dir.path().join("witness.key").display(),
            cert.display(),
            key.display()
        );
        std::fs::write(&config, toml).expect("central.toml");
        let mut centre = Centre {
            dir,
            config,
            url: format!("https://127.0.0.1:{port}"),
            proc: None,
            pin,
        };
        centre.serve();
        centre
    }

    fn serve(&mut self) {
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("central.log"))
            .expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_custos"))
            .args(["central", "serve", "--config"])
            .arg(&self.config)
            .env("CUSTOS_LOG", "info")
            .env("CENTRAL_HOOK_SECRET", HOOK_SECRET)
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("custos central serve");
        self.proc = Some(Proc {
            child,
            name: "central".into(),
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self
                .agent()
                .get(&format!("{}/healthz", self.url))
                .call()
                .is_ok_and(|r| r.status() == 200)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the centre did not answer: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Serves with another certificate from its next start (and announces
    /// `next` to sites, if given).
    fn set_tls(&mut self, cert: &Path, key: &Path, pin: Fingerprint, next: Option<&Path>) {
        let config = std::fs::read_to_string(&self.config).expect("central.toml");
        let start = config.find("[tls]").expect("[tls]");
        let end = config.find("[database]").expect("[database]");
        let next = next
            .map(|n| format!("next_cert_file = \"{}\"\n", n.display()))
            .unwrap_or_default();
        let tls = format!(
            "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n{next}",
            cert.display(),
            key.display()
        );
        let config = format!("{}{tls}{}", &config[..start], &config[end..]);
        std::fs::write(&self.config, config).expect("central.toml");
        self.pin = pin;
    }

    /// A client that trusts the centre's certificate by its fingerprint.
    fn agent(&self) -> ureq::Agent {
        custos_site::central_wire::agent(
            Duration::from_secs(5),
            Duration::from_secs(10),
            &[self.pin],
        )
        .expect("agent")
    }

    fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let status = p.terminate(Duration::from_secs(15));
            assert!(status.is_some_and(|s| s.success()), "{}", self.log());
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("central.log")).unwrap_or_default()
    }

    /// The witness key as the centre printed it at start.
    fn witness_key(&self) -> String {
        self.log()
            .lines()
            .find_map(|l| l.strip_prefix("witness key: "))
            .expect("the centre prints its witness key")
            .trim()
            .to_owned()
    }

    /// `custos central ARGS --config central.toml`, which must succeed.
    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_custos"))
            .arg("central")
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .expect("custos central");
        assert!(out.status.success(), "central {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds a central user with `custos central user add`, the password on
    /// standard input.
    fn add_user(&self, name: &str, role: &str, region: Option<&str>, password: &str) {
        let mut args = vec![
            "central",
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
        ];
        if let Some(region) = region {
            args.extend(["--region", region]);
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_custos"));
        command.args(&args).arg("--config").arg(&self.config);
        let out = with_password(command, password);
        assert!(out.status.success(), "user add {name}: {}", text(&out));
    }

    /// `site reenrol NAME`: the one-time code, and all it printed.
    fn reenrol(&self, name: &str, reason: &str) -> (String, String) {
        let issued = self.cli(&["site", "reenrol", name, "--reason", reason]);
        let code = issued
            .lines()
            .skip_while(|l| !l.starts_with("re-enrolment code"))
            .nth(1)
            .unwrap_or_else(|| panic!("no code in {issued}"))
            .trim()
            .to_owned();
        (code, issued)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.cli(&args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// Waits until `ok` holds of `site list --json`.
    fn wait_sites(&self, what: &str, timeout: Duration, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let list = self.json(&["site", "list"]);
            if ok(&list) {
                return list;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {list:#}\ncentre: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Waits until `ok` holds of `alerts --all --json`.
    fn wait_alerts(&self, what: &str, timeout: Duration, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let alerts = self.json(&["alerts", "--all"]);
            if ok(&alerts) {
                return alerts;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {alerts:#}\ncentre: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `site add NAME`: the one-time code, and the certificate's
    /// fingerprint as the centre gives it to the site.
    fn add_site(&self, name: &str) -> (String, String) {
        let out = self.cli(&["site", "add", name]);
        let code = out
            .lines()
            .skip_while(|l| !l.starts_with("enrolment code"))
            .nth(1)
            .unwrap_or_else(|| panic!("no code in {out}"))
            .trim()
            .to_owned();
        let pin = out
            .lines()
            .find_map(|l| l.strip_prefix("tls_fingerprint = "))
            .unwrap_or_else(|| panic!("no fingerprint in {out}"))
            .trim_matches('"')
            .to_owned();
        assert_eq!(pin, self.pin.to_string(), "{out}");
        (code, pin)
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Puts `code` in `site`'s `[central] enrol_code` (and `pin` in its
/// `tls_fingerprint`, if given).
fn set_enrolment(site: &Site, code: &str, pin: Option<&str>) {
    let config = std::fs::read_to_string(&site.config).expect("config");
    let config: String = config
        .lines()
        .map(|l| match pin {
            _ if l.starts_with("enrol_code = ") => format!("enrol_code = \"{code}\"\n"),
            Some(pin) if l.starts_with("tls_fingerprint = ") => {
                format!("tls_fingerprint = \"{pin}\"\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&site.config, config).expect("config");
}

/// A site named `name` with one camera, enrolled with `centre` by the
/// code, trusting the certificate of the fingerprint given with it.
fn site(name: &str, camera_url: &str, centre: &Centre, (code, pin): &(String, String)) -> Site {
    let camera = if camera_url.is_empty() {
        String::new()
    } else {
        format!("[[camera]]\nid = \"hall\"\nurl = \"{camera_url}\"\nsegment_seconds = 2\n")
    };
    let site = Site::new(&format!(
        "{camera}[alerts]\ncheck_seconds = 1\n\
         [central]\nurl = \"{}\"\nenrol_code = \"{code}\"\nreport_seconds = 5\n\
         tls_fingerprint = \"{pin}\"\n",
        centre.url
    ));
    let config = std::fs::read_to_string(&site.config).expect("config");
    std::fs::write(
        &site.config,
        config.replace("site = \"test\"", &format!("site = \"{name}\"")),
    )
    .expect("config");
    site
}

fn log_size(site: &Site) -> i64 {
    let conn = rusqlite::Connection::open(site.data_dir().join("custos.db")).expect("index");
    conn.query_row(
        "SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entries",
        [],
        |r| r.get(0),
    )
    .expect("query")
}

fn cosigned(site: &Value) -> i64 {
    site["cosigned"][0].as_i64().unwrap_or(0)
}

fn find<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list[key]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name || s["site"] == name))
        .unwrap_or(&Value::Null)
}

/// `cp -a`, which keeps the files as they are.
fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .stdout(Stdio::null())
        .status()
        .expect("cp");
    assert!(ok.success(), "cp -a {} {}", from.display(), to.display());
}

#[test]
fn sites_report_to_the_centre_which_witnesses_them_and_refuses_a_rewritten_history() {
    let pg = pg::Postgres::start();
    let (hook, hooked_alerts) = hook::receiver();
    let mut centre = Centre::start(&pg.create_db("central"), &hook);
    let witness_key = centre.witness_key();
    let clips = tempfile::tempdir().expect("tempdir");
    let clip = covered_clip(clips.path());
    let camera = Camera::start(
        &[
            ("/alpha", &format!("file:{}", clip.display())),
            ("/beta", "live-h264:640x360@10:10:400"),
        ],
        None,
    );
    let alpha = site(
        "alpha",
        &camera.url("/alpha"),
        &centre,
        &centre.add_site("alpha"),
    );
    let beta = site(
        "beta",
        &camera.url("/beta"),
        &centre,
        &centre.add_site("beta"),
    );
    // Gamma was given the code but pins another certificate (someone in
    // between): it does not enrol, and says why.
    let (gamma_code, _) = centre.add_site("gamma");
    let gamma = site("gamma", "", &centre, &(gamma_code, "AB:".repeat(31) + "AB"));
    let alpha_token = alpha.admin_token();
    let mut alpha_serve = alpha.serve();
    let mut beta_serve = beta.serve();
    let _gamma_serve = gamma.serve();

    // Both enrol, report and are co-signed.
    centre.wait_sites(
        "both sites enrolled, co-signed and reporting",
        Duration::from_secs(60),
        |l| {
            ["alpha", "beta"].iter().all(|n| {
                let s = find(l, "sites", n);
                let r = find(l, "reports", n);
                s["enrolled_ms"].is_i64()
                    && cosigned(s) > 0
                    && r["health"]["cameras"][0]["id"] == "hall"
            })
        },
    );
    let listed = centre.json(&["site", "list"]);
    assert!(
        find(&listed, "sites", "gamma")["enrolled_ms"].is_null(),
        "{listed}"
    );
    assert!(
        gamma.log().contains("not the pinned AB:AB:"),
        "gamma says why it cannot enrol: {}",
        gamma.log()
    );
    for s in [&alpha, &beta, &gamma] {
        let config = std::fs::read_to_string(&s.config).expect("config");
        let code = config
            .lines()
            .find_map(|l| l.strip_prefix("enrol_code = "))
            .expect("code")
            .trim_matches('"')
            .to_owned();
        assert!(!s.log().contains(&code), "the enrolment code is not logged");
    }

    // A box taken out of alpha's store room, which no camera sees.
    for (path, body) in [
        (
            "/api/v1/locations",
            json!({"code": "S9", "name": "Store room"}),
        ),
        (
            "/api/v1/people",
            json!({"staff_id": "S1", "name": "Ada Reader"}),
        ),
        (
            "/api/v1/items",
            json!({"barcode": "B2", "title": "Box B2", "home_location": "S9"}),
        ),
        (
            "/api/v1/items/B2/custody",
            json!({"action": "check_out", "to": "S1", "due_ms": now_ms() + 86_400_000}),
        ),
    ] {
        let (status, v) = alpha.send_json(&alpha_token, "POST", path, body);
        assert_eq!(status, 201, "{path}: {v}");
    }

    // Alpha's covered camera: its alert reaches the centre through the
    // mirrored log.
    let alerts = centre.wait_alerts(
        "alpha's tamper alert at the centre",
        Duration::from_secs(90),
        |a| {
            a["sites"].as_array().is_some_and(|l| {
                l.iter()
                    .any(|x| x["site"] == "alpha" && x["kind"] == "tamper.covered")
            })
        },
    );
    let tamper = alerts["sites"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|x| x["site"] == "alpha" && x["kind"] == "tamper.covered")
        })
        .expect("the alert")
        .clone();
    let alert = tamper["alert"].as_i64().expect("alert number");
    // The duty officer's webhook hears of it from the centre.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !hooked(&hooked_alerts, "alpha", "tamper.covered") {
        assert!(
            Instant::now() < deadline,
            "no webhook: {:?}\ncentre: {}",
            hooked_alerts.lock().expect("lock"),
            centre.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(tamper["camera"], "hall", "{tamper}");

    // Acknowledged at the centre, in its web app, by an auditor of alpha's
    // region: the site does it as that person, and its log brings the
    // change back.
    centre.cli(&[
        "site",
        "place",
        "alpha",
        "--region",
        "north",
        "--latitude",
        "59.33",
        "--longitude",
        "18.07",
    ]);
    centre.cli(&[
        "site",
        "place",
        "beta",
        "--region",
        "south",
        "--latitude",
        "55.6",
        "--longitude",
        "13.0",
    ]);
    centre.add_user("ines", "admin", None, "the centre's admin password");
    centre.add_user("nora", "auditor", Some("north"), "nora's auditor password");
    centre.add_user("vic", "viewer", None, "vic's viewer password");
    let alert_text = alert.to_string();
    let (passed, report) = common::browser_checks(
        "central.mjs",
        &[
            ("CENTRAL_URL", centre.url.as_str()),
            ("ADMIN_USER", "ines"),
            ("ADMIN_PASSWORD", "the centre's admin password"),
            ("AUDITOR_USER", "nora"),
            ("AUDITOR_PASSWORD", "nora's auditor password"),
            ("VIEWER_USER", "vic"),
            ("VIEWER_PASSWORD", "vic's viewer password"),
            ("ALERT", alert_text.as_str()),
        ],
    );
    assert!(
        passed,
        "the centre's web app in chromium:\n{report}\ncentre:\n{}",
        centre.log()
    );
    let trail = centre.cli(&["audit"]);
    for line in ["nora sign_in", "ines sign_out", "nora site_alert.requested"] {
        assert!(
            trail.contains(line),
            "{line:?} in the audit trail:\n{trail}"
        );
    }
    let detail = alpha.wait_json(
        &alpha_token,
        &format!("/api/v1/alerts/{alert}"),
        Duration::from_secs(30),
        "the centre's acknowledgement carried out at the site",
        |v| v["state"] != "open",
    );
    let change = detail["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["state"] == "acknowledged"))
        .unwrap_or_else(|| panic!("no acknowledgement in {detail}"));
    assert!(
        change["by"].as_str().is_some_and(|b| b == "central:nora"),
        "{detail}"
    );
    assert_eq!(change["note"], "seen from the centre", "{detail}");
    centre.wait_alerts(
        "the acknowledgement back at the centre",
        Duration::from_secs(45),
        |a| {
            a["sites"].as_array().is_some_and(|l| {
                l.iter().any(|x| {
                    x["site"] == "alpha"
                        && x["alert"] == alert
                        && x["state"] != "open"
                        && x["pending"].is_null()
                })
            })
        },
    );

    // The register across sites: where the box is, and that no camera
    // recorded it going out.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing = centre.json(&["no-footage"]);
        if missing["events"][0]["barcode"] == "B2" {
            assert_eq!(missing["events"][0]["site"], "alpha", "{missing}");
            assert_eq!(missing["events"][0]["action"], "check_out", "{missing}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no footage at the centre: {missing:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let at = centre.json(&["where", "B2"]);
    assert_eq!(at["events"].as_array().map(Vec::len), Some(1), "{at}");
    assert_eq!(at["events"][0]["holder"], "S1", "{at}");
    assert!(at["events"][0]["log_index"].is_i64(), "{at}");
    let ada = centre.json(&["handled", "S1"]);
    assert_eq!(ada["events"][0]["barcode"], "B2", "{ada}");

    // The centre goes away for a while; the sites record on. When it is
    // back they catch up: everything logged meanwhile is co-signed and
    // mirrored.
    centre.stop();
    std::thread::sleep(Duration::from_secs(8));
    let logged_while_away = log_size(&alpha);
    centre.serve();
    centre.wait_sites(
        "alpha caught up after the centre's outage",
        Duration::from_secs(60),
        |l| {
            let s = find(l, "sites", "alpha");
            cosigned(s) >= logged_while_away
                && s["mirrored"].as_i64().unwrap_or(0) >= logged_while_away
                && s["mirror_verified"].as_i64().unwrap_or(0) >= logged_while_away
        },
    );
    assert!(
        !alpha.log().contains("panicked"),
        "alpha during the outage: {}",
        alpha.log()
    );

    // A copy of beta's data, taken with beta stopped; beta goes on and is
    // co-signed further, then is put back to the copy and goes on from
    // there: its new entries rewrite what the centre co-signed since.
    assert!(beta_serve
        .terminate(Duration::from_secs(15))
        .is_some_and(|s| s.success()));
    let backup = clips.path().join("beta-backup");
    copy_dir(&beta.data_dir(), &backup);
    let backup_size = log_size(&beta);
    beta_serve = beta.serve();
    let before = centre.wait_sites(
        "beta co-signed past the copy",
        Duration::from_secs(60),
        |l| cosigned(find(l, "sites", "beta")) > backup_size + 2,
    );
    let beta_cosigned = cosigned(find(&before, "sites", "beta"));
    assert!(beta_serve
        .terminate(Duration::from_secs(15))
        .is_some_and(|s| s.success()));
    std::fs::remove_dir_all(beta.data_dir()).expect("remove beta's data");
    copy_dir(&backup, &beta.data_dir());
    beta_serve = beta.serve();
    let deadline = Instant::now() + Duration::from_secs(90);
    let refused = loop {
        let list = centre.json(&["site", "list"]);
        if find(&list, "sites", "beta")["suspended"].is_array() {
            break list;
        }
        assert!(
            Instant::now() < deadline,
            "beta's rewritten history not refused: {list:#}\nbeta: {}",
            beta.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let beta_row = find(&refused, "sites", "beta");
    assert!(beta_row["refusals"].as_i64().unwrap_or(0) >= 1, "{refused}");
    // What was co-signed stays what was co-signed.
    assert_eq!(cosigned(beta_row), beta_cosigned, "{refused}");
    let alerts = centre.json(&["alerts"]);
    assert!(
        alerts["centre"].as_array().is_some_and(|l| l
            .iter()
            .any(|a| a["site"] == "beta" && a["kind"] == "site.log_rewritten")),
        "{alerts:#}"
    );
    assert!(
        !alerts["centre"].as_array().is_some_and(|l| l
            .iter()
            .any(|a| a["site"] == "alpha" && a["kind"] == "site.log_rewritten")),
        "{alerts:#}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !hooked(&hooked_alerts, "beta", "site.log_rewritten") {
        assert!(
            Instant::now() < deadline,
            "no webhook: {:?}",
            hooked_alerts.lock().expect("lock")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let evidence = centre.cli(&["site", "refusals", "beta"]);
    assert!(evidence.contains("beta"), "{evidence}");
    // Alpha is still witnessed.
    let alpha_before = cosigned(find(&refused, "sites", "alpha"));
    centre.wait_sites("alpha still co-signed", Duration::from_secs(30), |l| {
        cosigned(find(l, "sites", "alpha")) > alpha_before
    });

    // Beta's box is replaced: its data is gone and the new box has its own
    // key. Only an admin at the centre lets it in, with a one-time code;
    // the rotation is in the centre's audit trail and in the new log.
    assert!(beta_serve
        .terminate(Duration::from_secs(15))
        .is_some_and(|s| s.success()));
    let old_key = find(&centre.json(&["site", "list"]), "sites", "beta")["log_key"].clone();
    let (code, _) = centre.reenrol("beta", "a new box after the restore");
    std::fs::remove_dir_all(beta.data_dir()).expect("remove beta's data");
    set_enrolment(&beta, &code, None);
    let beta_token = beta.admin_token();
    let _beta_serve = beta.serve();
    centre.wait_sites(
        "beta's new box enrolled and co-signed afresh",
        Duration::from_secs(60),
        |l| {
            let s = find(l, "sites", "beta");
            s["log_key"] != old_key && s["suspended"].is_null() && cosigned(s) > 0
        },
    );
    let entries = beta
        .get_json(&beta_token, "/api/v1/audit?limit=500")
        .to_string();
    assert!(
        entries.contains("central.enrolled")
            && entries.contains("replaces_key")
            && entries.contains("a new box after the restore"),
        "the new box's log says which key it replaces: {entries}"
    );
    let trail = centre.cli(&["audit"]);
    assert!(
        trail.contains("site.key_rotated") && trail.contains("a new box after the restore"),
        "{trail}"
    );

    // An evidence bundle of alpha's footage carries the centre's
    // cosignature; a third party proves it with the witness key alone.
    assert!(alpha_serve
        .terminate(Duration::from_secs(15))
        .is_some_and(|s| s.success()));
    let sealed: Vec<SegmentRow> = alpha
        .segments()
        .into_iter()
        .filter(|s| s.state == "sealed")
        .collect();
    assert!(sealed.len() >= 3, "{}", alpha.log());
    let cfg = alpha.config.to_string_lossy().into_owned();
    let bundle = alpha.dir.path().join("bundle");
    let export = alpha
        .custos(&[
            "export",
            "--config",
            &cfg,
            "--camera",
            "hall",
            "--start-ms",
            &sealed[0].start_ms.to_string(),
            "--end-ms",
            &sealed[2].end_ms.to_string(),
            "--out",
            &bundle.to_string_lossy(),
            "--reason",
            "central test",
        ])
        .output()
        .expect("export");
    assert!(export.status.success(), "{}", text(&export));
    verify_with_witness(&alpha, &bundle, &witness_key);
}

/// `custos verify --witness` of `bundle`: proven by the centre's key, not
/// by another key under its name; a quorum counts; without the
/// cosignature line the bundle verifies only when no witness is asked for.
fn verify_with_witness(site: &Site, bundle: &Path, witness: &str) {
    let checkpoint = std::fs::read_to_string(bundle.join("checkpoint")).expect("checkpoint");
    assert!(
        checkpoint.contains(&format!("\u{2014} {WITNESS_NAME} ")),
        "{checkpoint}"
    );
    let path = bundle.to_string_lossy().into_owned();
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", path.as_str()];
        args.extend_from_slice(extra);
        site.custos(&args).output().expect("verify")
    };
    let plain = verify(&[]);
    assert!(plain.status.success(), "{}", text(&plain));
    assert!(
        text(&plain).contains(&format!("1 cosignature line(s) ({WITNESS_NAME}+")),
        "{}",
        text(&plain)
    );
    let good = verify(&["--witness", witness]);
    assert!(good.status.success(), "{}", text(&good));
    assert!(
        text(&good).contains(&format!("co-signed by witness {WITNESS_NAME}+")),
        "{}",
        text(&good)
    );
    let impostor = CosigningKey::from_seed(WITNESS_NAME, &[9; 32])
        .expect("key")
        .verifier()
        .to_string();
    let wrong = verify(&["--witness", &impostor]);
    assert!(!wrong.status.success(), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("co-signed by 0 of the witnesses given"),
        "{}",
        text(&wrong)
    );
    let both = verify(&["--witness", witness, "--witness", &impostor]);
    assert!(!both.status.success(), "{}", text(&both));
    let quorum = verify(&[
        "--witness",
        witness,
        "--witness",
        &impostor,
        "--witness-quorum",
        "1",
    ]);
    assert!(quorum.status.success(), "{}", text(&quorum));
    let bad_quorum = verify(&["--witness", witness, "--witness-quorum", "2"]);
    assert!(!bad_quorum.status.success());
    assert!(
        text(&bad_quorum).contains("--witness-quorum 2"),
        "{}",
        text(&bad_quorum)
    );
    // The cosignature lines taken out.
    let site_only: String = checkpoint
        .lines()
        .filter(|l| !l.contains(WITNESS_NAME))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(bundle.join("checkpoint"), site_only).expect("write");
    let missing = verify(&["--witness", witness]);
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

/// A TCP proxy that cuts about a third of its connections after a random
/// number of bytes from the client (a flaky uplink); returns its port and
/// how many it cut.
fn flaky_proxy(target: u16) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let cuts = Arc::new(AtomicUsize::new(0));
    let counted = cuts.clone();
    std::thread::spawn(move || {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // One connection in three is cut, somewhere in its first 200 KB.
            let budget = if seed.is_multiple_of(3) {
                Some(1024 + (seed >> 8) as usize % (200 << 10))
            } else {
                None
            };
            let (mut c_read, mut s_write) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            let (mut s_read, mut c_write) = (server, client);
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut passed = 0usize;
                loop {
                    let n = match c_read.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if budget.is_some_and(|b| passed + n > b) {
                        counted.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    passed += n;
                    if s_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c_read.shutdown(Shutdown::Both);
                let _ = s_write.shutdown(Shutdown::Both);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_read, &mut c_write);
                let _ = c_write.shutdown(Shutdown::Both);
            });
        }
    });
    (port, cuts)
}

#[test]
fn a_backlog_shipped_over_a_link_that_keeps_breaking_arrives_whole_once() {
    let pg = pg::Postgres::start();
    let (hook, _) = hook::receiver();
    let centre = Centre::start(&pg.create_db("flaky"), &hook);
    let centre_port: u16 = centre
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");

    // A site's log of 20,000 entries, enrolled and co-signed at its size.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = LogStorage::open(&dir.path().join("log")).expect("log");
    let leaves: Vec<Vec<u8>> = (0..20_000u32)
        .map(|i| {
            format!(
                "{{\"kind\":\"segment.sealed\",\"n\":{i},\"sha256\":\"{:064x}\"}}",
                u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            )
            .into_bytes()
        })
        .collect();
    log.append_batch(&leaves).expect("append");
    let size = log.size();
    let key = SigningKey::generate("flaky.custos.test/log").expect("key");
    let (code, _) = centre.add_site("flaky");
    let direct = centre.agent();
    direct
        .post(&format!("{}/api/v1/enrol", centre.url))
        .send_json(json!({"code": code, "log_key": key.verifier().to_string()}))
        .expect("enrol");
    let checkpoint = sign_checkpoint(
        &Checkpoint {
            origin: key.verifier().name().to_owned(),
            size,
            root: log.root(size).expect("root"),
        },
        &key,
    );
    direct
        .post(&format!("{}/witness/add-checkpoint", centre.url))
        .send_string(&custos_ledger::witness::add_checkpoint_body(
            0,
            &[],
            &checkpoint,
        ))
        .expect("co-signed");

    // Shipped through the proxy, as the site's mirror thread does it.
    let (proxy, cuts) = flaky_proxy(centre_port);
    let mut shipper = Shipper::new(
        &format!("https://127.0.0.1:{proxy}"),
        key,
        &[centre.pin],
        Arc::new(Throttle::new(None)),
    )
    .expect("shipper");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut failures = 0;
    loop {
        match shipper.ship(&log, size) {
            Ok(done) if done >= size => break,
            Ok(_) => {}
            Err(e) => {
                failures += 1;
                assert!(
                    Instant::now() < deadline,
                    "not caught up after {failures} failures; last: {e}"
                );
            }
        }
    }
    assert!(
        cuts.load(Ordering::Relaxed) > 0 && failures > 0,
        "the link never broke: {} cuts, {failures} failures",
        cuts.load(Ordering::Relaxed)
    );
    let list = centre.json(&["site", "list"]);
    let row = find(&list, "sites", "flaky");
    assert_eq!(row["mirrored"], size, "{list}");
    assert_eq!(row["mirror_verified"], size, "{list}");
    assert_eq!(row["refusals"], 0, "{list}");
}

/// What site `site` pins for the centre's certificate.
fn pinned_by(site: &Site) -> String {
    let conn = rusqlite::Connection::open(site.data_dir().join("custos.db")).expect("index");
    conn.query_row(
        "SELECT COALESCE(tls_fingerprint, '') FROM witnesses WHERE name = 'central'",
        [],
        |r| r.get(0),
    )
    .unwrap_or_default()
}

/// Waits until site `site` pins exactly `pins`.
fn wait_pinned(site: &Site, pins: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pinned_by(site) != pins {
        assert!(
            Instant::now() < deadline,
            "pinned: {:?}, not {pins:?}\n{}",
            pinned_by(site),
            site.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_site_follows_the_centre_to_its_next_certificate() {
    let pg = pg::Postgres::start();
    let (hook, _) = hook::receiver();
    let mut centre = Centre::start(&pg.create_db("rollover"), &hook);
    let first = centre.pin;
    let enrolment = centre.add_site("delta");
    let delta = site("delta", "", &centre, &enrolment);
    let _serve = delta.serve();
    // Zeta will be away for the whole announcement.
    let zeta = site("zeta", "", &centre, &centre.add_site("zeta"));
    let mut zeta_serve = zeta.serve();
    centre.wait_sites(
        "delta and zeta enrolled and co-signed",
        Duration::from_secs(60),
        |l| {
            ["delta", "zeta"]
                .iter()
                .all(|n| cosigned(find(l, "sites", n)) > 0 && find(l, "reports", n).is_object())
        },
    );
    assert_eq!(pinned_by(&delta), first.to_string());
    assert!(zeta_serve
        .terminate(Duration::from_secs(15))
        .is_some_and(|s| s.success()));

    // The centre announces its next certificate; the site pins both.
    let (next_cert, next_key, next) = certificate(centre.dir.path(), "next");
    let (cert, key) = (
        centre.dir.path().join("centre.crt"),
        centre.dir.path().join("centre.key"),
    );
    centre.stop();
    centre.set_tls(&cert, &key, first, Some(&next_cert));
    centre.serve();
    wait_pinned(&delta, &format!("{first}, {next}"));

    // It changes to it: the site goes on reporting and being co-signed,
    // and trusts only the new one.
    centre.stop();
    let before = centre.json(&["site", "list"]);
    let cosigned_before = cosigned(find(&before, "sites", "delta"));
    let reported_before = find(&before, "reports", "delta")["received_ms"]
        .as_i64()
        .unwrap_or(0);
    centre.set_tls(&next_cert, &next_key, next, None);
    centre.serve();
    // Something new in the site's log, for a checkpoint to co-sign.
    delta.add_user("clerk", "admin", "a long test password");
    centre.wait_sites(
        "delta reporting and co-signed over the new certificate",
        Duration::from_secs(60),
        |l| {
            cosigned(find(l, "sites", "delta")) > cosigned_before
                && find(l, "reports", "delta")["received_ms"]
                    .as_i64()
                    .unwrap_or(0)
                    > reported_before
        },
    );
    wait_pinned(&delta, &next.to_string());

    // Zeta missed it: it trusts only the old certificate. An admin gives it
    // a re-enrolment code with the new fingerprint; it enrols again with
    // its own key and goes on, its history unbroken.
    let zeta_before = cosigned(find(&centre.json(&["site", "list"]), "sites", "zeta"));
    let (code, issued) = centre.reenrol("zeta", "away during the certificate change");
    assert!(issued.contains(&next.to_string()), "{issued}");
    set_enrolment(&zeta, &code, Some(&next.to_string()));
    let cfg = zeta.config.to_string_lossy().into_owned();
    let out = zeta
        .custos(&["central", "enrol", "--again", "--config", &cfg])
        .output()
        .expect("enrol again");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(pinned_by(&zeta), next.to_string());
    let _zeta_serve = zeta.serve();
    zeta.add_user("clerk", "admin", "a long test password");
    centre.wait_sites(
        "zeta co-signed again, its history going on",
        Duration::from_secs(60),
        |l| cosigned(find(l, "sites", "zeta")) > zeta_before,
    );
    let trail = centre.cli(&["audit"]);
    assert!(trail.contains("site.reenrolled"), "{trail}");

    // Each pinning is in the site's log, with what it replaced.
    let token = delta.token("clerk");
    let entries = delta
        .get_json(&token, "/api/v1/audit?limit=500")
        .to_string();
    for pinned in [format!("{first}, {next}"), next.to_string()] {
        assert!(
            entries.contains("central.tls_pinned") && entries.contains(&pinned),
            "{pinned} pinned in the log: {entries}"
        );
    }
}

#[test]
fn evidence_escrowed_off_a_lost_box_verifies_with_the_centre_s_cosignature() {
    let pg = pg::Postgres::start();
    let (hook, _) = hook::receiver();
    let centre = Centre::start(&pg.create_db("escrow"), &hook);
    let witness = centre.witness_key();
    let store = s3::S3Store::start();
    let clips = tempfile::tempdir().expect("tempdir");
    let clip = covered_clip(clips.path());
    let camera = Camera::start(&[("/delta", &format!("file:{}", clip.display()))], None);
    let delta = site(
        "delta",
        &camera.url("/delta"),
        &centre,
        &centre.add_site("delta"),
    );
    let config = std::fs::read_to_string(&delta.config).expect("config");
    std::fs::write(
        &delta.config,
        format!(
            "{config}[escrow]\nendpoint = \"{}\"\nbucket = \"{}\"\n",
            store.endpoint, store.bucket
        ),
    )
    .expect("config");
    let key = delta.log_key();
    let credentials = [
        ("AWS_ACCESS_KEY_ID", store.access_key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", store.secret_key.as_str()),
    ];
    let mut serve = delta.serve_with_env(&credentials);

    // The lens is covered; the alert's window goes to the bucket, and the
    // log that seals it is published with the centre's cosignature.
    let index = delta.data_dir().join("custos.db");
    let deadline = Instant::now() + Duration::from_secs(150);
    let raised_ms: i64 = loop {
        let conn = rusqlite::Connection::open(&index).expect("index");
        let raised = conn
            .query_row(
                "SELECT raised_ms FROM alerts WHERE kind = 'tamper.covered'",
                [],
                |r| r.get(0),
            )
            .ok();
        if let Some(t) = raised {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "no tamper alert: {}",
            delta.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let bucket_url = format!("s3://{}/sites/delta", store.bucket);
    let source = EscrowSource {
        bucket_url: &bucket_url,
        endpoint: &store.endpoint,
        key: &key,
        credentials,
    };
    let (from, to) = (raised_ms - 3_000, raised_ms + 10_000);
    let export = |out: &Path| delta.export_from_escrow(&source, from, to, out);
    let verify_bundle = |out: &Path| {
        delta
            .custos(&[
                "verify",
                &out.to_string_lossy(),
                "--key",
                &key,
                "--witness",
                &witness,
            ])
            .output()
            .expect("verify")
    };
    // Until the window is escrowed and a co-signed checkpoint covers it.
    let tries = tempfile::tempdir().expect("tempdir");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let out = tries.path().join(attempt.to_string());
        if export(&out).status.success() && verify_bundle(&out).status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no co-signed evidence of the window in the bucket: {}",
            delta.log()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    serve.terminate(Duration::from_secs(30));

    // The box is gone: the bucket alone, the site's key and the centre's.
    std::fs::remove_dir_all(delta.data_dir()).expect("wipe the site");
    let bundle = tries.path().join("after");
    let made = export(&bundle);
    assert!(made.status.success(), "{}", text(&made));
    verify_with_witness(&delta, &bundle, &witness);
    let whole = delta
        .custos(&[
            "verify",
            "--escrow",
            &bucket_url,
            "--endpoint",
            &store.endpoint,
            "--key",
            &key,
            "--witness",
            &witness,
        ])
        .envs(credentials)
        .output()
        .expect("verify --escrow");
    assert!(whole.status.success(), "{}", text(&whole));
    assert!(
        text(&whole).contains(&format!("co-signed by {WITNESS_NAME}+")),
        "{}",
        text(&whole)
    );
}
