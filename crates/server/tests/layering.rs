//! The server is an adapter over `custos-site`: it writes no log entry of
//! its own. Sign-ins, views, downloads, unlocks and settings changes are
//! logged by the site's functions, which the command line shares, so an
//! entry has one shape however the action was asked for.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading the server's sources") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_server_makes_no_log_entry_of_its_own() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10, "found only {files:?}");
    // Making an entry takes `catalogue::leaf`; queueing one takes the
    // store's outbox, directly or in a write.
    let makers = ["leaf(", "enqueue_log(", ".log(", "log_all("];
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("reading a source file");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for maker in makers {
                if line.contains(maker) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "log entries made in the server:\n{}",
        found.join("\n")
    );
}
