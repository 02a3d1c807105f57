//! The site every test runs against: its accounts, the secrets it was
//! given, canary files above its data directory, a recorded segment, an
//! offline camera, alerts with failed deliveries, a register filled through
//! the API and accounts locked by failed sign-ins.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::Router;
use custos_ledger::catalogue;
use custos_ledger::note::SigningKey;
use custos_media::source::{Source, SourceSpec, Transport};
use custos_server::auth::token_digest;
use custos_server::sessions::MAX_FAILURES;
use custos_server::{router, AppState, LogAccess};
use custos_site::camera::CameraSettings;
use custos_site::cameras::{CameraRegistry, LiveState};
use custos_site::settings::{
    FileChange, HoursSettings, ProbeFuture, ProbeRequest, ProbeResult, SettingsError, SiteSettings,
};
use custos_store::pool::StorePool;
use custos_store::{AttemptOutcome, CameraState, NewAlert, Role, Store, DB_FILE_NAME};
use serde_json::json;

use crate::common::{password_hash, record_segment, write_log};
use crate::requests::{login_from, send, send_json};
use crate::{Error, TestResult};

pub const T0: i64 = 1_764_340_000_000;

/// A user of the test site, with a password and an API token.
pub struct Account {
    pub name: &'static str,
    pub role: Role,
    pub password: &'static str,
    pub token_id: &'static str,
    pub token: &'static str,
}

pub const ADMIN: Account = Account {
    name: "ada",
    role: Role::Admin,
    password: "pw-ada-3c9f1e77b2d4",
    token_id: "secada",
    token: "cst_secada_TOKEN-ada-5d1c0e9a4b71",
};
pub const AUDITOR: Account = Account {
    name: "audrey",
    role: Role::Auditor,
    password: "pw-audrey-8a2e61c0f3",
    token_id: "secaudrey",
    token: "cst_secaudrey_TOKEN-audrey-e04b9d27",
};
pub const ARCHIVIST: Account = Account {
    name: "archie",
    role: Role::Archivist,
    password: "pw-archie-71d5b3a9e0",
    token_id: "secarchie",
    token: "cst_secarchie_TOKEN-archie-2f8c6a15",
};
pub const VIEWER: Account = Account {
    name: "vera",
    role: Role::Viewer,
    password: "pw-vera-c6e0274f91ab",
    token_id: "secvera",
    token: "cst_secvera_TOKEN-vera-93a1d8e7c4",
};
pub const ACCOUNTS: [&Account; 4] = [&ADMIN, &AUDITOR, &ARCHIVIST, &VIEWER];

/// A disabled account: its password is right, yet it never signs in.
pub const DISABLED: Account = Account {
    name: "dora",
    role: Role::Viewer,
    password: "pw-dora-5b0e4c18d7",
    token_id: "secdora",
    token: "cst_secdora_TOKEN-dora-6e2f09b1a8",
};

/// Accounts the setup locks with failed sign-ins from [`LOCKER`]; their
/// stored hash is no PHC string, so each failure is quick.
pub const LOCKED: [&str; 3] = ["locked0", "locked1", "locked2"];
const LOCKED_HASH: &str = "$argon2id$no-password-locked-in-the-setup";
const LOCKER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 99)),
    40000,
);

pub const CAMERA_PASSWORD: &str = "cam-PASSWORD-8e41d2f5";
pub const HOOK_SECRET: &str = "hook-HMAC-secret-61f0c9a2";
/// The token a Prometheus scraper sends for `GET /metrics`.
pub const METRICS_TOKEN: &str = "metrics-token-5a1e93c7d0b2";
pub const HOOK_URL_PASSWORD: &str = "hook-URL-password-a7b3e9";
pub const HOOK_QUERY_TOKEN: &str = "hook-query-token-0d5e7c";
pub const MQTT_PASSWORD: &str = "mqtt-PASSWORD-4c2b9a61";
pub const SMTP_PASSWORD: &str = "smtp-PASSWORD-93e1f70b";

/// Contents of the files one and two directories above the data directory.
pub const CANARY_NEAR: &str = "CANARY one directory above the data directory 5b7e";
pub const CANARY_FAR: &str = "CANARY two directories above the data directory 2c9d";
/// The index's first bytes: it must never be served either.
pub const SQLITE_MAGIC: &str = "SQLite format 3";

/// What the setup made, for filling in path parameters.
pub struct Ids {
    pub event: i64,
    pub export: String,
    /// Open alerts: [0..3] to acknowledge, [3..6] to resolve.
    pub alerts: Vec<i64>,
    /// An open inventory to scan into.
    pub scan_inventory: i64,
    /// Open inventories to close.
    pub close_inventories: Vec<i64>,
}

/// A site: `root/` holds the far canary, `root/site/` the near one and
/// `root/site/data/` is the data directory (index, segments, snapshots,
/// exports and the log).
pub struct Site {
    pub root: tempfile::TempDir,
    pub data: PathBuf,
    pub store: Arc<StorePool>,
    pub app: Router,
    pub key: SigningKey,
    pub ids: Ids,
    /// Every password hash in the index.
    pub hashes: Vec<String>,
    /// The site's settings, as the binary would keep them.
    pub settings: Arc<MemorySettings>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The site's settings in memory, with every call that would change the
/// configuration file, restart the pipeline or reach out to a camera.
#[derive(Default)]
pub struct MemorySettings {
    cameras: Mutex<Vec<CameraSettings>>,
    hours: Mutex<HoursSettings>,
    calls: Mutex<Vec<String>>,
}

/// Camera `cam` as the configuration file holds it.
pub fn front_door() -> CameraSettings {
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

    pub fn calls(&self) -> Vec<String> {
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

pub async fn site() -> Result<Site, Error> {
    site_with(false).await
}

pub async fn site_with(secure_cookies: bool) -> Result<Site, Error> {
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
        jobs: Default::default(),
        escrow: None,
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
