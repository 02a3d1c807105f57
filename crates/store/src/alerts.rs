//! Alerts and their changes.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Context, Result, StoreError};
use crate::Store;
use crate::WriteTx;

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Raised, nobody has looked at it.
    Open,
    /// Somebody has seen it (with a note).
    Acknowledged,
    /// Over: the condition ended, or somebody closed it.
    Resolved,
}

impl AlertState {
    /// Its name in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<AlertState> {
        match s {
            "open" => Some(AlertState::Open),
            "acknowledged" => Some(AlertState::Acknowledged),
            "resolved" => Some(AlertState::Resolved),
            _ => None,
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    /// Its id.
    pub id: i64,
    /// Its kind, e.g. `item.overdue`.
    pub kind: String,
    /// What it is about (one unresolved alert per kind and subject).
    pub subject_key: String,
    /// One line.
    pub summary: String,
    /// Camera concerned, if any.
    pub camera: Option<String>,
    /// Item concerned, if any.
    pub barcode: Option<String>,
    /// The facts that raised it.
    pub details: Value,
    /// Current state.
    pub state: AlertState,
    /// When it was raised.
    pub raised_ms: i64,
    /// When its state last changed.
    pub updated_ms: i64,
}

/// An alert to raise.
#[derive(Debug, Clone)]
pub struct NewAlert<'a> {
    /// Its kind.
    pub kind: &'a str,
    /// What it is about.
    pub subject_key: &'a str,
    /// One line.
    pub summary: &'a str,
    /// Camera concerned.
    pub camera: Option<&'a str>,
    /// Item concerned.
    pub barcode: Option<&'a str>,
    /// The facts.
    pub details: &'a Value,
}

/// A change of an alert's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertChange {
    /// When.
    pub at_ms: i64,
    /// The state it moved to.
    pub state: AlertState,
    /// Who (a user, or `custos`).
    pub by: String,
    /// Their note.
    pub note: Option<String>,
}

const ALERT_COLUMNS: &str =
    "id, kind, subject_key, summary, camera, barcode, details, state, raised_ms, updated_ms";

// A state this build does not know fails the read, as an unknown camera
// state does, rather than being taken for `open`.
impl FromSql for AlertState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        AlertState::parse(text).ok_or_else(|| {
            FromSqlError::Other(
                format!("unknown alert state {text:?} (expected open, acknowledged or resolved)")
                    .into(),
            )
        })
    }
}

fn alert_from_row(row: &Row<'_>) -> rusqlite::Result<Alert> {
    let details: String = row.get(6)?;
    Ok(Alert {
        id: row.get(0)?,
        kind: row.get(1)?,
        subject_key: row.get(2)?,
        summary: row.get(3)?,
        camera: row.get(4)?,
        barcode: row.get(5)?,
        details: serde_json::from_str(&details).unwrap_or(Value::Null),
        state: row.get(7)?,
        raised_ms: row.get(8)?,
        updated_ms: row.get(9)?,
    })
}

fn read_alert(conn: &rusqlite::Connection, id: i64) -> Result<Option<Alert>> {
    conn.query_row(
        &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"),
        [id],
        alert_from_row,
    )
    .optional()
    .context(|| format!("reading alert {id}"))
}

impl WriteTx<'_> {
    /// The unresolved alert of `kind` about `subject_key`, if any.
    pub fn unresolved_alert(&self, kind: &str, subject_key: &str) -> Result<Option<Alert>> {
        self.conn()
            .query_row(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts \
                     WHERE kind = ?1 AND subject_key = ?2 AND state != 'resolved'"
                ),
                params![kind, subject_key],
                alert_from_row,
            )
            .optional()
            .context(|| format!("looking for an unresolved {kind} alert"))
    }

    /// Raises an alert unless one about the same thing is unresolved;
    /// returns the new alert, or `None` when one already stands.
    pub fn raise_alert(&mut self, a: &NewAlert<'_>, now_ms: i64) -> Result<Option<Alert>> {
        if self.unresolved_alert(a.kind, a.subject_key)?.is_some() {
            return Ok(None);
        }
        self.conn()
            .execute(
                "INSERT INTO alerts (kind, subject_key, summary, camera, barcode, details, state, \
                 raised_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?7)",
                params![
                    a.kind,
                    a.subject_key,
                    a.summary,
                    a.camera,
                    a.barcode,
                    a.details.to_string(),
                    now_ms
                ],
            )
            .context(|| format!("raising a {} alert", a.kind))?;
        let id = self.conn().last_insert_rowid();
        self.conn()
            .execute(
                "INSERT INTO alert_changes (alert_id, at_ms, state, by) VALUES (?1, ?2, 'open', 'custos')",
                params![id, now_ms],
            )
            .context(|| format!("recording the opening of alert {id}"))?;
        read_alert(self.conn(), id)
    }

    /// Replaces the summary and details of unresolved alert `id` with what
    /// is true now (a disk fuller than when the alert was raised); its state
    /// and history stay. Returns the alert as it now stands.
    pub fn update_alert_facts(
        &mut self,
        id: i64,
        summary: &str,
        details: &serde_json::Value,
        now_ms: i64,
    ) -> Result<Alert> {
        let changed = self
            .conn()
            .execute(
                "UPDATE alerts SET summary = ?2, details = ?3, updated_ms = ?4 \
                 WHERE id = ?1 AND state != 'resolved'",
                params![id, summary, details.to_string(), now_ms],
            )
            .context(|| format!("updating alert {id}"))?;
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "alert {id} is resolved or does not exist; it was not updated"
            )));
        }
        read_alert(self.conn(), id)?.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))
    }

    /// Moves alert `id` to `state`: open → acknowledged → resolved (or open
    /// → resolved). `Conflict` for any other move.
    pub fn set_alert_state(
        &mut self,
        id: i64,
        state: AlertState,
        by: &str,
        note: Option<&str>,
        now_ms: i64,
    ) -> Result<Alert> {
        let alert = read_alert(self.conn(), id)?
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
        let allowed = matches!(
            (alert.state, state),
            (AlertState::Open, AlertState::Acknowledged)
                | (AlertState::Open, AlertState::Resolved)
                | (AlertState::Acknowledged, AlertState::Resolved)
        );
        if !allowed {
            return Err(StoreError::Conflict(format!(
                "alert {id} is {} and cannot become {}",
                alert.state.as_str(),
                state.as_str()
            )));
        }
        self.conn()
            .execute(
                "UPDATE alerts SET state = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, state.as_str(), now_ms],
            )
            .context(|| format!("changing the state of alert {id}"))?;
        self.conn()
            .execute(
                "INSERT INTO alert_changes (alert_id, at_ms, state, by, note) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, now_ms, state.as_str(), by, note],
            )
            .context(|| format!("recording the change of alert {id}"))?;
        read_alert(self.conn(), id)?.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))
    }
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Only in this state.
    pub state: Option<AlertState>,
    /// Only unresolved ones (open or acknowledged).
    pub unresolved: bool,
    /// Only of this kind.
    pub kind: Option<String>,
    /// At most this many, newest first.
    pub limit: usize,
}

impl Store {
    /// Alert `id`.
    pub fn alert(&self, id: i64) -> Result<Option<Alert>> {
        read_alert(&self.conn, id)
    }

    /// Alerts matching `q`, newest first.
    pub fn alerts(&self, q: &AlertQuery) -> Result<Vec<Alert>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts \
                 WHERE (?1 IS NULL OR state = ?1) AND (?2 = 0 OR state != 'resolved') \
                   AND (?3 IS NULL OR kind = ?3) \
                 ORDER BY raised_ms DESC, id DESC LIMIT ?4"
            ))
            .context(|| "preparing the alerts query".to_owned())?;
        let rows = stmt
            .query_map(
                params![
                    q.state.map(AlertState::as_str),
                    q.unresolved,
                    q.kind,
                    q.limit as i64
                ],
                alert_from_row,
            )
            .context(|| "listing alerts".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing alerts".to_owned())
    }

    /// The state changes of alert `id`, oldest first.
    pub fn alert_changes(&self, id: i64) -> Result<Vec<AlertChange>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at_ms, state, by, note FROM alert_changes WHERE alert_id = ?1 \
                 ORDER BY at_ms, rowid",
            )
            .context(|| "preparing the alert changes query".to_owned())?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(AlertChange {
                    at_ms: r.get(0)?,
                    state: r.get(1)?,
                    by: r.get(2)?,
                    note: r.get(3)?,
                })
            })
            .context(|| format!("reading the changes of alert {id}"))?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| format!("reading the changes of alert {id}"))
    }
}

#[cfg(test)]
mod tests {
    use custos_custody::model::{Location, LocationKind};
    use serde_json::json;

    use super::*;
    use crate::ErrorKind;

    fn store() -> Store {
        Store::open_in_memory().expect("store")
    }

    fn alert<'a>(key: &'a str, details: &'a Value) -> NewAlert<'a> {
        NewAlert {
            kind: "item.overdue",
            subject_key: key,
            summary: "overdue",
            camera: None,
            barcode: Some("B1"),
            details,
        }
    }

    #[test]
    fn one_unresolved_alert_per_condition_and_only_forward_moves() {
        let s = store();
        let d = json!({});
        let a = s
            .write("t", |tx| tx.raise_alert(&alert("item:B1", &d), 10))
            .expect("raise")
            .expect("new");
        let again = s
            .write("t", |tx| tx.raise_alert(&alert("item:B1", &d), 11))
            .expect("raise");
        assert!(again.is_none(), "a second alert for a standing condition");
        let err = s
            .write("t", |tx| {
                tx.set_alert_state(a.id, AlertState::Open, "u", None, 12)
            })
            .expect_err("open → open");
        assert_eq!(err.kind(), ErrorKind::Conflict);
        s.write("t", |tx| {
            tx.set_alert_state(a.id, AlertState::Acknowledged, "u", Some("seen"), 13)
        })
        .expect("ack");
        s.write("t", |tx| {
            tx.set_alert_state(a.id, AlertState::Resolved, "u", None, 14)
        })
        .expect("resolve");
        let err = s
            .write("t", |tx| {
                tx.set_alert_state(a.id, AlertState::Acknowledged, "u", None, 15)
            })
            .expect_err("resolved is final");
        assert_eq!(err.kind(), ErrorKind::Conflict);
        let states: Vec<AlertState> = s
            .alert_changes(a.id)
            .expect("changes")
            .iter()
            .map(|c| c.state)
            .collect();
        assert_eq!(
            states,
            [
                AlertState::Open,
                AlertState::Acknowledged,
                AlertState::Resolved
            ]
        );
        // Resolved, the condition may be raised again.
        let b = s
            .write("t", |tx| tx.raise_alert(&alert("item:B1", &d), 20))
            .expect("raise");
        assert!(b.is_some());
    }

    #[test]
    fn values_this_build_does_not_know_fail_the_read_instead_of_defaulting() {
        let s = store();
        let d = json!({});
        let a = s
            .write("t", |tx| tx.raise_alert(&alert("item:B1", &d), 10))
            .expect("raise")
            .expect("new");
        s.write("t", |tx| {
            tx.insert_location(
                &Location {
                    code: "R1".into(),
                    name: "Room".into(),
                    kind: LocationKind::Room,
                    room: None,
                    coverage: vec![],
                    retired: false,
                },
                1,
            )
        })
        .expect("room");
        s.conn
            .execute_batch(&format!(
                "UPDATE alerts SET state = 'snoozed' WHERE id = {}; \
                 UPDATE locations SET kind = 'attic' WHERE code = 'R1';",
                a.id
            ))
            .expect("edit by hand");
        let err = s.alert(a.id).expect_err("unknown state");
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(err.to_string().contains("snoozed"), "{err}");
        let err = s.location("R1").expect_err("unknown kind");
        assert!(err.to_string().contains("attic"), "{err}");
        assert!(s.locations().is_err());
    }
}
