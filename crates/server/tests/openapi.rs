//! The OpenAPI document drives the role matrix: every operation it lists is
//! called as every role, and a role its `x-custos-roles` does not name must
//! get 403 (never 2xx, never 5xx), whatever parameters and body it sends;
//! a role it names must not. A new endpoint is covered as soon as it is
//! routed, since routing it puts it in the document.

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::Router;
use common::send_body;
use custos_custody::model::{Coverage, Location, LocationKind};
use custos_ledger::note::SigningKey;
use custos_ledger::storage::LogStorage;
use custos_server::auth::token_digest;
use custos_server::{router, AppState, LogAccess};
use custos_site::cameras::{CameraRegistry, LiveState};
use custos_store::pool::StorePool;
use custos_store::{Role, Store, DB_FILE_NAME};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const T0: i64 = 1_764_340_000_000;

/// A role's user name and bearer token.
fn token(role: Role) -> String {
    format!("cst_role{}_secret", role.as_str())
}

/// A site with camera `cam` and one user (with a token) per role.
struct Site {
    _dir: tempfile::TempDir,
    app: Router,
}

fn site() -> Result<Site, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join(DB_FILE_NAME))?;
    // The archivist's room is the one `cam` covers, so footage routes
    // answer them as they answer every role they list.
    store.write("the room", |tx| {
        tx.insert_location(
            &Location {
                code: "R1".into(),
                name: "Reading room".into(),
                kind: LocationKind::Room,
                room: None,
                coverage: vec![Coverage {
                    camera: "cam".into(),
                    zone: None,
                }],
                retired: false,
            },
            T0,
        )
    })?;
    for role in Role::ALL {
        let user = store.create_user(role.as_str(), role, "$argon2id$test", T0)?;
        store.create_token(
            &format!("role{}", role.as_str()),
            user.id,
            None,
            &token_digest(&token(role)),
            T0,
        )?;
        if role == Role::Archivist {
            store.set_user_rooms(user.id, &["R1".to_owned()])?;
        }
    }
    let cameras = Arc::new(CameraRegistry::new([("cam", "Front door")], T0));
    cameras.set_state("cam", LiveState::Recording, None, T0 + 1);
    let key = SigningKey::generate("test")?;
    let log_dir = dir.path().join("log");
    LogStorage::open(&log_dir)?;
    let app = router(AppState {
        store: Arc::new(StorePool::with_writer(
            store,
            &dir.path().join(DB_FILE_NAME),
            2,
        )?),
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
    Ok(Site { _dir: dir, app })
}

async fn document(app: &Router) -> Result<Value, Box<dyn std::error::Error>> {
    let a = send_body(app, Method::GET, "/api/v1/openapi.json", None, None).await?;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), Some("application/json"));
    Ok(serde_json::from_slice(&a.body)?)
}

/// A plausible value for a path parameter: the site's camera, ids that
/// parse, names that might exist.
fn fill(path: &str, op: &Value) -> String {
    let mut out = path.to_owned();
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] != "path" {
            continue;
        }
        let name = p["name"].as_str().unwrap_or_default();
        let value = if p["schema"]["type"] == "integer" {
            "1"
        } else {
            match name {
                "id" if path.starts_with("/api/v1/cameras/") => "cam",
                "id" => "exp-1-0123456789abcdef",
                "name" if path.starts_with("/api/v1/reports/") => "items-out",
                "name" => "somebody",
                "code" => "R1",
                "staff_id" => "S1",
                "barcode" => "B1",
                _ => "x",
            }
        };
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// Every operation of the document: (method, path template, operation).
fn operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let Ok(m) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            if ["GET", "PUT", "POST", "DELETE", "PATCH"].contains(&m.as_str()) {
                ops.push((m, path.clone(), op.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_lists_every_api_route_and_its_roles() -> TestResult {
    let site = site()?;
    let doc = document(&site.app).await?;
    assert_eq!(doc["openapi"], "3.1.0");
    // Kept for reading (and for validators) under target/tmp.
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi.json"),
        serde_json::to_vec_pretty(&doc)?,
    )?;
    let ops = operations(&doc);
    // The routes this suite was written against; new ones only add.
    for (method, path) in [
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/login"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/cameras"),
        ("GET", "/api/v1/cameras/{id}/video.mp4"),
        ("GET", "/api/v1/cameras/{id}/live"),
        ("POST", "/api/v1/exports"),
        ("POST", "/api/v1/items/{barcode}/custody"),
        ("POST", "/api/v1/register/import"),
        ("PATCH", "/api/v1/users/{name}"),
        ("POST", "/api/v1/users/{name}/unlock"),
        ("POST", "/api/v1/logout"),
    ] {
        assert!(
            ops.iter().any(|(m, p, _)| m == method && p == path),
            "{method} {path} is not in the document"
        );
    }
    for (method, path, op) in &ops {
        let open = op.get("security").is_none();
        assert_eq!(
            op.get("x-custos-roles").is_none(),
            open,
            "{method} {path}: roles and credentials go together"
        );
        assert!(
            op["responses"]["500"]["content"]["application/json"]["schema"]["$ref"]
                == "#/components/schemas/Error",
            "{method} {path}: errors are not described"
        );
        if open {
            // Open operations answer without credentials.
            let uri = fill(path, op);
            let a = send_body(&site.app, method.clone(), &uri, None, Some("{}")).await?;
            assert_ne!(a.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        }
    }
    // The web app's routes are served but not described.
    assert!(doc["paths"].get("/").is_none());
    assert!(doc["info"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("/app/{file}")));
    Ok(())
}

/// The role matrix.
#[tokio::test]
async fn no_operation_answers_a_role_it_does_not_list() -> TestResult {
    let site = site()?;
    let doc = document(&site.app).await?;
    let mut checked = 0;
    let mut problems = Vec::new();
    for (method, path, op) in operations(&doc) {
        let Some(roles) = op.get("x-custos-roles") else {
            continue;
        };
        let allowed: Vec<&str> = roles
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let uri = fill(&path, &op);
        for role in Role::ALL {
            let a = send_body(
                &site.app,
                method.clone(),
                &uri,
                Some(&token(role)),
                Some("{}"),
            )
            .await?;
            checked += 1;
            let may = allowed.contains(&role.as_str());
            let what = format!(
                "{method} {uri} as {role} (allowed: {allowed:?}): {} {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            );
            if a.status.is_server_error() {
                problems.push(format!("server error: {what}"));
            } else if may && a.status == StatusCode::FORBIDDEN {
                problems.push(format!("refused a role it lists: {what}"));
            } else if !may && a.status != StatusCode::FORBIDDEN {
                problems.push(format!("answered a role it does not list: {what}"));
            }
            if !a.status.is_success() && a.status != StatusCode::SWITCHING_PROTOCOLS {
                // Every error is the JSON error shape.
                let body: Value = serde_json::from_slice(&a.body)
                    .map_err(|e| format!("{what}: not JSON: {e}"))?;
                assert!(body["error"].is_string(), "{what}");
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 4 * 40, "only {checked} calls");
    Ok(())
}

/// A role that may not call an operation is refused before its parameters
/// or body are read: it learns nothing of what the operation accepts (it
/// used to get the body's 422, or the missing parameter's 400).
#[tokio::test]
async fn a_refused_role_gets_403_before_its_request_is_read() -> TestResult {
    let site = site()?;
    let viewer = token(Role::Viewer);
    for (method, uri, body) in [
        (Method::POST, "/api/v1/exports", Some("{}")),
        (Method::POST, "/api/v1/exports", Some("not json")),
        (Method::POST, "/api/v1/users", Some("{}")),
        (Method::POST, "/api/v1/items", None),
        (Method::POST, "/api/v1/register/import", None),
        (Method::GET, "/api/v1/audit?limit=abc", None),
        (Method::POST, "/api/v1/inventories/abc/scans", Some("{}")),
        (Method::POST, "/api/v1/alerts/abc/acknowledge", Some("{}")),
    ] {
        let a = send_body(&site.app, method.clone(), uri, Some(&viewer), body).await?;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {uri}");
    }
    // The same requests from a role that may make them are read and judged.
    let admin = token(Role::Admin);
    let a = send_body(
        &site.app,
        Method::POST,
        "/api/v1/exports",
        Some(&admin),
        Some("{}"),
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = send_body(
        &site.app,
        Method::POST,
        "/api/v1/register/import",
        Some(&admin),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    Ok(())
}

/// Asking for live view without a WebSocket handshake is an error in the
/// API's JSON shape (axum's own answer is plain text).
#[tokio::test]
async fn live_view_without_a_websocket_handshake_is_a_json_error() -> TestResult {
    let site = site()?;
    let a = send_body(
        &site.app,
        Method::GET,
        "/api/v1/cameras/cam/live",
        Some(&token(Role::Viewer)),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&a.body)?;
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    Ok(())
}

/// `GET /api/v1/session` tells each role the operations it may call: the
/// documented operations whose `x-custos-roles` name it, by `operationId`
/// (the web app shows its actions from this list).
#[tokio::test]
async fn the_session_lists_the_operations_its_role_may_call() -> TestResult {
    let site = site()?;
    let doc = document(&site.app).await?;
    for role in Role::ALL {
        let mut expected: Vec<String> = operations(&doc)
            .into_iter()
            .filter(|(_, _, op)| {
                op["x-custos-roles"]
                    .as_array()
                    .is_some_and(|roles| roles.iter().any(|r| r == role.as_str()))
            })
            .filter_map(|(_, _, op)| op["operationId"].as_str().map(str::to_owned))
            .collect();
        expected.sort();
        let a = send_body(
            &site.app,
            Method::GET,
            "/api/v1/session",
            Some(&token(role)),
            None,
        )
        .await?;
        assert_eq!(a.status, StatusCode::OK, "{role}");
        let answer: Value = serde_json::from_slice(&a.body)?;
        let mut listed: Vec<String> = answer["operations"]
            .as_array()
            .ok_or("no operations in the answer")?
            .iter()
            .filter_map(|o| o.as_str().map(str::to_owned))
            .collect();
        listed.sort();
        assert_eq!(listed, expected, "{role}");
    }
    Ok(())
}
