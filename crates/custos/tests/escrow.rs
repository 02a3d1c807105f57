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

    let key = site.log_key();

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

    // custos verify reads the same log from the bucket, whole.
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--escrow",
            "s3://escrow/sites/test",
            "--endpoint",
            &store.endpoint,
            "--key",
            &key,
        ];
        args.extend_from_slice(extra);
        site.custos(&args)
            .env("AWS_ACCESS_KEY_ID", &store.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &store.secret_key)
            .output()
            .expect("verify --escrow")
    };
    let out = verify(&[]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("VERIFIED: the log of test"), "{said}");
    // A witness that never co-signed it: not verified, and said so.
    let stranger = custos_ledger::cosignature::CosigningKey::from_seed("w.example/w", &[5; 32])
        .expect("key")
        .verifier()
        .to_string();
    let out = verify(&["--witness", &stranger]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("not co-signed by w.example/w"), "{said}");
}

/// Rows of the site's index, read directly.
fn query_i64(site: &Site, sql: &str) -> Vec<Vec<i64>> {
    let conn = rusqlite::Connection::open(site.data_dir().join("custos.db")).expect("index");
    let mut stmt = conn.prepare(sql).expect("prepare");
    let columns = stmt.column_count();
    let rows = stmt
        .query_map([], |r| (0..columns).map(|i| r.get::<_, i64>(i)).collect())
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

#[test]
fn the_footage_of_a_tamper_alert_is_escrowed_first_and_outlives_the_box() {
    let store = s3::S3Store::start();
    let clips = tempfile::tempdir().expect("tempdir");
    let clip = common::covered_clip(clips.path());
    let camera = common::Camera::start(&[("/hall", &format!("file:{}", clip.display()))], None);
    let site = Site::new(&format!(
        "[[camera]]\nid = \"hall\"\nurl = \"{}\"\nsegment_seconds = 2\n\
         [alerts]\ncheck_seconds = 1\n{}",
        camera.url("/hall"),
        escrow_table(&store)
    ));
    let token = site.admin_token();
    let mut serve = site.serve_with_env(&[
        ("AWS_ACCESS_KEY_ID", &store.access_key),
        ("AWS_SECRET_ACCESS_KEY", &store.secret_key),
    ]);

    // The lens is covered from 8 s on: the alert is raised, and the
    // footage around it goes to the bucket; nothing else does (no custody
    // event, no camera escrowed whole).
    let deadline = Instant::now() + Duration::from_secs(120);
    let raised_ms = loop {
        let raised = query_i64(
            &site,
            "SELECT raised_ms FROM alerts WHERE kind = 'tamper.covered' AND camera = 'hall'",
        );
        if let Some(row) = raised.first() {
            break row[0];
        }
        assert!(Instant::now() < deadline, "no tamper alert: {}", site.log());
        std::thread::sleep(Duration::from_millis(500));
    };
    // Recording goes on until well past the window (30 s after the alert).
    let past_window = raised_ms + 40_000;
    loop {
        let later = query_i64(
            &site,
            &format!(
                "SELECT COUNT(*) FROM segments WHERE state = 'sealed' AND start_ms > {past_window}"
            ),
        );
        let window = query_i64(
            &site,
            &format!(
                "SELECT COUNT(*) FROM segments s WHERE s.end_ms >= {} AND s.start_ms <= {} \
                 AND NOT EXISTS (SELECT 1 FROM segment_escrow e WHERE e.segment_id = s.id)",
                raised_ms - 30_000,
                raised_ms + 30_000
            ),
        );
        if later[0][0] > 2 && window[0][0] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the alert's window was not escrowed within 120 s: {}",
            site.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let escrowed = query_i64(
        &site,
        "SELECT s.id, s.start_ms, s.end_ms FROM segment_escrow e JOIN segments s ON s.id = e.segment_id",
    );
    assert!(escrowed.len() >= 10, "{escrowed:?}");
    for row in &escrowed {
        assert!(
            row[2] >= raised_ms - 30_000 && row[1] <= raised_ms + 30_000,
            "segment {row:?} is outside the alert's window around {raised_ms}"
        );
    }

    // Each copy has the bytes the log sealed, and the log says so, as
    // the bucket shows it to anyone.
    let segments = site.segments();
    let key = site.log_key();
    let mut entries_seen = false;
    while !entries_seen {
        let out = Command::new("/usr/bin/python3")
            .arg(repo_root().join("tests/support/tlog_tiles_check.py"))
            .args(["--log", &format!("{}/sites/test/log", store.filer_url)])
            .args(["--log-key", &key, "--all"])
            .output()
            .expect("tlog_tiles_check.py");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        entries_seen = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("segment.escrowed") && l.contains("alert"))
            .count()
            >= escrowed.len();
        assert!(
            Instant::now() < deadline,
            "segment.escrowed entries not published"
        );
        if !entries_seen {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    // The API shows the escrow's progress, and each segment's copy.
    let overview = site.get_json(&token, "/api/v1/escrow");
    assert_eq!(overview["configured"], true, "{overview}");
    assert!(
        overview["status"]["segments_escrowed"].as_u64() >= Some(escrowed.len() as u64),
        "{overview}"
    );
    assert_eq!(
        overview["status"]["create_only_honoured"], true,
        "{overview}"
    );
    assert_eq!(overview["backlog"]["pending_segments"], 0, "{overview}");
    let recordings = site.get_json(
        &token,
        &format!(
            "/api/v1/cameras/hall/recordings?start_ms={}&end_ms={}",
            raised_ms - 120_000,
            raised_ms + 120_000
        ),
    );
    let listed = recordings["segments"].as_array().expect("segments");
    for segment in listed {
        let id = segment["id"].as_i64().expect("id");
        if escrowed.iter().any(|r| r[0] == id) {
            assert_eq!(segment["escrow"]["state"], "verified", "{segment}");
        } else {
            assert!(segment["escrow"].is_null(), "not wanted: {segment}");
        }
    }
    // The playback timeline shows the same, in chromium.
    let (start, end) = (
        (raised_ms - 120_000).to_string(),
        (raised_ms + 120_000).to_string(),
    );
    let count = escrowed.len().to_string();
    let (passed, report) = common::browser_checks(
        "escrow.mjs",
        &[
            ("CUSTOS_URL", &site.base_url()),
            ("ADMIN_USER", "admin"),
            ("ADMIN_PASSWORD", "a long test password"),
            ("CAMERA", "hall"),
            ("START_MS", &start),
            ("END_MS", &end),
            ("ESCROWED", &count),
        ],
    );
    assert!(passed, "{report}");
    serve.terminate(Duration::from_secs(30));
    let copies = tempfile::tempdir().expect("tempdir");
    let kept: Vec<_> = segments
        .iter()
        .filter(|s| escrowed.iter().any(|r| r[0] == s.id))
        .map(|s| (s.path.clone(), s.sha256.clone().expect("sealed")))
        .collect();
    // The box is gone.
    std::fs::remove_dir_all(site.data_dir()).expect("wipe the site");
    for (path, sha256) in &kept {
        let object = s3::http_get_url(&format!("{}/sites/test/{path}", store.filer_url))
            .expect("get the copy");
        assert_eq!(object.status, 200, "{path}");
        let file = copies.path().join(path.replace('/', "_"));
        std::fs::write(&file, &object.body).expect("write");
        assert_eq!(&common::sha256_file(&file), sha256, "{path}");
        assert_eq!(common::ffmpeg_decode_errors(&file), "", "{path} decodes");
    }

    // The evidence of the alert's moment, from the bucket alone, verifies
    // offline with the site's key.
    let bundle = copies.path().join("bundle");
    let bucket_url = format!("s3://{}/sites/test", store.bucket);
    let credentials = [
        ("AWS_ACCESS_KEY_ID", store.access_key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", store.secret_key.as_str()),
    ];
    let source = |key| common::EscrowSource {
        bucket_url: &bucket_url,
        endpoint: &store.endpoint,
        key,
        credentials,
    };
    let (from, to) = (raised_ms - 3_000, raised_ms + 20_000);
    let out = site.export_from_escrow(&source(&key), from, to, &bundle);
    assert!(
        out.status.success(),
        "export --from-escrow failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("from the escrow bucket"));
    let verified = site
        .custos(&["verify", &bundle.to_string_lossy(), "--key", &key])
        .output()
        .expect("verify");
    assert!(
        verified.status.success(),
        "the bundle from the bucket does not verify: {}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(bundle.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert!(
        manifest["segments"]
            .as_array()
            .is_some_and(|s| s.len() >= 10),
        "{manifest}"
    );

    // Someone else's key: refused, nothing trusted from the bucket.
    let other = tempfile::tempdir().expect("tempdir");
    let stranger = Site::new("");
    let stranger_key = stranger.log_key();
    let refused =
        site.export_from_escrow(&source(&stranger_key), from, to, &other.path().join("b"));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not open with the key"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
