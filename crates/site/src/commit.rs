//! Group commit: makes the recorders' writes durable and then records them
//! in the index, for all cameras at once, about once a second.
//!
//! The order is the crash-safety protocol (see `docs/design/durability.md`):
//! a file's bytes are fsynced before any index row says they exist, so the
//! index never claims more than the disk holds. Batching means N cameras cost
//! one index transaction per tick, not N.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::data_dir::DataDir;
use custos_media::recorder::{LossEpisode, SegmentEvent};
use custos_store::{
    CameraState, NewSegment, RecordingLossRow, SealedSegment, SegmentProgress, Store,
};

use crate::analysis_events::OFFLINE_EVENT;
use crate::clock::now_ms;
use crate::facts;

/// Something the index must learn, in the order it happened.
pub enum CommitItem {
    Segment {
        camera: String,
        event: SegmentEvent,
    },
    CameraState {
        camera: String,
        at_ms: i64,
        state: CameraState,
        detail: Option<String>,
    },
}

/// Counters for the benchmark and metrics.
#[derive(Default)]
pub struct CommitStats {
    pub ticks: AtomicU64,
    pub fsyncs: AtomicU64,
    pub transactions: AtomicU64,
    pub segments_sealed: AtomicU64,
    pub errors: AtomicU64,
}

/// Handle to the committer thread.
pub struct Committer {
    tx: Option<mpsc::Sender<CommitItem>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<CommitStats>,
}

impl Committer {
    /// Starts the committer on its own thread with its own index connection.
    pub fn start(
        store: Store,
        data_dir: PathBuf,
        interval: Duration,
    ) -> std::io::Result<Committer> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(CommitStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || run(store, data_dir, interval, rx, thread_stats))?;
        Ok(Committer {
            tx: Some(tx),
            thread: Some(thread),
            stats,
        })
    }

    pub fn sender(&self) -> mpsc::Sender<CommitItem> {
        // Only `shutdown` takes the sender, and it consumes self.
        self.tx
            .clone()
            .expect("committer sender present until shutdown")
    }

    /// Commits everything sent so far and stops. Every sender must have been
    /// dropped (recorders stopped) for the thread to see the end of input.
    pub fn shutdown(mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Batch {
    opened: Vec<(String, String, i64, custos_media::params::VideoParams)>,
    progress: HashMap<String, (u64, u64, i64)>,
    /// (camera, path relative to the data directory, the sealed file).
    sealed: Vec<(String, String, custos_media::segment::SealedFile)>,
    /// Paths of files removed after their first write failed.
    discarded: Vec<(String, String)>,
    losses: Vec<(String, LossEpisode)>,
    /// (camera, at_ms, from_pts, to_pts).
    clock_resets: Vec<(String, i64, i64, i64)>,
    states: Vec<(String, i64, CameraState, Option<String>)>,
    files: Vec<Arc<File>>,
}

impl Batch {
    fn new() -> Self {
        Batch {
            opened: vec![],
            progress: HashMap::new(),
            sealed: vec![],
            discarded: vec![],
            losses: vec![],
            clock_resets: vec![],
            states: vec![],
            files: vec![],
        }
    }
    fn is_empty(&self) -> bool {
        self.opened.is_empty()
            && self.progress.is_empty()
            && self.sealed.is_empty()
            && self.discarded.is_empty()
            && self.losses.is_empty()
            && self.clock_resets.is_empty()
            && self.states.is_empty()
    }
    fn add(&mut self, item: CommitItem, data_dir: &Path) {
        match item {
            CommitItem::Segment { camera, event } => match event {
                SegmentEvent::Opened {
                    path,
                    start_ms,
                    params,
                    file,
                } => {
                    self.files.push(file);
                    self.opened.push((
                        camera,
                        DataDir::new(data_dir).relative(&path),
                        start_ms,
                        params,
                    ));
                }
                SegmentEvent::Progress {
                    path,
                    bytes,
                    frames,
                    end_ms,
                    file,
                } => {
                    self.files.push(file);
                    self.progress.insert(
                        DataDir::new(data_dir).relative(&path),
                        (bytes, frames, end_ms),
                    );
                }
                SegmentEvent::Sealed(sealed) => {
                    self.files.push(sealed.file.clone());
                    let rel = DataDir::new(data_dir).relative(&sealed.path);
                    self.progress.remove(&rel);
                    self.sealed.push((camera, rel, sealed));
                }
                SegmentEvent::Discarded { path, reason } => {
                    let rel = DataDir::new(data_dir).relative(&path);
                    tracing::warn!(
                        camera,
                        path = rel,
                        "removed a segment file that never held a picture: {reason}"
                    );
                    self.progress.remove(&rel);
                    // Opened in this same tick: its row was never written.
                    let before = self.opened.len();
                    self.opened.retain(|(_, p, _, _)| *p != rel);
                    if self.opened.len() == before {
                        self.discarded.push((camera, rel));
                    }
                }
                SegmentEvent::Loss(loss) => self.losses.push((camera, loss)),
                SegmentEvent::ClockReset {
                    at_ms,
                    from_pts,
                    to_pts,
                } => self.clock_resets.push((camera, at_ms, from_pts, to_pts)),
            },
            CommitItem::CameraState {
                camera,
                at_ms,
                state,
                detail,
            } => self.states.push((camera, at_ms, state, detail)),
        }
    }
}

fn run(
    store: Store,
    data_dir: PathBuf,
    interval: Duration,
    rx: mpsc::Receiver<CommitItem>,
    stats: Arc<CommitStats>,
) {
    let mut ids: HashMap<String, i64> = HashMap::new();
    let mut open = true;
    while open {
        let deadline = Instant::now() + interval;
        let mut batch = Batch::new();
        // Gather until the tick ends (or the senders are gone).
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(item) => batch.add(item, &data_dir),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        stats.ticks.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = commit(&store, &mut ids, batch, &stats) {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            // Files stay on disk; recovery at the next start indexes them.
            tracing::error!("group commit failed: {e:#}");
        }
    }
}

fn commit(
    store: &Store,
    ids: &mut HashMap<String, i64>,
    mut batch: Batch,
    stats: &CommitStats,
) -> anyhow::Result<()> {
    // 1. Durable bytes first. Each distinct file once per tick.
    batch.files.sort_by_key(|f| Arc::as_ptr(f) as usize);
    batch.files.dedup_by_key(|f| Arc::as_ptr(f) as usize);
    for f in &batch.files {
        f.sync_data()?;
        stats.fsyncs.fetch_add(1, Ordering::Relaxed);
    }
    // 2. Then the index.
    for (camera, path, start_ms, params) in &batch.opened {
        let id = store.insert_recording_segment(&NewSegment {
            camera: camera.clone(),
            path: path.clone(),
            start_ms: *start_ms,
            codec: params.rfc6381.clone(),
            width: Some(u32::from(params.width)),
            height: Some(u32::from(params.height)),
        })?;
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        ids.insert(path.clone(), id);
    }
    let progress: Vec<SegmentProgress> = batch
        .progress
        .iter()
        .filter_map(|(path, &(bytes, frames, end_ms))| {
            ids.get(path).map(|&id| SegmentProgress {
                id,
                end_ms,
                bytes,
                frames,
            })
        })
        .collect();
    if !progress.is_empty() {
        store.apply_progress(&progress)?;
        stats.transactions.fetch_add(1, Ordering::Relaxed);
    }
    let now = now_ms();
    let mut sealed = Vec::new();
    let mut entries = Vec::new();
    for (camera, rel, s) in &batch.sealed {
        let Some(id) = ids.remove(rel) else {
            tracing::error!(camera, path = rel, "sealed segment has no index row");
            continue;
        };
        let sha256 = hex::encode(s.sha256);
        entries.push(facts::segment_sealed(
            &facts::SealedSegment {
                camera,
                path: rel,
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                bytes: s.bytes,
                frames: s.frames,
                sha256: &sha256,
            },
            false,
        )?);
        sealed.push(SealedSegment {
            id,
            end_ms: s.end_ms,
            bytes: s.bytes,
            frames: s.frames,
            sha256,
            sealed_ms: now,
            recovered: false,
        });
    }
    if !sealed.is_empty() {
        // The seal and its log entry commit together.
        store.write("sealing segments", |tx| {
            tx.log_all(entries);
            tx.seal_segments(&sealed)
        })?;
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        stats
            .segments_sealed
            .fetch_add(sealed.len() as u64, Ordering::Relaxed);
    }
    for (camera, rel) in &batch.discarded {
        if let Some(id) = ids.remove(rel) {
            store.discard_empty_recording_segment(id)?;
            stats.transactions.fetch_add(1, Ordering::Relaxed);
        } else {
            tracing::error!(camera, path = rel, "discarded segment has no index row");
        }
    }
    for (camera, loss) in &batch.losses {
        let row = RecordingLossRow {
            id: 0,
            camera: camera.clone(),
            reason: loss.reason.as_str().to_owned(),
            pictures: i64::try_from(loss.pictures).unwrap_or(i64::MAX),
            start_ms: loss.start_ms,
            end_ms: loss.end_ms,
            detail: loss.detail.clone(),
        };
        // The loss and its log entry commit together.
        let entry = facts::recording_loss(&row)?;
        store.write("recording a loss of pictures", |tx| {
            tx.log(entry);
            tx.record_loss(&row)
        })?;
        stats.transactions.fetch_add(1, Ordering::Relaxed);
    }
    for (camera, at_ms, from_pts, to_pts) in &batch.clock_resets {
        let entry = facts::recording_clock_reset(camera, *at_ms, *from_pts, *to_pts)?;
        store.enqueue_log(vec![entry])?;
        stats.transactions.fetch_add(1, Ordering::Relaxed);
    }
    for (camera, at_ms, state, detail) in &batch.states {
        let entry = facts::camera_state(camera, *at_ms, state.as_str(), detail.as_deref())?;
        store.write("recording a camera state", |tx| {
            tx.log(entry);
            tx.record_camera_state(camera, *at_ms, *state, detail.as_deref())
        })?;
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        // An offline period is an event too, beside motion and tampering.
        match state {
            CameraState::Offline => {
                if store.open_events(camera, Some(OFFLINE_EVENT))?.is_empty() {
                    crate::analysis_events::start(store, camera, OFFLINE_EVENT, *at_ms, &[], 1.0)?;
                }
            }
            CameraState::Recording => {
                crate::analysis_events::end_open(store, camera, Some(OFFLINE_EVENT), *at_ms)?;
            }
            CameraState::Connecting => {}
        }
    }
    Ok(())
}
