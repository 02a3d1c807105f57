//! Register operations shared by the API and the CLI: each change is checked
//! by the rules of `custos-custody`, written in one transaction with its log
//! entry, and refused with a reason a person can act on.

use custos_custody::actions::{may_retire_location, may_retire_person, Refusal};
use custos_custody::model::{validate_code, Item, ItemStatus, Location, Person};
use custos_ledger::catalogue::{leaf, LeafError, RegisterItem, RegisterLocation, RegisterPerson};
use custos_store::{Store, StoreError, WriteTx};
use serde::Serialize;
use serde_json::{json, Value};

mod custody;
mod import;
mod inventory;

pub use custody::*;
pub use import::*;
pub use inventory::*;

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
