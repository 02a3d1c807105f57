//! The web app's security properties, in one suite, against the router
//! built in-process over a real index in a temporary directory:
//!
//! 1. **CSRF** — every route that may change something ([`CHANGES`],
//!    checked against the router's own OpenAPI document so a new route
//!    cannot be missed) refuses a cookie-authenticated request without the
//!    session's own `X-CSRF-Token` (none, a wrong one, another session's)
//!    with 403 and changes nothing in the index or on disk; the same request
//!    with a bearer token needs no CSRF token; no GET changes anything but
//!    the audit trail; sign-in takes only JSON, which a cross-site form
//!    cannot send.
//! 2. **Sessions** — a session id the client brings to sign-in is never
//!    adopted; sign-out ends the session on the server; sessions end after
//!    their lifetime and when idle; a disabled user's session stops working.
//! 3. **Lock-out** — repeated failed sign-ins lock the account (429 with
//!    `Retry-After`, the right password refused too), each failure and the
//!    lock are logged, other accounts are unaffected, and an unknown or
//!    disabled user gets exactly the answers a wrong password gets; one
//!    address may not try too fast.
//! 4. **Path traversal** — no path parameter of any route, however
//!    encoded, reaches a file outside its directory (canary files above the
//!    data directory are never served), nor does a path held by the index.
//! 5. **Secrets** — no response of any GET route, nor any error answer,
//!    holds a camera or notification password, a password hash, an API
//!    token or its digest, or a session's cookie secret.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use custos_ledger::catalogue;
use custos_ledger::entry::Entry;
use custos_ledger::note::SigningKey;
use custos_media::source::{Source, SourceSpec, Transport};
use custos_server::auth::token_digest;
use custos_server::sessions::{
    LOCK_MS, MAX_ATTEMPTS_PER_SOURCE, MAX_FAILURES, SESSION_IDLE_MS, SESSION_LIFETIME_MS,
};
use custos_server::{router, AppState, LogAccess};
use custos_site::camera::CameraSettings;
use custos_site::cameras::{CameraRegistry, LiveState};
use custos_site::settings::{
    FileChange, HoursSettings, ProbeFuture, ProbeRequest, ProbeResult, SettingsError, SiteSettings,
};
use custos_store::pool::StorePool;
use custos_store::{AttemptOutcome, CameraState, NewAlert, Role, Store, DB_FILE_NAME};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use common::{password_hash, record_segment, write_log};

type Error = Box<dyn std::error::Error>;
type TestResult = Result<(), Error>;

const T0: i64 = 1_764_340_000_000;

/// A user of the test site, with a password and an API token.
struct Account {
    name: &'static str,
    role: Role,
    password: &'static str,
    token_id: &'static str,
    token: &'static str,
}

const ADMIN: Account = Account {
    name: "ada",
    role: Role::Admin,
    password: "pw-ada-3c9f1e77b2d4",
    token_id: "secada",
    token: "cst_secada_TOKEN-ada-5d1c0e9a4b71",
};
const AUDITOR: Account = Account {
    name: "audrey",
    role: Role::Auditor,
    password: "pw-audrey-8a2e61c0f3",
    token_id: "secaudrey",
    token: "cst_secaudrey_TOKEN-audrey-e04b9d27",
};
const ARCHIVIST: Account = Account {
    name: "archie",
    role: Role::Archivist,
    password: "pw-archie-71d5b3a9e0",
    token_id: "secarchie",
    token: "cst_secarchie_TOKEN-archie-2f8c6a15",
};
const VIEWER: Account = Account {
    name: "vera",
    role: Role::Viewer,
    password: "pw-vera-c6e0274f91ab",
    token_id: "secvera",
    token: "cst_secvera_TOKEN-vera-93a1d8e7c4",
};
const ACCOUNTS: [&Account; 4] = [&ADMIN, &AUDITOR, &ARCHIVIST, &VIEWER];

/// A disabled account: its password is right, yet it never signs in.
const DISABLED: Account = Account {
    name: "dora",
    role: Role::Viewer,
    password: "pw-dora-5b0e4c18d7",
    token_id: "secdora",
    token: "cst_secdora_TOKEN-dora-6e2f09b1a8",
};

/// Accounts the setup locks with failed sign-ins from [`LOCKER`]; their
/// stored hash is no PHC string, so each failure is quick.
const LOCKED: [&str; 3] = ["locked0", "locked1", "locked2"];
const LOCKED_HASH: &str = "$argon2id$no-password-locked-in-the-setup";
const LOCKER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 99)),
    40000,
);

const CAMERA_PASSWORD: &str = "cam-PASSWORD-8e41d2f5";
const HOOK_SECRET: &str = "hook-HMAC-secret-61f0c9a2";
/// The token a Prometheus scraper sends for `GET /metrics`.
const METRICS_TOKEN: &str = "metrics-token-5a1e93c7d0b2";
const HOOK_URL_PASSWORD: &str = "hook-URL-password-a7b3e9";
const HOOK_QUERY_TOKEN: &str = "hook-query-token-0d5e7c";
const MQTT_PASSWORD: &str = "mqtt-PASSWORD-4c2b9a61";
const SMTP_PASSWORD: &str = "smtp-PASSWORD-93e1f70b";

/// Contents of the files one and two directories above the data directory.
const CANARY_NEAR: &str = "CANARY one directory above the data directory 5b7e";
const CANARY_FAR: &str = "CANARY two directories above the data directory 2c9d";
/// The index's first bytes: it must never be served either.
const SQLITE_MAGIC: &str = "SQLite format 3";

/// What the setup made, for filling in path parameters.
struct Ids {
    event: i64,
    export: String,
    /// Open alerts: [0..3] to acknowledge, [3..6] to resolve.
    alerts: Vec<i64>,
    /// An open inventory to scan into.
    scan_inventory: i64,
    /// Open inventories to close.
    close_inventories: Vec<i64>,
}

/// A site: `root/` holds the far canary, `root/site/` the near one and
/// `root/site/data/` is the data directory (index, segments, snapshots,
/// exports and the log).
struct Site {
    root: tempfile::TempDir,
    data: PathBuf,
    store: Arc<StorePool>,
    app: Router,
    key: SigningKey,
    ids: Ids,
    /// Every password hash in the index.
    hashes: Vec<String>,
    /// The site's settings, as the binary would keep them.
    settings: Arc<MemorySettings>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The site's settings in memory, with every call that would change the
/// configuration file, restart the pipeline or reach out to a camera.
#[derive(Default)]
struct MemorySettings {
    cameras: Mutex<Vec<CameraSettings>>,
    hours: Mutex<HoursSettings>,
    calls: Mutex<Vec<String>>,
}

/// Camera `cam` as the configuration file holds it.
fn front_door() -> CameraSettings {
    CameraSettings {
        id: "cam".to_owned(),
        name: "Front door".to_owned(),
        url: "rtsp://127.0.0.1:8554/front".to_owned(),
        analysis_url: None,
        transport: "tcp".to_owned(),
        username: Some("admin".to_owned()),
        password_env: Some("CUSTOS_CAM_PASSWORD".to_owned()),
        segment_seconds: 60,
        retain_days: Some(30),
        retain_bytes: None,
        enabled: true,
        analysis: Default::default(),
    }
}

impl MemorySettings {
    fn new() -> Self {
        MemorySettings {
            cameras: Mutex::new(vec![front_door()]),
            ..Default::default()
        }
    }

    fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    fn change(&self, what: String) -> FileChange {
        lock(&self.calls).push(what);
        FileChange {
            old_sha256: "0".repeat(64),
            new_sha256: "1".repeat(64),
        }
    }
}

impl SiteSettings for MemorySettings {
    fn cameras(&self) -> Result<Vec<CameraSettings>, SettingsError> {
        Ok(lock(&self.cameras).clone())
    }

    fn put_camera(&self, camera: &CameraSettings) -> Result<FileChange, SettingsError> {
        let mut cameras = lock(&self.cameras);
        cameras.retain(|c| c.id != camera.id);
        cameras.push(camera.clone());
        Ok(self.change(format!("camera {}", camera.id)))
    }

    fn hours(&self) -> Result<HoursSettings, SettingsError> {
        Ok(lock(&self.hours).clone())
    }

    fn set_hours(&self, hours: &HoursSettings) -> Result<FileChange, SettingsError> {
        *lock(&self.hours) = hours.clone();
        Ok(self.change("hours".to_owned()))
    }

    fn probe(&self, request: ProbeRequest) -> ProbeFuture {
        lock(&self.calls).push(format!("probe {}", request.url));
        Box::pin(async {
            Ok(ProbeResult {
                codec: "h264".to_owned(),
                rfc6381: "avc1.42C01E".to_owned(),
                width: 640,
                height: 360,
                fps: 10.0,
                gop_frames: Some(10),
                bitrate_bps: 1_000_000,
                sampled_seconds: 4.0,
                reorder_depth: 0,
            })
        })
    }

    fn apply(&self) {
        lock(&self.calls).push("apply".to_owned());
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> Result<u16, Error> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Why camera `yard` is offline, as the recorder would report it: the
/// error of a real connection attempt with a password in the URL.
async fn camera_error() -> Result<String, Error> {
    let url = format!(
        "rtsp://admin:{CAMERA_PASSWORD}@127.0.0.1:{}/stream",
        closed_port()?
    );
    let spec = SourceSpec {
        url: url.parse()?,
        transport: Transport::Tcp,
        credentials: Some(("admin".to_owned(), CAMERA_PASSWORD.to_owned())),
        tls_fingerprint: None,
    };
    match Source::connect(&spec).await {
        Ok(_) => Err("a closed port accepted an RTSP session".into()),
        Err(e) => Ok(e.to_string()),
    }
}

/// The notification destinations, each with secrets and unreachable.
fn destinations() -> Result<Vec<(String, custos_notify::Destination)>, Error> {
    use custos_notify::{Destination, MqttConfig, SmtpConfig, SmtpSecurity, WebhookConfig};
    let timeout = Duration::from_secs(2);
    Ok(vec![
        (
            "hook".to_owned(),
            Destination::Webhook(WebhookConfig {
                url: format!(
                    "http://hooker:{HOOK_URL_PASSWORD}@127.0.0.1:{}/hook?token={HOOK_QUERY_TOKEN}",
                    closed_port()?
                ),
                secret: HOOK_SECRET.to_owned(),
                timeout,
            }),
        ),
        (
            "broker".to_owned(),
            Destination::Mqtt(MqttConfig {
                host: "127.0.0.1".to_owned(),
                port: closed_port()?,
                username: Some("custos".to_owned()),
                password: Some(MQTT_PASSWORD.to_owned()),
                client_id: "custos-test".to_owned(),
                timeout,
            }),
        ),
        (
            "mail".to_owned(),
            Destination::Email(SmtpConfig {
                host: "127.0.0.1".to_owned(),
                port: closed_port()?,
                security: SmtpSecurity::None,
                username: Some("custos".to_owned()),
                password: Some(SMTP_PASSWORD.to_owned()),
                from: "Custos <custos@example.org>".to_owned(),
                to: vec!["desk@example.org".to_owned()],
                timeout,
            }),
        ),
    ])
}

/// Tries every due notification once, recording each attempt as the
/// site's notifier does.
async fn deliver_notifications(store: &Arc<StorePool>) -> TestResult {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        let destinations: BTreeMap<_, _> = destinations()
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        let store = store.lock_writer();
        let due = store
            .due_notifications(i64::MAX / 2, 1000)
            .map_err(|e| e.to_string())?;
        if due.is_empty() {
            return Err("no notification was queued".into());
        }
        for n in due {
            let dest = destinations.get(&n.destination).ok_or("destination")?;
            let msg = custos_notify::Message {
                id: n.id,
                site: "test".to_owned(),
                kind: custos_notify::MessageKind::Alert,
                subject: n.subject.clone(),
                body: n.body.clone(),
            };
            let outcome = match custos_notify::deliver(dest, &msg) {
                Ok(d) => AttemptOutcome::Delivered(d.detail),
                Err(e) if e.is_permanent() => AttemptOutcome::Failed(e.to_string()),
                Err(e) => AttemptOutcome::Retry {
                    error: e.to_string(),
                    retry_at_ms: T0 + 60_000,
                },
            };
            store
                .record_delivery_attempt(n.id, T0, &outcome)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .await?
    .map_err(Error::from)
}

async fn site() -> Result<Site, Error> {
    site_with(false).await
}

async fn site_with(secure_cookies: bool) -> Result<Site, Error> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("site/data");
    std::fs::create_dir_all(data.join("video/cam"))?;
    std::fs::write(root.path().join("site/canary.txt"), CANARY_NEAR)?;
    std::fs::write(root.path().join("canary.txt"), CANARY_FAR)?;

    let store = Store::open(&data.join(DB_FILE_NAME))?;
    let mut hashes = Vec::new();
    for a in ACCOUNTS.iter().copied().chain([&DISABLED]) {
        let hash = password_hash(a.password)?;
        let user = store.create_user(a.name, a.role, &hash, T0)?;
        store.create_token(a.token_id, user.id, None, &token_digest(a.token), T0)?;
        hashes.push(hash);
        if a.name == DISABLED.name {
            store.set_user_disabled(user.id, true)?;
        }
    }
    record_segment(&store, &data, T0, 0, 30)?;
    let event = store.insert_event("cam", "tamper.covered", T0 + 1000, &[], 0.9)?;
    std::fs::create_dir_all(data.join("snapshots/cam"))?;
    std::fs::write(data.join("snapshots/cam/1.jpg"), b"\xFF\xD8 a snapshot")?;
    store.set_event_snapshot(event, "snapshots/cam/1.jpg", &"ab".repeat(32))?;

    // Camera `yard` is offline with the error a real connection gave, in
    // the registry and in the index (with its log entry), as the recorder
    // and committer put it.
    let error = camera_error().await?;
    let cameras = Arc::new(CameraRegistry::new(
        [("cam", "Front door"), ("yard", "Back yard")],
        T0,
    ));
    cameras.set_state("cam", LiveState::Recording, None, T0 + 1);
    cameras.set_state("yard", LiveState::Offline, Some(error.clone()), T0 + 1);
    let leaf = catalogue::leaf(
        T0 + 1,
        &catalogue::CameraState {
            camera: "yard",
            at_ms: T0 + 1,
            state: "offline",
            detail: Some(&error),
        },
    )?;
    store.write("recording a camera state", |tx| {
        tx.log(leaf);
        tx.record_camera_state("yard", T0 + 1, CameraState::Offline, Some(&error))
    })?;

    // Alerts, queued for every destination.
    let names: Vec<String> = destinations()?.into_iter().map(|(n, _)| n).collect();
    let mut alerts = Vec::new();
    for i in 0..6 {
        let key = format!("test-{i}");
        let alert = custos_site::alerts::raise(
            &store,
            &NewAlert {
                kind: "camera.offline",
                subject_key: &key,
                summary: "Back yard is offline",
                camera: Some("yard"),
                barcode: None,
                details: &json!({"error": error}),
            },
            "test",
            &names,
            T0 + 2,
        )?
        .ok_or("alert not raised")?;
        alerts.push(alert.id);
    }

    let key = SigningKey::generate("test")?;
    let log_dir = data.join("log");
    write_log(&store, &log_dir, &key, T0)?;
    let store = Arc::new(StorePool::with_writer(store, &data.join(DB_FILE_NAME), 2)?);
    deliver_notifications(&store).await?;
    let settings = Arc::new(MemorySettings::new());
    let app = router(AppState {
        store: Arc::clone(&store),
        data_dir: data.clone(),
        cameras,
        site: "test".to_owned(),
        log: LogAccess {
            dir: log_dir,
            verifier: key.verifier(),
        },
        login_throttle: Default::default(),
        secure_cookies,
        alert_destinations: names,
        live: Default::default(),
        metrics: Some(Arc::new(custos_server::metrics::MetricsAccess::new(Some(
            METRICS_TOKEN,
        )))),
        settings: Some(Arc::clone(&settings) as Arc<dyn SiteSettings>),
    });

    // The register, through the API as an admin would fill it.
    let mut locations = String::from("code,name,kind,room,coverage\nR1,Room one,room,,cam\n");
    locations.push_str("R1-S1,Shelf one,shelf,R1,\nR2,Room two,room,,\nQ,Scan room,room,,\n");
    for i in 0..3 {
        locations.push_str(&format!(
            "V{i},Start room {i},room,,\nW{i},Close room {i},room,,\n"
        ));
    }
    let bearer = [("authorization", format!("Bearer {}", ADMIN.token))];
    for (uri, csv) in [
        ("/api/v1/register/import?kind=locations", locations),
        (
            "/api/v1/register/import?kind=items",
            "barcode,title,reference,classification,home_location\nA1,Box one,F1,open,R1-S1\nA2,Box two,F2,open,R1\n".to_owned(),
        ),
    ] {
        let a = send(&app, Method::POST, uri, &bearer, Some(("text/csv", csv))).await?;
        assert_eq!(a.status, StatusCode::CREATED, "{uri}: {}", a.text());
    }
    let a = send_json(
        &app,
        Method::POST,
        "/api/v1/people",
        &bearer,
        json!({"staff_id": "P1", "name": "Pat"}),
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    // A custody event inside the recorded span, so that answers listing
    // custody carry footage windows.
    let a = send_json(
        &app,
        Method::POST,
        "/api/v1/items/A1/custody",
        &bearer,
        json!({"action": "view", "by": "P1", "location": "R1", "at_ms": T0 + 1000}),
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let mut inventories = Vec::new();
    for location in ["Q", "W0", "W1", "W2"] {
        let a = send_json(
            &app,
            Method::POST,
            "/api/v1/inventories",
            &bearer,
            json!({"location": location}),
        )
        .await?;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
        inventories.push(a.json()?["id"].as_i64().ok_or("inventory id")?);
    }
    {
        let store = store.lock_writer();
        write_log(&store, &data.join("log"), &key, T0)?;
    }
    let a = send_json(
        &app,
        Method::POST,
        "/api/v1/exports",
        &bearer,
        json!({"camera": "cam", "start_ms": T0, "end_ms": T0 + 2000, "reason": "setup"}),
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let export = a.json()?["id"].as_str().ok_or("export id")?.to_owned();
    // Accounts locked by failed sign-ins (from an address of their own, so
    // the tests' own attempts are not slowed), for the unlock route.
    hashes.push(LOCKED_HASH.to_owned());
    for name in LOCKED {
        store
            .lock_writer()
            .create_user(name, Role::Viewer, LOCKED_HASH, T0)?;
        for i in 0..MAX_FAILURES {
            let a = login_from(&app, name, &format!("guess {i}"), Some(LOCKER)).await?;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
        }
    }
    {
        let store = store.lock_writer();
        write_log(&store, &data.join("log"), &key, T0)?;
    }
    Ok(Site {
        root,
        data,
        store,
        app,
        key,
        ids: Ids {
            event,
            export,
            alerts,
            scan_inventory: inventories[0],
            close_inventories: inventories[1..].to_vec(),
        },
        hashes,
        settings,
    })
}

/// A response: status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Result<Value, Error> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn error(&self) -> String {
        self.json()
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request with `headers` and an optional (content type, body),
/// from `peer` when given (as a served connection would say).
async fn send_from(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, String)],
    body: Option<(&str, String)>,
    peer: Option<SocketAddr>,
) -> Result<Answer, Error> {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let body = match body {
        Some((content_type, body)) => {
            request = request.header(header::CONTENT_TYPE, content_type);
            Body::from(body)
        }
        None => Body::empty(),
    };
    let mut request = request.body(body)?;
    if let Some(peer) = peer {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    let response = app.clone().oneshot(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    // A body that fails midway is an answer too (the status says what
    // was meant), not a reason to stop looking.
    let body = match response.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => Bytes::from(format!("<the body failed: {e}>")),
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, String)],
    body: Option<(&str, String)>,
) -> Result<Answer, Error> {
    send_from(app, method, uri, headers, body, None).await
}

async fn send_json(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, String)],
    body: Value,
) -> Result<Answer, Error> {
    send(
        app,
        method,
        uri,
        headers,
        Some(("application/json", body.to_string())),
    )
    .await
}

fn bearer(account: &Account) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {}", account.token))]
}

async fn login_from(
    app: &Router,
    user: &str,
    password: &str,
    peer: Option<SocketAddr>,
) -> Result<Answer, Error> {
    let body = json!({"user": user, "password": password}).to_string();
    send_from(
        app,
        Method::POST,
        "/api/v1/login",
        &[],
        Some(("application/json", body)),
        peer,
    )
    .await
}

async fn login(app: &Router, user: &str, password: &str) -> Result<Answer, Error> {
    login_from(app, user, password, None).await
}

/// A signed-in browser: its cookie and the session's CSRF token.
#[derive(Clone, Debug)]
struct Session {
    /// The cookie's value: the session's secret.
    secret: String,
    csrf: String,
}

impl Session {
    fn cookie(&self) -> (&'static str, String) {
        ("cookie", format!("custos_session={}", self.secret))
    }

    /// The cookie alone (what a cross-site request carries).
    fn ambient(&self) -> Vec<(&'static str, String)> {
        vec![self.cookie()]
    }

    /// The cookie and the CSRF token (what the app's own pages send).
    fn with_csrf(&self) -> Vec<(&'static str, String)> {
        vec![self.cookie(), ("x-csrf-token", self.csrf.clone())]
    }
}

/// The `custos_session` value a response sets.
fn set_cookie_value(a: &Answer) -> Result<String, Error> {
    let set = a.header("set-cookie").ok_or("no Set-Cookie")?;
    let pair = set.split(';').next().ok_or("empty Set-Cookie")?;
    Ok(pair
        .strip_prefix("custos_session=")
        .ok_or("not the session cookie")?
        .to_owned())
}

async fn sign_in(app: &Router, account: &Account) -> Result<Session, Error> {
    let a = login(app, account.name, account.password).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    Ok(Session {
        secret: set_cookie_value(&a)?,
        csrf: a.json()?["csrf_token"]
            .as_str()
            .ok_or("no csrf_token")?
            .to_owned(),
    })
}

/// Log entries waiting in the outbox, of `kind`.
fn queued(store: &Arc<StorePool>, kind: &str) -> Result<Vec<Entry>, Error> {
    let store = store.lock_writer();
    let mut found = Vec::new();
    for row in store.outbox(100_000)? {
        let e = Entry::from_leaf_bytes(&row.leaf)?;
        if e.kind == kind {
            found.push(e);
        }
    }
    Ok(found)
}

/// Columns that only record use (a session's or token's last use).
const USE_COLUMNS: &[&str] = &["last_seen_ms", "last_used_ms"];

/// Every row of every table of the index, as text, by table; with
/// `ignore_use`, without the columns that only record use and without the
/// log outbox (which the caller checks on its own).
fn dump(data: &Path, ignore_use: bool) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let conn = rusqlite::Connection::open_with_flags(
        data.join(DB_FILE_NAME),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = BTreeMap::new();
    for table in tables {
        if ignore_use && table == "log_outbox" {
            continue;
        }
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\""))?;
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut cells = Vec::with_capacity(names.len());
                for (i, name) in names.iter().enumerate() {
                    let v: rusqlite::types::Value = r.get(i)?;
                    cells.push(if ignore_use && USE_COLUMNS.contains(&name.as_str()) {
                        "-".to_owned()
                    } else {
                        format!("{name}={v:?}")
                    });
                }
                Ok(cells.join(" "))
            })?
            .collect::<Result<_, _>>()?;
        if ignore_use && table == "sqlite_sequence" {
            rows.retain(|r| !r.contains("\"log_outbox\""));
        }
        rows.sort();
        out.insert(table, rows);
    }
    Ok(out)
}

/// Every file under the data directory but the index, with its size.
fn files(data: &Path) -> Result<BTreeSet<(String, u64)>, Error> {
    let mut out = BTreeSet::new();
    let mut dirs = vec![data.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path.strip_prefix(data)?.to_string_lossy().into_owned();
            if !name.starts_with(DB_FILE_NAME) {
                out.insert((name, entry.metadata()?.len()));
            }
        }
    }
    Ok(out)
}

/// Everything a request could change: the index and the files.
/// Everything a request could change: the index, the files and the
/// settings (with the calls that reach out to cameras).
type SiteState = (
    BTreeMap<String, Vec<String>>,
    BTreeSet<(String, u64)>,
    Vec<String>,
);

fn state_of(site: &Site) -> Result<SiteState, Error> {
    Ok((
        dump(&site.data, false)?,
        files(&site.data)?,
        site.settings.calls(),
    ))
}

/// Every operation of the router's OpenAPI document: (method, path).
fn documented_operations() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(custos_server::openapi::openapi()).unwrap_or_default();
    let mut out = BTreeSet::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ] {
                if item.get(method).is_some() {
                    out.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    out
}

// ------------------------------------------------------------------ 1. CSRF

/// A request a route takes, and what it answers when it goes through.
struct Call {
    uri: String,
    body: Option<(&'static str, String)>,
}

fn call(uri: impl Into<String>, body: Value) -> Call {
    Call {
        uri: uri.into(),
        body: Some(("application/json", body.to_string())),
    }
}

/// A route that may change something: variant `n` (0, 1 or 2) of a
/// request that succeeds, and the answer with credentials that may make it
/// (a bearer token without a CSRF token, or the cookie with it).
struct Change {
    method: Method,
    route: &'static str,
    request: fn(&Ids, usize) -> Call,
    /// The answer to variant 0 sent with the admin's bearer token.
    bearer: StatusCode,
    /// The answer to variant 1 sent with the admin's cookie and CSRF token.
    cookie: StatusCode,
}

/// Every route of the router that may change something, with a request it
/// accepts. Sign-out comes last: its cookie variant ends the session the
/// others use. Sign-in is in [`OPEN_CHANGES`].
const CHANGES: &[Change] = &[
    Change {
        method: Method::POST,
        route: "/api/v1/exports",
        request: |_, n| {
            call(
                "/api/v1/exports",
                json!({"camera": "cam", "start_ms": T0, "end_ms": T0 + 2000, "reason": format!("csrf {n}")}),
            )
        },
        bearer: StatusCode::CREATED,
        cookie: StatusCode::CREATED,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/locations",
        request: |_, n| {
            call(
                "/api/v1/locations",
                json!({"code": format!("C{n}"), "name": "New room"}),
            )
        },
        bearer: StatusCode::CREATED,
        cookie: StatusCode::CREATED,
    },
    Change {
        method: Method::PUT,
        route: "/api/v1/locations/{code}",
        request: |_, n| {
            call(
                "/api/v1/locations/R2",
                json!({"name": format!("Room two, v{n}")}),
            )
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/people",
        request: |_, n| {
            call(
                "/api/v1/people",
                json!({"staff_id": format!("S{n}"), "name": "New person"}),
            )
        },
        bearer: StatusCode::CREATED,
        cookie: StatusCode::CREATED,
    },
    Change {
        method: Method::PUT,
        route: "/api/v1/people/{staff_id}",
        request: |_, n| call("/api/v1/people/P1", json!({"name": format!("Pat, v{n}")})),
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/items",
        request: |_, n| {
            call(
                "/api/v1/items",
                json!({"barcode": format!("N{n}"), "title": "New box", "home_location": "R1"}),
            )
        },
        bearer: StatusCode::CREATED,
        cookie: StatusCode::CREATED,
    },
    Change {
        method: Method::PATCH,
        route: "/api/v1/items/{barcode}",
        request: |_, n| {
            call(
                "/api/v1/items/A1",
                json!({"title": format!("Box one, v{n}")}),
            )
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/items/{barcode}/custody",
        request: |_, n| {
            call(
                "/api/v1/items/A2/custody",
                json!({"action": "copy", "by": "P1", "at_ms": T0 + n as i64}),
            )
        },
        bearer: StatusCode::CREATED,
        cookie: StatusCode::CREATED,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/inventories",
        request: |_, n| call("/api/v1/inventories", json!({"location": format!("V{n}")})),
        bearer: StatusCode::CREATED,
        cookie: StatusCode::CREATED,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/inventories/{id}/scans",
        request: |ids, n| {
            call(
                format!("/api/v1/inventories/{}/scans", ids.scan_inventory),
                json!({"barcode": format!("Z{n}")}),
            )
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/inventories/{id}/close",
        request: |ids, n| Call {
            uri: format!("/api/v1/inventories/{}/close", ids.close_inventories[n]),
            body: None,
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/register/import",
        request: |_, n| Call {
            uri: "/api/v1/register/import?kind=locations".to_owned(),
            body: Some((
                "text/csv",
                format!("code,name,kind,room,coverage\nI{n},Imported room,room,,\n"),
            )),
        },
        bearer: StatusCode::CREATED,
        cookie: StatusCode::CREATED,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/users",
        request: |_, n| {
            call(
                "/api/v1/users",
                json!({"name": format!("user{n}"), "role": "viewer", "password": format!("a long password {n}")}),
            )
        },
        bearer: StatusCode::CREATED,
        cookie: StatusCode::CREATED,
    },
    Change {
        method: Method::PATCH,
        route: "/api/v1/users/{name}",
        request: |_, n| {
            let role = ["viewer", "archivist", "auditor"][n];
            call("/api/v1/users/vera", json!({ "role": role }))
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/users/{name}/unlock",
        request: |_, n| Call {
            uri: format!("/api/v1/users/{}/unlock", LOCKED[n]),
            body: None,
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/log/verify",
        request: |_, _| Call {
            uri: "/api/v1/log/verify".to_owned(),
            body: None,
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/alerts/{id}/acknowledge",
        request: |ids, n| {
            call(
                format!("/api/v1/alerts/{}/acknowledge", ids.alerts[n]),
                json!({"note": "seen on the monitor"}),
            )
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/alerts/{id}/resolve",
        request: |ids, n| {
            call(
                format!("/api/v1/alerts/{}/resolve", ids.alerts[3 + n]),
                json!({"note": "camera back"}),
            )
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::PUT,
        route: "/api/v1/settings/cameras/{id}",
        request: |_, n| {
            let mut body = serde_json::to_value(front_door()).unwrap_or_default();
            body["name"] = json!(format!("Front door, v{n}"));
            call("/api/v1/settings/cameras/cam", body)
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::PUT,
        route: "/api/v1/settings/hours",
        request: |_, n| {
            call(
                "/api/v1/settings/hours",
                json!({"time_zone": "Europe/Berlin", "mon": format!("0{n}:00-17:00")}),
            )
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/settings/probe",
        request: |_, n| {
            call(
                "/api/v1/settings/probe",
                json!({"url": format!("rtsp://127.0.0.1:8554/probe{n}"), "username": "admin", "password": CAMERA_PASSWORD}),
            )
        },
        bearer: StatusCode::OK,
        cookie: StatusCode::OK,
    },
    Change {
        method: Method::POST,
        route: "/api/v1/logout",
        request: |_, _| Call {
            uri: "/api/v1/logout".to_owned(),
            body: None,
        },
        // A bearer token has no session to end.
        bearer: StatusCode::BAD_REQUEST,
        cookie: StatusCode::NO_CONTENT,
    },
];

/// Routes that may change something without credentials, and why no CSRF
/// token applies.
const OPEN_CHANGES: &[(&str, &str, &str)] = &[(
    "POST",
    "/api/v1/login",
    "takes the credentials in its JSON body, not from a cookie; a cross-site \
     form cannot send JSON (see sign_in_takes_only_json)",
)];

#[tokio::test]
async fn the_csrf_table_lists_every_route_that_may_change_something() -> TestResult {
    let documented: BTreeSet<(String, String)> = documented_operations()
        .into_iter()
        .filter(|(m, _)| m != "GET" && m != "HEAD" && m != "OPTIONS")
        .collect();
    let listed: BTreeSet<(String, String)> = CHANGES
        .iter()
        .map(|c| (c.method.to_string(), c.route.to_owned()))
        .chain(
            OPEN_CHANGES
                .iter()
                .map(|(m, r, _)| ((*m).to_owned(), (*r).to_owned())),
        )
        .collect();
    assert_eq!(
        documented, listed,
        "the router's state-changing operations (left) and the CSRF table (right) differ"
    );
    Ok(())
}

#[tokio::test]
async fn cookie_requests_that_change_things_need_the_sessions_own_csrf_token() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    let mine = sign_in(app, &ADMIN).await?;
    let other = sign_in(app, &ADMIN).await?;
    let someone_else = sign_in(app, &VIEWER).await?;
    assert_ne!(mine.csrf, other.csrf);
    let refusals: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no token", mine.ambient()),
        (
            "an empty token",
            vec![mine.cookie(), ("x-csrf-token", String::new())],
        ),
        (
            "a wrong token",
            vec![mine.cookie(), ("x-csrf-token", "0".repeat(64))],
        ),
        (
            "another session's token",
            vec![mine.cookie(), ("x-csrf-token", other.csrf.clone())],
        ),
        (
            "another user's token",
            vec![mine.cookie(), ("x-csrf-token", someone_else.csrf.clone())],
        ),
        (
            "the token in upper case",
            vec![mine.cookie(), ("x-csrf-token", mine.csrf.to_uppercase())],
        ),
        (
            "the token in another header",
            vec![mine.cookie(), ("x-xsrf-token", mine.csrf.clone())],
        ),
    ];
    for change in CHANGES {
        let before = state_of(&site)?;
        for (what, headers) in &refusals {
            let Call { uri, body } = (change.request)(&site.ids, 2);
            let a = send(app, change.method.clone(), &uri, headers, body).await?;
            assert_eq!(
                a.status,
                StatusCode::FORBIDDEN,
                "{} {uri} with the cookie and {what}: {}",
                change.method,
                a.text()
            );
            assert!(a.error().contains("CSRF"), "{}", a.error());
        }
        assert!(
            state_of(&site)? == before,
            "{} {} changed something without the CSRF token",
            change.method,
            change.route
        );

        // A bearer token is no ambient credential: no CSRF token needed.
        let Call { uri, body } = (change.request)(&site.ids, 0);
        let a = send(app, change.method.clone(), &uri, &bearer(&ADMIN), body).await?;
        assert_eq!(
            a.status,
            change.bearer,
            "{} {uri} by token: {}",
            change.method,
            a.text()
        );
        // The app's own pages send the token and get through.
        let Call { uri, body } = (change.request)(&site.ids, 1);
        let a = send(app, change.method.clone(), &uri, &mine.with_csrf(), body).await?;
        assert_eq!(
            a.status,
            change.cookie,
            "{} {uri} by cookie: {}",
            change.method,
            a.text()
        );
    }
    Ok(())
}

/// Every GET route of the router with concrete requests (the path
/// parameters filled with real ids) and the answer an admin gets.
fn get_requests(ids: &Ids) -> Vec<(&'static str, String, StatusCode)> {
    let ok = StatusCode::OK;
    let mut out = vec![
        ("/", "/".to_owned(), ok),
        ("/app/{file}", "/app/app.js".to_owned(), ok),
        ("/app/{file}", "/app/app.css".to_owned(), ok),
        ("/app/{file}", "/app/icon.svg".to_owned(), ok),
        ("/app/{file}", "/app/router.js".to_owned(), ok),
        (
            "/app/pages/{file}",
            "/app/pages/dashboard.js".to_owned(),
            ok,
        ),
        ("/api/v1/health", "/api/v1/health".to_owned(), ok),
        ("/metrics", "/metrics".to_owned(), ok),
        (
            "/api/v1/openapi.json",
            "/api/v1/openapi.json".to_owned(),
            ok,
        ),
        ("/api/v1/session", "/api/v1/session".to_owned(), ok),
        ("/api/v1/cameras", "/api/v1/cameras".to_owned(), ok),
        ("/api/v1/cameras/{id}", "/api/v1/cameras/cam".to_owned(), ok),
        (
            "/api/v1/cameras/{id}",
            "/api/v1/cameras/yard".to_owned(),
            ok,
        ),
        (
            "/api/v1/cameras/{id}/recordings",
            format!(
                "/api/v1/cameras/cam/recordings?start_ms={}&end_ms={}",
                T0 - 1000,
                T0 + 10_000
            ),
            ok,
        ),
        (
            "/api/v1/cameras/{id}/video.mp4",
            format!(
                "/api/v1/cameras/cam/video.mp4?start_ms={T0}&end_ms={}",
                T0 + 2000
            ),
            ok,
        ),
        // No live picture in these tests: the route answers, but has none.
        (
            "/api/v1/cameras/{id}/snapshot.jpg",
            "/api/v1/cameras/cam/snapshot.jpg".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        // Not a WebSocket handshake (the stream itself is media only; see
        // tests/live_view.rs).
        (
            "/api/v1/cameras/{id}/live",
            "/api/v1/cameras/cam/live".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/storage", "/api/v1/storage".to_owned(), ok),
        ("/api/v1/events", "/api/v1/events".to_owned(), ok),
        (
            "/api/v1/events/{id}/snapshot.jpg",
            format!("/api/v1/events/{}/snapshot.jpg", ids.event),
            ok,
        ),
        (
            "/api/v1/exports/{id}/bundle.tar",
            format!("/api/v1/exports/{}/bundle.tar", ids.export),
            ok,
        ),
        ("/api/v1/locations", "/api/v1/locations".to_owned(), ok),
        (
            "/api/v1/locations/{code}",
            "/api/v1/locations/R1".to_owned(),
            ok,
        ),
        ("/api/v1/people", "/api/v1/people".to_owned(), ok),
        (
            "/api/v1/people/{staff_id}",
            "/api/v1/people/P1".to_owned(),
            ok,
        ),
        ("/api/v1/items", "/api/v1/items".to_owned(), ok),
        ("/api/v1/items/{barcode}", "/api/v1/items/A1".to_owned(), ok),
        (
            "/api/v1/items/{barcode}/label.svg",
            "/api/v1/items/A1/label.svg".to_owned(),
            ok,
        ),
        (
            "/api/v1/labels",
            "/api/v1/labels?barcodes=A1,A2".to_owned(),
            ok,
        ),
        ("/api/v1/custody", "/api/v1/custody".to_owned(), ok),
        ("/api/v1/inventories", "/api/v1/inventories".to_owned(), ok),
        (
            "/api/v1/inventories/{id}",
            format!("/api/v1/inventories/{}", ids.scan_inventory),
            ok,
        ),
        ("/api/v1/users", "/api/v1/users".to_owned(), ok),
        (
            "/api/v1/settings/cameras",
            "/api/v1/settings/cameras".to_owned(),
            ok,
        ),
        (
            "/api/v1/settings/hours",
            "/api/v1/settings/hours".to_owned(),
            ok,
        ),
        ("/api/v1/audit", "/api/v1/audit".to_owned(), ok),
        ("/api/v1/log", "/api/v1/log".to_owned(), ok),
        ("/api/v1/alerts", "/api/v1/alerts".to_owned(), ok),
        (
            "/api/v1/alerts/{id}",
            format!("/api/v1/alerts/{}", ids.alerts[0]),
            ok,
        ),
        (
            "/api/v1/notifications",
            "/api/v1/notifications".to_owned(),
            ok,
        ),
    ];
    for report in [
        "item-custody?barcode=A1",
        "person-history?staff_id=P1",
        "items-out",
        "no-footage",
        "blind-spots",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("inventory?id={}", ids.scan_inventory)])
    {
        let sep = if report.contains('?') { '&' } else { '?' };
        out.push((
            "/api/v1/reports/{name}",
            format!("/api/v1/reports/{report}"),
            ok,
        ));
        out.push((
            "/api/v1/reports/{name}",
            format!("/api/v1/reports/{report}{sep}format=html"),
            ok,
        ));
    }
    out
}

#[tokio::test]
async fn the_get_table_lists_every_get_route() -> TestResult {
    let site = site().await?;
    let documented: BTreeSet<String> = documented_operations()
        .into_iter()
        .filter(|(m, _)| m == "GET")
        .map(|(_, p)| p)
        .chain(
            custos_server::openapi::WEB_ROUTES
                .iter()
                .map(|r| (*r).to_owned()),
        )
        .collect();
    let listed: BTreeSet<String> = get_requests(&site.ids)
        .into_iter()
        .map(|(route, _, _)| route.to_owned())
        .collect();
    assert_eq!(
        documented, listed,
        "GET routes (left) and the GET table (right) differ"
    );
    Ok(())
}

/// Log entries that record that something was seen: the only trace a GET
/// may leave.
const VIEW_ENTRIES: &[&str] = &["footage.viewed", "evidence.downloaded"];

#[tokio::test]
async fn no_get_changes_anything_but_the_audit_trail() -> TestResult {
    let site = site().await?;
    let session = sign_in(&site.app, &ADMIN).await?;
    let outbox_before = site.store.lock_writer().outbox(100_000)?.len();
    let before = (dump(&site.data, true)?, files(&site.data)?);
    for (_, uri, status) in get_requests(&site.ids) {
        // With the cookie and no CSRF token: what a cross-site page could do.
        let a = send(&site.app, Method::GET, &uri, &session.ambient(), None).await?;
        assert_eq!(a.status, status, "GET {uri}: {}", a.text());
        let a = send(&site.app, Method::GET, &uri, &bearer(&ADMIN), None).await?;
        assert_eq!(a.status, status, "GET {uri}: {}", a.text());
    }
    assert!(
        (dump(&site.data, true)?, files(&site.data)?) == before,
        "a GET changed the index or the files"
    );
    assert!(
        site.settings.calls().is_empty(),
        "{:?}",
        site.settings.calls()
    );
    let store = site.store.lock_writer();
    let added = store.outbox(100_000)?;
    assert!(added.len() > outbox_before, "views were not logged");
    for row in &added[outbox_before..] {
        let e = Entry::from_leaf_bytes(&row.leaf)?;
        assert!(
            VIEW_ENTRIES.contains(&e.kind.as_str()),
            "a GET logged {}",
            e.kind
        );
    }
    Ok(())
}

#[tokio::test]
async fn sign_in_takes_only_json() -> TestResult {
    // A cross-site form can send text/plain, urlencoded or multipart
    // bodies without a preflight; none of them signs anyone in.
    let site = site().await?;
    let body = json!({"user": ADMIN.name, "password": ADMIN.password}).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let a = send(
            &site.app,
            Method::POST,
            "/api/v1/login",
            &[],
            Some((content_type, body.clone())),
        )
        .await?;
        assert_eq!(
            a.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}: {}",
            a.text()
        );
        assert!(a.header("set-cookie").is_none());
    }
    assert!(queued(&site.store, "auth.login")?.is_empty());
    Ok(())
}

// -------------------------------------------------------------- 2. Sessions

#[tokio::test]
async fn a_session_id_chosen_before_sign_in_is_never_adopted() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    // A well-formed value an attacker planted, and a live session of
    // another user the browser still carries.
    let planted = "AttackerChosenSessionValue0123456789abcdefghij";
    let theirs = sign_in(app, &VIEWER).await?;
    for carried in [planted.to_owned(), theirs.secret.clone()] {
        let a = send(
            app,
            Method::POST,
            "/api/v1/login",
            &[("cookie", format!("custos_session={carried}"))],
            Some((
                "application/json",
                json!({"user": ADMIN.name, "password": ADMIN.password}).to_string(),
            )),
        )
        .await?;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        let fresh = set_cookie_value(&a)?;
        assert_ne!(fresh, carried, "the carried session id was adopted");
        // 256 random bits, URL-safe base64.
        assert!(fresh.len() >= 43, "{fresh}");
    }
    // The planted value authenticates nothing; the other user's session is
    // still theirs, not promoted to the admin who signed in after.
    let a = send(
        app,
        Method::GET,
        "/api/v1/session",
        &[("cookie", format!("custos_session={planted}"))],
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = send(app, Method::GET, "/api/v1/session", &theirs.ambient(), None).await?;
    assert_eq!(a.json()?["user"], VIEWER.name);
    let a = send(app, Method::GET, "/api/v1/users", &theirs.ambient(), None).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Two sign-ins of one user are two sessions, with their own CSRF tokens.
    let (one, two) = (sign_in(app, &ADMIN).await?, sign_in(app, &ADMIN).await?);
    assert_ne!(one.secret, two.secret);
    assert_ne!(one.csrf, two.csrf);
    Ok(())
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_secure_under_tls() -> TestResult {
    for tls in [false, true] {
        let site = site_with(tls).await?;
        let a = login(&site.app, ADMIN.name, ADMIN.password).await?;
        let set = a.header("set-cookie").ok_or("no Set-Cookie")?.to_owned();
        for attribute in [
            "HttpOnly".to_owned(),
            "SameSite=Strict".to_owned(),
            "Path=/".to_owned(),
            format!("Max-Age={}", SESSION_LIFETIME_MS / 1000),
        ] {
            assert!(set.contains(&attribute), "{set}");
        }
        assert_eq!(set.contains("; Secure"), tls, "{set}");
    }
    Ok(())
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    let session = sign_in(app, &ADMIN).await?;
    let other = sign_in(app, &ADMIN).await?;
    let a = send(
        app,
        Method::POST,
        "/api/v1/logout",
        &session.with_csrf(),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text());
    let cleared = a.header("set-cookie").ok_or("no Set-Cookie")?;
    assert!(
        cleared.starts_with("custos_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(queued(&site.store, "auth.logout")?.len(), 1);
    // Replaying the old cookie (a browser that ignored the clearing, or a
    // stolen copy) gets nothing, for reads and for changes.
    let a = send(
        app,
        Method::GET,
        "/api/v1/cameras",
        &session.ambient(),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    let a = send_json(
        app,
        Method::POST,
        "/api/v1/locations",
        &session.with_csrf(),
        json!({"code": "X1", "name": "x"}),
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    let a = send(
        app,
        Method::POST,
        "/api/v1/logout",
        &session.with_csrf(),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    assert_eq!(queued(&site.store, "auth.logout")?.len(), 1);
    // The same user's other session goes on.
    let a = send(app, Method::GET, "/api/v1/cameras", &other.ambient(), None).await?;
    assert_eq!(a.status, StatusCode::OK);
    Ok(())
}

/// Sets the session's times in the index, relative to now.
fn age_session(site: &Site, session: &Session, column: &str, ms_ago: i64) -> TestResult {
    let conn = rusqlite::Connection::open(site.data.join(DB_FILE_NAME))?;
    let changed = conn.execute(
        &format!("UPDATE sessions SET {column} = ?1 WHERE secret_sha256 = ?2"),
        rusqlite::params![now_ms() - ms_ago, token_digest(&session.secret)],
    )?;
    assert_eq!(changed, 1, "no such session");
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[tokio::test]
async fn sessions_end_after_their_lifetime_and_when_idle() -> TestResult {
    // The clock is the system's and the limits are constants, so the
    // session's recorded times are moved instead.
    let site = site().await?;
    let app = &site.app;
    let a = login(app, ADMIN.name, ADMIN.password).await?;
    let expires = a.json()?["expires_ms"].as_i64().ok_or("expires_ms")?;
    assert!(
        (expires - now_ms() - SESSION_LIFETIME_MS).abs() < 60_000,
        "{expires}"
    );

    // Idle for just under the limit: still good, and the use is recorded,
    // so an active session stays alive.
    let active = sign_in(app, &ADMIN).await?;
    age_session(&site, &active, "last_seen_ms", SESSION_IDLE_MS - 60_000)?;
    let a = send(app, Method::GET, "/api/v1/cameras", &active.ambient(), None).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    age_session(&site, &active, "last_seen_ms", SESSION_IDLE_MS - 60_000)?;
    let a = send(app, Method::GET, "/api/v1/cameras", &active.ambient(), None).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    // Idle for longer: ended.
    let idle = sign_in(app, &ADMIN).await?;
    age_session(&site, &idle, "last_seen_ms", SESSION_IDLE_MS + 1000)?;
    let a = send(app, Method::GET, "/api/v1/cameras", &idle.ambient(), None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    assert!(a.error().contains("sign in again"), "{}", a.error());
    // In use, but past its lifetime: ended.
    let old = sign_in(app, &ADMIN).await?;
    age_session(&site, &old, "expires_ms", 1)?;
    let a = send(app, Method::GET, "/api/v1/cameras", &old.ambient(), None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    let a = send(
        app,
        Method::POST,
        "/api/v1/log/verify",
        &old.with_csrf(),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    Ok(())
}

#[tokio::test]
async fn a_disabled_users_sessions_and_tokens_stop_working() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    let session = sign_in(app, &VIEWER).await?;
    let admin = bearer(&ADMIN);
    let a = send_json(
        app,
        Method::PATCH,
        "/api/v1/users/vera",
        &admin,
        json!({"disabled": true}),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = send(
        app,
        Method::GET,
        "/api/v1/cameras",
        &session.ambient(),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    let a = send(app, Method::GET, "/api/v1/cameras", &bearer(&VIEWER), None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    Ok(())
}

#[tokio::test]
async fn a_new_password_ends_the_sessions_signed_in_with_the_old_one() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    let stolen = sign_in(app, &VIEWER).await?;
    let a = send(app, Method::GET, "/api/v1/cameras", &stolen.ambient(), None).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = send_json(
        app,
        Method::PATCH,
        "/api/v1/users/vera",
        &bearer(&ADMIN),
        json!({"password": "a brand new long password"}),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = send(app, Method::GET, "/api/v1/cameras", &stolen.ambient(), None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    // The new password signs in; the old one does not.
    let a = login(app, "vera", "a brand new long password").await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = login(app, "vera", VIEWER.password).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    Ok(())
}

// -------------------------------------------------------------- 3. Lock-out

const WRONG: &str = "wrong user name or password";

#[tokio::test]
async fn repeated_failures_lock_the_account_and_every_step_is_logged() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    for i in 0..MAX_FAILURES {
        let a = login(app, ADMIN.name, &format!("not the password {i}")).await?;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "failure {i}: {}",
            a.text()
        );
        assert_eq!(a.error(), WRONG);
    }
    // Locked: the right password is refused too, in any spelling of the
    // name, with how long to wait.
    for name in [ADMIN.name, "ADA", " Ada "] {
        let a = login(app, name, ADMIN.password).await?;
        assert_eq!(
            a.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{name}: {}",
            a.text()
        );
        assert!(a.error().contains("locked"), "{}", a.error());
        assert!(a.header("set-cookie").is_none());
        let wait: i64 = a.header("retry-after").ok_or("no Retry-After")?.parse()?;
        assert!(wait > 0 && wait <= LOCK_MS / 1000, "Retry-After {wait}");
    }
    // Every failure logged with its reason, the lock once, no sign-in.
    let failed = queued(&site.store, "auth.login_failed")?;
    let reasons: Vec<Option<&str>> = failed.iter().map(|e| e.str_field("reason")).collect();
    let mut expected = vec![Some("wrong password"); MAX_FAILURES];
    expected.push(Some("account locked"));
    assert_eq!(reasons, expected);
    assert!(failed.iter().all(|e| e.str_field("user").is_some()));
    assert!(queued(&site.store, "auth.login")?.is_empty());
    // Other accounts are unaffected.
    let a = login(app, AUDITOR.name, AUDITOR.password).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    Ok(())
}

/// The refusal says until when the account is locked; the users list
/// shows the lock to admins, and an admin ends it (logged).
#[tokio::test]
async fn a_locked_account_is_told_until_when_and_an_admin_unlocks_it() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    for i in 0..MAX_FAILURES {
        login(app, AUDITOR.name, &format!("not the password {i}")).await?;
    }
    let before = chrono::Utc::now().timestamp_millis();
    let a = login(app, AUDITOR.name, AUDITOR.password).await?;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text());
    let until = a.json()?["locked_until_ms"]
        .as_i64()
        .ok_or("no locked_until_ms")?;
    assert!(
        until > before && until <= before + LOCK_MS,
        "locked until {until}, asked at {before}"
    );
    let until_text = chrono::DateTime::from_timestamp_millis(until)
        .ok_or("time")?
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    assert!(
        a.error()
            .contains(&format!("locked until {until_text} (15 min from now)")),
        "{}",
        a.error()
    );
    assert!(!a.error().contains("a while"), "{}", a.error());

    // Admins see the lock.
    let users = send(app, Method::GET, "/api/v1/users", &bearer(&ADMIN), None)
        .await?
        .json()?;
    let lock_of = |users: &Value, name: &str| {
        users["users"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["name"] == name))
            .map(|u| u["locked_until_ms"].clone())
    };
    assert_eq!(lock_of(&users, AUDITOR.name), Some(json!(until)), "{users}");
    assert_eq!(lock_of(&users, ADMIN.name), Some(Value::Null), "{users}");

    // Only an admin unlocks; the unlock is logged as a change of the user.
    let uri = format!("/api/v1/users/{}/unlock", AUDITOR.name);
    let a = send(app, Method::POST, &uri, &bearer(&AUDITOR), None).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
    assert!(queued(&site.store, "user.changed")?.is_empty());
    let a = send(app, Method::POST, &uri, &bearer(&ADMIN), None).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()?["locked_until_ms"], Value::Null, "{}", a.text());
    let changes = queued(&site.store, "user.changed")?;
    assert_eq!(changes.len(), 1);
    let logged = serde_json::from_slice::<Value>(&changes[0].to_leaf_bytes()?)?;
    assert_eq!(
        (
            &logged["name"],
            &logged["by"],
            &logged["unlocked"],
            &logged["password_changed"],
            &logged["locked_until_ms"]
        ),
        (
            &json!(AUDITOR.name),
            &json!(ADMIN.name),
            &json!(true),
            &json!(false),
            &json!(until)
        ),
        "{logged}"
    );
    let a = login(app, AUDITOR.name, AUDITOR.password).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());

    // Nothing to unlock: said so, and nothing logged.
    let a = send(app, Method::POST, &uri, &bearer(&ADMIN), None).await?;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text());
    assert!(a.error().contains("not locked"), "{}", a.error());
    let a = send(
        app,
        Method::POST,
        "/api/v1/users/nobody/unlock",
        &bearer(&ADMIN),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text());
    assert_eq!(queued(&site.store, "user.changed")?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn an_unknown_or_disabled_user_gets_the_answers_a_wrong_password_gets() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    let wrong = login(app, ADMIN.name, "not the password").await?;
    let unknown = login(app, "mallory", "not the password").await?;
    let disabled = login(app, DISABLED.name, DISABLED.password).await?;
    for (what, a) in [("unknown", &unknown), ("disabled", &disabled)] {
        assert_eq!(a.status, wrong.status, "{what}");
        assert_eq!(a.body, wrong.body, "{what}");
        let names = |h: &HeaderMap| h.keys().map(|k| k.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(names(&a.headers), names(&wrong.headers), "{what}");
    }
    // The log tells the operator which it was, but not a name that is no
    // one's (it may be a password typed into the wrong field).
    let failed = queued(&site.store, "auth.login_failed")?;
    let logged: Vec<(Option<&str>, Option<&str>)> = failed
        .iter()
        .map(|e| (e.str_field("user"), e.str_field("reason")))
        .collect();
    assert_eq!(
        logged,
        [
            (Some(ADMIN.name), Some("wrong password")),
            (Some(""), Some("unknown user")),
            (Some(DISABLED.name), Some("user disabled"))
        ]
    );
    // An unknown name locks like a real one, so the lock does not tell
    // either.
    for _ in 1..MAX_FAILURES {
        login(app, ADMIN.name, "not the password").await?;
        login(app, "mallory", "not the password").await?;
    }
    let real = login(app, ADMIN.name, "not the password").await?;
    let fake = login(app, "mallory", "not the password").await?;
    assert_eq!(real.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(fake.status, real.status);
    // The same answer, but for the lock's end, which each name's own
    // failures set.
    let masked = |a: &Answer| a.text().replace(|c: char| c.is_ascii_digit(), "#");
    assert_eq!(masked(&fake), masked(&real));
    assert_eq!(
        fake.header("retry-after").is_some(),
        real.header("retry-after").is_some()
    );
    let failed = queued(&site.store, "auth.login_failed")?;
    let locks: Vec<Option<&str>> = failed
        .iter()
        .filter(|e| e.str_field("reason") == Some("account locked"))
        .map(|e| e.str_field("user"))
        .collect();
    assert_eq!(locks, [Some(ADMIN.name), Some("")]);
    Ok(())
}

#[tokio::test]
async fn one_address_may_not_try_too_fast() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    let attacker: SocketAddr = "192.0.2.7:40000".parse()?;
    let desk: SocketAddr = "192.0.2.8:40000".parse()?;
    // Spread over many names, so no account locks.
    for i in 0..MAX_ATTEMPTS_PER_SOURCE {
        let a = login_from(app, &format!("guess{i}"), "password", Some(attacker)).await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{i}: {}", a.text());
    }
    let a = login_from(app, ADMIN.name, ADMIN.password, Some(attacker)).await?;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text());
    assert!(a.header("retry-after").is_some());
    assert!(a.header("set-cookie").is_none());
    // Another address signs in.
    let a = login_from(app, ADMIN.name, ADMIN.password, Some(desk)).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let logged = queued(&site.store, "auth.login")?;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].str_field("source"), Some("192.0.2.8"));
    Ok(())
}

// --------------------------------------------------------- 4. Path traversal

/// Path parameter values that try to leave a directory: plain, encoded,
/// double-encoded, with NUL, backslashes and absolute paths.
fn traversals(root: &Path) -> Vec<String> {
    let enc = |s: &str| s.replace('/', "%2F");
    let far = root.join("canary.txt").to_string_lossy().into_owned();
    let near = root.join("site/canary.txt").to_string_lossy().into_owned();
    vec![
        "..".to_owned(),
        ".".to_owned(),
        "%2e%2e".to_owned(),
        "..%2fcanary.txt".to_owned(),
        "..%2F..%2Fcanary.txt".to_owned(),
        "..%2F..%2F..%2Fcanary.txt".to_owned(),
        "%2e%2e%2fcanary.txt".to_owned(),
        "%2E%2E%2F%2E%2E%2Fcanary.txt".to_owned(),
        "%2e%2e%2f%2e%2e%2f%2e%2e%2fcanary.txt".to_owned(),
        "%252e%252e%252fcanary.txt".to_owned(),
        "....%2F%2Fcanary.txt".to_owned(),
        "..\\canary.txt".to_owned(),
        "..\\..\\canary.txt".to_owned(),
        "\\canary.txt".to_owned(),
        "..%5ccanary.txt".to_owned(),
        "..%5C..%5Ccanary.txt".to_owned(),
        "%2e%2e%5c%2e%2e%5ccanary.txt".to_owned(),
        "canary.txt%00".to_owned(),
        "%00".to_owned(),
        "..%2F..%2Fcanary.txt%00.jpg".to_owned(),
        "..%2F..%2Fcanary.txt%00.tar".to_owned(),
        "app.js%2F..%2F..%2F..%2Fcanary.txt".to_owned(),
        "exp-1-0123456789abcdef%2F..%2F..%2F..%2Fcanary.txt".to_owned(),
        "cam%2F..%2F..%2F..%2Fcanary.txt".to_owned(),
        "1%2F..%2F..%2F..%2Fcanary.txt".to_owned(),
        enc(&far),
        enc(&near),
        format!("%2F%2F{}", enc(far.trim_start_matches('/'))),
        format!("file:{}", enc(&far)),
        enc("/etc/passwd"),
        enc("custos.db"),
        "custos.db".to_owned(),
        "..%2Fdata%2Fcustos.db".to_owned(),
        "%2e%2e%2fsite%2fdata%2fcustos.db".to_owned(),
    ]
}

/// Paths with literal `..` segments or absolute paths in the URI itself.
fn literal_traversals(root: &Path) -> Vec<String> {
    let far = root.join("canary.txt").to_string_lossy().into_owned();
    vec![
        "/app/../canary.txt".to_owned(),
        "/app/../../canary.txt".to_owned(),
        "/app/%2e%2e/%2e%2e/canary.txt".to_owned(),
        "/api/v1/exports/../../canary.txt/bundle.tar".to_owned(),
        "/api/v1/events/1/../../../canary.txt".to_owned(),
        "/api/v1/cameras/cam/../../../../canary.txt".to_owned(),
        format!("/app/{far}"),
        format!("/app/..{far}"),
        format!("/api/v1/reports/..{far}"),
        "/../canary.txt".to_owned(),
        "/../../canary.txt".to_owned(),
        "/canary.txt".to_owned(),
    ]
}

/// Asserts that `a` is a refusal that serves no file outside its place.
fn assert_refused(uri: &str, a: &Answer) {
    assert!(
        a.status == StatusCode::BAD_REQUEST || a.status == StatusCode::NOT_FOUND,
        "GET {uri}: {} {}",
        a.status,
        a.text()
    );
    assert_serves_no_canary(uri, a);
}

fn assert_serves_no_canary(uri: &str, a: &Answer) {
    let text = a.text();
    for secret in [CANARY_NEAR, CANARY_FAR, SQLITE_MAGIC] {
        assert!(!text.contains(secret), "GET {uri} served {secret:?}");
    }
}

#[tokio::test]
async fn no_path_parameter_reaches_a_file_outside_its_directory() -> TestResult {
    let site = site().await?;
    let root = site.root.path().canonicalize()?;
    let admin = bearer(&ADMIN);
    // Every GET route with a path parameter, web app and API alike (the
    // GET table is checked against the router), filled with each attempt.
    let routes: BTreeSet<&str> = get_requests(&site.ids)
        .into_iter()
        .map(|(route, _, _)| route)
        .filter(|route| route.contains('{'))
        .collect();
    assert!(routes.contains("/app/{file}") && routes.contains("/api/v1/exports/{id}/bundle.tar"));
    let mut tried = 0;
    for route in &routes {
        let (head, rest) = route.split_once('{').ok_or("parameter")?;
        let (_, tail) = rest.split_once('}').ok_or("parameter")?;
        for attempt in traversals(&root) {
            let query = match *route {
                "/api/v1/cameras/{id}/video.mp4" => format!("?start_ms={T0}&end_ms={}", T0 + 2000),
                _ => String::new(),
            };
            let uri = format!("{head}{attempt}{tail}{query}");
            let a = send(&site.app, Method::GET, &uri, &admin, None).await?;
            assert_refused(&uri, &a);
            tried += 1;
        }
    }
    for uri in literal_traversals(&root) {
        let a = send(&site.app, Method::GET, &uri, &admin, None).await?;
        assert_refused(&uri, &a);
        tried += 1;
    }
    assert!(tried > 300, "{tried}");
    Ok(())
}

#[tokio::test]
async fn a_file_path_in_the_index_outside_the_data_directory_is_not_served() -> TestResult {
    // The store refuses such paths, so only a damaged or tampered index
    // holds one; the routes that read files check again.
    let site = site().await?;
    let admin = bearer(&ADMIN);
    let root = site.root.path().canonicalize()?;
    let conn = rusqlite::Connection::open(site.data.join(DB_FILE_NAME))?;
    for bad in [
        "../canary.txt".to_owned(),
        "../../canary.txt".to_owned(),
        "snapshots/../../canary.txt".to_owned(),
        root.join("canary.txt").to_string_lossy().into_owned(),
    ] {
        conn.execute(
            "UPDATE events SET snapshot = ?1 WHERE id = ?2",
            rusqlite::params![bad, site.ids.event],
        )?;
        let uri = format!("/api/v1/events/{}/snapshot.jpg", site.ids.event);
        let a = send(&site.app, Method::GET, &uri, &admin, None).await?;
        assert!(!a.status.is_success(), "snapshot {bad:?}: {}", a.status);
        assert_serves_no_canary(&uri, &a);
        assert!(!a.text().contains("canary.txt"), "{bad:?}: {}", a.text());

        conn.execute("UPDATE segments SET path = ?1", rusqlite::params![bad])?;
        let uri = format!(
            "/api/v1/cameras/cam/video.mp4?start_ms={T0}&end_ms={}",
            T0 + 2000
        );
        let a = send(&site.app, Method::GET, &uri, &admin, None).await?;
        assert!(!a.status.is_success(), "segment {bad:?}: {}", a.status);
        assert_serves_no_canary(&uri, &a);
        assert!(!a.text().contains("canary.txt"), "{bad:?}: {}", a.text());
    }
    // Nothing was logged as seen.
    assert!(queued(&site.store, "footage.viewed")?.is_empty());
    Ok(())
}

// ---------------------------------------------------------------- 5. Secrets

/// Every secret the site holds, named.
fn secrets(site: &Site, sessions: &[&Session]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![
        ("camera password".into(), CAMERA_PASSWORD.into()),
        ("webhook HMAC secret".into(), HOOK_SECRET.into()),
        ("metrics token".into(), METRICS_TOKEN.into()),
        ("webhook URL password".into(), HOOK_URL_PASSWORD.into()),
        ("webhook URL token".into(), HOOK_QUERY_TOKEN.into()),
        ("MQTT password".into(), MQTT_PASSWORD.into()),
        ("SMTP password".into(), SMTP_PASSWORD.into()),
        ("argon2 hash".into(), "$argon2".into()),
    ];
    for (i, hash) in site.hashes.iter().enumerate() {
        // The salt and hash parts, in case the prefix were stripped.
        let tail = hash.rsplit('$').next().unwrap_or_default().to_owned();
        out.push((format!("password hash {i}"), tail));
    }
    for a in ACCOUNTS.iter().copied().chain([&DISABLED]) {
        out.push((format!("{}'s password", a.name), a.password.into()));
        out.push((format!("{}'s token", a.name), a.token.into()));
        out.push((format!("{}'s token digest", a.name), token_digest(a.token)));
    }
    for (i, s) in sessions.iter().enumerate() {
        out.push((format!("session {i}'s cookie"), s.secret.clone()));
        out.push((format!("session {i}'s digest"), token_digest(&s.secret)));
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
}

fn assert_no_secret(what: &str, a: &Answer, secrets: &[(String, String)]) {
    for (name, secret) in secrets {
        assert!(
            !contains(&a.body, secret),
            "{what}: the body holds the {name}"
        );
        for (header, value) in &a.headers {
            assert!(
                !contains(value.as_bytes(), secret),
                "{what}: header {header} holds the {name}"
            );
        }
    }
}

#[tokio::test]
async fn no_response_holds_a_secret() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    // The secrets did reach the site: the camera's error and the failed
    // deliveries are shown (redacted) where operators look.
    let cookie = sign_in(app, &ADMIN).await?;
    let viewer = sign_in(app, &VIEWER).await?;
    let secrets = secrets(&site, &[&cookie, &viewer]);
    let a = send(
        app,
        Method::GET,
        "/api/v1/cameras/yard",
        &bearer(&ADMIN),
        None,
    )
    .await?;
    let error = a.json()?["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("refused"), "{error}");
    let a = send(
        app,
        Method::GET,
        "/api/v1/notifications",
        &bearer(&ADMIN),
        None,
    )
    .await?;
    let attempts = a.json()?["notifications"]
        .as_array()
        .ok_or("notifications")?
        .iter()
        .flat_map(|n| n["attempts_made"].as_array().cloned().unwrap_or_default())
        .count();
    assert!(attempts >= 3, "{}", a.text());

    // Every GET route, as an admin by token and by cookie, and as a viewer.
    let mut checked = 0;
    for (_, uri, status) in get_requests(&site.ids) {
        for (who, headers) in [
            ("admin token", bearer(&ADMIN)),
            ("admin cookie", cookie.ambient()),
            ("viewer cookie", viewer.ambient()),
        ] {
            let a = send(app, Method::GET, &uri, &headers, None).await?;
            if who != "viewer cookie" {
                assert_eq!(a.status, status, "GET {uri} by {who}: {}", a.text());
            }
            assert_no_secret(&format!("GET {uri} by {who}"), &a, &secrets);
            checked += 1;
        }
    }
    // Error answers: refused credentials, sign-in failures, the lock.
    let bad_credentials: Vec<Vec<(&str, String)>> = vec![
        vec![("authorization", format!("Bearer {}x", ADMIN.token))],
        vec![("authorization", format!("Basic {}", ADMIN.token))],
        vec![(
            "authorization",
            format!("Bearer {}", token_digest(ADMIN.token)),
        )],
        vec![(
            "cookie",
            format!("custos_session={}", token_digest(&cookie.secret)),
        )],
        vec![("cookie", format!("custos_session={}x", cookie.secret))],
    ];
    for headers in &bad_credentials {
        let a = send(app, Method::GET, "/api/v1/cameras", headers, None).await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_no_secret("a refused credential", &a, &secrets);
        checked += 1;
    }
    let a = send_json(
        app,
        Method::POST,
        "/api/v1/settings/probe",
        &bearer(&ADMIN),
        json!({"url": format!("http://admin:{CAMERA_PASSWORD}@127.0.0.1/"), "password": CAMERA_PASSWORD}),
    )
    .await?;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_no_secret("a refused probe", &a, &secrets);
    let a = send(
        app,
        Method::POST,
        "/api/v1/users",
        &cookie.ambient(),
        Some((
            "application/json",
            json!({"name": "x", "role": "viewer", "password": ADMIN.password}).to_string(),
        )),
    )
    .await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_no_secret("a refused change", &a, &secrets);
    for _ in 0..=MAX_FAILURES {
        let a = login(app, AUDITOR.name, ADMIN.password).await?;
        assert_no_secret("a failed sign-in", &a, &secrets);
        let a = login(app, ADMIN.password, AUDITOR.password).await?;
        assert_no_secret("a failed sign-in", &a, &secrets);
        checked += 2;
    }
    // A sign-in's answer carries the new cookie only in its header.
    let a = login(app, ARCHIVIST.name, ARCHIVIST.password).await?;
    let fresh = set_cookie_value(&a)?;
    assert!(
        !contains(&a.body, &fresh),
        "the sign-in's body holds the cookie"
    );
    let a = send(
        app,
        Method::GET,
        "/api/v1/session",
        &[("cookie", format!("custos_session={fresh}"))],
        None,
    )
    .await?;
    assert!(
        !contains(&a.body, &fresh),
        "the session's body holds the cookie"
    );
    assert_no_secret("the session", &a, &secrets);

    // What the log writer moved into the log is shown by the audit route.
    {
        let store = site.store.lock_writer();
        write_log(&store, &site.data.join("log"), &site.key, T0)?;
    }
    let a = send(
        app,
        Method::GET,
        "/api/v1/audit?limit=1000",
        &bearer(&ADMIN),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(a.text().contains("auth.login"), "{}", a.text());
    assert_no_secret("the audit trail", &a, &secrets);
    assert!(checked > 100, "{checked}");
    Ok(())
}

/// Every JSON answer of every GET route names each key of an object once:
/// a repeated key (custody events once had `no_footage` twice) means
/// whatever the client's parser keeps.
#[tokio::test]
async fn every_json_answer_names_each_key_once() -> TestResult {
    use common::strict_json::parse_strict;

    // The reader itself: a repeated key is refused at any depth.
    assert!(parse_strict(br#"{"a":1,"b":[true,null,"x",-2,0.5,{"c":{}}]}"#).is_ok());
    assert!(parse_strict(br#"[{"a":1},{"a":2}]"#).is_ok());
    for repeated in [
        &br#"{"a":1,"a":2}"#[..],
        br#"{"a":{"b":1,"c":2,"b":3}}"#,
        br#"[1,{"x":[{"no_footage":false,"id":1,"no_footage":true}]}]"#,
    ] {
        let e = parse_strict(repeated).expect_err("a repeated key");
        assert!(e.contains("appears twice in one object"), "{e}");
    }

    let site = site().await?;
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for (_, uri, status) in get_requests(&site.ids) {
        let a = send(&site.app, Method::GET, &uri, &bearer(&ADMIN), None).await?;
        assert_eq!(a.status, status, "GET {uri}: {}", a.text());
        let is_json = a
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        if !is_json {
            continue;
        }
        match parse_strict(&a.body) {
            Ok(_) => parsed.push(uri),
            Err(e) => problems.push(format!("GET {uri}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The answers that list custody events with their footage were read.
    for uri in [
        "/api/v1/items/A1",
        "/api/v1/custody",
        "/api/v1/reports/item-custody?barcode=A1",
        "/api/v1/reports/person-history?staff_id=P1",
    ] {
        assert!(
            parsed.iter().any(|p| p == uri),
            "{uri} not read: {parsed:?}"
        );
    }
    let a = send(
        &site.app,
        Method::GET,
        "/api/v1/items/A1",
        &bearer(&ADMIN),
        None,
    )
    .await?;
    let custody = a.json()?["custody"].clone();
    assert_eq!(custody[0]["action"], "view", "{custody}");
    assert!(custody[0]["footage"][0]["camera"] == "cam", "{custody}");
    Ok(())
}

/// `GET /metrics`: the scraper's token, or an admin's or auditor's
/// credentials; everyone else is refused, and the counters are there.
#[tokio::test]
async fn metrics_take_their_own_token_or_an_admin_and_refuse_the_rest() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    let scraper = vec![("authorization", format!("Bearer {METRICS_TOKEN}"))];
    let a = send(app, Method::GET, "/metrics", &scraper, None).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let text = a.text();
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
    for family in [
        "custos_pictures_received_total{camera=\"cam\"}",
        "custos_pictures_dropped_total{camera=\"cam\",reason=\"write_error\"}",
        "custos_alerts_unresolved",
        "custos_disk_used_bytes",
    ] {
        assert!(text.contains(family), "{family} missing:\n{text}");
    }
    let a = send(app, Method::GET, "/metrics", &bearer(&ADMIN), None).await?;
    assert_eq!(a.status, StatusCode::OK);
    let a = send(app, Method::GET, "/metrics", &bearer(&VIEWER), None).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
    let wrong = vec![("authorization", format!("Bearer {METRICS_TOKEN}x"))];
    let a = send(app, Method::GET, "/metrics", &wrong, None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    let a = send(app, Method::GET, "/metrics", &[], None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    Ok(())
}
