//! The site's escrow thread: publishes the log to the escrow bucket as it
//! grows, within the uplink's bandwidth cap, and says how far it got.
//!
//! It publishes the largest checkpoint that a witness co-signed, with the
//! cosignatures, so that what lands in the bucket is what the central
//! office vouches for; a site with no witness publishes its own latest
//! checkpoint. A failure is retried with backoff; a conflict (an object of
//! the log holding other bytes) raises the alert `escrow.conflict` and
//! stops publishing until the next start, since carrying on would build
//! on a tile nobody can trust.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custos_ledger::note::VerifierKey;
use custos_ledger::storage::LogStorage;
use custos_site::backoff::Backoff;
use custos_site::central_wire::Throttle;
use custos_store::Store;

use crate::bucket::{Bucket, BucketConfig, EscrowError};
use crate::publish::LogPublisher;

/// The alert raised when an object of the site's escrow holds other bytes.
pub const CONFLICT_ALERT: &str = "escrow.conflict";

/// How far the escrow got, for the API and the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EscrowStatus {
    /// The bucket and prefix, e.g. `s3://custos/sites/alpha`.
    pub destination: String,
    /// Whether the store refuses create-only puts over existing objects
    /// (`None` until probed).
    pub create_only_honoured: Option<bool>,
    /// The log size the bucket's checkpoint commits to.
    pub log_published_size: u64,
    /// When the log was last published (Unix ms).
    pub log_published_ms: Option<i64>,
    /// The last error, until the next success.
    pub last_error: Option<String>,
    /// Bytes sent to the bucket since start.
    pub bytes_sent: u64,
}

/// Shared view of [`EscrowStatus`].
#[derive(Debug, Clone, Default)]
pub struct EscrowBoard(Arc<Mutex<EscrowStatus>>);

impl EscrowBoard {
    /// The current status.
    pub fn snapshot(&self) -> EscrowStatus {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut EscrowStatus)) {
        if let Ok(mut s) = self.0.lock() {
            f(&mut s);
        }
    }
}

/// Everything the escrow thread needs.
pub struct Escrow {
    /// The bucket.
    pub bucket: BucketConfig,
    /// The site's index.
    pub db_path: PathBuf,
    /// The log's directory.
    pub log_dir: PathBuf,
    /// The site's log key.
    pub log_key: VerifierKey,
    /// The site's name, for alerts.
    pub site: String,
    /// Where alerts go.
    pub alert_destinations: Vec<String>,
    /// The uplink's cap, shared with witnesses, reports and the mirror.
    pub throttle: Arc<Throttle>,
    /// How often to look for a new checkpoint.
    pub poll: Duration,
    /// Where the thread says how far it got.
    pub board: EscrowBoard,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Publishes until `stop` is set.
pub fn run(escrow: Escrow, stop: Arc<AtomicBool>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("escrow: starting its runtime: {e}");
            return;
        }
    };
    runtime.block_on(publish_until_stopped(escrow, stop));
}

async fn publish_until_stopped(escrow: Escrow, stop: Arc<AtomicBool>) {
    let destination = format!(
        "s3://{}/{}",
        escrow.bucket.bucket,
        escrow.bucket.prefix.trim_matches('/')
    );
    escrow.board.update(|s| s.destination = destination.clone());
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300), 0.25);
    let mut publisher: Option<LogPublisher> = None;
    let mut next_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_at {
            match step(&escrow, &mut publisher).await {
                Ok(()) => {
                    backoff.reset();
                    next_at = Instant::now() + escrow.poll;
                }
                Err(EscrowError::Conflict { path, found, ours }) => {
                    conflict(&escrow, &path, &found, &ours);
                    return;
                }
                Err(e) => {
                    let text = e.to_string();
                    tracing::warn!("escrow to {destination}: {text}");
                    escrow.board.update(|s| s.last_error = Some(text));
                    // The publisher is built again: its view of the bucket
                    // may be what went wrong.
                    publisher = None;
                    next_at = Instant::now() + backoff.next_delay(&mut rand::thread_rng());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One round: open the bucket if needed, then publish what is new.
async fn step(escrow: &Escrow, publisher: &mut Option<LogPublisher>) -> Result<(), EscrowError> {
    let local = |what: &str, e: &dyn std::fmt::Display| EscrowError::Local(format!("{what}: {e}"));
    if publisher.is_none() {
        let mut bucket = Bucket::open(&escrow.bucket)?;
        let honoured = bucket.probe().await?;
        if !honoured {
            tracing::warn!(
                "escrow: the store at {} overwrites objects despite If-None-Match: *; every \
                 write is checked before and read back after instead",
                escrow.bucket.endpoint
            );
        }
        escrow
            .board
            .update(|s| s.create_only_honoured = Some(honoured));
        let log = LogStorage::open_read_only(&escrow.log_dir)
            .map_err(|e| local("opening the log", &e))?;
        let p = LogPublisher::start(bucket, log, escrow.log_key.clone()).await?;
        escrow
            .board
            .update(|s| s.log_published_size = p.published_size());
        *publisher = Some(p);
    }
    let Some(p) = publisher.as_mut() else {
        return Ok(());
    };
    let store =
        Store::open_read_only(&escrow.db_path).map_err(|e| local("opening the index", &e))?;
    let witnessed = !store
        .witnesses()
        .map_err(|e| local("reading the witnesses", &e))?
        .is_empty();
    let checkpoint = if witnessed {
        store.best_cosigned_checkpoint(p.published_size() + 1)
    } else {
        store.latest_checkpoint()
    }
    .map_err(|e| local("reading the checkpoints", &e))?;
    let Some(checkpoint) = checkpoint else {
        return Ok(());
    };
    if checkpoint.tree_size <= p.published_size() {
        return Ok(());
    }
    let note = custos_site::uplink::with_cosignatures(&store, &checkpoint)
        .map_err(|e| local("reading the cosignatures", &e))?;
    drop(store);
    let throttle = escrow.throttle.clone();
    let done = p.publish(&note, &move |n| throttle.take(n)).await?;
    tracing::info!(
        from = done.from,
        to = done.to,
        objects = done.objects_written,
        bytes = done.bytes_written,
        "escrow: log published"
    );
    escrow.board.update(|s| {
        s.log_published_size = done.to;
        s.log_published_ms = Some(now_ms());
        s.last_error = None;
        s.bytes_sent += done.bytes_written;
    });
    Ok(())
}

fn conflict(escrow: &Escrow, path: &str, found: &str, ours: &str) {
    let summary =
        format!("{path} in the escrow bucket holds other bytes than this site's evidence");
    tracing::error!("escrow: {summary} (found SHA-256 {found}, ours {ours}); publishing stopped");
    escrow.board.update(|s| {
        s.last_error = Some(format!("{summary}; publishing stopped"));
    });
    let details = serde_json::json!({ "object": path, "found_sha256": found, "ours_sha256": ours });
    let raised = Store::open(&escrow.db_path).and_then(|store| {
        custos_site::alerts::raise(
            &store,
            &custos_store::NewAlert {
                kind: CONFLICT_ALERT,
                subject_key: path,
                summary: &summary,
                camera: None,
                barcode: None,
                details: &details,
            },
            &escrow.site,
            &escrow.alert_destinations,
            now_ms(),
        )
    });
    if let Err(e) = raised {
        tracing::error!("escrow: raising {CONFLICT_ALERT}: {e}");
    }
}
