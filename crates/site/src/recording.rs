//! One task per camera: connect, record, and on failure retry with capped
//! exponential backoff and jitter, reporting state changes as they happen.

use std::sync::mpsc;
use std::sync::Arc;

use crate::cameras::{CameraRegistry, DroppedPictures, LiveState};
use custos_media::recorder::{CameraRecorder, RecorderConfig, SegmentEvent};
use custos_media::source::{Source, SourceError, SourceItem, SourceSpec};
use custos_media::sps::reorder_depth;
use custos_store::CameraState;
use tokio::sync::watch;

use crate::analysis::AnalysisTap;
use crate::backoff::Backoff;
use crate::clock::now_ms;
use crate::commit::CommitItem;

/// What a camera task needs.
pub struct CameraTask {
    pub id: String,
    pub spec: SourceSpec,
    pub recorder: RecorderConfig,
    pub registry: Arc<CameraRegistry>,
    pub commits: mpsc::Sender<CommitItem>,
    pub shutdown: watch::Receiver<bool>,
    /// Where frames go for analysis when it reads the recorded stream.
    pub analysis: Option<std::sync::Mutex<AnalysisTap>>,
    /// Live viewers' feed (publishing never waits).
    pub live: std::sync::Arc<crate::live::LiveHub>,
}

/// Bytes and seals of one camera's recording, from the segment events.
#[derive(Default)]
struct WriteTally {
    /// Bytes of files already sealed.
    sealed_bytes: u64,
    /// Bytes written so far to the open file.
    open_bytes: u64,
    segments_sealed: u64,
}

impl WriteTally {
    fn note(&mut self, event: &SegmentEvent) {
        match event {
            SegmentEvent::Opened { .. } | SegmentEvent::Discarded { .. } => self.open_bytes = 0,
            SegmentEvent::Progress { bytes, .. } => self.open_bytes = *bytes,
            SegmentEvent::Sealed(s) => {
                self.sealed_bytes += s.bytes;
                self.open_bytes = 0;
                self.segments_sealed += 1;
            }
            SegmentEvent::Loss(_) | SegmentEvent::ClockReset { .. } => {}
        }
    }
}

impl CameraTask {
    fn report_state(&self, state: LiveState, error: Option<String>) {
        let now = now_ms();
        if self
            .registry
            .set_state(&self.id, state, error.clone(), now)
            .is_some()
        {
            let stored = match state {
                LiveState::Connecting => CameraState::Connecting,
                LiveState::Recording => CameraState::Recording,
                LiveState::Offline => CameraState::Offline,
            };
            let _ = self.commits.send(CommitItem::CameraState {
                camera: self.id.clone(),
                at_ms: now,
                state: stored,
                detail: error,
            });
        }
    }

    /// Sends the recorder's events to the committer, and its counts to the
    /// registry (the API, the dashboard and the metrics read them there).
    fn forward(
        &self,
        recorder: &CameraRecorder,
        tally: &mut WriteTally,
        events: &mut Vec<SegmentEvent>,
    ) {
        for event in events.drain(..) {
            tally.note(&event);
            let _ = self.commits.send(CommitItem::Segment {
                camera: self.id.clone(),
                event,
            });
        }
        let counts = recorder.counts();
        let failing = recorder.failing().map(str::to_owned);
        self.registry.update(&self.id, |s| {
            s.recording.pictures_received = counts.received;
            s.recording.pictures_stored = counts.stored;
            s.recording.pictures_dropped = DroppedPictures::from_counts(&counts);
            s.recording.bytes_written = tally.sealed_bytes + tally.open_bytes;
            s.recording.segments_sealed = tally.segments_sealed;
            s.recording_error = failing;
        });
    }

    /// Runs until shutdown. Never returns an error: every failure is a state.
    pub async fn run(self) {
        let mut recorder = CameraRecorder::new(self.recorder.clone());
        let mut backoff = Backoff::recorder_default();
        let mut events = Vec::new();
        let mut tally = WriteTally::default();
        let mut shutdown = self.shutdown.clone();
        let mut sessions = 0u64;
        loop {
            if *shutdown.borrow() {
                break;
            }
            self.report_state(LiveState::Connecting, None);
            if sessions > 0 {
                self.registry
                    .update(&self.id, |s| s.recording.reconnects = sessions);
            }
            sessions += 1;
            let outcome = tokio::select! {
                r = self.session(&mut recorder, &mut tally, &mut events, &mut backoff) => r,
                _ = shutdown.changed() => Ok(()),
            };
            recorder.new_session(now_ms(), &mut events);
            self.forward(&recorder, &mut tally, &mut events);
            if *shutdown.borrow() {
                break;
            }
            let reason = match outcome {
                Ok(()) => "stream ended".to_owned(),
                Err(e) => e.to_string(),
            };
            tracing::warn!(camera = %self.id, "camera offline: {reason}");
            self.report_state(LiveState::Offline, Some(reason));
            let delay = backoff.next_delay(&mut rand::thread_rng());
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => {}
            }
        }
        recorder.stop(now_ms(), &mut events);
        self.forward(&recorder, &mut tally, &mut events);
    }

    /// One connection, until it fails.
    async fn session(
        &self,
        recorder: &mut CameraRecorder,
        tally: &mut WriteTally,
        events: &mut Vec<SegmentEvent>,
        backoff: &mut Backoff,
    ) -> Result<(), SourceError> {
        let mut source = Source::connect(&self.spec).await?;
        let mut recording = false;
        loop {
            match source.next().await? {
                SourceItem::Params(p) => {
                    let depth = reorder_depth(&p);
                    self.registry.update(&self.id, |s| {
                        s.codec = Some(p.rfc6381.clone());
                        s.width = Some(u32::from(p.width));
                        s.height = Some(u32::from(p.height));
                        s.recording.reorder_depth = depth.pictures;
                    });
                    if let Some(tap) = &self.analysis {
                        tap.lock().unwrap_or_else(|e| e.into_inner()).params(&p);
                    }
                    self.live.params(&self.id, &p);
                    recorder.set_params(p, now_ms(), events);
                }
                SourceItem::Lost(pictures) => {
                    recorder.lost_in_transit(pictures, now_ms(), events);
                }
                SourceItem::BeforeParameters => recorder.before_parameters(now_ms(), events),
                SourceItem::Frame(frame) => {
                    let now = now_ms();
                    if let Some(tap) = &self.analysis {
                        tap.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .frame(&frame, now);
                    }
                    self.live.frame(&self.id, &frame);
                    // A write error drops the frame (counted, reported as a
                    // loss); the stream goes on and the next key frame
                    // starts a new segment.
                    recorder.push(frame, now, events);
                    self.registry
                        .update(&self.id, |s| s.last_frame_ms = Some(now));
                    if !recording && recorder.is_recording() {
                        recording = true;
                        backoff.reset();
                        self.report_state(LiveState::Recording, None);
                    }
                }
            }
            self.forward(recorder, tally, events);
        }
    }
}
