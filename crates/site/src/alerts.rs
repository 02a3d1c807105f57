//! Alerts: raised by the rules, acknowledged and resolved by people; every
//! change is logged and queued for each notification destination in the
//! same transaction, so none is lost across a restart.

use custos_ledger::catalogue::{leaf, AlertChanged, AlertRaised, AlertUpdated};
use custos_store::{Alert, AlertState, NewAlert, Store, StoreError, WriteTx};
use serde_json::{json, Value};

/// Name used for changes made by the rules.
pub const RULES_ACTOR: &str = "custos";

/// The JSON an alert is announced with.
pub fn alert_message(alert: &Alert, site: &str) -> Value {
    json!({
        "site": site,
        "id": alert.id,
        "kind": alert.kind,
        "state": alert.state,
        "summary": alert.summary,
        "camera": alert.camera,
        "barcode": alert.barcode,
        "details": alert.details,
        "raised_ms": alert.raised_ms,
        "updated_ms": alert.updated_ms,
    })
}

/// Queues `alert` for every destination in `destinations`.
fn queue(
    tx: &mut WriteTx<'_>,
    alert: &Alert,
    site: &str,
    destinations: &[String],
    now_ms: i64,
) -> Result<(), StoreError> {
    let subject = format!("{} ({})", alert.summary, alert.state.as_str());
    let body = alert_message(alert, site);
    for d in destinations {
        tx.enqueue_notification(d, "alert", alert.camera.as_deref(), &subject, &body, now_ms)?;
    }
    Ok(())
}

/// Raises `new` unless an unresolved alert about the same thing stands;
/// logs it and queues it for `destinations`. Returns the new alert.
pub fn raise_in(
    tx: &mut WriteTx<'_>,
    new: &NewAlert<'_>,
    site: &str,
    destinations: &[String],
    now_ms: i64,
) -> Result<Option<Alert>, StoreError> {
    let Some(alert) = tx.raise_alert(new, now_ms)? else {
        return Ok(None);
    };
    tx.log(
        leaf(
            now_ms,
            &AlertRaised {
                alert: alert.id,
                kind: &alert.kind,
                subject: &alert.subject_key,
                summary: &alert.summary,
                camera: alert.camera.as_deref(),
                barcode: alert.barcode.as_deref(),
                details: &alert.details,
            },
        )
        .map_err(crate::unloggable)?,
    );
    queue(tx, &alert, site, destinations, now_ms)?;
    Ok(Some(alert))
}

/// [`raise_in`] in a transaction of its own.
pub fn raise(
    store: &Store,
    new: &NewAlert<'_>,
    site: &str,
    destinations: &[String],
    now_ms: i64,
) -> Result<Option<Alert>, StoreError> {
    store.write("raising an alert", |tx| {
        raise_in(tx, new, site, destinations, now_ms)
    })
}

/// Brings the facts of the unresolved alert of `kind` about `subject_key`
/// up to date (logged as `alert.updated`), when they changed; returns the
/// alert when it did.
pub fn update_facts(
    store: &Store,
    kind: &str,
    subject_key: &str,
    summary: &str,
    details: &serde_json::Value,
    now_ms: i64,
) -> Result<Option<Alert>, StoreError> {
    store.write("updating an alert", |tx| {
        let Some(alert) = tx.unresolved_alert(kind, subject_key)? else {
            return Ok(None);
        };
        if alert.summary == summary && &alert.details == details {
            return Ok(None);
        }
        let alert = tx.update_alert_facts(alert.id, summary, details, now_ms)?;
        tx.log(
            leaf(
                now_ms,
                &AlertUpdated {
                    alert: alert.id,
                    kind: &alert.kind,
                    summary: &alert.summary,
                    details: &alert.details,
                },
            )
            .map_err(crate::unloggable)?,
        );
        Ok(Some(alert))
    })
}

/// Moves alert `id` to `state` (logged, and announced).
#[allow(clippy::too_many_arguments)]
pub fn change_in(
    tx: &mut WriteTx<'_>,
    id: i64,
    state: AlertState,
    by: &str,
    note: Option<&str>,
    site: &str,
    destinations: &[String],
    now_ms: i64,
) -> Result<Alert, StoreError> {
    let alert = tx.set_alert_state(id, state, by, note, now_ms)?;
    tx.log(
        leaf(
            now_ms,
            &AlertChanged {
                alert: id,
                kind: &alert.kind,
                state: state.as_str(),
                by,
                note,
            },
        )
        .map_err(crate::unloggable)?,
    );
    queue(tx, &alert, site, destinations, now_ms)?;
    Ok(alert)
}

/// Resolves the unresolved alert of `kind` about `subject_key`, if there
/// is one (the condition has ended). Returns it.
pub fn resolve_condition(
    store: &Store,
    kind: &str,
    subject_key: &str,
    note: &str,
    site: &str,
    destinations: &[String],
    now_ms: i64,
) -> Result<Option<Alert>, StoreError> {
    store.write("resolving an alert", |tx| {
        let Some(alert) = tx.unresolved_alert(kind, subject_key)? else {
            return Ok(None);
        };
        change_in(
            tx,
            alert.id,
            AlertState::Resolved,
            RULES_ACTOR,
            Some(note),
            site,
            destinations,
            now_ms,
        )
        .map(Some)
    })
}
