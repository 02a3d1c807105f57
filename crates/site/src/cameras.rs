//! What the recorder knows about each camera right now, shared with the API.

use std::collections::BTreeMap;
use std::sync::RwLock;

use custos_ledger::catalogue::RecordingLoss;
use custos_store::RecordingLossRow;
use serde::Serialize;

/// A camera's connection state as operators see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LiveState {
    /// Connecting or reconnecting; no frames yet in this session.
    Connecting,
    /// Frames are arriving and being written.
    Recording,
    /// The last attempt failed; retrying with backoff.
    Offline,
}

/// Live status of one camera.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CameraStatus {
    /// Camera id from the configuration; also the camera name in the index.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Connection state.
    pub state: LiveState,
    /// Wall-clock ms of the last frame received.
    pub last_frame_ms: Option<i64>,
    /// RFC 6381 codec string of the current stream.
    pub codec: Option<String>,
    /// Picture width in pixels of the current stream.
    pub width: Option<u32>,
    /// Picture height in pixels of the current stream.
    pub height: Option<u32>,
    /// Why the camera is offline, in plain words (never containing credentials).
    pub error: Option<String>,
    /// When the camera entered its current state.
    pub since_ms: i64,
    /// The tampering analysis sees right now (`tamper.covered`, …), if any.
    pub tamper: Option<String>,
    /// Counters of the camera's picture analysis; absent when it is off.
    pub analysis: Option<AnalysisStatus>,
    /// How long recordings are kept, in days, if limited by age.
    pub retain_days: Option<u32>,
    /// How many bytes of recordings are kept, if limited by size.
    pub retain_bytes: Option<u64>,
    /// Every picture since the recorder started: received, stored, dropped
    /// with the reason.
    pub recording: RecordingStats,
    /// Why recording is failing right now (the disk refused a write), in
    /// plain words, while it is; pictures are being dropped meanwhile.
    pub recording_error: Option<String>,
}

/// What the recorder did with a camera's pictures since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecordingStats {
    /// Pictures received from the camera.
    pub pictures_received: u64,
    /// Pictures written to segment files.
    pub pictures_stored: u64,
    /// Pictures not stored, by reason.
    pub pictures_dropped: DroppedPictures,
    /// Bytes written to segment files.
    pub bytes_written: u64,
    /// Segments sealed.
    pub segments_sealed: u64,
    /// Connections made to the camera after the first.
    pub reconnects: u64,
    /// Pictures the recorder holds back to give B-frames their decode time
    /// (the stream's reorder depth; 0 without B-frames).
    pub reorder_depth: u32,
}

/// Pictures dropped, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DroppedPictures {
    /// Before the first key frame after (re)connecting: expected, no alarm.
    pub awaiting_key_frame: u64,
    /// The camera's clock jumped; dropped until the next key frame.
    pub clock_jump: u64,
    /// The disk refused a write; dropped until a key frame could be written.
    pub write_error: u64,
    /// Lost on the network between camera and recorder (RTP packets lost).
    pub lost_in_transit: u64,
    /// Too large for an MP4 sample.
    pub frame_too_large: u64,
}

impl DroppedPictures {
    /// The counts of a recorder.
    pub fn from_counts(c: &custos_media::recorder::PictureCounts) -> Self {
        use custos_media::recorder::DropReason;
        DroppedPictures {
            awaiting_key_frame: c.dropped(DropReason::AwaitingKeyFrame),
            clock_jump: c.dropped(DropReason::ClockJump),
            write_error: c.dropped(DropReason::WriteError),
            lost_in_transit: c.dropped(DropReason::LostInTransit),
            frame_too_large: c.dropped(DropReason::FrameTooLarge),
        }
    }
}

/// How a camera's picture analysis is keeping up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AnalysisStatus {
    /// Pictures decoded since start.
    pub frames_decoded: u64,
    /// Pictures analysed (sampled at the analysis rate).
    pub frames_analysed: u64,
    /// Frames dropped because analysis fell behind (recording lost none).
    pub frames_dropped: u64,
    /// Frames skipped while waiting for a key frame after a drop.
    pub frames_skipped: u64,
    /// Why the stream cannot be analysed (e.g. an unsupported codec).
    pub error: Option<String>,
}

/// The log's form of pictures the recorder lost, as the index holds them.
pub fn loss_fact(loss: &RecordingLossRow) -> RecordingLoss<'_> {
    RecordingLoss {
        camera: &loss.camera,
        reason: &loss.reason,
        pictures: u64::try_from(loss.pictures).unwrap_or(0),
        start_ms: loss.start_ms,
        end_ms: loss.end_ms,
        detail: &loss.detail,
    }
}

/// The status of every configured camera.
#[derive(Default)]
pub struct CameraRegistry {
    cameras: RwLock<BTreeMap<String, CameraStatus>>,
}

impl CameraRegistry {
    /// A registry with every camera `connecting` since `now_ms`.
    pub fn new<'a>(cameras: impl IntoIterator<Item = (&'a str, &'a str)>, now_ms: i64) -> Self {
        let map = cameras
            .into_iter()
            .map(|(id, name)| {
                let status = CameraStatus {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    state: LiveState::Connecting,
                    last_frame_ms: None,
                    codec: None,
                    width: None,
                    height: None,
                    error: None,
                    since_ms: now_ms,
                    tamper: None,
                    analysis: None,
                    retain_days: None,
                    retain_bytes: None,
                    recording: RecordingStats::default(),
                    recording_error: None,
                };
                (id.to_owned(), status)
            })
            .collect();
        CameraRegistry {
            cameras: RwLock::new(map),
        }
    }

    /// Applies `f` to camera `id`'s status, if it exists.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut CameraStatus)) {
        // A poisoned lock only means a panic elsewhere mid-update; the data is
        // plain values, still usable.
        let mut map = self.cameras.write().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get_mut(id) {
            f(s);
        }
    }

    /// Moves camera `id` to `state`, returning the previous state when it changed.
    pub fn set_state(
        &self,
        id: &str,
        state: LiveState,
        error: Option<String>,
        now_ms: i64,
    ) -> Option<LiveState> {
        let mut previous = None;
        self.update(id, |s| {
            if s.state != state {
                previous = Some(s.state);
                s.since_ms = now_ms;
            }
            s.state = state;
            s.error = error;
        });
        previous
    }

    /// Every camera's status, ordered by id.
    pub fn list(&self) -> Vec<CameraStatus> {
        let map = self.cameras.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    /// Camera `id`'s status, if it is configured.
    pub fn get(&self, id: &str) -> Option<CameraStatus> {
        let map = self.cameras.read().unwrap_or_else(|e| e.into_inner());
        map.get(id).cloned()
    }

    /// True when camera `id` is configured.
    pub fn contains(&self, id: &str) -> bool {
        let map = self.cameras.read().unwrap_or_else(|e| e.into_inner());
        map.contains_key(id)
    }
}
