//! Live thumbnails: a camera's newest key frame as a small JPEG, encoded
//! once per key frame and kept in the [`LiveHub`] until a newer one
//! arrives, and how often a user's thumbnail views are logged.
//!
//! A thumbnail is live footage, so viewing it is logged, but a dashboard
//! refreshes its thumbnails every few seconds: one `footage.viewed` entry
//! is written per user and camera per [`VIEW_LOG_INTERVAL_MS`], and stands
//! for the views of that user in the interval after it.

use bytes::Bytes;
use custos_media::decode::{DecodeError, Decoder};

use crate::live::{KeyFrame, LiveHub};

/// Width of a thumbnail in pixels (height keeps the aspect ratio).
const THUMBNAIL_WIDTH: u32 = 320;

/// How often a user's thumbnail views of one camera are logged.
pub const VIEW_LOG_INTERVAL_MS: i64 = 5 * 60 * 1000;

/// Why a key frame gave no thumbnail.
#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    /// The decoder refused the frame or could not encode the picture.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The frame decoded to nothing.
    #[error("the key frame gave no picture")]
    NoPicture,
}

/// Decodes the key frame (it needs no other frame) and encodes it as JPEG.
pub fn encode_thumbnail(key: &KeyFrame) -> Result<Bytes, ThumbnailError> {
    let mut decoder = Decoder::for_params(&key.params, 1)?;
    decoder.send(&key.frame.data, key.frame.pts, key.frame.dts)?;
    decoder.send_eof()?;
    // With the end signalled the decoder has nothing more to wait for: no
    // picture now means the frame did not decode.
    if decoder.receive()?.is_none() {
        return Err(ThumbnailError::NoPicture);
    }
    Ok(Bytes::from(decoder.jpeg(THUMBNAIL_WIDTH)?))
}

/// The thumbnail of `camera` already encoded from the key frame that
/// arrived at `received_ms`, if there is one.
pub fn cached_thumbnail(hub: &LiveHub, camera: &str, received_ms: i64) -> Option<Bytes> {
    let cache = hub.thumbnails.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .get(camera)
        .filter(|(at, _)| *at == received_ms)
        .map(|(_, jpeg)| jpeg.clone())
}

/// Keeps `jpeg` as the thumbnail of `camera`'s key frame that arrived at
/// `received_ms`, in place of an older one.
pub fn keep_thumbnail(hub: &LiveHub, camera: &str, received_ms: i64, jpeg: Bytes) {
    let mut cache = hub.thumbnails.lock().unwrap_or_else(|e| e.into_inner());
    cache.insert(camera.to_owned(), (received_ms, jpeg));
}

/// Whether `user`'s thumbnail view of `camera` at `now` is to be logged:
/// not when their views of it were logged in the last
/// [`VIEW_LOG_INTERVAL_MS`]. A view to be logged counts as logged from now
/// on; [`view_not_logged`] takes that back.
pub fn view_to_log(hub: &LiveHub, user: &str, camera: &str, now: i64) -> bool {
    let mut views = hub
        .thumbnail_views
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let key = (user.to_owned(), camera.to_owned());
    if views
        .get(&key)
        .is_some_and(|at| now - at < VIEW_LOG_INTERVAL_MS)
    {
        return false;
    }
    // Old entries would only grow the map: drop them while here.
    views.retain(|_, at| now - *at < VIEW_LOG_INTERVAL_MS);
    views.insert(key, now);
    true
}

/// Forgets a view [`view_to_log`] counted that could not be logged, so the
/// next one is logged.
pub fn view_not_logged(hub: &LiveHub, user: &str, camera: &str) {
    let mut views = hub
        .thumbnail_views
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    views.remove(&(user.to_owned(), camera.to_owned()));
}
