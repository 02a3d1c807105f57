//! Turning per-frame verdicts into events: debounce and release for tamper,
//! merging for motion. All timing is in presentation milliseconds.

use crate::config::Polygon;
use crate::events::{Event, EventIds, EventKind, OpenEvent, Update};
use crate::raster::zone_names;
use crate::scene::Verdict;

/// Gaps in the evidence up to this long do not restart the debounce (a
/// single odd frame, such as a key frame refreshing a frozen picture).
const EVIDENCE_GAP_MS: i64 = 1000;
/// A tamper event ends once its evidence has been absent this long.
const RELEASE_MS: i64 = 1500;

/// Evidence of one tamper kind building up towards an event.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    kind: EventKind,
    since_ms: i64,
    last_ms: i64,
    score: f32,
    /// The shortest sustain asked by the frames so far (strong evidence
    /// after weak counts from the start of the weak).
    sustain_ms: i64,
}

/// An open tamper event.
#[derive(Debug)]
struct OpenTamper {
    open: OpenEvent,
    last_evidence_ms: i64,
    /// The first frame without evidence since the last frame with it.
    clear_since_ms: Option<i64>,
}

/// What a frame did to the tamper events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TamperTransition {
    pub started: bool,
    pub ended: bool,
}

/// At most one tamper event open at a time, with its debounce.
#[derive(Debug, Default)]
pub(crate) struct TamperTracker {
    candidate: Option<Candidate>,
    open: Option<OpenTamper>,
}

impl TamperTracker {
    /// The kind of the open event.
    pub(crate) fn open_kind(&self) -> Option<EventKind> {
        self.open.as_ref().map(|o| o.open.event.kind)
    }

    /// True if no event is open and no evidence is building up: the scene
    /// may be learnt.
    pub(crate) fn is_quiet(&self) -> bool {
        self.open.is_none() && self.candidate.is_none()
    }

    /// Feeds one frame's verdict.
    pub(crate) fn observe(
        &mut self,
        verdict: Option<Verdict>,
        now_ms: i64,
        ids: &mut EventIds,
        updates: &mut Vec<Update>,
    ) -> TamperTransition {
        let mut transition = TamperTransition::default();
        let open_kind = self.open_kind();

        // Evidence for the open kind keeps the event alive.
        if let Some(open) = &mut self.open {
            match verdict {
                Some(v) if v.kind == open.open.event.kind => {
                    open.last_evidence_ms = now_ms;
                    open.clear_since_ms = None;
                    open.open.observe(v.score, updates);
                }
                _ => {
                    open.clear_since_ms.get_or_insert(now_ms);
                }
            }
        }

        // Evidence for another kind builds a candidate.
        match verdict {
            Some(v) if Some(v.kind) != open_kind => match &mut self.candidate {
                Some(c)
                    if c.kind == v.kind && now_ms.saturating_sub(c.last_ms) <= EVIDENCE_GAP_MS =>
                {
                    c.last_ms = now_ms;
                    c.score = c.score.max(v.score);
                    c.sustain_ms = c.sustain_ms.min(v.sustain_ms);
                }
                _ => {
                    self.candidate = Some(Candidate {
                        kind: v.kind,
                        since_ms: now_ms,
                        last_ms: now_ms,
                        score: v.score,
                        sustain_ms: v.sustain_ms,
                    });
                }
            },
            _ => {
                if self
                    .candidate
                    .is_some_and(|c| now_ms.saturating_sub(c.last_ms) > EVIDENCE_GAP_MS)
                {
                    self.candidate = None;
                }
            }
        }

        let confirmed = self
            .candidate
            .filter(|c| c.last_ms.saturating_sub(c.since_ms) >= c.sustain_ms);

        // The open event ends when its evidence is gone, or when another
        // kind has taken over (the same cause is never two kinds at once).
        let release = self.open.as_ref().and_then(|open| {
            let cleared = now_ms.saturating_sub(open.last_evidence_ms) >= RELEASE_MS;
            match (cleared, confirmed) {
                (true, _) => open.clear_since_ms,
                (false, Some(c)) => Some(c.since_ms.max(open.last_evidence_ms)),
                (false, None) => None,
            }
        });
        if let Some(end_ms) = release {
            if let Some(open) = self.open.take() {
                open.open.end(end_ms, updates);
                transition.ended = true;
            }
        }

        if let (None, Some(c)) = (&self.open, confirmed) {
            let event = Event {
                id: ids.next(),
                kind: c.kind,
                start_ms: c.since_ms,
                end_ms: None,
                zones: Vec::new(),
                score: c.score,
            };
            self.open = Some(OpenTamper {
                open: OpenEvent::start(event, updates),
                last_evidence_ms: now_ms,
                clear_since_ms: None,
            });
            self.candidate = None;
            transition.started = true;
        }
        transition
    }

    /// Ends the open event at `at_ms` and forgets any evidence building up.
    pub(crate) fn finish(&mut self, at_ms: i64, updates: &mut Vec<Update>) -> bool {
        self.candidate = None;
        match self.open.take() {
            Some(open) => {
                open.open.end(at_ms, updates);
                true
            }
            None => false,
        }
    }
}

/// An open motion event.
#[derive(Debug)]
struct OpenMotion {
    open: OpenEvent,
    last_motion_ms: i64,
    zone_bits: u64,
}

/// Motion frames merged into events.
#[derive(Debug, Default)]
pub(crate) struct MotionTracker {
    open: Option<OpenMotion>,
}

impl MotionTracker {
    /// Feeds one frame: `moving` is its motion score (0 for none).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn observe(
        &mut self,
        moving: f32,
        zone_bits: u64,
        now_ms: i64,
        merge_gap_ms: i64,
        zones: &[Polygon],
        ids: &mut EventIds,
        updates: &mut Vec<Update>,
    ) {
        let gap_passed = self
            .open
            .as_ref()
            .is_some_and(|o| now_ms.saturating_sub(o.last_motion_ms) >= merge_gap_ms.max(1));
        if gap_passed {
            self.finish(zones, updates);
        }
        if moving <= 0.0 {
            return;
        }
        match &mut self.open {
            Some(open) => {
                open.last_motion_ms = now_ms;
                open.zone_bits |= zone_bits;
                open.open.observe(moving, updates);
            }
            None => {
                let event = Event {
                    id: ids.next(),
                    kind: EventKind::Motion,
                    start_ms: now_ms,
                    end_ms: None,
                    zones: zone_names(zones, zone_bits),
                    score: moving,
                };
                self.open = Some(OpenMotion {
                    open: OpenEvent::start(event, updates),
                    last_motion_ms: now_ms,
                    zone_bits,
                });
            }
        }
    }

    /// Ends the open event at its last motion.
    pub(crate) fn finish(&mut self, zones: &[Polygon], updates: &mut Vec<Update>) {
        if let Some(mut open) = self.open.take() {
            open.open.event.zones = zone_names(zones, open.zone_bits);
            open.open.end(open.last_motion_ms, updates);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(score: f32) -> Option<Verdict> {
        Some(Verdict {
            kind: EventKind::Covered,
            score,
            sustain_ms: 2000,
        })
    }

    fn started(updates: &[Update]) -> Vec<&Event> {
        updates
            .iter()
            .filter_map(|u| match u {
                Update::Started(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn ended(updates: &[Update]) -> Vec<&Event> {
        updates
            .iter()
            .filter_map(|u| match u {
                Update::Ended(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn short_evidence_is_not_an_event() {
        let mut tracker = TamperTracker::default();
        let mut ids = EventIds::default();
        let mut updates = Vec::new();
        for t in (0..1800).step_by(200) {
            tracker.observe(covered(0.9), t, &mut ids, &mut updates);
        }
        for t in (2000..6000).step_by(200) {
            tracker.observe(None, t, &mut ids, &mut updates);
        }
        assert!(updates.is_empty(), "{updates:?}");
        assert!(tracker.is_quiet());
    }

    #[test]
    fn sustained_evidence_starts_and_recovery_ends() {
        let mut tracker = TamperTracker::default();
        let mut ids = EventIds::default();
        let mut updates = Vec::new();
        let mut started_at = None;
        let mut ended_at = None;
        for t in (0..20_000).step_by(200) {
            // Evidence from 5 s to 12 s, with one odd frame at 8 s.
            let verdict = if (5000..12_000).contains(&t) && t != 8000 {
                covered(0.8 + (t % 1000) as f32 / 10_000.0)
            } else {
                None
            };
            let transition = tracker.observe(verdict, t, &mut ids, &mut updates);
            if transition.started {
                started_at = Some(t);
            }
            if transition.ended {
                ended_at = Some(t);
            }
        }
        assert_eq!(started_at, Some(7000));
        assert_eq!(ended_at, Some(13_400));
        let starts = started(&updates);
        let ends = ended(&updates);
        assert_eq!((starts.len(), ends.len()), (1, 1));
        assert_eq!(starts[0].start_ms, 5000);
        assert_eq!(ends[0].end_ms, Some(12_000));
        assert!(updates.iter().any(|u| matches!(u, Update::Snapshot { .. })));
    }

    #[test]
    fn strong_evidence_after_weak_counts_from_the_weak() {
        let mut tracker = TamperTracker::default();
        let mut ids = EventIds::default();
        let mut updates = Vec::new();
        let mut started_at = None;
        for t in (0..6000).step_by(200) {
            // Weak (4 s) from 0, strong (2 s) from 1.5 s.
            let sustain_ms = if t < 1500 { 4000 } else { 2000 };
            let verdict = Verdict {
                kind: EventKind::Covered,
                score: 0.6,
                sustain_ms,
            };
            if tracker
                .observe(Some(verdict), t, &mut ids, &mut updates)
                .started
            {
                started_at.get_or_insert(t);
            }
        }
        assert_eq!(started_at, Some(2000));
    }

    #[test]
    fn another_kind_takes_over() {
        let mut tracker = TamperTracker::default();
        let mut ids = EventIds::default();
        let mut updates = Vec::new();
        for t in (0..10_000).step_by(200) {
            let kind = if t < 5000 {
                EventKind::Covered
            } else {
                EventKind::Moved
            };
            let verdict = Verdict {
                kind,
                score: 1.0,
                sustain_ms: 2000,
            };
            tracker.observe(Some(verdict), t, &mut ids, &mut updates);
        }
        let kinds: Vec<_> = updates
            .iter()
            .filter_map(|u| match u {
                Update::Started(e) => Some(("start", e.kind)),
                Update::Ended(e) => Some(("end", e.kind)),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("start", EventKind::Covered),
                ("end", EventKind::Covered),
                ("start", EventKind::Moved)
            ]
        );
    }

    #[test]
    fn motion_merges_within_the_gap() {
        let zones = vec![Polygon {
            name: "door".into(),
            points: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)],
        }];
        let mut tracker = MotionTracker::default();
        let mut ids = EventIds::default();
        let mut updates = Vec::new();
        // Motion at 0-1 s and 3-4 s (gap 2 s < 3 s), then at 8 s.
        for t in (0..10_000).step_by(200) {
            let moving = (t <= 1000 || (3000..=4000).contains(&t) || t == 8000) as u8 as f32;
            let bits = u64::from(t == 3000);
            tracker.observe(moving * 0.1, bits, t, 3000, &zones, &mut ids, &mut updates);
        }
        tracker.finish(&zones, &mut updates);
        let ends = ended(&updates);
        assert_eq!(ends.len(), 2);
        assert_eq!((ends[0].start_ms, ends[0].end_ms), (0, Some(4000)));
        assert_eq!(ends[0].zones, vec!["door".to_string()]);
        assert_eq!((ends[1].start_ms, ends[1].end_ms), (8000, Some(8000)));
        assert!(ends[1].zones.is_empty());
    }
}
