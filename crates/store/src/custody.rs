//! Custody events, inventories, alerts and the notification outbox.

use custos_custody::model::Coverage;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Context, Result, StoreError};
use crate::Store;
use crate::WriteTx;

// ---------------------------------------------------------------- custody events

/// One recorded custody event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustodyEvent {
    /// Its id.
    pub id: i64,
    /// The item.
    pub barcode: String,
    /// `check_out`, `check_in`, `transfer`, `view`, `copy`, `move`,
    /// `inventory_seen` or `disposal`.
    pub action: String,
    /// When it happened.
    pub at_ms: i64,
    /// The user who recorded it.
    pub recorded_by: String,
    /// The person it concerns (taker, viewer, copier), if any.
    pub person: Option<String>,
    /// Who holds the item after it.
    pub holder: Option<String>,
    /// Where it happened, when known.
    pub location: Option<String>,
    /// The action as recorded.
    pub details: Value,
    /// The cameras that covered the location when it was recorded.
    pub cameras: Vec<Coverage>,
    /// Whether its footage window has been checked.
    pub footage_checked: bool,
    /// Checked and found without footage: the index's flag for the rules
    /// and the `no_footage=` filter. Answers do not show it; they show the
    /// judgement made as they are read (`no_footage` of the server's
    /// `EventWithFootage`, which covers events no camera sees), and one
    /// object must not name a key twice.
    #[serde(skip_serializing)]
    pub no_footage: bool,
}

/// A custody event to record.
#[derive(Debug, Clone)]
pub struct NewCustodyEvent<'a> {
    /// The item.
    pub barcode: &'a str,
    /// The action's name.
    pub action: &'a str,
    /// When it happened.
    pub at_ms: i64,
    /// The user recording it.
    pub recorded_by: &'a str,
    /// The person it concerns.
    pub person: Option<&'a str>,
    /// Who holds the item after it.
    pub holder: Option<&'a str>,
    /// Where it happened.
    pub location: Option<&'a str>,
    /// The action as recorded.
    pub details: &'a Value,
    /// The cameras covering `location` now.
    pub cameras: &'a [Coverage],
}

/// Which custody events to list.
#[derive(Debug, Clone, Default)]
pub struct CustodyQuery {
    /// Only this item's.
    pub barcode: Option<String>,
    /// Only those concerning or held by this person.
    pub person: Option<String>,
    /// Only those at this location.
    pub location: Option<String>,
    /// Only at or after this time.
    pub from_ms: Option<i64>,
    /// Only before this time.
    pub to_ms: Option<i64>,
    /// Only those checked and found without footage.
    pub no_footage: bool,
    /// At most this many.
    pub limit: usize,
    /// Oldest first (a chain of custody) instead of newest first.
    pub oldest_first: bool,
}

const CUSTODY_COLUMNS: &str = "id, barcode, action, at_ms, recorded_by, person, holder, location, \
                               details, cameras, footage_checked, no_footage";

fn custody_from_row(row: &Row<'_>) -> rusqlite::Result<CustodyEvent> {
    let details: String = row.get(8)?;
    let cameras: String = row.get(9)?;
    Ok(CustodyEvent {
        id: row.get(0)?,
        barcode: row.get(1)?,
        action: row.get(2)?,
        at_ms: row.get(3)?,
        recorded_by: row.get(4)?,
        person: row.get(5)?,
        holder: row.get(6)?,
        location: row.get(7)?,
        // Written only by this module from serde values.
        details: serde_json::from_str(&details).unwrap_or(Value::Null),
        cameras: serde_json::from_str(&cameras).unwrap_or_default(),
        footage_checked: row.get(10)?,
        no_footage: row.get(11)?,
    })
}

impl WriteTx<'_> {
    /// Records a custody event; returns its id.
    pub fn insert_custody_event(&mut self, e: &NewCustodyEvent<'_>) -> Result<i64> {
        let cameras = serde_json::to_string(e.cameras)
            .map_err(|err| StoreError::InvalidArgument(format!("event cameras: {err}")))?;
        let details = e.details.to_string();
        self.conn()
            .prepare_cached(
                "INSERT INTO custody_events (barcode, action, at_ms, recorded_by, person, holder, \
                 location, details, cameras) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.insert(params![
                    e.barcode,
                    e.action,
                    e.at_ms,
                    e.recorded_by,
                    e.person,
                    e.holder,
                    e.location,
                    details,
                    cameras
                ])
            })
            .context(|| format!("recording {} of item {:?}", e.action, e.barcode))
    }

    /// Marks event `id`'s footage as checked (and missing, when `no_footage`).
    pub fn set_footage_checked(&mut self, id: i64, no_footage: bool) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE custody_events SET footage_checked = 1, no_footage = ?2 WHERE id = ?1",
                params![id, no_footage],
            )
            .context(|| format!("marking the footage of custody event {id} checked"))?;
        Ok(())
    }
}

impl Store {
    /// Custody events matching `q`.
    pub fn custody_events(&self, q: &CustodyQuery) -> Result<Vec<CustodyEvent>> {
        let order = if q.oldest_first { "ASC" } else { "DESC" };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CUSTODY_COLUMNS} FROM custody_events \
                 WHERE (?1 IS NULL OR barcode = ?1) \
                   AND (?2 IS NULL OR person = ?2 OR holder = ?2) \
                   AND (?3 IS NULL OR location = ?3) \
                   AND (?4 IS NULL OR at_ms >= ?4) AND (?5 IS NULL OR at_ms < ?5) \
                   AND (?6 = 0 OR no_footage = 1) \
                 ORDER BY at_ms {order}, id {order} LIMIT ?7"
            ))
            .context(|| "preparing the custody events query".to_owned())?;
        let rows = stmt
            .query_map(
                params![
                    q.barcode,
                    q.person,
                    q.location,
                    q.from_ms,
                    q.to_ms,
                    q.no_footage,
                    q.limit as i64
                ],
                custody_from_row,
            )
            .context(|| "listing custody events".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing custody events".to_owned())
    }

    /// Custody event `id`.
    pub fn custody_event(&self, id: i64) -> Result<Option<CustodyEvent>> {
        self.conn
            .query_row(
                &format!("SELECT {CUSTODY_COLUMNS} FROM custody_events WHERE id = ?1"),
                [id],
                custody_from_row,
            )
            .optional()
            .context(|| format!("reading custody event {id}"))
    }

    /// Events whose footage has not been checked and that happened before
    /// `before_ms`, oldest first.
    pub fn unchecked_custody_events(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<CustodyEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CUSTODY_COLUMNS} FROM custody_events \
                 WHERE footage_checked = 0 AND at_ms < ?1 ORDER BY at_ms, id LIMIT ?2"
            ))
            .context(|| "preparing the unchecked custody events query".to_owned())?;
        let rows = stmt
            .query_map(params![before_ms, limit as i64], custody_from_row)
            .context(|| "listing unchecked custody events".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing unchecked custody events".to_owned())
    }
}

// ---------------------------------------------------------------- inventories

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

// ---------------------------------------------------------------- alerts

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

// ---------------------------------------------------------------- notifications

/// A notification waiting for (or past) delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Its id (receivers de-duplicate on it).
    pub id: i64,
    /// Destination name from the configuration.
    pub destination: String,
    /// `alert` or `camera_state`.
    pub kind: String,
    /// Camera, for camera states.
    pub camera: Option<String>,
    /// One line.
    pub subject: String,
    /// The JSON delivered.
    pub body: Value,
    /// When it was queued.
    pub created_ms: i64,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_ms: i64,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_ms: Option<i64>,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    /// When.
    pub at_ms: i64,
    /// Whether it was delivered.
    pub ok: bool,
    /// The receiver's answer or the error.
    pub detail: String,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    /// Delivered; the receiver's answer.
    Delivered(String),
    /// Failed; try again at `retry_at_ms`.
    Retry {
        /// The error.
        error: String,
        /// When to try again.
        retry_at_ms: i64,
    },
    /// Failed for good (the destination refuses it).
    Failed(String),
}

const NOTIFICATION_COLUMNS: &str =
    "id, destination, kind, camera, subject, body, created_ms, state, \
                                    attempts, next_attempt_ms, last_error, delivered_ms";

fn notification_from_row(row: &Row<'_>) -> rusqlite::Result<Notification> {
    let body: String = row.get(5)?;
    Ok(Notification {
        id: row.get(0)?,
        destination: row.get(1)?,
        kind: row.get(2)?,
        camera: row.get(3)?,
        subject: row.get(4)?,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        created_ms: row.get(6)?,
        state: row.get(7)?,
        attempts: row.get(8)?,
        next_attempt_ms: row.get(9)?,
        last_error: row.get(10)?,
        delivered_ms: row.get(11)?,
    })
}

impl WriteTx<'_> {
    /// Queues a notification for `destination`, due now.
    pub fn enqueue_notification(
        &mut self,
        destination: &str,
        kind: &str,
        camera: Option<&str>,
        subject: &str,
        body: &Value,
        now_ms: i64,
    ) -> Result<i64> {
        self.conn()
            .execute(
                "INSERT INTO notifications (destination, kind, camera, subject, body, created_ms, \
                 state, next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?6)",
                params![destination, kind, camera, subject, body.to_string(), now_ms],
            )
            .context(|| format!("queueing a notification for {destination:?}"))?;
        Ok(self.conn().last_insert_rowid())
    }
}

impl Store {
    /// Pending notifications due at `now_ms`, oldest first.
    pub fn due_notifications(&self, now_ms: i64, limit: usize) -> Result<Vec<Notification>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications \
                 WHERE state = 'pending' AND next_attempt_ms <= ?1 ORDER BY id LIMIT ?2"
            ))
            .context(|| "preparing the due notifications query".to_owned())?;
        let rows = stmt
            .query_map(params![now_ms, limit as i64], notification_from_row)
            .context(|| "listing due notifications".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing due notifications".to_owned())
    }

    /// The earliest next attempt of any pending notification.
    pub fn next_notification_due(&self) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT MIN(next_attempt_ms) FROM notifications WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .context(|| "reading the next notification time".to_owned())
    }

    /// Records an attempt to deliver notification `id`.
    pub fn record_delivery_attempt(
        &self,
        id: i64,
        now_ms: i64,
        outcome: &AttemptOutcome,
    ) -> Result<()> {
        self.write("recording a delivery attempt", |tx| {
            let (ok, detail) = match outcome {
                AttemptOutcome::Delivered(d) => (true, d.as_str()),
                AttemptOutcome::Retry { error, .. } | AttemptOutcome::Failed(error) => {
                    (false, error.as_str())
                }
            };
            tx.conn()
                .execute(
                    "INSERT INTO notification_attempts (notification_id, at_ms, ok, detail) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, now_ms, ok, detail],
                )
                .context(|| format!("recording an attempt on notification {id}"))?;
            let n = match outcome {
                AttemptOutcome::Delivered(_) => tx.conn().execute(
                    "UPDATE notifications SET state = 'delivered', attempts = attempts + 1, \
                     delivered_ms = ?2, last_error = NULL WHERE id = ?1",
                    params![id, now_ms],
                ),
                AttemptOutcome::Retry { error, retry_at_ms } => tx.conn().execute(
                    "UPDATE notifications SET attempts = attempts + 1, last_error = ?2, \
                     next_attempt_ms = ?3 WHERE id = ?1",
                    params![id, error, retry_at_ms],
                ),
                AttemptOutcome::Failed(error) => tx.conn().execute(
                    "UPDATE notifications SET state = 'failed', attempts = attempts + 1, \
                     last_error = ?2 WHERE id = ?1",
                    params![id, error],
                ),
            }
            .context(|| format!("updating notification {id}"))?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("notification {id}")));
            }
            Ok(())
        })
    }

    /// Notifications, newest first (in `state`, if given).
    pub fn notifications(&self, state: Option<&str>, limit: usize) -> Result<Vec<Notification>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications \
                 WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2"
            ))
            .context(|| "preparing the notifications query".to_owned())?;
        let rows = stmt
            .query_map(params![state, limit as i64], notification_from_row)
            .context(|| "listing notifications".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing notifications".to_owned())
    }

    /// The attempts on notification `id`, oldest first.
    pub fn delivery_attempts(&self, id: i64) -> Result<Vec<DeliveryAttempt>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at_ms, ok, detail FROM notification_attempts WHERE notification_id = ?1 \
                 ORDER BY at_ms, rowid",
            )
            .context(|| "preparing the delivery attempts query".to_owned())?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(DeliveryAttempt {
                    at_ms: r.get(0)?,
                    ok: r.get(1)?,
                    detail: r.get(2)?,
                })
            })
            .context(|| format!("reading the attempts on notification {id}"))?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| format!("reading the attempts on notification {id}"))
    }
}

// ---------------------------------------------------------------- rule inputs

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

#[cfg(test)]
mod tests {
    use custos_custody::model::{Item, ItemStatus, Location, LocationKind};
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
    fn a_failed_transaction_writes_nothing_not_even_its_log_entries() {
        let s = store();
        let res: Result<()> = s.write("t", |tx| {
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
            )?;
            tx.log(b"{}".to_vec());
            Err(StoreError::Conflict("refused".into()))
        });
        assert!(res.is_err());
        assert!(s.locations().expect("list").is_empty());
        assert!(s.outbox(10).expect("outbox").is_empty());
        // An item needs an existing location.
        let err = s
            .write("t", |tx| {
                tx.insert_item(
                    &Item {
                        barcode: "B1".into(),
                        title: "t".into(),
                        reference: String::new(),
                        classification: String::new(),
                        home_location: "NOWHERE".into(),
                        location: "NOWHERE".into(),
                        status: ItemStatus::InPlace,
                        holder: None,
                        due_ms: None,
                        disposed_reason: None,
                    },
                    1,
                )
            })
            .expect_err("foreign key");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
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

    #[test]
    fn notifications_keep_every_attempt_and_retry_when_told() {
        let s = store();
        let id = s
            .write("t", |tx| {
                tx.enqueue_notification("hook", "alert", None, "subject", &json!({"a": 1}), 100)
            })
            .expect("queue");
        assert_eq!(s.due_notifications(100, 10).expect("due").len(), 1);
        s.record_delivery_attempt(
            id,
            101,
            &AttemptOutcome::Retry {
                error: "connection refused".into(),
                retry_at_ms: 5000,
            },
        )
        .expect("attempt");
        assert!(s.due_notifications(4999, 10).expect("due").is_empty());
        assert_eq!(s.next_notification_due().expect("next"), Some(5000));
        s.record_delivery_attempt(id, 5001, &AttemptOutcome::Delivered("HTTP 200".into()))
            .expect("attempt");
        assert!(s.due_notifications(i64::MAX, 10).expect("due").is_empty());
        let n = &s.notifications(None, 10).expect("list")[0];
        assert_eq!((n.state.as_str(), n.attempts), ("delivered", 2));
        let attempts = s.delivery_attempts(id).expect("attempts");
        assert_eq!(
            attempts.iter().map(|a| a.ok).collect::<Vec<_>>(),
            [false, true]
        );
    }
}
