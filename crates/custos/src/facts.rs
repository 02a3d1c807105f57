//! The log entries Custos writes, one constructor per kind of fact. Each
//! returns the entry's canonical leaf bytes, ready for `WriteTx::log`.
//!
//! Field names here are part of the evidence format
//! (`docs/evidence-format.md`): change them only with a new entry type.

use custos_ledger::entry::Entry;
pub use custos_ledger::entry::SealedSegment;

use crate::clock::now_ms;

/// Canonical bytes of `entry`. Every constructor here uses only strings,
/// integers, booleans and nulls, which always encode.
fn leaf(entry: Entry) -> Vec<u8> {
    match entry.to_leaf_bytes() {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("entry {} is canonical by construction: {e}", entry.kind),
    }
}

/// A segment file was sealed: the custody fingerprint of its bytes.
/// `recovered` says crash recovery, not the recorder, sealed it.
pub fn segment_sealed(segment: &SealedSegment<'_>, recovered: bool) -> Vec<u8> {
    leaf(Entry::segment_sealed(now_ms(), segment).with("recovered", recovered.into()))
}

/// A sealed segment's bytes were deleted; the entry that sealed it stays.
pub fn segment_deleted(
    camera: &str,
    path: &str,
    sha256: Option<&str>,
    reason: &str,
    by: &str,
) -> Vec<u8> {
    leaf(Entry::segment_deleted(
        now_ms(),
        camera,
        path,
        sha256,
        reason,
        by,
    ))
}

/// A segment's file was found missing at start.
pub fn segment_missing(camera: &str, path: &str, sha256: Option<&str>) -> Vec<u8> {
    leaf(
        Entry::new("segment.missing", now_ms())
            .with("camera", camera.into())
            .with("path", path.into())
            .with("sha256", sha256.into()),
    )
}

/// A hold was placed on (or released from) a segment.
pub fn segment_hold(camera: &str, path: &str, hold: bool, by: &str) -> Vec<u8> {
    let kind = if hold {
        "segment.held"
    } else {
        "segment.released"
    };
    leaf(
        Entry::new(kind, now_ms())
            .with("camera", camera.into())
            .with("path", path.into())
            .with("by", by.into()),
    )
}

/// Pictures the recorder dropped, and why.
pub fn recording_loss(loss: &custos_store::RecordingLossRow) -> Vec<u8> {
    leaf(Entry::recording_loss(
        now_ms(),
        &custos_ledger::entry::RecordingLoss {
            camera: &loss.camera,
            reason: &loss.reason,
            pictures: u64::try_from(loss.pictures).unwrap_or(0),
            start_ms: loss.start_ms,
            end_ms: loss.end_ms,
            detail: &loss.detail,
        },
    ))
}

/// The camera's clock jumped: the old and new presentation times.
pub fn recording_clock_reset(camera: &str, at_ms: i64, from_pts: i64, to_pts: i64) -> Vec<u8> {
    leaf(Entry::recording_clock_reset(
        now_ms(),
        camera,
        at_ms,
        from_pts,
        to_pts,
    ))
}

pub fn camera_state(camera: &str, at_ms: i64, state: &str, detail: Option<&str>) -> Vec<u8> {
    leaf(Entry::camera_state(now_ms(), camera, at_ms, state, detail))
}

pub fn config_loaded(sha256: &str, cameras: usize) -> Vec<u8> {
    leaf(Entry::config_loaded(now_ms(), sha256).with("cameras", (cameras as i64).into()))
}

pub fn user_created(name: &str, role: &str, by: &str) -> Vec<u8> {
    leaf(Entry::user_created(now_ms(), name, role, by))
}

pub fn token_created(id: &str, user: &str, by: &str) -> Vec<u8> {
    leaf(Entry::token_created(now_ms(), id, user, by))
}

pub fn token_revoked(id: &str, user: &str, by: &str) -> Vec<u8> {
    leaf(Entry::token_revoked(now_ms(), id, user, by))
}

/// Who is at the keyboard of a command-line action: the operating-system user.
pub fn cli_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}
