//! Each camera's live frames, for viewers and thumbnails.
//!
//! The recorder publishes every frame to a [`LiveHub`] (a broadcast
//! channel per camera; publishing never waits). A viewer too slow for the
//! channel loses frames and skips ahead to the next key frame instead of
//! falling further behind. How frames reach a browser is the server's.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use custos_media::params::VideoParams;
use custos_media::segment::Frame;
use tokio::sync::broadcast;

/// Frames a viewer may lag behind before it skips ahead to the next key
/// frame (about 2 s at 15 fps; the web app itself jumps to the live edge
/// when 1.5 s behind). Each watched camera holds this many frames, so it is
/// kept small: at 4 Mbit/s, 32 frames are about 1 MB.
pub const CHANNEL_FRAMES: usize = 32;

/// What the recorder publishes.
#[derive(Clone, Debug)]
pub enum LiveItem {
    /// The stream's parameters (a new init segment).
    Params(Arc<VideoParams>),
    /// A frame as the camera sent it.
    Frame(Frame),
}

struct CameraFeed {
    /// Replaced by an empty channel when the last viewer leaves, so frames
    /// nobody will read are not kept.
    tx: RwLock<broadcast::Sender<LiveItem>>,
    /// True while the channel may hold frames.
    holds_frames: std::sync::atomic::AtomicBool,
    params: RwLock<Option<Arc<VideoParams>>>,
    /// The newest key frame and when it arrived, for thumbnails: kept only
    /// while someone asked for one lately ([`THUMBNAIL_INTEREST_MS`]), so an
    /// unwatched camera holds no picture in memory.
    last_key: RwLock<Option<KeyFrame>>,
    /// Until when (wall ms) key frames are kept for thumbnails.
    thumbnails_wanted_until: std::sync::atomic::AtomicI64,
    /// Wakes a thumbnail request waiting for the next key frame.
    key_arrived: tokio::sync::Notify,
}

/// How long after a thumbnail request a camera keeps its newest key frame.
const THUMBNAIL_INTEREST_MS: i64 = 5 * 60 * 1000;

/// A camera's newest key frame: a picture that decodes on its own.
#[derive(Clone, Debug)]
pub struct KeyFrame {
    /// The stream it belongs to.
    pub params: Arc<VideoParams>,
    /// The frame as the camera sent it.
    pub frame: Frame,
    /// Wall-clock ms when it arrived.
    pub received_ms: i64,
}

/// Every camera's live feed.
#[derive(Default)]
pub struct LiveHub {
    feeds: RwLock<HashMap<String, Arc<CameraFeed>>>,
    /// Thumbnails already encoded: camera → (key frame arrival, JPEG).
    pub thumbnails: std::sync::Mutex<HashMap<String, (i64, bytes::Bytes)>>,
    /// When each (user, camera)'s thumbnail view was last logged.
    pub thumbnail_views: std::sync::Mutex<HashMap<(String, String), i64>>,
}

impl LiveHub {
    fn feed(&self, camera: &str) -> Arc<CameraFeed> {
        if let Some(f) = self
            .feeds
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(camera)
        {
            return Arc::clone(f);
        }
        let mut feeds = self.feeds.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(feeds.entry(camera.to_owned()).or_insert_with(|| {
            Arc::new(CameraFeed {
                tx: RwLock::new(broadcast::channel(CHANNEL_FRAMES).0),
                holds_frames: Default::default(),
                params: RwLock::new(None),
                last_key: RwLock::new(None),
                thumbnails_wanted_until: Default::default(),
                key_arrived: Default::default(),
            })
        }))
    }

    /// Publishes new stream parameters of `camera`.
    pub fn params(&self, camera: &str, params: &VideoParams) {
        let feed = self.feed(camera);
        let p = Arc::new(params.clone());
        *feed.params.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&p));
        let _ = feed
            .tx
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .send(LiveItem::Params(p));
    }

    /// Publishes a frame of `camera`; never waits (no viewer, no work).
    pub fn frame(&self, camera: &str, frame: &Frame) {
        use std::sync::atomic::Ordering;
        let feed = self.feed(camera);
        if frame.is_key {
            let now = crate::clock::now_ms();
            let wanted = feed.thumbnails_wanted_until.load(Ordering::Relaxed) > now;
            let params = feed
                .params
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let mut last = feed.last_key.write().unwrap_or_else(|e| e.into_inner());
            match params {
                // A clone of the frame shares its bytes: no copy.
                Some(params) if wanted => {
                    *last = Some(KeyFrame {
                        params,
                        frame: frame.clone(),
                        received_ms: now,
                    });
                    drop(last);
                    feed.key_arrived.notify_waiters();
                }
                _ => *last = None,
            }
        }
        let watched = {
            let tx = feed.tx.read().unwrap_or_else(|e| e.into_inner());
            let watched = tx.receiver_count() > 0;
            if watched {
                let _ = tx.send(LiveItem::Frame(frame.clone()));
                feed.holds_frames.store(true, Ordering::Relaxed);
            }
            watched
        };
        if !watched && feed.holds_frames.swap(false, Ordering::Relaxed) {
            // The last viewer left: the frames the channel still holds
            // would otherwise stay in memory until overwritten, which is
            // never once nobody watches.
            let mut tx = feed.tx.write().unwrap_or_else(|e| e.into_inner());
            if tx.receiver_count() == 0 {
                *tx = broadcast::channel(CHANNEL_FRAMES).0;
            } else {
                feed.holds_frames.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The newest key frame of `camera`, waiting up to `wait` for the next
    /// one when none is kept (a camera whose thumbnails nobody asked for
    /// lately keeps none); `None` when none came.
    pub async fn latest_key_frame(
        &self,
        camera: &str,
        wait: std::time::Duration,
    ) -> Option<KeyFrame> {
        use std::sync::atomic::Ordering;
        let feed = self.feed(camera);
        feed.thumbnails_wanted_until.store(
            crate::clock::now_ms() + THUMBNAIL_INTEREST_MS,
            Ordering::Relaxed,
        );
        let arrived = feed.key_arrived.notified();
        if let Some(key) = feed
            .last_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Some(key);
        }
        let _ = tokio::time::timeout(wait, arrived).await;
        let key = feed
            .last_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        key
    }

    /// The camera's parameters, if known yet, and a receiver of its frames.
    pub fn subscribe(
        &self,
        camera: &str,
    ) -> (Option<Arc<VideoParams>>, broadcast::Receiver<LiveItem>) {
        let feed = self.feed(camera);
        let rx = feed
            .tx
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .subscribe();
        let params = feed
            .params
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (params, rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(n: i64, is_key: bool) -> Frame {
        Frame {
            pts: n * 6000,
            dts: n * 6000,
            data: Bytes::from(vec![0u8; 1000]),
            is_key,
        }
    }

    #[tokio::test]
    async fn frames_nobody_will_read_are_not_kept() {
        let hub = LiveHub::default();
        hub.params("cam", &custos_media::synthetic::params(640, 360));
        // No viewer, no thumbnail asked for: the hub keeps nothing.
        let key = frame(0, true);
        hub.frame("cam", &key);
        assert!(key.data.is_unique(), "a key frame kept for nobody");
        // A viewer comes and goes: what the channel held is let go at the
        // next frame.
        let (_, rx) = hub.subscribe("cam");
        let seen = frame(1, false);
        hub.frame("cam", &seen);
        assert!(!seen.data.is_unique(), "held for the viewer");
        drop(rx);
        hub.frame("cam", &frame(2, false));
        assert!(seen.data.is_unique(), "still held after the viewer left");
    }

    #[tokio::test]
    async fn a_thumbnail_waits_for_the_next_key_frame_and_then_keeps_the_newest() {
        let hub = Arc::new(LiveHub::default());
        hub.params("cam", &custos_media::synthetic::params(640, 360));
        hub.frame("cam", &frame(0, true));
        let waiting = {
            let hub = Arc::clone(&hub);
            tokio::spawn(async move {
                hub.latest_key_frame("cam", std::time::Duration::from_secs(5))
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        hub.frame("cam", &frame(1, false));
        hub.frame("cam", &frame(2, true));
        let key = waiting.await.expect("task").expect("a key frame");
        assert_eq!(key.frame.pts, 2 * 6000);
        // Asked for lately: the newest key frame is now kept.
        hub.frame("cam", &frame(3, true));
        let kept = hub
            .latest_key_frame("cam", std::time::Duration::from_millis(1))
            .await
            .expect("kept");
        assert_eq!(kept.frame.pts, 3 * 6000);
        // And a camera that sends nothing: none, after the wait.
        assert!(hub
            .latest_key_frame("quiet", std::time::Duration::from_millis(20))
            .await
            .is_none());
    }
}
