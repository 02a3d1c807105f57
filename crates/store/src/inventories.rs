//! Inventories: a count of a location, its scans and its report.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Context, Result, StoreError};
use crate::Store;
use crate::WriteTx;

/// An inventory of a location.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inventory {
    /// Its id.
    pub id: i64,
    /// The location counted.
    pub location: String,
    /// When and by whom it was started.
    pub started_ms: i64,
    /// User who started it.
    pub started_by: String,
    /// When it was closed, if it is.
    pub closed_ms: Option<i64>,
    /// User who closed it.
    pub closed_by: Option<String>,
    /// Barcodes scanned so far, in scan order.
    pub scanned: Vec<String>,
    /// The report written when it was closed.
    pub report: Option<Value>,
}

fn inventory_head(row: &Row<'_>) -> rusqlite::Result<Inventory> {
    let report: Option<String> = row.get(6)?;
    Ok(Inventory {
        id: row.get(0)?,
        location: row.get(1)?,
        started_ms: row.get(2)?,
        started_by: row.get(3)?,
        closed_ms: row.get(4)?,
        closed_by: row.get(5)?,
        scanned: Vec::new(),
        report: report.and_then(|r| serde_json::from_str(&r).ok()),
    })
}

fn read_inventory(conn: &rusqlite::Connection, id: i64) -> Result<Option<Inventory>> {
    let head = conn
        .query_row(
            "SELECT id, location, started_ms, started_by, closed_ms, closed_by, report \
             FROM inventories WHERE id = ?1",
            [id],
            inventory_head,
        )
        .optional()
        .context(|| format!("reading inventory {id}"))?;
    let Some(mut inv) = head else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT barcode FROM inventory_scans WHERE inventory_id = ?1 ORDER BY at_ms, rowid",
        )
        .context(|| "preparing the inventory scans query".to_owned())?;
    inv.scanned = stmt
        .query_map([id], |r| r.get(0))
        .context(|| format!("reading the scans of inventory {id}"))?
        .collect::<rusqlite::Result<_>>()
        .context(|| format!("reading the scans of inventory {id}"))?;
    Ok(Some(inv))
}

impl WriteTx<'_> {
    /// Starts an inventory of `location`; returns its id.
    pub fn start_inventory(&mut self, location: &str, by: &str, now_ms: i64) -> Result<i64> {
        self.conn()
            .execute(
                "INSERT INTO inventories (location, started_ms, started_by) VALUES (?1, ?2, ?3)",
                params![location, now_ms, by],
            )
            .context(|| format!("starting an inventory of {location:?}"))?;
        Ok(self.conn().last_insert_rowid())
    }

    /// Inventory `id` as seen inside this transaction.
    pub fn inventory(&self, id: i64) -> Result<Option<Inventory>> {
        read_inventory(self.conn(), id)
    }

    /// Records a scan; scanning the same barcode twice counts once.
    /// Returns false when it was already scanned.
    pub fn scan_inventory(
        &mut self,
        id: i64,
        barcode: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO inventory_scans (inventory_id, barcode, at_ms, by) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, barcode, now_ms, by],
            )
            .context(|| format!("recording scan {barcode:?} in inventory {id}"))?;
        Ok(n == 1)
    }

    /// Closes inventory `id` with its report.
    pub fn close_inventory(
        &mut self,
        id: i64,
        by: &str,
        now_ms: i64,
        report: &Value,
    ) -> Result<()> {
        let n = self
            .conn()
            .execute(
                "UPDATE inventories SET closed_ms = ?2, closed_by = ?3, report = ?4 \
                 WHERE id = ?1 AND closed_ms IS NULL",
                params![id, now_ms, by, report.to_string()],
            )
            .context(|| format!("closing inventory {id}"))?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "inventory {id} does not exist or is already closed"
            )));
        }
        Ok(())
    }
}

impl Store {
    /// Inventory `id` with its scans.
    pub fn inventory(&self, id: i64) -> Result<Option<Inventory>> {
        read_inventory(&self.conn, id)
    }

    /// Inventories, newest first (of `location`, if given), without scans.
    pub fn inventories(&self, location: Option<&str>, limit: usize) -> Result<Vec<Inventory>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, location, started_ms, started_by, closed_ms, closed_by, report \
                 FROM inventories WHERE (?1 IS NULL OR location = ?1) ORDER BY id DESC LIMIT ?2",
            )
            .context(|| "preparing the inventories query".to_owned())?;
        let rows = stmt
            .query_map(params![location, limit as i64], inventory_head)
            .context(|| "listing inventories".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing inventories".to_owned())
    }
}
