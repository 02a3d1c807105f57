//! Sessions: a session id brought to sign-in is never adopted; the cookie's
//! attributes; sign-out, idleness, the lifetime, disabling the user and a
//! new password end a session on the server.

use axum::http::{Method, StatusCode};
use custos_server::auth::token_digest;
use custos_server::sessions::{SESSION_IDLE_MS, SESSION_LIFETIME_MS};
use custos_store::DB_FILE_NAME;
use serde_json::json;

use crate::requests::{bearer, login, send, send_json, set_cookie_value, sign_in, Session};
use crate::site::{site, site_with, Site, ADMIN, VIEWER};
use crate::site_state::queued;
use crate::TestResult;

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
    for uri in ["/api/v1/session", "/api/v1/cameras"] {
        let planted_cookie = [("cookie", format!("custos_session={planted}"))];
        let a = send(app, Method::GET, uri, &planted_cookie, None).await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
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
