//! One camera's analysis: frames in, event updates out.

use crate::config::{AnalyzerConfig, ConfigError};
use crate::events::{EventIds, EventKind, Update};
use crate::frame::{Downscaler, LumaFrame, WorkSize};
use crate::grid::{CellGrid, CellMeasures};
use crate::motion::{MotionDetector, MotionFeatures, Threshold};
use crate::raster::Regions;
use crate::scene::{LearningState, Scene, TamperFeatures};
use crate::tracking::{MotionTracker, TamperTracker};

/// A forward jump in presentation time longer than this is a gap in the
/// stream: the motion background and the previous frame are stale.
const STREAM_GAP_MS: i64 = 10_000;

/// Counters and the current state, for debugging and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Frames pushed, well formed or not.
    pub frames_seen: u64,
    /// Frames analysed.
    pub frames_analyzed: u64,
    /// Frames ignored because they were malformed (zero or tiny size, stride
    /// below width, data shorter than `stride * height`).
    pub frames_malformed: u64,
    /// Times the scene was learnt anew because the frame size changed.
    pub relearns: u64,
    /// Frames taken for whole-picture lighting changes (not motion).
    pub lighting_changes: u64,
    /// Where the scene model is: nothing is reported until `Watching`.
    pub learning_state: LearningState,
    /// The analysed picture's width (0 before the first frame).
    pub work_width: usize,
    /// The analysed picture's height (0 before the first frame).
    pub work_height: usize,
    /// The learnt noise floor: mean absolute frame-to-frame difference of a
    /// typical cell, in luma levels at the work size.
    pub noise: f32,
    /// True if the learnt noise is high enough for the noise-based frozen
    /// check (a noise-free picture of an empty room looks frozen). Without
    /// it a freeze is seen only when the picture stops dead while
    /// something moves.
    pub frozen_armed: bool,
    /// The motion detector's view of the last frame.
    pub motion: MotionFeatures,
    /// The tamper evidence of the last frame.
    pub tamper: TamperFeatures,
    /// The kind of the open tamper event, if any.
    pub open_tamper: Option<EventKind>,
}

/// Everything that depends on the frame size; rebuilt (and the scene
/// learnt anew) when it changes.
#[derive(Debug)]
struct SizeState {
    input: (usize, usize),
    size: WorkSize,
    regions: Regions,
    scene: Scene,
    motion: MotionDetector,
    current: Vec<f32>,
    previous: Vec<f32>,
    /// False for the first frame after a (re)start or a gap.
    has_previous: bool,
    measures: CellMeasures,
}

impl SizeState {
    fn new(config: &AnalyzerConfig, input: (usize, usize), size: WorkSize) -> SizeState {
        let pixels = size.pixels();
        let regions = Regions::new(&config.zones, &config.masks, size);
        let grid = CellGrid::new(size);
        let masked_cells = grid.mostly_masked(&regions.masked);
        SizeState {
            input,
            size,
            regions,
            scene: Scene::new(grid, size, masked_cells),
            motion: MotionDetector::new(size),
            current: vec![0.0; pixels],
            previous: vec![0.0; pixels],
            has_previous: false,
            measures: CellMeasures::default(),
        }
    }
}

/// Motion and tamper analysis of one camera's frames.
///
/// Push decoded luma frames in presentation order (about 5 per second is
/// plenty; anything from 1 to 30 works, timing uses `pts_ms`). Nothing is
/// reported during the first few seconds (the scene is being learnt), nor
/// for a few seconds after the frame size changes.
///
/// ```
/// use custos_vision::{Analyzer, AnalyzerConfig, LumaFrame, Update};
///
/// let mut analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
/// let pixels = vec![128u8; 320 * 240];
/// for i in 0..50 {
///     let frame = LumaFrame { width: 320, height: 240, stride: 320, data: &pixels, pts_ms: i * 200 };
///     for update in analyzer.push(&frame) {
///         if let Update::Started(event) = update {
///             println!("{} at {} ms", event.kind.as_str(), event.start_ms);
///         }
///     }
/// }
/// analyzer.finish(10_000);
/// assert_eq!(analyzer.stats().frames_analyzed, 50);
/// ```
#[derive(Debug)]
pub struct Analyzer {
    config: AnalyzerConfig,
    scaler: Downscaler,
    sized: Option<SizeState>,
    ids: EventIds,
    motion_events: MotionTracker,
    tamper_events: TamperTracker,
    last_pts_ms: Option<i64>,
    frames_seen: u64,
    frames_analyzed: u64,
    frames_malformed: u64,
    relearns: u64,
    lighting_changes: u64,
}

impl Analyzer {
    /// An analyzer for one camera; fails on the first invalid field.
    pub fn new(config: AnalyzerConfig) -> Result<Analyzer, ConfigError> {
        config.validate()?;
        Ok(Analyzer {
            config,
            scaler: Downscaler::default(),
            sized: None,
            ids: EventIds::default(),
            motion_events: MotionTracker::default(),
            tamper_events: TamperTracker::default(),
            last_pts_ms: None,
            frames_seen: 0,
            frames_analyzed: 0,
            frames_malformed: 0,
            relearns: 0,
            lighting_changes: 0,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// Analyses one frame; returns what changed (usually nothing).
    ///
    /// Malformed frames are counted and ignored. A frame of another size
    /// than the last ends every open event and starts learning the scene
    /// anew. A frame whose time goes backwards ends every open event (the
    /// stream restarted) but keeps the learnt scene, so a camera turned
    /// while the stream was down is still noticed.
    pub fn push(&mut self, frame: &LumaFrame<'_>) -> Vec<Update> {
        self.frames_seen += 1;
        let mut updates = Vec::new();
        if !frame.is_well_formed() {
            self.frames_malformed += 1;
            return updates;
        }
        let now = frame.pts_ms;
        let elapsed = self.elapsed_since_last(now, &mut updates);
        self.fit_frame_size(frame.width, frame.height, &mut updates);
        let Some(sized) = self.sized.as_mut() else {
            return updates;
        };
        self.last_pts_ms = Some(now);
        self.frames_analyzed += 1;

        self.scaler.downscale(frame, &mut sized.current);
        let first = !sized.has_previous;
        let previous = if first {
            &sized.current
        } else {
            &sized.previous
        };
        sized.scene.grid().measure(
            &sized.current,
            previous,
            &sized.scene.reference.image,
            &mut sized.measures,
        );

        let verdict = if self.config.tamper {
            let open = self.tamper_events.open_kind();
            sized
                .scene
                .judge(&sized.current, &sized.measures, first, open)
        } else {
            None
        };
        let transition = self
            .tamper_events
            .observe(verdict, now, &mut self.ids, &mut updates);
        if transition.started || transition.ended {
            // The picture changed for a reason motion cannot explain; the
            // background must not keep showing the old one.
            sized.motion.reseed(&sized.current);
        }

        if sized.scene.state() == LearningState::Watching {
            let threshold = Threshold::new(self.config.sensitivity, sized.scene.noise_sigma());
            let result = sized.motion.detect(
                &sized.current,
                previous,
                &sized.measures.mean,
                sized.scene.grid(),
                &sized.regions,
                threshold,
                self.config.min_area,
                elapsed,
            );
            self.lighting_changes += u64::from(sized.motion.features().lighting_change);
            self.motion_events.observe(
                result.moving,
                result.zone_bits,
                now,
                self.config.motion_merge_gap_ms,
                &self.config.zones,
                &mut self.ids,
                &mut updates,
            );
        } else {
            sized.motion.learn(&sized.current);
        }

        // The scene is learnt only while nothing is wrong: a tamper, or
        // evidence building towards one, must not be learnt.
        if verdict.is_none() && self.tamper_events.is_quiet() {
            let was_watching = sized.scene.state() == LearningState::Watching;
            sized
                .scene
                .learn(&sized.current, &sized.measures, first, now, elapsed);
            if !was_watching && sized.scene.state() == LearningState::Watching {
                sized.motion.adopt(&sized.scene.reference.image);
            }
        }

        std::mem::swap(&mut sized.current, &mut sized.previous);
        sized.has_previous = true;
        updates
    }

    /// Milliseconds since the last frame (0 after a discontinuity). Time
    /// going backwards means the stream restarted: every open event ends.
    /// A long gap makes the last frame and the motion background stale.
    fn elapsed_since_last(&mut self, now: i64, updates: &mut Vec<Update>) -> i64 {
        match self.last_pts_ms {
            Some(last) if now < last => {
                self.end_all(last, updates);
                0
            }
            Some(last) if now.saturating_sub(last) > STREAM_GAP_MS => {
                self.forget_recent();
                0
            }
            Some(last) => now.saturating_sub(last),
            None => 0,
        }
    }

    /// Prepares for frames of this size: a new size (stream parameters
    /// changed) ends every open event and learns the scene anew.
    fn fit_frame_size(&mut self, width: usize, height: usize, updates: &mut Vec<Update>) {
        if self
            .sized
            .as_ref()
            .is_some_and(|s| s.input == (width, height))
        {
            return;
        }
        if self.sized.is_some() {
            if let Some(last) = self.last_pts_ms {
                self.end_all(last, updates);
            }
            self.relearns += 1;
        }
        let size = self.scaler.configure(width, height, self.config.work_width);
        self.sized = Some(SizeState::new(&self.config, (width, height), size));
    }

    /// Ends every open event: motion at its last moving frame, tamper at
    /// `at_ms` (the end of the file, or when the stream stopped). The learnt
    /// scene is kept; the next frame is compared with it as before.
    pub fn finish(&mut self, at_ms: i64) -> Vec<Update> {
        let mut updates = Vec::new();
        self.end_all(at_ms, &mut updates);
        updates
    }

    /// Forgets the learnt scene and learns it anew from the next frame, for
    /// when a camera was deliberately re-aimed (otherwise a moved camera's
    /// event stays open). Open events are ended at `at_ms`.
    pub fn relearn(&mut self, at_ms: i64) -> Vec<Update> {
        let updates = self.finish(at_ms);
        if self.sized.take().is_some() {
            self.relearns += 1;
        }
        self.last_pts_ms = None;
        updates
    }

    /// Counters, learning state and the last frame's features.
    pub fn stats(&self) -> Stats {
        let sized = self.sized.as_ref();
        Stats {
            frames_seen: self.frames_seen,
            frames_analyzed: self.frames_analyzed,
            frames_malformed: self.frames_malformed,
            relearns: self.relearns,
            lighting_changes: self.lighting_changes,
            learning_state: sized.map_or(LearningState::Learning, |s| s.scene.state()),
            work_width: sized.map_or(0, |s| s.size.width),
            work_height: sized.map_or(0, |s| s.size.height),
            noise: sized.map_or(0.0, |s| s.scene.noise()),
            frozen_armed: sized.is_some_and(|s| s.scene.frozen_armed()),
            motion: sized.map_or_else(MotionFeatures::default, |s| s.motion.features()),
            tamper: sized.map_or_else(TamperFeatures::default, |s| s.scene.features()),
            open_tamper: self.tamper_events.open_kind(),
        }
    }

    fn end_all(&mut self, at_ms: i64, updates: &mut Vec<Update>) {
        self.motion_events.finish(&self.config.zones, updates);
        self.tamper_events.finish(at_ms, updates);
        self.forget_recent();
    }

    /// Forgets what only makes sense for consecutive frames.
    fn forget_recent(&mut self) {
        if let Some(sized) = self.sized.as_mut() {
            sized.has_previous = false;
            sized.motion.forget();
        }
    }
}

#[cfg(test)]
#[path = "analyzer_tests.rs"]
mod tests;
