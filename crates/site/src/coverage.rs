//! What a camera's recordings cover: the gaps between its segments, and
//! the segments a video of a span is made from.

use custos_store::{Segment, Store, StoreError};
use serde::Serialize;

/// Holes in the recording up to this long are not gaps: segments of one
/// stream follow each other with a few ms of rounding, and a reconnect that
/// quick is not worth showing.
pub const MIN_GAP_MS: i64 = 1000;

/// A span with nothing recorded.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub struct Gap {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Holes longer than [`MIN_GAP_MS`] in `start_ms..end_ms` not covered by
/// `segments` (ordered by start, as the store returns them).
pub fn gaps(segments: &[Segment], start_ms: i64, end_ms: i64) -> Vec<Gap> {
    let mut gaps = Vec::new();
    let mut covered_to = start_ms;
    for s in segments {
        let hole_end = s.start_ms.min(end_ms);
        if hole_end.saturating_sub(covered_to) > MIN_GAP_MS {
            gaps.push(Gap {
                start_ms: covered_to,
                end_ms: hole_end,
            });
        }
        // max: a segment may lie inside an earlier, longer one (e.g. after
        // a camera clock jump), which must not move the cursor back.
        covered_to = covered_to.max(s.end_ms);
    }
    if end_ms.saturating_sub(covered_to) > MIN_GAP_MS {
        gaps.push(Gap {
            start_ms: covered_to,
            end_ms,
        });
    }
    gaps
}

/// The segments of `camera` a video of `start_ms..end_ms` is made from:
/// those overlapping it, and the one just before them.
pub fn span_segments(
    store: &Store,
    camera: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<Segment>, StoreError> {
    let mut segments = store.segments_overlapping(camera, start_ms, end_ms)?;
    // The segment just before, for the GOP that an open GOP's
    // leading pictures reference (the planner uses it only then).
    if let Some(first) = segments.first() {
        if let Some(before) = store.segment_ending_at_or_before(camera, first.start_ms)? {
            segments.insert(0, before);
        }
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_store::SegmentState;

    fn seg(start_ms: i64, end_ms: i64) -> Segment {
        Segment {
            id: 0,
            camera: "c".to_owned(),
            path: "p".to_owned(),
            start_ms,
            end_ms,
            bytes: 0,
            frames: 0,
            sha256: None,
            state: SegmentState::Sealed,
            hold: false,
            codec: "avc1".to_owned(),
            width: None,
            height: None,
            recovered: false,
            sealed_ms: None,
            deleted_ms: None,
            delete_reason: None,
        }
    }

    fn gap(start_ms: i64, end_ms: i64) -> Gap {
        Gap { start_ms, end_ms }
    }

    #[test]
    fn gaps_between_around_and_inside_segments() {
        assert_eq!(gaps(&[], 0, 10_000), vec![gap(0, 10_000)]);
        // Segments sticking out of the window; holes of exactly 1000 ms and
        // less are not gaps.
        let segs = [seg(-500, 2000), seg(3000, 5000), seg(5500, 12_000)];
        assert_eq!(gaps(&segs, 0, 10_000), vec![]);
        let segs = [seg(1500, 2000), seg(4000, 5000), seg(5000, 8000)];
        assert_eq!(
            gaps(&segs, 0, 10_000),
            vec![gap(0, 1500), gap(2000, 4000), gap(8000, 10_000)]
        );
        // A segment nested in a longer one does not reopen the covered span.
        let segs = [seg(0, 9000), seg(1000, 2000)];
        assert_eq!(gaps(&segs, 0, 10_000), vec![]);
    }
}
