//! Camera status and the index of what was recorded.

use axum::extract::State;
use axum::Json;
use custos_site::coverage::{gaps, Gap};
use custos_store::{CameraSummary, Segment, SegmentState};
use serde::{Deserialize, Serialize};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::roles::CAMERA_READERS;
use crate::{now_ms, SharedState};
use custos_site::cameras::CameraStatus;

/// Window of a recordings query when the client gives none.
const DEFAULT_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Longest window a recordings query may cover, which bounds the size of
/// the answer.
pub(crate) const MAX_RECORDINGS_WINDOW_MS: i64 = 31 * 24 * 60 * 60 * 1000;

/// `GET /api/v1/cameras` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CameraList {
    cameras: Vec<CameraStatus>,
}

/// `GET /api/v1/cameras`: live status of every configured camera.
#[utoipa::path(
    get,
    path = "/api/v1/cameras",
    tag = "cameras",
    responses((status = 200, description = "Every configured camera's live status", body = CameraList)),
)]
pub(crate) async fn list_cameras(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<CameraList>, ApiError> {
    require_role(&user, CAMERA_READERS)?;
    Ok(Json(CameraList {
        cameras: state.cameras.list(),
    }))
}

/// `GET /api/v1/cameras/{id}` body: the live status plus index totals.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CameraDetail {
    #[serde(flatten)]
    status: CameraStatus,
    recorded: CameraSummary,
}

/// `GET /api/v1/cameras/{id}`: one camera's status and what is recorded.
#[utoipa::path(
    get,
    path = "/api/v1/cameras/{id}",
    tag = "cameras",
    params(("id" = String, Path, description = "Camera id from the configuration")),
    responses(
        (status = 200, description = "The camera's live status and recording totals", body = CameraDetail),
        (status = 404, description = "No such camera"),
    ),
)]
pub(crate) async fn camera(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CameraDetail>, ApiError> {
    require_role(&user, CAMERA_READERS)?;
    let status = known_camera(&state, &id)?;
    let recorded = state
        .read("summarising the camera's recordings", move |store| {
            store.camera_summary(&id)
        })
        .await?;
    Ok(Json(CameraDetail { status, recorded }))
}

/// The registry status of camera `id`, or 404. The registry (the
/// configuration), not the index, decides which cameras exist, so an id
/// that merely has old rows is not served.
pub(crate) fn known_camera(state: &SharedState, id: &str) -> Result<CameraStatus, ApiError> {
    state
        .cameras
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("camera {id:?} not found")))
}

/// Query of `GET .../recordings`; both bounds optional.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct WindowQuery {
    start_ms: Option<i64>,
    end_ms: Option<i64>,
}

/// One segment as the API shows it (without its file path, which is an
/// internal detail of the data directory).
#[derive(Serialize, Debug, PartialEq, Eq, utoipa::ToSchema)]
pub(crate) struct SegmentJson {
    id: i64,
    start_ms: i64,
    end_ms: i64,
    bytes: u64,
    frames: u64,
    sha256: Option<String>,
    state: SegmentState,
    codec: String,
    width: Option<u32>,
    height: Option<u32>,
    recovered: bool,
    hold: bool,
    /// Its copy in the escrow bucket: `null` when escrow does not want it
    /// (or the site does not escrow).
    escrow: Option<crate::escrow::SegmentEscrowJson>,
}

impl From<Segment> for SegmentJson {
    fn from(s: Segment) -> Self {
        SegmentJson {
            id: s.id,
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            bytes: s.bytes,
            frames: s.frames,
            sha256: s.sha256,
            state: s.state,
            codec: s.codec,
            width: s.width,
            height: s.height,
            recovered: s.recovered,
            hold: s.hold,
            escrow: None,
        }
    }
}

/// `GET .../recordings` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Recordings {
    camera: String,
    start_ms: i64,
    end_ms: i64,
    segments: Vec<SegmentJson>,
    gaps: Vec<Gap>,
}

/// `GET /api/v1/cameras/{id}/recordings`: the segments overlapping a window
/// and the gaps between them.
#[utoipa::path(
    get,
    path = "/api/v1/cameras/{id}/recordings",
    tag = "cameras",
    params(("id" = String, Path, description = "Camera id from the configuration"), WindowQuery),
    responses(
        (status = 200, description = "Segments and gaps in the window", body = Recordings),
        (status = 400, description = "The window is empty, reversed or longer than 31 days"),
        (status = 404, description = "No such camera"),
    ),
)]
pub(crate) async fn recordings(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<WindowQuery>,
) -> Result<Json<Recordings>, ApiError> {
    require_role(&user, CAMERA_READERS)?;
    known_camera(&state, &id)?;
    let end_ms = query.end_ms.unwrap_or_else(now_ms);
    let start_ms = query
        .start_ms
        .unwrap_or_else(|| end_ms.saturating_sub(DEFAULT_WINDOW_MS));
    check_window(start_ms, end_ms, MAX_RECORDINGS_WINDOW_MS, "31 days")?;
    let camera = id.clone();
    let escrow = state.escrow.clone();
    let (segments, mut escrowed) = state
        .read("listing recorded segments", move |store| {
            let segments = store.segments_overlapping(&camera, start_ms, end_ms)?;
            let ids: Vec<i64> = segments.iter().map(|s| s.id).collect();
            let escrowed = crate::escrow::segment_states(store, escrow.as_ref(), &ids)?;
            Ok::<_, custos_store::StoreError>((segments, escrowed))
        })
        .await?;
    let gaps = gaps(&segments, start_ms, end_ms);
    Ok(Json(Recordings {
        camera: id,
        start_ms,
        end_ms,
        segments: segments
            .into_iter()
            .map(|s| {
                let escrow = escrowed.remove(&s.id);
                SegmentJson {
                    escrow,
                    ..SegmentJson::from(s)
                }
            })
            .collect(),
        gaps,
    }))
}

/// Rejects a window that is empty, backwards or longer than `max_ms`
/// (`max_text` says the same in words).
pub(crate) fn check_window(
    start_ms: i64,
    end_ms: i64,
    max_ms: i64,
    max_text: &str,
) -> Result<(), ApiError> {
    if start_ms >= end_ms {
        return Err(ApiError::bad_request(format!(
            "start_ms ({start_ms}) must be before end_ms ({end_ms})"
        )));
    }
    // Checked: both bounds come from the client and may be near i64's ends.
    if end_ms
        .checked_sub(start_ms)
        .is_none_or(|span| span > max_ms)
    {
        return Err(ApiError::bad_request(format!(
            "the span from start_ms ({start_ms}) to end_ms ({end_ms}) is longer than {max_text}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert!(check_window(0, 1, 10, "10 ms").is_ok());
        assert!(check_window(0, 10, 10, "10 ms").is_ok());
        assert!(check_window(0, 11, 10, "10 ms").is_err());
        assert!(check_window(5, 5, 10, "10 ms").is_err());
        assert!(check_window(i64::MIN, i64::MAX, 10, "10 ms").is_err());
    }
}
