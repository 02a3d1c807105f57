//! Evidence bundles: the original segment files of one camera and span, their
//! log entries, inclusion proofs against a signed checkpoint and the
//! verifier key (format: `docs/evidence-format.md`); the checkpoint is,
//! when one covers the bundle, one co-signed by witnesses, with their
//! cosignature lines (`crate::uplink`). Used by
//! `custos export` and `POST /api/v1/exports`.

use std::path::Path;
use std::time::{Duration, Instant};

use custos_ledger::bundle::{BundleError, BundleWriter, Manifest};
use custos_ledger::catalogue::{kind, leaf, FootageExported, LeafError};
use custos_ledger::entry::Entry;
use custos_ledger::note::{open_checkpoint, NoteError, VerifierKey};
use custos_ledger::storage::{LogStorage, StorageError};
use custos_store::{SegmentState, Store, StoreError};

/// What to export, and who asks.
pub struct ExportRequest<'a> {
    /// The site's name (for the manifest).
    pub site: &'a str,
    /// Camera id.
    pub camera: &'a str,
    /// Span start, ms since the Unix epoch.
    pub start_ms: i64,
    /// Span end (exclusive), ms since the Unix epoch.
    pub end_ms: i64,
    /// Why (kept in the manifest and the log).
    pub reason: &'a str,
    /// Who: a user name, or `cli:<os user>`.
    pub user: &'a str,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy)]
pub struct ExportSummary {
    /// Segment files in the bundle.
    pub segments: usize,
    /// Log entries in the bundle (segments', camera state changes' and
    /// deleted segments' entries and tombstones).
    pub entries: usize,
    /// Size of the log the proofs are against.
    pub tree_size: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The span is empty or reversed.
    #[error("the span's start ({start_ms}) must be before its end ({end_ms})")]
    BadSpan {
        /// Requested start.
        start_ms: i64,
        /// Requested end.
        end_ms: i64,
    },
    /// Nothing was recorded in the span.
    #[error("camera {camera:?} has no sealed segments between {start_ms} and {end_ms}")]
    NothingRecorded {
        /// Camera id.
        camera: String,
        /// Requested start.
        start_ms: i64,
        /// Requested end.
        end_ms: i64,
    },
    /// The segments' entries are not yet all under a signed checkpoint
    /// (the site's log writer is behind or not running).
    #[error(
        "the log does not yet hold a signed checkpoint covering these segments ({logged} of {wanted} logged); is `custos serve` running?"
    )]
    NotYetSigned {
        /// Segments whose entry is in the log.
        logged: usize,
        /// Segments to export.
        wanted: usize,
    },
    /// A segment's log entry does not say what the index says.
    #[error("log entry {index} for {path} does not match the index ({detail})")]
    EntryMismatch {
        /// Log index.
        index: u64,
        /// Segment path.
        path: String,
        /// What differs.
        detail: String,
    },
    /// The export's own log entry could not be encoded.
    #[error("encoding the export's log entry: {0}")]
    Encode(#[from] LeafError),
    /// The index could not be read or written.
    #[error("site index: {0}")]
    Store(#[from] StoreError),
    /// The log could not be read.
    #[error("site log: {0}")]
    Log(#[from] StorageError),
    /// The site's latest checkpoint does not verify with its own key.
    #[error("the site's latest checkpoint does not verify with its key: {0}")]
    Checkpoint(#[from] NoteError),
    /// Writing the bundle failed.
    #[error("writing the bundle: {0}")]
    Bundle(#[from] BundleError),
}

/// How long an export waits for the site's log writer to sign a checkpoint
/// covering the segments it needs (the writer signs within 5 s of growth).
pub const CHECKPOINT_WAIT: Duration = Duration::from_secs(20);

/// Writes the evidence bundle for `req` into `out` (a directory that must
/// not exist yet). The export is logged (`footage.exported`) before any
/// byte is written. `log_dir` is the site's log; `verifier` its key.
pub fn export_bundle(
    store: &Store,
    data_dir: &Path,
    log_dir: &Path,
    verifier: &VerifierKey,
    req: &ExportRequest<'_>,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    if req.start_ms >= req.end_ms {
        return Err(ExportError::BadSpan {
            start_ms: req.start_ms,
            end_ms: req.end_ms,
        });
    }
    let segments: Vec<_> = store
        .segments_overlapping(req.camera, req.start_ms, req.end_ms)?
        .into_iter()
        .filter(|s| s.state == SegmentState::Sealed)
        .collect();
    if segments.is_empty() {
        return Err(ExportError::NothingRecorded {
            camera: req.camera.to_owned(),
            start_ms: req.start_ms,
            end_ms: req.end_ms,
        });
    }
    // The export is a fact of its own; logged before any byte leaves.
    let exported = leaf(
        crate::clock::now_ms(),
        &FootageExported {
            user: req.user,
            camera: req.camera,
            start_ms: req.start_ms,
            end_ms: req.end_ms,
            reason: req.reason,
            segments: Some(segments.len() as u64),
        },
    )?;
    store.enqueue_log(vec![exported])?;

    let storage = LogStorage::open_read_only(log_dir)?;
    let deadline = Instant::now() + CHECKPOINT_WAIT;
    // Each segment's entry, found through the index of the log.
    let (segment_entries, latest) = loop {
        storage.refresh_size()?;
        let mut found = Vec::with_capacity(segments.len());
        for s in &segments {
            if let Some(index) = store.log_entry_for_path(kind::SEGMENT_SEALED, &s.path)? {
                found.push((index, s));
            }
        }
        let needed = found.iter().map(|(i, _)| i + 1).max().unwrap_or(0);
        if found.len() == segments.len() {
            if let Some(cp) = store.latest_checkpoint()?.filter(|c| c.tree_size >= needed) {
                break (found, cp);
            }
        }
        if Instant::now() > deadline {
            return Err(ExportError::NotYetSigned {
                logged: found.len(),
                wanted: segments.len(),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    // The camera's state changes around the span explain its gaps.
    let states = store.camera_log_entries(
        req.camera,
        kind::CAMERA_STATE,
        req.start_ms.saturating_sub(60_000),
        req.end_ms,
    )?;

    // What explains the span's gaps: the camera's state changes, the
    // pictures it lost, and for each segment deleted since, its sealed
    // entry and its tombstone.
    let mut explaining: Vec<u64> = states.iter().map(|e| e.index).collect();
    // Pictures the recorder logged as dropped (each entry covers at most a
    // minute, so those begun two minutes before the span reach into it).
    let losses = store.camera_log_entries(
        req.camera,
        "recording.loss",
        req.start_ms.saturating_sub(120_000),
        req.end_ms,
    )?;
    explaining.extend(losses.iter().map(|e| e.index));
    for segment in store.deleted_segments_overlapping(req.camera, req.start_ms, req.end_ms)? {
        let sealed = store.log_entry_for_path("segment.sealed", &segment.path)?;
        let tombstone = store.log_entry_for_path("segment.deleted", &segment.path)?;
        if let (Some(sealed), Some(tombstone)) = (sealed, tombstone) {
            explaining.extend([sealed, tombstone]);
        }
    }
    explaining.sort_unstable();
    explaining.dedup();
    // The checkpoint: among those covering every entry the bundle needs,
    // one that witnesses co-signed, with their cosignatures; else the
    // latest, signed by the site alone.
    let covered = explaining
        .iter()
        .filter(|i| **i < latest.tree_size)
        .map(|i| i + 1)
        .chain(segment_entries.iter().map(|(i, _)| i + 1))
        .max()
        .unwrap_or(0);
    let chosen = store.best_cosigned_checkpoint(covered)?.unwrap_or(latest);
    let checkpoint_note = crate::uplink::with_cosignatures(store, &chosen)?;
    let checkpoint = open_checkpoint(&checkpoint_note, verifier)?;
    // The log may have grown (and been signed) since it was last read.
    storage.refresh_size()?;

    let mut writer = BundleWriter::create(out)?;
    for (index, segment) in &segment_entries {
        let leaf = storage.entry(*index)?;
        // The index found the entry by path; the leaf itself must agree on
        // the camera and the bytes' hash, or the bundle would prove nothing.
        let entry = Entry::from_leaf_bytes(&leaf).map_err(|e| ExportError::EntryMismatch {
            index: *index,
            path: segment.path.clone(),
            detail: format!("not a canonical entry: {e}"),
        })?;
        if entry.str_field("camera") != Some(req.camera)
            || entry.str_field("sha256") != segment.sha256.as_deref()
        {
            return Err(ExportError::EntryMismatch {
                index: *index,
                path: segment.path.clone(),
                detail: "camera or sha256 differs".into(),
            });
        }
        let proof = storage.inclusion_proof(*index, checkpoint.size)?;
        writer.add_segment(&data_dir.join(&segment.path), *index, &leaf, &proof)?;
    }
    let mut entries = segment_entries.len();
    for index in explaining.into_iter().filter(|i| *i < checkpoint.size) {
        let leaf = storage.entry(index)?;
        let proof = storage.inclusion_proof(index, checkpoint.size)?;
        writer.add_entry(index, &leaf, &proof)?;
        entries += 1;
    }
    writer.finish(
        &Manifest {
            site: req.site.to_owned(),
            camera: req.camera.to_owned(),
            start_ms: req.start_ms,
            end_ms: req.end_ms,
            reason: req.reason.to_owned(),
            exported_by: req.user.to_owned(),
            exported_ms: crate::clock::now_ms(),
        },
        &checkpoint_note,
        verifier,
    )?;
    Ok(ExportSummary {
        segments: segment_entries.len(),
        entries,
        tree_size: checkpoint.size,
    })
}
