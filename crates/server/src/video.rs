//! `GET /api/v1/cameras/{id}/video.mp4`: one MP4 of a recorded span,
//! streamed from the segment files.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use custos_media::span::{plan_span, SpanError, SpanPlan, SpanReader, SpanSource};
use custos_site::coverage::span_segments;
use custos_site::data_dir::DataDir;
use custos_site::views::{footage_viewed, Seen};
use custos_store::User;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::recordings::{check_window, known_camera};
use crate::roles::FOOTAGE_VIEWERS;
use crate::{AppState, SharedState};

/// Longest span one request may export: bounds how long one download holds
/// a blocking thread and how large the answer is.
pub(crate) const MAX_VIDEO_SPAN_MS: i64 = 6 * 60 * 60 * 1000;

/// Largest chunk read from the segment files at a time.
const CHUNK_BYTES: usize = 256 * 1024;

/// Chunks read ahead of the client. Small, so a slow client holds little
/// memory; the reader thread simply waits for it.
const READ_AHEAD_CHUNKS: usize = 4;

/// Wall-clock start of the first fragment included.
const X_START_MS: HeaderName = HeaderName::from_static("x-custos-start-ms");
/// Wall-clock end of the last fragment included.
const X_END_MS: HeaderName = HeaderName::from_static("x-custos-end-ms");
/// Present when the export ends early because the codec parameters changed.
const X_STOPPED: HeaderName = HeaderName::from_static("x-custos-stopped-at-parameter-change");

/// Query of `video.mp4`: both bounds required.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpanQuery {
    start_ms: i64,
    end_ms: i64,
    /// Sent as a file to save (`Content-Disposition: attachment`) rather
    /// than to play; the log entry says so.
    #[serde(default)]
    download: bool,
}

/// Records that `user` was sent the footage of `camera` from `start_ms` to
/// `end_ms`, to play or (`download`) to save.
///
/// Every path that hands out recorded video must call this before sending a
/// byte: the view goes into the site's log (through the index's outbox), so
/// who saw what can be answered later and cannot be quietly erased. If the
/// view cannot be logged, the video is not served.
pub async fn audit_view(
    state: &AppState,
    user: &User,
    camera: &str,
    start_ms: i64,
    end_ms: i64,
    download: bool,
) -> Result<(), ApiError> {
    let seen = Seen::Recorded {
        start_ms,
        end_ms,
        download,
    };
    log_view(state, user, camera, seen).await
}

/// `GET /api/v1/cameras/{id}/video.mp4?start_ms=&end_ms=`.
#[utoipa::path(
    get,
    path = "/api/v1/cameras/{id}/video.mp4",
    tag = "cameras",
    params(("id" = String, Path, description = "Camera id from the configuration"), SpanQuery),
    responses(
        (status = 200, description = "The span as one MP4 file, streamed; the view is logged first \
            (HEAD answers the same headers without logging)",
            content_type = "video/mp4", body = Vec<u8>,
            headers(
                ("x-custos-start-ms" = i64, description = "Wall-clock ms of the first frame in the file"),
                ("x-custos-end-ms" = i64, description = "Wall-clock ms where the file ends"),
                ("x-custos-stopped-at-parameter-change" = String,
                    description = "`true` when the file stops early because the stream's parameters changed"),
            )),
        (status = 400, description = "The span is empty, reversed or longer than 6 hours"),
        (status = 404, description = "No such camera, or nothing recorded in the span"),
    ),
)]
pub(crate) async fn video(
    method: axum::http::Method,
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(camera): ApiPath<String>,
    ApiQuery(query): ApiQuery<SpanQuery>,
) -> Result<Response, ApiError> {
    require_role(&user, FOOTAGE_VIEWERS)?;
    let SpanQuery {
        start_ms,
        end_ms,
        download,
    } = query;
    check_window(start_ms, end_ms, MAX_VIDEO_SPAN_MS, "6 hours")?;
    known_camera(&state, &camera)?;
    crate::scope::check_footage(&state, &user, &camera).await?;

    let name = camera.clone();
    let segments = state
        .read("finding the segments of the span", move |store| {
            span_segments(store, &name, start_ms, end_ms)
        })
        .await?;
    let mut sources = Vec::with_capacity(segments.len());
    for s in segments {
        sources.push(SpanSource {
            path: segment_path(&state.data_dir, &s.path)?,
            start_ms: s.start_ms,
        });
    }
    let plan = tokio::task::spawn_blocking(move || plan_span(&sources, start_ms, end_ms))
        .await
        .map_err(|e| ApiError::internal("planning the video export", &e))?
        .map_err(|e| match e {
            SpanError::Empty { .. } => ApiError::not_found(format!(
                "nothing was recorded by camera {camera:?} between {start_ms} and {end_ms}"
            )),
            other => ApiError::internal("reading the recorded segments", &other),
        })?;

    // A HEAD request (a player finding where the file starts) shows no
    // footage, so it is not a view; every GET is.
    let head_only = method == axum::http::Method::HEAD;
    if !head_only {
        audit_view(
            &state,
            &user,
            &camera,
            plan.first_ms,
            plan.last_ms,
            download,
        )
        .await?;
    }
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("video/mp4")),
        (CONTENT_LENGTH, HeaderValue::from(plan.len())),
        (X_START_MS, HeaderValue::from(plan.first_ms)),
        (X_END_MS, HeaderValue::from(plan.last_ms)),
        (
            CONTENT_DISPOSITION,
            content_disposition(&camera, start_ms, download)?,
        ),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    let stopped = plan.stopped_at_parameter_change;
    let mut response = if head_only {
        Response::new(axum::body::Body::empty())
    } else {
        Response::new(stream_plan(plan, camera))
    };
    response.headers_mut().extend(headers);
    if stopped {
        response
            .headers_mut()
            .insert(X_STOPPED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The absolute path of a segment whose index path is `relative`.
///
/// The store only accepts relative paths without `.` or `..` parts; this
/// checks again because serving a file outside the data directory would be
/// far worse than refusing one request.
fn segment_path(data_dir: &Path, relative: &str) -> Result<PathBuf, ApiError> {
    DataDir::new(data_dir).resolve(relative).ok_or_else(|| {
        ApiError::internal(
            "locating a segment file",
            &format!("the index holds a path outside the data directory: {relative:?}"),
        )
    })
}

/// `inline; filename="<camera>-<start_ms>.mp4"`, with every character but
/// ASCII letters, digits, `-`, `_` and `.` in the camera id replaced by `_`
/// so the header cannot be broken by quotes or non-ASCII names.
fn content_disposition(
    camera: &str,
    start_ms: i64,
    download: bool,
) -> Result<HeaderValue, ApiError> {
    let safe: String = camera
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let kind = if download { "attachment" } else { "inline" };
    HeaderValue::from_str(&format!("{kind}; filename=\"{safe}-{start_ms}.mp4\""))
        .map_err(|e| ApiError::internal("naming the download", &e))
}

/// The export as a response body: a blocking thread reads chunks and hands
/// them over through a small channel, so file reads never run on the async
/// workers and a slow client slows the reader instead of filling memory.
fn stream_plan(plan: SpanPlan, camera: String) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(READ_AHEAD_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let expected = plan.len();
        // The headers are already sent, so a failure can only abort the body
        // (the client sees fewer bytes than Content-Length). A panic in the
        // reader is caught for the same reason: otherwise the body would just
        // end, and only the byte count would tell the client it is cut short.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| send_chunks(plan, &tx)));
        let failure = match outcome {
            Ok(Ok(Some(sent))) if sent == expected => None,
            Ok(Ok(Some(sent))) => Some(format!("produced {sent} bytes, planned {expected}")),
            // The client went away; nothing to report.
            Ok(Ok(None)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("the span reader panicked".to_owned()),
        };
        if let Some(failure) = failure {
            tracing::error!(camera = %camera, "video export failed mid-stream: {failure}");
            // Ignored: if the client is gone there is no one to tell.
            let _ = tx.blocking_send(Err(std::io::Error::other("video export failed")));
        }
    });
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// Reads `plan` and sends its chunks to `tx`. Returns the number of bytes
/// sent, or `None` when the receiver (the client) went away first.
fn send_chunks(
    plan: SpanPlan,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<Option<u64>, SpanError> {
    let mut reader = SpanReader::new(plan, CHUNK_BYTES);
    let mut sent = 0u64;
    while let Some(chunk) = reader.next_chunk()? {
        sent += chunk.len() as u64;
        if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
            return Ok(None);
        }
    }
    Ok(Some(sent))
}

/// Logs the start of a live view of `camera` by `user` (`footage.viewed`
/// with `live: true`, its span starting now); if it cannot be logged, the
/// view does not start.
pub async fn audit_live_view(
    state: &AppState,
    user: &User,
    camera: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let (user, camera) = (user.clone(), camera.to_owned());
    let what = "recording the live view in the log";
    state
        .write_as(what, move |store| {
            footage_viewed(store, &user, &camera, Seen::Live, now_ms)
                .map_err(|e| ApiError::not_logged(what, e))
        })
        .await
}

/// Logs `user`'s view of `camera` (see [`custos_site::views`]) before a
/// picture is sent.
pub(crate) async fn log_view(
    state: &AppState,
    user: &User,
    camera: &str,
    seen: Seen,
) -> Result<(), ApiError> {
    let (user, camera) = (user.clone(), camera.to_owned());
    let what = "recording the view in the log";
    state
        .write_as(what, move |store| {
            footage_viewed(store, &user, &camera, seen, crate::now_ms())
                .map_err(|e| ApiError::not_logged(what, e))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_paths_stay_inside_the_data_directory() {
        let dir = Path::new("/data");
        assert_eq!(
            segment_path(dir, "video/cam/1.mp4").ok(),
            Some(PathBuf::from("/data/video/cam/1.mp4"))
        );
        for bad in ["", "/etc/passwd", "video/../../x", "./x"] {
            assert!(segment_path(dir, bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn download_names_are_header_safe() {
        let value = content_disposition("front \"door\"\r\nX: é", 12, false);
        assert_eq!(
            value.ok().as_ref().map(|v| v.as_bytes()),
            Some(&b"inline; filename=\"front__door___X___-12.mp4\""[..])
        );
        let value = content_disposition("door", 12, true);
        assert_eq!(
            value.ok().as_ref().map(|v| v.as_bytes()),
            Some(&b"attachment; filename=\"door-12.mp4\""[..])
        );
    }
}
