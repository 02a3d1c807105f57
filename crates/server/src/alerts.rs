//! Alerts: raised by the rules, acknowledged and resolved by people; every
//! change is logged and queued for each notification destination in the
//! same transaction, so none is lost across a restart.

use axum::extract::State;
use axum::Json;
use custos_ledger::catalogue::{leaf, AlertChanged, AlertRaised, AlertUpdated, LeafError};
use custos_store::{
    Alert, AlertChange, AlertQuery, AlertState, NewAlert, Role, Store, StoreError, WriteTx,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::{now_ms, SharedState};

/// Every role sees alerts (a guard watches them).
const ALERT_READERS: &[Role] = &Role::ALL;
/// Who acknowledges an alert.
const ACKNOWLEDGERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Archivist];
/// Who resolves one by hand.
const RESOLVERS: &[Role] = &[Role::Admin, Role::Auditor];

/// Name used for changes made by the rules.
pub const RULES_ACTOR: &str = "custos";

/// Longest note accepted.
const MAX_NOTE_CHARS: usize = 2000;

/// An alert's entry the log cannot hold is refused with the rows.
fn encoding(e: LeafError) -> StoreError {
    StoreError::InvalidArgument(e.to_string())
}

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
        .map_err(encoding)?,
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
    store.transaction("raising an alert", |tx| {
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
    store.transaction("updating an alert", |tx| {
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
            .map_err(encoding)?,
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
        .map_err(encoding)?,
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
    store.transaction("resolving an alert", |tx| {
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

/// Query of `GET /api/v1/alerts`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsQuery {
    state: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/alerts` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AlertList {
    alerts: Vec<Alert>,
}

/// `GET /api/v1/alerts?state=open|acknowledged|resolved|unresolved&kind=&limit=`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    extensions(("x-custos-roles" = json!(ALERT_READERS))),
    params(AlertsQuery),
    responses(
        (status = 200, description = "Alerts, newest first", body = AlertList),
        (status = 400, description = "An unknown state or a limit out of range"),
    ),
)]
pub(crate) async fn list(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> Result<Json<AlertList>, ApiError> {
    require_role(&user, ALERT_READERS)?;
    let (wanted, unresolved) = match q.state.as_deref() {
        None => (None, false),
        Some("unresolved") => (None, true),
        Some(s) => match AlertState::parse(s) {
            Some(st) => (Some(st), false),
            None => {
                return Err(ApiError::bad_request(format!(
                    "state {s:?} is not one of: open, acknowledged, resolved, unresolved"
                )))
            }
        },
    };
    let limit = q.limit.unwrap_or(200);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("limit must be from 1 to 1000"));
    }
    let query = AlertQuery {
        state: wanted,
        unresolved,
        kind: q.kind,
        limit,
    };
    let alerts = state
        .with_store("listing alerts", move |s| s.alerts(&query))
        .await?;
    Ok(Json(AlertList { alerts }))
}

/// `GET /api/v1/alerts/{id}` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AlertDetail {
    #[serde(flatten)]
    alert: Alert,
    changes: Vec<AlertChange>,
}

/// `GET /api/v1/alerts/{id}`: the alert and its history.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    extensions(("x-custos-roles" = json!(ALERT_READERS))),
    params(("id" = i64, Path, description = "The alert's id")),
    responses(
        (status = 200, description = "The alert and its changes", body = AlertDetail),
        (status = 404, description = "No such alert"),
    ),
)]
pub(crate) async fn get(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AlertDetail>, ApiError> {
    require_role(&user, ALERT_READERS)?;
    let detail = state
        .with_store("reading an alert", move |s| {
            let alert = s
                .alert(id)?
                .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
            let changes = s.alert_changes(id)?;
            Ok(AlertDetail { alert, changes })
        })
        .await?;
    Ok(Json(detail))
}

/// Body of the acknowledge and resolve requests.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    #[serde(default)]
    note: String,
}

async fn change_by_person(
    state: SharedState,
    user: custos_store::User,
    id: i64,
    to: AlertState,
    note: String,
) -> Result<Json<Alert>, ApiError> {
    let note = note.trim().to_owned();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::bad_request(format!(
            "note is longer than {MAX_NOTE_CHARS} characters"
        )));
    }
    if to == AlertState::Acknowledged && note.is_empty() {
        return Err(ApiError::bad_request("note must say what was seen or done"));
    }
    let site = state.site.clone();
    let destinations = state.alert_destinations.clone();
    let alert = state
        .with_store("changing an alert", move |s| {
            s.transaction("changing an alert", |tx| {
                let note = (!note.is_empty()).then_some(note.as_str());
                change_in(tx, id, to, &user.name, note, &site, &destinations, now_ms())
            })
        })
        .await?;
    Ok(Json(alert))
}

/// `POST /api/v1/alerts/{id}/acknowledge` `{"note"}`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/acknowledge",
    tag = "alerts",
    extensions(("x-custos-roles" = json!(ACKNOWLEDGERS))),
    params(("id" = i64, Path, description = "The alert's id")),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The alert, acknowledged; the change is logged", body = Alert),
        (status = 400, description = "No note, or one that is too long"),
        (status = 404, description = "No such alert"),
        (status = 409, description = "The alert cannot move to that state (it is resolved)"),
    ),
)]
pub(crate) async fn acknowledge(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Json<Alert>, ApiError> {
    require_role(&user, ACKNOWLEDGERS)?;
    change_by_person(state, user, id, AlertState::Acknowledged, body.note).await
}

/// `POST /api/v1/alerts/{id}/resolve` `{"note"}`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/resolve",
    tag = "alerts",
    extensions(("x-custos-roles" = json!(RESOLVERS))),
    params(("id" = i64, Path, description = "The alert's id")),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The alert, resolved; the change is logged", body = Alert),
        (status = 400, description = "A note that is too long"),
        (status = 404, description = "No such alert"),
        (status = 409, description = "The alert is already resolved"),
    ),
)]
pub(crate) async fn resolve(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Json<Alert>, ApiError> {
    require_role(&user, RESOLVERS)?;
    change_by_person(state, user, id, AlertState::Resolved, body.note).await
}
