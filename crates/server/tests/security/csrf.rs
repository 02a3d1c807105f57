//! CSRF: every route that may change something refuses a cookie request
//! without the session's own `X-CSRF-Token` and changes nothing; a bearer
//! token needs none; sign-in takes only JSON, which a cross-site form
//! cannot send.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::requests::{bearer, send, sign_in};
use crate::routes::documented_operations;
use crate::site::{front_door, site, Ids, ADMIN, CAMERA_PASSWORD, LOCKED, T0, VIEWER};
use crate::site_state::{queued, state_of};
use crate::TestResult;

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
            "a token of the wrong length",
            vec![mine.cookie(), ("x-csrf-token", "00".to_owned())],
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
