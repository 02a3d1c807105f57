//! What is normal for each cell of this camera's scene: the typical value
//! and spread of each measure, learnt robustly.
//!
//! The calibration takes the median and the median absolute deviation of
//! the calibration frames, so someone walking through the picture while the
//! camera starts does not make every cell look unstable. Afterwards each
//! spread follows the scene with a winsorised moving average (a sample
//! counts at most a few deviations away from the mean), so a passer-by
//! widens a busy cell's spread only gradually.

use crate::grid::CELLS;

/// At most this many calibration frames are kept (2 s at 30 fps).
const MAX_CALIBRATION_FRAMES: usize = 64;
/// Mean absolute deviation per median absolute deviation for normally
/// distributed values (0.798 / 0.674).
const MEAN_PER_MEDIAN_DEVIATION: f32 = 1.18;
/// While following, a sample counts at most this many deviations from the
/// mean...
const WINSOR_DEVIATIONS: f32 = 3.0;
/// ...or this much, whichever is more (a spread learnt as zero must still
/// be able to grow).
const WINSOR_MIN_STEP: f32 = 0.05;
/// A value counts as unusual this many deviations below the mean.
const SPREAD_LIMIT: f32 = 4.0;

/// The typical value of a measure and its mean absolute deviation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Spread {
    pub mean: f32,
    pub deviation: f32,
}

impl Spread {
    /// Median and scaled median absolute deviation of `samples` (NaN
    /// samples are left out); the default if none remain.
    fn from_samples(samples: &mut Vec<f32>) -> Spread {
        samples.retain(|v| !v.is_nan());
        if samples.is_empty() {
            return Spread::default();
        }
        let median = crate::median(samples);
        for value in samples.iter_mut() {
            *value = (*value - median).abs();
        }
        Spread {
            mean: median,
            deviation: MEAN_PER_MEDIAN_DEVIATION * crate::median(samples),
        }
    }

    /// Moves towards `value` with weight `rate`, the value clamped to a few
    /// deviations from the mean.
    fn follow(&mut self, value: f32, rate: f32) {
        if value.is_nan() {
            return;
        }
        let step = (WINSOR_DEVIATIONS * self.deviation).max(WINSOR_MIN_STEP);
        let value = value.clamp(self.mean - step, self.mean + step);
        self.mean += rate * (value - self.mean);
        self.deviation += rate * ((value - self.mean).abs() - self.deviation);
    }

    /// Below this a value is unusual for this camera.
    pub(crate) fn low_limit(&self) -> f32 {
        self.mean - SPREAD_LIMIT * self.deviation
    }
}

/// One frame's measures relative to the reference.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpreadSample {
    /// Contrast relative to the reference, per cell.
    pub contrast: [f32; CELLS],
    /// Sharpness relative to the reference, per cell; NaN where too flat.
    pub sharpness: [f32; CELLS],
    /// Correlation with the reference, per cell.
    pub correlation: [f32; CELLS],
    /// Correlation of the cell means with the reference's.
    pub layout: f32,
}

/// The learnt spreads of every measure.
#[derive(Debug)]
pub(crate) struct Spreads {
    pub contrast: [Spread; CELLS],
    pub sharpness: [Spread; CELLS],
    pub correlation: [Spread; CELLS],
    pub layout: Spread,
    calibration: Vec<SpreadSample>,
    scratch: Vec<f32>,
}

impl Default for Spreads {
    fn default() -> Self {
        Spreads {
            contrast: [Spread::default(); CELLS],
            sharpness: [Spread::default(); CELLS],
            correlation: [Spread::default(); CELLS],
            layout: Spread::default(),
            calibration: Vec::with_capacity(MAX_CALIBRATION_FRAMES),
            scratch: Vec::with_capacity(MAX_CALIBRATION_FRAMES),
        }
    }
}

impl Spreads {
    /// Keeps one calibration frame (the first 64).
    pub(crate) fn collect(&mut self, sample: SpreadSample) {
        if self.calibration.len() < MAX_CALIBRATION_FRAMES {
            self.calibration.push(sample);
        }
    }

    /// Sets every spread from the calibration frames, which it forgets.
    pub(crate) fn settle(&mut self) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut spread_of = |pick: &dyn Fn(&SpreadSample) -> f32| {
            scratch.clear();
            scratch.extend(self.calibration.iter().map(pick));
            Spread::from_samples(&mut scratch)
        };
        let contrast = std::array::from_fn(|cell| spread_of(&|s| s.contrast[cell]));
        let sharpness = std::array::from_fn(|cell| spread_of(&|s| s.sharpness[cell]));
        let correlation = std::array::from_fn(|cell| spread_of(&|s| s.correlation[cell]));
        let layout = spread_of(&|s| s.layout);
        self.contrast = contrast;
        self.sharpness = sharpness;
        self.correlation = correlation;
        self.layout = layout;
        self.calibration.clear();
        self.scratch = scratch;
    }

    /// Follows the scene with one normal frame.
    pub(crate) fn follow(&mut self, sample: &SpreadSample, rate: f32) {
        for cell in 0..CELLS {
            self.contrast[cell].follow(sample.contrast[cell], rate);
            self.sharpness[cell].follow(sample.sharpness[cell], rate);
            self.correlation[cell].follow(sample.correlation[cell], rate);
        }
        self.layout.follow(sample.layout, rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passer_by_does_not_widen_the_calibrated_spread() {
        // 10 frames: 7 normal around 0.95, 3 with someone in the cell.
        let mut samples = vec![0.95, 0.96, 0.94, 0.2, 0.1, 0.15, 0.95, 0.97, 0.93, 0.95];
        let spread = Spread::from_samples(&mut samples);
        assert!((spread.mean - 0.95).abs() < 0.011, "{spread:?}");
        assert!(spread.deviation < 0.05, "{spread:?}");
        assert!(spread.low_limit() > 0.75);
    }

    #[test]
    fn following_is_winsorised() {
        let mut spread = Spread {
            mean: 1.0,
            deviation: 0.02,
        };
        spread.follow(0.0, 0.1);
        // Counted as 0.94 (three deviations), not 0.
        assert!((spread.mean - 0.994).abs() < 1e-4, "{spread:?}");
        spread.follow(f32::NAN, 0.1);
        assert!(spread.mean.is_finite());
    }

    #[test]
    fn no_samples_give_no_limit() {
        let mut samples = vec![f32::NAN, f32::NAN];
        assert_eq!(Spread::from_samples(&mut samples), Spread::default());
    }
}
