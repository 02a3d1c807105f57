//! Signing in and out: `POST /api/v1/login`, `POST /api/v1/logout`,
//! `GET /api/v1/session`.
//!
//! A sign-in starts a session whose secret travels only in an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` when the server runs TLS); a request
//! authenticated by that cookie that changes anything must also carry the
//! session's CSRF token in `X-CSRF-Token` (see [`crate::auth`]). Every
//! sign-in, failed sign-in and sign-out goes into the site's log.
//!
//! Guessing is slowed three ways: argon2id makes each check costly, an
//! account is locked for [`LOCK_MS`] after [`MAX_FAILURES`] failures within
//! [`FAILURE_WINDOW_MS`] (the refusal says until when; an admin may unlock
//! it sooner with `POST /api/v1/users/{name}/unlock`), and one client address may try at
//! most [`MAX_ATTEMPTS_PER_SOURCE`] times a minute.

use std::net::SocketAddr;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use custos_webapp::credentials::{dummy_password_hash, new_session_secret, password_matches};

use crate::auth::{require_role, token_digest, AuthUser, Credential};
use crate::error::{ApiError, ApiJson};
use crate::roles::{self, EVERY_ROLE};
use crate::{now_ms, SharedState};

// Defined beside the check of every request (auth), which needs them;
// sessions only hands them out, so it depends on auth and not the reverse.
pub use crate::auth::{csrf_token, CSRF_HEADER, SESSION_COOKIE, SESSION_IDLE_MS};
// The throttle's rules are the site's, shared by every way of signing in.
pub use custos_site::sign_in::{
    account_key, LoginThrottle, FAILURE_WINDOW_MS, LOCK_MS, MAX_ATTEMPTS_PER_SOURCE, MAX_FAILURES,
};
use custos_site::sign_in::{end_session, log_failure, start_session, Refusal};

/// A session ends this long after sign-in, however active.
pub const SESSION_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;
/// Longest user name and password looked at.
const MAX_NAME_LEN: usize = 128;
const MAX_PASSWORD_LEN: usize = 1024;

/// The one answer to a wrong name or password, so a guesser cannot tell
/// which was wrong.
const WRONG: &str = "wrong user name or password";

/// The client's address, when the server was started with connection info
/// (requests built in tests have none).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let plain = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let tls = parts
            .extensions
            .get::<ConnectInfo<crate::tls::PeerAddr>>()
            .map(|c| c.0 .0);
        Ok(ClientAddr(plain.or(tls).map_or_else(
            || "unknown".to_owned(),
            |a| a.ip().to_string(),
        )))
    }
}

/// Body of `POST /api/v1/login`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    user: String,
    password: String,
}

/// Answer of a sign-in and of `GET /api/v1/session`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SessionInfo {
    user: String,
    role: &'static str,
    /// Absent for bearer-token requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_ms: Option<i64>,
    /// Send it back in `X-CSRF-Token` with every state-changing request.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
    /// The `operationId`s of the operations this role may call, from the
    /// table access control checks: the web app shows only the actions
    /// these allow. The server still checks every request.
    #[schema(example = json!(["list_cameras", "watch_live", "list_alerts"]))]
    operations: Vec<&'static str>,
}

/// `POST /api/v1/login`.
#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "sessions",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in: the `custos_session` cookie is set (HttpOnly, SameSite=Strict); \
            send `csrf_token` back in `X-CSRF-Token` with every request but GET. The sign-in is logged",
            body = SessionInfo,
            headers(("set-cookie" = String, description = "`custos_session=…; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200`"))),
        (status = 400, description = "An empty or too long user name, or a too long password"),
        (status = 401, description = "Wrong user name or password (one answer for both); the failure is logged"),
        (status = 429, description = "Too many attempts from this address, or the account is locked \
            (until `locked_until_ms`, or until an admin unlocks it)",
            body = SignInRefused,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ),
)]
pub(crate) async fn login(
    State(state): State<SharedState>,
    ClientAddr(source): ClientAddr,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let name = body.user.trim().to_owned();
    if name.is_empty() || name.len() > MAX_NAME_LEN || body.password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::bad_request(format!(
            "user must be 1 to {MAX_NAME_LEN} bytes and password at most {MAX_PASSWORD_LEN}"
        )));
    }
    let account = account_key(&name);
    let now = now_ms();
    match state.login_throttle.check(&account, &source, now) {
        Ok(()) => {}
        Err(Refusal::TooFast) => {
            return Ok(too_many(
                60_000,
                "too many sign-in attempts from this address; wait a minute".to_owned(),
                None,
            ));
        }
        Err(Refusal::Locked { retry_ms, log }) => {
            if log {
                let lookup = name.clone();
                let known = state
                    .read("looking up the user", move |s| s.user_by_name(&lookup))
                    .await?
                    .is_some();
                let logged = if known { name.as_str() } else { "" };
                record_failure(&state, logged, &source, "account locked").await?;
            }
            let until = now + retry_ms;
            return Ok(too_many(
                retry_ms,
                format!(
                    "too many failed sign-ins: this account is locked until {} ({} from now); \
                     an admin can unlock it sooner",
                    utc_text(until),
                    wait_text(retry_ms)
                ),
                Some(until),
            ));
        }
    }

    let lookup = name.clone();
    let user = state
        .read("looking up the user", move |s| s.user_by_name(&lookup))
        .await?;
    let password = body.password;
    let (user, matched) = tokio::task::spawn_blocking(move || {
        let phc = user
            .as_ref()
            .map_or(dummy_password_hash(), |u| &u.password_hash);
        let matched = password_matches(&password, phc);
        (user, matched)
    })
    .await
    .map_err(|e| ApiError::internal("checking the password", &e))?;
    let user = match user {
        Some(u) if matched && !u.disabled => u,
        other => {
            let reason = match &other {
                None => "unknown user",
                Some(u) if u.disabled => "user disabled",
                Some(_) => "wrong password",
            };
            // A name that is no one's may be a password typed into the
            // wrong field: it is not logged (the log keeps it for good and
            // auditors read it), only that the name was unknown.
            let logged = if other.is_some() { name.as_str() } else { "" };
            let locked = state.login_throttle.failed(&account, now);
            record_failure(&state, logged, &source, reason).await?;
            if locked {
                tracing::warn!(target: "custos::audit", user = %logged, %source, "account locked after repeated failed sign-ins");
            }
            return Err(ApiError::unauthorized(WRONG));
        }
    };
    state.login_throttle.succeeded(&account);

    // A new session every time: a session id planted before sign-in is
    // never promoted (session fixation).
    let (id, secret) = new_session_secret();
    let expires = now + SESSION_LIFETIME_MS;
    let digest = token_digest(&secret);
    let what = "starting a session";
    let (sid, who, src) = (id.clone(), user.clone(), source.clone());
    state
        .write_as(what, move |store| {
            start_session(store, &who, &src, &sid, &digest, now, expires)
                .map_err(|e| ApiError::not_logged(what, e))
        })
        .await?;
    let cookie = session_cookie(&secret, SESSION_LIFETIME_MS / 1000, state.secure_cookies)?;
    let mut response = Json(SessionInfo {
        user: user.name,
        role: user.role.as_str(),
        expires_ms: Some(expires),
        csrf_token: Some(csrf_token(&secret)),
        operations: roles::operations_for(user.role),
    })
    .into_response();
    response.headers_mut().insert(SET_COOKIE, cookie);
    Ok(response)
}

/// `Set-Cookie` value for the session cookie (`max_age_s` 0 clears it).
fn session_cookie(value: &str, max_age_s: i64, secure: bool) -> Result<HeaderValue, ApiError> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .map_err(|e| ApiError::internal("building the session cookie", &e))
}

async fn record_failure(
    state: &SharedState,
    name: &str,
    source: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let what = "recording the failed sign-in";
    let (name, source, reason) = (name.to_owned(), source.to_owned(), reason.to_owned());
    state
        .write_as(what, move |store| {
            log_failure(store, &name, &source, &reason, now_ms())
                .map_err(|e| ApiError::not_logged(what, e))
        })
        .await
}

/// Body of a sign-in refused with 429.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SignInRefused {
    /// Why, in plain words (with the lock's end in UTC).
    error: String,
    /// When the account's lock ends, for clients to show in local time
    /// (absent when the client address is trying too fast).
    #[serde(skip_serializing_if = "Option::is_none")]
    locked_until_ms: Option<i64>,
}

/// `ms` as `2026-11-28 14:32:05 UTC`.
fn utc_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms after 1970"),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// A wait as people say it: `45 s`, `15 min`.
fn wait_text(ms: i64) -> String {
    if ms < 60_000 {
        format!("{} s", (ms + 999) / 1000)
    } else {
        format!("{} min", (ms + 59_999) / 60_000)
    }
}

fn too_many(retry_ms: i64, message: String, locked_until_ms: Option<i64>) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(SignInRefused {
            error: message,
            locked_until_ms,
        }),
    )
        .into_response();
    let secs = (retry_ms + 999) / 1000;
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}

/// `POST /api/v1/logout`: ends the session of the request's cookie.
#[utoipa::path(
    post,
    path = "/api/v1/logout",
    tag = "sessions",
    responses(
        (status = 204, description = "The session has ended and its cookie is cleared; the sign-out is logged",
            headers(("set-cookie" = String, description = "Clears `custos_session`"))),
        (status = 400, description = "The request carries a bearer token, not a session"),
    ),
)]
pub(crate) async fn logout(
    State(state): State<SharedState>,
    auth: AuthUser,
) -> Result<Response, ApiError> {
    require_role(&auth.user, EVERY_ROLE)?;
    let Credential::Session { id, .. } = &auth.credential else {
        return Err(ApiError::bad_request(
            "this request is authenticated by a bearer token, not a session; revoke tokens with `custos token revoke`",
        ));
    };
    let now = now_ms();
    let what = "ending the session";
    let (sid, name) = (id.clone(), auth.user.name.clone());
    state
        .write_as(what, move |store| {
            end_session(store, &name, &sid, now).map_err(|e| ApiError::not_logged(what, e))
        })
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, session_cookie("", 0, state.secure_cookies)?);
    Ok(response)
}

/// `GET /api/v1/session`: who the request is authenticated as (and, for a
/// session, its CSRF token and end), and which operations it may call.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "sessions",
    responses((status = 200, description = "Who the request is authenticated as, and the operations \
        (by `operationId`) its role may call", body = SessionInfo)),
)]
pub(crate) async fn current(auth: AuthUser) -> Result<Json<SessionInfo>, ApiError> {
    require_role(&auth.user, EVERY_ROLE)?;
    let (expires_ms, csrf) = match &auth.credential {
        Credential::Session {
            expires_ms, csrf, ..
        } => (Some(*expires_ms), Some(csrf.clone())),
        Credential::Token { .. } => (None, None),
    };
    Ok(Json(SessionInfo {
        user: auth.user.name,
        role: auth.user.role.as_str(),
        expires_ms,
        csrf_token: csrf,
        operations: roles::operations_for(auth.user.role),
    }))
}
