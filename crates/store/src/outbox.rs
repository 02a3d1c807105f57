//! The notification outbox: messages queued for each destination and every
//! attempt to deliver them.

use rusqlite::{params, Row};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Context, Result, StoreError};
use crate::Store;
use crate::WriteTx;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn store() -> Store {
        Store::open_in_memory().expect("store")
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
