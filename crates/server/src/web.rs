//! The web app: static files compiled into the binary and served with a
//! strict Content-Security-Policy (nothing is loaded from elsewhere, no
//! inline script). The app signs in with `POST /api/v1/login` and then
//! talks to the same JSON API as every other client.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use custos_webapp::files::{self, App};

use crate::error::{ApiError, ApiPath};

/// The site's own files served under `/app/` (beside the common ones):
/// (name, text). The content type follows from the name.
const FILES: &[(&str, &str)] = &[("app.js", include_str!("../web/app.js"))];

/// The site's pages, one module each, served under `/app/pages/` (beside
/// the common ones).
const PAGES: &[(&str, &str)] = &[
    ("alerts.js", include_str!("../web/pages/alerts.js")),
    ("audit.js", include_str!("../web/pages/audit.js")),
    ("dashboard.js", include_str!("../web/pages/dashboard.js")),
    ("desk.js", include_str!("../web/pages/desk.js")),
    ("events.js", include_str!("../web/pages/events.js")),
    (
        "inventories.js",
        include_str!("../web/pages/inventories.js"),
    ),
    ("items.js", include_str!("../web/pages/items.js")),
    ("live.js", include_str!("../web/pages/live.js")),
    ("locations.js", include_str!("../web/pages/locations.js")),
    ("people.js", include_str!("../web/pages/people.js")),
    ("playback.js", include_str!("../web/pages/playback.js")),
    ("settings.js", include_str!("../web/pages/settings.js")),
    ("users.js", include_str!("../web/pages/users.js")),
];

const INDEX: &str = include_str!("../web/index.html");

/// The site's app.
const APP: App = App {
    files: FILES,
    pages: PAGES,
};

fn with_headers(body: &'static str, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in files::HEADERS {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    r
}

/// `GET /`: the app's page.
pub(crate) async fn index() -> Response {
    with_headers(INDEX, "text/html; charset=utf-8")
}

/// `GET /app/{file}`: one of the app's files; nothing else (no paths).
pub(crate) async fn file(ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    serve(APP.file(&name), &name, "")
}

/// `GET /app/pages/{file}`: one of the app's pages (a module).
pub(crate) async fn page(ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    serve(APP.page(&name), &name, "pages/")
}

/// File `name`, as `found`, or 404.
fn serve(
    found: Option<(&'static str, &'static str)>,
    name: &str,
    dir: &str,
) -> Result<Response, ApiError> {
    found
        .map(|(body, content_type)| with_headers(body, content_type))
        .ok_or_else(|| ApiError::not_found(format!("no file {dir}{name:?} in the web app")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in `web/` (and `web/pages/`) is served, and each module
    /// imports only files that are served, by the path the browser asks for.
    #[test]
    fn every_file_of_the_app_is_served_and_every_import_found() -> std::io::Result<()> {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        assert_eq!(APP.problems(&web)?, Vec::<String>::new());
        Ok(())
    }
}
