//! Live view: each camera's frames as fragmented MP4 over a WebSocket, for
//! Media Source Extensions in the browser.
//!
//! The recorder publishes every frame to a [`LiveHub`] (a short queue per
//! viewer; publishing never waits). A viewer gets one text
//! message `{"codec","width","height"}`, then the init segment, then one
//! fragment per frame starting at a key frame (an MJPEG camera's viewer
//! gets each picture as a JPEG instead, which browsers show natively). A frame is sent when the
//! next one arrives (its duration is known then), so the added delay is
//! one frame interval. Frames arrive in decode order with decode times
//! (B-frames included); each fragment carries the frame's composition
//! offset, so the browser presents pictures in the camera's order. A viewer too slow for its queue loses frames and
//! skips ahead to the next key frame instead of falling further behind.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use custos_media::fmp4::{fragment_header, init_segment, SampleInfo};
use custos_media::segment::{composition_offset, Frame};
pub use custos_site::live::{KeyFrame, LiveHub, LiveItem, LiveReceiver, VIEWER_QUEUE_FRAMES};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiPath};
use crate::recordings::known_camera;
use crate::roles::LIVE_VIEWERS;
use crate::SharedState;

/// `GET /api/v1/cameras/{id}/live` (WebSocket): the camera live, as fMP4.
/// Every role may watch; the view is logged before anything is sent.
#[utoipa::path(
    get,
    path = "/api/v1/cameras/{id}/live",
    tag = "cameras",
    params(("id" = String, Path, description = "Camera id from the configuration")),
    responses(
        (status = 101, description = "WebSocket: a JSON text message `{codec, width, height}`, then an fMP4 \
            initialisation segment and one fragment per frame as binary messages; the view is logged first"),
        (status = 400, description = "Not a WebSocket handshake (missing or wrong `Connection`, `Upgrade`, \
            `Sec-WebSocket-Key` or `Sec-WebSocket-Version` header)"),
        (status = 404, description = "No such camera"),
        (status = 405, description = "Not a GET request"),
        (status = 426, description = "The connection cannot be upgraded (HTTP/2, or not a real connection)"),
    ),
)]
pub(crate) async fn live(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(camera): ApiPath<String>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    require_role(&user, LIVE_VIEWERS)?;
    known_camera(&state, &camera)?;
    crate::scope::check_footage(&state, &user, &camera).await?;
    // A request that is not a WebSocket handshake gets a JSON error like
    // every other (axum's own answer is plain text).
    let ws = ws.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let now = crate::now_ms();
    crate::video::audit_live_view(&state, &user, &camera, now).await?;
    let hub = Arc::clone(&state.live);
    Ok(ws.on_upgrade(move |socket| stream(socket, hub, camera)))
}

/// Builds the fragment of one frame.
fn fragment(
    sequence: u32,
    decode_time: u64,
    duration: u32,
    frame: &Frame,
    wall_ms: i64,
) -> Vec<u8> {
    let info = SampleInfo {
        duration,
        size: u32::try_from(frame.data.len()).unwrap_or(u32::MAX),
        is_key: frame.is_key,
        composition_offset: composition_offset(frame),
    };
    let mut out = fragment_header(sequence, decode_time, wall_ms, &[info]);
    out.extend_from_slice(&frame.data);
    out
}

async fn stream(mut socket: WebSocket, hub: Arc<LiveHub>, camera: String) {
    let (mut params, mut rx) = hub.subscribe(&camera);
    // Waiting for parameters: the camera may not be connected yet.
    while params.is_none() {
        match rx.recv().await {
            Some(LiveItem::Params(p)) => params = Some(p),
            Some(LiveItem::Frame(_) | LiveItem::Skipped) => {}
            None => return,
        }
    }
    let Some(p) = params else { return };
    // Browsers play H.264 (and sometimes H.265) through Media Source; no
    // browser plays MJPEG in MP4, but every one shows a JPEG: an MJPEG
    // camera's pictures go out as they are, one JPEG per message.
    let jpeg = p.codec == custos_media::params::VideoCodec::Mjpeg;
    let header = serde_json::json!({
        "codec": p.rfc6381, "width": p.width, "height": p.height,
        "format": if jpeg { "jpeg" } else { "fmp4" },
    });
    if socket
        .send(Message::Text(header.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    if jpeg {
        stream_jpeg(socket, rx, camera).await;
        return;
    }
    if socket
        .send(Message::Binary(init_segment(&p, crate::now_ms()).into()))
        .await
        .is_err()
    {
        return;
    }
    let mut held: Option<Frame> = None;
    let mut first_dts: Option<i64> = None;
    let mut sequence: u32 = 1;
    loop {
        let item = tokio::select! {
            r = rx.recv() => r,
            // A closed socket ends the stream even while the camera is quiet.
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
        };
        let frame = match item {
            Some(LiveItem::Frame(f)) => f,
            Some(LiveItem::Params(_)) => {
                // A new stream needs a new decoder configuration: the
                // client reconnects and gets the new init segment.
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            Some(LiveItem::Skipped) => {
                tracing::debug!(camera = %camera, "live viewer fell behind; skipping to the next key frame");
                held = None;
                continue;
            }
            None => return,
        };
        if held.is_none() && !frame.is_key {
            continue;
        }
        if let Some(prev) = held.take() {
            // Decode times carry the stream (B-frames are presented at
            // their composition offset from them, in the fragment).
            let start = *first_dts.get_or_insert(prev.dts);
            let duration = u32::try_from((frame.dts - prev.dts).clamp(1, 90_000)).unwrap_or(3000);
            let decode_time = u64::try_from(prev.dts - start).unwrap_or(0);
            let bytes = fragment(sequence, decode_time, duration, &prev, crate::now_ms());
            sequence = sequence.wrapping_add(1);
            if socket.send(Message::Binary(bytes.into())).await.is_err() {
                return;
            }
        }
        held = Some(frame);
    }
}

/// An MJPEG camera's pictures, each a JPEG as the camera sent it; a viewer
/// too slow for its queue simply gets a later picture.
async fn stream_jpeg(mut socket: WebSocket, mut rx: LiveReceiver, camera: String) {
    loop {
        let item = tokio::select! {
            r = rx.recv() => r,
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
        };
        match item {
            Some(LiveItem::Frame(f)) => {
                if socket.send(Message::Binary(f.data.clone())).await.is_err() {
                    return;
                }
            }
            Some(LiveItem::Params(_)) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            Some(LiveItem::Skipped) => {
                tracing::debug!(camera = %camera, "live viewer fell behind");
            }
            None => return,
        }
    }
}
