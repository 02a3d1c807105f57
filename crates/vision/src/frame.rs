//! Input frames and the box downscale to the work size.

/// One decoded picture's luma (Y) plane, borrowed from the decoder.
#[derive(Debug, Clone, Copy)]
pub struct LumaFrame<'a> {
    /// Visible width in pixels.
    pub width: usize,
    /// Visible height in pixels.
    pub height: usize,
    /// Bytes from the start of one row to the start of the next (at least
    /// `width`; decoders pad rows).
    pub stride: usize,
    /// The plane: at least `stride * height` bytes.
    pub data: &'a [u8],
    /// Presentation time in milliseconds. All timing (learning, debounce,
    /// merging) uses it, never frame counts, so any frame rate works.
    pub pts_ms: i64,
}

/// The smallest frame analysed: the tamper grid (8x6 cells) needs at least
/// two pixels per cell each way.
pub(crate) const MIN_FRAME_WIDTH: usize = 16;
/// See [`MIN_FRAME_WIDTH`].
pub(crate) const MIN_FRAME_HEIGHT: usize = 12;

impl LumaFrame<'_> {
    /// True if the frame can be analysed: at least 16x12 pixels, a stride of
    /// at least the width, and `stride * height` bytes of data.
    pub fn is_well_formed(&self) -> bool {
        self.width >= MIN_FRAME_WIDTH
            && self.height >= MIN_FRAME_HEIGHT
            && self.stride >= self.width
            && self
                .stride
                .checked_mul(self.height)
                .is_some_and(|needed| self.data.len() >= needed)
    }
}

/// Width and height of the analysed picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkSize {
    /// Pixels across.
    pub width: usize,
    /// Pixels down.
    pub height: usize,
}

impl WorkSize {
    /// Pixels in the picture.
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// The work size for a `width` x `height` input at `work_width`: the
    /// aspect ratio is kept, and the picture is never upscaled.
    pub(crate) fn for_input(width: usize, height: usize, work_width: usize) -> WorkSize {
        let out_width = work_width.min(width);
        let scaled = (height as f64 * out_width as f64 / width as f64).round() as usize;
        let out_height = scaled.clamp(MIN_FRAME_HEIGHT.min(height), height);
        WorkSize {
            width: out_width,
            height: out_height,
        }
    }
}

/// Averages each block of input pixels that maps to one work pixel (a box
/// filter). The bin edges are computed once per input size; the per-frame
/// work is one pass of integer additions over the input, so it is cheap even
/// for large frames.
#[derive(Debug, Default)]
pub(crate) struct Downscaler {
    input_width: usize,
    input_height: usize,
    size: WorkSize,
    /// `column_edges[i]..column_edges[i + 1]` are the input columns of work column `i`.
    column_edges: Vec<usize>,
    /// The same for rows.
    row_edges: Vec<usize>,
    /// Column sums of the input rows of one work row.
    column_sums: Vec<u32>,
    /// The same in 16 bits, used when a work row spans few enough input
    /// rows (twice as many lanes per vector instruction).
    narrow_sums: Vec<u16>,
}

/// Up to this many rows of 255 fit in a `u16`.
const NARROW_MAX_ROWS: usize = u16::MAX as usize / 255;

impl Downscaler {
    /// Prepares for `width` x `height` inputs; returns the work size.
    pub(crate) fn configure(&mut self, width: usize, height: usize, work_width: usize) -> WorkSize {
        let size = WorkSize::for_input(width, height, work_width);
        self.input_width = width;
        self.input_height = height;
        self.size = size;
        self.column_edges = (0..=size.width).map(|i| i * width / size.width).collect();
        self.row_edges = (0..=size.height)
            .map(|i| i * height / size.height)
            .collect();
        self.column_sums = vec![0; width];
        self.narrow_sums = vec![0; width];
        size
    }

    /// Box-averages `frame` (already checked well formed and of the
    /// configured size) into `out` (work size, row-major).
    pub(crate) fn downscale(&mut self, frame: &LumaFrame<'_>, out: &mut [f32]) {
        let width = self.input_width;
        for (out_row, rows) in out
            .chunks_exact_mut(self.size.width)
            .zip(self.row_edges.windows(2))
        {
            let input_rows = (rows[0]..rows[1]).map(|y| &frame.data[y * frame.stride..][..width]);
            let scale = 1.0 / (rows[1] - rows[0]) as f32;
            if rows[1] - rows[0] <= NARROW_MAX_ROWS {
                sum_columns(input_rows, &mut self.narrow_sums);
                bin_columns(&self.narrow_sums, &self.column_edges, scale, out_row);
            } else {
                sum_columns(input_rows, &mut self.column_sums);
                bin_columns(&self.column_sums, &self.column_edges, scale, out_row);
            }
        }
    }
}

/// Averages the column sums of each work column's input columns.
fn bin_columns<T: Copy + Into<u32>>(sums: &[T], edges: &[usize], scale: f32, out: &mut [f32]) {
    for (pixel, columns) in out.iter_mut().zip(edges.windows(2)) {
        let bin = &sums[columns[0]..columns[1]];
        let sum: u32 = bin.iter().map(|&s| s.into()).sum();
        *pixel = sum as f32 * scale / bin.len() as f32;
    }
}

/// Adds the rows element-wise into `sums` (cleared first). A plain
/// element-wise loop: the compiler vectorises it.
fn sum_columns<'a, T>(rows: impl Iterator<Item = &'a [u8]>, sums: &mut [T])
where
    T: Copy + Default + std::ops::AddAssign + From<u8>,
{
    sums.fill(T::default());
    for row in rows {
        for (sum, &value) in sums.iter_mut().zip(row) {
            *sum += T::from(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_size_keeps_aspect_and_never_upscales() {
        assert_eq!(
            WorkSize::for_input(640, 360, 160),
            WorkSize {
                width: 160,
                height: 90
            }
        );
        assert_eq!(
            WorkSize::for_input(768, 576, 160),
            WorkSize {
                width: 160,
                height: 120
            }
        );
        assert_eq!(
            WorkSize::for_input(100, 50, 160),
            WorkSize {
                width: 100,
                height: 50
            }
        );
        // A very wide frame still gets enough rows for the grid.
        assert_eq!(WorkSize::for_input(4000, 20, 160).height, 12);
    }

    #[test]
    fn malformed_frames_are_recognised() {
        let data = vec![0u8; 100 * 20];
        let good = LumaFrame {
            width: 90,
            height: 20,
            stride: 100,
            data: &data,
            pts_ms: 0,
        };
        assert!(good.is_well_formed());
        assert!(!LumaFrame { width: 0, ..good }.is_well_formed());
        assert!(!LumaFrame { height: 0, ..good }.is_well_formed());
        assert!(!LumaFrame { stride: 80, ..good }.is_well_formed());
        assert!(!LumaFrame {
            data: &data[..1999],
            ..good
        }
        .is_well_formed());
        assert!(!LumaFrame {
            stride: usize::MAX,
            ..good
        }
        .is_well_formed());
    }

    #[test]
    fn downscale_averages_boxes() {
        // 4x2 blocks of constant value, with padding bytes that must be ignored.
        let (width, height, stride) = (8, 4, 10);
        let mut data = vec![255u8; stride * height];
        for y in 0..height {
            for x in 0..width {
                data[y * stride + x] = if x < 4 { 10 } else { 30 } + if y < 2 { 0 } else { 100 };
            }
        }
        let frame = LumaFrame {
            width,
            height,
            stride,
            data: &data,
            pts_ms: 0,
        };
        // Built by hand: `configure` would refuse so small a work size.
        let mut scaler = Downscaler {
            input_width: width,
            input_height: height,
            size: WorkSize {
                width: 2,
                height: 2,
            },
            column_edges: vec![0, 4, 8],
            row_edges: vec![0, 2, 4],
            column_sums: vec![0; width],
            narrow_sums: vec![0; width],
        };
        let mut out = vec![0.0; 4];
        scaler.downscale(&frame, &mut out);
        assert_eq!(out, vec![10.0, 30.0, 110.0, 130.0]);
    }

    #[test]
    fn downscale_handles_uneven_bins() {
        // A horizontal ramp: each work pixel is the mean of its columns.
        let (width, height) = (37, 23);
        let data: Vec<u8> = (0..width * height).map(|i| (i % width * 5) as u8).collect();
        let frame = LumaFrame {
            width,
            height,
            stride: width,
            data: &data,
            pts_ms: 0,
        };
        let mut scaler = Downscaler::default();
        let size = scaler.configure(width, height, 16);
        assert_eq!((size.width, size.height), (16, 12));
        let mut out = vec![0.0; size.pixels()];
        scaler.downscale(&frame, &mut out);
        for (x, columns) in scaler.column_edges.windows(2).enumerate() {
            let expected = (columns[0]..columns[1])
                .map(|c| c as f32 * 5.0)
                .sum::<f32>()
                / (columns[1] - columns[0]) as f32;
            for y in 0..size.height {
                assert!((out[y * size.width + x] - expected).abs() < 1e-3);
            }
        }
    }
}
