//! Motion and camera-tamper analysis over luma frames.
//!
//! Pure computation: no I/O, no decoding, no threads, no dependencies. The
//! caller decodes the camera's analysis stream, hands each luma plane to an
//! [`Analyzer`] as a [`LumaFrame`], and stores or forwards the [`Update`]s it
//! returns.
//!
//! Each frame is box-downscaled to a small work size (160 pixels across by
//! default). The first few seconds after a start, or after the frame size
//! changes, are spent learning the scene: a reference picture, per-cell
//! statistics of an 8x6 grid, the sensor noise floor and the normal spread
//! of every measure. After that:
//!
//! - **Motion**: a running-average background, a threshold from the
//!   sensitivity and the learnt noise, a 3x3 dilation, connected components
//!   of at least `min_area`, zones and masks. Whole-picture lighting changes
//!   are compensated or absorbed rather than reported as motion.
//! - **Tamper**: covered, defocused, moved and frozen, each debounced, each
//!   an event with a start and an end, one kind at a time.
//!
//! See the crate's `README.md` for the methods, their citations, the
//! learning and debounce model, the known limits and measured figures.

#![warn(missing_docs)]

mod analyzer;
mod config;
mod events;
mod frame;
mod grid;
mod motion;
mod raster;
mod reference;
mod scene;
mod shift;
mod spread;
mod stillness;
mod tracking;

pub use analyzer::{Analyzer, Stats};
pub use config::{AnalyzerConfig, ConfigError, Polygon, PolygonList};
pub use events::{Event, EventKind, Update};
pub use frame::LumaFrame;
pub use motion::MotionFeatures;
pub use scene::{LearningState, TamperFeatures};

/// The weight of a new sample in an exponential moving average with the
/// given time constant, from the time since the previous sample (so the
/// averages do not depend on the frame rate). A long gap counts as one
/// full step, never more.
pub(crate) fn rate(elapsed_ms: i64, time_constant_ms: f32) -> f32 {
    (elapsed_ms.max(0) as f32 / time_constant_ms).min(1.0)
}

/// The median of `values` (sorted in place); 0 if empty.
pub(crate) fn median(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable_by(f32::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn medians() {
        assert_eq!(super::median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(super::median(&mut []), 0.0);
    }

    #[test]
    fn rates_follow_time_not_frames() {
        assert_eq!(super::rate(200, 1000.0), 0.2);
        assert_eq!(super::rate(-5, 1000.0), 0.0);
        assert_eq!(super::rate(5000, 1000.0), 1.0);
    }
}
