//! Starting and ending events (motion, tampering, a camera offline): each
//! change is stored with its log entry in one transaction.
//!
//! `analysis.started` is logged when an event begins — so a tamper is on
//! record even if the site is destroyed before it ends — and
//! `analysis.event`, with everything known about it, when it ends.

use custos_ledger::catalogue::{leaf, AnalysisEvent, AnalysisStarted};
use custos_store::{Event, Store};

use crate::clock::now_ms;

/// The event of a camera that stopped sending pictures (the committer
/// starts and ends it; analysis sees only pictures).
pub const OFFLINE_EVENT: &str = "camera.offline";

/// Every kind of event there is: what analysis sees in the pictures
/// ([`custos_vision::EventKind`]), and a camera offline.
pub const EVENT_KINDS: &[&str] = &[
    "motion",
    "tamper.covered",
    "tamper.defocused",
    "tamper.moved",
    "tamper.frozen",
    OFFLINE_EVENT,
];

/// The kinds that raise an alert for as long as they last: tampering and a
/// camera offline.
pub const ALARM_KINDS: &[&str] = &[
    "tamper.covered",
    "tamper.defocused",
    "tamper.moved",
    "tamper.frozen",
    OFFLINE_EVENT,
];

/// Scores are logged in thousandths: log entries hold no floating point.
fn score_milli(score: f64) -> i64 {
    (score.clamp(0.0, 1.0) * 1000.0).round() as i64
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
        now_ms(),
        &AnalysisStarted {
            camera,
            kind,
            start_ms,
            zones,
            score_milli: score_milli(score),
        },
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
        now_ms(),
        &AnalysisEvent {
            camera: &event.camera,
            kind: &event.kind,
            event: event.id,
            start_ms: event.start_ms,
            end_ms,
            zones,
            score_milli: score_milli(score),
            snapshot_sha256: event.snapshot_sha256.as_deref(),
        },
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

#[cfg(test)]
mod tests {
    use custos_vision::EventKind;

    use super::*;

    #[test]
    fn the_kinds_are_those_of_analysis_and_the_offline_camera() {
        // A match, so a new kind of analysis event fails to compile here
        // until it is listed.
        let name = |k: EventKind| match k {
            EventKind::Motion
            | EventKind::Covered
            | EventKind::Defocused
            | EventKind::Moved
            | EventKind::Frozen => k.as_str(),
        };
        let mut kinds: Vec<&str> = [
            EventKind::Motion,
            EventKind::Covered,
            EventKind::Defocused,
            EventKind::Moved,
            EventKind::Frozen,
        ]
        .into_iter()
        .map(name)
        .collect();
        kinds.push(OFFLINE_EVENT);
        assert_eq!(EVENT_KINDS, kinds.as_slice());
        let tamper: Vec<&str> = kinds.into_iter().filter(|k| *k != "motion").collect();
        assert_eq!(ALARM_KINDS, tamper.as_slice());
    }
}
