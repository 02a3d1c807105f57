//! Path traversal: no path parameter, however encoded, and no path held by
//! the index reaches a file outside its directory (canary files above the
//! data directory are never served).

use std::collections::BTreeSet;
use std::path::Path;

use axum::http::{Method, StatusCode};
use custos_store::DB_FILE_NAME;

use crate::requests::{bearer, send, Answer};
use crate::routes::get_requests;
use crate::site::{site, ADMIN, CANARY_FAR, CANARY_NEAR, SQLITE_MAGIC, T0};
use crate::site_state::queued;
use crate::TestResult;

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
