//! Inventories of a location: started, scanned, closed, each logged.

use custos_custody::actions::Action;
use custos_custody::model::{Item, ItemStatus};
use custos_ledger::catalogue::{leaf, InventoryClosed, InventoryStarted};
use custos_store::Store;
use serde::Serialize;

use super::{code, encoding, from_store, record_custody, to_value, RegisterError, Result};

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
