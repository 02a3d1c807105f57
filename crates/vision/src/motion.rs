//! Motion: a running-average background, a threshold from sensitivity and
//! the learnt noise, a 3x3 dilation and connected components, with global
//! lighting changes compensated and, when too large to compensate,
//! recognised and absorbed.
//!
//! The background model is the classic selective running average (see e.g.
//! Piccardi 2004, "Background subtraction techniques: a review"): pixels
//! of a blob that is moving right now (differing from the previous frame
//! too) are learnt slowly, so passers-by do not leave trails in the
//! background; still pixels, including someone who stopped or the ghost of
//! someone who was there at the start, are learnt within seconds.
//!
//! Global lighting is handled in two steps. First, the gain and offset that
//! map the background's grid-cell means onto the frame's are fitted (least
//! squares, refitted without outlier cells so people do not skew it). If
//! most cells agree with a fit that is not the identity, the change is
//! global, and the background is tone-mapped onto the frame by histogram
//! specification (matching the cumulative histograms, Gonzalez & Woods,
//! "Digital Image Processing", ch. 3): unlike the linear fit this follows
//! clipping and non-linear camera curves exactly. That absorbs auto
//! exposure and brightness steps and keeps the background consistent with
//! the current light. Second, if most of the picture still differs while
//! its structure is preserved (per-cell correlation with the background),
//! the change is taken for lighting all the same and the background is
//! reseeded instead of reporting motion. A large occluder (a person close
//! to the lens) fails the first test (too few cells agree) and the second
//! (its cells lose their structure).

use crate::frame::WorkSize;
use crate::grid::{CellGrid, CellMeasures, CELLS};
use crate::raster::Regions;
use crate::rate;

/// Time constant of the background for pixels not moving.
const BACKGROUND_TIME_CONSTANT_MS: f32 = 5_000.0;
/// Time constant for foreground pixels that are still (a person who
/// stopped, a ghost).
const STILL_FOREGROUND_TIME_CONSTANT_MS: f32 = 20_000.0;
/// A pixel's own variance is learnt from differences up to this many times
/// the threshold floor (a passer-by must not make it insensitive).
const VARIANCE_CAP_FACTOR: f32 = 4.0;
/// Time constant for foreground pixels moving right now (slow, so people
/// walking by are not learnt).
const MOVING_FOREGROUND_TIME_CONSTANT_MS: f32 = 30_000.0;
/// When at least this fraction of the unmasked picture differs after the
/// gain compensation, check whether it is a lighting change.
const LIGHTING_CHECK_FRACTION: f32 = 0.6;
/// A gain/offset fit is used only if at least this fraction of the cells
/// agree with it...
const GAIN_FIT_AGREEMENT: f32 = 0.6;
/// ...within this many luma levels (plus 5 % of the level).
const GAIN_FIT_TOLERANCE: f32 = 3.0;
/// A fit this close to the identity is not applied (it is noise): gain
/// within 3 %, offset within two levels.
const GAIN_FIT_IDENTITY: (f32, f32) = (0.03, 2.0);
/// A global change this large (gain off by 10 %, or offset by 8 levels) is
/// a lighting step: the background is reseeded, not tone-mapped.
const LIGHTING_STEP: (f32, f32) = (0.1, 8.0);
/// Histogram bins (one per luma level).
const LEVELS: usize = 256;
/// A lighting change keeps the structure: at least this fraction of the
/// textured cells still correlate with the background...
const LIGHTING_STRUCTURE_FRACTION: f32 = 0.7;
/// ...at least this well.
const LIGHTING_CORRELATION: f32 = 0.5;
/// Cells flatter than this (standard deviation, luma levels) in the
/// background say nothing about structure.
const TEXTURED_DEVIATION: f32 = 2.0;
/// Gain estimates outside this range are not lighting; they are clamped.
const GAIN_RANGE: (f32, f32) = (0.4, 2.5);

/// What the motion detector saw in the last frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MotionFeatures {
    /// Luma difference (work-size levels) above which a pixel counts as
    /// changed.
    pub threshold: f32,
    /// Gain of the lighting compensation (current ≈ gain × background + offset).
    pub gain: f32,
    /// Offset of the lighting compensation, in luma levels.
    pub offset: f32,
    /// Fraction of the unmasked picture that changed (before dilation).
    pub changed: f32,
    /// Fraction of the unmasked picture covered by blobs of at least
    /// `min_area` (the motion score; 0 means no motion).
    pub moving: f32,
    /// True if this frame was taken for a lighting change and absorbed.
    pub lighting_change: bool,
}

/// The outcome of one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct MotionResult {
    /// Fraction of the unmasked picture covered by blobs kept.
    pub moving: f32,
    /// Zones touched by the blobs kept.
    pub zone_bits: u64,
}

/// The motion detector of one work size.
#[derive(Debug)]
pub(crate) struct MotionDetector {
    size: WorkSize,
    background: Vec<f32>,
    /// Per pixel: the learnt variance of its difference from the background
    /// (compression flicker on fine detail, leaves, a screen), so such
    /// pixels need a larger change to count (a running Gaussian average,
    /// Wren, Azarbayejani, Darrell & Pentland 1997, "Pfinder").
    variance: Vec<f32>,
    /// Per pixel: 1 where the difference passed the threshold.
    changed: Vec<u8>,
    /// `changed` after the 3x3 dilation; 2 once visited by the labelling.
    dilated: Vec<u8>,
    /// Horizontal half of the dilation.
    scratch: Vec<u8>,
    /// Flood-fill stack of pixel indices.
    stack: Vec<u32>,
    background_means: [f32; CELLS],
    structure: CellMeasures,
    seeded: bool,
    /// Frames averaged by `learn` since seeding.
    learned_frames: u32,
    features: MotionFeatures,
}

impl MotionDetector {
    pub(crate) fn new(size: WorkSize) -> MotionDetector {
        let pixels = size.pixels();
        MotionDetector {
            size,
            background: vec![0.0; pixels],
            variance: vec![0.0; pixels],
            changed: vec![0; pixels],
            dilated: vec![0; pixels],
            scratch: vec![0; pixels],
            stack: Vec::with_capacity(pixels),
            background_means: [0.0; CELLS],
            structure: CellMeasures::default(),
            seeded: false,
            learned_frames: 0,
            features: MotionFeatures::default(),
        }
    }

    pub(crate) fn features(&self) -> MotionFeatures {
        self.features
    }

    /// Makes `image` the background (after a lighting change, a tamper
    /// starting or ending, or a gap in the stream).
    pub(crate) fn reseed(&mut self, image: &[f32]) {
        self.background.copy_from_slice(image);
        self.seeded = true;
    }

    /// Forgets the background; the next frame seeds it.
    pub(crate) fn forget(&mut self) {
        self.seeded = false;
    }

    /// Learns `image` into the background without detecting anything
    /// (during the scene's learning period): an average of the frames so
    /// far, and each pixel's variance around it.
    pub(crate) fn learn(&mut self, image: &[f32]) {
        self.features = MotionFeatures::default();
        if !self.seeded {
            self.reseed(image);
            self.learned_frames = 1;
            return;
        }
        self.learned_frames += 1;
        let rate = 1.0 / self.learned_frames as f32;
        for ((background, variance), &value) in self
            .background
            .iter_mut()
            .zip(&mut self.variance)
            .zip(image)
        {
            let difference = value - *background;
            *background += rate * difference;
            *variance += rate * (difference * difference - *variance);
        }
    }

    /// Takes `reference` (the scene's median of the learning frames, where
    /// passers-by left no trace) as the background once learning is over;
    /// the learnt variance stays.
    pub(crate) fn adopt(&mut self, reference: &[f32]) {
        self.background.copy_from_slice(reference);
        self.seeded = true;
    }

    /// Detects motion in `image` (work size) and learns it into the
    /// background. `previous` is the frame before (or `image` itself after a
    /// gap).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn detect(
        &mut self,
        image: &[f32],
        previous: &[f32],
        image_means: &[f32; CELLS],
        grid: &CellGrid,
        regions: &Regions,
        threshold: Threshold,
        min_area: f32,
        elapsed_ms: i64,
    ) -> MotionResult {
        self.features = MotionFeatures {
            threshold: threshold.frame,
            gain: 1.0,
            ..Default::default()
        };
        if !self.seeded || regions.unmasked_pixels == 0 {
            self.reseed(image);
            return MotionResult::default();
        }
        grid.means(&self.background, &mut self.background_means);
        if let Some(fit) = fit_gain_offset(image_means, &self.background_means) {
            let (gain, offset) = (fit.gain, fit.offset);
            self.features.gain = gain;
            self.features.offset = offset;
            if (gain - 1.0).abs() > LIGHTING_STEP.0 || offset.abs() > LIGHTING_STEP.1 {
                // A step (lamps switched): what the old background knew is
                // stale, clipped highlights included.
                self.features.lighting_change = true;
                self.reseed(image);
                return MotionResult::default();
            }
            if (gain - 1.0).abs() > GAIN_FIT_IDENTITY.0 || offset.abs() > GAIN_FIT_IDENTITY.1 {
                self.match_background_tones(image, grid, &fit.agreeing);
            }
        }

        let mut changed_count = 0usize;
        let frame_limit = threshold.frame * threshold.frame;
        let pixel_factor = threshold.noise_factor * threshold.noise_factor;
        for ((((changed, &value), &background), &variance), &masked) in self
            .changed
            .iter_mut()
            .zip(image)
            .zip(&self.background)
            .zip(&self.variance)
            .zip(&regions.masked)
        {
            let difference = value - background;
            let limit = frame_limit.max(pixel_factor * variance);
            let is_changed = !masked && difference * difference > limit;
            *changed = u8::from(is_changed);
            changed_count += usize::from(is_changed);
        }
        let unmasked = regions.unmasked_pixels as f32;
        self.features.changed = changed_count as f32 / unmasked;

        if self.features.changed >= LIGHTING_CHECK_FRACTION && self.structure_preserved(image, grid)
        {
            self.features.lighting_change = true;
            self.reseed(image);
            return MotionResult::default();
        }

        self.dilate(&regions.masked);
        let min_pixels = ((min_area * unmasked).ceil() as usize).max(1);
        let result = self.label_blobs(regions, min_pixels);
        self.features.moving = result.moving;

        self.learn_background(image, previous, threshold, elapsed_ms);
        result
    }

    /// Updates the background and the per-pixel variance: quickly where
    /// nothing moves, slowly where a blob is moving right now (its pixels
    /// also differ from the previous frame), at a middle pace where a blob
    /// stands still. The variance does not learn from moving blobs.
    fn learn_background(
        &mut self,
        image: &[f32],
        previous: &[f32],
        threshold: Threshold,
        elapsed_ms: i64,
    ) {
        let rate_background = rate(elapsed_ms, BACKGROUND_TIME_CONSTANT_MS);
        let rate_still = rate(elapsed_ms, STILL_FOREGROUND_TIME_CONSTANT_MS);
        let rate_moving = rate(elapsed_ms, MOVING_FOREGROUND_TIME_CONSTANT_MS);
        let moving_now = threshold.frame / 2.0;
        let cap = (VARIANCE_CAP_FACTOR * threshold.floor).powi(2);
        for ((((background, variance), &value), &before), &foreground) in self
            .background
            .iter_mut()
            .zip(&mut self.variance)
            .zip(image)
            .zip(previous)
            .zip(&self.dilated)
        {
            let difference = value - *background;
            let moving = foreground != 0 && (value - before).abs() > moving_now;
            let rate = match (foreground != 0, moving) {
                (false, _) => rate_background,
                (true, true) => rate_moving,
                (true, false) => rate_still,
            };
            *background += rate * difference;
            let variance_rate = if moving { 0.0 } else { rate };
            *variance += variance_rate * ((difference * difference).min(cap) - *variance);
        }
    }

    /// Tone-maps the background onto `image` by histogram specification:
    /// each background level goes to the frame level at the same place in
    /// the cumulative histogram (interpolated within bins). Only the cells
    /// that agreed with the global fit are counted, so a person in the
    /// picture does not bend the mapping.
    fn match_background_tones(&mut self, image: &[f32], grid: &CellGrid, cells: &[bool; CELLS]) {
        let background_cdf = cumulative_histogram(&self.background, grid, cells);
        let image_cdf = cumulative_histogram(image, grid, cells);
        // The frame's highest occupied level's upper edge: where the
        // background's top maps to.
        let top = image_cdf
            .iter()
            .position(|&share| share >= 1.0)
            .unwrap_or(LEVELS - 1)
            + 1;
        let mut mapping = [0.0f32; LEVELS + 1];
        let mut level = 0usize;
        for (bin, target) in mapping.iter_mut().enumerate() {
            // The share of background pixels below level `bin`.
            let share = if bin == 0 {
                0.0
            } else {
                background_cdf[bin - 1]
            };
            // The frame's level with that share below it, reading the
            // cumulative histogram as linear within each bin.
            while level < LEVELS - 1 && image_cdf[level] <= share {
                level += 1;
            }
            *target = if image_cdf[level] <= share {
                top as f32
            } else {
                let below = if level == 0 {
                    0.0
                } else {
                    image_cdf[level - 1]
                };
                level as f32 + (share - below) / (image_cdf[level] - below)
            };
        }
        for background in &mut self.background {
            let position = background.clamp(0.0, LEVELS as f32 - 1.0);
            let bin = position as usize;
            let fraction = position - bin as f32;
            *background = mapping[bin] + fraction * (mapping[bin + 1] - mapping[bin]);
        }
    }

    /// True if most textured cells of the background still correlate with
    /// the picture (the same scene under other light).
    fn structure_preserved(&mut self, image: &[f32], grid: &CellGrid) -> bool {
        grid.measure(image, image, &self.background, &mut self.structure);
        let mut background_cells = CellMeasures::default();
        grid.measure(
            &self.background,
            &self.background,
            &self.background,
            &mut background_cells,
        );
        let (mut textured, mut kept) = (0usize, 0usize);
        for cell in 0..CELLS {
            if background_cells.deviation[cell] >= TEXTURED_DEVIATION {
                textured += 1;
                kept += usize::from(self.structure.correlation[cell] >= LIGHTING_CORRELATION);
            }
        }
        textured > 0 && kept as f32 >= LIGHTING_STRUCTURE_FRACTION * textured as f32
    }

    /// 3x3 dilation of `changed` into `dilated` (masked pixels stay clear).
    fn dilate(&mut self, masked: &[bool]) {
        let width = self.size.width;
        for (out_row, row) in self
            .scratch
            .chunks_exact_mut(width)
            .zip(self.changed.chunks_exact(width))
        {
            // Interior pixels in one vectorisable pass, then the two edges.
            for (out, window) in out_row[1..width - 1].iter_mut().zip(row.windows(3)) {
                *out = window[0] | window[1] | window[2];
            }
            out_row[0] = row[0] | row[1];
            out_row[width - 1] = row[width - 2] | row[width - 1];
        }
        let height = self.size.height;
        for y in 0..height {
            let above = &self.scratch[y.saturating_sub(1) * width..][..width];
            let here = &self.scratch[y * width..][..width];
            let below = &self.scratch[(y + 1).min(height - 1) * width..][..width];
            let out = &mut self.dilated[y * width..][..width];
            let masked_row = &masked[y * width..][..width];
            for x in 0..width {
                out[x] = (above[x] | here[x] | below[x]) & u8::from(!masked_row[x]);
            }
        }
    }

    /// Finds the 8-connected blobs of `dilated`; sums the area and zones of
    /// those of at least `min_pixels`.
    fn label_blobs(&mut self, regions: &Regions, min_pixels: usize) -> MotionResult {
        const VISITED: u8 = 2;
        let width = self.size.width;
        let height = self.size.height;
        let mut moving_pixels = 0usize;
        let mut zone_bits = 0u64;
        for start in 0..self.dilated.len() {
            if self.dilated[start] != 1 {
                continue;
            }
            self.dilated[start] = VISITED;
            self.stack.clear();
            self.stack.push(start as u32);
            let mut area = 0usize;
            let mut blob_zones = 0u64;
            while let Some(index) = self.stack.pop() {
                let index = index as usize;
                area += 1;
                blob_zones |= regions.zone_bits[index];
                let (x, y) = (index % width, index / width);
                for ny in y.saturating_sub(1)..=(y + 1).min(height - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(width - 1) {
                        let neighbour = ny * width + nx;
                        if self.dilated[neighbour] == 1 {
                            self.dilated[neighbour] = VISITED;
                            self.stack.push(neighbour as u32);
                        }
                    }
                }
            }
            if area >= min_pixels {
                moving_pixels += area;
                zone_bits |= blob_zones;
            }
        }
        MotionResult {
            moving: moving_pixels as f32 / regions.unmasked_pixels.max(1) as f32,
            zone_bits,
        }
    }
}

/// The cumulative histogram of the `cells` of `image` at one bin per
/// level, normalised: entry `i` is the share of pixels below level `i + 1`.
fn cumulative_histogram(image: &[f32], grid: &CellGrid, cells: &[bool; CELLS]) -> [f32; LEVELS] {
    let mut counts = [0u32; LEVELS];
    let mut total = 0usize;
    for cell in (0..CELLS).filter(|&cell| cells[cell]) {
        for row in grid.cell_rows(image, cell) {
            for &value in row {
                counts[(value.clamp(0.0, LEVELS as f32 - 1.0)) as usize] += 1;
            }
            total += row.len();
        }
    }
    let total = total.max(1) as f32;
    let mut cdf = [0.0f32; LEVELS];
    let mut running = 0u32;
    for (share, count) in cdf.iter_mut().zip(counts) {
        running += count;
        *share = running as f32 / total;
    }
    cdf
}

/// How much a pixel must differ from the background to count as changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Threshold {
    /// The least difference, set by the sensitivity (luma levels).
    pub floor: f32,
    /// How many noise standard deviations (the camera's, and each pixel's
    /// own) a difference must also exceed.
    pub noise_factor: f32,
    /// The threshold for a pixel with no noise of its own: the larger of
    /// `floor` and `noise_factor` times the camera's noise.
    pub frame: f32,
}

impl Threshold {
    /// At sensitivity 0.5 a pixel must differ by 14 levels, and by 5 noise
    /// standard deviations if that is more; at 1, 4 levels and 3 deviations;
    /// at 0, 24 levels and 7 deviations.
    pub(crate) fn new(sensitivity: f32, noise_sigma: f32) -> Threshold {
        let coarseness = 1.0 - sensitivity.clamp(0.0, 1.0);
        let floor = 4.0 + 20.0 * coarseness;
        let noise_factor = 3.0 + 4.0 * coarseness;
        Threshold {
            floor,
            noise_factor,
            frame: floor.max(noise_factor * noise_sigma),
        }
    }
}

/// Gain and offset with `current ≈ gain × background + offset` over the
/// cell means: least squares, then again over the cells that fit (people
/// and other local changes are outliers). `None` unless most cells agree
/// with the result: then the change is not global.
fn fit_gain_offset(current: &[f32; CELLS], background: &[f32; CELLS]) -> Option<GainFit> {
    let residual = |cell: usize, (gain, offset): (f32, f32)| {
        (current[cell] - (gain * background[cell] + offset)).abs()
    };
    let mut inliers = [true; CELLS];
    let mut fit = least_squares(current, background, &inliers);
    // Trimmed least squares: a few rounds of dropping the cells far from
    // the fit (2.5 median residuals) and fitting the rest.
    for _ in 0..4 {
        let mut sorted: [f32; CELLS] = std::array::from_fn(|cell| residual(cell, fit));
        sorted.sort_unstable_by(f32::total_cmp);
        let limit = (2.5 * sorted[CELLS / 2]).max(GAIN_FIT_TOLERANCE);
        inliers = std::array::from_fn(|cell| residual(cell, fit) <= limit);
        fit = least_squares(current, background, &inliers);
    }
    let agreeing: [bool; CELLS] = std::array::from_fn(|cell| {
        residual(cell, fit) <= GAIN_FIT_TOLERANCE + 0.05 * current[cell]
    });
    let count = agreeing.iter().filter(|&&a| a).count();
    (count as f32 >= GAIN_FIT_AGREEMENT * CELLS as f32).then_some(GainFit {
        gain: fit.0,
        offset: fit.1,
        agreeing,
    })
}

/// A global gain and offset that most cells agree with.
#[derive(Debug, Clone, Copy, PartialEq)]
struct GainFit {
    gain: f32,
    offset: f32,
    /// The cells that agree (the others hold people or other local change).
    agreeing: [bool; CELLS],
}

fn least_squares(
    current: &[f32; CELLS],
    background: &[f32; CELLS],
    use_cell: &[bool],
) -> (f32, f32) {
    let (mut n, mut sum_x, mut sum_y, mut sum_xx, mut sum_xy) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    for cell in 0..CELLS {
        if use_cell[cell] {
            let (x, y) = (f64::from(background[cell]), f64::from(current[cell]));
            n += 1.0;
            sum_x += x;
            sum_y += y;
            sum_xx += x * x;
            sum_xy += x * y;
        }
    }
    if n == 0.0 {
        return (1.0, 0.0);
    }
    let variance = sum_xx / n - (sum_x / n).powi(2);
    let gain = if variance < 1.0 {
        // A flat background says nothing about gain: offset only.
        1.0
    } else {
        (((sum_xy / n - sum_x / n * sum_y / n) / variance) as f32).clamp(GAIN_RANGE.0, GAIN_RANGE.1)
    };
    let offset = (sum_y / n) as f32 - gain * (sum_x / n) as f32;
    (gain, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_fit_ignores_a_local_change() {
        let background: [f32; CELLS] = std::array::from_fn(|i| 40.0 + (i * 37 % 150) as f32);
        let mut current: [f32; CELLS] = std::array::from_fn(|i| background[i] * 1.4 + 5.0);
        for value in current.iter_mut().take(10) {
            *value = 20.0;
        }
        let fit = fit_gain_offset(&current, &background).unwrap();
        assert!((fit.gain - 1.4).abs() < 0.01, "{}", fit.gain);
        assert!((fit.offset - 5.0).abs() < 1.0, "{}", fit.offset);
        assert_eq!(fit.agreeing.iter().filter(|&&a| !a).count(), 10);
    }

    #[test]
    fn gain_fit_refuses_a_half_covered_picture() {
        let background: [f32; CELLS] = std::array::from_fn(|i| 40.0 + (i * 37 % 150) as f32);
        let mut current = background;
        for value in current.iter_mut().step_by(2) {
            *value = 30.0;
        }
        assert_eq!(fit_gain_offset(&current, &background), None);
    }

    #[test]
    fn tone_matching_follows_a_clipped_gain() {
        let size = WorkSize {
            width: 64,
            height: 48,
        };
        let background: Vec<f32> = (0..size.pixels())
            .map(|i| 20.0 + (i * 7 % 200) as f32)
            .collect();
        let brighter: Vec<f32> = background.iter().map(|v| (v * 1.4).min(235.0)).collect();
        let mut detector = MotionDetector::new(size);
        detector.reseed(&background);
        detector.match_background_tones(&brighter, &CellGrid::new(size), &[true; CELLS]);
        let worst = detector
            .background
            .iter()
            .zip(&brighter)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 3.0, "{worst}");
    }

    #[test]
    fn threshold_follows_sensitivity_and_noise() {
        let frame = |sensitivity, noise| Threshold::new(sensitivity, noise).frame;
        assert!(frame(1.0, 0.5) < frame(0.5, 0.5));
        assert!(frame(0.5, 0.5) < frame(0.0, 0.5));
        assert_eq!(frame(0.5, 0.0), 14.0);
        assert_eq!(frame(0.5, 10.0), 50.0);
    }
}
