//! Starting and ending events (motion, tampering, a camera offline): each
//! change is stored with its log entry in one transaction.
//!
//! `analysis.started` is logged when an event begins — so a tamper is on
//! record even if the site is destroyed before it ends — and
//! `analysis.event`, with everything known about it, when it ends.

use custos_ledger::entry::Entry;
use custos_store::{Event, Store};

use crate::clock::now_ms;

/// Scores are logged in thousandths: log entries hold no floating point.
fn score_milli(score: f64) -> i64 {
    (score.clamp(0.0, 1.0) * 1000.0).round() as i64
}

fn zones_value(zones: &[String]) -> serde_json::Value {
    serde_json::Value::Array(zones.iter().cloned().map(Into::into).collect())
}

fn leaf(entry: Entry) -> anyhow::Result<Vec<u8>> {
    entry
        .to_leaf_bytes()
        .map_err(|e| anyhow::anyhow!("encoding the {} entry: {e}", entry.kind))
}

/// Records the start of an event; returns its id.
pub fn start(
    store: &Store,
    camera: &str,
    kind: &str,
    start_ms: i64,
    zones: &[String],
    score: f64,
) -> anyhow::Result<i64> {
    let entry = leaf(
        Entry::new("analysis.started", now_ms())
            .with("camera", camera.into())
            .with("kind", kind.into())
            .with("start_ms", start_ms.into())
            .with("zones", zones_value(zones))
            .with("score_milli", score_milli(score).into()),
    )?;
    Ok(store.write("recording an event", |tx| {
        tx.log(entry);
        tx.insert_event(camera, kind, start_ms, zones, score)
    })?)
}

/// Records the end of `event` (as it is stored, with its snapshot if any).
pub fn end(
    store: &Store,
    event: &Event,
    end_ms: i64,
    zones: &[String],
    score: f64,
) -> anyhow::Result<()> {
    let end_ms = end_ms.max(event.start_ms);
    let score = score.max(event.score);
    let entry = leaf(
        Entry::new("analysis.event", now_ms())
            .with("camera", event.camera.clone().into())
            .with("kind", event.kind.clone().into())
            .with("event", event.id.into())
            .with("start_ms", event.start_ms.into())
            .with("end_ms", end_ms.into())
            .with("zones", zones_value(zones))
            .with("score_milli", score_milli(score).into())
            .with("snapshot_sha256", event.snapshot_sha256.clone().into()),
    )?;
    store.write("ending an event", |tx| {
        tx.log(entry);
        tx.end_event(event.id, end_ms, zones, score)
    })?;
    Ok(())
}

/// Ends every open event of `camera` (of `kind`, if given) at `end_ms`.
pub fn end_open(
    store: &Store,
    camera: &str,
    kind: Option<&str>,
    end_ms: i64,
) -> anyhow::Result<usize> {
    let open = store.open_events(camera, kind)?;
    for event in &open {
        end(store, event, end_ms, &event.zones, event.score)?;
    }
    Ok(open.len())
}
