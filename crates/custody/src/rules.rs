//! Standing checks over the register: overdue items, locations no camera
//! sees, actions outside opening hours.

use std::collections::HashMap;

use crate::hours::OpeningHours;
use crate::model::{Item, ItemStatus, Location};

/// How many levels of rooms are followed; guards against a cycle of rooms.
const MAX_ROOM_DEPTH: usize = 8;

/// Items out whose due time is before `now_ms`, in the order given.
pub fn overdue<'a>(items: impl IntoIterator<Item = &'a Item>, now_ms: i64) -> Vec<&'a Item> {
    items
        .into_iter()
        .filter(|i| i.status == ItemStatus::Out && i.due_ms.is_some_and(|due| due < now_ms))
        .collect()
}

/// Locations in use that no camera sees: no coverage of their own, nor
/// through the rooms containing them. Rooms are looked up in `locations`.
pub fn blind_spots(locations: &[Location]) -> Vec<&Location> {
    let by_code: HashMap<&str, &Location> =
        locations.iter().map(|l| (l.code.as_str(), l)).collect();
    let seen = |location: &Location| {
        let mut current = location;
        for _ in 0..MAX_ROOM_DEPTH {
            if !current.coverage.is_empty() {
                return true;
            }
            match current.room.as_deref().and_then(|r| by_code.get(r)) {
                Some(room) => current = room,
                None => return false,
            }
        }
        false
    };
    locations
        .iter()
        .filter(|l| !l.retired && !seen(l))
        .collect()
}

/// Whether `at_ms` is outside the site's opening hours.
pub fn outside_hours(hours: &OpeningHours, at_ms: i64) -> bool {
    !hours.is_open(at_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Coverage, LocationKind};
    use std::collections::BTreeMap;

    fn item(barcode: &str, status: ItemStatus, due_ms: Option<i64>) -> Item {
        Item {
            barcode: barcode.into(),
            title: String::new(),
            reference: String::new(),
            classification: String::new(),
            home_location: "S1".into(),
            location: "S1".into(),
            status,
            holder: (status == ItemStatus::Out).then(|| "alice".into()),
            due_ms,
            disposed_reason: None,
        }
    }

    #[test]
    fn overdue_means_out_and_past_due() {
        let items = [
            item("late", ItemStatus::Out, Some(99)),
            item("due-now", ItemStatus::Out, Some(100)),
            item("no-due", ItemStatus::Out, None),
            item("home", ItemStatus::InPlace, Some(1)),
            item("later", ItemStatus::Out, Some(500)),
        ];
        let late: Vec<&str> = overdue(&items, 100)
            .into_iter()
            .map(|i| i.barcode.as_str())
            .collect();
        assert_eq!(late, ["late"]);
    }

    fn location(code: &str, room: Option<&str>, camera: Option<&str>, retired: bool) -> Location {
        Location {
            code: code.into(),
            name: code.into(),
            kind: LocationKind::Shelf,
            room: room.map(str::to_owned),
            coverage: camera
                .map(|c| Coverage {
                    camera: c.into(),
                    zone: None,
                })
                .into_iter()
                .collect(),
            retired,
        }
    }

    #[test]
    fn blind_spots_follow_rooms() {
        let locations = [
            location("R1", None, Some("cam1"), false),
            location("S1", Some("R1"), None, false),
            location("R2", None, None, false),
            location("S2", Some("R2"), None, false),
            location("S3", Some("R2"), Some("cam2"), false),
            location("OLD", None, None, true),
            location("S4", Some("MISSING"), None, false),
            location("A", Some("B"), None, false),
            location("B", Some("A"), None, false),
        ];
        let blind: Vec<&str> = blind_spots(&locations)
            .into_iter()
            .map(|l| l.code.as_str())
            .collect();
        assert_eq!(blind, ["R2", "S2", "S4", "A", "B"]);
    }

    #[test]
    fn outside_hours_is_not_open() {
        let weekly = BTreeMap::from([("mon".to_owned(), "08:00-17:00".to_owned())]);
        let hours = crate::hours::parse("UTC", &weekly, &[]).expect("hours");
        // Monday 2026-06-01 09:00 and 18:00 UTC.
        assert!(!outside_hours(&hours, 1_780_304_400_000));
        assert!(outside_hours(&hours, 1_780_336_800_000));
    }
}
