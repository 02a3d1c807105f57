//! `GET /api/v1/cameras/{id}/snapshot.jpg`: the camera's newest key frame as
//! a small JPEG, for the dashboard's live thumbnails.
//!
//! The picture is decoded from the key frame the recorder last published
//! to the [`LiveHub`](crate::live::LiveHub) (no second connection to the
//! camera) and cached until a newer key frame arrives, so many dashboards
//! cost one decode per key frame. A thumbnail is live footage, so viewing
//! it is logged, but a dashboard refreshes its thumbnails every few
//! seconds: one `footage.viewed` entry (`live`, `thumbnail`) is written per
//! user and camera per
//! [`VIEW_LOG_INTERVAL_MS`](custos_site::thumbnails::VIEW_LOG_INTERVAL_MS),
//! and stands for the views of that user in the interval after it. The
//! decoding, the cache and that interval are [`custos_site::thumbnails`]'s.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::Response;
use custos_site::thumbnails::{
    cached_thumbnail, encode_thumbnail, keep_thumbnail, view_not_logged, view_to_log,
};
use custos_site::views::Seen;
use custos_store::User;

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiPath};
use crate::recordings::known_camera;
use crate::roles::THUMBNAIL_VIEWERS;
use crate::SharedState;

/// `GET /api/v1/cameras/{id}/snapshot.jpg`.
#[utoipa::path(
    get,
    path = "/api/v1/cameras/{id}/snapshot.jpg",
    tag = "cameras",
    params(("id" = String, Path, description = "Camera id from the configuration")),
    responses(
        (status = 200, description = "A JPEG thumbnail of the camera's newest key frame; views are logged \
            once per user and camera every 5 minutes", content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, description = "No such camera, or it has sent no picture yet"),
    ),
)]
pub(crate) async fn snapshot(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(camera): ApiPath<String>,
) -> Result<Response, ApiError> {
    require_role(&user, THUMBNAIL_VIEWERS)?;
    known_camera(&state, &camera)?;
    crate::scope::check_footage(&state, &user, &camera).await?;
    let key = state
        .live
        .latest_key_frame(&camera, KEY_FRAME_WAIT)
        .await
        .ok_or_else(|| ApiError::not_found(format!("camera {camera:?} has sent no picture yet")))?;
    let received_ms = key.received_ms;
    let jpeg = match cached_thumbnail(&state.live, &camera, received_ms) {
        Some(jpeg) => jpeg,
        None => {
            let jpeg = tokio::task::spawn_blocking(move || encode_thumbnail(&key))
                .await
                .map_err(|e| ApiError::internal("decoding the thumbnail", &e))?
                .map_err(|e| {
                    ApiError::internal("decoding the camera's key frame for a thumbnail", &e)
                })?;
            keep_thumbnail(&state.live, &camera, received_ms, jpeg.clone());
            jpeg
        }
    };
    log_view(&state, &user, &camera, received_ms).await?;
    let len = jpeg.len();
    let mut response = Response::new(Body::from(jpeg));
    response.headers_mut().extend([
        (CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
        (CONTENT_LENGTH, HeaderValue::from(len)),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]);
    response.headers_mut().insert(
        "x-custos-frame-ms",
        HeaderValue::from_str(&received_ms.to_string())
            .map_err(|e| ApiError::internal("writing the frame time", &e))?,
    );
    Ok(response)
}

/// How long a thumbnail request waits for a key frame when the camera kept
/// none (it keeps them only while thumbnails are asked for): a camera's GOP
/// is seldom longer.
const KEY_FRAME_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Logs the view unless this user's views of this camera were logged in
/// the last [`VIEW_LOG_INTERVAL_MS`](custos_site::thumbnails::VIEW_LOG_INTERVAL_MS).
async fn log_view(
    state: &SharedState,
    user: &User,
    camera: &str,
    frame_ms: i64,
) -> Result<(), ApiError> {
    let now = crate::now_ms();
    if !view_to_log(&state.live, &user.name, camera, now) {
        return Ok(());
    }
    let logged = crate::video::log_view(state, user, camera, Seen::Thumbnail { frame_ms }).await;
    if logged.is_err() {
        // Not logged, so the next request must try again.
        view_not_logged(&state.live, &user.name, camera);
    }
    logged
}
