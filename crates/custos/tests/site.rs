//! End to end: file cameras, the video.mp4 span, authentication, config
//! checking and retention, through the real binary.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn file_camera_loops_in_real_time_and_span_export_plays() {
    let clip = test_data("vtest-h264.mp4");
    let url = format!("file://{}", clip.display());
    let site = Site::new(&format!(
        "[[camera]]\nid = \"lobby\"\nname = \"Lobby\"\nurl = \"{url}\"\nsegment_seconds = 3\n"
    ));
    let token = site.admin_token();
    let started = now_ms();
    let mut serve = site.serve();
    let path = format!(
        "/api/v1/cameras/lobby/recordings?start_ms={}&end_ms={}",
        started - 60_000,
        started + 600_000
    );
    let rec = site.wait_json(
        &token,
        &path,
        Duration::from_secs(30),
        "three sealed segments",
        |v| {
            v["segments"]
                .as_array()
                .map_or(0, |s| s.iter().filter(|x| x["state"] == "sealed").count())
                >= 3
        },
    );
    let segs = rec["segments"].as_array().expect("segments");
    // Real time: 3 s segments of a 10 fps clip hold about 30 frames.
    for s in segs.iter().filter(|s| s["state"] == "sealed").take(2) {
        let frames = s["frames"].as_i64().unwrap_or(0);
        assert!((29..=31).contains(&frames), "{s}");
    }
    let first_start = segs[0]["start_ms"].as_i64().expect("start");

    // A span from inside the first segment to inside the third: starts at the
    // key frame at or before its start, plays cleanly in ffmpeg.
    let (a, b) = (first_start + 1500, first_start + 7500);
    let resp = ureq::get(&format!(
        "{}/api/v1/cameras/lobby/video.mp4?start_ms={a}&end_ms={b}",
        site.base_url()
    ))
    .set("Authorization", &format!("Bearer {token}"))
    .call()
    .expect("video.mp4");
    assert_eq!(resp.header("Content-Type"), Some("video/mp4"));
    let span_start: i64 = resp
        .header("X-Custos-Start-Ms")
        .and_then(|h| h.parse().ok())
        .expect("start header");
    assert!(
        span_start <= a && span_start >= a - 1000,
        "starts at the key frame before {a}: {span_start}"
    );
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).expect("body");
    let out = site.dir.path().join("span.mp4");
    std::fs::write(&out, &body).expect("write");
    assert_eq!(ffmpeg_decode_errors(&out), "");
    let probe = ffprobe(&out);
    let frames: i64 = probe["streams"][0]["nb_read_frames"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("frames");
    assert!(
        (60..=80).contains(&frames),
        "about 6-7 s at 10 fps: {frames}"
    );

    // Empty span and bad parameters are JSON errors.
    let err = ureq::get(&format!(
        "{}/api/v1/cameras/lobby/video.mp4?start_ms=1000&end_ms=2000",
        site.base_url()
    ))
    .set("Authorization", &format!("Bearer {token}"))
    .call()
    .expect_err("nothing recorded in 1970");
    match err {
        ureq::Error::Status(404, r) => {
            assert!(r.into_string().unwrap_or_default().contains("error"))
        }
        other => panic!("{other:?}"),
    }
    let err = ureq::get(&format!(
        "{}/api/v1/cameras/lobby/video.mp4?start_ms=abc&end_ms=2000",
        site.base_url()
    ))
    .set("Authorization", &format!("Bearer {token}"))
    .call()
    .expect_err("bad parameter");
    assert!(matches!(err, ureq::Error::Status(400, _)), "{err:?}");
    serve.terminate(Duration::from_secs(10));
}

#[test]
fn api_requires_a_valid_token_and_revocation_takes_effect() {
    let site = Site::new("");
    let token = site.admin_token();
    let _serve = site.serve();
    let base = site.base_url();
    let health: serde_json::Value = ureq::get(&format!("{base}/api/v1/health"))
        .call()
        .expect("health")
        .into_json()
        .expect("json");
    assert_eq!(health, serde_json::json!({"status": "ok"}));
    for path in [
        "/api/v1/cameras",
        "/api/v1/cameras/x/recordings",
        "/api/v1/cameras/x/video.mp4?start_ms=1&end_ms=2",
    ] {
        match ureq::get(&format!("{base}{path}")).call() {
            Err(ureq::Error::Status(401, r)) => {
                assert!(r.into_string().unwrap_or_default().contains("error"))
            }
            other => panic!("{path} without a token: {other:?}"),
        }
        match ureq::get(&format!("{base}{path}"))
            .set("Authorization", "Bearer cst_00000000_forged")
            .call()
        {
            Err(ureq::Error::Status(401, _)) => {}
            other => panic!("{path} with a forged token: {other:?}"),
        }
    }
    assert!(ureq::get(&format!("{base}/api/v1/cameras"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .is_ok());
    let id = token.split('_').nth(1).expect("token id");
    let cfg = site.config.to_string_lossy().into_owned();
    let out = site
        .custos(&["token", "revoke", id, "--config", &cfg])
        .output()
        .expect("revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match ureq::get(&format!("{base}/api/v1/cameras"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Err(ureq::Error::Status(401, _)) => {}
        other => panic!("revoked token still works: {other:?}"),
    }
}

#[test]
fn check_config_reports_every_error_with_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "data_dir = \"/tmp/x\"\ncolour = \"blue\"\n[server]\nlisten = \"nowhere\"\n[[camera]]\nid = \"Bad Id\"\nurl = \"ftp://cam/\"\nsegment_seconds = \"sixty\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["check-config"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for (line, needle) in [
        (2, "colour"),
        (4, "listen"),
        (6, "id"),
        (7, "url"),
        (8, "segment_seconds"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("bad.toml:{line}:")) && l.contains(needle)),
            "expected an error on line {line} about {needle}:\n{err}"
        );
    }
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "data_dir = \"/tmp/x\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://10.0.0.5/s\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["check-config"])
        .arg(&good)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn user_add_refuses_short_passwords_and_unknown_roles() {
    let site = Site::new("");
    let cfg = site.config.to_string_lossy().into_owned();
    let mut child = site
        .custos(&[
            "user",
            "add",
            "bob",
            "--role",
            "viewer",
            "--password-stdin",
            "--config",
            &cfg,
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), b"short\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12"));
    let out = site
        .custos(&[
            "user",
            "add",
            "bob",
            "--role",
            "janitor",
            "--password-stdin",
            "--config",
            &cfg,
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("admin"),
        "lists the roles"
    );
}

#[test]
fn retention_deletes_by_age_and_by_bytes_while_recording() {
    let cam = Camera::start(&[("/cam", "live-h264:320x240@10:10:400")], None);
    let site = Site::new(&format!(
        "[retention]\ncheck_seconds = 1\n[[camera]]\nid = \"stacks\"\nurl = \"{}\"\nsegment_seconds = 1\nretain_days = 2\nretain_bytes = 150000\n",
        cam.url("/cam")
    ));
    // A segment from three days ago, left by an earlier run (the index does
    // not know it yet: recovery adopts it, then retention by age removes it).
    let old_dir = site.data_dir().join("video/stacks");
    std::fs::create_dir_all(&old_dir).expect("mkdir");
    let old_start = now_ms() - 3 * 86_400_000;
    let old_path = old_dir.join(format!("{old_start}.mp4"));
    {
        use custos_media::segment::SegmentWriter;
        use custos_media::synthetic::{frame, params};
        let params = params(320, 240);
        let frame = |n: i64| frame(n, 10);
        let mut w = SegmentWriter::create(&old_path, &params, frame(0), old_start, 90_000, 9000)
            .expect("create");
        for n in 1..20 {
            w.push(frame(n)).expect("push");
        }
        w.finish(None).expect("finish");
    }
    let token = site.admin_token();
    let mut serve = site.serve();
    site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(10),
        "recording",
        |v| v["cameras"][0]["state"] == "recording",
    );
    std::thread::sleep(Duration::from_secs(12));
    serve.terminate(Duration::from_secs(10));

    assert!(!old_path.exists(), "segment older than retain_days deleted");
    let rows = site.segments();
    let conn = rusqlite::Connection::open(site.data_dir().join("custos.db")).expect("db");
    let reason: String = conn
        .query_row(
            "SELECT delete_reason FROM segments WHERE start_ms = ?1",
            [old_start],
            |r| r.get(0),
        )
        .expect("tombstone of the old segment");
    assert!(reason.contains("older than 2 days"), "{reason}");
    let by_quota = rows
        .iter()
        .filter(|r| r.state == "deleted" && r.start_ms != old_start)
        .count();
    assert!(by_quota >= 2, "quota deletions happened: {rows:?}");
    let live: Vec<_> = rows.iter().filter(|r| r.state == "sealed").collect();
    let live_bytes: i64 = live.iter().map(|r| r.bytes).sum();
    // Segments sealed after the last check (retention runs each second; on a
    // busy machine the commit and the check lag a little, and shutdown seals
    // the open segment) are allowed on top of the quota: the three newest.
    let mut newest_first: Vec<_> = live.clone();
    newest_first.sort_by_key(|r| std::cmp::Reverse(r.start_ms));
    let slack: i64 = newest_first.iter().take(3).map(|r| r.bytes).sum();
    assert!(
        live_bytes <= 150_000 + slack,
        "live bytes {live_bytes} within the quota (+{slack} of the newest segments): {live:?}"
    );
    // Oldest first: every deleted segment is older than every kept one.
    let oldest_kept = live.iter().map(|r| r.start_ms).min().unwrap_or(i64::MAX);
    for r in rows.iter().filter(|r| r.state == "deleted") {
        assert!(
            r.start_ms < oldest_kept,
            "{r:?} deleted before an older segment"
        );
        assert!(
            !site.data_dir().join(&r.path).exists(),
            "{} still on disk",
            r.path
        );
    }
    let files = video_files(&site.data_dir());
    assert_eq!(files.len(), live.len(), "no orphan files: {files:?}");
}

#[test]
fn https_when_configured_with_secure_cookies_and_no_plain_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=custos-test",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let site = Site::new(&format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
        cert.display(),
        key.display()
    ));
    let _ = site.admin_token();
    let cfg = site.config.to_string_lossy().into_owned();
    let log = std::fs::File::create(site.dir.path().join("serve.log")).expect("log");
    let child = site
        .custos(&["serve", "--config", &cfg])
        .stderr(log)
        .spawn()
        .expect("serve");
    let mut serve = common::Proc {
        child,
        name: "custos".into(),
    };
    let url = format!("https://127.0.0.1:{}", site.port);
    let curl = |args: &[&str]| {
        std::process::Command::new("curl")
            .args(["-s", "-S", "--max-time", "5", "--cacert"])
            .arg(&cert)
            .args(args)
            .output()
            .expect("curl")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let o = curl(&[&format!("{url}/api/v1/health")]);
        if o.status.success() && String::from_utf8_lossy(&o.stdout).contains("ok") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no HTTPS answer: {}",
            site.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = curl(&[
        "-i",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"user":"admin","password":"a long test password"}"#,
        &format!("{url}/api/v1/login"),
    ]);
    let head = String::from_utf8_lossy(&o.stdout).to_ascii_lowercase();
    let cookie = head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.contains("; secure")
            && cookie.contains("httponly")
            && cookie.contains("samesite=strict"),
        "{head}"
    );
    // Plain HTTP on the same port gets no API answer.
    let plain = std::process::Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "5",
            &format!("http://127.0.0.1:{}/api/v1/health", site.port),
        ])
        .output()
        .expect("curl");
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"ok\""));
    assert!(serve
        .terminate(Duration::from_secs(10))
        .is_some_and(|s| s.success()));

    // A key that is not a key stops the start, naming the file.
    std::fs::write(&key, "not a key").expect("write");
    let out = site
        .custos(&["serve", "--config", &cfg])
        .output()
        .expect("serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("key.pem"), "{err}");
}
