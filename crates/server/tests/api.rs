//! The API end to end: a real SQLite index in a temporary directory, real
//! segment files, and requests sent straight to the router.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use custos_ledger::bundle::verify_bundle;
use custos_ledger::entry::Entry;
use custos_ledger::note::SigningKey;
use custos_media::layout::parse_segment;
use custos_server::auth::token_digest;
use custos_server::{router, AppState, LogAccess};
use custos_site::cameras::{CameraRegistry, LiveState};
use custos_store::pool::StorePool;
use custos_store::{Role, Store, DB_FILE_NAME};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use common::{password_hash, record_segment, send_body, send_with, write_log, Answer, GOP};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const T0: i64 = 1_764_340_000_000;

const TOKEN: &str = "cst_test0001_good-secret";
const REVOKED_TOKEN: &str = "cst_test0002_revoked-secret";
const AUDITOR_TOKEN: &str = "cst_test0003_auditor-secret";
const ARCHIVIST_TOKEN: &str = "cst_test0004_archivist-secret";
const AUDITOR_PASSWORD: &str = "correct horse battery staple";

/// A site with camera `cam` (three recorded segments) and camera `idle`
/// (nothing recorded), and a viewer with one live and one revoked token.
struct Site {
    key: SigningKey,
    _dir: tempfile::TempDir,
    store: Arc<StorePool>,
    app: Router,
}

fn site() -> Result<Site, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("video/cam"))?;
    let store = Store::open(&dir.path().join(DB_FILE_NAME))?;
    let user = store.create_user("vera", Role::Viewer, "$argon2id$test", T0)?;
    store.create_token("test0001", user.id, None, &token_digest(TOKEN), T0)?;
    store.create_token("test0002", user.id, None, &token_digest(REVOKED_TOKEN), T0)?;
    store.revoke_token("test0002", T0)?;
    let auditor = store.create_user(
        "audrey",
        Role::Auditor,
        &password_hash(AUDITOR_PASSWORD)?,
        T0,
    )?;
    let archivist = store.create_user("archie", Role::Archivist, "$argon2id$test", T0)?;
    store.create_token(
        "test0004",
        archivist.id,
        None,
        &token_digest(ARCHIVIST_TOKEN),
        T0,
    )?;
    store.create_token(
        "test0003",
        auditor.id,
        None,
        &token_digest(AUDITOR_TOKEN),
        T0,
    )?;
    // T0..T0+3s and T0+3s..T0+6s of one stream, then after a 4 s outage
    // T0+10s..T0+12s of a new one.
    record_segment(&store, dir.path(), T0, 0, 30)?;
    record_segment(&store, dir.path(), T0 + 3000, 30, 30)?;
    record_segment(&store, dir.path(), T0 + 10_000, 0, 20)?;

    let cameras = Arc::new(CameraRegistry::new(
        [("cam", "Front door"), ("idle", "Back yard")],
        T0,
    ));
    cameras.set_state("cam", LiveState::Recording, None, T0 + 1);
    let key = SigningKey::generate("test")?;
    let log_dir = dir.path().join("log");
    write_log(&store, &log_dir, &key, T0)?;
    let store = Arc::new(StorePool::with_writer(
        store,
        &dir.path().join(DB_FILE_NAME),
        2,
    )?);
    let app = router(AppState {
        store: Arc::clone(&store),
        data_dir: dir.path().to_owned(),
        cameras,
        site: "test".to_owned(),
        log: LogAccess {
            dir: log_dir,
            verifier: key.verifier(),
        },
        login_throttle: Default::default(),
        secure_cookies: false,
        alert_destinations: Vec::new(),
        live: Default::default(),
        metrics: None,
        settings: None,
        jobs: Default::default(),
        escrow: None,
    });
    Ok(Site {
        key,
        _dir: dir,
        store,
        app,
    })
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
) -> Result<Answer, Box<dyn std::error::Error>> {
    send_body(app, method, uri, token, None).await
}

async fn get(app: &Router, uri: &str) -> Result<Answer, Box<dyn std::error::Error>> {
    send(app, Method::GET, uri, Some(TOKEN)).await
}

/// A GET as the auditor, a role that may play recorded footage back (the
/// viewer of [`get`] watches live only).
async fn watch(app: &Router, uri: &str) -> Result<Answer, Box<dyn std::error::Error>> {
    send(app, Method::GET, uri, Some(AUDITOR_TOKEN)).await
}

#[tokio::test]
async fn health_needs_no_token() -> TestResult {
    let site = site()?;
    let a = send(&site.app, Method::GET, "/api/v1/health", None).await?;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()?, serde_json::json!({"status": "ok"}));
    Ok(())
}

#[tokio::test]
async fn missing_bad_and_revoked_tokens_get_401() -> TestResult {
    let site = site()?;
    for token in [None, Some("cst_nope_nope"), Some(REVOKED_TOKEN)] {
        for uri in [
            "/api/v1/cameras",
            "/api/v1/cameras/cam",
            "/api/v1/cameras/cam/recordings",
            "/api/v1/cameras/cam/video.mp4?start_ms=1&end_ms=2",
        ] {
            let a = send(&site.app, Method::GET, uri, token).await?;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{uri} with {token:?}");
            assert_eq!(a.header("www-authenticate"), Some("Bearer"));
            assert!(a.error().contains("token") || a.error().contains("Authorization"));
        }
    }
    // A malformed header is refused the same way, without echoing it.
    let request = Request::builder()
        .uri("/api/v1/cameras")
        .header(header::AUTHORIZATION, format!("Basic {TOKEN}"))
        .body(Body::empty())?;
    let response = site.app.clone().oneshot(request).await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = response.into_body().collect().await?.to_bytes();
    assert!(!String::from_utf8_lossy(&body).contains(TOKEN));
    Ok(())
}

/// When `test0001` was last used, as the index has it.
fn token_last_used(site: &Site) -> Result<Option<i64>, Box<dyn std::error::Error>> {
    let tokens = site.store.lock_writer().list_tokens(None)?;
    let token = tokens.iter().find(|t| t.id == "test0001").ok_or("token")?;
    Ok(token.last_used_ms)
}

#[tokio::test]
async fn reads_and_sign_in_checks_go_on_while_a_write_holds_the_writer() -> TestResult {
    let site = site()?;
    let before = token_last_used(&site)?;
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let store = Arc::clone(&site.store);
    // Stands for a long import: the writer is held until released.
    let holder = std::thread::spawn(move || {
        store.write(|_| {
            let _ = held_tx.send(());
            let _ = release_rx.recv_timeout(std::time::Duration::from_secs(30));
        })
    });
    held_rx.recv_timeout(std::time::Duration::from_secs(10))?;
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        get(&site.app, "/api/v1/cameras"),
    )
    .await;
    release_tx.send(())?;
    holder.join().map_err(|_| "holder panicked")?;
    let answer = answered.map_err(|_| "the read waited for the writer")??;
    assert_eq!(answer.status, StatusCode::OK);
    // The token's use was not recorded while the writer was busy…
    assert_eq!(token_last_used(&site)?, before);
    // …and is on the next request.
    assert_eq!(
        get(&site.app, "/api/v1/cameras").await?.status,
        StatusCode::OK
    );
    assert!(token_last_used(&site)?.is_some_and(|ms| ms > T0));
    Ok(())
}

#[tokio::test]
async fn a_valid_token_is_marked_used() -> TestResult {
    let site = site()?;
    let a = get(&site.app, "/api/v1/cameras").await?;
    assert_eq!(a.status, StatusCode::OK);
    let tokens = site.store.lock_writer().list_tokens(None)?;
    let used = tokens.iter().find(|t| t.id == "test0001").ok_or("token")?;
    assert!(used.last_used_ms.is_some_and(|ms| ms > T0));
    Ok(())
}

#[tokio::test]
async fn cameras_are_listed_from_the_registry() -> TestResult {
    let site = site()?;
    let a = get(&site.app, "/api/v1/cameras").await?;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json()?;
    let cameras = v["cameras"].as_array().ok_or("cameras array")?;
    assert_eq!(cameras.len(), 2);
    let cam = &cameras[0];
    assert_eq!(cam["id"], "cam");
    assert_eq!(cam["name"], "Front door");
    assert_eq!(cam["state"], "recording");
    assert_eq!(cam["since_ms"], T0 + 1);
    for field in ["last_frame_ms", "codec", "width", "height", "error"] {
        assert!(cam.get(field).is_some(), "{field} missing");
    }
    assert_eq!(cameras[1]["id"], "idle");
    assert_eq!(cameras[1]["state"], "connecting");
    Ok(())
}

#[tokio::test]
async fn one_camera_with_its_recording_totals() -> TestResult {
    let site = site()?;
    let a = get(&site.app, "/api/v1/cameras/cam").await?;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json()?;
    assert_eq!(v["id"], "cam");
    assert_eq!(v["state"], "recording");
    assert_eq!(v["recorded"]["segments"], 3);
    assert_eq!(v["recorded"]["first_start_ms"], T0);
    assert_eq!(v["recorded"]["last_end_ms"], T0 + 12_000);
    assert!(v["recorded"]["bytes"].as_u64().is_some_and(|b| b > 0));

    let idle = get(&site.app, "/api/v1/cameras/idle").await?.json()?;
    assert_eq!(idle["recorded"]["segments"], 0);
    assert_eq!(idle["recorded"]["first_start_ms"], Value::Null);
    Ok(())
}

#[tokio::test]
async fn recordings_list_segments_and_gaps() -> TestResult {
    let site = site()?;
    let uri = format!(
        "/api/v1/cameras/cam/recordings?start_ms={}&end_ms={}",
        T0 - 2000,
        T0 + 15_000
    );
    let a = get(&site.app, &uri).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    let v = a.json()?;
    assert_eq!(v["camera"], "cam");
    assert_eq!(v["start_ms"], T0 - 2000);
    assert_eq!(v["end_ms"], T0 + 15_000);
    let segments = v["segments"].as_array().ok_or("segments array")?;
    let spans: Vec<(Value, Value)> = segments
        .iter()
        .map(|s| (s["start_ms"].clone(), s["end_ms"].clone()))
        .collect();
    assert_eq!(
        spans,
        [
            (T0, T0 + 3000),
            (T0 + 3000, T0 + 6000),
            (T0 + 10_000, T0 + 12_000)
        ]
        .map(|(a, b)| (Value::from(a), Value::from(b)))
    );
    let first = &segments[0];
    assert_eq!(first["frames"], 30);
    assert_eq!(first["state"], "sealed");
    assert_eq!(first["codec"], "avc1.42C01E");
    assert_eq!(first["width"], 640);
    assert_eq!(first["height"], 360);
    assert_eq!(first["recovered"], false);
    assert_eq!(first["hold"], false);
    assert!(first["id"].is_i64() && first["bytes"].as_u64().is_some_and(|b| b > 0));
    assert_eq!(first["sha256"].as_str().map(str::len), Some(64));
    assert!(first.get("path").is_none(), "file paths stay internal");
    assert_eq!(
        v["gaps"],
        serde_json::json!([
            {"start_ms": T0 - 2000, "end_ms": T0},
            {"start_ms": T0 + 6000, "end_ms": T0 + 10_000},
            {"start_ms": T0 + 12_000, "end_ms": T0 + 15_000},
        ])
    );

    // A window inside one segment has no gaps.
    let uri = format!(
        "/api/v1/cameras/cam/recordings?start_ms={}&end_ms={}",
        T0 + 500,
        T0 + 2500
    );
    let v = get(&site.app, &uri).await?.json()?;
    assert_eq!(v["segments"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["gaps"], serde_json::json!([]));
    Ok(())
}

#[tokio::test]
async fn recordings_default_to_the_last_day() -> TestResult {
    let site = site()?;
    let v = get(&site.app, "/api/v1/cameras/idle/recordings")
        .await?
        .json()?;
    let start = v["start_ms"].as_i64().ok_or("start_ms")?;
    let end = v["end_ms"].as_i64().ok_or("end_ms")?;
    assert_eq!(end - start, 24 * 60 * 60 * 1000);
    assert!(end > T0);
    assert_eq!(
        v["gaps"],
        serde_json::json!([{"start_ms": start, "end_ms": end}])
    );
    Ok(())
}

#[tokio::test]
async fn bad_parameters_get_400_naming_the_problem() -> TestResult {
    let site = site()?;
    let cases = [
        ("/api/v1/cameras/cam/recordings?start_ms=abc", "start_ms"),
        (
            "/api/v1/cameras/cam/recordings?start_ms=10&end_ms=10",
            "before",
        ),
        (
            "/api/v1/cameras/cam/recordings?start_ms=20&end_ms=10",
            "before",
        ),
        (
            "/api/v1/cameras/cam/recordings?start_ms=0&end_ms=2678400001",
            "31 days",
        ),
        ("/api/v1/cameras/cam/recordings?start=0", "start"),
        ("/api/v1/cameras/cam/video.mp4?start_ms=1", "end_ms"),
        (
            "/api/v1/cameras/cam/video.mp4?start_ms=1.5&end_ms=9",
            "start_ms",
        ),
        (
            "/api/v1/cameras/cam/video.mp4?start_ms=9&end_ms=1",
            "before",
        ),
        (
            "/api/v1/cameras/cam/video.mp4?start_ms=0&end_ms=21600001",
            "6 hours",
        ),
    ];
    for (uri, mentions) in cases {
        let a = watch(&site.app, uri).await?;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(a.header("content-type"), Some("application/json"), "{uri}");
        assert!(a.error().contains(mentions), "{uri}: {}", a.error());
    }
    // The longest allowed spans are accepted.
    let a = get(
        &site.app,
        "/api/v1/cameras/cam/recordings?start_ms=0&end_ms=2678400000",
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn unknown_cameras_get_404() -> TestResult {
    let site = site()?;
    for uri in [
        "/api/v1/cameras/nope",
        "/api/v1/cameras/nope/recordings",
        "/api/v1/cameras/nope/video.mp4?start_ms=1&end_ms=2",
    ] {
        let a = watch(&site.app, uri).await?;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(a.error().contains("\"nope\""), "{uri}: {}", a.error());
    }
    Ok(())
}

/// Fetches `video.mp4` of `start..end` from camera `cam` and checks the
/// headers and the MP4: `frames` frames from `first_ms` to `last_ms`.
async fn check_video(start: i64, end: i64, frames: u64, first_ms: i64, last_ms: i64) -> TestResult {
    let site = site()?;
    let uri = format!("/api/v1/cameras/cam/video.mp4?start_ms={start}&end_ms={end}");
    let a = watch(&site.app, &uri).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    assert_eq!(a.header("content-type"), Some("video/mp4"));
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let expected_name = format!("inline; filename=\"cam-{start}.mp4\"");
    assert_eq!(
        a.header("content-disposition"),
        Some(expected_name.as_str())
    );
    let start_header = first_ms.to_string();
    let end_header = last_ms.to_string();
    assert_eq!(a.header("x-custos-start-ms"), Some(start_header.as_str()));
    assert_eq!(a.header("x-custos-end-ms"), Some(end_header.as_str()));
    assert_eq!(a.header("x-custos-stopped-at-parameter-change"), None);
    let length = a.body.len().to_string();
    assert_eq!(a.header("content-length"), Some(length.as_str()));

    let layout = parse_segment(a.body.as_ref())?;
    assert_eq!(layout.trailing, None);
    assert_eq!(layout.frames(), frames);
    let sequences: Vec<u32> = layout.fragments.iter().map(|f| f.sequence).collect();
    let expected: Vec<u32> = (1..=(frames / GOP as u64) as u32).collect();
    assert_eq!(sequences, expected);
    assert_eq!(layout.fragments[0].wall_clock_ms, Some(first_ms));
    Ok(())
}

#[tokio::test]
async fn video_is_one_mp4_of_the_span() -> TestResult {
    // 1.5 s to 6 s: from the key frame at 1.0 s to the end of the second
    // file, so two files are joined.
    check_video(T0 + 1500, T0 + 6000, 50, T0 + 1000, T0 + 6000).await
}

#[tokio::test]
async fn video_of_a_span_ending_inside_a_segment() -> TestResult {
    // 1.5 s to 3.2 s: from the key frame at 1.0 s to the end of the GOP at
    // 3.0 s, which is in the second file.
    check_video(T0 + 1500, T0 + 3200, 30, T0 + 1000, T0 + 4000).await
}

#[tokio::test]
async fn video_of_an_unrecorded_span_is_404() -> TestResult {
    let site = site()?;
    for (camera, start, end) in [("cam", T0 + 6500, T0 + 9500), ("idle", T0, T0 + 1000)] {
        let uri = format!("/api/v1/cameras/{camera}/video.mp4?start_ms={start}&end_ms={end}");
        let a = watch(&site.app, &uri).await?;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert!(a.error().contains("nothing was recorded"), "{}", a.error());
    }
    Ok(())
}

#[tokio::test]
async fn video_of_a_lost_file_is_500_without_the_path() -> TestResult {
    let site = site()?;
    std::fs::remove_file(site._dir.path().join(format!("video/cam/{T0}.mp4")))?;
    let uri = format!(
        "/api/v1/cameras/cam/video.mp4?start_ms={T0}&end_ms={}",
        T0 + 1000
    );
    let a = watch(&site.app, &uri).await?;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!a.error().is_empty());
    assert!(!a.error().contains("video/cam"), "{}", a.error());
    Ok(())
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() -> TestResult {
    let site = site()?;
    for (method, uri, token) in [
        (Method::GET, "/api/v1/nothing", Some(TOKEN)),
        (Method::GET, "/api/v1/nothing", None),
        (Method::GET, "/favicon.ico", None),
        (Method::GET, "/api/v1/cameras/cam/extra/path", Some(TOKEN)),
    ] {
        let a = send(&site.app, method, uri, token).await?;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(a.error().contains(uri), "{uri}: {}", a.error());
    }
    let a = send(&site.app, Method::POST, "/api/v1/cameras", Some(TOKEN)).await?;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(a.error().contains("POST"), "{}", a.error());
    let allow = a.header("allow").unwrap_or_default();
    assert!(allow.contains("GET"), "{allow}");
    Ok(())
}

/// Log entries of `kind` waiting in the outbox.
fn queued(store: &Arc<StorePool>, kind: &str) -> Result<Vec<Entry>, Box<dyn std::error::Error>> {
    let store = store.lock_writer();
    let mut found = Vec::new();
    for row in store.outbox(1000)? {
        let e = Entry::from_leaf_bytes(&row.leaf)?;
        if e.kind == kind {
            found.push(e);
        }
    }
    Ok(found)
}

#[tokio::test]
async fn an_auditor_exports_a_bundle_that_verifies_and_both_steps_are_logged() -> TestResult {
    let site = site()?;
    let body = format!(
        r#"{{"camera":"cam","start_ms":{},"end_ms":{},"reason":"incident 7"}}"#,
        T0 + 1000,
        T0 + 5000
    );
    let a = send_body(
        &site.app,
        Method::POST,
        "/api/v1/exports",
        Some(AUDITOR_TOKEN),
        Some(&body),
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    let created = a.json()?;
    assert_eq!(created["segments"], 2);
    assert_eq!(created["tree_size"], 3);
    let id = created["id"].as_str().ok_or("id")?.to_owned();
    let exported = queued(&site.store, "footage.exported")?;
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].str_field("user"), Some("audrey"));
    assert_eq!(exported[0].str_field("reason"), Some("incident 7"));

    let uri = created["download"].as_str().ok_or("download")?.to_owned();
    assert_eq!(uri, format!("/api/v1/exports/{id}/bundle.tar"));
    let a = send(&site.app, Method::GET, &uri, Some(AUDITOR_TOKEN)).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/x-tar");
    assert_eq!(
        a.body.len() as u64,
        created["bytes"].as_u64().ok_or("bytes")?
    );
    assert_eq!(queued(&site.store, "evidence.downloaded")?.len(), 1);

    // Unpacked anywhere, the bundle proves itself with the site's key.
    let out = tempfile::tempdir()?;
    tar::Archive::new(&a.body[..]).unpack(out.path())?;
    let report = verify_bundle(&out.path().join(&id), Some(&site.key.verifier()));
    assert!(report.ok(), "{report}");
    Ok(())
}

#[tokio::test]
async fn exports_are_for_auditors_and_admins_and_check_their_input() -> TestResult {
    let site = site()?;
    let good = format!(
        r#"{{"camera":"cam","start_ms":{},"end_ms":{},"reason":"x"}}"#,
        T0,
        T0 + 5000
    );
    // A viewer may watch but not export.
    let a = send_body(
        &site.app,
        Method::POST,
        "/api/v1/exports",
        Some(TOKEN),
        Some(&good),
    )
    .await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.error());
    let a = send_body(
        &site.app,
        Method::POST,
        "/api/v1/exports",
        None,
        Some(&good),
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            good.replace(r#""reason":"x""#, r#""reason":"  ""#),
            StatusCode::BAD_REQUEST,
            "reason",
        ),
        (
            good.replace(r#","reason":"x""#, ""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason",
        ),
        (
            good.replace("\"cam\"", "\"nope\""),
            StatusCode::NOT_FOUND,
            "nope",
        ),
        (
            good.replace("\"cam\"", "\"idle\""),
            StatusCode::NOT_FOUND,
            "no sealed segments",
        ),
        ("{".to_owned(), StatusCode::BAD_REQUEST, "EOF"),
        (
            format!(
                r#"{{"camera":"cam","start_ms":{},"end_ms":{},"reason":"x"}}"#,
                T0 + 5,
                T0
            ),
            StatusCode::BAD_REQUEST,
            "before",
        ),
        (
            format!(
                r#"{{"camera":"cam","start_ms":0,"end_ms":{},"reason":"x"}}"#,
                i64::MAX
            ),
            StatusCode::BAD_REQUEST,
            "24 h",
        ),
    ];
    for (body, status, says) in cases {
        let a = send_body(
            &site.app,
            Method::POST,
            "/api/v1/exports",
            Some(AUDITOR_TOKEN),
            Some(&body),
        )
        .await?;
        assert_eq!(a.status, status, "{body}: {}", a.error());
        assert!(a.error().contains(says), "{body}: {}", a.error());
    }
    // Nothing that failed was logged as an export.
    assert!(queued(&site.store, "footage.exported")?.is_empty());

    for uri in [
        "/api/v1/exports/exp-1-0123456789abcdef/bundle.tar",
        "/api/v1/exports/..%2F..%2Fcustos.db/bundle.tar",
        "/api/v1/exports/exp-1-0123456789abcdef%2F..%2F..%2Fcustos.db/bundle.tar",
    ] {
        let a = send(&site.app, Method::GET, uri, Some(AUDITOR_TOKEN)).await?;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}: {}", a.error());
    }
    let a = send(
        &site.app,
        Method::GET,
        "/api/v1/exports/exp-1-0123456789abcdef/bundle.tar",
        Some(TOKEN),
    )
    .await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    Ok(())
}

async fn login(
    app: &Router,
    user: &str,
    password: &str,
) -> Result<Answer, Box<dyn std::error::Error>> {
    let body = serde_json::json!({"user": user, "password": password}).to_string();
    send_with(app, Method::POST, "/api/v1/login", &[], Some(&body)).await
}

/// The `name=value` part of a response's Set-Cookie.
fn cookie_of(a: &Answer) -> Result<String, Box<dyn std::error::Error>> {
    let set = a
        .headers
        .get(header::SET_COOKIE)
        .ok_or("no Set-Cookie")?
        .to_str()?;
    Ok(set.split(';').next().ok_or("empty Set-Cookie")?.to_owned())
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_is_logged() -> TestResult {
    let site = site()?;
    let a = login(&site.app, "Audrey", AUDITOR_PASSWORD).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    let set = a.headers[header::SET_COOKIE].to_str()?.to_owned();
    for attribute in [
        "custos_session=",
        "Path=/",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=43200",
    ] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    let info = a.json()?;
    assert_eq!(
        (info["user"].as_str(), info["role"].as_str()),
        (Some("audrey"), Some("auditor"))
    );
    let csrf = info["csrf_token"].as_str().ok_or("csrf")?.to_owned();
    let logins = queued(&site.store, "auth.login")?;
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].str_field("user"), Some("audrey"));
    assert_eq!(logins[0].str_field("source"), Some("unknown"));

    // The cookie authenticates reads, and the session says who and its token.
    let cookie = cookie_of(&a)?;
    let me = send_with(
        &site.app,
        Method::GET,
        "/api/v1/session",
        &[("cookie", &cookie)],
        None,
    )
    .await?;
    assert_eq!(me.status, StatusCode::OK, "{}", me.error());
    assert_eq!(me.json()?["csrf_token"].as_str(), Some(csrf.as_str()));
    let cams = send_with(
        &site.app,
        Method::GET,
        "/api/v1/cameras",
        &[("cookie", &cookie)],
        None,
    )
    .await?;
    assert_eq!(cams.status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn events_are_listed_filtered_and_their_snapshots_viewed_with_a_log_entry() -> TestResult {
    let site = site()?;
    let (covered, motion) = {
        let store = site.store.lock_writer();
        let motion = store.insert_event("cam", "motion", T0, &["desk".to_owned()], 0.4)?;
        store.end_event(motion, T0 + 4000, &["desk".to_owned()], 0.5)?;
        let covered = store.insert_event("cam", "tamper.covered", T0 + 5000, &[], 0.9)?;
        let jpeg = b"\xFF\xD8 not really a jpeg";
        std::fs::create_dir_all(site._dir.path().join("snapshots/cam"))?;
        std::fs::write(site._dir.path().join("snapshots/cam/1.jpg"), jpeg)?;
        store.set_event_snapshot(covered, "snapshots/cam/1.jpg", &"ab".repeat(32))?;
        (covered, motion)
    };
    let a = get(&site.app, "/api/v1/events").await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    let v = a.json()?;
    let ids: Vec<i64> = v["events"]
        .as_array()
        .ok_or("events")?
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![covered, motion]);
    assert_eq!(v["events"][1]["zones"][0], "desk");
    assert_eq!(v["events"][0]["end_ms"], Value::Null);
    assert_eq!(
        v["events"][0]["snapshot"].as_str(),
        Some(format!("/api/v1/events/{covered}/snapshot.jpg").as_str())
    );
    let a = get(&site.app, "/api/v1/events?kind=motion").await?;
    assert_eq!(a.json()?["events"].as_array().ok_or("events")?.len(), 1);
    let a = get(
        &site.app,
        &format!("/api/v1/events?start_ms={}&end_ms={}", T0 + 4500, T0 + 4800),
    )
    .await?;
    assert_eq!(a.json()?["events"].as_array().ok_or("events")?.len(), 0);
    for (uri, status) in [
        ("/api/v1/events?kind=explosion", StatusCode::BAD_REQUEST),
        ("/api/v1/events?camera=nope", StatusCode::NOT_FOUND),
        ("/api/v1/events?limit=0", StatusCode::BAD_REQUEST),
        (
            "/api/v1/events?start_ms=5&end_ms=5",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/events?colour=red", StatusCode::BAD_REQUEST),
    ] {
        let a = get(&site.app, uri).await?;
        assert_eq!(a.status, status, "{uri}: {}", a.error());
    }
    assert!(queued(&site.store, "footage.viewed")?.is_empty());
    let a = get(&site.app, &format!("/api/v1/events/{covered}/snapshot.jpg")).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    assert_eq!(a.headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(&a.body[..2], b"\xFF\xD8");
    let views = queued(&site.store, "footage.viewed")?;
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].int_field("event"), Some(covered));
    let a = get(&site.app, &format!("/api/v1/events/{motion}/snapshot.jpg")).await?;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = get(&site.app, "/api/v1/events/999/snapshot.jpg").await?;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = get(&site.app, "/api/v1/events/..%2F..%2Fcustos.db/snapshot.jpg").await?;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn register_inventories_reports_labels_and_who_may_do_what() -> TestResult {
    let site = site()?;
    let app = &site.app;
    let post = |uri: &'static str, token: &'static str, body: &'static str| {
        send_body(app, Method::POST, uri, Some(token), Some(body))
    };
    // A viewer reaches neither the register nor its reports; an auditor
    // reads but does not write.
    for uri in [
        "/api/v1/items",
        "/api/v1/locations",
        "/api/v1/reports/items-out",
    ] {
        assert_eq!(get(app, uri).await?.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let a = post(
        "/api/v1/locations",
        AUDITOR_TOKEN,
        r#"{"code":"R1","name":"Room"}"#,
    )
    .await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    // An archivist imports locations (with coverage), then items.
    let a = post(
        "/api/v1/register/import?kind=locations",
        ARCHIVIST_TOKEN,
        "code,name,kind,room,coverage\nR1,Room,room,,cam\nR1-S1,Shelf,shelf,R1,\nR2,Other room,room,,\n",
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    let a = post(
        "/api/v1/register/import?kind=items",
        ARCHIVIST_TOKEN,
        "barcode,title,reference,classification,home_location\nA1,Box <one>,F1,open,R1-S1\nA2,Box two,F2,open,R1\nA3,Box three,F3,open,R1\nA1,Again,F4,open,R9\n",
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rows = a.json()?["rows"].clone();
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{rows}");
    assert_eq!(rows[0]["line"], 5, "{rows}");
    let a = post(
        "/api/v1/register/import?kind=items",
        ARCHIVIST_TOKEN,
        "barcode,title,reference,classification,home_location\nA1,Box <one>,F1,open,R1-S1\nA2,Box two,F2,open,R1\nA3,Box three,F3,open,R1\nB1,Box b,F5,open,R2\n",
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    assert_eq!(a.json()?["rows"], 4);
    let a = send(
        app,
        Method::GET,
        "/api/v1/items?q=box+two",
        Some(AUDITOR_TOKEN),
    )
    .await?;
    assert_eq!(a.json()?["items"][0]["barcode"], "A2");

    // An inventory of the room: A1 on its shelf and B1 (from R2) are
    // scanned, A2 is, A3 is not, and an unknown label turns up.
    let a = post(
        "/api/v1/inventories",
        ARCHIVIST_TOKEN,
        r#"{"location":"R1"}"#,
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    let id = a.json()?["id"].as_i64().ok_or("inventory id")?;
    for code in ["A1", "A2", "B1", "ZZ9", "A1"] {
        let a = send_body(
            app,
            Method::POST,
            &format!("/api/v1/inventories/{id}/scans"),
            Some(ARCHIVIST_TOKEN),
            Some(&format!(r#"{{"barcode":"{code}"}}"#)),
        )
        .await?;
        assert_eq!(a.status, StatusCode::OK, "{code}: {}", a.error());
    }
    let a = send(
        app,
        Method::POST,
        &format!("/api/v1/inventories/{id}/close"),
        Some(ARCHIVIST_TOKEN),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    let report = a.json()?;
    assert_eq!(report["missing"], serde_json::json!(["A3"]), "{report}");
    assert_eq!(report["misplaced"][0]["barcode"], "B1", "{report}");
    assert_eq!(report["unexpected"][0]["barcode"], "ZZ9", "{report}");
    let a = send(
        app,
        Method::POST,
        &format!("/api/v1/inventories/{id}/close"),
        Some(ARCHIVIST_TOKEN),
    )
    .await?;
    assert_eq!(a.status, StatusCode::CONFLICT, "closed twice");
    // A1 was seen on its shelf: it stays there.
    let a = send(app, Method::GET, "/api/v1/items/A1", Some(AUDITOR_TOKEN)).await?;
    let item = a.json()?;
    assert_eq!(item["item"]["location"], "R1-S1", "{item}");
    assert_eq!(item["custody"][0]["action"], "inventory_seen", "{item}");

    // Reports: JSON and printable HTML, escaped.
    let a = send(
        app,
        Method::GET,
        "/api/v1/reports/item-custody?barcode=A1&format=html",
        Some(AUDITOR_TOKEN),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), Some("text/html; charset=utf-8"));
    let html = String::from_utf8_lossy(&a.body).into_owned();
    assert!(
        html.contains("Box &lt;one&gt;") && !html.contains("Box <one>"),
        "{html}"
    );
    let a = send(
        app,
        Method::GET,
        "/api/v1/reports/blind-spots",
        Some(AUDITOR_TOKEN),
    )
    .await?;
    let codes: Vec<String> = a.json()?["locations"]
        .as_array()
        .ok_or("list")?
        .iter()
        .filter_map(|l| l["code"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(codes, ["R2"]);
    let a = send(
        app,
        Method::GET,
        "/api/v1/reports/nonsense",
        Some(AUDITOR_TOKEN),
    )
    .await?;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // Labels: an SVG per item, a printable page per location.
    let a = send(
        app,
        Method::GET,
        "/api/v1/items/A1/label.svg",
        Some(AUDITOR_TOKEN),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), Some("image/svg+xml"));
    assert!(
        String::from_utf8_lossy(&a.body).starts_with("<svg")
            || String::from_utf8_lossy(&a.body).starts_with("<?xml")
    );
    let a = send(
        app,
        Method::GET,
        "/api/v1/labels?location=R1",
        Some(AUDITOR_TOKEN),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    let page = String::from_utf8_lossy(&a.body).into_owned();
    assert!(page.contains("A2") && page.contains("<svg"), "{page}");

    // Every change went to the log outbox with its row.
    let store = site.store.lock_writer();
    let kinds: Vec<String> = store
        .outbox(10_000)?
        .iter()
        .filter_map(|e| serde_json::from_slice::<Value>(&e.leaf).ok())
        .filter_map(|v| v["type"].as_str().map(str::to_owned))
        .collect();
    for wanted in [
        "register.location",
        "register.item",
        "register.import",
        "inventory.started",
        "custody.event",
        "inventory.closed",
    ] {
        assert!(
            kinds.iter().any(|k| k == wanted),
            "{wanted} not logged: {kinds:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_web_app_is_served_with_a_strict_policy_and_nothing_else() -> TestResult {
    let site = site()?;
    let app = &site.app;
    let a = send(app, Method::GET, "/", None).await?;
    assert_eq!(a.status, StatusCode::OK);
    let csp = a
        .header("content-security-policy")
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
    let html = String::from_utf8_lossy(&a.body).into_owned();
    assert!(
        html.contains("/app/app.js") && !html.contains("http"),
        "{html}"
    );
    let a = send(app, Method::GET, "/app/app.js", None).await?;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    // Live view needs a credential, and a WebSocket.
    let a = send(app, Method::GET, "/api/v1/cameras/cam/live", None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = send(app, Method::GET, "/api/v1/cameras/cam/live", Some(TOKEN)).await?;
    assert!(a.status.is_client_error(), "{}", a.status);
    let a = send(app, Method::GET, "/api/v1/cameras/nope/live", Some(TOKEN)).await?;
    assert!(a.status.is_client_error(), "{}", a.status);
    // Only the listed files: no paths, no traversal, no source files.
    for uri in [
        "/app/..%2F..%2FCargo.toml",
        "/app/%2e%2e%2fsrc%2flib.rs",
        "/app/../src/lib.rs",
        "/app/web.rs",
        "/app/",
        "/app/app.js/x",
    ] {
        let a = send(app, Method::GET, uri, None).await?;
        assert!(
            a.status == StatusCode::NOT_FOUND,
            "{uri}: {} {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
    }
    Ok(())
}

/// Posts `csv` to `POST /api/v1/register/import?kind=KIND` as the archivist.
async fn import_csv(
    app: &Router,
    kind: &str,
    csv: &[u8],
) -> Result<Answer, Box<dyn std::error::Error>> {
    import_csv_with(app, kind, csv, None).await
}

/// [`import_csv`] with a `Prefer` header, if any.
async fn import_csv_with(
    app: &Router,
    kind: &str,
    csv: &[u8],
    prefer: Option<&str>,
) -> Result<Answer, Box<dyn std::error::Error>> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/register/import?kind={kind}"))
        .header(header::AUTHORIZATION, format!("Bearer {ARCHIVIST_TOKEN}"))
        .header(header::CONTENT_TYPE, "text/csv");
    if let Some(prefer) = prefer {
        request = request.header("Prefer", prefer);
    }
    let request = request.body(Body::from(csv.to_vec()))?;
    let response = app.clone().oneshot(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The line (counted from 1) of `file` holding `needle`, which must be on
/// exactly one line; lines end at LF, CRLF or CR, as an editor shows them.
fn line_of(file: &[u8], needle: &str) -> u64 {
    let text = String::from_utf8_lossy(file)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let hits: Vec<u64> = text
        .split('\n')
        .enumerate()
        .filter(|(_, line)| line.contains(needle))
        .map(|(n, _)| n as u64 + 1)
        .collect();
    assert_eq!(hits.len(), 1, "{needle:?} is on lines {hits:?}");
    hits[0]
}

/// A spreadsheet's "CSV UTF-8" file through the API: each bad row is named
/// by the line an editor shows it on; a quote that is not doubled refuses
/// the file; without its bad rows it imports, values intact.
#[tokio::test]
async fn a_spreadsheet_import_names_the_lines_of_the_file() -> TestResult {
    let site = site()?;
    let app = &site.app;
    // A camera the site does not have is named with its row's line.
    let a = import_csv(
        app,
        "locations",
        b"\xEF\xBB\xBFCode,NAME,coverage\r\nR01,Strong room,cam\r\n\r\nR02,\"Reading room,\nground floor\",cam;lobby\r\n",
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.error());
    assert_eq!(
        a.json()?["rows"],
        serde_json::json!([{"line": 4, "column": "coverage",
            "reason": "camera \"lobby\" is not one of the site's cameras"}])
    );
    let a = import_csv(
        app,
        "locations",
        b"\xEF\xBB\xBFCode,NAME,coverage\r\nR01,Strong room,cam\r\n\r\nR02,\"Reading room,\nground floor\",\r\n",
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    let a = import_csv(
        app,
        "people",
        b"\xEF\xBB\xBFstaff_id,Name,BADGE\r\np1,Ada,B-1\r\n\r\np2,Bo,B-1\r\n",
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.error());
    let rows = a.json()?["rows"].clone();
    assert_eq!(
        rows,
        serde_json::json!([{"line": 4, "column": "badge",
            "reason": "badge \"B-1\" appears again; first on line 2"}])
    );

    let mut bad = b"\xEF\xBB\xBF".to_vec();
    bad.extend_from_slice(
        b"Title,HOME_LOCATION,Barcode\r\n\
          \"Minutes of the board,\n1901\",R01,GOOD-1\r\n\
          \r\n\
          ,,\r\n\
          Unknown home,NOPE,BAD-HOME\r\n\
          \"A cell\nover\nthree lines\",R02,GOOD-2\r\n\
          \r\n\
          ,R01,BAD-TITLE\r\n\
          \"Letters \"\"to\"\" the mayor\",R01,GOOD-3\r\n\
          \"Map \"1850\" sheet\",R01,BAD-QUOTE\r\n\
          Minutes 1901 \"draft,R01,BAD-LOOSE\r\n\
          Again,R01,GOOD-1\r\n",
    );
    let a = import_csv(app, "items", &bad).await?;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.error());
    let answer = a.json()?;
    let got: Vec<(u64, String)> = answer["rows"]
        .as_array()
        .ok_or("rows")?
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap_or(0),
                r["column"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = [
        ("BAD-HOME", "home_location"),
        ("BAD-TITLE", "title"),
        ("BAD-QUOTE", "title"),
        ("BAD-LOOSE", "title"),
        ("Again", "barcode"),
    ]
    .iter()
    .map(|(needle, column)| (line_of(&bad, needle), (*column).to_owned()))
    .collect();
    assert_eq!(got, expected, "{answer}");

    let good: Vec<u8> = String::from_utf8(bad.clone())?
        .split_inclusive("\r\n")
        .filter(|l| !l.contains("BAD-") && !l.contains("Again"))
        .collect::<String>()
        .into_bytes();
    let a = import_csv(app, "items", &good).await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    assert_eq!(a.json()?["rows"], 3);
    let a = send(
        app,
        Method::GET,
        "/api/v1/items/GOOD-1",
        Some(AUDITOR_TOKEN),
    )
    .await?;
    assert_eq!(a.json()?["item"]["title"], "Minutes of the board,\n1901");
    let a = send(
        app,
        Method::GET,
        "/api/v1/items/GOOD-3",
        Some(AUDITOR_TOKEN),
    )
    .await?;
    assert_eq!(a.json()?["item"]["title"], "Letters \"to\" the mayor");
    Ok(())
}

/// The printable chain of custody links every footage window with anything
/// recorded to its video, and says in words when a window was not recorded
/// (or no camera covers the place).
#[tokio::test]
async fn the_printable_chain_of_custody_links_each_window_to_its_video() -> TestResult {
    use scraper::{Html, Selector};

    let site = site()?;
    let app = &site.app;
    {
        // 60 s of `cam` from T0+100 s: a whole footage window.
        let store = site.store.lock_writer();
        record_segment(&store, site._dir.path(), T0 + 100_000, 0, 600)?;
    }
    let a = import_csv(
        app,
        "locations",
        b"code,name,coverage\nR1,Watched room,cam\nR2,Idle camera's room,idle\nR3,Unwatched room,\n",
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    let a = import_csv(app, "people", b"staff_id,name\nP1,Pat\n").await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    let a = import_csv(
        app,
        "items",
        b"barcode,title,home_location\nA1,Box one,R1\n",
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    // (where, when): partly recorded, wholly recorded, a camera that
    // recorded nothing, no camera.
    let views = [
        ("R1", T0 + 3_000),
        ("R1", T0 + 130_000),
        ("R2", T0 + 200_000),
        ("R3", T0 + 300_000),
    ];
    for (location, at_ms) in views {
        let a = send_body(
            app,
            Method::POST,
            "/api/v1/items/A1/custody",
            Some(ARCHIVIST_TOKEN),
            Some(&format!(
                r#"{{"action":"view","by":"P1","location":"{location}","at_ms":{at_ms}}}"#
            )),
        )
        .await?;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());
    }

    let a = watch(app, "/api/v1/reports/item-custody?barcode=A1&format=html").await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    let page = Html::parse_document(&String::from_utf8(a.body.to_vec())?);
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    let select = |s: &str| Selector::parse(s).map_err(|e| format!("{s}: {e}"));
    let (row_s, li_s, a_s, span_s) = (
        select("tbody tr")?,
        select("td:last-child ul.footage li")?,
        select("a")?,
        select("span")?,
    );
    // (link, line text) of each footage line, per row.
    let rows: Vec<Vec<(Option<String>, String)>> = page
        .select(&row_s)
        .map(|row| {
            row.select(&li_s)
                .map(|li| {
                    let href = li
                        .select(&a_s)
                        .next()
                        .and_then(|a| a.value().attr("href"))
                        .map(str::to_owned);
                    (href, li.text().collect::<String>())
                })
                .collect()
        })
        .collect();
    let video = |at: i64| {
        format!(
            "/api/v1/cameras/cam/video.mp4?start_ms={}&end_ms={}",
            at - 30_000,
            at + 30_000
        )
    };
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0].len(), 1);
    assert_eq!(rows[0][0].0, Some(video(T0 + 3_000)), "{rows:?}");
    assert!(
        rows[0][0]
            .1
            .ends_with(": not recorded: only 8 s of the 60 s"),
        "{rows:?}"
    );
    assert_eq!(rows[1][0].0, Some(video(T0 + 130_000)), "{rows:?}");
    assert!(rows[1][0].1.ends_with(": recorded"), "{rows:?}");
    assert_eq!(rows[2][0].0, None, "nothing to watch: {rows:?}");
    assert!(
        rows[2][0].1.starts_with("idle ") && rows[2][0].1.ends_with(": not recorded"),
        "{rows:?}"
    );
    assert_eq!(
        rows[3],
        [(None, "not recorded: no camera covers this place".to_owned())]
    );
    // Each "not recorded" stands out.
    let missing: Vec<String> = page
        .select(&span_s)
        .filter(|s| s.value().attr("class") == Some("missing"))
        .map(|s| s.text().collect())
        .collect();
    assert_eq!(missing.len(), 3, "{missing:?}");

    // The links play.
    for href in [video(T0 + 3_000), video(T0 + 130_000)] {
        let a = watch(app, &href).await?;
        assert_eq!(a.status, StatusCode::OK, "{href}: {}", a.error());
        assert_eq!(a.header("content-type"), Some("video/mp4"), "{href}");
    }
    Ok(())
}

/// A user and their rooms are one fact: when the rooms cannot be written,
/// neither the user nor the `user.created` entry is left behind; likewise
/// a change of a user's rooms with the rest of the change and its
/// `user.changed` entry.
#[tokio::test]
async fn a_user_and_their_rooms_commit_together_or_not_at_all() -> TestResult {
    const ADMIN_TOKEN: &str = "cst_test0005_admin-secret";
    let site = site()?;
    {
        let store = site.store.lock_writer();
        let admin = store.create_user("ada", Role::Admin, "$argon2id$test", T0)?;
        store.create_token("test0005", admin.id, None, &token_digest(ADMIN_TOKEN), T0)?;
        store.write("adding a room", |tx| {
            tx.insert_location(
                &custos_custody::model::Location {
                    code: "R1".into(),
                    name: "Reading room".into(),
                    kind: custos_custody::model::LocationKind::Room,
                    room: None,
                    coverage: Vec::new(),
                    retired: false,
                },
                T0,
            )
        })?;
    }
    // The room exists, so the API's own check passes; the index then
    // refuses to write any room, after the user's row is written.
    let conn = rusqlite::Connection::open(site._dir.path().join(DB_FILE_NAME))?;
    conn.execute_batch(
        "CREATE TRIGGER no_rooms BEFORE INSERT ON user_rooms \
         BEGIN SELECT RAISE(ABORT, 'rooms refused'); END;",
    )?;

    let created = send_body(
        &site.app,
        Method::POST,
        "/api/v1/users",
        Some(ADMIN_TOKEN),
        Some(
            r#"{"name": "rita", "role": "archivist",
                "password": "a long enough password", "rooms": ["R1"]}"#,
        ),
    )
    .await?;
    assert_eq!(
        created.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        created.error()
    );
    {
        let store = site.store.lock_writer();
        assert!(
            store.user_by_name("rita")?.is_none(),
            "no user without rooms"
        );
    }
    assert!(queued(&site.store, "user.created")?.is_empty());

    let changed = send_body(
        &site.app,
        Method::PATCH,
        "/api/v1/users/archie",
        Some(ADMIN_TOKEN),
        Some(r#"{"disabled": true, "rooms": ["R1"]}"#),
    )
    .await?;
    assert_eq!(
        changed.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        changed.error()
    );
    {
        let store = site.store.lock_writer();
        let archie = store.user_by_name("archie")?.ok_or("archie is gone")?;
        assert!(
            !archie.disabled,
            "the rest of the change went with the rooms"
        );
        assert!(store.user_rooms(archie.id)?.is_empty());
    }
    assert!(queued(&site.store, "user.changed")?.is_empty());

    // Once the index takes rooms again, the same requests go through whole.
    conn.execute_batch("DROP TRIGGER no_rooms;")?;
    let created = send_body(
        &site.app,
        Method::POST,
        "/api/v1/users",
        Some(ADMIN_TOKEN),
        Some(
            r#"{"name": "rita", "role": "archivist",
                "password": "a long enough password", "rooms": ["R1"]}"#,
        ),
    )
    .await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.error());
    {
        let store = site.store.lock_writer();
        let rita = store.user_by_name("rita")?.ok_or("rita was not created")?;
        assert_eq!(store.user_rooms(rita.id)?, ["R1"]);
    }
    assert_eq!(queued(&site.store, "user.created")?.len(), 1);
    Ok(())
}

/// Posts `csv` as [`import_csv`] does, asking to be answered at once.
async fn import_csv_async(
    app: &Router,
    kind: &str,
    csv: &[u8],
) -> Result<Answer, Box<dyn std::error::Error>> {
    import_csv_with(app, kind, csv, Some("return=minimal, respond-async")).await
}

/// Reads job `href` as its owner (`token`) until it is done (at most 60 s).
async fn finished_job(
    app: &Router,
    href: &str,
    token: &str,
) -> Result<Value, Box<dyn std::error::Error>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let a = send(app, Method::GET, href, Some(token)).await?;
        assert_eq!(a.status, StatusCode::OK, "{}", a.error());
        let job = a.json()?;
        if job["state"] == "done" {
            return Ok(job);
        }
        assert_eq!(job["state"], "running", "{job}");
        if std::time::Instant::now() > deadline {
            return Err(format!("job {href} still running after 60 s: {job}").into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_import_that_prefers_to_be_answered_at_once_runs_as_a_job_with_the_same_answer(
) -> TestResult {
    let site = site()?;
    let app = &site.app;
    let a = import_csv(
        app,
        "locations",
        b"code,name,kind,room,coverage\nR1,Room,room,,cam\n",
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.error());

    // Two thousand items, answered at once with where to read the job.
    let mut items = String::from("barcode,title,reference,classification,home_location\r\n");
    for n in 0..2000 {
        items.push_str(&format!("J{n:05},Box {n},F{n},open,R1\r\n"));
    }
    let a = import_csv_async(app, "items", items.as_bytes()).await?;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.error());
    assert_eq!(a.header("preference-applied"), Some("respond-async"));
    let href = a.header("location").ok_or("no Location")?.to_owned();
    let started = a.json()?;
    assert_eq!(started["href"], href.as_str());
    assert_eq!(started["operation"], "import_register");
    assert!(href.starts_with("/api/v1/jobs/"), "{href}");

    // Nobody else reads it: not the viewer, not an auditor.
    for token in [TOKEN, AUDITOR_TOKEN] {
        let a = send(app, Method::GET, &href, Some(token)).await?;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.error());
    }

    let job = finished_job(app, &href, ARCHIVIST_TOKEN).await?;
    assert_eq!(job["status"], 201, "{job}");
    assert_eq!(job["answer"]["rows"], 2000, "{job}");
    assert_eq!(job["progress"]["total"], 2000, "{job}");
    let a = send(
        app,
        Method::GET,
        "/api/v1/items?q=J01999",
        Some(ARCHIVIST_TOKEN),
    )
    .await?;
    assert_eq!(a.json()?["items"][0]["barcode"], "J01999");

    // A bad file: the job's answer is what the waiting request gets.
    let bad = b"barcode,title,reference,classification,home_location\nK1,Box,F1,open,R9\n";
    let waited = import_csv(app, "items", bad).await?;
    assert_eq!(waited.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = import_csv_async(app, "items", bad).await?;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let job = finished_job(
        app,
        a.header("location").ok_or("no Location")?,
        ARCHIVIST_TOKEN,
    )
    .await?;
    assert_eq!(job["status"], 422, "{job}");
    assert_eq!(job["answer"], waited.json()?);

    // The archivist's jobs, newest first; both are done.
    let a = send(app, Method::GET, "/api/v1/jobs", Some(ARCHIVIST_TOKEN)).await?;
    let jobs = a.json()?;
    assert_eq!(jobs.as_array().map(Vec::len), Some(2), "{jobs}");
    assert!(jobs
        .as_array()
        .into_iter()
        .flatten()
        .all(|j| j["state"] == "done"));
    Ok(())
}

#[tokio::test]
async fn an_export_and_a_check_of_the_log_run_as_jobs_when_asked() -> TestResult {
    let site = site()?;
    let app = &site.app;
    let bearer = format!("Bearer {AUDITOR_TOKEN}");
    let prefer = [
        (header::AUTHORIZATION.as_str(), bearer.as_str()),
        ("Prefer", "respond-async"),
    ];
    let body = format!(
        r#"{{"camera":"cam","start_ms":{},"end_ms":{},"reason":"incident 8"}}"#,
        T0 + 1000,
        T0 + 5000
    );
    let a = send_with(app, Method::POST, "/api/v1/exports", &prefer, Some(&body)).await?;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.error());
    let job = finished_job(
        app,
        a.header("location").ok_or("no Location")?,
        AUDITOR_TOKEN,
    )
    .await?;
    assert_eq!(job["status"], 201, "{job}");
    assert_eq!(job["answer"]["segments"], 2, "{job}");
    let download = job["answer"]["download"].as_str().ok_or("download")?;
    let a = send(app, Method::GET, download, Some(AUDITOR_TOKEN)).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    assert_eq!(queued(&site.store, "footage.exported")?.len(), 1);

    // A refused export is a job whose answer is the refusal.
    let empty = format!(
        r#"{{"camera":"idle","start_ms":{},"end_ms":{},"reason":"nothing there"}}"#,
        T0,
        T0 + 5000
    );
    let waited = send_body(
        app,
        Method::POST,
        "/api/v1/exports",
        Some(AUDITOR_TOKEN),
        Some(&empty),
    )
    .await?;
    let a = send_with(app, Method::POST, "/api/v1/exports", &prefer, Some(&empty)).await?;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.error());
    let job = finished_job(
        app,
        a.header("location").ok_or("no Location")?,
        AUDITOR_TOKEN,
    )
    .await?;
    assert_eq!(job["status"], waited.status.as_u16(), "{job}");
    assert_eq!(job["answer"], waited.json()?);

    let a = send_with(app, Method::POST, "/api/v1/log/verify", &prefer, None).await?;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.error());
    let job = finished_job(
        app,
        a.header("location").ok_or("no Location")?,
        AUDITOR_TOKEN,
    )
    .await?;
    assert_eq!(job["status"], 200, "{job}");
    assert_eq!(job["answer"]["verified"]["ok"], true, "{job}");
    Ok(())
}
