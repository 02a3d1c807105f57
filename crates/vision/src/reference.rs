//! The reference the tamper checks compare with: a picture of the scene and
//! its per-cell statistics.
//!
//! It is learnt as the median of the learning frames (per pixel for the
//! picture, per cell for the statistics), so someone walking through while
//! the camera starts leaves no trace in it; then it follows the scene with a
//! slow moving average while the scene is normal.

use crate::grid::{CellMeasures, CELLS};

/// Pictures kept while learning (one every `LEARN_MS / PICTURES`): enough
/// for a median, small enough to keep (14 KB each at 160x90).
const PICTURES: usize = 9;
/// Cell statistics kept while learning (3 s at 20 fps; later frames are
/// not needed for a median).
const MAX_CELL_FRAMES: usize = 64;

/// The learnt scene.
#[derive(Debug)]
pub(crate) struct Reference {
    /// The picture (work size).
    pub image: Vec<f32>,
    /// Per cell: mean brightness.
    pub mean: [f32; CELLS],
    /// Per cell: standard deviation of brightness (contrast).
    pub deviation: [f32; CELLS],
    /// Per cell: edge energy.
    pub gradient: [f32; CELLS],
}

impl Reference {
    pub(crate) fn new(pixels: usize) -> Reference {
        Reference {
            image: vec![0.0; pixels],
            mean: [0.0; CELLS],
            deviation: [0.0; CELLS],
            gradient: [0.0; CELLS],
        }
    }

    /// Moves towards `image` (measured as `measures`) with weight `rate`.
    pub(crate) fn follow(&mut self, image: &[f32], measures: &CellMeasures, rate: f32) {
        for (reference, &value) in self.image.iter_mut().zip(image) {
            *reference += rate * (value - *reference);
        }
        for cell in 0..CELLS {
            self.mean[cell] += rate * (measures.mean[cell] - self.mean[cell]);
            self.deviation[cell] += rate * (measures.deviation[cell] - self.deviation[cell]);
            self.gradient[cell] += rate * (measures.gradient[cell] - self.gradient[cell]);
        }
    }
}

/// Frames kept while learning, for the medians.
#[derive(Debug)]
pub(crate) struct ReferenceSamples {
    pixels: usize,
    interval_ms: i64,
    /// `pictures` pictures of `pixels` bytes each, rounded to levels.
    pictures: Vec<u8>,
    last_picture_ms: Option<i64>,
    /// Per frame: mean, deviation and gradient of every cell.
    cells: Vec<[[f32; CELLS]; 3]>,
    /// Scratch for one pixel's or one cell's values.
    values: Vec<f32>,
}

impl ReferenceSamples {
    /// Room for the samples of a learning period of `learn_ms`.
    pub(crate) fn new(pixels: usize, learn_ms: i64) -> ReferenceSamples {
        ReferenceSamples {
            pixels,
            interval_ms: learn_ms / PICTURES as i64,
            pictures: Vec::with_capacity(PICTURES * pixels),
            last_picture_ms: None,
            cells: Vec::with_capacity(MAX_CELL_FRAMES),
            values: Vec::with_capacity(MAX_CELL_FRAMES),
        }
    }

    /// Keeps what is needed of one learning frame.
    pub(crate) fn collect(&mut self, image: &[f32], measures: &CellMeasures, now_ms: i64) {
        if self.cells.len() < MAX_CELL_FRAMES {
            self.cells
                .push([measures.mean, measures.deviation, measures.gradient]);
        }
        let due = self
            .last_picture_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= self.interval_ms);
        if due && self.pictures.len() < PICTURES * self.pixels {
            self.pictures
                .extend(image.iter().map(|&v| v.round().clamp(0.0, 255.0) as u8));
            self.last_picture_ms = Some(now_ms);
        }
    }

    /// Sets `reference` to the medians of what was collected, and forgets
    /// it. Nothing happens if nothing was collected.
    pub(crate) fn settle(&mut self, reference: &mut Reference) {
        let count = self.pictures.len() / self.pixels.max(1);
        if count > 0 {
            let mut pixel_values = [0u8; PICTURES];
            for (pixel, out) in reference.image.iter_mut().enumerate() {
                for (picture, value) in pixel_values[..count].iter_mut().enumerate() {
                    *value = self.pictures[picture * self.pixels + pixel];
                }
                let values = &mut pixel_values[..count];
                values.sort_unstable();
                *out = if count.is_multiple_of(2) {
                    (f32::from(values[count / 2 - 1]) + f32::from(values[count / 2])) / 2.0
                } else {
                    f32::from(values[count / 2])
                };
            }
        }
        if !self.cells.is_empty() {
            let targets = [
                &mut reference.mean,
                &mut reference.deviation,
                &mut reference.gradient,
            ];
            for (statistic, target) in targets.into_iter().enumerate() {
                for (cell, out) in target.iter_mut().enumerate() {
                    self.values.clear();
                    self.values
                        .extend(self.cells.iter().map(|frame| frame[statistic][cell]));
                    *out = crate::median(&mut self.values);
                }
            }
        }
        self.pictures.clear();
        self.cells.clear();
        self.last_picture_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passer_by_is_not_in_the_reference() {
        let pixels = 4;
        let mut samples = ReferenceSamples::new(pixels, 3000);
        let measures = CellMeasures::default();
        for index in 0..15 {
            // Pixel 1 is dark for 5 frames of 15: someone walking by.
            let dark = (4..9).contains(&index);
            let image = [100.0, if dark { 20.0 } else { 150.0 }, 50.0, 200.0];
            samples.collect(&image, &measures, index * 200);
        }
        let mut reference = Reference::new(pixels);
        samples.settle(&mut reference);
        assert_eq!(reference.image, vec![100.0, 150.0, 50.0, 200.0]);
    }
}
