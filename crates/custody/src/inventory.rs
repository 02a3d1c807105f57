//! Comparing what an inventory scanned at a location with what the register
//! expects there.
//!
//! - `seen`: scanned barcodes the register has in place (here or elsewhere);
//! - `missing`: expected here, not scanned;
//! - `unexpected`: scanned, but the register says the item is out, disposed
//!   of, or has no such barcode;
//! - `misplaced`: seen here, but its home is not here (a subset of `seen`).
//!
//! "Here" is the location and the locations inside it. [`reconcile_within`]
//! takes that as a function; [`reconcile`] infers it from the expected items
//! (the location itself, and the current location of every item expected
//! here), which is right whenever each shelf inside the location holds at
//! least one expected item; callers that know the room structure should use
//! [`reconcile_within`].
//!
//! Every list is sorted by barcode; a barcode scanned twice counts once;
//! blank scans are ignored.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::{Item, ItemStatus};

/// A scanned item the register did not expect to find anywhere in place.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unexpected {
    /// The barcode scanned.
    pub barcode: String,
    /// Why it is unexpected.
    pub reason: String,
}

/// An item found here whose home is elsewhere.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Misplaced {
    /// The item.
    pub barcode: String,
    /// Where it belongs.
    pub home_location: String,
}

/// The result of an inventory of one location.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryReport {
    /// The location inventoried.
    pub location: String,
    /// Expected here, not scanned.
    pub missing: Vec<String>,
    /// Scanned, but out, disposed of or unknown.
    pub unexpected: Vec<Unexpected>,
    /// Scanned here, home elsewhere.
    pub misplaced: Vec<Misplaced>,
    /// Scanned and in place according to the register.
    pub seen: Vec<String>,
}

/// Reconciles a scan of `location`. `expected_here` are the items in place
/// at the location or inside it; `lookup` finds any item by barcode.
pub fn reconcile(
    location: &str,
    expected_here: &[Item],
    scanned: &[String],
    lookup: &impl Fn(&str) -> Option<Item>,
) -> InventoryReport {
    // Where expected items are now is here; their homes need not be (an
    // item misplaced here last time is still expected here).
    let here: HashSet<&str> = std::iter::once(location)
        .chain(expected_here.iter().map(|i| i.location.as_str()))
        .collect();
    reconcile_within(
        location,
        &|code: &str| here.contains(code),
        expected_here,
        scanned,
        lookup,
    )
}

/// [`reconcile`], with `is_here(code)` saying whether a location code is
/// `location` or inside it.
pub fn reconcile_within(
    location: &str,
    is_here: &impl Fn(&str) -> bool,
    expected_here: &[Item],
    scanned: &[String],
    lookup: &impl Fn(&str) -> Option<Item>,
) -> InventoryReport {
    let scanned: BTreeSet<&str> = scanned
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let expected: HashMap<&str, &Item> = expected_here
        .iter()
        .map(|i| (i.barcode.as_str(), i))
        .collect();

    let mut report = InventoryReport {
        location: location.to_owned(),
        missing: expected
            .keys()
            .filter(|b| !scanned.contains(*b))
            .map(|b| (*b).to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        unexpected: Vec::new(),
        misplaced: Vec::new(),
        seen: Vec::new(),
    };
    // Iterating a BTreeSet keeps every list sorted.
    for barcode in scanned {
        let known = match expected.get(barcode) {
            Some(item) => Some((*item).clone()),
            None => lookup(barcode),
        };
        let Some(item) = known else {
            report.unexpected.push(Unexpected {
                barcode: barcode.to_owned(),
                reason: "no item with this barcode in the register".into(),
            });
            continue;
        };
        match item.status {
            ItemStatus::Out => report.unexpected.push(Unexpected {
                barcode: barcode.to_owned(),
                reason: match &item.holder {
                    Some(holder) => format!("the register says it is out, held by {holder:?}"),
                    None => "the register says it is out".into(),
                },
            }),
            ItemStatus::Disposed => report.unexpected.push(Unexpected {
                barcode: barcode.to_owned(),
                reason: "the register says it was disposed of".into(),
            }),
            ItemStatus::InPlace => {
                if !is_here(&item.home_location) {
                    report.misplaced.push(Misplaced {
                        barcode: barcode.to_owned(),
                        home_location: item.home_location.clone(),
                    });
                }
                report.seen.push(barcode.to_owned());
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(barcode: &str, home: &str, location: &str, status: ItemStatus) -> Item {
        Item {
            barcode: barcode.into(),
            title: String::new(),
            reference: String::new(),
            classification: String::new(),
            home_location: home.into(),
            location: location.into(),
            status,
            holder: (status == ItemStatus::Out).then(|| "bob".into()),
            due_ms: None,
            disposed_reason: None,
        }
    }

    fn register(barcode: &str) -> Option<Item> {
        match barcode {
            "OUT" => Some(item("OUT", "R1-S1", "R1-S1", ItemStatus::Out)),
            "GONE" => Some(item("GONE", "R1-S1", "R1-S1", ItemStatus::Disposed)),
            "STRAY" => Some(item("STRAY", "R2-S1", "R2-S1", ItemStatus::InPlace)),
            "HOMEBACK" => Some(item("HOMEBACK", "R1-S2", "R9", ItemStatus::InPlace)),
            _ => None,
        }
    }

    fn scans(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_room_inventory() {
        let expected = [
            item("B3", "R1-S1", "R1-S1", ItemStatus::InPlace),
            item("B1", "R1-S1", "R1-S1", ItemStatus::InPlace),
            item("B2", "R1-S2", "R1-S2", ItemStatus::InPlace),
            // Seen here last time, home elsewhere.
            item("B4", "R2-S1", "R1", ItemStatus::InPlace),
        ];
        let scanned = scans(&[
            "STRAY", "B1", "OUT", " B1 ", "", "NOPE", "GONE", "B4", "HOMEBACK", "B3",
        ]);
        let report = reconcile("R1", &expected, &scanned, &register);
        assert_eq!(report.location, "R1");
        assert_eq!(report.missing, ["B2"]);
        assert_eq!(report.seen, ["B1", "B3", "B4", "HOMEBACK", "STRAY"]);
        assert_eq!(
            report.misplaced,
            [
                Misplaced {
                    barcode: "B4".into(),
                    home_location: "R2-S1".into()
                },
                Misplaced {
                    barcode: "STRAY".into(),
                    home_location: "R2-S1".into()
                },
            ]
        );
        let unexpected: Vec<(&str, &str)> = report
            .unexpected
            .iter()
            .map(|u| (u.barcode.as_str(), u.reason.as_str()))
            .collect();
        assert_eq!(
            unexpected,
            [
                ("GONE", "the register says it was disposed of"),
                ("NOPE", "no item with this barcode in the register"),
                ("OUT", "the register says it is out, held by \"bob\""),
            ]
        );
    }

    #[test]
    fn within_uses_the_given_containment() {
        let expected = [item("B1", "R1-S1", "R1-S1", ItemStatus::InPlace)];
        let scanned = scans(&["B1", "HOMEBACK"]);
        let inferred = reconcile("R1", &expected, &scanned, &register);
        // R1-S2 holds no expected item, so inference calls HOMEBACK misplaced…
        assert_eq!(inferred.misplaced.len(), 1);
        // …which the real containment corrects.
        let within = reconcile_within(
            "R1",
            &|code: &str| code == "R1" || code.starts_with("R1-"),
            &expected,
            &scanned,
            &register,
        );
        assert!(within.misplaced.is_empty());
        assert_eq!(within.seen, ["B1", "HOMEBACK"]);
        assert!(within.missing.is_empty());
    }
}
