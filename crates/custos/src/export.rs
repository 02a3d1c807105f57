//! `custos export`: an evidence bundle for one camera and span — the original
//! segment files, their log entries, inclusion proofs against a signed
//! checkpoint, and the verifier key (format: `docs/evidence-format.md`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use custos_ledger::bundle::{BundleWriter, Manifest};
use custos_ledger::entry::Entry;
use custos_ledger::note::{open_checkpoint, SigningKey};
use custos_ledger::storage::LogStorage;
use custos_store::{SegmentState, Store};

use crate::clock::now_ms;
use crate::sitelog::log_dir;

pub struct ExportRequest<'a> {
    pub site: &'a str,
    pub camera: &'a str,
    pub start_ms: i64,
    pub end_ms: i64,
    pub reason: &'a str,
    pub user: &'a str,
}

/// What an export wrote.
pub struct ExportSummary {
    pub segments: usize,
    pub entries: usize,
    pub tree_size: u64,
}

/// How long an export waits for the running recorder to sign a checkpoint
/// that covers the segments it needs.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(20);

pub fn export(
    store: &Store,
    data_dir: &Path,
    key: &SigningKey,
    req: &ExportRequest<'_>,
    out: &Path,
) -> anyhow::Result<ExportSummary> {
    if req.start_ms >= req.end_ms {
        bail!("--start-ms must be before --end-ms");
    }
    let segments: Vec<_> = store
        .segments_overlapping(req.camera, req.start_ms, req.end_ms)?
        .into_iter()
        .filter(|s| s.state == SegmentState::Sealed)
        .collect();
    if segments.is_empty() {
        bail!(
            "camera {:?} has no sealed segments between {} and {}",
            req.camera,
            req.start_ms,
            req.end_ms
        );
    }
    // The export is a fact of its own; logged before any byte leaves.
    let exported = crate::facts::footage_exported(
        req.user,
        req.camera,
        req.start_ms,
        req.end_ms,
        req.reason,
        segments.len(),
    );
    store.enqueue_log(vec![exported])?;

    // Find each segment's entry (and the camera's state changes and
    // tombstones in the span, which explain gaps).
    let dir = log_dir(data_dir);
    let storage = LogStorage::open_read_only(&dir)
        .with_context(|| format!("opening the log in {}", dir.display()))?;
    let wanted: std::collections::HashMap<&str, &str> = segments
        .iter()
        .map(|s| (s.path.as_str(), s.sha256.as_deref().unwrap_or("")))
        .collect();
    let mut segment_entries: Vec<(u64, Vec<u8>, String)> = Vec::new();
    let mut other_entries: Vec<(u64, Vec<u8>)> = Vec::new();
    let deadline = Instant::now() + CHECKPOINT_WAIT;
    let (checkpoint_note, checkpoint) = loop {
        segment_entries.clear();
        other_entries.clear();
        let size = storage.refresh_size()?;
        for index in 0..size {
            let leaf = storage.entry(index)?;
            let Ok(entry) = Entry::from_leaf_bytes(&leaf) else {
                continue;
            };
            let camera = entry.fields.get("camera").and_then(|v| v.as_str());
            if camera != Some(req.camera) {
                continue;
            }
            let path = entry
                .fields
                .get("path")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            match entry.kind.as_str() {
                "segment.sealed"
                    if wanted.get(path)
                        == entry.fields.get("sha256").and_then(|v| v.as_str()).as_ref() =>
                {
                    segment_entries.push((index, leaf, path.to_owned()));
                }
                "camera.state" => {
                    let at = entry
                        .fields
                        .get("at_ms")
                        .and_then(|v| v.as_i64())
                        .unwrap_or(i64::MIN);
                    if at >= req.start_ms - 60_000 && at <= req.end_ms {
                        other_entries.push((index, leaf));
                    }
                }
                _ => {}
            }
        }
        let needed = segment_entries
            .iter()
            .map(|(i, _, _)| i + 1)
            .max()
            .unwrap_or(0);
        let latest = store.latest_checkpoint()?;
        if segment_entries.len() == segments.len() {
            if let Some(cp) = latest.filter(|c| c.tree_size >= needed) {
                let opened = open_checkpoint(&cp.note, &key.verifier())
                    .context("the site's latest checkpoint does not verify")?;
                break (cp.note, opened);
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the log does not yet hold a signed checkpoint covering these segments ({} of {} logged); is `custos serve` running?",
                segment_entries.len(),
                segments.len()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    other_entries.retain(|(i, _)| *i < checkpoint.size);

    let mut writer = BundleWriter::create(out)?;
    for (index, leaf, path) in &segment_entries {
        let proof = storage.inclusion_proof(*index, checkpoint.size)?;
        writer.add_segment(&data_dir.join(path), *index, leaf, &proof)?;
    }
    for (index, leaf) in &other_entries {
        let proof = storage.inclusion_proof(*index, checkpoint.size)?;
        writer.add_entry(*index, leaf, &proof)?;
    }
    writer.finish(
        &Manifest {
            site: req.site.to_owned(),
            camera: req.camera.to_owned(),
            start_ms: req.start_ms,
            end_ms: req.end_ms,
            reason: req.reason.to_owned(),
            exported_by: req.user.to_owned(),
            exported_ms: now_ms(),
        },
        &checkpoint_note,
        &key.verifier(),
    )?;
    Ok(ExportSummary {
        segments: segment_entries.len(),
        entries: segment_entries.len() + other_entries.len(),
        tree_size: checkpoint.size,
    })
}
