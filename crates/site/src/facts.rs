//! The log entries the binary writes, each the leaf bytes of a fact of the
//! ledger's catalogue (`custos_ledger::catalogue`, where each kind and its
//! fields are defined), logged now and ready for `WriteTx::log`.

pub use custos_ledger::catalogue::SealedSegment;
use custos_ledger::catalogue::{
    self, CameraState, ConfigLoaded, Fact, LeafError, RecordingClockReset, SegmentDeleted,
    SegmentHold, SegmentMissing, SegmentSealed,
};

use crate::clock::now_ms;

/// Leaf bytes of `fact`, logged now.
fn leaf(fact: &dyn Fact) -> Result<Vec<u8>, LeafError> {
    catalogue::leaf(now_ms(), fact)
}

/// A segment file was sealed: the custody fingerprint of its bytes.
/// `recovered` says crash recovery, not the recorder, sealed it.
pub fn segment_sealed(segment: &SealedSegment<'_>, recovered: bool) -> Result<Vec<u8>, LeafError> {
    leaf(&SegmentSealed {
        segment: *segment,
        recovered: Some(recovered),
    })
}

/// A sealed segment's bytes were deleted; the entry that sealed it stays.
pub fn segment_deleted(
    camera: &str,
    path: &str,
    sha256: Option<&str>,
    reason: &str,
    by: &str,
) -> Result<Vec<u8>, LeafError> {
    leaf(&SegmentDeleted {
        camera,
        path,
        sha256,
        reason,
        by,
    })
}

/// A segment's file was found missing at start.
pub fn segment_missing(
    camera: &str,
    path: &str,
    sha256: Option<&str>,
) -> Result<Vec<u8>, LeafError> {
    leaf(&SegmentMissing {
        camera,
        path,
        sha256,
    })
}

/// A hold was placed on (or released from) a segment.
pub fn segment_hold(camera: &str, path: &str, hold: bool, by: &str) -> Result<Vec<u8>, LeafError> {
    leaf(&SegmentHold {
        camera,
        path,
        by,
        held: hold,
    })
}

/// Pictures the recorder dropped, and why.
pub fn recording_loss(loss: &custos_store::RecordingLossRow) -> Result<Vec<u8>, LeafError> {
    leaf(&crate::cameras::loss_fact(loss))
}

/// The camera's clock jumped: the old and new presentation times.
pub fn recording_clock_reset(
    camera: &str,
    at_ms: i64,
    from_pts: i64,
    to_pts: i64,
) -> Result<Vec<u8>, LeafError> {
    leaf(&RecordingClockReset {
        camera,
        at_ms,
        from_pts,
        to_pts,
    })
}

pub fn camera_state(
    camera: &str,
    at_ms: i64,
    state: &str,
    detail: Option<&str>,
) -> Result<Vec<u8>, LeafError> {
    leaf(&CameraState {
        camera,
        at_ms,
        state,
        detail,
    })
}

pub fn config_loaded(sha256: &str, cameras: usize) -> Result<Vec<u8>, LeafError> {
    leaf(&ConfigLoaded {
        sha256,
        cameras: Some(cameras as u64),
    })
}
