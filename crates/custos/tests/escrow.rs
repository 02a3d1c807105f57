//! `custos serve` with `[escrow]` publishes the site's log to a real
//! S3-compatible store (SeaweedFS) as tlog-tiles, and an independent
//! tlog-tiles client verifies it from the bucket over plain HTTP.

mod common;
#[path = "../../escrow/tests/common/mod.rs"]
mod s3;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{repo_root, Site};

fn escrow_table(store: &s3::S3Store) -> String {
    format!(
        "[escrow]\nendpoint = \"{}\"\nbucket = \"{}\"\n",
        store.endpoint, store.bucket
    )
}

#[test]
fn the_site_publishes_its_log_to_the_bucket_and_anyone_can_verify_it() {
    let store = s3::S3Store::start();
    let site = Site::new(&escrow_table(&store));
    let cfg = site.config.to_string_lossy().into_owned();

    // Without credentials in the environment, serve refuses to start and
    // says which variable is missing.
    let refused = site
        .custos(&["serve", "--config", &cfg])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .expect("serve");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "started without credentials");
    assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");

    let key = site
        .custos(&["key", "show", "--config", &cfg])
        .output()
        .expect("key show");
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let key = String::from_utf8(key.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();

    let mut serve = site.serve_with_env(&[
        ("AWS_ACCESS_KEY_ID", &store.access_key),
        ("AWS_SECRET_ACCESS_KEY", &store.secret_key),
    ]);
    // The site's first entries (its start, its configuration) are signed
    // into a checkpoint within seconds; the escrow publishes it.
    let checkpoint = format!("{}/sites/test/log/checkpoint", store.filer_url);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if s3::http_get_url(&checkpoint).is_ok_and(|r| r.status == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint in the bucket after 60 s: {}",
            site.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    serve.terminate(Duration::from_secs(30));
    assert!(
        site.log().contains("escrow: log published"),
        "{}",
        site.log()
    );

    let out = Command::new("/usr/bin/python3")
        .arg(repo_root().join("tests/support/tlog_tiles_check.py"))
        .args(["--log", &format!("{}/sites/test/log", store.filer_url)])
        .args(["--log-key", &key])
        .arg("--all")
        .output()
        .expect("tlog_tiles_check.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the independent client refused the published log: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A summary line, then the entries, the loaded configuration among them.
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(lines.len() >= 2, "{stdout}");
    assert_eq!(
        lines[0]["origin"].as_str().map(|o| o.ends_with("test")),
        Some(true),
        "{stdout}"
    );
    assert!(
        lines[1..].iter().any(|l| l["entry"]
            .as_str()
            .is_some_and(|e| e.contains("config.loaded"))),
        "{stdout}"
    );
}
