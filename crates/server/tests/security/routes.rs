//! The router's routes: every operation of its OpenAPI document, which
//! the suite's tables are checked against (a new route fails the suite
//! until it is covered), and the GET table, every GET route with requests
//! it answers, which most properties are checked over.

use std::collections::BTreeSet;

use axum::http::StatusCode;

use crate::site::{Ids, T0};

/// Every operation of the router's OpenAPI document: (method, path).
pub fn documented_operations() -> BTreeSet<(String, String)> {
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

/// Every GET route of the router with concrete requests (the path
/// parameters filled with real ids) and the answer an admin gets.
pub fn get_requests(ids: &Ids) -> Vec<(&'static str, String, StatusCode)> {
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
        ("/api/v1/jobs", "/api/v1/jobs".to_owned(), ok),
        (
            "/api/v1/jobs/{id}",
            "/api/v1/jobs/0123456789abcdef01234567".to_owned(),
            StatusCode::NOT_FOUND,
        ),
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
        ("/api/v1/escrow", "/api/v1/escrow".to_owned(), ok),
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
