//! Turning one camera's frames into a sequence of segment files: when to cut,
//! how media time maps to wall-clock time, and what the index must learn.

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
    /// A fragment is written at each key frame or after this much media time,
    /// which bounds what a crash can lose when the camera's GOP is long.
    pub max_fragment_ticks: i64,
    /// When media time and the wall clock disagree by more than this at a
    /// segment start, the wall clock wins (camera clocks drift).
    pub max_clock_drift_ms: i64,
}

impl RecorderConfig {
    pub fn new(camera: &str, dir: PathBuf, segment_seconds: u32) -> Self {
        RecorderConfig {
            camera: camera.to_owned(),
            dir,
            segment_ticks: i64::from(segment_seconds) * i64::from(TIMESCALE),
            max_fragment_ticks: i64::from(TIMESCALE),
            max_clock_drift_ms: 1000,
        }
    }
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
    /// (pts, wall ms) of a frame whose arrival time we trust as its wall time.
    anchor: Option<(i64, i64)>,
    last_pts: Option<i64>,
    /// The most recent interval between frames: the duration given to a
    /// segment's last frame when no next frame tells it.
    frame_ticks: u32,
    /// Frames dropped while waiting for a key frame to start a segment.
    pub frames_before_key: u64,
}

impl CameraRecorder {
    pub fn new(cfg: RecorderConfig) -> Self {
        CameraRecorder {
            cfg,
            params: None,
            writer: None,
            anchor: None,
            last_pts: None,
            frame_ticks: TIMESCALE / 10,
            frames_before_key: 0,
        }
    }

    pub fn camera(&self) -> &str {
        &self.cfg.camera
    }

    /// A new connection to the camera: its timestamps start afresh, so the
    /// current segment ends here (the outage, if any, becomes a gap).
    pub fn new_session(&mut self, events: &mut Vec<SegmentEvent>) -> Result<(), RecordError> {
        self.anchor = None;
        self.last_pts = None;
        self.seal(None, events)
    }

    /// The stream's parameters (first, or changed mid-stream). A change seals
    /// the current segment: one file has one sample description.
    pub fn set_params(
        &mut self,
        params: VideoParams,
        events: &mut Vec<SegmentEvent>,
    ) -> Result<(), RecordError> {
        if self.params.as_ref() != Some(&params) {
            self.seal(None, events)?;
            self.params = Some(params);
        }
        Ok(())
    }

    /// Records one frame that arrived at wall-clock `now_ms`.
    pub fn push(
        &mut self,
        frame: Frame,
        now_ms: i64,
        events: &mut Vec<SegmentEvent>,
    ) -> Result<(), RecordError> {
        self.anchor.get_or_insert((frame.pts, now_ms));
        let pts = frame.pts;
        if let Some(prev) = self.last_pts {
            if let Ok(gap @ 1..=90_000) = u32::try_from(pts - prev) {
                self.frame_ticks = gap;
            }
        }
        self.last_pts = Some(pts);
        if let Some(w) = &self.writer {
            if frame.is_key && pts - w.start_pts() >= self.cfg.segment_ticks {
                self.seal(Some(pts), events)?;
            }
        }
        let result = match self.writer.as_mut() {
            Some(w) => match w.push(frame.clone()) {
                Ok(true) => {
                    let written = w.written();
                    events.push(SegmentEvent::Progress {
                        path: w.path().to_owned(),
                        bytes: written.bytes,
                        frames: written.frames,
                        end_ms: written.end_ms,
                        file: w.file().clone(),
                    });
                    Ok(())
                }
                Ok(false) => Ok(()),
                Err(WriteError::TimestampJump { .. }) => {
                    // The camera's clock jumped: end this segment and start
                    // the next one on a fresh anchor.
                    self.seal(None, events)?;
                    self.anchor = Some((pts, now_ms));
                    self.open(frame, now_ms, events)
                }
                Err(e) => Err(e),
            },
            None => self.open(frame, now_ms, events),
        };
        result.map_err(|source| RecordError {
            camera: self.cfg.camera.clone(),
            source,
        })
    }

    fn open(
        &mut self,
        frame: Frame,
        now_ms: i64,
        events: &mut Vec<SegmentEvent>,
    ) -> Result<(), WriteError> {
        if !frame.is_key {
            self.frames_before_key += 1;
            return Ok(());
        }
        let Some(params) = self.params.clone() else {
            self.frames_before_key += 1;
            return Ok(());
        };
        let (anchor_pts, anchor_wall) = self.anchor.unwrap_or((frame.pts, now_ms));
        let mut start_ms = anchor_wall + ticks_to_ms(frame.pts - anchor_pts);
        if (start_ms - now_ms).abs() > self.cfg.max_clock_drift_ms {
            tracing::debug!(camera = %self.cfg.camera, drift_ms = start_ms - now_ms, "re-anchoring media time to the wall clock");
            self.anchor = Some((frame.pts, now_ms));
            start_ms = now_ms;
        }
        std::fs::create_dir_all(&self.cfg.dir).map_err(|source| WriteError::Io {
            path: self.cfg.dir.clone(),
            source,
        })?;
        let path = unused_path(&self.cfg.dir, start_ms);
        let writer = SegmentWriter::create(
            &path,
            &params,
            frame,
            start_ms,
            self.cfg.max_fragment_ticks,
            self.frame_ticks,
        )?;
        events.push(SegmentEvent::Opened {
            path,
            start_ms,
            params,
            file: writer.file().clone(),
        });
        self.writer = Some(writer);
        Ok(())
    }

    /// Ends the current segment, if any.
    pub fn seal(
        &mut self,
        next_pts: Option<i64>,
        events: &mut Vec<SegmentEvent>,
    ) -> Result<(), RecordError> {
        if let Some(w) = self.writer.take() {
            let sealed = w.finish(next_pts).map_err(|source| RecordError {
                camera: self.cfg.camera.clone(),
                source,
            })?;
            events.push(SegmentEvent::Sealed(sealed));
        }
        Ok(())
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
