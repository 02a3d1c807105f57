//! Authentication (bearer tokens and session cookies) and role checks.
//!
//! A request authenticates with `Authorization: Bearer <token>` (API
//! clients) or with the session cookie a sign-in set (browsers; see
//! [`crate::sessions`]). The index stores only the SHA-256 of each token and
//! session secret, so a request's secret is digested with [`token_digest`]
//! and looked up by that digest; the secrets are high-entropy random
//! strings, so a fast unsalted hash is enough.
//!
//! A cookie is sent by the browser whatever page made the request, so a
//! cookie-authenticated request that may change something (any method but
//! GET, HEAD and OPTIONS) must also carry the session's CSRF token in
//! `X-CSRF-Token`, which only the application's own pages can read.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use custos_store::{Role, User};

use crate::error::ApiError;
use crate::roles;
use crate::{now_ms, SharedState};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "custos_session";
/// Header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused for this long no longer works.
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;

/// How long a token's `last_used_ms` may lag behind its real last use. Writing
/// it on every request would turn every read into a database write.
pub const TOUCH_INTERVAL_MS: i64 = 60_000;

/// Longest token accepted; anything longer is malformed rather than worth
/// hashing and looking up.
const MAX_TOKEN_LEN: usize = 1024;

use custos_webapp::credentials::{constant_time_eq, cookie_secret};
pub use custos_webapp::credentials::{csrf_token, token_digest};

/// The user a request authenticated as.
///
/// Use it as an extractor in handlers. The authentication layer puts it in
/// the request extensions; if a route was mounted without that layer, the
/// extractor authenticates the request itself, so a handler that takes an
/// `AuthUser` can never run unauthenticated.
#[derive(Clone, Debug)]
pub struct AuthUser {
    /// The authenticated user (enabled, with a live token or session).
    pub user: User,
    /// What the request authenticated with.
    pub credential: Credential,
}

/// What a request authenticated with.
#[derive(Clone, Debug)]
pub enum Credential {
    /// An API token.
    Token {
        /// The token's public id.
        id: String,
    },
    /// A sign-in session's cookie.
    Session {
        /// The session's public id.
        id: String,
        /// When the session ends.
        expires_ms: i64,
        /// The session's CSRF token.
        csrf: String,
    },
}

impl FromRequestParts<SharedState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let user = authenticate(state, &parts.method, &parts.headers).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// Middleware for every route that needs credentials: authenticates the
/// request (401 without valid credentials), then answers 403 unless the
/// user's role is one [`roles::OPERATIONS`] lists for the operation,
/// before any parameter or body is read; stores the [`AuthUser`] in the
/// request's extensions for the handler.
///
/// Checking here, from the route alone, means a role that may not call an
/// operation gets 403 whatever it sends (and learns nothing of what the
/// operation would accept); the handler checks again with the same
/// constant.
pub async fn require_auth(
    State(state): State<SharedState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let user = authenticate(&state, request.method(), request.headers()).await?;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let operation = route
        .as_deref()
        .and_then(|route| roles::operation(request.method().as_str(), route));
    match operation {
        Some(operation) => require_role(&user.user, operation.roles)?,
        // Every routed operation is in the table (a test of the document
        // checks); one that is not is refused rather than left open.
        None => {
            return Err(ApiError::forbidden(format!(
                "{} {} declares no roles that may call it",
                request.method(),
                route.as_deref().unwrap_or(request.uri().path())
            )))
        }
    }
    request.extensions_mut().insert(user);
    Ok(next.run(request).await)
}

/// Answers 403 unless `user` has one of `allowed`.
pub fn require_role(user: &User, allowed: &[Role]) -> Result<(), ApiError> {
    if allowed.contains(&user.role) {
        Ok(())
    } else {
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "role {} may not do this (requires one of: {})",
            user.role,
            names.join(", ")
        )))
    }
}

/// Authenticates a request by its bearer token or, without an
/// `Authorization` header, by its session cookie.
async fn authenticate(
    state: &SharedState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<AuthUser, ApiError> {
    if !headers.contains_key(AUTHORIZATION) {
        if let Some(secret) = session_secret(headers) {
            return authenticate_session(state, method, headers, secret).await;
        }
    }
    authenticate_token(state, headers).await
}

/// Checks a session cookie (and, for requests that may change something,
/// its CSRF token) and records the session's use.
async fn authenticate_session(
    state: &SharedState,
    method: &Method,
    headers: &HeaderMap,
    secret: &str,
) -> Result<AuthUser, ApiError> {
    let csrf = csrf_token(secret);
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !sent.is_some_and(|sent| constant_time_eq(sent.as_bytes(), csrf.as_bytes())) {
            return Err(ApiError::forbidden(format!(
                "a request signed in by cookie that changes something must carry the session's CSRF token in the {CSRF_HEADER} header"
            )));
        }
    }
    let digest = token_digest(secret);
    let now = now_ms();
    let found = state
        .read("checking a session", move |store| {
            store.session_for_hash(&digest, now, now - SESSION_IDLE_MS)
        })
        .await?;
    if let Some((session, _)) = &found {
        if now - session.last_seen_ms >= TOUCH_INTERVAL_MS {
            // Skipped while a long write holds the writer (the next request
            // retries): signing in must not wait for an import.
            let id = session.id.clone();
            let touched = state
                .try_write("recording session use", move |store| {
                    store.touch_session(&id, now)
                })
                .await;
            if let Some(Err(e)) = touched {
                tracing::warn!(session = %session.id, "could not record session use: {e}");
            }
        }
    }
    match found {
        Some((session, user)) => Ok(AuthUser {
            user,
            credential: Credential::Session {
                id: session.id,
                expires_ms: session.expires_ms,
                csrf,
            },
        }),
        None => Err(ApiError::unauthorized(
            "the session has ended (signed out, expired or idle too long): sign in again",
        )),
    }
}

/// The session cookie's value, if the request has a well-formed one.
fn session_secret(headers: &HeaderMap) -> Option<&str> {
    cookie_secret(
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        SESSION_COOKIE,
    )
}

/// Checks the bearer token in `headers` against the index and records its
/// use.
async fn authenticate_token(
    state: &SharedState,
    headers: &HeaderMap,
) -> Result<AuthUser, ApiError> {
    let token = bearer_token(headers)?;
    let digest = token_digest(token);
    let now = now_ms();
    let found = state
        .read("checking an API token", move |store| {
            store.user_for_token_hash(&digest)
        })
        .await?;
    if let Some((token, _)) = &found {
        let stale = token
            .last_used_ms
            .is_none_or(|last| now - last >= TOUCH_INTERVAL_MS);
        if stale {
            // Bookkeeping only: a failure here must not refuse a valid token,
            // and a busy writer (a long import) skips it; a later request
            // retries.
            let id = token.id.clone();
            let touched = state
                .try_write("recording token use", move |store| {
                    store.touch_token(&id, now)
                })
                .await;
            if let Some(Err(e)) = touched {
                tracing::warn!(token = %token.id, "could not record token use: {e}");
            }
        }
    }
    match found.map(|(token, user)| (token.id, user)) {
        Some((id, user)) => Ok(AuthUser {
            user,
            credential: Credential::Token { id },
        }),
        // One message for unknown, revoked and disabled-user tokens, so the
        // answer does not tell a guesser which tokens once existed.
        None => Err(ApiError::unauthorized(
            "the bearer token is not valid (unknown or revoked, or its user is disabled)",
        )),
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    const EXPECTED: &str = "expected \"Authorization: Bearer <token>\"";
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            ApiError::unauthorized(format!("more than one Authorization header; {EXPECTED}"))
        } else {
            ApiError::unauthorized(format!("missing Authorization header; {EXPECTED}"))
        });
    };
    let malformed =
        || ApiError::unauthorized(format!("malformed Authorization header; {EXPECTED}"));
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim_start_matches(' ');
    let printable = |b: u8| b.is_ascii_graphic();
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.len() > MAX_TOKEN_LEN
        || !token.bytes().all(printable)
    {
        return Err(malformed());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn digest_is_lower_hex_sha256() {
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token(&headers(&["Bearer abc"])).ok(), Some("abc"));
        assert_eq!(
            bearer_token(&headers(&["bearer  a-b_c"])).ok(),
            Some("a-b_c")
        );
        for bad in [
            &["Basic abc"][..],
            &["Bearer"],
            &["Bearer "],
            &["Bearer a b"],
            &["abc"],
            &[],
            &["Bearer a", "Bearer b"],
        ] {
            assert!(bearer_token(&headers(bad)).is_err(), "{bad:?} accepted");
        }
    }

    fn user(role: Role) -> User {
        User {
            id: 1,
            name: "u".to_owned(),
            role,
            password_hash: "$x".to_owned(),
            created_ms: 0,
            disabled: false,
        }
    }

    #[test]
    fn roles() {
        assert!(require_role(&user(Role::Viewer), &Role::ALL).is_ok());
        let err = require_role(&user(Role::Viewer), &[Role::Admin, Role::Auditor]);
        let status = err.err().map(|e| e.status());
        assert_eq!(status, Some(axum::http::StatusCode::FORBIDDEN));
    }
}
