//! Measures the per-frame cost of the analysis on synthetic 640x360 frames
//! (a textured scene with sensor noise), on one core, including the
//! downscale. First half: a small figure walking across (ordinary motion).
//! Second half: a figure half the picture wide walking slowly close to the
//! camera, so many cells disagree with the reference and the costliest
//! check (the global shift search) runs on most frames.
//!
//! ```sh
//! cargo run --release -p custos-vision --example cost
//! ```

use std::time::{Duration, Instant};

use custos_vision::{Analyzer, AnalyzerConfig, LumaFrame};

/// A deterministic pseudo-random generator (xorshift64*).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const WIDTH: usize = 640;
const HEIGHT: usize = 360;
/// Decoders pad rows.
const STRIDE: usize = 704;
const FRAMES: usize = 4000;

fn main() {
    let mut random = Noise(0x9e37_79b9_7f4a_7c15);
    // Blocks of random brightness with fine random detail.
    let blocks_across = STRIDE / 24 + 1;
    let blocks: Vec<u8> = (0..blocks_across * (HEIGHT / 24 + 1))
        .map(|_| (random.next() % 120) as u8)
        .collect();
    let scene: Vec<u8> = (0..STRIDE * HEIGHT)
        .map(|i| {
            let (x, y) = (i % STRIDE, i / STRIDE);
            40 + blocks[y / 24 * blocks_across + x / 24] + (random.next() % 40) as u8
        })
        .collect();
    let mut buffer = vec![0u8; STRIDE * HEIGHT];
    let mut analyzer = match Analyzer::new(AnalyzerConfig::default()) {
        Ok(analyzer) => analyzer,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    let mut spent = [Duration::ZERO; 2];
    let mut updates = 0usize;
    for index in 0..FRAMES {
        let half = usize::from(index >= FRAMES / 2);
        for (out, &value) in buffer.iter_mut().zip(&scene) {
            *out = value.saturating_add((random.next() % 7) as u8);
        }
        let (figure_width, figure_height, speed) = [(60, 120, 8), (320, 330, 2)][half];
        let figure_x = (index * speed) % (WIDTH - figure_width);
        for row in buffer.chunks_exact_mut(STRIDE).skip(20).take(figure_height) {
            row[figure_x..figure_x + figure_width].fill(30);
        }
        let frame = LumaFrame {
            width: WIDTH,
            height: HEIGHT,
            stride: STRIDE,
            data: &buffer,
            pts_ms: index as i64 * 200,
        };
        let started = Instant::now();
        updates += analyzer.push(&frame).len();
        spent[half] += started.elapsed();
    }
    let stats = analyzer.stats();
    let per_frame = |spent: Duration| spent.as_secs_f64() * 1e6 / (FRAMES / 2) as f64;
    println!(
        "{FRAMES} frames of {WIDTH}x{HEIGHT} (work {}x{}), {updates} updates",
        stats.work_width, stats.work_height
    );
    println!(
        "  small figure walking:                 {:.1} µs per frame",
        per_frame(spent[0])
    );
    println!(
        "  half-picture figure close to the lens: {:.1} µs per frame",
        per_frame(spent[1])
    );
}
