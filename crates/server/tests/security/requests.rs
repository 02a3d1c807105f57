//! Requests to the router in process, as a browser or a client sends them:
//! answers read whole, sign-ins and the sessions they open.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::site::Account;
use crate::Error;

/// A response: status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Result<Value, Error> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn error(&self) -> String {
        self.json()
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
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

pub async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, String)],
    body: Option<(&str, String)>,
) -> Result<Answer, Error> {
    send_from(app, method, uri, headers, body, None).await
}

pub async fn send_json(
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

pub fn bearer(account: &Account) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {}", account.token))]
}

pub async fn login_from(
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

pub async fn login(app: &Router, user: &str, password: &str) -> Result<Answer, Error> {
    login_from(app, user, password, None).await
}

/// A signed-in browser: its cookie and the session's CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    /// The cookie's value: the session's secret.
    pub secret: String,
    pub csrf: String,
}

impl Session {
    pub fn cookie(&self) -> (&'static str, String) {
        ("cookie", format!("custos_session={}", self.secret))
    }

    /// The cookie alone (what a cross-site request carries).
    pub fn ambient(&self) -> Vec<(&'static str, String)> {
        vec![self.cookie()]
    }

    /// The cookie and the CSRF token (what the app's own pages send).
    pub fn with_csrf(&self) -> Vec<(&'static str, String)> {
        vec![self.cookie(), ("x-csrf-token", self.csrf.clone())]
    }
}

/// The `custos_session` value a response sets.
pub fn set_cookie_value(a: &Answer) -> Result<String, Error> {
    let set = a.header("set-cookie").ok_or("no Set-Cookie")?;
    let pair = set.split(';').next().ok_or("empty Set-Cookie")?;
    Ok(pair
        .strip_prefix("custos_session=")
        .ok_or("not the session cookie")?
        .to_owned())
}

pub async fn sign_in(app: &Router, account: &Account) -> Result<Session, Error> {
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
