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

/// The app's files served under `/app/`: (name, bytes). The content type
/// follows from the name ([`content_type`]).
const FILES: &[(&str, &str)] = &[
    ("app.js", include_str!("../web/app.js")),
    ("api.js", include_str!("../web/api.js")),
    ("router.js", include_str!("../web/router.js")),
    ("session.js", include_str!("../web/session.js")),
    ("ui.js", include_str!("../web/ui.js")),
    ("app.css", include_str!("../web/app.css")),
    ("icon.svg", include_str!("../web/icon.svg")),
];

/// The pages, one module each, served under `/app/pages/`.
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
    ("login.js", include_str!("../web/pages/login.js")),
    ("people.js", include_str!("../web/pages/people.js")),
    ("playback.js", include_str!("../web/pages/playback.js")),
    ("settings.js", include_str!("../web/pages/settings.js")),
    ("users.js", include_str!("../web/pages/users.js")),
];

/// A file's content type, from its name. Browsers run a module only when
/// it is served as JavaScript (and `nosniff` forbids guessing).
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

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
    serve(FILES, &name, "")
}

/// `GET /app/pages/{file}`: one of the app's pages (a module).
pub(crate) async fn page(ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    serve(PAGES, &name, "pages/")
}

/// The file `name` of `files`, found by its exact name.
fn serve(files: &[(&str, &'static str)], name: &str, dir: &str) -> Result<Response, ApiError> {
    files
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, body)| with_headers(body, content_type(n)))
        .ok_or_else(|| ApiError::not_found(format!("no file {dir}{name:?} in the web app")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in `web/` (and `web/pages/`) is served, so a module added
    /// there and forgotten here fails at once rather than in a browser.
    #[test]
    fn every_file_of_the_app_is_served() -> std::io::Result<()> {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        for (dir, files) in [(web.clone(), FILES), (web.join("pages"), PAGES)] {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() || entry.file_name() == "index.html" {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                assert!(
                    files.iter().any(|(n, _)| *n == name),
                    "{} is not served",
                    dir.join(&name).display()
                );
            }
        }
        Ok(())
    }

    /// Each module imports only files that are served, by the path the
    /// browser asks for.
    #[test]
    fn every_import_is_served() {
        let served = |path: &str| match path.strip_prefix("pages/") {
            Some(page) => PAGES.iter().any(|(n, _)| *n == page),
            None => FILES.iter().any(|(n, _)| *n == path),
        };
        let modules = FILES
            .iter()
            .map(|(n, b)| ((*n).to_owned(), *b))
            .chain(PAGES.iter().map(|(n, b)| (format!("pages/{n}"), *b)));
        for (name, body) in modules.filter(|(n, _)| n.ends_with(".js")) {
            let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let target = line
                    .rsplit_once(" from \"")
                    .and_then(|(_, t)| t.strip_suffix("\";"))
                    .unwrap_or_else(|| panic!("{name}: cannot read {line:?}"));
                let path = match (dir, target) {
                    (_, t) if t.starts_with("./") => {
                        let t = &t[2..];
                        if dir.is_empty() {
                            t.to_owned()
                        } else {
                            format!("{dir}/{t}")
                        }
                    }
                    ("pages", t) if t.starts_with("../") => t[3..].to_owned(),
                    _ => panic!("{name}: unexpected import path {target:?}"),
                };
                assert!(
                    served(&path),
                    "{name} imports {target}, which is not served"
                );
            }
        }
    }

    #[test]
    fn scripts_are_javascript() {
        for (name, _) in FILES.iter().chain(PAGES) {
            if name.ends_with(".js") {
                assert_eq!(content_type(name), "text/javascript; charset=utf-8");
            }
        }
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
    }
}
