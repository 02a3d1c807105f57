//! `GET /api/v1/events` and `GET /api/v1/events/{id}/snapshot.jpg`: what
//! analysis saw (motion, tampering) and when cameras were offline.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::Json;
use custos_site::data_dir::DataDir;
use custos_site::views::Seen;
use custos_store::{Event, EventQuery};
use serde::{Deserialize, Serialize};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::recordings::known_camera;
use crate::roles::EVENT_READERS;
use crate::SharedState;

/// Most events one request returns.
const MAX_LIMIT: usize = 1000;

/// Query of `GET /api/v1/events`; every field optional.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    camera: Option<String>,
    kind: Option<String>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    limit: Option<usize>,
}

pub use custos_site::analysis_events::EVENT_KINDS;

/// One event as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EventJson {
    id: i64,
    camera: String,
    kind: String,
    start_ms: i64,
    end_ms: Option<i64>,
    zones: Vec<String>,
    score: f64,
    /// Where its snapshot is, when it has one.
    snapshot: Option<String>,
}

impl From<Event> for EventJson {
    fn from(e: Event) -> Self {
        EventJson {
            snapshot: e
                .snapshot
                .as_ref()
                .map(|_| format!("/api/v1/events/{}/snapshot.jpg", e.id)),
            id: e.id,
            camera: e.camera,
            kind: e.kind,
            start_ms: e.start_ms,
            end_ms: e.end_ms,
            zones: e.zones,
            score: e.score,
        }
    }
}

/// `GET /api/v1/events` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EventList {
    events: Vec<EventJson>,
}

/// `GET /api/v1/events?camera=&kind=&start_ms=&end_ms=&limit=`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(EventsQuery),
    responses(
        (status = 200, description = "Events, newest first", body = EventList),
        (status = 400, description = "An unknown kind, a reversed window or a limit out of range"),
        (status = 404, description = "No such camera"),
    ),
)]
pub(crate) async fn list(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<EventList>, ApiError> {
    require_role(&user, EVENT_READERS)?;
    if let Some(camera) = &q.camera {
        known_camera(&state, camera)?;
    }
    if let Some(kind) = &q.kind {
        if !EVENT_KINDS.contains(&kind.as_str()) {
            return Err(ApiError::bad_request(format!(
                "kind {kind:?} is not one of: {}",
                EVENT_KINDS.join(", ")
            )));
        }
    }
    if let (Some(a), Some(b)) = (q.start_ms, q.end_ms) {
        if a >= b {
            return Err(ApiError::bad_request(format!(
                "start_ms ({a}) must be before end_ms ({b})"
            )));
        }
    }
    let limit = q.limit.unwrap_or(200);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {MAX_LIMIT}"
        )));
    }
    let query = EventQuery {
        camera: q.camera,
        kind: q.kind,
        start_ms: q.start_ms,
        end_ms: q.end_ms,
        limit,
    };
    let events = state
        .read("listing events", move |s| s.events(&query))
        .await?;
    Ok(Json(EventList {
        events: events.into_iter().map(EventJson::from).collect(),
    }))
}

/// `GET /api/v1/events/{id}/snapshot.jpg`: a frame of footage, so the view
/// is logged (`footage.viewed`, a span of the event's start) before it is
/// sent.
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}/snapshot.jpg",
    tag = "events",
    params(("id" = i64, Path, description = "The event's id")),
    responses(
        (status = 200, description = "The JPEG taken when the event started; the view is logged first",
            content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, description = "No such event, or it has no snapshot"),
    ),
)]
pub(crate) async fn snapshot(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    require_role(&user, EVENT_READERS)?;
    let event = state
        .read("reading the event", move |s| s.event(id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("event {id} not found")))?;
    crate::scope::check_footage(&state, &user, &event.camera).await?;
    let Some(rel) = event.snapshot.clone() else {
        return Err(ApiError::not_found(format!("event {id} has no snapshot")));
    };
    // The path comes from the index, which only holds relative paths it
    // validated; checked again (as for segments), because a damaged index
    // must not make this serve a file from outside the data directory.
    let Some(path) = DataDir::new(&state.data_dir).resolve(&rel) else {
        return Err(ApiError::internal(
            "locating a snapshot",
            &format!("the index holds a path outside the data directory: {rel:?}"),
        ));
    };
    let bytes = tokio::fs::read(path).await.map_err(|e| {
        tracing::error!(event = id, "reading the snapshot: {e}");
        ApiError::not_found(format!("the snapshot of event {id} is missing"))
    })?;
    let seen = Seen::EventSnapshot {
        event: id,
        start_ms: event.start_ms,
    };
    crate::video::log_view(&state, &user, &event.camera, seen).await?;
    let len = bytes.len();
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().extend([
        (CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
        (CONTENT_LENGTH, HeaderValue::from(len)),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]);
    Ok(response)
}
