//! An evidence bundle built from the escrow bucket alone, after the site's
//! box is gone: the same bundle `custos export` makes on the site, proven
//! against the checkpoint in the bucket, which `custos verify` checks as any
//! other.
//!
//! Nothing in the bucket is trusted: the checkpoint must open with the
//! site's key, which the caller brings; the tree is rebuilt from the entry
//! bundles and must have the checkpoint's root; each segment's bytes must
//! have the SHA-256 its `segment.sealed` entry carries (the bundle writer
//! checks that as it copies).

use std::path::Path;

use custos_ledger::bundle::{BundleWriter, Manifest};
use custos_ledger::catalogue::kind;
use custos_ledger::entry::Entry;
use custos_ledger::merkle;
use custos_ledger::note::VerifierKey;

use crate::bucket::{Bucket, EscrowError};
use crate::read::{read_published_log, PublishedLog};

/// What to export.
#[derive(Debug, Clone)]
pub struct EscrowExport<'a> {
    /// The camera.
    pub camera: &'a str,
    /// Start of the span, Unix ms.
    pub start_ms: i64,
    /// End of the span, Unix ms.
    pub end_ms: i64,
    /// Why (kept in the bundle).
    pub reason: &'a str,
    /// Who exports it.
    pub by: &'a str,
    /// When, Unix ms.
    pub now_ms: i64,
}

/// What went into the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscrowExportSummary {
    /// Segments copied.
    pub segments: usize,
    /// Log entries included, segments' own included.
    pub entries: usize,
    /// The size of the checkpoint they are proven against.
    pub tree_size: u64,
}

use crate::read::fail;

/// Writes into `out` (a directory that must not exist yet) the bundle of
/// `request` from the site's prefix in `bucket`, trusting only `key`.
pub async fn export_from_escrow(
    bucket: &Bucket,
    key: &VerifierKey,
    request: &EscrowExport<'_>,
    out: &Path,
) -> Result<EscrowExportSummary, EscrowError> {
    if request.start_ms >= request.end_ms {
        return Err(fail("the span's start must be before its end"));
    }
    let PublishedLog {
        note,
        checkpoint,
        leaves,
        tree,
    } = read_published_log(bucket, key).await?;

    // The span's segments and what explains its gaps, as the site's own
    // export chooses them.
    let mut segments = Vec::new();
    let mut explaining = Vec::new();
    let mut deleted_paths = Vec::new();
    for (index, leaf) in leaves.iter().enumerate() {
        let Ok(entry) = Entry::from_leaf_bytes(leaf) else {
            continue;
        };
        if entry.str_field("camera") != Some(request.camera) {
            continue;
        }
        let index = index as u64;
        let overlaps = |from: i64, to: i64| from < request.end_ms && to > request.start_ms;
        // Camera states of the minute before explain how the span began;
        // a loss entry covers at most a minute of losses.
        let since = |field: &str, before: i64| {
            entry
                .int_field(field)
                .is_some_and(|t| t >= request.start_ms - before && t < request.end_ms)
        };
        match entry.kind.as_str() {
            kind::SEGMENT_SEALED => {
                if let (Some(start), Some(end), Some(path)) = (
                    entry.int_field("start_ms"),
                    entry.int_field("end_ms"),
                    entry.str_field("path"),
                ) {
                    if overlaps(start, end) {
                        segments.push((index, path.to_owned()));
                    }
                }
            }
            kind::CAMERA_STATE if since("at_ms", 60_000) => explaining.push(index),
            kind::RECORDING_LOSS if since("start_ms", 120_000) => explaining.push(index),
            kind::SEGMENT_DELETED => {
                if let Some(path) = entry.str_field("path") {
                    deleted_paths.push((index, path.to_owned()));
                }
            }
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(fail(format!(
            "the log in the bucket seals no segment of camera {:?} between {} and {}",
            request.camera, request.start_ms, request.end_ms
        )));
    }

    let files = tempfile::tempdir().map_err(|e| fail(format!("a temporary directory: {e}")))?;
    let mut writer =
        BundleWriter::create(out).map_err(|e| fail(format!("{}: {e}", out.display())))?;
    let mut copied = 0;
    let mut entries = 0;
    for (index, path) in &segments {
        let leaf = &leaves[*index as usize];
        let proof = merkle::inclusion_proof(&tree, *index, checkpoint.size)
            .map_err(|e| fail(format!("proving entry {index}: {e}")))?;
        match bucket.get(path).await? {
            Some(bytes) => {
                let name = Path::new(path)
                    .file_name()
                    .ok_or_else(|| fail(format!("{path}: not a file name")))?;
                let file = files.path().join(name);
                std::fs::write(&file, &bytes)
                    .map_err(|e| fail(format!("writing {}: {e}", file.display())))?;
                writer
                    .add_segment(&file, *index, leaf, &proof)
                    .map_err(|e| fail(format!("{}: {e}", bucket.full_name(path))))?;
                copied += 1;
                entries += 1;
            }
            None => {
                // Never escrowed, or deleted at the site: its sealed entry
                // (and its tombstone, if any) still say it existed.
                writer
                    .add_entry(*index, leaf, &proof)
                    .map_err(|e| fail(format!("entry {index}: {e}")))?;
                entries += 1;
                if let Some((tomb, _)) = deleted_paths.iter().find(|(_, p)| p == path) {
                    explaining.push(*tomb);
                }
            }
        }
    }
    if copied == 0 {
        return Err(fail(format!(
            "none of the {} segments of camera {:?} in that span is in the bucket",
            segments.len(),
            request.camera
        )));
    }
    explaining.sort_unstable();
    explaining.dedup();
    for index in explaining {
        let proof = merkle::inclusion_proof(&tree, index, checkpoint.size)
            .map_err(|e| fail(format!("proving entry {index}: {e}")))?;
        writer
            .add_entry(index, &leaves[index as usize], &proof)
            .map_err(|e| fail(format!("entry {index}: {e}")))?;
        entries += 1;
    }
    writer
        .finish(
            &Manifest {
                site: checkpoint.origin.clone(),
                camera: request.camera.to_owned(),
                start_ms: request.start_ms,
                end_ms: request.end_ms,
                reason: request.reason.to_owned(),
                exported_by: request.by.to_owned(),
                exported_ms: request.now_ms,
            },
            &note,
            key,
        )
        .map_err(|e| fail(format!("writing the bundle: {e}")))?;
    Ok(EscrowExportSummary {
        segments: copied,
        entries,
        tree_size: checkpoint.size,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
    use custos_ledger::storage::LogStorage;
    use object_store::memory::InMemory;
    use object_store::path::Path as ObjectPath;
    use object_store::ObjectStore;

    use super::*;
    use crate::publish::LogPublisher;
    use custos_ledger::tiles;

    #[tokio::test]
    async fn entries_that_do_not_make_the_checkpoint_s_root_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = LogStorage::open(dir.path()).expect("log");
        let entries: Vec<Vec<u8>> = (0..10u32)
            .map(|i| format!("{{\"n\":{i}}}").into_bytes())
            .collect();
        log.append_batch(&entries).expect("append");
        let key = SigningKey::generate("archive.example/custos/a").expect("key");
        let note = sign_checkpoint(
            &Checkpoint {
                origin: "archive.example/custos/a".into(),
                size: 10,
                root: merkle::root(&log, 10).expect("root"),
            },
            &key,
        );
        let store = Arc::new(InMemory::new());
        let bucket = Bucket::from_store(store.clone(), "sites/a");
        let reader = LogStorage::open_read_only(dir.path()).expect("reader");
        let mut publisher = LogPublisher::start(bucket.clone(), reader, key.verifier())
            .await
            .expect("start");
        publisher.publish(&note, &|_| {}).await.expect("publish");
        let request = EscrowExport {
            camera: "door",
            start_ms: 0,
            end_ms: 1,
            reason: "",
            by: "cli:test",
            now_ms: 0,
        };
        let out = dir.path().join("bundle");
        // The published log is whole, but holds no segment of that camera.
        let err = export_from_escrow(&bucket, &key.verifier(), &request, &out)
            .await
            .expect_err("nothing sealed");
        assert!(
            err.to_string()
                .contains("seals no segment of camera \"door\""),
            "{err}"
        );
        // An entry changed in the bucket: the tree no longer has the root.
        let forged: Vec<Vec<u8>> = (0..10u32)
            .map(|i| format!("{{\"n\":{}}}", i + 1).into_bytes())
            .collect();
        store
            .put(
                &ObjectPath::from("sites/a/log/tile/entries/000.p/10"),
                tiles::entry_bundle(0, &forged).expect("bundle").into(),
            )
            .await
            .expect("overwrite");
        let err = export_from_escrow(&bucket, &key.verifier(), &request, &out)
            .await
            .expect_err("forged");
        assert!(err.to_string().contains("do not have the root"), "{err}");
        assert!(
            !out.exists(),
            "no bundle is begun from a log that does not verify"
        );
    }
}
