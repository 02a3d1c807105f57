//! Secrets: no GET answer, error answer or log entry shown by the API
//! holds a secret the site was given or keeps.

use axum::http::{Method, StatusCode};
use custos_server::auth::token_digest;
use custos_server::sessions::MAX_FAILURES;
use serde_json::json;

use crate::common::write_log;
use crate::requests::{bearer, login, send, send_json, set_cookie_value, sign_in, Answer, Session};
use crate::routes::get_requests;
use crate::site::{
    site, Site, ACCOUNTS, ADMIN, ARCHIVIST, AUDITOR, CAMERA_PASSWORD, DISABLED, HOOK_QUERY_TOKEN,
    HOOK_SECRET, HOOK_URL_PASSWORD, METRICS_TOKEN, MQTT_PASSWORD, SMTP_PASSWORD, T0, VIEWER,
};
use crate::TestResult;

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
