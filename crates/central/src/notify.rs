//! The centre's notifications: every alert it raises or resolves, and
//! every site alert its mirror brings, sent to the `[[notify]]`
//! destinations of `central.toml` through the site's own delivery code
//! (`custos_notify`: signed webhooks, MQTT, e-mail).
//!
//! The outbox is a table of messages, written in the transaction that
//! raised the alert. Each destination has a cursor: the id up to which
//! every message was delivered (or failed for good). A delivery holds its
//! destination's cursor row locked, so however many centre processes run,
//! each message goes to each destination once and in order; a destination
//! that fails is retried with the site's backoff, and the messages behind
//! it wait. A destination added later starts with the messages after it
//! was added.

use std::collections::BTreeMap;
use std::time::Duration;

use custos_notify::{Destination, Message, MessageKind};
use deadpool_postgres::Pool;
use tokio_postgres::{GenericClient, Transaction};

use crate::db::begin;
use crate::{now_ms, CentralError};

/// How often the outbox is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Queues a message about site `site_id`, in the caller's transaction.
pub(crate) async fn enqueue(
    tx: &Transaction<'_>,
    site_id: i64,
    subject: &str,
    body: &serde_json::Value,
) -> Result<(), CentralError> {
    tx.execute(
        "INSERT INTO notify_messages (site, subject, body, created_ms)
         SELECT name, $2, $3, $4 FROM sites WHERE id = $1",
        &[&site_id, &subject, &body.to_string(), &now_ms()],
    )
    .await
    .map_err(CentralError::db("queueing a notification"))?;
    Ok(())
}

/// What became of one look at one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Another process holds the destination.
    Busy,
    /// Nothing to send, or waiting for the retry time.
    Idle,
    /// Message `id` was delivered.
    Delivered(i64),
    /// Message `id` failed for good and was passed over.
    Failed(i64),
    /// Message `id` failed; it is tried again later.
    Retrying(i64),
}

/// Sends the next message due to destination `name`, if any.
pub async fn deliver_next(
    pool: &Pool,
    name: &str,
    destination: &Destination,
) -> Result<Outcome, CentralError> {
    let mut client = pool.get().await?;
    // A destination seen for the first time starts after the messages
    // already queued (committed at once, whatever happens next).
    client
        .execute(
            "INSERT INTO notify_cursors (destination, delivered_id)
             SELECT $1, COALESCE(MAX(id), 0) FROM notify_messages
             ON CONFLICT (destination) DO NOTHING",
            &[&name],
        )
        .await
        .map_err(CentralError::db("adding a notification destination"))?;
    let tx = begin(&mut client).await?;
    let now = now_ms();
    let Some(cursor) = tx
        .query_opt(
            "SELECT delivered_id, attempts, next_ms FROM notify_cursors
             WHERE destination = $1 FOR UPDATE SKIP LOCKED",
            &[&name],
        )
        .await
        .map_err(CentralError::db("reading a notification cursor"))?
    else {
        return Ok(Outcome::Busy);
    };
    let (delivered_id, attempts, next_ms): (i64, i32, i64) =
        (cursor.get(0), cursor.get(1), cursor.get(2));
    if next_ms > now {
        return Ok(Outcome::Idle);
    }
    let Some(row) = tx
        .query_opt(
            "SELECT id, site, subject, body FROM notify_messages
             WHERE id > $1 ORDER BY id LIMIT 1",
            &[&delivered_id],
        )
        .await
        .map_err(CentralError::db("reading the notification outbox"))?
    else {
        return Ok(Outcome::Idle);
    };
    let id: i64 = row.get(0);
    let body: String = row.get(3);
    let message = Message {
        id,
        site: row.get(1),
        kind: MessageKind::Alert,
        subject: row.get(2),
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    };
    // The delivery blocks (it is the site's code); the row lock is held
    // meanwhile, so no other process sends the same message.
    let sending = destination.clone();
    let result = tokio::task::spawn_blocking(move || custos_notify::deliver(&sending, &message))
        .await
        .map_err(|e| CentralError::Invalid(format!("the delivery task failed: {e}")))?;
    let outcome = match result {
        Ok(_) => {
            tx.execute(
                "UPDATE notify_cursors SET delivered_id = $2, attempts = 0, next_ms = 0,
                        last_error = NULL, last_ms = $3
                 WHERE destination = $1",
                &[&name, &id, &now_ms()],
            )
            .await
            .map_err(CentralError::db("advancing a notification cursor"))?;
            Outcome::Delivered(id)
        }
        Err(e) if e.is_permanent() => {
            tracing::error!(
                destination = name,
                message = id,
                "notification failed for good: {e}"
            );
            tx.execute(
                "INSERT INTO notify_failures (destination, message_id, at_ms, error)
                 VALUES ($1, $2, $3, $4)",
                &[&name, &id, &now_ms(), &e.to_string()],
            )
            .await
            .map_err(CentralError::db("recording a failed notification"))?;
            tx.execute(
                "UPDATE notify_cursors SET delivered_id = $2, attempts = 0, next_ms = 0,
                        last_error = $3, last_ms = $4
                 WHERE destination = $1",
                &[&name, &id, &e.to_string(), &now_ms()],
            )
            .await
            .map_err(CentralError::db("advancing a notification cursor"))?;
            Outcome::Failed(id)
        }
        Err(e) => {
            let attempts = attempts.saturating_add(1);
            let delay = custos_notify::retry_delay(u32::try_from(attempts).unwrap_or(u32::MAX));
            if attempts == 1 {
                tracing::warn!(
                    destination = name,
                    message = id,
                    "notification failed, trying again: {e}"
                );
            }
            let next = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
            tx.execute(
                "UPDATE notify_cursors SET attempts = $2, next_ms = $3, last_error = $4
                 WHERE destination = $1",
                &[&name, &attempts, &next, &e.to_string()],
            )
            .await
            .map_err(CentralError::db("scheduling a notification retry"))?;
            Outcome::Retrying(id)
        }
    };
    tx.commit()
        .await
        .map_err(CentralError::db("committing a notification"))?;
    Ok(outcome)
}

/// How long a message is kept after every destination is past it.
pub const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;
/// How often delivered messages are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes the messages older than `before_ms` that every destination has
/// (delivered or failed for good); with no destination yet, every message
/// older than that (a destination added later starts after them anyway).
/// A destination removed from the configuration keeps its cursor, and
/// holds back pruning until that row is deleted. Returns how many went.
pub async fn prune(pool: &Pool, before_ms: i64) -> Result<u64, CentralError> {
    let client = pool.get().await?;
    client
        .execute(
            "DELETE FROM notify_messages
             WHERE created_ms < $1
               AND id <= COALESCE((SELECT MIN(delivered_id) FROM notify_cursors),
                                  (SELECT MAX(id) FROM notify_messages))",
            &[&before_ms],
        )
        .await
        .map_err(CentralError::db("pruning delivered notifications"))
}

/// Delivers to every destination until the process ends, each on its own
/// task so a slow or failing destination never holds up another; now and
/// then, prunes what every destination has.
pub async fn run(pool: Pool, destinations: BTreeMap<String, Destination>) {
    let mut tasks = tokio::task::JoinSet::new();
    for (name, destination) in destinations {
        tasks.spawn(serve_destination(pool.clone(), name, destination));
    }
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    loop {
        tick.tick().await;
        match prune(&pool, now_ms() - KEEP_MS).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("pruned {n} delivered notification(s)"),
            Err(e) => tracing::error!("pruning notifications: {e}"),
        }
    }
}

/// Drains destination `name` whenever it has messages, until the process
/// ends (the task is dropped with `run`).
async fn serve_destination(pool: Pool, name: String, destination: Destination) {
    loop {
        loop {
            match deliver_next(&pool, &name, &destination).await {
                Ok(Outcome::Delivered(_) | Outcome::Failed(_)) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(destination = %name, "notifications: {e}");
                    break;
                }
            }
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// One destination's state, for `custos central notifications`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DestinationState {
    /// Its name in `central.toml`.
    pub destination: String,
    /// Messages queued and not yet delivered to it.
    pub waiting: i64,
    /// Attempts at the first waiting one.
    pub attempts: i32,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// Messages that failed for good.
    pub failed: i64,
}

/// Every destination's state.
pub async fn state(pool: &Pool) -> Result<Vec<DestinationState>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .client()
        .query(
            "SELECT c.destination,
                    (SELECT COUNT(*) FROM notify_messages m WHERE m.id > c.delivered_id),
                    c.attempts, c.last_error,
                    (SELECT COUNT(*) FROM notify_failures f WHERE f.destination = c.destination)
             FROM notify_cursors c ORDER BY c.destination",
            &[],
        )
        .await
        .map_err(CentralError::db("reading the notification state"))?;
    Ok(rows
        .iter()
        .map(|r| DestinationState {
            destination: r.get(0),
            waiting: r.get(1),
            attempts: r.get(2),
            last_error: r.get(3),
            failed: r.get(4),
        })
        .collect())
}
