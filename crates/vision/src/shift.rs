//! Global shift estimate between the picture and the reference: the
//! translation that best aligns them, by normalised cross-correlation,
//! searched coarse to fine (an image pyramid: every offset on quarter-size
//! thumbnails, then the neighbours of the best on half-size ones).
//!
//! A camera nudged by a few degrees moves the whole picture by a few pixels:
//! cell-wise correlation drops only in part of the cells, but the whole
//! picture then matches the reference again at one offset, which people
//! walking never produce. The search costs a fraction of a millisecond, so
//! it runs only on frames whose cells already disagree with the reference.

use crate::frame::WorkSize;

/// Search radius in quarter-size pixels (each four work pixels): ±4 is
/// ±10 % of a 160-pixel picture's width.
const COARSE_RADIUS: isize = 4;

/// The best alignment found.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Shift {
    /// Offset in work pixels (positive: the picture moved right or down).
    pub dx: isize,
    pub dy: isize,
    /// Correlation at that offset.
    pub correlation: f32,
    /// Correlation without any offset.
    pub correlation_at_zero: f32,
}

/// Thumbnails and the search.
#[derive(Debug, Default)]
pub(crate) struct ShiftEstimator {
    half: Pyramid,
    quarter: Pyramid,
}

/// One level: the picture and the reference at one size.
#[derive(Debug, Default)]
struct Pyramid {
    size: WorkSize,
    picture: Vec<f32>,
    reference: Vec<f32>,
}

impl Pyramid {
    fn new(size: WorkSize) -> Pyramid {
        Pyramid {
            size,
            picture: vec![0.0; size.pixels()],
            reference: vec![0.0; size.pixels()],
        }
    }

    /// Fills this level by halving `finer`'s pictures.
    fn halve_from(&mut self, picture: &[f32], reference: &[f32], finer: WorkSize) {
        halve(picture, finer, &mut self.picture);
        halve(reference, finer, &mut self.reference);
    }

    /// Normalised cross-correlation of the overlap when the picture is the
    /// reference moved by (dx, dy); `f32::MIN` when they hardly overlap.
    fn correlation(&self, dx: isize, dy: isize) -> f32 {
        let (width, height) = (self.size.width as isize, self.size.height as isize);
        // Reference pixel (x, y) appears at (x + dx, y + dy) in the picture.
        let (x0, x1) = (0.max(-dx), width.min(width - dx));
        let (y0, y1) = (0.max(-dy), height.min(height - dy));
        if x1 - x0 < 4 || y1 - y0 < 4 {
            return f32::MIN;
        }
        let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f64, 0.0, 0.0, 0.0, 0.0, 0.0);
        for y in y0..y1 {
            let reference_row =
                &self.reference[(y * width + x0) as usize..(y * width + x1) as usize];
            let start = ((y + dy) * width + x0 + dx) as usize;
            let picture_row = &self.picture[start..start + reference_row.len()];
            let (mut ra, mut rb, mut raa, mut rbb, mut rab) =
                (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
            for (&a, &b) in picture_row.iter().zip(reference_row) {
                ra += a;
                rb += b;
                raa += a * a;
                rbb += b * b;
                rab += a * b;
            }
            n += reference_row.len() as f64;
            sa += f64::from(ra);
            sb += f64::from(rb);
            saa += f64::from(raa);
            sbb += f64::from(rbb);
            sab += f64::from(rab);
        }
        let covariance = sab / n - sa / n * sb / n;
        let variance_a = saa / n - (sa / n).powi(2);
        let variance_b = sbb / n - (sb / n).powi(2);
        if variance_a < 1.0 || variance_b < 1.0 {
            return 0.0;
        }
        (covariance / (variance_a * variance_b).sqrt()) as f32
    }

    /// The best offset among `candidates`, with its correlation.
    fn best(&self, candidates: impl Iterator<Item = (isize, isize)>) -> ((isize, isize), f32) {
        candidates
            .map(|offset| (offset, self.correlation(offset.0, offset.1)))
            .fold(((0, 0), f32::MIN), |best, this| {
                if this.1 > best.1 {
                    this
                } else {
                    best
                }
            })
    }
}

impl ShiftEstimator {
    pub(crate) fn new(size: WorkSize) -> ShiftEstimator {
        let half = WorkSize {
            width: size.width / 2,
            height: size.height / 2,
        };
        let quarter = WorkSize {
            width: half.width / 2,
            height: half.height / 2,
        };
        ShiftEstimator {
            half: Pyramid::new(half),
            quarter: Pyramid::new(quarter),
        }
    }

    /// The offset at which `image` best matches `reference` (both of work
    /// size `size`), to two work pixels.
    pub(crate) fn estimate(&mut self, image: &[f32], reference: &[f32], size: WorkSize) -> Shift {
        self.half.halve_from(image, reference, size);
        let half_size = self.half.size;
        let (half, quarter) = (&self.half, &mut self.quarter);
        quarter.halve_from(&half.picture, &half.reference, half_size);
        let square = |radius: isize| {
            (-radius..=radius).flat_map(move |dy| (-radius..=radius).map(move |dx| (dx, dy)))
        };
        let ((coarse_dx, coarse_dy), _) = self.quarter.best(square(COARSE_RADIUS));
        let ((dx, dy), correlation) = self
            .half
            .best(square(1).map(|(dx, dy)| (2 * coarse_dx + dx, 2 * coarse_dy + dy)));
        Shift {
            dx: 2 * dx,
            dy: 2 * dy,
            correlation,
            correlation_at_zero: self.half.correlation(0, 0),
        }
    }
}

/// 2x2 box average of an image of `size` into `out` (half the size,
/// rounded down).
fn halve(image: &[f32], size: WorkSize, out: &mut [f32]) {
    let half_width = size.width / 2;
    if half_width == 0 {
        return;
    }
    for (y, out_row) in out.chunks_exact_mut(half_width).enumerate() {
        let top = &image[2 * y * size.width..][..size.width];
        let bottom = &image[(2 * y + 1) * size.width..][..size.width];
        for (x, pixel) in out_row.iter_mut().enumerate() {
            *pixel = (top[2 * x] + top[2 * x + 1] + bottom[2 * x] + bottom[2 * x + 1]) / 4.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(x: usize, y: usize) -> f32 {
        let mut h = (x as u64 / 3) << 32 ^ (y as u64 / 3) ^ 0x9e37_79b9;
        h ^= h >> 13;
        h = h.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (h >> 56) as f32 + (x + y) as f32 * 0.3
    }

    #[test]
    fn finds_a_known_shift() {
        let size = WorkSize {
            width: 160,
            height: 90,
        };
        let reference: Vec<f32> = (0..size.pixels())
            .map(|i| scene(i % 160 + 20, i / 160 + 20))
            .collect();
        // The camera turned: the picture shows the scene moved 6 px left
        // and 4 px up.
        let picture: Vec<f32> = (0..size.pixels())
            .map(|i| scene(i % 160 + 26, i / 160 + 24))
            .collect();
        let mut estimator = ShiftEstimator::new(size);
        let shift = estimator.estimate(&picture, &reference, size);
        assert_eq!((shift.dx, shift.dy), (-6, -4), "{shift:?}");
        assert!(shift.correlation > 0.9);
        assert!(shift.correlation_at_zero < 0.5);
        let same = estimator.estimate(&reference, &reference, size);
        assert_eq!((same.dx, same.dy), (0, 0));
        assert!(same.correlation > 0.99);
    }
}
