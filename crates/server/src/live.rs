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
//!
//! Each message goes out as WebSocket frames of at most [`WIRE_FRAME_BYTES`]
//! (a client receives whole messages all the same). Sent as one frame, a
//! message is first copied whole into the connection's write buffer, which
//! keeps its largest size for as long as the viewer watches: twice a key
//! frame, 0.8 MB per viewer of a 1080p camera.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use custos_media::fmp4::{fragment_header, init_segment, SampleInfo};
use custos_media::segment::{composition_offset, Frame};
pub use custos_site::live::{KeyFrame, LiveHub, LiveItem, LiveReceiver, VIEWER_QUEUE_FRAMES};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WireFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

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
    // Before `ws`, which takes the connection's upgrade for itself.
    upgrade: RawUpgrade,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    require_role(&user, LIVE_VIEWERS)?;
    known_camera(&state, &camera)?;
    crate::scope::check_footage(&state, &user, &camera).await?;
    // axum's extractor checks the handshake; a request that is not one gets
    // a JSON error like every other (axum's own answer is plain text).
    // Its socket is not used: it would send each message as one frame.
    drop(ws.map_err(|r| ApiError::new(r.status(), r.body_text()))?);
    let on_upgrade = upgrade.on_upgrade.ok_or_else(|| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded to a WebSocket",
        )
    })?;
    let now = crate::now_ms();
    crate::video::audit_live_view(&state, &user, &camera, now).await?;
    let hub = Arc::clone(&state.live);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(camera = %camera, error = %e, "live view: the upgrade failed");
                return;
            }
        };
        // Viewers send nothing but control frames: a small read buffer.
        // Wire frames are written out once they make up a wire frame's
        // worth: the buffer holds at most two.
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(WIRE_FRAME_BYTES);
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        stream(socket, hub, camera).await;
    });
    // HTTP/1.1 (a key was checked above); over HTTP/2 (RFC 8441) the
    // answer to the extended CONNECT is a plain 200.
    let response = match upgrade.key {
        Some(key) => Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, HeaderValue::from_static("upgrade"))
            .header(header::UPGRADE, HeaderValue::from_static("websocket"))
            .header(
                header::SEC_WEBSOCKET_ACCEPT,
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
            )
            .body(Body::empty()),
        None => Response::builder().body(Body::empty()),
    };
    response.map_err(|e| ApiError::internal("answering the live view's WebSocket handshake", &e))
}

/// The connection's upgrade and the client's `Sec-WebSocket-Key`, taken
/// before axum's [`WebSocketUpgrade`] checks the handshake (and keeps its
/// own handle on the upgrade, which it never uses here).
pub(crate) struct RawUpgrade {
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    key: Option<HeaderValue>,
}

impl<S: Send + Sync> FromRequestParts<S> for RawUpgrade {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RawUpgrade {
            on_upgrade: parts.extensions.get::<hyper::upgrade::OnUpgrade>().cloned(),
            key: parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned(),
        })
    }
}

/// The largest WebSocket frame sent; a viewer's write buffer holds at most two.
pub const WIRE_FRAME_BYTES: usize = 64 * 1024;

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Sends one binary message made of `parts`, in wire frames of at most
/// [`WIRE_FRAME_BYTES`] (the parts share the bytes they were given: a
/// camera's frame is not copied here), and flushes it. A small message
/// (the header and a camera's frame) goes out in one write.
async fn send_binary(
    socket: &mut Socket,
    parts: &[Bytes],
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let pieces: Vec<Bytes> = parts
        .iter()
        .flat_map(|part| {
            (0..part.len())
                .step_by(WIRE_FRAME_BYTES)
                .map(move |at| part.slice(at..part.len().min(at + WIRE_FRAME_BYTES)))
        })
        .collect();
    if pieces.is_empty() {
        return socket.send(Message::Binary(Bytes::new())).await;
    }
    let last = pieces.len() - 1;
    for (i, piece) in pieces.into_iter().enumerate() {
        let opcode = if i == 0 { Data::Binary } else { Data::Continue };
        socket
            .feed(Message::Frame(WireFrame::message(
                piece,
                OpCode::Data(opcode),
                i == last,
            )))
            .await?;
    }
    socket.flush().await
}

/// The header (`prft`, `moof`, `mdat` header) of the fragment of one
/// frame, whose bytes follow it.
fn fragment_head(
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
    fragment_header(sequence, decode_time, wall_ms, &[info])
}

async fn stream(mut socket: Socket, hub: Arc<LiveHub>, camera: String) {
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
        .send(Message::text(header.to_string()))
        .await
        .is_err()
    {
        return;
    }
    if jpeg {
        stream_jpeg(socket, rx, camera).await;
        return;
    }
    if send_binary(
        &mut socket,
        &[Bytes::from(init_segment(&p, crate::now_ms()))],
    )
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
            m = socket.next() => match m {
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
            let head = fragment_head(sequence, decode_time, duration, &prev, crate::now_ms());
            sequence = sequence.wrapping_add(1);
            if send_binary(&mut socket, &[Bytes::from(head), prev.data.clone()])
                .await
                .is_err()
            {
                return;
            }
        }
        held = Some(frame);
    }
}

/// An MJPEG camera's pictures, each a JPEG as the camera sent it; a viewer
/// too slow for its queue simply gets a later picture.
async fn stream_jpeg(mut socket: Socket, mut rx: LiveReceiver, camera: String) {
    loop {
        let item = tokio::select! {
            r = rx.recv() => r,
            m = socket.next() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
        };
        match item {
            Some(LiveItem::Frame(f)) => {
                if send_binary(&mut socket, std::slice::from_ref(&f.data))
                    .await
                    .is_err()
                {
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
