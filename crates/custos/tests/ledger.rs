//! End to end: a recorded site is sealed in its signed log; an evidence
//! bundle verifies offline, and every kind of tampering is caught and named.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::*;

fn run(site: &Site, args: &[&str]) -> Output {
    site.custos(args).output().expect("run custos")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Records a few segments, stops, and returns (site, segments).
fn recorded_site() -> (Camera, Site, Vec<SegmentRow>) {
    let cam = Camera::start(&[("/cam", "live-h264:320x240@10:10:300")], None);
    let site = Site::new(&format!(
        "[[camera]]\nid = \"stacks\"\nurl = \"{}\"\nsegment_seconds = 1\n",
        cam.url("/cam")
    ));
    let token = site.admin_token();
    let mut serve = site.serve();
    site.wait_json(
        &token,
        "/api/v1/cameras",
        Duration::from_secs(10),
        "recording",
        |v| v["cameras"][0]["state"] == "recording",
    );
    std::thread::sleep(Duration::from_secs(5));
    api_export(&site, &token);
    // A browser sign-in through the real server, and a failed one.
    let bad = ureq::post(&format!("{}/api/v1/login", site.base_url()))
        .send_json(serde_json::json!({"user": "admin", "password": "wrong password!"}));
    assert!(matches!(bad, Err(ureq::Error::Status(401, _))), "{bad:?}");
    let ok = ureq::post(&format!("{}/api/v1/login", site.base_url()))
        .send_json(serde_json::json!({"user": "admin", "password": "a long test password"}))
        .expect("sign in");
    assert!(ok
        .header("set-cookie")
        .is_some_and(|c| c.contains("HttpOnly")));
    assert!(
        serve
            .terminate(Duration::from_secs(10))
            .is_some_and(|s| s.success()),
        "{}",
        site.log()
    );
    let rows: Vec<_> = site
        .segments()
        .into_iter()
        .filter(|r| r.state == "sealed")
        .collect();
    assert!(rows.len() >= 3, "{rows:?}");
    (cam, site, rows)
}

/// Exports the last few seconds through the running server's API,
/// downloads the bundle, unpacks it and verifies it offline.
fn api_export(site: &Site, token: &str) {
    let now = now_ms();
    let body = serde_json::json!({
        "camera": "stacks",
        "start_ms": now - 4000,
        "end_ms": now - 2000,
        "reason": "API export",
    });
    let created: serde_json::Value = ureq::post(&format!("{}/api/v1/exports", site.base_url()))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(body)
        .expect("POST /api/v1/exports")
        .into_json()
        .expect("json");
    assert!(
        created["segments"].as_u64().expect("segments") >= 2,
        "{created}"
    );
    let id = created["id"].as_str().expect("id").to_owned();
    let download = created["download"].as_str().expect("download");
    let mut tar_bytes = Vec::new();
    ureq::get(&format!("{}{download}", site.base_url()))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("download")
        .into_reader()
        .read_to_end(&mut tar_bytes)
        .expect("read");
    let tar = site.dir.path().join("api-bundle.tar");
    std::fs::write(&tar, &tar_bytes).expect("write tar");
    let unpacked = site.dir.path().join("api-bundle");
    std::fs::create_dir_all(&unpacked).expect("mkdir");
    let st = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .expect("tar");
    assert!(st.success());
    let r = run(site, &["verify", &unpacked.join(&id).to_string_lossy()]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(
        text(&r).contains("API export") || text(&r).contains("segments"),
        "{}",
        text(&r)
    );
}

/// Replaces the site's log with one holding `leaves` (hashes recomputed,
/// so only the checkpoints can tell).
fn rewrite_log(site: &Site, leaves: &[Vec<u8>]) {
    let dir = site.data_dir().join("log");
    std::fs::remove_dir_all(&dir).expect("rm log");
    let mut log = custos_ledger::storage::LogStorage::open(&dir).expect("new log");
    log.append_batch(leaves).expect("append");
}

fn read_log(site: &Site) -> Vec<Vec<u8>> {
    let log = custos_ledger::storage::LogStorage::open_read_only(&site.data_dir().join("log"))
        .expect("open log");
    (0..log.size())
        .map(|i| log.entry(i).expect("entry"))
        .collect()
}

/// Changes a copy of a bundle in one way.
type Tamper = Box<dyn Fn(&Path)>;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

#[test]
fn site_log_export_and_offline_verification_catch_every_tamper() {
    let (_cam, site, rows) = recorded_site();
    let cfg = site.config.to_string_lossy().into_owned();

    // The key exists with mode 0600 and `key show` prints its verifier form.
    let key_file = site.data_dir().join("keys/log.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file)
            .expect("key file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let shown = run(&site, &["key", "show", "--config", &cfg]);
    assert!(shown.status.success(), "{}", text(&shown));
    let verifier = String::from_utf8_lossy(&shown.stdout).trim().to_owned();
    assert!(verifier.starts_with("test+"), "{verifier}");

    // Every kind of fact the run produced is in the log.
    let kinds: std::collections::BTreeSet<String> = read_log(&site)
        .iter()
        .map(|leaf| {
            let v: serde_json::Value = serde_json::from_slice(leaf).expect("entry json");
            v["type"].as_str().expect("type").to_owned()
        })
        .collect();
    for kind in [
        "config.loaded",
        "user.created",
        "token.created",
        "camera.state",
        "segment.sealed",
        "footage.exported",
        "evidence.downloaded",
        "auth.login",
        "auth.login_failed",
    ] {
        assert!(
            kinds.contains(kind),
            "no {kind} entry in the log: {kinds:?}"
        );
    }

    // Sign-ins are logged with the client's address.
    let sources: Vec<String> = read_log(&site)
        .iter()
        .filter_map(|leaf| {
            let v: serde_json::Value = serde_json::from_slice(leaf).ok()?;
            (v["type"] == "auth.login").then(|| v["source"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    assert_eq!(sources, ["127.0.0.1"]);

    // The whole site verifies.
    let v = run(&site, &["verify", "--config", &cfg]);
    assert!(v.status.success(), "{}", text(&v));

    // Export the middle of the recording and verify it offline.
    let (a, b) = (rows[1].start_ms, rows[rows.len() - 1].end_ms);
    let out = site.dir.path().join("bundle");
    let outs = out.to_string_lossy().into_owned();
    let e = run(
        &site,
        &[
            "export",
            "--config",
            &cfg,
            "--camera",
            "stacks",
            "--start-ms",
            &a.to_string(),
            "--end-ms",
            &b.to_string(),
            "--out",
            &outs,
            "--reason",
            "incident 42",
        ],
    );
    assert!(e.status.success(), "{}", text(&e));
    for name in [
        "segments",
        "entries.jsonl",
        "proofs.json",
        "checkpoint",
        "key.pub",
        "manifest.json",
    ] {
        assert!(out.join(name).exists(), "bundle has {name}");
    }
    let ok = run(&site, &["verify", &outs]);
    assert!(ok.status.success(), "{}", text(&ok));
    let ok = run(&site, &["verify", &outs, "--key", &verifier]);
    assert!(ok.status.success(), "{}", text(&ok));

    // Each tamper, on a fresh copy of the bundle, fails and names its cause.
    let tampers: Vec<(&str, Tamper)> = vec![
        (
            "altered",
            Box::new(|d: &Path| {
                let seg = std::fs::read_dir(d.join("segments"))
                    .expect("dir")
                    .flatten()
                    .next()
                    .expect("a segment")
                    .path();
                let mut bytes = std::fs::read(&seg).expect("read");
                let i = bytes.len() / 2;
                bytes[i] ^= 1;
                std::fs::write(&seg, bytes).expect("write");
            }),
        ),
        (
            "missing",
            Box::new(|d: &Path| {
                let seg = std::fs::read_dir(d.join("segments"))
                    .expect("dir")
                    .flatten()
                    .next()
                    .expect("a segment")
                    .path();
                std::fs::remove_file(seg).expect("rm");
            }),
        ),
        (
            "order",
            Box::new(|d: &Path| {
                let p = d.join("entries.jsonl");
                let mut lines: Vec<String> = std::fs::read_to_string(&p)
                    .expect("read")
                    .lines()
                    .map(str::to_owned)
                    .collect();
                lines.swap(0, 1);
                std::fs::write(&p, lines.join("\n") + "\n").expect("write");
            }),
        ),
    ];
    for (i, (cause, tamper)) in tampers.iter().enumerate() {
        let copy = site.dir.path().join(format!("tampered-{i}"));
        copy_dir(&out, &copy);
        tamper(&copy);
        let r = run(&site, &["verify", &copy.to_string_lossy()]);
        assert!(
            !r.status.success(),
            "tamper {cause} was not caught:\n{}",
            text(&r)
        );
        assert!(
            text(&r).to_lowercase().contains(cause),
            "tamper {cause} not named:\n{}",
            text(&r)
        );
    }
    // A key from elsewhere that is not the site's.
    let other = site.dir.path().join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("c.toml"), "data_dir = \"d\"\nsite = \"test\"\n").expect("cfg");
    let other_key = run(
        &site,
        &[
            "key",
            "show",
            "--config",
            &other.join("c.toml").to_string_lossy(),
        ],
    );
    let other_key = String::from_utf8_lossy(&other_key.stdout).trim().to_owned();
    let r = run(&site, &["verify", &outs, "--key", &other_key]);
    assert!(
        !r.status.success(),
        "a different --key must fail:\n{}",
        text(&r)
    );

    // Tampering with the site itself: each caught by `verify --config`.
    let victim = site.data_dir().join(&rows[0].path);
    let original = std::fs::read(&victim).expect("read");
    let mut altered = original.clone();
    let mid = altered.len() / 2;
    altered[mid] ^= 0x80;
    std::fs::write(&victim, &altered).expect("write");
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(
        !r.status.success()
            && text(&r).contains("file altered")
            && text(&r).contains(&rows[0].path),
        "{}",
        text(&r)
    );
    std::fs::remove_file(&victim).expect("rm");
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(
        !r.status.success() && text(&r).contains("file missing"),
        "{}",
        text(&r)
    );
    std::fs::write(&victim, &original).expect("restore");
    let conn = rusqlite::Connection::open(site.data_dir().join("custos.db")).expect("db");
    conn.execute(
        "UPDATE segments SET end_ms = end_ms + 5000 WHERE id = ?1",
        [rows[1].id],
    )
    .expect("edit");
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(
        !r.status.success() && text(&r).contains("index row edited"),
        "{}",
        text(&r)
    );
    conn.execute(
        "UPDATE segments SET end_ms = end_ms - 5000 WHERE id = ?1",
        [rows[1].id],
    )
    .expect("undo");
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(
        r.status.success(),
        "restored site verifies again:\n{}",
        text(&r)
    );

    // A checkpoint whose signature no longer matches.
    let note: String = conn
        .query_row(
            "SELECT note FROM checkpoints ORDER BY tree_size LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("a checkpoint");
    let forged = note.replacen("\n\n", "\nforged\n\n", 1);
    conn.execute(
        "UPDATE checkpoints SET note = ?1 WHERE note = ?2",
        [&forged, &note],
    )
    .expect("forge");
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(
        !r.status.success() && text(&r).contains("signature check failed"),
        "{}",
        text(&r)
    );
    conn.execute(
        "UPDATE checkpoints SET note = ?1 WHERE note = ?2",
        [&note, &forged],
    )
    .expect("restore");

    // The log rewritten: one entry changed and every hash recomputed, so
    // the files agree with themselves and only the signed roots disagree.
    let leaves = read_log(&site);
    let original_log = leaves.clone();
    let mut edited = leaves.clone();
    let target = edited
        .iter()
        .position(|l| String::from_utf8_lossy(l).contains("segment.sealed"))
        .expect("a sealed entry");
    let text_leaf = String::from_utf8_lossy(&edited[target]).replace("\"frames\":", "\"frames\":1");
    edited[target] = text_leaf.into_bytes();
    rewrite_log(&site, &edited);
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(
        !r.status.success() && text(&r).contains("log rewritten"),
        "{}",
        text(&r)
    );
    // The log truncated: its last entries removed, hashes recomputed.
    rewrite_log(&site, &original_log[..original_log.len() - 2]);
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(
        !r.status.success() && text(&r).contains("log truncated"),
        "{}",
        text(&r)
    );
    // An entry's bytes edited in place (the tree files left alone).
    rewrite_log(&site, &original_log);
    let data = site.data_dir().join("log/entries.dat");
    let mut bytes = std::fs::read(&data).expect("read entries");
    let at = bytes
        .windows(7)
        .position(|w| w == b"stacks\"")
        .expect("a camera name");
    bytes[at] = b'S';
    std::fs::write(&data, &bytes).expect("write entries");
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(
        !r.status.success() && text(&r).contains("was edited"),
        "{}",
        text(&r)
    );
    rewrite_log(&site, &original_log);
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(
        r.status.success(),
        "the original log verifies again:\n{}",
        text(&r)
    );

    // A person holds a segment, cannot delete it while held, then deletes
    // it and the next (a gap longer than a second): the files go, tombstones
    // say who and why, and an export across them explains the gap.
    assert!(rows.len() >= 4, "{rows:?}");
    let id = rows[1].id.to_string();
    let seg = |args: &[&str]| {
        let mut all = vec!["segment"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", &cfg]);
        run(&site, &all)
    };
    let r = seg(&["hold", &id]);
    assert!(r.status.success(), "{}", text(&r));
    let r = seg(&["delete", &id, "--reason", "privacy request 7"]);
    assert!(
        !r.status.success() && text(&r).contains("held"),
        "{}",
        text(&r)
    );
    let r = seg(&["release", &id]);
    assert!(r.status.success(), "{}", text(&r));
    for victim in [&rows[1], &rows[2]] {
        let r = seg(&[
            "delete",
            &victim.id.to_string(),
            "--reason",
            "privacy request 7",
        ]);
        assert!(r.status.success(), "{}", text(&r));
        assert!(!site.data_dir().join(&victim.path).exists());
    }
    let r = seg(&["delete", &id, "--reason", "again"]);
    assert!(
        !r.status.success() && text(&r).contains("deleted"),
        "{}",
        text(&r)
    );
    // The running site moves the new entries into the log and signs them.
    let mut serve = site.serve();
    assert!(serve
        .terminate(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    let r = run(&site, &["verify", "--config", &cfg]);
    assert!(r.status.success(), "{}", text(&r));
    let out2 = site.dir.path().join("bundle-with-deletion");
    let e = run(
        &site,
        &[
            "export",
            "--config",
            &cfg,
            "--camera",
            "stacks",
            "--start-ms",
            &rows[0].start_ms.to_string(),
            "--end-ms",
            &rows[3].end_ms.to_string(),
            "--out",
            &out2.to_string_lossy(),
            "--reason",
            "across a deletion",
        ],
    );
    assert!(e.status.success(), "{}", text(&e));
    let r = run(&site, &["verify", &out2.to_string_lossy()]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(
        text(&r).contains("deleted by") && text(&r).contains("privacy request 7"),
        "{}",
        text(&r)
    );
    let kinds: Vec<String> = read_log(&site)
        .iter()
        .filter_map(|leaf| {
            let v: serde_json::Value = serde_json::from_slice(leaf).ok()?;
            Some(v["type"].as_str()?.to_owned())
        })
        .collect();
    for kind in ["segment.held", "segment.released", "segment.deleted"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind}: {kinds:?}");
    }
}

/// The verify benchmark builds a site through the real paths and that site
/// verifies (a small one here; docs/benchmarks.md has the month).
#[test]
fn verify_site_benchmark_runs_on_a_small_site() {
    let site = Site::new("");
    let dir = site.dir.path().to_string_lossy().into_owned();
    let o = run(
        &site,
        &[
            "bench",
            "verify-site",
            "--cameras",
            "2",
            "--days",
            "1",
            "--segment-seconds",
            "600",
            "--dir",
            &dir,
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("custos verify:") && out.contains("for 288 segments, 288 log entries"),
        "{out}"
    );
    assert!(out.contains("custos verify / sha256sum ="), "{out}");
}
