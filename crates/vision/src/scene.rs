//! The learnt scene of one camera and the per-frame tamper evidence.
//!
//! Methods:
//! - Block-wise reference statistics (brightness, contrast, edge energy)
//!   compared with the live picture, as in Ribnick, Atev, Masoud,
//!   Papanikolopoulos & Voyles 2006, "Real-time detection of camera
//!   tampering" (AVSS), and Saglam & Temizel 2009, "Real-time adaptive camera
//!   tamper detection for video surveillance" (AVSS), whose reference is
//!   updated adaptively. The picture is an 8x6 grid of cells; only cells
//!   with texture in the reference are judged.
//! - Covered: most textured cells lost their contrast (or show nothing but
//!   sensor noise) and the picture is no longer the scene: its brightness
//!   layout no longer matches the reference, or it went dark or flat (its
//!   mean brightness, or the spread of brightness across the picture, fell
//!   to under half the reference's: something dark over the lens, with the
//!   noise a camera's gain puts on it, keeps a faint layout). Or the fine
//!   detail is gone nearly everywhere and the layout no longer matches (a
//!   hand close to the lens: a smooth blob, whose shading keeps some
//!   contrast in each cell). 45 % of the cells losing contrast counts when
//!   it lasts twice as long.
//! - Defocused: edge energy per unit of contrast (a sharpness measure that
//!   gain and offset do not change), both without their noise part, fell in
//!   most of the cells that have fine detail in the reference, while the
//!   brightness layout, the mean brightness and the spread of brightness
//!   across the picture, and most cells' correlation still match: the same
//!   scene, blurred (a blur evens out detail within a cell, not the
//!   differences between cells). Edges alone cannot tell a blur from a
//!   cover: both lose them. Ribnick et al. compare high-frequency energy;
//!   Aksoy, Saglam & Temizel 2013 ("Camera tamper detection using wavelet
//!   analysis for video surveillance") the same idea with wavelets.
//! - Moved: per-cell normalised cross-correlation with the reference picture
//!   fell in most cells that normally correlate; correlation ignores gain
//!   and offset, so lighting does not move the camera. A smaller nudge is
//!   found by a global shift estimate (`shift.rs`: the offset at which the
//!   whole picture matches the reference again), run only when many cells
//!   disagree.
//! - Frozen: even the cell that changed most differs from the previous
//!   frame by far less than the learnt sensor noise of a typical cell
//!   (armed only when the learnt noise is measurably above zero); or, in
//!   footage without noise, the picture stopped dead while something was
//!   moving and stays identical (`stillness.rs`). A noise-free picture of
//!   an empty room that freezes cannot be told from one that does not.
//!
//! Every per-cell limit is the stricter of a fixed definition ("lost 65 % of
//! its contrast") and what this camera's own scene shows as normal: the
//! typical value and spread of each ratio are learnt per cell (`spread.rs`),
//! and a cell only counts when it falls four deviations below its normal. A
//! busy cell (a tree, a screen) thereby needs a larger change to count. The
//! noise, the stillness floor, the texture and detail floors, and the layout
//! limit are all learnt from the scene as well.

use crate::events::EventKind;
use crate::frame::WorkSize;
use crate::grid::{correlation, CellGrid, CellMeasures, CELLS};
use crate::reference::{Reference, ReferenceSamples};
use crate::shift::ShiftEstimator;
use crate::spread::{SpreadSample, Spreads};
use crate::stillness::Stillness;

// Learning.

/// How long the scene is learnt before anything is reported (reference
/// picture, cell statistics, noise), after a start or a new frame size.
pub(crate) const LEARN_MS: i64 = 3000;
/// How long after that the normal spread of each cell's ratios is measured.
pub(crate) const CALIBRATE_MS: i64 = 2000;
/// Each learning phase also needs this many frames (at 1 fps the phases
/// stretch).
const MIN_PHASE_FRAMES: u32 = 3;
/// Learning frames whose noise is kept for its median (5 s at 25 fps).
const MAX_NOISE_SAMPLES: usize = 128;
/// Time constant of the slow update of the reference while the scene is
/// normal: long enough that a tamper building up over seconds is not
/// learnt, short enough to follow daylight.
const REFERENCE_TIME_CONSTANT_MS: f32 = 60_000.0;

// Which cells are judged.

/// A cell is textured enough to judge when its reference contrast is at
/// least this many noise standard deviations...
const TEXTURE_NOISE_FACTOR: f32 = 3.0;
/// ...and at least this many levels.
const MIN_TEXTURE: f32 = 2.0;
/// Cells count as detailed (for the defocus vote) when their reference
/// sharpness is at least this fraction of the upper-quartile cell's.
const DETAIL_FRACTION: f32 = 0.5;
/// A cell takes part in the moved vote only if its normal correlation limit
/// is at least this (cells that never correlate well cannot show a change).
const RELIABLE_CORRELATION: f32 = 0.15;
/// Fewer judged cells than this and the picture is too flat to judge
/// covered, defocused or moved.
const MIN_JUDGED_CELLS: usize = 6;

// When a cell shows evidence.

/// A cell lost its contrast when its standard deviation fell below this
/// fraction of the reference's...
const LOST_CONTRAST: f32 = 0.35;
/// ...or to at most this many noise standard deviations (nothing but noise
/// left; textured cells have at least three).
const NOISE_ONLY_FACTOR: f32 = 2.0;
/// A cell is blurred when its sharpness fell below this fraction of the
/// reference's.
const BLURRED_SHARPNESS: f32 = 0.75;
/// A cell no longer matches when its correlation with the reference fell
/// below this.
const MISMATCH_CORRELATION: f32 = 0.5;

// When the picture shows a tamper.

/// Covered: this fraction of the textured cells lost their contrast...
const COVERED_FRACTION: f32 = 0.7;
/// ...or this fraction of the detailed cells lost their detail, the
/// picture as a whole kept less than `SMOOTH_EDGES` of the reference's
/// edge energy, and the layout no longer matches (a smooth blob over the
/// lens: a hand's shading keeps some contrast in every cell, but no
/// edges; a camera turned to another scene keeps its edges)...
const COVERED_DETAIL_FRACTION: f32 = 0.85;
const SMOOTH_EDGES: f32 = 0.3;
/// ...or this fraction, for longer (someone large and close looks alike
/// for a moment).
const PARTLY_COVERED_FRACTION: f32 = 0.45;
const PARTLY_COVERED_SUSTAIN_MS: i64 = 4000;
/// A picture whose mean brightness, or whose spread of brightness across
/// the cells, fell below this fraction of the reference's went dark or
/// flat: covered if its contrast is gone, never defocused (a blur keeps
/// both near 1; a lighting change that halves them leaves the cells'
/// contrast above `LOST_CONTRAST`).
const DIMMED: f32 = 0.5;
/// Defocused: this fraction of the detailed cells lost their sharpness...
const DEFOCUSED_FRACTION: f32 = 0.5;
/// ...while fewer than this fraction of the cells mismatch.
const DEFOCUSED_MAX_MISMATCH: f32 = 0.5;
/// The brightness layout still matches when the cell means correlate with
/// the reference's at least as well as usual for this camera, bounded to
/// this range (a blur keeps it near 1, a turned camera rarely above 0.75).
const LAYOUT_KEPT: (f32, f32) = (0.8, 0.95);
/// Moved: this fraction of the reliable cells mismatch...
const MOVED_FRACTION: f32 = 0.75;
/// ...or at least this fraction do and a global shift explains the picture:
const SHIFT_CHECK_FRACTION: f32 = 0.3;
/// the shifted reference correlates at least this well,
const SHIFT_CORRELATION: f32 = 0.6;
/// leaves at most 1/this of the misfit (1 - correlation) of the unshifted
/// one,
const SHIFT_GAIN: f32 = 2.0;
/// at an offset of at least this many work pixels (x plus y).
const SHIFT_MIN_PIXELS: isize = 2;
/// Frozen: even the cell that changed most differs from the previous frame
/// by less than this fraction of the learnt sensor noise of a typical
/// cell...
const FROZEN_RATIO: f32 = 0.2;
/// ...while less than this fraction of the cells lost contrast (a still
/// picture that lost its texture in part is a cover).
const FROZEN_MAX_CONTRAST_LOST: f32 = 0.3;
/// Frozen is armed only when the learnt sensor noise (mean absolute frame
/// difference of a typical cell, luma levels) is at least this: below it,
/// an empty room and a frozen picture look alike.
const FROZEN_MIN_NOISE: f32 = 0.25;
/// A picture that stopped dead is frozen when at least this share of the
/// pixels of the cells that changed last differ from the reference picture
/// (people left standing mid-stride)...
const STANDING_FRACTION: f32 = 0.02;
/// ...by more than this many luma levels, or this many noise deviations.
const STANDING_LEVEL: f32 = 12.0;
const STANDING_NOISE_FACTOR: f32 = 5.0;
/// While an event of the same kind is open, the fraction needed drops by
/// this (hysteresis: a flickering verdict must not end and restart it).
const HYSTERESIS: f32 = 0.15;

// Noise arithmetic.

/// Mean |dx| + |dy| of white noise per unit of its standard deviation
/// (2 × 2/sqrt(pi)).
const NOISE_GRADIENT_PER_SIGMA: f32 = 2.257;
/// Mean absolute difference of two frames' noise is 2/sqrt(pi) times its
/// standard deviation (Gaussian noise).
const ABS_DIFF_PER_SIGMA: f32 = 1.128;

/// Where the scene model is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearningState {
    /// Learning the reference picture, cell statistics and noise floor.
    Learning,
    /// Measuring the normal spread of the cell ratios against the reference.
    Calibrating,
    /// Learnt: tamper evidence is judged, motion is detected.
    Watching,
}

/// The tamper evidence of one frame (all zero while learning).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TamperFeatures {
    /// Cells with enough texture in the reference to judge.
    pub textured_cells: usize,
    /// Fraction of the textured cells that lost their contrast.
    pub contrast_lost: f32,
    /// Fraction of the detailed cells (fine structure in the reference)
    /// that lost their sharpness or contrast.
    pub softened: f32,
    /// Fraction of the reliable textured cells whose structure no longer
    /// matches the reference.
    pub mismatched: f32,
    /// Correlation of the cells' mean brightness with the reference's.
    pub layout: f32,
    /// Mean brightness of the picture relative to the reference's.
    pub brightness: f32,
    /// Spread of the cells' mean brightness across the picture (their
    /// standard deviation) relative to the reference's: a blur keeps it,
    /// a cover flattens it.
    pub spread: f32,
    /// Edge energy of the textured cells (sensor noise part removed)
    /// relative to the reference's: low when the whole picture is smooth.
    pub edges: f32,
    /// The global offset (work pixels, x and y) at which the picture best
    /// matches the reference, when the cells disagreed enough to look for
    /// one.
    pub shift: Option<(i32, i32)>,
    /// True if that offset explains the picture (a nudged camera).
    pub shifted: bool,
    /// Mean absolute difference from the previous frame of the cell that
    /// changed most (luma levels).
    pub frame_difference: f32,
    /// True if the picture stopped dead while something was moving and has
    /// not changed since (a frozen picture, noise or not).
    pub stopped: bool,
}

/// The learnt scene and the judgement of each frame against it.
#[derive(Debug)]
pub(crate) struct Scene {
    grid: CellGrid,
    size: WorkSize,
    shift: ShiftEstimator,
    masked_cells: [bool; CELLS],
    state: LearningState,
    phase_started_ms: i64,
    phase_frames: u32,
    /// The learnt scene.
    pub(crate) reference: Reference,
    /// What the learning phase keeps for the reference's medians.
    samples: ReferenceSamples,
    spreads: Spreads,
    /// Learnt median cell frame difference (luma levels): the sensor noise
    /// of a typical cell.
    noise: f32,
    /// Each learning frame's median cell difference; `noise` is their
    /// median (a cover coming or going during learning must not count).
    noise_samples: Vec<f32>,
    /// Scratch for that median.
    noise_scratch: Vec<f32>,
    /// Whether the picture stopped dead (frozen without sensor noise).
    stillness: Stillness,
    features: TamperFeatures,
    /// Scratch for the detail floor.
    sorted: [f32; CELLS],
}

/// The per-frame judgement: which tamper the frame shows, how strongly,
/// and how long such evidence must last before it is an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Verdict {
    pub kind: EventKind,
    pub score: f32,
    pub sustain_ms: i64,
}

impl Verdict {
    /// Evidence of `kind` with its usual debounce. A person walking close
    /// covers much of the picture for a second or two; tampering lasts.
    /// Frozen and moved need longer: a person standing still in front of
    /// the camera looks briefly like either.
    fn new(kind: EventKind, score: f32) -> Verdict {
        let sustain_ms = match kind {
            EventKind::Covered => 2000,
            EventKind::Defocused => 2500,
            EventKind::Moved | EventKind::Frozen | EventKind::Motion => 3000,
        };
        Verdict {
            kind,
            score,
            sustain_ms,
        }
    }
}

impl Scene {
    /// A scene that starts learning at the first frame observed.
    /// `masked_cells` are left out of the frozen check (a burnt-in clock
    /// under a mask keeps changing while the picture is frozen).
    pub(crate) fn new(grid: CellGrid, size: WorkSize, masked_cells: [bool; CELLS]) -> Scene {
        let pixels = size.pixels();
        Scene {
            grid,
            size,
            shift: ShiftEstimator::new(size),
            masked_cells,
            state: LearningState::Learning,
            phase_started_ms: 0,
            phase_frames: 0,
            reference: Reference::new(pixels),
            samples: ReferenceSamples::new(pixels, LEARN_MS),
            spreads: Spreads::default(),
            noise: 0.0,
            noise_samples: Vec::with_capacity(MAX_NOISE_SAMPLES),
            noise_scratch: Vec::with_capacity(MAX_NOISE_SAMPLES),
            stillness: Stillness::default(),
            features: TamperFeatures::default(),
            sorted: [0.0; CELLS],
        }
    }

    pub(crate) fn grid(&self) -> &CellGrid {
        &self.grid
    }

    pub(crate) fn state(&self) -> LearningState {
        self.state
    }

    /// The learnt noise floor: mean absolute frame difference of a typical
    /// cell, in luma levels.
    pub(crate) fn noise(&self) -> f32 {
        self.noise
    }

    /// The learnt noise as a standard deviation (luma levels).
    pub(crate) fn noise_sigma(&self) -> f32 {
        self.noise / ABS_DIFF_PER_SIGMA
    }

    /// True once the sensor noise is high enough to tell a frozen picture
    /// from a still one.
    pub(crate) fn frozen_armed(&self) -> bool {
        self.noise >= FROZEN_MIN_NOISE
    }

    pub(crate) fn features(&self) -> TamperFeatures {
        self.features
    }

    /// Judges one frame (`image`, work size, measured as `measures`).
    /// `first` is true for the first frame after a (re)start (it has no
    /// previous frame to compare with); `open` is the kind of the tamper
    /// event currently open, for hysteresis. Returns `None` while learning.
    pub(crate) fn judge(
        &mut self,
        image: &[f32],
        measures: &CellMeasures,
        first: bool,
        open: Option<EventKind>,
    ) -> Option<Verdict> {
        self.features = TamperFeatures::default();
        if self.state != LearningState::Watching {
            return None;
        }
        // Masked cells are left out of the stillness checks: a burnt-in
        // clock under a mask keeps changing while the picture is frozen.
        let differences: [f32; CELLS] = std::array::from_fn(|cell| {
            if self.masked_cells[cell] {
                0.0
            } else {
                measures.difference[cell]
            }
        });
        // The cell that changed most: near zero only when the whole
        // picture stands still (a walking person or sensor noise anywhere
        // raises it).
        let frame_difference = if first {
            self.noise
        } else {
            differences.iter().fold(0.0f32, |a, &b| a.max(b))
        };
        if self.stillness.observe((!first).then_some(&differences)) {
            let standing = self.left_standing(image);
            self.stillness.confirm(standing >= STANDING_FRACTION);
        }
        let noise_sigma = self.noise_sigma();
        let texture_floor = (TEXTURE_NOISE_FACTOR * noise_sigma).max(MIN_TEXTURE);
        let detail_floor = self.detail_floor(texture_floor);
        let (mut textured, mut lost) = (0usize, 0usize);
        let (mut detailed, mut softened) = (0usize, 0usize);
        let (mut reliable, mut mismatched) = (0usize, 0usize);
        let noise_gradient = NOISE_GRADIENT_PER_SIGMA * noise_sigma;
        let (mut edges, mut reference_edges) = (0.0f32, 0.0f32);
        for cell in 0..CELLS {
            let reference_deviation = self.reference.deviation[cell];
            if reference_deviation < texture_floor {
                continue;
            }
            textured += 1;
            edges += (measures.gradient[cell] - noise_gradient).max(0.0);
            reference_edges += (self.reference.gradient[cell] - noise_gradient).max(0.0);
            // Lost: far below the reference's contrast, or nothing left but
            // sensor noise.
            let contrast = self.contrast_ratio(measures, cell);
            let contrast_lost = contrast
                < LOST_CONTRAST.min(self.spreads.contrast[cell].low_limit())
                || measures.deviation[cell] <= NOISE_ONLY_FACTOR * noise_sigma;
            lost += usize::from(contrast_lost);
            if self.reference_sharpness(cell).unwrap_or(0.0) >= detail_floor {
                detailed += 1;
                let blurred = !contrast_lost
                    && self.sharpness_ratio(measures, cell).is_some_and(|ratio| {
                        ratio < BLURRED_SHARPNESS.min(self.spreads.sharpness[cell].low_limit())
                    });
                softened += usize::from(contrast_lost || blurred);
            }
            let correlation_limit =
                MISMATCH_CORRELATION.min(self.spreads.correlation[cell].low_limit());
            if correlation_limit >= RELIABLE_CORRELATION {
                reliable += 1;
                mismatched += usize::from(measures.correlation[cell] < correlation_limit);
            }
        }
        let fraction = |count: usize, of: usize| {
            if of >= MIN_JUDGED_CELLS {
                count as f32 / of as f32
            } else {
                0.0
            }
        };
        let layout = correlation(&measures.mean, &self.reference.mean);
        let (mean, spread) = mean_and_spread(&measures.mean);
        let (reference_mean, reference_spread) = mean_and_spread(&self.reference.mean);
        self.features = TamperFeatures {
            textured_cells: textured,
            contrast_lost: fraction(lost, textured),
            softened: fraction(softened, detailed),
            mismatched: fraction(mismatched, reliable),
            layout,
            brightness: mean / reference_mean.max(1.0),
            spread: spread / reference_spread.max(1.0),
            edges: edges / reference_edges.max(f32::EPSILON),
            shift: None,
            shifted: false,
            frame_difference,
            stopped: self.stillness.stopped(),
        };
        self.verdict(image, open)
    }

    /// The share of the pixels of the cells that changed last which differ
    /// from the reference picture: what was moving there and is left
    /// standing now the picture stopped.
    fn left_standing(&self, image: &[f32]) -> f32 {
        let level = (STANDING_NOISE_FACTOR * self.noise_sigma()).max(STANDING_LEVEL);
        let (mut standing, mut pixels) = (0usize, 0usize);
        for (cell, _) in self
            .stillness
            .changed_cells()
            .iter()
            .enumerate()
            .filter(|(_, &changed)| changed)
        {
            let rows = self.grid.cell_rows(image, cell);
            let reference_rows = self.grid.cell_rows(&self.reference.image, cell);
            for (row, reference_row) in rows.zip(reference_rows) {
                pixels += row.len();
                standing += row
                    .iter()
                    .zip(reference_row)
                    .filter(|(&value, &reference)| (value - reference).abs() > level)
                    .count();
            }
        }
        standing as f32 / pixels.max(1) as f32
    }

    /// Looks for a global offset that explains the picture; records it in
    /// the features.
    fn estimate_shift(&mut self, image: &[f32]) -> bool {
        let shift = self.shift.estimate(image, &self.reference.image, self.size);
        let misfit = |correlation: f32| (1.0 - correlation).max(1e-3);
        let shifted = shift.dx.abs() + shift.dy.abs() >= SHIFT_MIN_PIXELS
            && shift.correlation >= SHIFT_CORRELATION
            && misfit(shift.correlation_at_zero) >= SHIFT_GAIN * misfit(shift.correlation);
        self.features.shift = Some((shift.dx as i32, shift.dy as i32));
        self.features.shifted = shifted;
        shifted
    }

    /// The tamper the current features show, in order of precedence: one
    /// cause gives one kind (a black cover is also a frozen, unsharp and
    /// mismatched picture, but it is reported as covered only).
    fn verdict(&mut self, image: &[f32], open: Option<EventKind>) -> Option<Verdict> {
        let f = self.features;
        let needed = |kind: EventKind, fraction: f32| {
            if open == Some(kind) {
                fraction - HYSTERESIS
            } else {
                fraction
            }
        };
        let layout_kept = f.layout >= self.layout_limit();
        // Dark or flat: a cover, whatever faint layout its noise or a
        // lighting change left. A blur keeps brightness and spread.
        let dimmed = f.brightness < DIMMED || f.spread < DIMMED;
        if !layout_kept || dimmed {
            if f.contrast_lost >= needed(EventKind::Covered, COVERED_FRACTION) {
                return Some(Verdict::new(EventKind::Covered, f.contrast_lost));
            }
            if !layout_kept
                && f.softened >= needed(EventKind::Covered, COVERED_DETAIL_FRACTION)
                && f.edges < SMOOTH_EDGES
            {
                // No detail left anywhere and not the scene's layout: a
                // smooth blob over the lens, not a blur of the scene.
                return Some(Verdict::new(EventKind::Covered, f.softened));
            }
            if f.contrast_lost >= needed(EventKind::Covered, PARTLY_COVERED_FRACTION) {
                // Part of the picture blacked out: as likely someone large
                // and close, so it must last longer.
                return Some(Verdict {
                    sustain_ms: PARTLY_COVERED_SUSTAIN_MS,
                    ..Verdict::new(EventKind::Covered, f.contrast_lost)
                });
            }
        }
        // A blur keeps the brightness layout and most cells' correlation
        // with the reference; a new view keeps neither. Once a defocus is
        // open, someone walking through the blurred picture changes the
        // layout and some cells, not the blur.
        let still_the_scene = !dimmed
            && if open == Some(EventKind::Defocused) {
                f.mismatched < MOVED_FRACTION
            } else {
                layout_kept && f.mismatched < DEFOCUSED_MAX_MISMATCH
            };
        if f.softened >= needed(EventKind::Defocused, DEFOCUSED_FRACTION) && still_the_scene {
            return Some(Verdict::new(EventKind::Defocused, f.softened));
        }
        // The shift search costs more than everything else together: only
        // when the cells alone do not decide.
        if f.mismatched >= needed(EventKind::Moved, MOVED_FRACTION)
            || (f.mismatched >= SHIFT_CHECK_FRACTION && self.estimate_shift(image))
        {
            return Some(Verdict::new(EventKind::Moved, f.mismatched));
        }
        let frozen_limit = FROZEN_RATIO * self.noise;
        if f.contrast_lost < FROZEN_MAX_CONTRAST_LOST {
            if self.frozen_armed() && f.frame_difference <= frozen_limit {
                return Some(Verdict::new(
                    EventKind::Frozen,
                    1.0 - f.frame_difference / frozen_limit,
                ));
            }
            if f.stopped {
                return Some(Verdict::new(EventKind::Frozen, 1.0));
            }
        }
        None
    }

    /// Learns from one frame: while learning, keeps it for the medians of
    /// the reference and the spreads; while watching, follows the scene
    /// slowly if the frame looks clearly normal. Call only for frames that
    /// showed no tamper evidence (and all frames while learning).
    pub(crate) fn learn(
        &mut self,
        image: &[f32],
        measures: &CellMeasures,
        first: bool,
        now_ms: i64,
        elapsed_ms: i64,
    ) {
        // A phase starts with its first frame, or again if time went back
        // (a restarted stream).
        if self.phase_frames == 0 || now_ms < self.phase_started_ms {
            self.phase_started_ms = now_ms;
        }
        self.phase_frames += 1;
        let watching = self.state == LearningState::Watching;
        // While watching, only clearly normal frames teach the scene:
        // evidence too weak for a verdict (a slight blur, a partial cover)
        // must not be learnt either, or a slow tamper would never show.
        if watching && !self.clearly_normal() {
            return;
        }
        if !first {
            self.learn_noise(measures, elapsed_ms);
        }
        match self.state {
            LearningState::Learning => self.samples.collect(image, measures, now_ms),
            // The spreads are measured against the settled reference:
            // robustly over the calibration, slowly after.
            LearningState::Calibrating => self.spreads.collect(self.spread_sample(measures)),
            LearningState::Watching => {
                let rate = crate::rate(elapsed_ms, REFERENCE_TIME_CONSTANT_MS);
                self.reference.follow(image, measures, rate);
                let sample = self.spread_sample(measures);
                self.spreads.follow(&sample, rate);
            }
        }
        let phase_done = |phase_ms: i64| {
            now_ms.saturating_sub(self.phase_started_ms) >= phase_ms
                && self.phase_frames >= MIN_PHASE_FRAMES
        };
        match self.state {
            LearningState::Learning if phase_done(LEARN_MS) => {
                self.samples.settle(&mut self.reference);
                self.state = LearningState::Calibrating;
                self.phase_frames = 0;
            }
            LearningState::Calibrating if phase_done(CALIBRATE_MS) => {
                self.spreads.settle();
                self.state = LearningState::Watching;
            }
            _ => {}
        }
    }

    /// Learns the sensor noise: the median over the cells of their mean
    /// absolute difference from the previous frame (people moving in a few
    /// cells do not count).
    fn learn_noise(&mut self, measures: &CellMeasures, elapsed_ms: i64) {
        let difference = crate::median(&mut measures.difference.clone());
        if self.state == LearningState::Watching {
            // Capped, so one odd frame (a lighting step) cannot inflate it.
            let sample = difference.min(2.0 * self.noise + 0.5);
            let rate = crate::rate(elapsed_ms, REFERENCE_TIME_CONSTANT_MS);
            self.noise += rate * (sample - self.noise);
        } else if self.noise_samples.len() < MAX_NOISE_SAMPLES {
            self.noise_samples.push(difference);
            self.noise_scratch.clear();
            self.noise_scratch.extend_from_slice(&self.noise_samples);
            self.noise = crate::median(&mut self.noise_scratch);
        }
    }

    /// This frame's measures relative to the reference, whose normal
    /// spread is learnt.
    fn spread_sample(&self, measures: &CellMeasures) -> SpreadSample {
        SpreadSample {
            contrast: std::array::from_fn(|cell| self.contrast_ratio(measures, cell)),
            sharpness: std::array::from_fn(|cell| {
                self.sharpness_ratio(measures, cell).unwrap_or(f32::NAN)
            }),
            correlation: measures.correlation,
            layout: correlation(&measures.mean, &self.reference.mean),
        }
    }

    /// True if the last judged frame showed at most half of any evidence
    /// needed for a verdict.
    fn clearly_normal(&self) -> bool {
        let f = &self.features;
        f.contrast_lost < COVERED_FRACTION / 2.0
            && f.softened < DEFOCUSED_FRACTION / 2.0
            && f.mismatched < MOVED_FRACTION / 2.0
            && f.layout >= self.layout_limit()
    }

    /// The layout still matches above this: learnt, within fixed bounds
    /// (a blur keeps it near 1, a turned camera rarely above 0.75).
    fn layout_limit(&self) -> f32 {
        self.spreads
            .layout
            .low_limit()
            .clamp(LAYOUT_KEPT.0, LAYOUT_KEPT.1)
    }

    /// This frame's contrast of a cell relative to the reference's, both
    /// without their sensor-noise part (so a covered lens, which shows only
    /// noise, has none).
    fn contrast_ratio(&self, measures: &CellMeasures, cell: usize) -> f32 {
        let noise_variance = self.noise_sigma().powi(2);
        let signal = |deviation: f32| (deviation * deviation - noise_variance).max(0.0).sqrt();
        signal(measures.deviation[cell]) / signal(self.reference.deviation[cell]).max(f32::EPSILON)
    }

    /// The reference sharpness of a cell; `None` when too flat to say.
    fn reference_sharpness(&self, cell: usize) -> Option<f32> {
        sharpness(
            self.reference.gradient[cell],
            self.reference.deviation[cell],
            self.noise_sigma(),
        )
    }

    /// Cells at least this sharp in the reference have fine detail that a
    /// blur removes: half the sharpness of the upper quartile of the
    /// textured cells. Smooth cells (a wall's gradient, the sky) keep their
    /// sharpness under blur and would dilute the evidence; a fixed level
    /// would depend on the work size and the scene.
    fn detail_floor(&mut self, texture_floor: f32) -> f32 {
        let mut count = 0;
        for cell in 0..CELLS {
            if self.reference.deviation[cell] >= texture_floor {
                self.sorted[count] = self.reference_sharpness(cell).unwrap_or(0.0);
                count += 1;
            }
        }
        if count == 0 {
            return f32::INFINITY;
        }
        let values = &mut self.sorted[..count];
        values.sort_unstable_by(f32::total_cmp);
        DETAIL_FRACTION * values[count * 3 / 4]
    }

    /// This frame's sharpness of a cell relative to the reference's; `None`
    /// when either is too flat to say.
    fn sharpness_ratio(&self, measures: &CellMeasures, cell: usize) -> Option<f32> {
        let current = sharpness(
            measures.gradient[cell],
            measures.deviation[cell],
            self.noise_sigma(),
        )?;
        Some(current / self.reference_sharpness(cell)?.max(f32::EPSILON))
    }
}

/// The mean and standard deviation of the cells' mean brightness.
fn mean_and_spread(cell_means: &[f32; CELLS]) -> (f32, f32) {
    let count = CELLS as f32;
    let mean = cell_means.iter().sum::<f32>() / count;
    let variance = cell_means
        .iter()
        .map(|&value| (value - mean) * (value - mean))
        .sum::<f32>()
        / count;
    (mean, variance.sqrt())
}

/// Edge energy per unit of contrast, both without their sensor-noise part:
/// unchanged by gain and offset, lowered by blur. White noise of standard
/// deviation n adds about 2.26 n to the mean |dx| + |dy| and n² to the
/// variance. `None` when the cell is too flat to say.
fn sharpness(gradient: f32, deviation: f32, noise_sigma: f32) -> Option<f32> {
    let signal_variance = deviation * deviation - noise_sigma * noise_sigma;
    if signal_variance < MIN_TEXTURE * MIN_TEXTURE {
        return None;
    }
    let signal_gradient = (gradient - NOISE_GRADIENT_PER_SIGMA * noise_sigma).max(0.0);
    Some(signal_gradient / signal_variance.sqrt())
}
