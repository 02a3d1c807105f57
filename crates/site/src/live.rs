//! Each camera's live frames, for viewers and thumbnails.
//!
//! The recorder publishes every frame to a [`LiveHub`]; publishing never
//! waits. Each viewer has its own short queue, and a frame is held only
//! until every viewer has taken it, so a camera whose viewers keep up holds
//! next to nothing. A viewer too slow for its queue loses what the queue
//! held and goes on from the next key frame instead of falling further
//! behind. How frames reach a browser is the server's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use custos_media::params::VideoParams;
use custos_media::segment::Frame;

/// Frames a viewer may lag behind before it skips ahead to the next key
/// frame (about 2 s at 15 fps; the web app itself jumps to the live edge
/// when 1.5 s behind). A queue fills only while its viewer lags.
pub const VIEWER_QUEUE_FRAMES: usize = 32;

/// What a viewer receives.
#[derive(Clone, Debug)]
pub enum LiveItem {
    /// The stream's parameters (a new init segment).
    Params(Arc<VideoParams>),
    /// A frame as the camera sent it.
    Frame(Frame),
    /// The viewer fell behind: frames were dropped, and the next frame is
    /// a key frame.
    Skipped,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<LiveItem>,
    /// Overflowed: nothing more is queued until a key frame.
    lagging: bool,
    /// The viewer left.
    closed: bool,
    /// The hub is gone: nothing more will come.
    ended: bool,
}

#[derive(Default)]
struct ViewerQueue {
    queue: Mutex<Queue>,
    /// One waiter (the viewer); a wake-up sent while it is not waiting is
    /// kept for its next wait.
    ready: tokio::sync::Notify,
}

impl ViewerQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame; false once the viewer has left.
    fn offer(&self, frame: &Frame) -> bool {
        let mut q = self.lock();
        if q.closed {
            return false;
        }
        if q.lagging && !frame.is_key {
            return true;
        }
        if !q.lagging && q.items.len() >= VIEWER_QUEUE_FRAMES {
            // Drop the oldest, all of them: what follows must start at a
            // key frame to decode.
            q.items.clear();
            q.items.push_back(LiveItem::Skipped);
            q.lagging = true;
            if !frame.is_key {
                drop(q);
                self.ready.notify_one();
                return true;
            }
        }
        q.lagging = false;
        // A clone of the frame shares its bytes: no copy.
        q.items.push_back(LiveItem::Frame(frame.clone()));
        drop(q);
        self.ready.notify_one();
        true
    }

    fn push(&self, item: LiveItem) -> bool {
        let mut q = self.lock();
        if q.closed {
            return false;
        }
        q.items.push_back(item);
        drop(q);
        self.ready.notify_one();
        true
    }
}

/// One viewer's end of its queue; dropping it lets go of what it held.
pub struct LiveReceiver {
    queue: Arc<ViewerQueue>,
}

impl LiveReceiver {
    /// The next item; `None` once the hub is gone.
    pub async fn recv(&mut self) -> Option<LiveItem> {
        loop {
            {
                let mut q = self.queue.lock();
                if let Some(item) = q.items.pop_front() {
                    return Some(item);
                }
                if q.ended {
                    return None;
                }
            }
            self.queue.ready.notified().await;
        }
    }

    /// The next item if one is queued.
    #[cfg(test)]
    fn try_recv(&mut self) -> Option<LiveItem> {
        self.queue.lock().items.pop_front()
    }
}

impl Drop for LiveReceiver {
    fn drop(&mut self) {
        let mut q = self.queue.lock();
        q.closed = true;
        q.items.clear();
    }
}

impl Drop for CameraFeed {
    fn drop(&mut self) {
        for viewer in self
            .viewers
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            viewer.lock().ended = true;
            viewer.ready.notify_one();
        }
    }
}

struct CameraFeed {
    viewers: Mutex<Vec<Arc<ViewerQueue>>>,
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
                viewers: Mutex::new(Vec::new()),
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
        // Under the viewers' lock, as in `subscribe`: a viewer joining now
        // gets these parameters either there or here.
        let mut viewers = feed.viewers.lock().unwrap_or_else(|e| e.into_inner());
        *feed.params.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&p));
        viewers.retain(|v| v.push(LiveItem::Params(Arc::clone(&p))));
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
        let mut viewers = feed.viewers.lock().unwrap_or_else(|e| e.into_inner());
        viewers.retain(|viewer| viewer.offer(frame));
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

    /// The camera's parameters, if known yet, and a queue of its frames
    /// from now on.
    pub fn subscribe(&self, camera: &str) -> (Option<Arc<VideoParams>>, LiveReceiver) {
        let feed = self.feed(camera);
        let queue = Arc::new(ViewerQueue::default());
        // Under the viewers' lock, so no parameters are published between
        // reading them and joining.
        let mut viewers = feed.viewers.lock().unwrap_or_else(|e| e.into_inner());
        let params = feed
            .params
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        viewers.push(Arc::clone(&queue));
        (params, LiveReceiver { queue })
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
        // A viewer that keeps up: a frame is held only until it is taken.
        let (_, mut rx) = hub.subscribe("cam");
        let seen = frame(1, false);
        hub.frame("cam", &seen);
        assert!(!seen.data.is_unique(), "held for the viewer");
        assert!(matches!(rx.recv().await, Some(LiveItem::Frame(f)) if f.pts == seen.pts));
        assert!(seen.data.is_unique(), "still held after the viewer took it");
        // A viewer that leaves: what its queue held is let go at once.
        let queued = frame(2, false);
        hub.frame("cam", &queued);
        assert!(!queued.data.is_unique());
        drop(rx);
        assert!(queued.data.is_unique(), "still held after the viewer left");
        hub.frame("cam", &frame(3, false));
    }

    #[tokio::test]
    async fn a_viewer_that_falls_behind_skips_to_the_next_key_frame() {
        let hub = LiveHub::default();
        hub.params("cam", &custos_media::synthetic::params(640, 360));
        let (params, mut slow) = hub.subscribe("cam");
        assert!(params.is_some());
        let (_, mut fast) = hub.subscribe("cam");
        let overflow = VIEWER_QUEUE_FRAMES as i64 + 5;
        let mut fast_got = 0;
        for n in 0..overflow {
            hub.frame("cam", &frame(n, n == 0));
            if let Some(LiveItem::Frame(_)) = fast.recv().await {
                fast_got += 1;
            }
        }
        assert_eq!(fast_got, overflow, "the fast viewer lost frames");
        // Not a key frame: the slow viewer stays out until one comes. What
        // its queue held (the oldest frames) was let go at the overflow.
        hub.frame("cam", &frame(overflow, false));
        assert!(matches!(slow.try_recv(), Some(LiveItem::Skipped)));
        assert!(slow.try_recv().is_none());
        hub.frame("cam", &frame(overflow + 1, true));
        assert!(
            matches!(slow.recv().await, Some(LiveItem::Frame(f)) if f.is_key && f.pts == (overflow + 1) * 6000)
        );
        // New parameters reach every viewer, after the frames before them.
        hub.frame("cam", &frame(overflow + 2, false));
        hub.params("cam", &custos_media::synthetic::params(320, 180));
        assert!(
            matches!(slow.recv().await, Some(LiveItem::Frame(f)) if f.pts == (overflow + 2) * 6000)
        );
        assert!(matches!(slow.recv().await, Some(LiveItem::Params(p)) if p.width == 320));
        // And a hub that goes away ends its viewers' streams.
        drop(hub);
        assert!(slow.recv().await.is_none());
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
