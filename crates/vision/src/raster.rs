//! Zones and masks, rasterised once per work size.

use crate::config::Polygon;
use crate::frame::WorkSize;

/// True if the point is inside the polygon (even-odd rule: a ray from the
/// point crosses the outline an odd number of times).
fn contains(points: &[(f32, f32)], x: f32, y: f32) -> bool {
    let mut inside = false;
    let mut previous = points[points.len() - 1];
    for &current in points {
        let (x0, y0) = previous;
        let (x1, y1) = current;
        if (y0 > y) != (y1 > y) {
            let crossing_x = x0 + (y - y0) * (x1 - x0) / (y1 - y0);
            if x < crossing_x {
                inside = !inside;
            }
        }
        previous = current;
    }
    inside
}

/// Calls `mark(pixel_index)` for every work pixel whose centre is inside
/// the polygon.
fn rasterise(polygon: &Polygon, size: WorkSize, mut mark: impl FnMut(usize)) {
    if polygon.points.len() < 3 {
        return;
    }
    for y in 0..size.height {
        let centre_y = (y as f32 + 0.5) / size.height as f32;
        for x in 0..size.width {
            let centre_x = (x as f32 + 0.5) / size.width as f32;
            if contains(&polygon.points, centre_x, centre_y) {
                mark(y * size.width + x);
            }
        }
    }
}

/// The zones and masks of a configuration at one work size.
#[derive(Debug, Default)]
pub(crate) struct Regions {
    /// Per pixel: true if a mask covers it (motion is not counted there).
    pub masked: Vec<bool>,
    /// Per pixel: bit `i` set if zone `i` covers it.
    pub zone_bits: Vec<u64>,
    /// Pixels not masked.
    pub unmasked_pixels: usize,
}

impl Regions {
    /// Rasterises `zones` and `masks` at `size`.
    pub(crate) fn new(zones: &[Polygon], masks: &[Polygon], size: WorkSize) -> Regions {
        let mut masked = vec![false; size.pixels()];
        for mask in masks {
            rasterise(mask, size, |i| masked[i] = true);
        }
        let mut zone_bits = vec![0u64; size.pixels()];
        for (index, zone) in zones.iter().enumerate().take(64) {
            rasterise(zone, size, |i| zone_bits[i] |= 1 << index);
        }
        let unmasked_pixels = masked.iter().filter(|&&m| !m).count();
        Regions {
            masked,
            zone_bits,
            unmasked_pixels,
        }
    }
}

/// The names of the zones whose bits are set, in configuration order.
pub(crate) fn zone_names(zones: &[Polygon], bits: u64) -> Vec<String> {
    zones
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < 64 && bits & (1 << i) != 0)
        .map(|(_, zone)| zone.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polygon(points: &[(f32, f32)]) -> Polygon {
        Polygon {
            name: "p".into(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn left_half_covers_half_the_pixels() {
        let size = WorkSize {
            width: 20,
            height: 10,
        };
        let left = polygon(&[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]);
        let regions = Regions::new(&[], &[left], size);
        assert_eq!(regions.unmasked_pixels, 100);
        assert!(regions.masked[0] && regions.masked[9] && !regions.masked[10]);
    }

    #[test]
    fn zones_set_their_own_bits() {
        let size = WorkSize {
            width: 10,
            height: 10,
        };
        let top = polygon(&[(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.0, 0.5)]);
        let right = polygon(&[(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)]);
        let regions = Regions::new(&[top, right], &[], size);
        assert_eq!(regions.zone_bits[0], 0b01);
        assert_eq!(regions.zone_bits[9], 0b11);
        assert_eq!(regions.zone_bits[99], 0b10);
        assert_eq!(regions.zone_bits[90], 0);
        assert_eq!(regions.unmasked_pixels, 100);
    }

    #[test]
    fn triangle_is_about_half() {
        let size = WorkSize {
            width: 100,
            height: 100,
        };
        let triangle = polygon(&[(0.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
        let regions = Regions::new(&[], &[triangle], size);
        let covered = 10_000 - regions.unmasked_pixels;
        assert!((4900..=5100).contains(&covered), "{covered}");
    }
}
