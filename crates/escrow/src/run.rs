//! The site's escrow thread: publishes the log to the escrow bucket as it
//! grows, copies the footage that matters there, within the uplink's
//! bandwidth cap, and says how far it got.
//!
//! Footage goes in the order `Store::escrow_next` chooses: the windows of
//! custody events and of alerts about a camera first, then the cameras
//! whose footage is escrowed whole; each segment copied and verified is
//! recorded in the index and logged as `segment.escrowed`, so the order
//! survives restarts and outages and nothing is sent twice.
//!
//! It publishes the largest checkpoint that a witness co-signed, with the
//! cosignatures, so that what lands in the bucket is what the central
//! office vouches for; a site with no witness publishes its own latest
//! checkpoint. A failure is retried with backoff; a conflict (an object of
//! the log or a segment's name holding other bytes) raises the alert
//! `escrow.conflict` and stops the escrow until the next start: someone
//! else writes under this site's prefix, and carrying on would build on
//! objects nobody can trust.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custos_ledger::note::VerifierKey;
use custos_ledger::storage::LogStorage;
use custos_site::backoff::Backoff;
use custos_site::central_wire::Throttle;
use custos_store::clock::now_ms;
use custos_store::Store;

use crate::bucket::{Bucket, BucketConfig, EscrowError};
use crate::footage::{escrow_segment, FootageError, SegmentToEscrow};
use crate::publish::LogPublisher;

/// The alert raised when an object of the site's escrow holds other bytes.
pub const CONFLICT_ALERT: &str = "escrow.conflict";

/// How far the escrow got, for the API and the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
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
    /// Segments copied and verified since start.
    pub segments_escrowed: u64,
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
    /// The site's data directory (segments are read from it).
    pub data_dir: PathBuf,
    /// Cameras whose footage is escrowed whole, after the windows.
    pub all_footage_of: Vec<String>,
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
    let mut skipped = HashSet::new();
    let mut next_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_at {
            match step(&escrow, &mut publisher, &mut skipped, &stop).await {
                Ok(more) => {
                    backoff.reset();
                    // A backlog is worked off without pausing.
                    next_at = Instant::now() + if more { Duration::ZERO } else { escrow.poll };
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

/// How long one round copies footage before it looks at the log again.
const FOOTAGE_ROUND: Duration = Duration::from_secs(10);

/// One round: open the bucket if needed, publish what is new of the log,
/// then copy footage for a while. Says whether footage is left to copy.
async fn step(
    escrow: &Escrow,
    publisher: &mut Option<LogPublisher>,
    skipped: &mut HashSet<i64>,
    stop: &AtomicBool,
) -> Result<bool, EscrowError> {
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
        return Ok(false);
    };
    publish_log(escrow, p).await?;
    copy_footage(escrow, p.bucket(), skipped, stop).await
}

async fn publish_log(escrow: &Escrow, p: &mut LogPublisher) -> Result<(), EscrowError> {
    let local = |what: &str, e: &dyn std::fmt::Display| EscrowError::Local(format!("{what}: {e}"));
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

/// Copies segments in escrow order for up to [`FOOTAGE_ROUND`]; says
/// whether more are waiting.
async fn copy_footage(
    escrow: &Escrow,
    bucket: &Bucket,
    skipped: &mut HashSet<i64>,
    stop: &AtomicBool,
) -> Result<bool, EscrowError> {
    use custos_custody::footage::{WINDOW_AFTER_MS, WINDOW_BEFORE_MS};
    let local = |what: &str, e: &dyn std::fmt::Display| EscrowError::Local(format!("{what}: {e}"));
    let store = Store::open(&escrow.db_path).map_err(|e| local("opening the index", &e))?;
    let until = Instant::now() + FOOTAGE_ROUND;
    // The next few segments in escrow order, chosen again when they are
    // gone (a choice reads every window of the site's events).
    let mut batch: std::collections::VecDeque<_> = Default::default();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        if batch.is_empty() {
            // More than the skipped ones, so a skipped segment never hides
            // the rest.
            batch = store
                .escrow_next(
                    WINDOW_BEFORE_MS,
                    WINDOW_AFTER_MS,
                    &escrow.all_footage_of,
                    skipped.len() + 8,
                )
                .map_err(|e| local("choosing footage to escrow", &e))?
                .into_iter()
                .filter(|(s, _)| !skipped.contains(&s.id))
                .collect();
        }
        let Some((segment, reason)) = batch.pop_front() else {
            return Ok(false);
        };
        if Instant::now() >= until {
            return Ok(true);
        }
        let Some(sha256) = segment.sha256.clone() else {
            skipped.insert(segment.id);
            continue;
        };
        let to_escrow = SegmentToEscrow {
            camera: segment.camera.clone(),
            path: segment.path.clone(),
            sha256,
        };
        let throttle = escrow.throttle.clone();
        let progress = crate::footage::Progress {
            store: &store,
            segment_id: segment.id,
        };
        let done = match escrow_segment(
            bucket,
            &escrow.data_dir,
            &to_escrow,
            Some(progress),
            &move |n| throttle.take(n),
        )
        .await
        {
            Ok(done) => done,
            Err(FootageError::Local { path, reason }) => {
                tracing::warn!("escrow: segment {path} not escrowed: {reason}");
                skipped.insert(segment.id);
                continue;
            }
            Err(FootageError::Escrow(e)) => return Err(e),
        };
        let now = now_ms();
        let leaf = custos_ledger::catalogue::leaf(
            now,
            &custos_ledger::catalogue::SegmentEscrowed {
                camera: &segment.camera,
                path: &segment.path,
                sha256: &to_escrow.sha256,
                object: &done.object,
                etag: done.etag.as_deref(),
                reason: reason.as_str(),
            },
        )
        .map_err(|e| local("logging the escrow", &e))?;
        store
            .write("recording a segment's escrow", |tx| {
                tx.record_segment_escrowed(segment.id, &done.object, done.etag.as_deref(), now)?;
                tx.log(leaf);
                Ok::<_, custos_store::StoreError>(())
            })
            .map_err(|e| local("recording the escrow", &e))?;
        tracing::info!(
            camera = %segment.camera,
            path = %segment.path,
            reason = reason.as_str(),
            bytes = done.bytes_sent,
            "escrow: segment copied and verified"
        );
        escrow.board.update(|s| {
            s.bytes_sent += done.bytes_sent;
            s.segments_escrowed += 1;
            s.last_error = None;
        });
    }
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
