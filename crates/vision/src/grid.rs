//! The 8x6 grid of cells the tamper detector and the lighting compensation
//! look at, and the statistics measured per cell in one pass per frame.
//!
//! Cell statistics follow Ribnick et al. 2006 and Saglam & Temizel 2009
//! (block-wise brightness, contrast and edge energy compared with a learnt
//! reference), with a per-cell normalised cross-correlation against the
//! reference picture for structure.

use crate::frame::WorkSize;

/// Cells across.
pub(crate) const GRID_COLUMNS: usize = 8;
/// Cells down.
pub(crate) const GRID_ROWS: usize = 6;
/// Cells in the grid.
pub(crate) const CELLS: usize = GRID_COLUMNS * GRID_ROWS;

/// Below this variance (luma levels squared) a cell is treated as flat: its
/// correlation is meaningless.
const FLAT_VARIANCE: f64 = 0.01;

/// Where the cells are at one work size.
#[derive(Debug, Clone, Default)]
pub(crate) struct CellGrid {
    size: WorkSize,
    column_edges: [usize; GRID_COLUMNS + 1],
    row_edges: [usize; GRID_ROWS + 1],
}

/// Per-cell statistics of one frame, each in luma levels (0..255) except
/// `correlation` (-1..1).
#[derive(Debug, Clone)]
pub(crate) struct CellMeasures {
    /// Mean brightness.
    pub mean: [f32; CELLS],
    /// Standard deviation of brightness (contrast).
    pub deviation: [f32; CELLS],
    /// Mean of |horizontal| + |vertical| neighbour difference (edge energy).
    pub gradient: [f32; CELLS],
    /// Mean absolute difference from the previous frame.
    pub difference: [f32; CELLS],
    /// Normalised cross-correlation with the reference picture; 0 when
    /// either is flat.
    pub correlation: [f32; CELLS],
}

impl Default for CellMeasures {
    fn default() -> Self {
        CellMeasures {
            mean: [0.0; CELLS],
            deviation: [0.0; CELLS],
            gradient: [0.0; CELLS],
            difference: [0.0; CELLS],
            correlation: [0.0; CELLS],
        }
    }
}

impl CellGrid {
    /// The grid for pictures of `size` (at least 16x12, so each cell has at
    /// least 2x2 pixels).
    pub(crate) fn new(size: WorkSize) -> CellGrid {
        let mut column_edges = [0; GRID_COLUMNS + 1];
        for (i, edge) in column_edges.iter_mut().enumerate() {
            *edge = i * size.width / GRID_COLUMNS;
        }
        let mut row_edges = [0; GRID_ROWS + 1];
        for (i, edge) in row_edges.iter_mut().enumerate() {
            *edge = i * size.height / GRID_ROWS;
        }
        CellGrid {
            size,
            column_edges,
            row_edges,
        }
    }

    /// The rows of one cell of `image` (work size, row-major).
    pub(crate) fn cell_rows<'a, T>(
        &self,
        image: &'a [T],
        cell: usize,
    ) -> impl Iterator<Item = &'a [T]> + 'a {
        let (cell_row, cell_column) = (cell / GRID_COLUMNS, cell % GRID_COLUMNS);
        let (x0, x1) = (
            self.column_edges[cell_column],
            self.column_edges[cell_column + 1],
        );
        let width = self.size.width;
        (self.row_edges[cell_row]..self.row_edges[cell_row + 1])
            .map(move |y| &image[y * width + x0..y * width + x1])
    }

    /// For each cell, true if at least half its pixels are `masked`.
    pub(crate) fn mostly_masked(&self, masked: &[bool]) -> [bool; CELLS] {
        std::array::from_fn(|cell| {
            let (count, total) =
                self.cell_rows(masked, cell)
                    .fold((0, 0), |(count, total), row| {
                        (
                            count + row.iter().filter(|&&m| m).count(),
                            total + row.len(),
                        )
                    });
            2 * count >= total
        })
    }

    /// Mean brightness of each cell of `image`.
    pub(crate) fn means(&self, image: &[f32], out: &mut [f32; CELLS]) {
        for (cell, mean) in out.iter_mut().enumerate() {
            let (sum, count) =
                self.cell_rows(image, cell)
                    .fold((0.0f64, 0), |(sum, count), row| {
                        (
                            sum + row.iter().map(|&v| f64::from(v)).sum::<f64>(),
                            count + row.len(),
                        )
                    });
            *mean = (sum / count.max(1) as f64) as f32;
        }
    }

    /// Measures every cell of `image` against `previous` (the last frame)
    /// and `reference` (the learnt scene), all of the grid's work size.
    pub(crate) fn measure(
        &self,
        image: &[f32],
        previous: &[f32],
        reference: &[f32],
        out: &mut CellMeasures,
    ) {
        let width = self.size.width;
        let height = self.size.height;
        for cell_row in 0..GRID_ROWS {
            let (y0, y1) = (self.row_edges[cell_row], self.row_edges[cell_row + 1]);
            for cell_column in 0..GRID_COLUMNS {
                let (x0, x1) = (
                    self.column_edges[cell_column],
                    self.column_edges[cell_column + 1],
                );
                let mut sums = CellSums::default();
                for y in y0..y1 {
                    let start = y * width;
                    let row = &image[start + x0..start + x1];
                    // The row below, for vertical gradients; the last row of
                    // the picture has none (its vertical term is zero).
                    let below = if y + 1 < height {
                        &image[start + width + x0..start + width + x1]
                    } else {
                        row
                    };
                    // One pixel past the cell on the right, for the last
                    // horizontal gradient (none at the picture's edge).
                    let right_end = (x1 + 1).min(width);
                    let row_with_right = &image[start + x0..start + right_end];
                    sums.add_row(
                        row,
                        row_with_right,
                        below,
                        &previous[start + x0..start + x1],
                        &reference[start + x0..start + x1],
                    );
                }
                let cell = cell_row * GRID_COLUMNS + cell_column;
                sums.finish(((x1 - x0) * (y1 - y0)) as f64, cell, out);
            }
        }
    }
}

/// Running sums over one cell's pixels (f64: variances are differences of
/// large sums).
#[derive(Default)]
struct CellSums {
    sum: f64,
    sum_squares: f64,
    gradient: f64,
    difference: f64,
    reference_sum: f64,
    reference_squares: f64,
    cross: f64,
}

impl CellSums {
    fn add_row(
        &mut self,
        row: &[f32],
        row_with_right: &[f32],
        below: &[f32],
        previous: &[f32],
        reference: &[f32],
    ) {
        // f32 within a row (at most a few hundred values), f64 across rows.
        let (mut sum, mut squares, mut gradient, mut difference) = (0.0f32, 0.0f32, 0.0f32, 0.0);
        let (mut reference_sum, mut reference_squares, mut cross) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..row.len() {
            let value = row[i];
            let reference_value = reference[i];
            sum += value;
            squares += value * value;
            gradient += (below[i] - value).abs();
            difference += (value - previous[i]).abs();
            reference_sum += reference_value;
            reference_squares += reference_value * reference_value;
            cross += value * reference_value;
        }
        for pair in row_with_right.windows(2) {
            gradient += (pair[1] - pair[0]).abs();
        }
        self.sum += f64::from(sum);
        self.sum_squares += f64::from(squares);
        self.gradient += f64::from(gradient);
        self.difference += f64::from(difference);
        self.reference_sum += f64::from(reference_sum);
        self.reference_squares += f64::from(reference_squares);
        self.cross += f64::from(cross);
    }

    fn finish(&self, count: f64, cell: usize, out: &mut CellMeasures) {
        let mean = self.sum / count;
        let variance = (self.sum_squares / count - mean * mean).max(0.0);
        let reference_mean = self.reference_sum / count;
        let reference_variance =
            (self.reference_squares / count - reference_mean * reference_mean).max(0.0);
        let covariance = self.cross / count - mean * reference_mean;
        out.mean[cell] = mean as f32;
        out.deviation[cell] = variance.sqrt() as f32;
        out.gradient[cell] = (self.gradient / count) as f32;
        out.difference[cell] = (self.difference / count) as f32;
        out.correlation[cell] = if variance > FLAT_VARIANCE && reference_variance > FLAT_VARIANCE {
            (covariance / (variance * reference_variance).sqrt()).clamp(-1.0, 1.0) as f32
        } else {
            0.0
        };
    }
}

/// Pearson correlation of two equally long series; 0 if either is flat.
pub(crate) fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let count = a.len().min(b.len()) as f64;
    if count == 0.0 {
        return 0.0;
    }
    let mean_a = a.iter().map(|&v| f64::from(v)).sum::<f64>() / count;
    let mean_b = b.iter().map(|&v| f64::from(v)).sum::<f64>() / count;
    let (mut cross, mut squares_a, mut squares_b) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - mean_a, f64::from(y) - mean_b);
        cross += dx * dy;
        squares_a += dx * dx;
        squares_b += dy * dy;
    }
    // Flat: less than one luma level of spread on average.
    if squares_a < count || squares_b < count {
        return 0.0;
    }
    (cross / (squares_a * squares_b).sqrt()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size() -> WorkSize {
        WorkSize {
            width: 32,
            height: 24,
        }
    }

    fn pattern(offset: usize) -> Vec<f32> {
        (0..size().pixels())
            .map(|i| (((i + offset) * 7919) % 97) as f32)
            .collect()
    }

    #[test]
    fn identical_pictures_correlate_and_do_not_differ() {
        let grid = CellGrid::new(size());
        let image = pattern(0);
        let mut out = CellMeasures::default();
        grid.measure(&image, &image, &image, &mut out);
        for cell in 0..CELLS {
            assert!(out.correlation[cell] > 0.999, "{cell}");
            assert_eq!(out.difference[cell], 0.0);
            assert!(out.deviation[cell] > 10.0);
            assert!(out.gradient[cell] > 10.0);
        }
    }

    #[test]
    fn gain_and_offset_keep_correlation() {
        let grid = CellGrid::new(size());
        let image = pattern(0);
        let brighter: Vec<f32> = image.iter().map(|v| v * 1.4 + 10.0).collect();
        let mut out = CellMeasures::default();
        grid.measure(&brighter, &image, &image, &mut out);
        assert!(out.correlation.iter().all(|&c| c > 0.999));
        assert!(out.difference.iter().all(|&d| d > 10.0));
    }

    #[test]
    fn flat_picture_has_no_contrast_and_no_correlation() {
        let grid = CellGrid::new(size());
        let flat = vec![16.0; size().pixels()];
        let mut out = CellMeasures::default();
        grid.measure(&flat, &flat, &pattern(0), &mut out);
        assert!(out.deviation.iter().all(|&d| d == 0.0));
        assert!(out.gradient.iter().all(|&g| g == 0.0));
        assert!(out.correlation.iter().all(|&c| c == 0.0));
        let mut means = [0.0; CELLS];
        grid.means(&flat, &mut means);
        assert!(means.iter().all(|&m| m == 16.0));
    }

    #[test]
    fn pearson_correlation() {
        assert!((correlation(&[1.0, 5.0, 9.0], &[2.0, 10.0, 18.0]) - 1.0).abs() < 1e-6);
        assert!((correlation(&[1.0, 5.0, 9.0], &[18.0, 10.0, 2.0]) + 1.0).abs() < 1e-6);
        assert_eq!(correlation(&[3.0, 3.0, 3.0], &[1.0, 5.0, 9.0]), 0.0);
    }
}
