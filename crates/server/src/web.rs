//! The web app: static files compiled into the binary and served with a
//! strict Content-Security-Policy (nothing is loaded from elsewhere, no
//! inline script). The app signs in with `POST /api/v1/login` and then
//! talks to the same JSON API as every other client.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ApiPath};

/// Every file of the app: (name, content type, bytes).
const FILES: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../web/app.css"),
    ),
    ("icon.svg", "image/svg+xml", include_str!("../web/icon.svg")),
];

const INDEX: &str = include_str!("../web/index.html");

/// Only our own origin, no inline code; pictures may be blobs (snapshots)
/// and media may be Media Source blobs (live view).
const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                   media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

fn with_headers(body: &'static str, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The files change with the binary; a short cache keeps upgrades visible.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /`: the app's page.
pub(crate) async fn index() -> Response {
    with_headers(INDEX, "text/html; charset=utf-8")
}

/// `GET /app/{file}`: one of the app's files; nothing else (no paths).
pub(crate) async fn file(ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, t, body)| with_headers(body, t))
        .ok_or_else(|| ApiError::not_found(format!("no file {name:?} in the web app")))
}
