//! `custos verify --config FILE`: checks a whole site — video files against
//! the log, the index against the log, the log against its checkpoints.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use crate::data_dir::DataDir;
use anyhow::Context;
use custos_ledger::catalogue::kind;
use custos_ledger::entry::Entry;
use custos_ledger::merkle;
use custos_ledger::note::open_checkpoint;
use custos_ledger::storage::LogStorage;
use custos_media::recovery::hash_prefix;
use custos_store::{SegmentState, Store};

/// What `verify` found.
#[derive(Default, Debug)]
pub struct SiteReport {
    pub checked_segments: usize,
    pub checked_entries: u64,
    pub checked_checkpoints: usize,
    /// Facts committed in the index whose entries wait in the outbox for
    /// the site's log writer (the site is stopped, or was a moment ago).
    pub pending_entries: usize,
    /// Files of a running site younger than [`NEW_FILE_GRACE`] that its
    /// next group commit will index: being written, not a discrepancy.
    pub being_written: usize,
    pub problems: Vec<String>,
}

/// How young a file of a running site may be and not yet be indexed (the
/// group commit runs about once a second; the margin is for a busy disk).
const NEW_FILE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl SiteReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The last word the log has on a segment file.
#[derive(Debug, Clone)]
struct LoggedSegment {
    index: u64,
    camera: String,
    sha256: String,
    bytes: u64,
    start_ms: i64,
    end_ms: i64,
    deleted: bool,
    missing: bool,
}

impl LoggedSegment {
    fn from_entry(index: u64, entry: &Entry) -> LoggedSegment {
        LoggedSegment {
            index,
            camera: str_field(entry, "camera").unwrap_or_default().to_owned(),
            sha256: str_field(entry, "sha256").unwrap_or_default().to_owned(),
            bytes: int_field(entry, "bytes").unwrap_or(-1) as u64,
            start_ms: int_field(entry, "start_ms").unwrap_or_default(),
            end_ms: int_field(entry, "end_ms").unwrap_or_default(),
            deleted: false,
            missing: false,
        }
    }
}

/// What `verify` reads from the index, all as of one moment.
///
/// Reading the pieces one after the other on a running site would race the
/// site: a segment sealed between the log being opened and the index being
/// read would be "sealed but never logged", its log entry having moved from
/// the outbox into the tree unseen. One read transaction rules that out.
struct IndexSnapshot {
    /// Log entries appended and removed from the outbox as of the snapshot.
    applied_size: u64,
    checkpoints: Vec<custos_store::StoredCheckpoint>,
    outbox: Vec<custos_store::OutboxEntry>,
    /// Every segment whose file should exist, by path, with its row when it
    /// is sealed (`None` while it is recording or being deleted).
    segments: Vec<(String, Option<custos_store::Segment>)>,
}

impl IndexSnapshot {
    fn read(store: &Store) -> anyhow::Result<IndexSnapshot> {
        let snapshot = store.read_snapshot(|s| {
            let mut segments = Vec::new();
            for (id, path, state) in s.all_live_segment_paths()? {
                let row = if state == SegmentState::Sealed {
                    s.segment(id)?
                } else {
                    None
                };
                segments.push((path, row));
            }
            Ok(IndexSnapshot {
                applied_size: s.log_applied_size()?,
                checkpoints: s.checkpoints()?,
                outbox: s.outbox(usize::MAX >> 1)?,
                segments,
            })
        });
        snapshot.context("reading the site index")
    }
}

fn str_field<'a>(e: &'a Entry, k: &str) -> Option<&'a str> {
    e.fields.get(k).and_then(|v| v.as_str())
}

fn int_field(e: &Entry, k: &str) -> Option<i64> {
    e.fields.get(k).and_then(|v| v.as_i64())
}

pub fn verify_site(
    store: &Store,
    data_dir: &Path,
    key: &custos_ledger::note::VerifierKey,
) -> anyhow::Result<SiteReport> {
    let mut report = SiteReport::default();
    let dir = DataDir::new(data_dir).log();
    // The index is read as of one moment, and the log opened after it: on a
    // running site the log writer appends an outbox row to the tree before
    // it deletes the row, so the tree then holds at least everything the
    // snapshot's index refers to (see `IndexSnapshot`).
    let snapshot = IndexSnapshot::read(store)?;
    let storage = LogStorage::open_read_only(&dir)
        .with_context(|| format!("opening the log in {}", dir.display()))?;
    let size = storage.size();
    if size < snapshot.applied_size {
        report.problems.push(format!(
            "the log holds {size} entries but the index recorded {} appended: log truncated",
            snapshot.applied_size
        ));
    }
    let applied = snapshot.applied_size.min(size);

    // 1. Checkpoints: signatures, and each consistent with the one before.
    let checkpoints = &snapshot.checkpoints;
    let mut previous: Option<(u64, merkle::Hash)> = None;
    for stored in checkpoints {
        report.checked_checkpoints += 1;
        let cp = match open_checkpoint(&stored.note, key) {
            Ok(cp) => cp,
            Err(e) => {
                report.problems.push(format!(
                    "checkpoint for size {}: signature check failed: {e}",
                    stored.tree_size
                ));
                continue;
            }
        };
        if cp.size != stored.tree_size {
            report.problems.push(format!(
                "checkpoint stored as size {} says size {}: index row edited",
                stored.tree_size, cp.size
            ));
        }
        if cp.size > size {
            report.problems.push(format!(
                "checkpoint for size {} but the log holds only {size} entries: log truncated",
                cp.size
            ));
            continue;
        }
        match storage.root(cp.size) {
            Ok(root) if root == cp.root => {}
            Ok(_) => report.problems.push(format!(
                "the stored log does not match the signed checkpoint for size {}: log rewritten",
                cp.size
            )),
            Err(e) => report
                .problems
                .push(format!("computing the root at size {}: {e}", cp.size)),
        }
        if let Some((old_size, old_root)) = previous {
            match storage.consistency_proof(old_size, cp.size) {
                Ok(proof) => {
                    if let Err(e) =
                        merkle::verify_consistency(old_size, cp.size, &old_root, &cp.root, &proof)
                    {
                        report.problems.push(format!(
                            "checkpoint {} is not consistent with checkpoint {old_size}: {e}",
                            cp.size
                        ));
                    }
                }
                Err(e) => report
                    .problems
                    .push(format!("consistency proof {old_size}→{}: {e}", cp.size)),
            }
        }
        previous = Some((cp.size, cp.root));
    }

    // 2. Every entry: canonical, and its leaf hash is what the tree holds
    //    (the level files could otherwise hide an edited entry).
    let mut logged: BTreeMap<String, LoggedSegment> = BTreeMap::new();
    for index in 0..size {
        report.checked_entries += 1;
        let leaf = storage.entry(index)?;
        if merkle::leaf_hash(&leaf) != storage.leaf_hash(index)? {
            report.problems.push(format!(
                "log entry {index} was edited: its bytes no longer match the tree"
            ));
        }
        let entry = match Entry::from_leaf_bytes(&leaf) {
            Ok(e) => e,
            Err(e) => {
                report
                    .problems
                    .push(format!("log entry {index} is not a canonical entry: {e}"));
                continue;
            }
        };
        // Entries past the snapshot's applied size are the outbox rows of
        // step 2b (or newer than the snapshot): the index read knows them
        // as outbox rows, so they are matched from there.
        if index >= applied {
            continue;
        }
        let Some(path) = str_field(&entry, "path").map(str::to_owned) else {
            continue;
        };
        match entry.kind.as_str() {
            kind::SEGMENT_SEALED => {
                logged.insert(path, LoggedSegment::from_entry(index, &entry));
            }
            kind::SEGMENT_DELETED => match logged.get_mut(&path) {
                Some(s) => s.deleted = true,
                None => report.problems.push(format!(
                    "log entry {index} deletes {path}, which the log never sealed"
                )),
            },
            kind::SEGMENT_MISSING => {
                if let Some(s) = logged.get_mut(&path) {
                    s.missing = true;
                }
            }
            _ => {}
        }
    }

    // 2b. Facts whose entries were still in the outbox at the snapshot
    //     (the site is stopped, or the writer had not reached them). Those
    //     the tree has gained since are appended; the rest are pending.
    let appended_since = (size - applied) as usize;
    report.pending_entries = snapshot.outbox.len().saturating_sub(appended_since);
    for (position, row) in snapshot.outbox.iter().enumerate() {
        // Numbered as they are (or will be) in the log.
        let index = applied + position as u64;
        let Ok(entry) = Entry::from_leaf_bytes(&row.leaf) else {
            report
                .problems
                .push(format!("outbox entry {} is not a canonical entry", row.id));
            continue;
        };
        let Some(path) = str_field(&entry, "path").map(str::to_owned) else {
            continue;
        };
        match entry.kind.as_str() {
            kind::SEGMENT_SEALED => {
                logged.insert(path, LoggedSegment::from_entry(index, &entry));
            }
            kind::SEGMENT_DELETED => {
                if let Some(s) = logged.get_mut(&path) {
                    s.deleted = true;
                }
            }
            kind::SEGMENT_MISSING => {
                if let Some(s) = logged.get_mut(&path) {
                    s.missing = true;
                }
            }
            _ => {}
        }
    }

    // 3. The index against the log, and the files against both.
    let mut indexed: HashSet<String> = HashSet::new();
    for (path, seg) in &snapshot.segments {
        let path = path.clone();
        indexed.insert(path.clone());
        let Some(seg) = seg else {
            continue;
        };
        report.checked_segments += 1;
        let Some(entry) = logged.get(&path) else {
            report
                .problems
                .push(format!("{path}: sealed in the index but never logged"));
            continue;
        };
        if entry.deleted {
            report.problems.push(format!(
                "{path}: the log says it was deleted, yet the index still lists it"
            ));
        }
        if seg.sha256.as_deref() != Some(entry.sha256.as_str())
            || seg.bytes != entry.bytes
            || seg.start_ms != entry.start_ms
            || seg.end_ms != entry.end_ms
            || seg.camera != entry.camera
        {
            report.problems.push(format!(
                "{path}: index row edited (it differs from log entry {})",
                entry.index
            ));
        }
        let file_path = data_dir.join(&path);
        match std::fs::File::open(&file_path) {
            Err(_) => {
                // Retention may have deleted it since the snapshot: the
                // index says so now, and its tombstone follows.
                let deleted_since = store
                    .segment(seg.id)?
                    .is_some_and(|now| now.state != SegmentState::Sealed);
                if !deleted_since {
                    report.problems.push(format!(
                        "{path}: file missing (sealed at log entry {}, no tombstone)",
                        entry.index
                    ));
                }
            }
            Ok(f) => {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                let actual = hash_prefix(&f, len).map(hex::encode).unwrap_or_default();
                if actual != entry.sha256 {
                    report.problems.push(format!(
                        "{path}: file altered (log entry {} has SHA-256 {}, the file has {actual})",
                        entry.index, entry.sha256
                    ));
                }
            }
        }
    }
    for (path, entry) in &logged {
        if !entry.deleted && !entry.missing && !indexed.contains(path) {
            report.problems.push(format!(
                "{path}: logged at entry {} but gone from the index with no tombstone",
                entry.index
            ));
        }
    }
    // A running site indexes a new file at its next group commit (about a
    // second after the file is created): a file that young is being written.
    let running = LogStorage::writer_active(&dir);
    for file in crate::segments::video_files(data_dir)? {
        let rel = DataDir::new(data_dir).relative(&file);
        if !indexed.contains(&rel) && !logged.contains_key(&rel) {
            let young = std::fs::metadata(&file)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age < NEW_FILE_GRACE);
            if running && young {
                report.being_written += 1;
                continue;
            }
            report.problems.push(format!(
                "{rel}: file on disk that neither the index nor the log knows"
            ));
        }
    }
    Ok(report)
}

impl std::fmt::Display for SiteReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "checked {} log entries, {} checkpoints, {} sealed segments",
            self.checked_entries, self.checked_checkpoints, self.checked_segments
        )?;
        if self.pending_entries > 0 {
            writeln!(
                f,
                "{} newer entries wait in the outbox for the site's log writer (start `custos serve` to append and sign them)",
                self.pending_entries
            )?;
        }
        if self.being_written > 0 {
            writeln!(
                f,
                "{} file(s) created in the last seconds by the running site are being written (not yet indexed)",
                self.being_written
            )?;
        }
        if self.problems.is_empty() {
            write!(f, "OK: every sealed file matches its log entry, every entry is in the signed tree, every checkpoint is consistent with the one before")
        } else {
            writeln!(f, "{} problem(s):", self.problems.len())?;
            for p in &self.problems {
                writeln!(f, "  - {p}")?;
            }
            Ok(())
        }
    }
}
