//! What the rules read: their cursors, and the rows after a cursor.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::custody::{custody_from_row, CUSTODY_COLUMNS};
use crate::error::{Context, Result};
use crate::Store;
use crate::{CustodyEvent, WriteTx};

/// A camera state change as the rules read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraStateRow {
    /// Row id (the rules' cursor).
    pub id: i64,
    /// Camera id.
    pub camera: String,
    /// When.
    pub at_ms: i64,
    /// `connecting`, `recording` or `offline`.
    pub state: String,
    /// Why, in plain words.
    pub detail: Option<String>,
}

impl WriteTx<'_> {
    /// Where rule `name` has read up to; `None` before its first run.
    pub fn cursor(&self, name: &str) -> Result<Option<i64>> {
        self.conn()
            .query_row(
                "SELECT last_id FROM rule_cursors WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .context(|| format!("reading rule cursor {name:?}"))
    }

    /// The highest event id (0 when there are none).
    pub fn last_event_id(&self) -> Result<i64> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
            .context(|| "reading the last event id".to_owned())
    }

    /// Moves rule `name`'s cursor to `last_id`.
    pub fn set_cursor(&mut self, name: &str, last_id: i64) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO rule_cursors (name, last_id) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id",
                params![name, last_id],
            )
            .context(|| format!("moving rule cursor {name:?}"))?;
        Ok(())
    }
}

impl Store {
    /// Every event still going on other than motion (tampering, offline).
    pub fn open_alarm_events(&self) -> Result<Vec<crate::Event>> {
        crate::events::query_events(
            &self.conn,
            "WHERE end_ms IS NULL AND kind != 'motion' ORDER BY id",
            params![],
            "listing open tamper and offline events",
        )
    }

    /// Events of `kind` with an id above `after_id`, oldest first.
    pub fn events_after(
        &self,
        kind: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<crate::Event>> {
        crate::events::query_events(
            &self.conn,
            "WHERE kind = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            params![kind, after_id, limit as i64],
            "listing new events",
        )
    }

    /// Custody events with an id above `after_id`, oldest first.
    pub fn custody_events_after(&self, after_id: i64, limit: usize) -> Result<Vec<CustodyEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CUSTODY_COLUMNS} FROM custody_events WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .context(|| "preparing the new custody events query".to_owned())?;
        let rows = stmt
            .query_map(params![after_id, limit as i64], custody_from_row)
            .context(|| "listing new custody events".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing new custody events".to_owned())
    }

    /// Camera state changes with an id above `after_id`, oldest first.
    pub fn camera_states_after(&self, after_id: i64, limit: usize) -> Result<Vec<CameraStateRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, camera, at_ms, state, detail FROM camera_states WHERE id > ?1 \
                 ORDER BY id LIMIT ?2",
            )
            .context(|| "preparing the camera states query".to_owned())?;
        let rows = stmt
            .query_map(params![after_id, limit as i64], |r| {
                Ok(CameraStateRow {
                    id: r.get(0)?,
                    camera: r.get(1)?,
                    at_ms: r.get(2)?,
                    state: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .context(|| "listing camera state changes".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing camera state changes".to_owned())
    }
}
