//! Events and the updates an [`Analyzer`](crate::Analyzer) reports, and the
//! bookkeeping of one open event (its best frame, for snapshots).

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Something moved in the unmasked picture.
    Motion,
    /// The lens is blocked or blacked out (hand, cloth, tape, paint).
    Covered,
    /// The picture is blurred over the whole frame.
    Defocused,
    /// The camera no longer sees its scene (turned, shifted, redirected).
    Moved,
    /// The same picture repeats while frames still arrive.
    Frozen,
}

impl EventKind {
    /// The stable name used in the database and the API: `motion`,
    /// `tamper.covered`, `tamper.defocused`, `tamper.moved`, `tamper.frozen`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Motion => "motion",
            EventKind::Covered => "tamper.covered",
            EventKind::Defocused => "tamper.defocused",
            EventKind::Moved => "tamper.moved",
            EventKind::Frozen => "tamper.frozen",
        }
    }

    /// True for the four tamper kinds.
    pub fn is_tamper(&self) -> bool {
        !matches!(self, EventKind::Motion)
    }
}

/// One event: motion, or one episode of tampering.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique within one [`Analyzer`](crate::Analyzer), increasing from 1.
    pub id: u64,
    /// What happened.
    pub kind: EventKind,
    /// For motion, the first frame with motion. For tamper, the first frame
    /// of the evidence that was then sustained (the event is reported a
    /// debounce time later).
    pub start_ms: i64,
    /// `None` while open. For motion, the last frame with motion. For
    /// tamper, the first frame of the sustained recovery (or the time given
    /// to [`finish`](crate::Analyzer::finish)).
    pub end_ms: Option<i64>,
    /// For motion, the names of the zones its blobs touched, in configuration
    /// order: so far when started, all of them when ended. Empty for tamper
    /// events and when no zones are configured.
    pub zones: Vec<String>,
    /// How strong the evidence is, 0..=1: for motion the fraction of the
    /// unmasked picture moving, for tamper the fraction of the picture's
    /// cells showing it. On an ended event, the highest seen.
    pub score: f32,
}

/// What changed with one frame (or at [`finish`](crate::Analyzer::finish)).
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// An event began (its `end_ms` is `None`).
    Started(Event),
    /// An event ended (its `end_ms` is set).
    Ended(Event),
    /// The frame just pushed is the most telling so far for this event: keep
    /// it as the event's picture. Sent at least once per event, with
    /// [`Update::Started`].
    Snapshot {
        /// The event the frame illustrates.
        event_id: u64,
    },
}

/// An event while it is open, with its best score so far.
#[derive(Debug, Clone)]
pub(crate) struct OpenEvent {
    pub event: Event,
}

impl OpenEvent {
    /// Opens an event and reports it with its first snapshot.
    pub(crate) fn start(event: Event, updates: &mut Vec<Update>) -> OpenEvent {
        let id = event.id;
        updates.push(Update::Started(event.clone()));
        updates.push(Update::Snapshot { event_id: id });
        OpenEvent { event }
    }

    /// Records this frame's score; asks for a snapshot if it is the best.
    pub(crate) fn observe(&mut self, score: f32, updates: &mut Vec<Update>) {
        if score > self.event.score {
            self.event.score = score;
            updates.push(Update::Snapshot {
                event_id: self.event.id,
            });
        }
    }

    /// Closes the event at `end_ms` and reports it.
    pub(crate) fn end(mut self, end_ms: i64, updates: &mut Vec<Update>) {
        self.event.end_ms = Some(end_ms.max(self.event.start_ms));
        updates.push(Update::Ended(self.event));
    }
}

/// Hands out event ids.
#[derive(Debug, Default)]
pub(crate) struct EventIds {
    last: u64,
}

impl EventIds {
    /// The next id (1, 2, ...).
    pub(crate) fn next(&mut self) -> u64 {
        self.last += 1;
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_stable() {
        let names: Vec<_> = [
            EventKind::Motion,
            EventKind::Covered,
            EventKind::Defocused,
            EventKind::Moved,
            EventKind::Frozen,
        ]
        .iter()
        .map(|k| k.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "motion",
                "tamper.covered",
                "tamper.defocused",
                "tamper.moved",
                "tamper.frozen"
            ]
        );
    }

    #[test]
    fn snapshots_follow_the_best_score() {
        let mut updates = Vec::new();
        let mut ids = EventIds::default();
        let mut open = OpenEvent::start(
            Event {
                id: ids.next(),
                kind: EventKind::Motion,
                start_ms: 100,
                end_ms: None,
                zones: vec![],
                score: 0.2,
            },
            &mut updates,
        );
        open.observe(0.1, &mut updates);
        open.observe(0.3, &mut updates);
        open.end(50, &mut updates);
        assert_eq!(updates.len(), 4);
        assert!(matches!(updates[1], Update::Snapshot { event_id: 1 }));
        assert!(matches!(updates[2], Update::Snapshot { event_id: 1 }));
        match &updates[3] {
            Update::Ended(event) => {
                assert_eq!(event.end_ms, Some(100), "never ends before it starts");
                assert_eq!(event.score, 0.3);
            }
            other => panic!("{other:?}"),
        }
    }
}
