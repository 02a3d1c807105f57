//! Which cameras must have seen a custody action, and whether they recorded
//! it.
//!
//! An action at a location is covered by the cameras of that location, then
//! by those of the room containing it (and that room's room, and so on): a
//! shelf inside a watched strong room is seen by the room's cameras. Each
//! camera gives one window, from [`WINDOW_BEFORE_MS`] before the action to
//! [`WINDOW_AFTER_MS`] after it; a camera listed at several levels counts
//! once, with the zone of the nearest level.
//!
//! A window counts as recorded when recorded segments cover at least
//! [`RECORDED_SHARE_PERCENT`] % of it. Recording is cut into segments with
//! short gaps between them (under 2 s is normal), so asking for all of the
//! window would raise false alarms; 90 % of a 60 s window still tolerates
//! several such cuts but not a camera that was down.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::model::{Coverage, Location};

/// How much footage before an action is wanted.
pub const WINDOW_BEFORE_MS: i64 = 30_000;
/// How much footage after an action is wanted.
pub const WINDOW_AFTER_MS: i64 = 30_000;
/// The share of a window that must be recorded for it to count.
pub const RECORDED_SHARE_PERCENT: i64 = 90;
/// How many levels of rooms are followed; guards against a cycle of rooms.
const MAX_ROOM_DEPTH: usize = 8;

/// One camera's footage around a custody action.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FootageWindow {
    /// The camera.
    pub camera: String,
    /// The motion zone of the camera that shows the location, if any.
    pub zone: Option<String>,
    /// Start of the window, ms since the Unix epoch.
    pub start_ms: i64,
    /// End of the window (exclusive).
    pub end_ms: i64,
    /// Whether at least [`RECORDED_SHARE_PERCENT`] % of it is recorded.
    pub recorded: bool,
    /// How much of the window is recorded, in ms.
    pub recorded_ms: i64,
}

/// The cameras that see `location`: its own, then its rooms', each once.
/// `rooms` looks a location up by code.
pub fn covering(location: &Location, rooms: &impl Fn(&str) -> Option<Location>) -> Vec<Coverage> {
    let mut seen_cameras = HashSet::new();
    let mut coverage = Vec::new();
    let mut add = |list: &[Coverage]| {
        for c in list {
            if seen_cameras.insert(c.camera.clone()) {
                coverage.push(c.clone());
            }
        }
    };
    add(&location.coverage);
    let mut room_code = location.room.clone();
    let mut visited = vec![location.code.clone()];
    for _ in 0..MAX_ROOM_DEPTH {
        let Some(code) = room_code.take() else { break };
        if visited.contains(&code) {
            break;
        }
        let Some(room) = rooms(&code) else { break };
        add(&room.coverage);
        visited.push(code);
        room_code = room.room;
    }
    coverage
}

/// The footage windows of an action at `at_ms` at `location` (none when the
/// location is unknown). `recorded(camera, start, end)` returns the recorded
/// spans `(start_ms, end_ms)` of a camera that overlap `start..end`.
pub fn windows(
    at_ms: i64,
    location: Option<&Location>,
    rooms: &impl Fn(&str) -> Option<Location>,
    recorded: &impl Fn(&str, i64, i64) -> Vec<(i64, i64)>,
) -> Vec<FootageWindow> {
    let Some(location) = location else {
        return Vec::new();
    };
    let start_ms = at_ms.saturating_sub(WINDOW_BEFORE_MS);
    let end_ms = at_ms.saturating_add(WINDOW_AFTER_MS);
    covering(location, rooms)
        .into_iter()
        .map(|c| {
            let recorded_ms = covered_ms(start_ms, end_ms, recorded(&c.camera, start_ms, end_ms));
            FootageWindow {
                recorded: recorded_ms * 100 >= (end_ms - start_ms) * RECORDED_SHARE_PERCENT,
                camera: c.camera,
                zone: c.zone,
                start_ms,
                end_ms,
                recorded_ms,
            }
        })
        .collect()
}

/// How much of `start..end` the spans cover, counting overlaps once.
fn covered_ms(start: i64, end: i64, mut spans: Vec<(i64, i64)>) -> i64 {
    spans.sort_unstable();
    let mut total = 0;
    // Everything before `reached` is already counted.
    let mut reached = start;
    for (span_start, span_end) in spans {
        let from = span_start.max(reached);
        let to = span_end.min(end);
        if to > from {
            total += to - from;
            reached = to;
        }
    }
    total
}

/// Whether an action's footage calls for an alert: no camera covers its
/// location, or none of them recorded it.
pub fn needs_no_footage_alert(windows: &[FootageWindow]) -> bool {
    !windows.iter().any(|w| w.recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LocationKind;

    const AT: i64 = 1_000_000;

    fn place(code: &str, room: Option<&str>, coverage: &str) -> Location {
        Location {
            code: code.into(),
            name: code.into(),
            kind: LocationKind::Shelf,
            room: room.map(str::to_owned),
            coverage: Coverage::parse_list(coverage).expect("coverage"),
            retired: false,
        }
    }

    fn room_lookup(code: &str) -> Option<Location> {
        match code {
            "R1" => Some(place("R1", Some("B1"), "cam1;cam2")),
            "B1" => Some(place("B1", None, "cam9")),
            "LOOP" => Some(place("LOOP", Some("LOOP2"), "")),
            "LOOP2" => Some(place("LOOP2", Some("LOOP"), "cam5")),
            _ => None,
        }
    }

    #[test]
    fn a_shelf_is_seen_by_its_rooms_cameras() {
        let shelf = place("S1", Some("R1"), "cam2:shelf 1;cam3");
        let w = windows(AT, Some(&shelf), &room_lookup, &|_, s, e| vec![(s, e)]);
        let cams: Vec<(&str, Option<&str>)> = w
            .iter()
            .map(|w| (w.camera.as_str(), w.zone.as_deref()))
            .collect();
        assert_eq!(
            cams,
            [
                ("cam2", Some("shelf 1")),
                ("cam3", None),
                ("cam1", None),
                ("cam9", None)
            ]
        );
        assert!(w.iter().all(|w| w.recorded && w.recorded_ms == 60_000));
        assert_eq!(w[0].start_ms, AT - 30_000);
        assert_eq!(w[0].end_ms, AT + 30_000);
        assert!(!needs_no_footage_alert(&w));
    }

    #[test]
    fn room_cycles_end() {
        let shelf = place("S", Some("LOOP"), "");
        let c = covering(&shelf, &room_lookup);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].camera, "cam5");
    }

    #[test]
    fn recorded_share_and_cuts() {
        let shelf = place("S", None, "cam1");
        let start = AT - 30_000;
        // Three segments with 1.5 s cuts, overlapping and beyond the window.
        let cut = |_: &str, _: i64, _: i64| {
            vec![
                (start + 21_500, start + 45_000),
                (start - 5_000, start + 20_000),
                (start + 40_000, start + 90_000),
            ]
        };
        let w = windows(AT, Some(&shelf), &|_| None, &cut);
        assert_eq!(w[0].recorded_ms, 58_500);
        assert!(w[0].recorded);

        // 53 s of 60 s is under 90 %.
        let short = |_: &str, _: i64, _: i64| vec![(start, start + 53_000)];
        let w = windows(AT, Some(&shelf), &|_| None, &short);
        assert_eq!(w[0].recorded_ms, 53_000);
        assert!(!w[0].recorded);
        assert!(needs_no_footage_alert(&w));

        // Exactly 90 % counts.
        let edge = |_: &str, _: i64, _: i64| vec![(start + 6_000, start + 60_000)];
        assert!(windows(AT, Some(&shelf), &|_| None, &edge)[0].recorded);
    }

    #[test]
    fn no_camera_means_an_alert() {
        let blind = place("S", None, "");
        let w = windows(AT, Some(&blind), &|_| None, &|_, _, _| Vec::new());
        assert!(w.is_empty());
        assert!(needs_no_footage_alert(&w));
        assert!(windows(AT, None, &|_| None, &|_, _, _| Vec::new()).is_empty());
    }
}
