//! What each custody action does to an item, or why it is refused.
//!
//! [`apply`] takes an item as the register holds it, an action, the time and
//! a view of the register's people and locations, and returns the item after
//! the action, who holds it, and where the action happened — the location
//! whose cameras must have seen it. It changes nothing itself: the caller
//! stores the outcome and the custody event in one transaction.
//!
//! Any action on a disposed item is refused ([`Refusal::Disposed`]).
//! "Known" means present in the register; "usable" means known and not
//! retired ([`Refusal::UnknownPerson`], [`Refusal::RetiredPerson`] and the
//! same for locations).
//!
//! | action | item must be | also required | item after | holder after | action location |
//! |---|---|---|---|---|---|
//! | `check_out` | in place | `to` usable; `due_ms` after the action's time | out, holder `to`, due `due_ms` | `to` | where the item was |
//! | `check_in` | out | the given location (default: home) usable | in place at that location; holder and due cleared | none | that location |
//! | `transfer` | out | `to` usable and not the current holder | holder `to` | `to` | none (hand-overs happen anywhere) |
//! | `view` | in place | `by` usable; the viewing location usable | unchanged | none | the viewing location |
//! | `copy` | in place or out | `by` usable | unchanged | unchanged | where the item is when in place; none when out |
//! | `move` | in place | `to_location` usable | home and location become `to_location` | none | `to_location` |
//! | `inventory_seen` | in place | the location known (retired is fine: the item *was* seen there) | location becomes the seen location | none | the seen location |
//! | `disposal` | in place | a reason that is not blank | disposed, with the reason | none | where the item was |
//!
//! Refusals by state: an action that needs the item in place, on an item
//! that is out, gives [`Refusal::OutCannot`] (or [`Refusal::AlreadyOut`] for
//! `check_out`); an action that needs it out, on an item in place, gives
//! [`Refusal::NotOut`]. An `inventory_seen` of an item the register says is
//! out is refused here with [`Refusal::OutCannot`]; the inventory report
//! (see [`crate::inventory`]) lists such items as unexpected instead.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::{Item, ItemStatus, Location, Person};

/// A custody action on one item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Lend the item to a person until a due time.
    CheckOut {
        /// The staff id of who takes it.
        to: String,
        /// When it is due back, ms since the Unix epoch.
        due_ms: i64,
    },
    /// Take the item back.
    CheckIn {
        /// Where it is put; its home location when not given.
        #[serde(default)]
        location: Option<String>,
    },
    /// Hand an item that is out from its holder to someone else.
    Transfer {
        /// The staff id of the new holder.
        to: String,
    },
    /// A person consults the item in place, such as at a reading table.
    View {
        /// The staff id of who consults it.
        by: String,
        /// Where it is consulted.
        location: String,
    },
    /// A person copies (photographs, scans) the item.
    Copy {
        /// The staff id of who copies it.
        by: String,
    },
    /// The item gets a new permanent home.
    Move {
        /// The new home, which is also where it is now.
        to_location: String,
    },
    /// An inventory found the item at a location.
    InventorySeen {
        /// Where it was seen.
        location: String,
    },
    /// The item leaves the archive for good.
    Disposal {
        /// Why (destroyed under a retention schedule, transferred…).
        reason: String,
    },
}

impl Action {
    /// The action's name, as in JSON (`"action": "check_out"`) and the log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::CheckOut { .. } => "check_out",
            Action::CheckIn { .. } => "check_in",
            Action::Transfer { .. } => "transfer",
            Action::View { .. } => "view",
            Action::Copy { .. } => "copy",
            Action::Move { .. } => "move",
            Action::InventorySeen { .. } => "inventory_seen",
            Action::Disposal { .. } => "disposal",
        }
    }
}

/// The people and locations the rules look up. Callers back it with maps
/// ([`MemoryRegister`]) or with rows read in the action's transaction.
pub trait Register {
    /// The person with this staff id, retired or not.
    fn person(&self, staff_id: &str) -> Option<&Person>;
    /// The location with this code, retired or not.
    fn location(&self, code: &str) -> Option<&Location>;
}

/// A register held in maps keyed by staff id and location code.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryRegister {
    /// People by staff id.
    pub people: HashMap<String, Person>,
    /// Locations by code.
    pub locations: HashMap<String, Location>,
}

impl MemoryRegister {
    /// A register holding these records, keyed by their codes.
    pub fn from_records(
        people: impl IntoIterator<Item = Person>,
        locations: impl IntoIterator<Item = Location>,
    ) -> MemoryRegister {
        MemoryRegister {
            people: people
                .into_iter()
                .map(|p| (p.staff_id.clone(), p))
                .collect(),
            locations: locations.into_iter().map(|l| (l.code.clone(), l)).collect(),
        }
    }
}

impl Register for MemoryRegister {
    fn person(&self, staff_id: &str) -> Option<&Person> {
        self.people.get(staff_id)
    }

    fn location(&self, code: &str) -> Option<&Location> {
        self.locations.get(code)
    }
}

/// What an action did.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The item after the action.
    pub item: Item,
    /// Who holds it after the action.
    pub holder: Option<String>,
    /// Where the action happened: the location whose cameras must have seen
    /// it. `None` when that is not known (a transfer, a copy of an item out).
    pub location: Option<String>,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `check_out` of an item that is already out.
    #[error("item {barcode:?} is already out, held by {holder:?}")]
    AlreadyOut {
        /// The item.
        barcode: String,
        /// Who holds it.
        holder: String,
    },
    /// An action that needs the item out, on an item that is not.
    #[error("item {barcode:?} is not out")]
    NotOut {
        /// The item.
        barcode: String,
    },
    /// Any action on a disposed item.
    #[error("item {barcode:?} has been disposed of; no custody action applies to it")]
    Disposed {
        /// The item.
        barcode: String,
    },
    /// A staff id not in the register.
    #[error("no person with staff id {0:?} in the register")]
    UnknownPerson(String),
    /// A retired person.
    #[error("person {0:?} is retired")]
    RetiredPerson(String),
    /// A location code not in the register.
    #[error("no location {0:?} in the register")]
    UnknownLocation(String),
    /// A retired location.
    #[error("location {0:?} is retired")]
    RetiredLocation(String),
    /// `transfer` to the person who already holds the item.
    #[error("item {barcode:?} is already held by {holder:?}")]
    SameHolder {
        /// The item.
        barcode: String,
        /// Who holds it.
        holder: String,
    },
    /// `check_out` with a due time not after the action.
    #[error("due time {} is not after the time of the check-out, {}", format_ms(*.due_ms), format_ms(*.at_ms))]
    DueInPast {
        /// The due time asked for.
        due_ms: i64,
        /// The time of the action.
        at_ms: i64,
    },
    /// `disposal` with a blank reason.
    #[error("a disposal needs a reason")]
    EmptyReason,
    /// An action that needs the item in place, on an item that is out.
    #[error("item {barcode:?} is out; check it in before a {action}")]
    OutCannot {
        /// The item.
        barcode: String,
        /// The action refused, as in [`Action::name`].
        action: &'static str,
    },
    /// Retiring a location that items are still in.
    #[error("location {code:?} still holds {}; move those first", .items.join(", "))]
    LocationNotEmpty {
        /// The location.
        code: String,
        /// Some of the items in it (a few are enough to act on).
        items: Vec<String>,
    },
    /// Retiring a person who still holds items.
    #[error("{staff_id} still holds {}; check those in first", .items.join(", "))]
    HolderOfItems {
        /// The person.
        staff_id: String,
        /// Some of the items they hold.
        items: Vec<String>,
    },
}

/// Whether location `code` may be retired, given the items in place there.
/// A retired location can hold nothing: the register would show items
/// where no one may put or find them.
pub fn may_retire_location(code: &str, items_here: &[String]) -> Result<(), Refusal> {
    if items_here.is_empty() {
        return Ok(());
    }
    Err(Refusal::LocationNotEmpty {
        code: code.to_owned(),
        items: items_here.to_vec(),
    })
}

/// Whether the person `staff_id` may be retired, given the items they hold:
/// a retired person can act on nothing, so what they hold must come back
/// first.
pub fn may_retire_person(staff_id: &str, items_held: &[String]) -> Result<(), Refusal> {
    if items_held.is_empty() {
        return Ok(());
    }
    Err(Refusal::HolderOfItems {
        staff_id: staff_id.to_owned(),
        items: items_held.to_vec(),
    })
}

/// A time for messages: RFC 3339 in UTC, or the raw number if out of range.
fn format_ms(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => format!("{ms} ms"),
    }
}

fn usable_person<'r>(register: &'r impl Register, staff_id: &str) -> Result<&'r Person, Refusal> {
    match register.person(staff_id) {
        None => Err(Refusal::UnknownPerson(staff_id.into())),
        Some(p) if p.retired => Err(Refusal::RetiredPerson(staff_id.into())),
        Some(p) => Ok(p),
    }
}

fn known_location<'r>(register: &'r impl Register, code: &str) -> Result<&'r Location, Refusal> {
    register
        .location(code)
        .ok_or_else(|| Refusal::UnknownLocation(code.into()))
}

fn usable_location<'r>(register: &'r impl Register, code: &str) -> Result<&'r Location, Refusal> {
    let location = known_location(register, code)?;
    if location.retired {
        return Err(Refusal::RetiredLocation(code.into()));
    }
    Ok(location)
}

/// Checks that the item is in place for `action`, naming the right refusal.
fn require_in_place(item: &Item, action: &Action) -> Result<(), Refusal> {
    match item.status {
        ItemStatus::InPlace => Ok(()),
        ItemStatus::Disposed => Err(Refusal::Disposed {
            barcode: item.barcode.clone(),
        }),
        ItemStatus::Out => match (action, &item.holder) {
            (Action::CheckOut { .. }, Some(holder)) => Err(Refusal::AlreadyOut {
                barcode: item.barcode.clone(),
                holder: holder.clone(),
            }),
            _ => Err(Refusal::OutCannot {
                barcode: item.barcode.clone(),
                action: action.name(),
            }),
        },
    }
}

fn require_out(item: &Item) -> Result<(), Refusal> {
    match item.status {
        ItemStatus::Out => Ok(()),
        ItemStatus::Disposed => Err(Refusal::Disposed {
            barcode: item.barcode.clone(),
        }),
        ItemStatus::InPlace => Err(Refusal::NotOut {
            barcode: item.barcode.clone(),
        }),
    }
}

/// Applies `action` to `item` at `at_ms`, or says why it is refused. See the
/// module documentation for the table of rules.
pub fn apply(
    item: &Item,
    action: &Action,
    at_ms: i64,
    register: &impl Register,
) -> Result<Outcome, Refusal> {
    let mut after = item.clone();
    let location = match action {
        Action::CheckOut { to, due_ms } => {
            require_in_place(item, action)?;
            usable_person(register, to)?;
            if *due_ms <= at_ms {
                return Err(Refusal::DueInPast {
                    due_ms: *due_ms,
                    at_ms,
                });
            }
            after.status = ItemStatus::Out;
            after.holder = Some(to.clone());
            after.due_ms = Some(*due_ms);
            Some(item.location.clone())
        }
        Action::CheckIn { location } => {
            require_out(item)?;
            let code = location.as_deref().unwrap_or(&item.home_location);
            usable_location(register, code)?;
            after.status = ItemStatus::InPlace;
            after.location = code.to_owned();
            after.holder = None;
            after.due_ms = None;
            Some(code.to_owned())
        }
        Action::Transfer { to } => {
            require_out(item)?;
            usable_person(register, to)?;
            if item.holder.as_deref() == Some(to.as_str()) {
                return Err(Refusal::SameHolder {
                    barcode: item.barcode.clone(),
                    holder: to.clone(),
                });
            }
            after.holder = Some(to.clone());
            None
        }
        Action::View { by, location } => {
            require_in_place(item, action)?;
            usable_person(register, by)?;
            usable_location(register, location)?;
            Some(location.clone())
        }
        Action::Copy { by } => {
            if item.status == ItemStatus::Disposed {
                return Err(Refusal::Disposed {
                    barcode: item.barcode.clone(),
                });
            }
            usable_person(register, by)?;
            // An item that is out is wherever its holder took it.
            (item.status == ItemStatus::InPlace).then(|| item.location.clone())
        }
        Action::Move { to_location } => {
            require_in_place(item, action)?;
            usable_location(register, to_location)?;
            after.home_location = to_location.clone();
            after.location = to_location.clone();
            Some(to_location.clone())
        }
        Action::InventorySeen { location } => {
            require_in_place(item, action)?;
            // A sighting is a fact; a retired location does not make it false.
            known_location(register, location)?;
            after.location = location.clone();
            Some(location.clone())
        }
        Action::Disposal { reason } => {
            require_in_place(item, action)?;
            if reason.trim().is_empty() {
                return Err(Refusal::EmptyReason);
            }
            after.status = ItemStatus::Disposed;
            after.disposed_reason = Some(reason.trim().to_owned());
            after.holder = None;
            after.due_ms = None;
            Some(item.location.clone())
        }
    };
    Ok(Outcome {
        holder: after.holder.clone(),
        item: after,
        location,
    })
}

#[cfg(test)]
mod retirement_tests {
    use super::*;

    #[test]
    fn only_an_empty_location_and_a_person_holding_nothing_retire() {
        assert_eq!(may_retire_location("R1", &[]), Ok(()));
        assert_eq!(may_retire_person("S1", &[]), Ok(()));
        let e = may_retire_location("R1", &["B1".into(), "B2".into()]).expect_err("items");
        assert_eq!(
            e.to_string(),
            "location \"R1\" still holds B1, B2; move those first"
        );
        let e = may_retire_person("S1", &["B1".into()]).expect_err("held");
        assert_eq!(e.to_string(), "S1 still holds B1; check those in first");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LocationKind, PersonRole};

    const NOW: i64 = 1_780_000_000_000;
    const DAY: i64 = 86_400_000;

    fn person(id: &str, retired: bool) -> Person {
        Person {
            staff_id: id.into(),
            name: format!("Name of {id}"),
            role: PersonRole::Staff,
            badge: None,
            retired,
        }
    }

    fn location(code: &str, retired: bool) -> Location {
        Location {
            code: code.into(),
            name: code.into(),
            kind: LocationKind::Shelf,
            room: None,
            coverage: Vec::new(),
            retired,
        }
    }

    fn register() -> MemoryRegister {
        MemoryRegister::from_records(
            [
                person("alice", false),
                person("bob", false),
                person("old", true),
            ],
            [
                location("S1", false),
                location("S2", false),
                location("T1", false),
                location("GONE", true),
            ],
        )
    }

    fn in_place() -> Item {
        Item {
            barcode: "B1".into(),
            title: "Minutes 1901".into(),
            reference: "A/1".into(),
            classification: "public".into(),
            home_location: "S1".into(),
            location: "S2".into(),
            status: ItemStatus::InPlace,
            holder: None,
            due_ms: None,
            disposed_reason: None,
        }
    }

    fn out() -> Item {
        Item {
            status: ItemStatus::Out,
            holder: Some("alice".into()),
            due_ms: Some(NOW + DAY),
            ..in_place()
        }
    }

    fn disposed() -> Item {
        Item {
            status: ItemStatus::Disposed,
            disposed_reason: Some("shredded".into()),
            ..in_place()
        }
    }

    fn run(item: &Item, action: Action) -> Result<Outcome, Refusal> {
        apply(item, &action, NOW, &register())
    }

    fn check_out(to: &str) -> Action {
        Action::CheckOut {
            to: to.into(),
            due_ms: NOW + DAY,
        }
    }

    #[test]
    fn check_out_lends_from_where_the_item_is() {
        let o = run(&in_place(), check_out("bob")).expect("allowed");
        assert_eq!(o.item.status, ItemStatus::Out);
        assert_eq!(o.item.holder.as_deref(), Some("bob"));
        assert_eq!(o.item.due_ms, Some(NOW + DAY));
        assert_eq!(o.holder.as_deref(), Some("bob"));
        assert_eq!(o.location.as_deref(), Some("S2"));
    }

    #[test]
    fn check_out_refusals() {
        assert_eq!(
            run(&out(), check_out("bob")),
            Err(Refusal::AlreadyOut {
                barcode: "B1".into(),
                holder: "alice".into()
            })
        );
        assert_eq!(
            run(&in_place(), check_out("nobody")),
            Err(Refusal::UnknownPerson("nobody".into()))
        );
        assert_eq!(
            run(&in_place(), check_out("old")),
            Err(Refusal::RetiredPerson("old".into()))
        );
        let due_now = Action::CheckOut {
            to: "bob".into(),
            due_ms: NOW,
        };
        let refusal = run(&in_place(), due_now).expect_err("due must be later");
        assert_eq!(
            refusal,
            Refusal::DueInPast {
                due_ms: NOW,
                at_ms: NOW
            }
        );
        assert!(refusal.to_string().contains("2026-05-28T"));
        assert_eq!(
            run(&disposed(), check_out("bob")),
            Err(Refusal::Disposed {
                barcode: "B1".into()
            })
        );
    }

    #[test]
    fn check_in_goes_home_or_where_told() {
        let home = run(&out(), Action::CheckIn { location: None }).expect("home");
        assert_eq!(home.item.status, ItemStatus::InPlace);
        assert_eq!(home.item.location, "S1");
        assert_eq!(home.item.holder, None);
        assert_eq!(home.item.due_ms, None);
        assert_eq!(home.holder, None);
        assert_eq!(home.location.as_deref(), Some("S1"));

        let there = run(
            &out(),
            Action::CheckIn {
                location: Some("T1".into()),
            },
        )
        .expect("elsewhere");
        assert_eq!(there.item.location, "T1");
        assert_eq!(there.item.home_location, "S1");
        assert_eq!(there.location.as_deref(), Some("T1"));

        assert_eq!(
            run(&in_place(), Action::CheckIn { location: None }),
            Err(Refusal::NotOut {
                barcode: "B1".into()
            })
        );
        assert_eq!(
            run(
                &out(),
                Action::CheckIn {
                    location: Some("GONE".into())
                }
            ),
            Err(Refusal::RetiredLocation("GONE".into()))
        );
        assert_eq!(
            run(
                &out(),
                Action::CheckIn {
                    location: Some("X".into())
                }
            ),
            Err(Refusal::UnknownLocation("X".into()))
        );
    }

    #[test]
    fn transfer_changes_the_holder_only() {
        let o = run(&out(), Action::Transfer { to: "bob".into() }).expect("allowed");
        assert_eq!(o.item.holder.as_deref(), Some("bob"));
        assert_eq!(o.item.due_ms, Some(NOW + DAY));
        assert_eq!(o.holder.as_deref(), Some("bob"));
        assert_eq!(o.location, None);
        assert_eq!(
            run(&out(), Action::Transfer { to: "alice".into() }),
            Err(Refusal::SameHolder {
                barcode: "B1".into(),
                holder: "alice".into()
            })
        );
        assert_eq!(
            run(&in_place(), Action::Transfer { to: "bob".into() }),
            Err(Refusal::NotOut {
                barcode: "B1".into()
            })
        );
        assert_eq!(
            run(&out(), Action::Transfer { to: "old".into() }),
            Err(Refusal::RetiredPerson("old".into()))
        );
    }

    #[test]
    fn view_leaves_the_item_and_names_the_table() {
        let view = Action::View {
            by: "bob".into(),
            location: "T1".into(),
        };
        let o = run(&in_place(), view.clone()).expect("allowed");
        assert_eq!(o.item, in_place());
        assert_eq!(o.holder, None);
        assert_eq!(o.location.as_deref(), Some("T1"));
        assert_eq!(
            run(&out(), view),
            Err(Refusal::OutCannot {
                barcode: "B1".into(),
                action: "view"
            })
        );
        assert_eq!(
            run(
                &in_place(),
                Action::View {
                    by: "bob".into(),
                    location: "nowhere".into()
                }
            ),
            Err(Refusal::UnknownLocation("nowhere".into()))
        );
    }

    #[test]
    fn copy_in_place_or_out() {
        let here = run(&in_place(), Action::Copy { by: "bob".into() }).expect("in place");
        assert_eq!(here.item, in_place());
        assert_eq!(here.location.as_deref(), Some("S2"));
        let away = run(&out(), Action::Copy { by: "bob".into() }).expect("out");
        assert_eq!(away.item, out());
        assert_eq!(away.holder.as_deref(), Some("alice"));
        assert_eq!(away.location, None);
        assert_eq!(
            run(&disposed(), Action::Copy { by: "bob".into() }),
            Err(Refusal::Disposed {
                barcode: "B1".into()
            })
        );
        assert_eq!(
            run(&in_place(), Action::Copy { by: "eve".into() }),
            Err(Refusal::UnknownPerson("eve".into()))
        );
    }

    #[test]
    fn move_sets_a_new_home() {
        let o = run(
            &in_place(),
            Action::Move {
                to_location: "T1".into(),
            },
        )
        .expect("allowed");
        assert_eq!(o.item.home_location, "T1");
        assert_eq!(o.item.location, "T1");
        assert_eq!(o.location.as_deref(), Some("T1"));
        let refused = run(
            &out(),
            Action::Move {
                to_location: "T1".into(),
            },
        )
        .expect_err("out");
        assert_eq!(
            refused.to_string(),
            "item \"B1\" is out; check it in before a move"
        );
        assert_eq!(
            run(
                &in_place(),
                Action::Move {
                    to_location: "GONE".into()
                }
            ),
            Err(Refusal::RetiredLocation("GONE".into()))
        );
    }

    #[test]
    fn inventory_seen_records_where() {
        let seen = |code: &str| Action::InventorySeen {
            location: code.into(),
        };
        let o = run(&in_place(), seen("T1")).expect("allowed");
        assert_eq!(o.item.location, "T1");
        assert_eq!(o.item.home_location, "S1");
        assert_eq!(o.location.as_deref(), Some("T1"));
        // Seen on a retired shelf: still a fact worth recording.
        assert!(run(&in_place(), seen("GONE")).is_ok());
        assert_eq!(
            run(&in_place(), seen("X")),
            Err(Refusal::UnknownLocation("X".into()))
        );
        assert_eq!(
            run(&out(), seen("S1")),
            Err(Refusal::OutCannot {
                barcode: "B1".into(),
                action: "inventory_seen"
            })
        );
    }

    #[test]
    fn disposal_needs_a_reason_and_the_item_in_place() {
        let o = run(
            &in_place(),
            Action::Disposal {
                reason: " retention schedule 4.2 ".into(),
            },
        )
        .expect("allowed");
        assert_eq!(o.item.status, ItemStatus::Disposed);
        assert_eq!(
            o.item.disposed_reason.as_deref(),
            Some("retention schedule 4.2")
        );
        assert_eq!(o.location.as_deref(), Some("S2"));
        assert_eq!(
            run(
                &in_place(),
                Action::Disposal {
                    reason: "  ".into()
                }
            ),
            Err(Refusal::EmptyReason)
        );
        assert!(matches!(
            run(&out(), Action::Disposal { reason: "x".into() }),
            Err(Refusal::OutCannot {
                action: "disposal",
                ..
            })
        ));
        assert!(matches!(
            run(&disposed(), Action::Disposal { reason: "x".into() }),
            Err(Refusal::Disposed { .. })
        ));
    }

    #[test]
    fn no_action_applies_to_a_disposed_item() {
        let actions = [
            check_out("bob"),
            Action::CheckIn { location: None },
            Action::Transfer { to: "bob".into() },
            Action::View {
                by: "bob".into(),
                location: "T1".into(),
            },
            Action::Copy { by: "bob".into() },
            Action::Move {
                to_location: "T1".into(),
            },
            Action::InventorySeen {
                location: "S1".into(),
            },
            Action::Disposal { reason: "x".into() },
        ];
        for action in actions {
            assert_eq!(
                run(&disposed(), action.clone()),
                Err(Refusal::Disposed {
                    barcode: "B1".into()
                }),
                "{}",
                action.name()
            );
        }
    }

    #[test]
    fn actions_have_a_tagged_json_form() {
        let json = serde_json::to_value(check_out("bob")).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"action": "check_out", "to": "bob", "due_ms": NOW + DAY})
        );
        let back: Action =
            serde_json::from_str(r#"{"action":"check_in"}"#).expect("location is optional");
        assert_eq!(back, Action::CheckIn { location: None });
        let moved: Action =
            serde_json::from_str(r#"{"action":"move","to_location":"S2"}"#).expect("move");
        assert_eq!(moved.name(), "move");
    }
}
