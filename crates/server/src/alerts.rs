//! The alerts API: alerts are listed, acknowledged and resolved here; what
//! a change does is [`custos_site::alerts`]'s.

use axum::extract::State;
use axum::Json;
use custos_site::alerts::change_in;
use custos_store::{Alert, AlertChange, AlertQuery, AlertState, StoreError};
use serde::{Deserialize, Serialize};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::roles::{ACKNOWLEDGERS, ALERT_READERS, RESOLVERS};
use crate::{now_ms, SharedState};

/// Longest note accepted.
const MAX_NOTE_CHARS: usize = 2000;

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
        .read("listing alerts", move |s| s.alerts(&query))
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
        .read("reading an alert", move |s| {
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
        .write("changing an alert", move |s| {
            s.write("changing an alert", |tx| {
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
