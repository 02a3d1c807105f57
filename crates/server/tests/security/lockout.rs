//! Lock-out: failed sign-ins lock the account, every step is logged, an
//! admin unlocks it; an unknown or disabled user is answered as a wrong
//! password is; one address may not try too fast.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::http::{HeaderMap, Method, StatusCode};
use custos_server::sessions::{LOCK_MS, MAX_ATTEMPTS_PER_SOURCE, MAX_FAILURES};
use serde_json::{json, Value};

use crate::requests::{bearer, login, login_from, send, Answer};
use crate::site::{site, ADMIN, AUDITOR, DISABLED};
use crate::site_state::queued;
use crate::TestResult;

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
        assert!(a.header("set-cookie").is_none());
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
    // Bad bodies are refused before anything is checked.
    for body in ["{}", r#"{"user":"","password":"x"}"#, "not json"] {
        let a = send(
            app,
            Method::POST,
            "/api/v1/login",
            &[],
            Some(("application/json", body.to_owned())),
        )
        .await?;
        assert!(
            a.status.is_client_error() && a.status != StatusCode::TOO_MANY_REQUESTS,
            "{body}: {}",
            a.status
        );
    }
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
