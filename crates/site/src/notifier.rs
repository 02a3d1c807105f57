//! Delivers the notification outbox: one thread takes due notifications
//! from the index, delivers each with `custos-notify`, and records every
//! attempt. A failure is retried with backoff; a destination that refuses
//! for good (bad credentials, 4xx) marks it failed. Nothing is lost across a
//! restart: the outbox is in the index.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use custos_notify::{Destination, Message, MessageKind};
use custos_store::{AttemptOutcome, Notification, Store};

use crate::clock::now_ms;

/// How often the outbox is looked at when nothing is due sooner.
const POLL: Duration = Duration::from_millis(500);
/// Most notifications taken per look.
const BATCH: usize = 50;

fn message(site: &str, n: &Notification) -> Message {
    Message {
        id: n.id,
        site: site.to_owned(),
        kind: match (&n.kind[..], &n.camera) {
            ("camera_state", Some(camera)) => MessageKind::CameraState {
                camera: camera.clone(),
            },
            _ => MessageKind::Alert,
        },
        subject: n.subject.clone(),
        body: n.body.clone(),
    }
}

/// Delivers due notifications until `stop` is set.
pub fn run(
    db_path: PathBuf,
    site: String,
    destinations: HashMap<String, Destination>,
    stop: Arc<AtomicBool>,
) {
    let store = match Store::open(&db_path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("notifications: opening the index: {e}");
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let due = match store.due_notifications(now_ms(), BATCH) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("notifications: reading the outbox: {e}");
                std::thread::sleep(POLL * 4);
                continue;
            }
        };
        if due.is_empty() {
            std::thread::sleep(POLL);
            continue;
        }
        for n in due {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let outcome = match destinations.get(&n.destination) {
                None => AttemptOutcome::Failed(format!(
                    "destination {:?} is no longer configured",
                    n.destination
                )),
                Some(dest) => match custos_notify::deliver(dest, &message(&site, &n)) {
                    Ok(d) => {
                        tracing::debug!(id = n.id, destination = %n.destination, "notification delivered: {}", d.detail);
                        AttemptOutcome::Delivered(d.detail)
                    }
                    Err(e) if e.is_permanent() => {
                        tracing::warn!(id = n.id, destination = %n.destination, "notification refused for good: {e}");
                        AttemptOutcome::Failed(e.to_string())
                    }
                    Err(e) => {
                        let delay = custos_notify::retry_delay(n.attempts + 1);
                        tracing::info!(id = n.id, destination = %n.destination, "notification not delivered, retrying in {} s: {e}", delay.as_secs());
                        AttemptOutcome::Retry {
                            error: e.to_string(),
                            retry_at_ms: now_ms()
                                + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
                        }
                    }
                },
            };
            if let Err(e) = store.record_delivery_attempt(n.id, now_ms(), &outcome) {
                tracing::error!(id = n.id, "notifications: recording an attempt: {e}");
            }
        }
    }
}
