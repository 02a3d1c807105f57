//! A site's data directory: crash recovery at start and retention.
//!
//! Layout: `<data_dir>/custos.db` (the index), `<data_dir>/video/<camera>/
//! <start_ms>.mp4` (segments), `<data_dir>/quarantine/` (files found in the
//! video tree that are not segments; kept for a person to inspect).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::data_dir::DataDir;
use anyhow::Context;
use custos_media::recovery::{recover_file, RecoveryError};
use custos_media::segment::sync_dir;
use custos_store::{RecoveredSegment, SealedSegment, Segment, SegmentState, Store};

use crate::facts;

/// What recovery did, for the log and for tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Interrupted segments sealed after their last complete fragment.
    pub sealed: Vec<String>,
    /// Files found without an index row and indexed.
    pub adopted: Vec<String>,
    /// Rows whose file is gone.
    pub missing: Vec<String>,
    /// Files with no complete fragment, removed.
    pub removed_empty: Vec<String>,
    /// Files that are not segments, moved to `quarantine/`.
    pub quarantined: Vec<String>,
    /// Interrupted deletions completed.
    pub deletions_finished: usize,
    /// Bytes of torn writes cut off.
    pub truncated_bytes: u64,
}

impl RecoveryReport {
    pub fn is_clean(&self) -> bool {
        *self == RecoveryReport::default()
    }
}

/// Brings the index and the video tree back into agreement after any stop,
/// clean or not. Runs before any camera starts.
pub fn recover(store: &Store, data_dir: &Path, now_ms: i64) -> anyhow::Result<RecoveryReport> {
    let mut report = RecoveryReport::default();

    // 1. Deletions that were marked but may not have reached the disk.
    let deleting = store.segments_in_state(SegmentState::Deleting)?;
    if !deleting.is_empty() {
        for seg in &deleting {
            remove_if_exists(&data_dir.join(&seg.path))?;
        }
        finish_deletion(store, &deleting, now_ms)?;
        report.deletions_finished = deleting.len();
    }

    // 2. Segments that were being written.
    for seg in store.segments_in_state(SegmentState::Recording)? {
        let path = data_dir.join(&seg.path);
        if !path.exists() {
            mark_missing(store, &seg)?;
            report.missing.push(seg.path.clone());
            continue;
        }
        match recover_file(&path) {
            Ok(r) => {
                report.truncated_bytes += r.truncated_bytes;
                let sha256 = hex::encode(r.sha256);
                let end_ms = seg.start_ms + r.duration_ms;
                let fact = facts::SealedSegment {
                    camera: &seg.camera,
                    path: &seg.path,
                    start_ms: seg.start_ms,
                    end_ms,
                    bytes: r.bytes,
                    frames: r.frames,
                    sha256: &sha256,
                };
                // The seal and its log entry commit together.
                let entry = facts::segment_sealed(&fact, true)?;
                store.write("sealing a recovered segment", |tx| {
                    tx.log(entry);
                    tx.seal_segments(&[SealedSegment {
                        id: seg.id,
                        end_ms,
                        bytes: r.bytes,
                        frames: r.frames,
                        sha256: sha256.clone(),
                        sealed_ms: now_ms,
                        recovered: true,
                    }])
                })?;
                if r.frames == 0 {
                    // Only an init segment reached the disk: no video to keep.
                    let marked = store.begin_delete(
                        &[seg.id],
                        "crash recovery: no complete fragment",
                        now_ms,
                    )?;
                    remove_if_exists(&path)?;
                    finish_deletion(store, &marked, now_ms)?;
                    report.removed_empty.push(seg.path.clone());
                } else {
                    report.sealed.push(seg.path.clone());
                }
            }
            Err(RecoveryError::Layout { .. }) => {
                quarantine(data_dir, &path)?;
                mark_missing(store, &seg)?;
                report.quarantined.push(seg.path.clone());
            }
            Err(e) => return Err(e.into()),
        }
    }

    // 3. Sealed rows whose file has gone: say so loudly, never silently.
    let mut indexed: HashSet<String> = HashSet::new();
    for (id, path, state) in store.all_live_segment_paths()? {
        if state == SegmentState::Sealed && !data_dir.join(&path).exists() {
            tracing::error!(path, "indexed segment file is missing");
            if let Some(seg) = store.segment(id)? {
                mark_missing(store, &seg)?;
            }
            report.missing.push(path.clone());
        }
        indexed.insert(path);
    }

    // 4. Files the index does not know: adopt complete ones.
    let video = DataDir::new(data_dir).video();
    if video.is_dir() {
        for cam_entry in
            std::fs::read_dir(&video).with_context(|| format!("listing {}", video.display()))?
        {
            let cam_dir = cam_entry?.path();
            if !cam_dir.is_dir() {
                continue;
            }
            let camera = cam_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for entry in std::fs::read_dir(&cam_dir)
                .with_context(|| format!("listing {}", cam_dir.display()))?
            {
                let path = entry?.path();
                let rel = DataDir::new(data_dir).relative(&path);
                if indexed.contains(&rel) || !path.is_file() {
                    continue;
                }
                adopt(store, data_dir, &camera, &path, &rel, now_ms, &mut report)?;
            }
        }
    }
    Ok(report)
}

fn adopt(
    store: &Store,
    data_dir: &Path,
    camera: &str,
    path: &Path,
    rel: &str,
    now_ms: i64,
    report: &mut RecoveryReport,
) -> anyhow::Result<()> {
    let layout = std::fs::File::open(path)
        .map_err(anyhow::Error::from)
        .and_then(|f| custos_media::layout::parse_segment(&f).map_err(anyhow::Error::from));
    let params = layout.as_ref().ok().and_then(|l| l.video_params());
    let recovered = match (&params, recover_file(path)) {
        (Some(_), Ok(r)) => r,
        (_, Err(RecoveryError::Io { source, .. })) => {
            return Err(source).with_context(|| format!("recovering {}", path.display()))
        }
        _ => {
            quarantine(data_dir, path)?;
            report.quarantined.push(rel.to_owned());
            return Ok(());
        }
    };
    report.truncated_bytes += recovered.truncated_bytes;
    if recovered.frames == 0 {
        remove_if_exists(path)?;
        report.removed_empty.push(rel.to_owned());
        return Ok(());
    }
    let start_ms = recovered
        .start_ms
        .or_else(|| path.file_stem()?.to_str()?.split('-').next()?.parse().ok())
        .unwrap_or(now_ms);
    let Some(params) = params else { return Ok(()) };
    let sha256 = hex::encode(recovered.sha256);
    let end_ms = start_ms + recovered.duration_ms;
    let entry = facts::segment_sealed(
        &facts::SealedSegment {
            camera,
            path: rel,
            start_ms,
            end_ms,
            bytes: recovered.bytes,
            frames: recovered.frames,
            sha256: &sha256,
        },
        true,
    )?;
    store.write("adopting a recovered segment", |tx| {
        tx.log(entry);
        tx.insert_sealed_segment(&RecoveredSegment {
            camera: camera.to_owned(),
            path: rel.to_owned(),
            start_ms,
            end_ms,
            bytes: recovered.bytes,
            frames: recovered.frames,
            sha256: sha256.clone(),
            codec: params.rfc6381.clone(),
            width: Some(u32::from(params.width)),
            height: Some(u32::from(params.height)),
            sealed_ms: now_ms,
        })
    })?;
    report.adopted.push(rel.to_owned());
    Ok(())
}

/// Marks `deleting` rows deleted, with a tombstone entry for each naming
/// Custos itself (retention, or recovery finishing a deletion).
fn finish_deletion(store: &Store, segments: &[Segment], now_ms: i64) -> anyhow::Result<()> {
    finish_deletion_by(store, segments, "custos", now_ms)
}

/// Marks `deleting` rows deleted, with a tombstone entry for each naming `by`.
fn finish_deletion_by(
    store: &Store,
    segments: &[Segment],
    by: &str,
    now_ms: i64,
) -> anyhow::Result<()> {
    let entries: Vec<Vec<u8>> = segments
        .iter()
        .map(|s| {
            facts::segment_deleted(
                &s.camera,
                &s.path,
                s.sha256.as_deref(),
                s.delete_reason.as_deref().unwrap_or("unknown"),
                by,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<i64> = segments.iter().map(|s| s.id).collect();
    store.write("finishing deletion", |tx| {
        tx.log_all(entries);
        tx.finish_delete(&ids, now_ms)
    })?;
    Ok(())
}

fn mark_missing(store: &Store, seg: &Segment) -> anyhow::Result<()> {
    let entry = facts::segment_missing(&seg.camera, &seg.path, seg.sha256.as_deref())?;
    store.write("marking a segment missing", |tx| {
        tx.log(entry);
        tx.mark_missing(seg.id)
    })?;
    Ok(())
}

fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                sync_dir(dir).with_context(|| format!("syncing {}", dir.display()))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Moves a file that is not a usable segment out of the video tree, keeping
/// it for inspection rather than deleting what might be evidence.
fn quarantine(data_dir: &Path, path: &Path) -> anyhow::Result<PathBuf> {
    let dir = DataDir::new(data_dir).quarantine();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = DataDir::new(data_dir).relative(path).replace('/', "_");
    let target = dir.join(name);
    std::fs::rename(path, &target)
        .with_context(|| format!("moving {} to {}", path.display(), target.display()))?;
    tracing::warn!(from = %path.display(), to = %target.display(), "moved a file that is not a segment to quarantine");
    Ok(target)
}

/// Every file under `<data_dir>/video/<camera>/`.
pub fn video_files(data_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let video = DataDir::new(data_dir).video();
    if !video.is_dir() {
        return Ok(files);
    }
    for cam in std::fs::read_dir(&video).with_context(|| format!("listing {}", video.display()))? {
        let cam = cam?.path();
        if cam.is_dir() {
            for f in
                std::fs::read_dir(&cam).with_context(|| format!("listing {}", cam.display()))?
            {
                let f = f?.path();
                if f.is_file() {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Retention limits for one camera.
#[derive(Clone, Debug)]
pub struct RetentionRule {
    pub camera: String,
    pub retain_days: Option<u32>,
    pub retain_bytes: Option<u64>,
    /// What footage escrow asks of retention, when the site escrows.
    pub escrow: Option<EscrowRetention>,
}

/// What footage escrow asks of retention: with `required`, a segment
/// escrow still wants is never deleted; without, its tombstone says it went
/// unescrowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EscrowRetention {
    /// `[escrow] required`.
    pub required: bool,
    /// `[escrow] all_footage_of`: cameras whose every segment escrow wants.
    pub all_footage_of: Vec<String>,
}

/// What the tombstone of a segment escrow wanted but never copied adds to
/// the reason it was deleted.
pub const NOT_ESCROWED: &str = " (deleted before it was escrowed)";

/// Deletes `ids` for retention (`reason`), as escrow allows: with escrow
/// required, those it still wants stay; otherwise they go with
/// [`NOT_ESCROWED`] in their reason.
pub(crate) fn delete_for_retention(
    store: &Store,
    data_dir: &Path,
    ids: &[i64],
    reason: &str,
    escrow: Option<&EscrowRetention>,
    now_ms: i64,
) -> anyhow::Result<Vec<i64>> {
    let Some(escrow) = escrow else {
        return delete_segments(store, data_dir, ids, reason, now_ms);
    };
    let pending = store.escrow_pending_among(
        ids,
        custos_custody::footage::WINDOW_BEFORE_MS,
        custos_custody::footage::WINDOW_AFTER_MS,
        &escrow.all_footage_of,
    )?;
    let (wanted, free): (Vec<i64>, Vec<i64>) = ids.iter().partition(|id| pending.contains(id));
    let mut deleted = delete_segments(store, data_dir, &free, reason, now_ms)?;
    if wanted.is_empty() {
        return Ok(deleted);
    }
    if escrow.required {
        tracing::warn!(
            segments = wanted.len(),
            "retention: kept footage that is not escrowed yet ([escrow] required = true)"
        );
    } else {
        deleted.extend(delete_segments(
            store,
            data_dir,
            &wanted,
            &format!("{reason}{NOT_ESCROWED}"),
            now_ms,
        )?);
    }
    Ok(deleted)
}

/// Deletes what retention says must go, oldest first, never a held segment.
/// Crash-safe: rows are marked `deleting` before files are unlinked, and
/// marked `deleted` after; recovery finishes an interrupted deletion.
pub fn enforce_retention(
    store: &Store,
    data_dir: &Path,
    rule: &RetentionRule,
    now_ms: i64,
) -> anyhow::Result<Vec<i64>> {
    let mut deleted = Vec::new();
    if let Some(days) = rule.retain_days {
        let cutoff = now_ms - i64::from(days) * 86_400_000;
        let old = store.retention_candidates_by_age(&rule.camera, cutoff)?;
        let ids: Vec<i64> = old.iter().map(|s| s.id).collect();
        deleted.extend(delete_for_retention(
            store,
            data_dir,
            &ids,
            &format!("retention: older than {days} days"),
            rule.escrow.as_ref(),
            now_ms,
        )?);
    }
    if let Some(quota) = rule.retain_bytes {
        let mut live = store.camera_live_bytes(&rule.camera)?;
        while live > quota {
            let batch = store.oldest_sealed_unheld(&rule.camera, 64)?;
            if batch.is_empty() {
                tracing::warn!(camera = %rule.camera, live, quota, "over quota but nothing left that may be deleted");
                break;
            }
            let mut ids = Vec::new();
            let mut freed = 0;
            for s in &batch {
                if live - freed <= quota {
                    break;
                }
                freed += s.bytes;
                ids.push(s.id);
            }
            let done = delete_for_retention(
                store,
                data_dir,
                &ids,
                &format!("retention: over quota of {quota} bytes"),
                rule.escrow.as_ref(),
                now_ms,
            )?;
            if done.is_empty() {
                break;
            }
            deleted.extend(done);
            live = store.camera_live_bytes(&rule.camera)?;
        }
    }
    Ok(deleted)
}

/// Deletes one sealed segment's file at a person's request (`by`), leaving
/// a tombstone with `reason` in the log. Refused for a held segment or one
/// that is not sealed.
pub fn delete_segment_by(
    store: &Store,
    data_dir: &Path,
    id: i64,
    reason: &str,
    by: &str,
    now_ms: i64,
) -> anyhow::Result<Segment> {
    let Some(seg) = store.segment(id)? else {
        anyhow::bail!("no segment with id {id}");
    };
    if seg.hold {
        anyhow::bail!("segment {id} is held; release the hold first");
    }
    // The reason names the person too, so that a deletion interrupted by a
    // crash, which recovery finishes in Custos's name, still says who asked.
    let marked = store.begin_delete(&[id], &format!("{reason} (requested by {by})"), now_ms)?;
    let Some(seg) = marked.into_iter().next() else {
        anyhow::bail!(
            "segment {id} is {}; only a sealed segment can be deleted",
            seg.state
        );
    };
    remove_if_exists(&data_dir.join(&seg.path))?;
    finish_deletion_by(store, std::slice::from_ref(&seg), by, now_ms)?;
    Ok(seg)
}

/// Places or releases a hold on a segment (a held segment is never deleted),
/// logging the change.
pub fn set_hold_by(store: &Store, id: i64, hold: bool, by: &str) -> anyhow::Result<Segment> {
    let Some(seg) = store.segment(id)? else {
        anyhow::bail!("no segment with id {id}");
    };
    let entry = facts::segment_hold(&seg.camera, &seg.path, hold, by)?;
    Ok(store.write("setting a hold", |tx| {
        tx.log(entry);
        tx.set_hold(id, hold)
    })?)
}

pub(crate) fn delete_segments(
    store: &Store,
    data_dir: &Path,
    ids: &[i64],
    reason: &str,
    now_ms: i64,
) -> anyhow::Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let marked = store.begin_delete(ids, reason, now_ms)?;
    for seg in &marked {
        remove_if_exists(&data_dir.join(&seg.path))?;
    }
    finish_deletion(store, &marked, now_ms)?;
    Ok(marked.iter().map(|s| s.id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_media::params::VideoParams;
    use custos_media::segment::{Frame, SegmentWriter};
    use custos_media::synthetic;
    use custos_store::NewSegment;

    const T0: i64 = 1_764_340_000_000;

    fn params() -> VideoParams {
        synthetic::params(640, 360)
    }

    fn frame(n: i64) -> Frame {
        synthetic::frame(n, 10)
    }

    /// Writes `frames` frames into `<data>/video/cam/<start>.mp4`; returns the
    /// relative path and the writer still open (a crash if dropped unfinished).
    fn write_segment(data: &Path, start: i64, frames: i64) -> (String, SegmentWriter) {
        let dir = data.join("video/cam");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join(format!("{start}.mp4"));
        let mut w =
            SegmentWriter::create(&path, &params(), frame(0), start, 90_000, 9000).expect("create");
        for n in 1..frames {
            w.push(frame(n)).expect("push");
        }
        (format!("video/cam/{start}.mp4"), w)
    }

    fn sealed_segment(store: &Store, data: &Path, start: i64, frames: i64) -> i64 {
        let (rel, w) = write_segment(data, start, frames);
        let id = store
            .insert_recording_segment(&NewSegment {
                camera: "cam".into(),
                path: rel,
                start_ms: start,
                codec: "avc1.42C01E".into(),
                width: Some(640),
                height: Some(360),
            })
            .expect("insert");
        let s = w.finish(None).expect("finish");
        store
            .seal_segments(&[SealedSegment {
                id,
                end_ms: s.end_ms,
                bytes: s.bytes,
                frames: s.frames,
                sha256: hex::encode(s.sha256),
                sealed_ms: s.end_ms,
                recovered: false,
            }])
            .expect("seal");
        id
    }

    fn setup() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("custos.db")).expect("store");
        (dir, store)
    }

    #[test]
    fn interrupted_segment_is_truncated_and_sealed() {
        let (dir, store) = setup();
        let (rel, w) = write_segment(dir.path(), T0, 25);
        let id = store
            .insert_recording_segment(&NewSegment {
                camera: "cam".into(),
                path: rel.clone(),
                start_ms: T0,
                codec: "avc1.42C01E".into(),
                width: Some(640),
                height: Some(360),
            })
            .expect("insert");
        drop(w); // crash: 20 frames in two complete fragments, 5 buffered and lost
        let path = dir.path().join(&rel);
        let mut f = std::fs::File::options()
            .append(true)
            .open(&path)
            .expect("open");
        std::io::Write::write_all(&mut f, &[0, 0, 1, 0, b'm', b'o', b'o', b'f', 1, 2, 3])
            .expect("torn write");
        drop(f);

        let report = recover(&store, dir.path(), T0 + 10_000).expect("recover");
        assert_eq!(report.sealed, vec![rel.clone()]);
        assert_eq!(report.truncated_bytes, 11);
        let seg = store.segment(id).expect("query").expect("row");
        assert_eq!(seg.state, SegmentState::Sealed);
        assert!(seg.recovered);
        assert_eq!(seg.frames, 20);
        assert_eq!(seg.end_ms, T0 + 2000);
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(seg.bytes, bytes.len() as u64);
        use sha2::Digest;
        assert_eq!(
            seg.sha256.as_deref(),
            Some(hex::encode(sha2::Sha256::digest(&bytes)).as_str())
        );
        // A second start finds nothing to do.
        assert!(recover(&store, dir.path(), T0 + 20_000)
            .expect("again")
            .is_clean());
    }

    #[test]
    fn file_without_row_is_adopted_and_junk_is_quarantined() {
        let (dir, store) = setup();
        let (rel, w) = write_segment(dir.path(), T0, 30);
        w.finish(None).expect("finish");
        std::fs::write(dir.path().join("video/cam/notes.txt"), b"not video").expect("junk");
        let report = recover(&store, dir.path(), T0 + 10_000).expect("recover");
        assert_eq!(report.adopted, vec![rel.clone()]);
        assert_eq!(report.quarantined, vec!["video/cam/notes.txt".to_owned()]);
        assert!(dir.path().join("quarantine/video_cam_notes.txt").exists());
        let seg = store
            .segments_overlapping("cam", T0, T0 + 1)
            .expect("query");
        assert_eq!(seg.len(), 1);
        assert_eq!(
            (seg[0].start_ms, seg[0].end_ms, seg[0].frames),
            (T0, T0 + 3000, 30)
        );
        assert_eq!(seg[0].codec, "avc1.42C01E");
    }

    #[test]
    fn row_without_file_is_marked_missing_and_init_only_file_removed() {
        let (dir, store) = setup();
        let id = sealed_segment(&store, dir.path(), T0, 10);
        std::fs::remove_file(dir.path().join(format!("video/cam/{T0}.mp4"))).expect("rm");
        // A segment whose first fragment never reached the disk.
        let (rel, w) = write_segment(dir.path(), T0 + 5000, 1);
        let empty_id = store
            .insert_recording_segment(&NewSegment {
                camera: "cam".into(),
                path: rel.clone(),
                start_ms: T0 + 5000,
                codec: "avc1.42C01E".into(),
                width: None,
                height: None,
            })
            .expect("insert");
        drop(w);
        let report = recover(&store, dir.path(), T0 + 10_000).expect("recover");
        assert_eq!(report.missing, vec![format!("video/cam/{T0}.mp4")]);
        assert_eq!(report.removed_empty, vec![rel.clone()]);
        assert_eq!(
            store.segment(id).expect("q").expect("row").state,
            SegmentState::Missing
        );
        assert_eq!(
            store.segment(empty_id).expect("q").expect("row").state,
            SegmentState::Deleted
        );
        assert!(!dir.path().join(&rel).exists());
    }

    #[test]
    fn interrupted_deletion_is_finished() {
        let (dir, store) = setup();
        let id = sealed_segment(&store, dir.path(), T0, 10);
        store.begin_delete(&[id], "retention", T0).expect("begin");
        // Crash before the unlink.
        let report = recover(&store, dir.path(), T0 + 1).expect("recover");
        assert_eq!(report.deletions_finished, 1);
        assert_eq!(
            store.segment(id).expect("q").expect("row").state,
            SegmentState::Deleted
        );
        assert!(video_files(dir.path()).is_empty());
    }

    fn video_files(data: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(data.join("video/cam"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn retention_by_age_and_bytes_deletes_oldest_unheld_first() {
        let (dir, store) = setup();
        let day = 86_400_000;
        let ids: Vec<i64> = (0..6)
            .map(|i| sealed_segment(&store, dir.path(), T0 + i * day, 10))
            .collect();
        store.set_hold(ids[0], true).expect("hold");
        let rule = RetentionRule {
            camera: "cam".into(),
            retain_days: Some(3),
            retain_bytes: None,
            escrow: None,
        };
        // Now = day 6: segments of days 0..2 are older than 3 days; day 0 is held.
        let deleted = enforce_retention(&store, dir.path(), &rule, T0 + 6 * day).expect("age");
        assert_eq!(deleted, vec![ids[1], ids[2]]);
        assert!(
            dir.path().join(format!("video/cam/{T0}.mp4")).exists(),
            "held segment kept"
        );
        assert!(!dir
            .path()
            .join(format!("video/cam/{}.mp4", T0 + day))
            .exists());

        let one = store.segment(ids[3]).expect("q").expect("row").bytes;
        let held = store.segment(ids[0]).expect("q").expect("row").bytes;
        let rule = RetentionRule {
            camera: "cam".into(),
            retain_days: None,
            retain_bytes: Some(held + 2 * one),
            escrow: None,
        };
        let deleted = enforce_retention(&store, dir.path(), &rule, T0 + 6 * day).expect("bytes");
        assert_eq!(
            deleted,
            vec![ids[3]],
            "oldest unheld first, only as much as needed"
        );
        assert!(store.camera_live_bytes("cam").expect("bytes") <= held + 2 * one);
        let gone = store.segment(ids[3]).expect("q").expect("row");
        assert_eq!(gone.state, SegmentState::Deleted);
        assert!(gone
            .delete_reason
            .as_deref()
            .unwrap_or("")
            .contains("quota"));
        assert_eq!(video_files(dir.path()).len(), 3);
    }

    #[test]
    fn retention_keeps_what_escrow_requires_or_says_it_went_unescrowed() {
        let (dir, store) = setup();
        let day = 86_400_000;
        let ids: Vec<i64> = (0..4)
            .map(|i| sealed_segment(&store, dir.path(), T0 + i * day, 10))
            .collect();
        let escrow = EscrowRetention {
            required: true,
            all_footage_of: vec!["cam".into()],
        };
        store
            .write("escrowed", |tx| {
                tx.record_segment_escrowed(ids[1], "sites/s/video/cam/1.mp4", None, T0)
            })
            .expect("escrowed");
        let mut rule = RetentionRule {
            camera: "cam".into(),
            retain_days: Some(1),
            retain_bytes: None,
            escrow: Some(escrow),
        };
        // Days 0..2 are old; only day 1 is escrowed: it alone goes.
        let now = T0 + 4 * day;
        let deleted = enforce_retention(&store, dir.path(), &rule, now).expect("required");
        assert_eq!(deleted, vec![ids[1]]);
        let gone = store.segment(ids[1]).expect("q").expect("row");
        assert!(!gone
            .delete_reason
            .unwrap_or_default()
            .contains(NOT_ESCROWED));
        // Not required: the others go too, and their tombstones say so.
        if let Some(e) = rule.escrow.as_mut() {
            e.required = false;
        }
        let deleted = enforce_retention(&store, dir.path(), &rule, now).expect("not required");
        assert_eq!(deleted, vec![ids[0], ids[2]]);
        let gone = store.segment(ids[0]).expect("q").expect("row");
        assert!(
            gone.delete_reason
                .unwrap_or_default()
                .ends_with(NOT_ESCROWED),
            "the tombstone says it went unescrowed"
        );
    }
}
