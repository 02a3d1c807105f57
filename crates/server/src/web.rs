//! The web app: static files compiled into the binary and served with a
//! strict Content-Security-Policy (nothing is loaded from elsewhere, no
//! inline script). The app signs in with `POST /api/v1/login` and then
//! talks to the same JSON API as every other client.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use custos_webapp::files::{self, COMMON, COMMON_PAGES};

use crate::error::{ApiError, ApiPath};

/// The site's own files served under `/app/` (beside [`COMMON`]): (name,
/// text). The content type follows from the name.
const FILES: &[(&str, &str)] = &[("app.js", include_str!("../web/app.js"))];

/// The site's pages, one module each, served under `/app/pages/` (beside
/// [`COMMON_PAGES`]).
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
    serve(&[COMMON, FILES], &name, "")
}

/// `GET /app/pages/{file}`: one of the app's pages (a module).
pub(crate) async fn page(ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    serve(&[COMMON_PAGES, PAGES], &name, "pages/")
}

/// The file `name` of `sets`, found by its exact name.
fn serve(sets: &[&[(&str, &'static str)]], name: &str, dir: &str) -> Result<Response, ApiError> {
    files::find(sets, name)
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
        let (sets, pages) = (&[COMMON, FILES][..], &[COMMON_PAGES, PAGES][..]);
        assert_eq!(
            files::unserved_files(&web, sets, pages)?,
            Vec::<String>::new()
        );
        assert_eq!(files::unserved_imports(sets, pages), Vec::<String>::new());
        Ok(())
    }
}
