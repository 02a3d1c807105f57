//! The escrow against Garage, the geo-distributed S3 store made for small
//! sites on poor links, which ignores `If-None-Match: *` (2.5): Custos must
//! find that out at start and check before and after every write instead.
//!
//! Garage takes about 15 minutes to build, so these tests are the longer
//! target: `scripts/test-garage.sh` builds it once (cached under
//! ~/.cache/custos/garage) and runs them with `--ignored`; `CUSTOS_GARAGE`
//! names the binary.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use custos_escrow::bucket::{Bucket, BucketConfig, EscrowError};
use custos_escrow::footage::{escrow_segment, SegmentToEscrow, PART_SIZE};
use custos_escrow::publish::LogPublisher;
use custos_escrow::read::verify_published_log;
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::merkle;
use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
use custos_ledger::storage::LogStorage;
use sha2::{Digest, Sha256};

/// Garage's access key ids are `GK` and 24 hex digits; secrets 64.
const ACCESS_KEY: &str = "GK0123456789abcdef01234567";
const SECRET_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const BUCKET: &str = "custos-evidence";

struct Garage {
    endpoint: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn garage_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CUSTOS_GARAGE") {
        return p.into();
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/custos/garage/bin/garage")
}

impl Garage {
    /// A single-node Garage on loopback with one bucket and one key.
    fn start() -> Garage {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s3, rpc) = (free_port(), free_port());
        let config = dir.path().join("garage.toml");
        std::fs::write(
            &config,
            format!(
                "metadata_dir = \"{0}/meta\"\ndata_dir = \"{0}/data\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{SECRET_KEY}\"\n\
                 [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n",
                dir.path().display()
            ),
        )
        .expect("garage.toml");
        let log = std::fs::File::create(dir.path().join("garage.log")).expect("log");
        let child = Command::new(garage_binary())
            .arg("-c")
            .arg(&config)
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", ACCESS_KEY)
            .env("GARAGE_DEFAULT_SECRET_KEY", SECRET_KEY)
            .env("GARAGE_DEFAULT_BUCKET", BUCKET)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} ({e}); scripts/test-garage.sh builds it",
                    garage_binary().display()
                )
            });
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, s3)).is_err() {
            assert!(
                Instant::now() < deadline,
                "garage did not serve S3 in 30 s: {}",
                std::fs::read_to_string(dir.path().join("garage.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Garage {
            endpoint: format!("http://127.0.0.1:{s3}"),
            child,
            _dir: dir,
        }
    }

    fn bucket(&self, prefix: &str) -> Bucket {
        Bucket::open_with_keys(
            &BucketConfig {
                endpoint: self.endpoint.clone(),
                bucket: BUCKET.into(),
                region: "garage".into(),
                prefix: prefix.into(),
            },
            ACCESS_KEY,
            SECRET_KEY,
            None,
        )
        .expect("bucket")
    }
}

/// The bucket may take a moment to answer after the port opens.
async fn probed(garage: &Garage, prefix: &str) -> (Bucket, bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut b = garage.bucket(prefix);
        match b.probe().await {
            Ok(honoured) => return (b, honoured),
            Err(e) if Instant::now() < deadline => {
                eprintln!("garage not ready yet: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("garage never answered the probe: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the longer target: scripts/test-garage.sh"]
async fn on_garage_every_write_is_checked_and_nothing_is_overwritten() {
    let garage = Garage::start();
    let (b, honoured) = probed(&garage, "sites/alpha").await;
    assert!(
        !honoured,
        "Garage refused a second create-only put: it now honours If-None-Match, so this test \
         no longer exercises the check-after-write path; make it use a store that does not"
    );

    // The log, published and read back whole.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = LogStorage::open(&dir.path().join("log")).expect("log");
    let entries: Vec<Vec<u8>> = (0..600u32)
        .map(|i| format!("{{\"kind\":\"segment.sealed\",\"n\":{i}}}").into_bytes())
        .collect();
    log.append_batch(&entries).expect("append");
    let site = SigningKey::generate("archive.example/custos/alpha").expect("key");
    let centre = CosigningKey::from_seed("central.example/witness", &[9u8; 32]).expect("key");
    let note = |log: &LogStorage, size: u64| {
        let n = sign_checkpoint(
            &Checkpoint {
                origin: "archive.example/custos/alpha".into(),
                size,
                root: merkle::root(log, size).expect("root"),
            },
            &site,
        );
        let line = centre.cosign(&n, 1_796_000_000).expect("cosign");
        format!("{n}{line}")
    };
    let reader = LogStorage::open_read_only(&dir.path().join("log")).expect("reader");
    let mut publisher = LogPublisher::start(b.clone(), reader, site.verifier())
        .await
        .expect("start");
    publisher
        .publish(&note(&log, 300), &|_| {})
        .await
        .expect("300");
    publisher
        .publish(&note(&log, 600), &|_| {})
        .await
        .expect("600");
    let report = verify_published_log(&b, &site.verifier(), &[centre.verifier()])
        .await
        .expect("verified");
    assert_eq!(report.size, 600);
    assert_eq!(report.cosigned_by.len(), 1);

    // Another writer's bytes under a name the log reaches next: looked at
    // before writing, reported, and left as they are.
    let squatted = "log/tile/0/002.p/89";
    b.put_once(squatted, Bytes::from_static(b"not a tile"))
        .await
        .expect("squat");
    log.append_batch(&[b"one more".to_vec()]).expect("append");
    let err = publisher
        .publish(&note(&log, 601), &|_| {})
        .await
        .expect_err("conflict");
    assert!(matches!(err, EscrowError::Conflict { .. }), "{err}");
    let kept = b.get(squatted).await.expect("get").expect("kept");
    assert_eq!(kept.as_ref(), b"not a tile");

    // A segment in parts, read back against its fingerprint.
    let video = dir.path().join("video/door");
    std::fs::create_dir_all(&video).expect("mkdir");
    let bytes: Vec<u8> = (0..PART_SIZE * 2 + 1000)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    std::fs::write(video.join("1.mp4"), &bytes).expect("write");
    let segment = SegmentToEscrow {
        camera: "door".into(),
        path: "video/door/1.mp4".into(),
        sha256: hex::encode(Sha256::digest(&bytes)),
    };
    let done = escrow_segment(&b, dir.path(), &segment, None, &|_| {})
        .await
        .expect("escrowed on garage");
    assert_eq!(done.bytes_sent, bytes.len() as u64);
    let again = escrow_segment(&b, dir.path(), &segment, None, &|_| {})
        .await
        .expect("again");
    assert_eq!(again.bytes_sent, 0, "found there, not sent twice");
}
