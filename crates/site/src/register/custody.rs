//! Recording custody actions, and the footage of each event.

use std::collections::HashMap;

use custos_custody::actions::{apply, Action, MemoryRegister};
use custos_custody::footage::{self, FootageWindow};
use custos_custody::model::{Coverage, Item, Location};
use custos_ledger::catalogue::{self, leaf};
use custos_store::{CustodyEvent, NewCustodyEvent, Store, WriteTx};
use serde::Serialize;

use super::{code, encoding, from_store, to_value, RegisterError, Result};

/// What recording a custody event produced.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// The stored event.
    pub event: CustodyEvent,
    /// The item after it.
    pub item: Item,
}

/// The cameras that see `location`: its own coverage, then its room's.
fn covering_cameras(tx: &WriteTx<'_>, location: Option<&str>) -> Result<Vec<Coverage>> {
    let Some(code) = location else {
        return Ok(Vec::new());
    };
    let Some(loc) = tx.location(code)? else {
        return Ok(Vec::new());
    };
    // Locations nest one level deep (checked when they are written), so the
    // room is the only other location to look up.
    let room = match &loc.room {
        Some(r) => tx.location(r)?,
        None => None,
    };
    Ok(footage::covering(&loc, &|c: &str| {
        room.clone().filter(|r| r.code == c)
    }))
}

/// The people and locations an action names, loaded for the rules.
fn register_for(tx: &WriteTx<'_>, item: &Item, action: &Action) -> Result<MemoryRegister> {
    let mut people = HashMap::new();
    let mut locations = HashMap::new();
    let mut staff = Vec::new();
    let mut codes = vec![item.home_location.clone(), item.location.clone()];
    match action {
        Action::CheckOut { to, .. } | Action::Transfer { to } => staff.push(to.clone()),
        Action::CheckIn { location } => codes.extend(location.clone()),
        Action::View { by, location } => {
            staff.push(by.clone());
            codes.push(location.clone());
        }
        Action::Copy { by } => staff.push(by.clone()),
        Action::Move { to_location } => codes.push(to_location.clone()),
        Action::InventorySeen { location } => codes.push(location.clone()),
        Action::Disposal { .. } => {}
    }
    for id in staff {
        if let Some(p) = tx.person(&id)? {
            people.insert(id, p);
        }
    }
    for c in codes {
        if let Some(l) = tx.location(&c)? {
            locations.insert(c, l);
        }
    }
    Ok(MemoryRegister { people, locations })
}

/// The person an action concerns, for indexing.
fn action_person(action: &Action) -> Option<&str> {
    match action {
        Action::CheckOut { to, .. } | Action::Transfer { to } => Some(to),
        Action::View { by, .. } | Action::Copy { by } => Some(by),
        _ => None,
    }
}

/// Records a custody action on item `barcode` at `at_ms` (logged with the
/// cameras covering where it happened). Refused with the rule's reason when
/// the action is impossible.
pub fn record_custody(
    store: &Store,
    by: &str,
    barcode: &str,
    action: &Action,
    at_ms: i64,
    now_ms: i64,
) -> Result<Recorded> {
    code("barcode", barcode)?;
    let result = store.write("recording a custody event", |tx| -> Result<_> {
        let item = tx
            .item(barcode)?
            .ok_or_else(|| RegisterError::NotFound(format!("item {barcode:?}")))?;
        let register = register_for(tx, &item, action)?;
        let outcome = apply(&item, action, at_ms, &register)?;
        let cameras = covering_cameras(tx, outcome.location.as_deref())?;
        let details = to_value(action);
        let id = tx.insert_custody_event(&NewCustodyEvent {
            barcode,
            action: action.name(),
            at_ms,
            recorded_by: by,
            person: action_person(action),
            holder: outcome.holder.as_deref(),
            location: outcome.location.as_deref(),
            details: &details,
            cameras: &cameras,
        })?;
        tx.update_item(&outcome.item, now_ms)?;
        tx.log(
            leaf(
                now_ms,
                &catalogue::CustodyEvent {
                    event: id,
                    barcode,
                    action: action.name(),
                    at_ms,
                    by,
                    person: action_person(action),
                    holder: outcome.holder.as_deref(),
                    location: outcome.location.as_deref(),
                    details: &details,
                    cameras: &to_value(&cameras),
                },
            )
            .map_err(encoding)?,
        );
        Ok((id, outcome.item))
    });
    match result {
        Ok((id, item)) => {
            let event = store
                .custody_event(id)?
                .ok_or_else(|| RegisterError::NotFound(format!("custody event {id}")))?;
            Ok(Recorded { event, item })
        }
        Err(e) => Err(from_store(e)),
    }
}

/// The footage windows of a custody event: for each camera that covered its
/// location, 30 s before to 30 s after, and how much of it is recorded.
pub fn footage_of(store: &Store, event: &CustodyEvent) -> Result<Vec<FootageWindow>> {
    let location = Location {
        code: event.location.clone().unwrap_or_default(),
        name: String::new(),
        kind: custos_custody::model::LocationKind::Other,
        room: None,
        coverage: event.cameras.clone(),
        retired: false,
    };
    let failure = std::cell::RefCell::new(None);
    let recorded = |camera: &str, start: i64, end: i64| -> Vec<(i64, i64)> {
        match store.segments_overlapping(camera, start, end) {
            Ok(segs) => segs.iter().map(|s| (s.start_ms, s.end_ms)).collect(),
            Err(e) => {
                failure.borrow_mut().get_or_insert(e);
                Vec::new()
            }
        }
    };
    let windows = footage::windows(event.at_ms, Some(&location), &|_| None, &recorded);
    if let Some(e) = failure.into_inner() {
        return Err(e.into());
    }
    Ok(windows)
}

/// A custody event with its footage, as reports and the API show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventWithFootage {
    /// The event.
    #[serde(flatten)]
    pub event: CustodyEvent,
    /// Its footage windows.
    pub footage: Vec<FootageWindow>,
    /// True when no camera covers its location, or (once the window has
    /// passed) none recorded it.
    pub no_footage: bool,
}

/// Adds footage windows to events; `now_ms` decides whether a window still
/// lies partly in the future (then it is not yet judged missing).
pub fn with_footage(
    store: &Store,
    events: Vec<CustodyEvent>,
    now_ms: i64,
) -> Result<Vec<EventWithFootage>> {
    events
        .into_iter()
        .map(|event| {
            let footage = footage_of(store, &event)?;
            let settled = now_ms >= event.at_ms + footage::WINDOW_AFTER_MS;
            let no_footage =
                footage.is_empty() || (settled && footage::needs_no_footage_alert(&footage));
            Ok(EventWithFootage {
                event,
                footage,
                no_footage,
            })
        })
        .collect()
}
