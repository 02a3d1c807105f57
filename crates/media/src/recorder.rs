//! Turning one camera's frames into a sequence of segment files: when to cut,
//! how media time maps to wall-clock time, what the index must learn, and an
//! account of every picture: stored, or dropped with its reason.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fmp4::TIMESCALE;
use crate::params::VideoParams;
use crate::segment::{ticks_to_ms, Frame, SealedFile, SegmentWriter, WriteError};

/// How a camera's recording is cut into files.
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    pub camera: String,
    /// `<data_dir>/video/<camera>`; created if missing.
    pub dir: PathBuf,
    /// A segment is cut at the first key frame after this much media time.
    pub segment_ticks: i64,
    /// A fragment is written at each key frame or after this much media time
    /// (half a second), which bounds what a crash can lose when the camera's
    /// GOP is long; and, whatever the time, once it holds
    /// [`MAX_FRAGMENT_BYTES`](crate::segment::MAX_FRAGMENT_BYTES), which
    /// bounds what each camera holds in memory until it is written.
    pub max_fragment_ticks: i64,
    /// When media time and the wall clock disagree by more than this at a
    /// segment start, the wall clock wins (camera clocks drift).
    pub max_clock_drift_ms: i64,
    /// A loss is reported this long after it began (not only once it ends:
    /// a full disk may last for days)...
    pub loss_first_report_ms: i64,
    /// ...and then at least this often while it goes on.
    pub loss_report_ms: i64,
    /// Bytes of the disk video never takes: the index and the log need them
    /// to record what happens when the disk is full.
    pub disk_reserve: u64,
}

impl RecorderConfig {
    pub fn new(camera: &str, dir: PathBuf, segment_seconds: u32) -> Self {
        RecorderConfig {
            camera: camera.to_owned(),
            dir,
            segment_ticks: i64::from(segment_seconds) * i64::from(TIMESCALE),
            max_fragment_ticks: i64::from(TIMESCALE) / 2,
            max_clock_drift_ms: 1000,
            loss_first_report_ms: 2_000,
            loss_report_ms: 60_000,
            disk_reserve: 0,
        }
    }
}

/// Why a picture the camera sent was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Before the first key frame after (re)connecting: a recording can
    /// only start at a picture that decodes on its own. Expected, and not
    /// an alarm.
    AwaitingKeyFrame,
    /// The camera's clock jumped (reboot, NTP step) and the pictures up to
    /// the next key frame could not start a new segment.
    ClockJump,
    /// The disk refused a write (full, read-only, failing); recording
    /// resumes at the next key frame that can be written.
    WriteError,
    /// Lost between the camera and the recorder (RTP packets lost on the
    /// network, counted from the gaps they leave in presentation times).
    LostInTransit,
    /// A picture larger than an MP4 sample can hold (4 GiB).
    FrameTooLarge,
}

impl DropReason {
    pub const ALL: [DropReason; 5] = [
        DropReason::AwaitingKeyFrame,
        DropReason::ClockJump,
        DropReason::WriteError,
        DropReason::LostInTransit,
        DropReason::FrameTooLarge,
    ];

    /// The name used in the API, metrics and log entries.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::AwaitingKeyFrame => "awaiting_key_frame",
            DropReason::ClockJump => "clock_jump",
            DropReason::WriteError => "write_error",
            DropReason::LostInTransit => "lost_in_transit",
            DropReason::FrameTooLarge => "frame_too_large",
        }
    }

    /// True for the one drop that is part of normal operation.
    pub fn is_expected(self) -> bool {
        self == DropReason::AwaitingKeyFrame
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Every picture of a camera since the recorder started: received from
/// the camera, stored in segment files, or dropped for a reason. Pictures
/// still buffered for the next fragment are in none of the last two:
/// `received = stored + dropped + buffered`, except that pictures lost in
/// transit were never received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PictureCounts {
    pub received: u64,
    pub stored: u64,
    dropped: [u64; 5],
}

impl PictureCounts {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
    /// (reason, count) for every reason, zero counts included.
    pub fn dropped_by_reason(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r, self.dropped(r)))
    }
}

/// A run of pictures dropped for one reason, reported when recording
/// resumes, when the reason changes, [`RecorderConfig::loss_first_report_ms`]
/// after it began, and then at least every
/// [`RecorderConfig::loss_report_ms`] while it goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LossEpisode {
    pub reason: DropReason,
    pub pictures: u64,
    /// Wall-clock ms of the first and last picture dropped.
    pub start_ms: i64,
    pub end_ms: i64,
    /// The cause in words (the error, or the clock's old and new times).
    pub detail: String,
}

/// What the index must learn from a frame.
#[derive(Debug)]
pub enum SegmentEvent {
    /// A new file exists (its init segment is durable).
    Opened {
        path: PathBuf,
        start_ms: i64,
        params: VideoParams,
        file: Arc<File>,
    },
    /// More fragments were written to an open file.
    Progress {
        path: PathBuf,
        bytes: u64,
        frames: u64,
        end_ms: i64,
        file: Arc<File>,
    },
    /// The file is complete and will not change again.
    Sealed(SealedFile),
    /// An opened file was removed again: a write failed before any picture
    /// reached it, so it held nothing worth keeping.
    Discarded { path: PathBuf, reason: String },
    /// Pictures were dropped (never for [`DropReason::AwaitingKeyFrame`]).
    Loss(LossEpisode),
    /// The camera's clock jumped: the segment before ends, the next starts
    /// at the first key frame on the new clock.
    ClockReset {
        at_ms: i64,
        /// The camera's presentation times (90 kHz) before and after.
        from_pts: i64,
        to_pts: i64,
    },
}

/// Failure to record a frame. Recording goes on with the next key frame.
#[derive(Debug, thiserror::Error)]
#[error("camera {camera}: {source}")]
pub struct RecordError {
    pub camera: String,
    #[source]
    pub source: WriteError,
}

/// Cuts one camera's frames into segment files.
pub struct CameraRecorder {
    cfg: RecorderConfig,
    params: Option<VideoParams>,
    writer: Option<SegmentWriter>,
    /// (dts, wall ms) of a frame whose arrival time we trust as its wall time.
    anchor: Option<(i64, i64)>,
    last_dts: Option<i64>,
    /// The most recent interval between frames: the duration given to a
    /// segment's last frame when no next frame tells it.
    frame_ticks: u32,
    counts: PictureCounts,
    /// Frames stored in files already closed.
    stored_closed: u64,
    /// Why frames are being dropped until the next key frame that can start
    /// a segment; `None` while recording (or before the first key frame).
    skipping: Option<(DropReason, String)>,
    episode: Option<LossEpisode>,
    /// The last write error, until a segment is written again.
    failing: Option<String>,
    /// True while a loss goes on that was already reported in part.
    loss_continues: bool,
    /// Bytes of the last fragment written: the room a new segment needs,
    /// so that a full disk is not met by creating files it cannot fill.
    fragment_bytes: u64,
    /// Bytes of the open file after its last fragment.
    last_written_bytes: u64,
}

impl CameraRecorder {
    pub fn new(cfg: RecorderConfig) -> Self {
        CameraRecorder {
            cfg,
            params: None,
            writer: None,
            anchor: None,
            last_dts: None,
            frame_ticks: TIMESCALE / 10,
            counts: PictureCounts::default(),
            stored_closed: 0,
            skipping: None,
            episode: None,
            failing: None,
            loss_continues: false,
            fragment_bytes: 0,
            last_written_bytes: 0,
        }
    }

    pub fn camera(&self) -> &str {
        &self.cfg.camera
    }

    /// Every picture so far: received, stored, dropped by reason.
    pub fn counts(&self) -> PictureCounts {
        let mut c = self.counts;
        c.stored = self.stored_closed + self.writer.as_ref().map_or(0, |w| w.written().frames);
        c
    }

    /// Why recording is failing right now (the last write error), if it is.
    pub fn failing(&self) -> Option<&str> {
        self.failing.as_deref()
    }

    /// A new connection to the camera: its timestamps start afresh, so the
    /// current segment ends here (the outage, if any, becomes a gap).
    pub fn new_session(&mut self, now_ms: i64, events: &mut Vec<SegmentEvent>) {
        self.anchor = None;
        self.last_dts = None;
        self.seal(None, now_ms, events);
        // Whatever was being skipped, the next session starts clean; an
        // open loss is reported now.
        self.skipping = None;
        self.report_episode(events);
    }

    /// The stream's parameters (first, or changed mid-stream). A change seals
    /// the current segment: one file has one sample description.
    pub fn set_params(&mut self, params: VideoParams, now_ms: i64, events: &mut Vec<SegmentEvent>) {
        if self.params.as_ref() != Some(&params) {
            self.seal(None, now_ms, events);
            self.params = Some(params);
        }
    }

    /// Pictures the source knows were lost on their way (network loss).
    pub fn lost_in_transit(&mut self, pictures: u64, now_ms: i64, events: &mut Vec<SegmentEvent>) {
        if pictures > 0 {
            self.dropped(
                DropReason::LostInTransit,
                pictures,
                now_ms,
                "RTP packets lost between the camera and the recorder",
                events,
            );
        }
    }

    /// A picture arrived before the stream's parameters: received, and
    /// dropped as waiting for a key frame (the one that brings them).
    pub fn before_parameters(&mut self, now_ms: i64, events: &mut Vec<SegmentEvent>) {
        self.counts.received += 1;
        self.dropped(
            DropReason::AwaitingKeyFrame,
            1,
            now_ms,
            "waiting for the stream's parameters",
            events,
        );
    }

    /// Records one frame that arrived at wall-clock `now_ms`.
    pub fn push(&mut self, frame: Frame, now_ms: i64, events: &mut Vec<SegmentEvent>) {
        self.counts.received += 1;
        self.anchor.get_or_insert((frame.dts, now_ms));
        let dts = frame.dts;
        if let Some(prev) = self.last_dts {
            if let Ok(gap @ 1..=90_000) = u32::try_from(dts - prev) {
                self.frame_ticks = gap;
            }
        }
        self.last_dts = Some(dts);
        if let Some(w) = &self.writer {
            if frame.is_key && dts - w.start_dts() >= self.cfg.segment_ticks {
                self.seal(Some(dts), now_ms, events);
            }
        }
        let Some(w) = self.writer.as_mut() else {
            self.open(frame, now_ms, events);
            return;
        };
        // A clone shares the frame's bytes; it is kept for a clock jump,
        // where the frame starts the next segment instead.
        match w.push(frame.clone()) {
            Ok(flushed) => {
                if flushed {
                    let before = self.fragment_bytes;
                    let written = w.written();
                    self.fragment_bytes = written.bytes.saturating_sub(self.last_written_bytes);
                    self.last_written_bytes = written.bytes;
                    if self.fragment_bytes == 0 {
                        self.fragment_bytes = before;
                    }
                    events.push(SegmentEvent::Progress {
                        path: w.path().to_owned(),
                        bytes: written.bytes,
                        frames: written.frames,
                        end_ms: written.end_ms,
                        file: w.file().clone(),
                    });
                }
            }
            Err(WriteError::TimestampJump { previous, next }) => {
                // The camera's clock jumped: end this segment and start
                // the next one on a fresh anchor.
                tracing::warn!(
                    camera = %self.cfg.camera,
                    from_ticks = previous,
                    to_ticks = next,
                    "the camera's clock jumped; starting a new segment"
                );
                self.seal(None, now_ms, events);
                events.push(SegmentEvent::ClockReset {
                    at_ms: now_ms,
                    from_pts: previous,
                    to_pts: next,
                });
                self.anchor = Some((next, now_ms));
                self.skipping = Some((
                    DropReason::ClockJump,
                    format!(
                        "the camera's clock jumped from {previous} to {next} (90 kHz units); \
                         waiting for a key frame"
                    ),
                ));
                self.open(frame, now_ms, events);
            }
            Err(WriteError::FrameTooLarge(size)) => {
                let detail = format!("a picture of {size} bytes is too large for an MP4 sample");
                self.dropped(DropReason::FrameTooLarge, 1, now_ms, &detail, events);
            }
            Err(e) => {
                // The frame that failed and those buffered with it are lost.
                self.write_failed(&e, 1, now_ms, events);
            }
        }
    }

    fn open(&mut self, frame: Frame, now_ms: i64, events: &mut Vec<SegmentEvent>) {
        let waiting = match &self.skipping {
            Some((reason, detail)) => (*reason, detail.clone()),
            None => (
                DropReason::AwaitingKeyFrame,
                "waiting for the first key frame".to_owned(),
            ),
        };
        if !frame.is_key {
            self.dropped(waiting.0, 1, now_ms, &waiting.1, events);
            return;
        }
        let Some(params) = self.params.clone() else {
            self.dropped(waiting.0, 1, now_ms, &waiting.1, events);
            return;
        };
        let (anchor_dts, anchor_wall) = self.anchor.unwrap_or((frame.dts, now_ms));
        let mut start_ms = anchor_wall + ticks_to_ms(frame.dts - anchor_dts);
        if (start_ms - now_ms).abs() > self.cfg.max_clock_drift_ms {
            tracing::debug!(camera = %self.cfg.camera, drift_ms = start_ms - now_ms, "re-anchoring media time to the wall clock");
            self.anchor = Some((frame.dts, now_ms));
            start_ms = now_ms;
        }
        if let Err(source) = std::fs::create_dir_all(&self.cfg.dir) {
            let e = WriteError::Io {
                path: self.cfg.dir.clone(),
                source,
            };
            self.write_failed(&e, 1, now_ms, events);
            return;
        }
        // The init segment and the first fragment need room too (as much
        // as the last fragment took).
        let needed = self.fragment_bytes.max(64 << 10);
        if let Err(e) = crate::segment::check_room(&self.cfg.dir, needed, self.cfg.disk_reserve) {
            self.write_failed(&e, 1, now_ms, events);
            return;
        }
        let path = unused_path(&self.cfg.dir, start_ms);
        match SegmentWriter::create(
            &path,
            &params,
            frame,
            start_ms,
            self.cfg.max_fragment_ticks,
            self.frame_ticks,
        ) {
            Ok(mut writer) => {
                writer.set_reserve(self.cfg.disk_reserve);
                self.last_written_bytes = writer.written().bytes;
                events.push(SegmentEvent::Opened {
                    path,
                    start_ms,
                    params,
                    file: writer.file().clone(),
                });
                self.writer = Some(writer);
                self.skipping = None;
                self.failing = None;
                self.report_episode(events);
                self.loss_continues = false;
            }
            Err(e) => self.write_failed(&e, 1, now_ms, events),
        }
    }

    /// Ends the current segment, if any. A write that fails here ends it
    /// at its last complete fragment instead.
    pub fn seal(&mut self, next_dts: Option<i64>, now_ms: i64, events: &mut Vec<SegmentEvent>) {
        let Some(w) = self.writer.take() else {
            return;
        };
        match w.finish(next_dts) {
            Ok(sealed) => {
                self.stored_closed += sealed.frames;
                events.push(SegmentEvent::Sealed(sealed));
            }
            Err(failed) => {
                self.writer = Some(*failed.writer);
                self.write_failed(&failed.source, 0, now_ms, events);
            }
        }
    }

    /// Ends recording cleanly (shutdown): seals the segment and reports
    /// any loss still open.
    pub fn stop(&mut self, now_ms: i64, events: &mut Vec<SegmentEvent>) {
        self.seal(None, now_ms, events);
        self.report_episode(events);
    }

    /// A write failed: the open segment ends at its last complete fragment
    /// (or is removed if it has none), the frames it buffered and `also`
    /// more are dropped, and recording waits for the next key frame.
    fn write_failed(
        &mut self,
        error: &WriteError,
        also: u64,
        now_ms: i64,
        events: &mut Vec<SegmentEvent>,
    ) {
        let detail = error.to_string();
        // Once when it starts failing; every key frame retries, quietly.
        if self.failing.is_none() {
            tracing::error!(camera = %self.cfg.camera, "recording failed: {detail}");
        } else {
            tracing::debug!(camera = %self.cfg.camera, "recording still failing: {detail}");
        }
        let mut lost = also;
        if let Some(w) = self.writer.take() {
            let path = w.path().to_owned();
            match w.abandon() {
                Ok((Some(sealed), buffered)) => {
                    lost += buffered;
                    self.stored_closed += sealed.frames;
                    events.push(SegmentEvent::Sealed(sealed));
                }
                Ok((None, buffered)) => {
                    lost += buffered;
                    events.push(SegmentEvent::Discarded {
                        path,
                        reason: detail.clone(),
                    });
                }
                Err((e, buffered)) => {
                    // The file could not even be cut back; recovery at the
                    // next start will make it whole. The index keeps it as
                    // recording until then.
                    lost += buffered;
                    tracing::error!(camera = %self.cfg.camera, "ending the failed segment: {e}");
                }
            }
        }
        self.failing = Some(detail.clone());
        self.skipping = Some((DropReason::WriteError, detail.clone()));
        if lost > 0 {
            self.dropped(DropReason::WriteError, lost, now_ms, &detail, events);
        }
    }

    fn dropped(
        &mut self,
        reason: DropReason,
        pictures: u64,
        now_ms: i64,
        detail: &str,
        events: &mut Vec<SegmentEvent>,
    ) {
        self.counts.dropped[reason.index()] += pictures;
        if reason.is_expected() {
            return;
        }
        if let Some(ep) = &self.episode {
            let due = if self.loss_continues {
                self.cfg.loss_report_ms
            } else {
                self.cfg.loss_first_report_ms
            };
            let stale = now_ms - ep.start_ms >= due;
            if ep.reason != reason {
                self.report_episode(events);
                self.loss_continues = false;
            } else if stale {
                self.report_episode(events);
                self.loss_continues = true;
            }
        }
        match &mut self.episode {
            Some(ep) => {
                ep.pictures += pictures;
                ep.end_ms = now_ms;
            }
            None => {
                self.episode = Some(LossEpisode {
                    reason,
                    pictures,
                    start_ms: now_ms,
                    end_ms: now_ms,
                    detail: detail.to_owned(),
                })
            }
        }
    }

    fn report_episode(&mut self, events: &mut Vec<SegmentEvent>) {
        if let Some(ep) = self.episode.take() {
            tracing::warn!(
                camera = %self.cfg.camera,
                reason = ep.reason.as_str(),
                pictures = ep.pictures,
                "pictures dropped: {}",
                ep.detail
            );
            events.push(SegmentEvent::Loss(ep));
        }
    }

    /// True while a segment file is open.
    pub fn is_recording(&self) -> bool {
        self.writer.is_some()
    }
}

/// `<dir>/<start_ms>.mp4`, or `<start_ms>-N.mp4` if that exists already
/// (two segments starting in the same millisecond after a clock step).
fn unused_path(dir: &Path, start_ms: i64) -> PathBuf {
    let first = dir.join(format!("{start_ms}.mp4"));
    if !first.exists() {
        return first;
    }
    (1u32..)
        .map(|n| dir.join(format!("{start_ms}-{n}.mp4")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}
