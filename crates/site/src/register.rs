//! Register operations shared by the API and the CLI: each change is checked
//! by the rules of `custos-custody`, written in one transaction with its log
//! entry, and refused with a reason a person can act on.

use std::collections::HashMap;

use custos_custody::actions::{
    apply, may_retire_location, may_retire_person, Action, MemoryRegister, Refusal,
};
use custos_custody::footage::{self, FootageWindow};
use custos_custody::model::{validate_code, Coverage, Item, ItemStatus, Location, Person};
use custos_ledger::catalogue::{
    self, leaf, InventoryClosed, InventoryStarted, LeafError, RegisterImport, RegisterItem,
    RegisterLocation, RegisterPerson,
};
use custos_store::{CustodyEvent, NewCustodyEvent, Store, StoreError, WriteTx};
use serde::Serialize;
use serde_json::{json, Value};

/// Why a register operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The request is malformed (a bad code, an empty title, …).
    #[error("{0}")]
    Invalid(String),
    /// The rules refuse the action (already out, retired person, …).
    #[error("{0}")]
    Refused(String),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A refusal of the custody rules, in their words.
impl From<Refusal> for RegisterError {
    fn from(e: Refusal) -> Self {
        RegisterError::Refused(e.to_string())
    }
}

/// Result of register operations.
pub type Result<T> = std::result::Result<T, RegisterError>;

/// A change whose entry the log cannot hold is refused.
fn encoding(e: LeafError) -> RegisterError {
    RegisterError::Invalid(e.to_string())
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Log entry of a location as it now stands.
pub fn location_entry(l: &Location, change: &str, by: &str, now_ms: i64) -> Result<Vec<u8>> {
    leaf(
        now_ms,
        &RegisterLocation {
            change,
            by,
            code: &l.code,
            name: &l.name,
            kind: l.kind.as_str(),
            room: l.room.as_deref(),
            coverage: &to_value(&l.coverage),
            retired: l.retired,
        },
    )
    .map_err(encoding)
}

/// Log entry of a person as they now stand.
pub fn person_entry(p: &Person, change: &str, by: &str, now_ms: i64) -> Result<Vec<u8>> {
    leaf(
        now_ms,
        &RegisterPerson {
            change,
            by,
            staff_id: &p.staff_id,
            name: &p.name,
            role: p.role.as_str(),
            badge: p.badge.as_deref(),
            retired: p.retired,
        },
    )
    .map_err(encoding)
}

/// Log entry of an item as it now stands.
pub fn item_entry(i: &Item, change: &str, by: &str, now_ms: i64) -> Result<Vec<u8>> {
    leaf(
        now_ms,
        &RegisterItem {
            change,
            by,
            barcode: &i.barcode,
            title: &i.title,
            reference: &i.reference,
            classification: &i.classification,
            home_location: &i.home_location,
            location: &i.location,
            status: i.status.as_str(),
            holder: i.holder.as_deref(),
            due_ms: i.due_ms,
            disposed_reason: i.disposed_reason.as_deref(),
        },
    )
    .map_err(encoding)
}

fn non_empty(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(RegisterError::Invalid(format!("{what} must not be empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(RegisterError::Invalid(format!(
            "{what} {value:?} contains control characters"
        )));
    }
    Ok(())
}

fn code(what: &str, value: &str) -> Result<()> {
    validate_code(what, value).map_err(|e| RegisterError::Invalid(e.to_string()))
}

/// Checks a location's fields against the register and the configured
/// cameras (`camera_exists`).
fn check_location(
    tx: &WriteTx<'_>,
    l: &Location,
    camera_exists: &dyn Fn(&str) -> bool,
) -> Result<()> {
    code("location code", &l.code)?;
    non_empty("location name", &l.name)?;
    if let Some(room) = &l.room {
        if room == &l.code {
            return Err(RegisterError::Invalid(format!(
                "location {:?} cannot be inside itself",
                l.code
            )));
        }
        match tx.location(room)? {
            None => {
                return Err(RegisterError::Invalid(format!(
                    "room {room:?} of location {:?} does not exist",
                    l.code
                )))
            }
            Some(r) if r.room.is_some() => {
                return Err(RegisterError::Invalid(format!(
                    "room {room:?} is itself inside {:?}; locations nest one level deep",
                    r.room.unwrap_or_default()
                )))
            }
            Some(_) => {}
        }
    }
    for c in &l.coverage {
        if !camera_exists(&c.camera) {
            return Err(RegisterError::Invalid(format!(
                "location {:?}: camera {:?} is not configured",
                l.code, c.camera
            )));
        }
    }
    Ok(())
}

/// Adds a location (logged).
pub fn create_location(
    store: &Store,
    by: &str,
    l: &Location,
    camera_exists: &dyn Fn(&str) -> bool,
    now_ms: i64,
) -> Result<()> {
    store
        .write("adding a location", |tx| -> Result<_> {
            check_location(tx, l, camera_exists)?;
            tx.insert_location(l, now_ms)?;
            tx.log(location_entry(l, "created", by, now_ms)?);
            Ok(())
        })
        .map_err(from_store)
}

/// Replaces a location's fields (logged). Retiring is `retired = true`.
pub fn update_location(
    store: &Store,
    by: &str,
    l: &Location,
    camera_exists: &dyn Fn(&str) -> bool,
    now_ms: i64,
) -> Result<()> {
    store
        .write("updating a location", |tx| -> Result<_> {
            if tx.location(&l.code)?.is_none() {
                return Err(RegisterError::NotFound(format!("location {:?}", l.code)));
            }
            check_location(tx, l, camera_exists)?;
            if l.retired {
                // Read in the transaction that retires it: an item put
                // there meanwhile cannot slip past the rule.
                let here = some_barcodes(
                    tx,
                    custos_store::ItemQuery {
                        location: Some(l.code.clone()),
                        ..Default::default()
                    },
                )?;
                may_retire_location(&l.code, &here)?;
            }
            tx.update_location(l, now_ms)?;
            tx.log(location_entry(l, "updated", by, now_ms)?);
            Ok(())
        })
        .map_err(from_store)
}

/// The barcodes of the first few items `query` finds, read in `tx`: enough
/// for a refusal to name what stands in the way.
fn some_barcodes(tx: &WriteTx<'_>, query: custos_store::ItemQuery) -> Result<Vec<String>> {
    let query = custos_store::ItemQuery { limit: 5, ..query };
    Ok(tx.items(&query)?.into_iter().map(|i| i.barcode).collect())
}

fn check_person(p: &Person) -> Result<()> {
    code("staff id", &p.staff_id)?;
    non_empty("name", &p.name)?;
    if let Some(badge) = &p.badge {
        code("badge", badge)?;
    }
    Ok(())
}

/// Adds a person (logged).
pub fn create_person(store: &Store, by: &str, p: &Person, now_ms: i64) -> Result<()> {
    check_person(p)?;
    store
        .write("adding a person", |tx| -> Result<_> {
            tx.insert_person(p, now_ms)?;
            tx.log(person_entry(p, "created", by, now_ms)?);
            Ok(())
        })
        .map_err(from_store)
}

/// Replaces a person's fields (logged). Retiring is `retired = true`; a
/// person holding items cannot be retired.
pub fn update_person(store: &Store, by: &str, p: &Person, now_ms: i64) -> Result<()> {
    check_person(p)?;
    store
        .write("updating a person", |tx| -> Result<_> {
            if p.retired {
                let held = some_barcodes(
                    tx,
                    custos_store::ItemQuery {
                        holder: Some(p.staff_id.clone()),
                        ..Default::default()
                    },
                )?;
                may_retire_person(&p.staff_id, &held)?;
            }
            tx.update_person(p, now_ms)?;
            tx.log(person_entry(p, "updated", by, now_ms)?);
            Ok(())
        })
        .map_err(from_store)
}

/// The descriptive fields of an item a person may edit; where it is and
/// who holds it change only through custody actions.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemEdit {
    /// New title.
    pub title: Option<String>,
    /// New reference code.
    pub reference: Option<String>,
    /// New classification.
    pub classification: Option<String>,
}

fn check_new_item(tx: &WriteTx<'_>, i: &Item) -> Result<()> {
    code("barcode", &i.barcode)?;
    non_empty("title", &i.title)?;
    for (what, loc) in [
        ("home location", &i.home_location),
        ("location", &i.location),
    ] {
        match tx.location(loc)? {
            None => {
                return Err(RegisterError::Invalid(format!(
                    "{what} {loc:?} of item {:?} does not exist",
                    i.barcode
                )))
            }
            Some(l) if l.retired => {
                return Err(RegisterError::Refused(format!(
                    "{what} {loc:?} of item {:?} is retired",
                    i.barcode
                )))
            }
            Some(_) => {}
        }
    }
    if i.status != ItemStatus::InPlace || i.holder.is_some() || i.due_ms.is_some() {
        return Err(RegisterError::Invalid(format!(
            "a new item ({:?}) starts in place; record a check-out for it after adding it",
            i.barcode
        )));
    }
    Ok(())
}

/// Adds an item, in place at its home location (logged).
pub fn create_item(store: &Store, by: &str, i: &Item, now_ms: i64) -> Result<()> {
    store
        .write("adding an item", |tx| -> Result<_> {
            check_new_item(tx, i)?;
            tx.insert_item(i, now_ms)?;
            tx.log(item_entry(i, "created", by, now_ms)?);
            Ok(())
        })
        .map_err(from_store)
}

/// Edits an item's descriptive fields (logged); returns the item.
pub fn edit_item(
    store: &Store,
    by: &str,
    barcode: &str,
    edit: &ItemEdit,
    now_ms: i64,
) -> Result<Item> {
    store
        .write("editing an item", |tx| -> Result<_> {
            let mut item = tx
                .item(barcode)?
                .ok_or_else(|| RegisterError::NotFound(format!("item {barcode:?}")))?;
            if let Some(t) = &edit.title {
                non_empty("title", t)?;
                item.title = t.clone();
            }
            if let Some(r) = &edit.reference {
                item.reference = r.clone();
            }
            if let Some(c) = &edit.classification {
                item.classification = c.clone();
            }
            tx.update_item(&item, now_ms)?;
            tx.log(item_entry(&item, "updated", by, now_ms)?);
            Ok(item)
        })
        .map_err(from_store)
}

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

/// Says a store's refusal of a register change in the register's terms (a
/// taken or missing code, a conflicting state); the register's own errors
/// pass through as they are.
fn from_store(e: impl Into<RegisterError>) -> RegisterError {
    match e.into() {
        RegisterError::Store(StoreError::InvalidArgument(m)) => RegisterError::Invalid(m),
        RegisterError::Store(StoreError::Conflict(m)) => RegisterError::Refused(m),
        RegisterError::Store(StoreError::NotFound(m)) => RegisterError::NotFound(m),
        other => other,
    }
}

/// JSON of a refusal or error for the CLI.
pub fn error_json(e: &RegisterError) -> Value {
    json!({ "error": e.to_string() })
}

/// Which register file is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    /// `locations.csv`.
    Locations,
    /// `people.csv`.
    People,
    /// `items.csv`.
    Items,
}

impl ImportKind {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Locations => "locations",
            ImportKind::People => "people",
            ImportKind::Items => "items",
        }
    }

    /// Guesses the kind from a file name (`items.csv`, `2026-people.csv`).
    pub fn from_file_name(name: &str) -> Option<ImportKind> {
        let lower = name.to_ascii_lowercase();
        [ImportKind::Locations, ImportKind::People, ImportKind::Items]
            .into_iter()
            .find(|k| lower.contains(k.as_str()))
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    /// What was imported.
    pub kind: ImportKind,
    /// Rows added.
    pub rows: usize,
    /// SHA-256 of the file, as logged.
    pub sha256: String,
}

/// Why an import added nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Rows were bad; every one is listed with its line and column.
    #[error("{} bad row(s); nothing was imported", .0.len())]
    Rows(Vec<custos_custody::csv_import::RowError>),
    /// Something else went wrong.
    #[error(transparent)]
    Register(#[from] RegisterError),
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::Register(RegisterError::Store(e))
    }
}

/// Imports a CSV file of `kind`: every row or none. Each row added is
/// logged as its own register entry, and the file as a whole as a
/// `register.import` entry with its SHA-256. `progress(done, total)` is
/// called as rows are written.
pub fn import(
    store: &Store,
    by: &str,
    kind: ImportKind,
    bytes: &[u8],
    camera_exists: &dyn Fn(&str) -> bool,
    now_ms: i64,
    progress: &mut dyn FnMut(u64, u64),
) -> std::result::Result<ImportSummary, ImportError> {
    use custos_custody::csv_import;
    use sha2::Digest;
    use std::collections::{HashMap, HashSet};

    let sha256 = hex::encode(sha2::Sha256::digest(bytes));
    let locations: HashSet<String> = store.locations()?.into_iter().map(|l| l.code).collect();
    let people = store.people()?;
    let staff: HashSet<&str> = people.iter().map(|p| p.staff_id.as_str()).collect();
    let badges: HashMap<&str, &str> = people
        .iter()
        .filter_map(|p| Some((p.badge.as_deref()?, p.staff_id.as_str())))
        .collect();
    enum Rows {
        Locations(Vec<Location>),
        People(Vec<Person>),
        Items(Vec<Item>),
    }
    let rows = match kind {
        ImportKind::Locations => {
            let parsed =
                csv_import::parse_locations(bytes, &|c: &str| locations.contains(c), &|c: &str| {
                    camera_exists(c)
                })
                .map_err(ImportError::Rows)?;
            Rows::Locations(parsed)
        }
        ImportKind::People => Rows::People(
            csv_import::parse_people(bytes, &|s: &str| staff.contains(s), &|b: &str| {
                badges.get(b).map(|s| (*s).to_owned())
            })
            .map_err(ImportError::Rows)?,
        ),
        ImportKind::Items => {
            let barcodes = store.all_barcodes()?;
            Rows::Items(
                csv_import::parse_items(
                    bytes,
                    &|c: &str| locations.contains(c),
                    &|b: &str| barcodes.contains(b),
                    &|s: &str| staff.contains(s),
                )
                .map_err(ImportError::Rows)?,
            )
        }
    };
    let total = match &rows {
        Rows::Locations(v) => v.len(),
        Rows::People(v) => v.len(),
        Rows::Items(v) => v.len(),
    };
    let step = (total / 100).max(1);
    store.write("importing the register", |tx| -> Result<_> {
        let tick = |n: usize, progress: &mut dyn FnMut(u64, u64)| {
            if n.is_multiple_of(step) || n == total {
                progress(n as u64, total as u64);
            }
        };
        match &rows {
            Rows::Locations(v) => {
                // Rooms before what they contain: a row may name a room
                // defined further down the same file.
                let mut ordered: Vec<&Location> = v.iter().filter(|l| l.room.is_none()).collect();
                ordered.extend(v.iter().filter(|l| l.room.is_some()));
                for (n, l) in ordered.into_iter().enumerate() {
                    tx.insert_location(l, now_ms)?;
                    tx.log(location_entry(l, "imported", by, now_ms)?);
                    tick(n + 1, progress);
                }
            }
            Rows::People(v) => {
                for (n, p) in v.iter().enumerate() {
                    tx.insert_person(p, now_ms)?;
                    tx.log(person_entry(p, "imported", by, now_ms)?);
                    tick(n + 1, progress);
                }
            }
            Rows::Items(v) => {
                for (n, i) in v.iter().enumerate() {
                    tx.insert_item(i, now_ms)?;
                    tx.log(item_entry(i, "imported", by, now_ms)?);
                    tick(n + 1, progress);
                }
            }
        }
        tx.log(
            leaf(
                now_ms,
                &RegisterImport {
                    by,
                    kind: kind.as_str(),
                    rows: total as u64,
                    sha256: &sha256,
                },
            )
            .map_err(encoding)?,
        );
        Ok(())
    })?;
    Ok(ImportSummary {
        kind,
        rows: total,
        sha256,
    })
}

/// Starts an inventory of `location` (logged).
pub fn start_inventory(
    store: &Store,
    by: &str,
    location: &str,
    now_ms: i64,
) -> Result<custos_store::Inventory> {
    let id = store
        .write("starting an inventory", |tx| -> Result<_> {
            match tx.location(location)? {
                None => return Err(RegisterError::NotFound(format!("location {location:?}"))),
                Some(l) if l.retired => {
                    return Err(RegisterError::Refused(format!(
                        "location {location:?} is retired"
                    )))
                }
                Some(_) => {}
            }
            let id = tx.start_inventory(location, by, now_ms)?;
            tx.log(
                leaf(
                    now_ms,
                    &InventoryStarted {
                        inventory: id,
                        location,
                        by,
                    },
                )
                .map_err(encoding)?,
            );
            Ok(id)
        })
        .map_err(from_store)?;
    store
        .inventory(id)?
        .ok_or_else(|| RegisterError::NotFound(format!("inventory {id}")))
}

/// What a scan found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScanResult {
    /// The barcode scanned.
    pub barcode: String,
    /// False when it had been scanned already in this inventory.
    pub first_scan: bool,
    /// The item as the register knows it, if it does.
    pub item: Option<Item>,
    /// The `inventory_seen` custody event recorded for it, if any (items
    /// that are out, disposed or unknown get none; the report lists them).
    pub custody_event: Option<i64>,
}

/// Records a scan in an open inventory. A known item in place is recorded
/// as seen (a custody event, logged) where it was found.
pub fn scan_inventory(
    store: &Store,
    by: &str,
    inventory: i64,
    barcode: &str,
    now_ms: i64,
) -> Result<ScanResult> {
    code("barcode", barcode)?;
    let inv = store
        .inventory(inventory)?
        .ok_or_else(|| RegisterError::NotFound(format!("inventory {inventory}")))?;
    if inv.closed_ms.is_some() {
        return Err(RegisterError::Refused(format!(
            "inventory {inventory} is closed"
        )));
    }
    let first_scan = store
        .write("recording a scan", |tx| {
            tx.scan_inventory(inventory, barcode, by, now_ms)
        })
        .map_err(from_store)?;
    let item = store.item(barcode)?;
    let mut custody_event = None;
    if let Some(i) = item
        .as_ref()
        .filter(|i| first_scan && i.status == ItemStatus::InPlace)
    {
        // Seen where the register has it when that is inside the counted
        // location (a shelf of the room); otherwise at the counted location.
        let inside = i.location == inv.location
            || store
                .location(&i.location)?
                .and_then(|l| l.room)
                .is_some_and(|room| room == inv.location);
        let seen_at = if inside {
            i.location.clone()
        } else {
            inv.location.clone()
        };
        let recorded = record_custody(
            store,
            by,
            barcode,
            &Action::InventorySeen { location: seen_at },
            now_ms,
            now_ms,
        )?;
        custody_event = Some(recorded.event.id);
    }
    Ok(ScanResult {
        barcode: barcode.to_owned(),
        first_scan,
        item: store.item(barcode)?,
        custody_event,
    })
}

/// Closes an inventory: compares what was scanned with what the register
/// expects there, stores and logs the report, and returns it.
pub fn close_inventory(
    store: &Store,
    by: &str,
    inventory: i64,
    now_ms: i64,
) -> Result<custos_custody::inventory::InventoryReport> {
    let inv = store
        .inventory(inventory)?
        .ok_or_else(|| RegisterError::NotFound(format!("inventory {inventory}")))?;
    if inv.closed_ms.is_some() {
        return Err(RegisterError::Refused(format!(
            "inventory {inventory} is already closed"
        )));
    }
    // Items seen during this inventory were moved to where they were seen;
    // what counts as expected is what the register held before it started,
    // i.e. items in place here now plus those seen here that came from
    // elsewhere (the report lists them as misplaced).
    let expected = store.items_within(&inv.location)?;
    let lookup_error = std::cell::RefCell::new(None);
    let lookup = |b: &str| match store.item(b) {
        Ok(i) => i,
        Err(e) => {
            lookup_error.borrow_mut().get_or_insert(e);
            None
        }
    };
    // "Here" is the counted location and every location inside it.
    let inside: std::collections::HashSet<String> = store
        .locations()?
        .into_iter()
        .filter(|l| l.code == inv.location || l.room.as_deref() == Some(inv.location.as_str()))
        .map(|l| l.code)
        .collect();
    let report = custos_custody::inventory::reconcile_within(
        &inv.location,
        &|code: &str| inside.contains(code),
        &expected,
        &inv.scanned,
        &lookup,
    );
    if let Some(e) = lookup_error.into_inner() {
        return Err(e.into());
    }
    let report_json = to_value(&report);
    store
        .write("closing an inventory", |tx| -> Result<_> {
            tx.close_inventory(inventory, by, now_ms, &report_json)?;
            tx.log(
                leaf(
                    now_ms,
                    &InventoryClosed {
                        inventory,
                        location: &inv.location,
                        by,
                        report: &report_json,
                    },
                )
                .map_err(encoding)?,
            );
            Ok(())
        })
        .map_err(from_store)?;
    Ok(report)
}
