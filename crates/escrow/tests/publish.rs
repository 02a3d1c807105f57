//! The log published to a real S3-compatible store (SeaweedFS), then read
//! back over plain HTTP by an independent tlog-tiles client written from
//! the C2SP specifications (`tests/support/tlog_tiles_check.py`), which
//! checks the site's signature, the centre's cosignature, the root and
//! every entry's inclusion.

mod common;

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use common::S3Store;
use custos_escrow::bucket::{Bucket, BucketConfig, EscrowError};
use custos_escrow::publish::LogPublisher;
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::merkle;
use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
use custos_ledger::storage::LogStorage;

const ORIGIN: &str = "archive.example/custos/alpha";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bucket(store: &S3Store) -> Bucket {
    let config = BucketConfig {
        endpoint: store.endpoint.clone(),
        bucket: store.bucket.clone(),
        region: "us-east-1".into(),
        prefix: "sites/alpha".into(),
    };
    Bucket::open_with_keys(&config, &store.access_key, &store.secret_key, None).expect("bucket")
}

/// A checkpoint of the first `size` entries, signed by the site and
/// co-signed by the centre, as the site keeps it.
fn cosigned(log: &LogStorage, size: u64, site: &SigningKey, centre: &CosigningKey) -> String {
    let root = merkle::root(log, size).expect("root");
    let note = sign_checkpoint(
        &Checkpoint {
            origin: ORIGIN.into(),
            size,
            root,
        },
        site,
    );
    let line = centre.cosign(&note, 1_796_000_000).expect("cosign");
    format!("{note}{line}")
}

/// Runs the independent checker; returns its stdout lines on success.
fn check(store: &S3Store, site: &SigningKey, centre: &CosigningKey, args: &[&str]) -> Vec<String> {
    let out = Command::new("/usr/bin/python3")
        .arg(repo_root().join("tests/support/tlog_tiles_check.py"))
        .args(["--log", &format!("{}/sites/alpha/log", store.filer_url)])
        .args(["--log-key", &site.verifier().to_string()])
        .args(["--cosigner-key", &centre.verifier().to_string()])
        .args(args)
        .output()
        .expect("running tlog_tiles_check.py");
    assert!(
        out.status.success(),
        "the independent tlog-tiles check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_log_verifies_with_an_independent_client_and_is_never_overwritten() {
    let mut store = S3Store::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = LogStorage::open(dir.path()).expect("log");
    // Entries of the sizes a site writes, and one near the bundle limit.
    let mut entries: Vec<Vec<u8>> = (0..700u32)
        .map(|i| format!("{{\"kind\":\"segment.sealed\",\"n\":{i}}}").into_bytes())
        .collect();
    entries[300] = vec![b'x'; 60_000];
    log.append_batch(&entries).expect("append");
    let site = SigningKey::generate(ORIGIN).expect("site key");
    let centre = CosigningKey::from_seed("central.example/witness", &[9u8; 32]).expect("centre");

    let mut b = bucket(&store);
    assert!(!b.create_only_honoured(), "not trusted before the probe");
    assert!(
        b.probe().await.expect("probe"),
        "SeaweedFS refuses a create-only put over an existing object"
    );
    let reader = LogStorage::open_read_only(dir.path()).expect("reader");
    let mut publisher = LogPublisher::start(b.clone(), reader, site.verifier())
        .await
        .expect("start");
    let none = |_: usize| {};
    let first = publisher
        .publish(&cosigned(&log, 200, &site, &centre), &none)
        .await
        .expect("publish 200");
    assert_eq!((first.from, first.to), (0, 200));
    let lines = check(&store, &site, &centre, &["--index", "0", "--index", "199"]);
    let last: serde_json::Value = serde_json::from_str(&lines[2]).expect("json");
    assert_eq!(last["index"], 199);
    assert_eq!(last["entry"], "{\"kind\":\"segment.sealed\",\"n\":199}");

    // The store goes down and comes back; publishing carries on from the
    // bucket's checkpoint, after a restart of the site too.
    store.stop();
    let down = publisher
        .publish(&cosigned(&log, 700, &site, &centre), &none)
        .await;
    assert!(
        down.is_err(),
        "a store that is down is an error, not a success"
    );
    store.restart();
    let reader = LogStorage::open_read_only(dir.path()).expect("reader");
    let mut publisher = LogPublisher::start(b.clone(), reader, site.verifier())
        .await
        .expect("start again");
    assert_eq!(publisher.published_size(), 200);
    let second = publisher
        .publish(&cosigned(&log, 700, &site, &centre), &none)
        .await
        .expect("publish 700");
    assert_eq!((second.from, second.to), (200, 700));
    let lines = check(&store, &site, &centre, &["--all"]);
    assert_eq!(lines.len(), 1 + 700, "a summary line, then one per entry");
    assert!(lines[0].contains("\"tree_size\": 700"), "{}", lines[0]);

    // A tile put under a name the log has not reached yet, with other
    // bytes: the next publish reports the conflict and leaves it there.
    let squatted = "log/tile/0/002.p/189";
    b.put_once(squatted, Bytes::from_static(b"not a tile"))
        .await
        .expect("squat");
    log.append_batch(&[b"one more".to_vec()]).expect("append");
    let err = publisher
        .publish(&cosigned(&log, 701, &site, &centre), &none)
        .await
        .expect_err("conflict");
    assert!(
        matches!(&err, EscrowError::Conflict { path, .. } if path == "sites/alpha/log/tile/0/002.p/189"),
        "{err}"
    );
    let kept = b.get(squatted).await.expect("get").expect("kept");
    assert_eq!(kept.as_ref(), b"not a tile");
    // The checkpoint still commits to 700, which still verifies.
    let lines = check(&store, &site, &centre, &["--index", "699"]);
    assert!(lines[0].contains("\"tree_size\": 700"), "{}", lines[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_in_parts_cut_by_the_store_goes_on_from_the_next_part() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use custos_escrow::footage::{escrow_segment, Progress, SegmentToEscrow, PART_SIZE};
    use custos_store::{RecoveredSegment, Store};
    use sha2::{Digest, Sha256};

    let store = Mutex::new(S3Store::start());
    let mut b = bucket(&store.lock().expect("store"));
    b.probe().await.expect("probe");
    // 2.5 parts of bytes that do not repeat.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..PART_SIZE * 5 / 2)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let rel = "video/door/1796000000000.mp4";
    std::fs::create_dir_all(dir.path().join("video/door")).expect("mkdir");
    std::fs::write(dir.path().join(rel), &bytes).expect("write");
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let index = Store::open_in_memory().expect("index");
    let ids = index
        .insert_sealed_segments(&[RecoveredSegment {
            camera: "door".into(),
            path: rel.into(),
            start_ms: 1_796_000_000_000,
            end_ms: 1_796_000_060_000,
            bytes: bytes.len() as u64,
            frames: 900,
            sha256: sha256.clone(),
            codec: "avc1.640028".into(),
            width: None,
            height: None,
            sealed_ms: 1_796_000_060_000,
        }])
        .expect("segment");
    let progress = Progress {
        store: &index,
        segment_id: ids[0],
    };
    let segment = SegmentToEscrow {
        camera: "door".into(),
        path: rel.into(),
        sha256,
    };

    // The store goes down as the third part is about to go.
    let parts_sent = AtomicUsize::new(0);
    let cut = |_: usize| {
        if parts_sent.fetch_add(1, Ordering::SeqCst) == 2 {
            store.lock().expect("store").stop();
        }
    };
    let first = escrow_segment(&b, dir.path(), &segment, Some(progress), &cut).await;
    assert!(first.is_err(), "a store that went down is an error");
    let remembered = index
        .escrow_upload(ids[0])
        .expect("read")
        .expect("remembered");
    assert_eq!(
        remembered.parts.len(),
        2,
        "two parts were stored before the cut"
    );
    store.lock().expect("store").restart();
    assert_eq!(
        b.get(rel).await.expect("get"),
        None,
        "nothing stands under the segment's name until the upload completes"
    );

    // Again, as after a restart of the site: only the last part goes.
    let parts_sent = AtomicUsize::new(0);
    let count = |_: usize| {
        parts_sent.fetch_add(1, Ordering::SeqCst);
    };
    let done = escrow_segment(&b, dir.path(), &segment, Some(progress), &count)
        .await
        .expect("escrow after the restart");
    assert_eq!(
        parts_sent.load(Ordering::SeqCst),
        1,
        "the stored parts were not sent again"
    );
    assert_eq!(done.object, "sites/alpha/video/door/1796000000000.mp4");
    assert_eq!(b.get(rel).await.expect("get").as_deref(), Some(&bytes[..]));
    assert_eq!(
        index.escrow_upload(ids[0]).expect("read"),
        None,
        "forgotten once done"
    );
}
