//! The web app's common files, and how any file of an app is served.
//!
//! An app is a set of named files compiled into the binary: the common
//! ones here ([`COMMON`], [`COMMON_PAGES`]) and the app's own. Nothing is
//! loaded from elsewhere and no script is inline, which the
//! Content-Security-Policy ([`CSP`]) enforces.

/// Common files served under `/app/`: (name, text).
pub const COMMON: &[(&str, &str)] = &[
    ("api.js", include_str!("../web/api.js")),
    ("router.js", include_str!("../web/router.js")),
    ("session.js", include_str!("../web/session.js")),
    ("ui.js", include_str!("../web/ui.js")),
    ("app.css", include_str!("../web/app.css")),
    ("icon.svg", include_str!("../web/icon.svg")),
];

/// Common pages served under `/app/pages/`.
pub const COMMON_PAGES: &[(&str, &str)] = &[("login.js", include_str!("../web/pages/login.js"))];

/// Only our own origin, no inline code; pictures may be blobs (snapshots)
/// and media may be Media Source blobs (live view).
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
     media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The headers every file is served with besides its content type: the
/// policy above, no sniffing, no framing, no referrer, and a short cache
/// (the files change with the binary; upgrades must show).
pub const HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-cache"),
];

/// A file's content type, from its name. Browsers run a module only when
/// it is served as JavaScript (and `nosniff` forbids guessing).
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// One app: its own files (under `/app/`) and pages (under `/app/pages/`),
/// served beside the common ones.
pub struct App {
    /// Its own files: `index.html` is served apart, at `/`.
    pub files: &'static [(&'static str, &'static str)],
    /// Its own pages.
    pub pages: &'static [(&'static str, &'static str)],
}

impl App {
    /// File `name` of `/app/`, common or its own, with its content type.
    pub fn file(&self, name: &str) -> Option<(&'static str, &'static str)> {
        find(&[COMMON, self.files], name)
    }

    /// Page `name` of `/app/pages/`, common or its own.
    pub fn page(&self, name: &str) -> Option<(&'static str, &'static str)> {
        find(&[COMMON_PAGES, self.pages], name)
    }

    /// What is wrong with the app whose sources are in `dir`: a file there
    /// that is not served, an import that is not (see [`unserved_files`]
    /// and [`unserved_imports`]). Empty when all is well.
    pub fn problems(&self, dir: &std::path::Path) -> std::io::Result<Vec<String>> {
        let (files, pages) = (&[COMMON, self.files][..], &[COMMON_PAGES, self.pages][..]);
        let mut problems = unserved_files(dir, files, pages)?;
        problems.extend(unserved_imports(files, pages));
        Ok(problems)
    }
}

/// The text of file `name` among `sets`, found by its exact name (never a
/// path), with its content type.
pub fn find(sets: &[&[(&str, &'static str)]], name: &str) -> Option<(&'static str, &'static str)> {
    sets.iter()
        .flat_map(|set| set.iter())
        .find(|(n, _)| *n == name)
        .map(|(n, body)| (*body, content_type(n)))
}

/// Every module import of an app that would not be served: the app's
/// files are `files` (under `/app/`) and `pages` (under `/app/pages/`),
/// the common ones included. Each import is named with its module, for a
/// test to print.
pub fn unserved_imports(files: &[&[(&str, &str)]], pages: &[&[(&str, &str)]]) -> Vec<String> {
    let in_sets = |sets: &[&[(&str, &str)]], name: &str| {
        sets.iter().flat_map(|s| s.iter()).any(|(n, _)| *n == name)
    };
    let served = |path: &str| match path.strip_prefix("pages/") {
        Some(page) => in_sets(pages, page),
        None => in_sets(files, path),
    };
    let modules = files
        .iter()
        .flat_map(|s| s.iter())
        .map(|(n, b)| ((*n).to_owned(), *b))
        .chain(
            pages
                .iter()
                .flat_map(|s| s.iter())
                .map(|(n, b)| (format!("pages/{n}"), *b)),
        );
    let mut wrong = Vec::new();
    for (name, body) in modules.filter(|(n, _)| n.ends_with(".js")) {
        let in_pages = name.starts_with("pages/");
        for line in body.lines().filter(|l| l.starts_with("import ")) {
            let Some(target) = line
                .rsplit_once(" from \"")
                .and_then(|(_, t)| t.strip_suffix("\";"))
            else {
                wrong.push(format!("{name}: cannot read {line:?}"));
                continue;
            };
            let path = match (
                in_pages,
                target.strip_prefix("./"),
                target.strip_prefix("../"),
            ) {
                (false, Some(t), _) => t.to_owned(),
                (true, Some(t), _) => format!("pages/{t}"),
                (true, None, Some(t)) => t.to_owned(),
                _ => {
                    wrong.push(format!("{name}: unexpected import path {target:?}"));
                    continue;
                }
            };
            if !served(&path) {
                wrong.push(format!("{name} imports {target}, which is not served"));
            }
        }
    }
    wrong
}

/// Every file in `dir` (and its `pages/`) but `index.html` that is not
/// among the served sets: a module added and forgotten fails a test at
/// once rather than in a browser.
pub fn unserved_files(
    dir: &std::path::Path,
    files: &[&[(&str, &str)]],
    pages: &[&[(&str, &str)]],
) -> std::io::Result<Vec<String>> {
    let mut missing = Vec::new();
    for (dir, sets) in [(dir.to_path_buf(), files), (dir.join("pages"), pages)] {
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() || entry.file_name() == "index.html" {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if !sets.iter().flat_map(|s| s.iter()).any(|(n, _)| *n == name) {
                missing.push(dir.join(&name).display().to_string());
            }
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_files_are_all_served_and_import_only_each_other() -> std::io::Result<()> {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        assert_eq!(
            unserved_files(&web, &[COMMON], &[COMMON_PAGES])?,
            Vec::<String>::new()
        );
        assert_eq!(
            unserved_imports(&[COMMON], &[COMMON_PAGES]),
            Vec::<String>::new()
        );
        Ok(())
    }

    #[test]
    fn a_missing_import_is_named() {
        let files: &[(&str, &str)] = &[("app.js", "import { x } from \"./gone.js\";\n")];
        let wrong = unserved_imports(&[files], &[]);
        assert_eq!(
            wrong,
            vec!["app.js imports ./gone.js, which is not served".to_owned()]
        );
    }

    #[test]
    fn scripts_are_javascript() {
        for (name, _) in COMMON.iter().chain(COMMON_PAGES) {
            if name.ends_with(".js") {
                assert_eq!(content_type(name), "text/javascript; charset=utf-8");
            }
        }
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(
            find(&[COMMON], "ui.js").map(|f| f.1),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(find(&[COMMON], "../ui.js"), None);
    }
}
