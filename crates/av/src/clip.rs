//! The demo's synthetic scenes, drawn and encoded to H.264 with libx264:
//! a room of shelves, a figure crossing it, a row of blocks counting the
//! frames, and a hand covering the lens for a while.

use std::path::Path;

use custos_media::av_wire::DemoScene;
use ffmpeg_next as ffmpeg;

use crate::AvError;

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 360;
pub const FPS: i32 = 15;

/// Seconds a hand takes to cover the lens, and to leave it.
const COVER_SLIDE_S: f64 = 0.6;

/// How much of the picture's width is covered at `t` seconds (0..=1).
fn covered_fraction(scene: &DemoScene, t: f64) -> f64 {
    let Some((from, to)) = scene.covered else {
        return 0.0;
    };
    if t < from || t >= to {
        0.0
    } else {
        ((t - from) / COVER_SLIDE_S)
            .min((to - t) / COVER_SLIDE_S)
            .min(1.0)
    }
}

/// A small deterministic hash, for the scene's variety of book spines.
fn spread(a: usize, b: usize) -> usize {
    let mut x =
        (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (b as u64).wrapping_add(0x632B_E59B);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ (x >> 32)) as usize
}

/// The room behind the figure: shelves of books (spines of varied width
/// and shade) between dark boards, lit a little less towards the floor.
/// Real rooms have such detail, and the tamper analysis judges a picture
/// by it: a covered lens is one whose detail is gone.
fn shelves(scene: &DemoScene) -> Vec<u8> {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    const SHELF: usize = 72;
    const BOARD: usize = 6;
    let mut picture = vec![0u8; w * h];
    for shelf in 0..h.div_ceil(SHELF) {
        // One row of spines per shelf.
        let mut spines = vec![0i32; w];
        let mut x = 0;
        let mut book = 0;
        while x < w {
            let width = 5 + spread(shelf, book) % 10;
            let shade = (spread(book, shelf + 7) % 50) as i32 - 25;
            for v in spines.iter_mut().skip(x).take(width) {
                *v = shade;
            }
            x += width;
            book += 1;
        }
        for y in shelf * SHELF..((shelf + 1) * SHELF).min(h) {
            let row = &mut picture[y * w..(y + 1) * w];
            let light = i32::from(scene.background) - (y * 20 / h) as i32;
            if y - shelf * SHELF < BOARD {
                row.fill((light - 45).clamp(16, 235) as u8);
            } else {
                for (px, shade) in row.iter_mut().zip(&spines) {
                    *px = (light + shade).clamp(16, 235) as u8;
                }
            }
        }
    }
    picture
}

/// Draws frame `n` of `scene` into a YUV 4:2:0 frame: the shelves, a figure
/// walking back and forth, and a row of blocks spelling the frame number in
/// binary so that no two frames are alike. While the lens is covered, a
/// dark shape slides over the picture from the left; it is never quite
/// uniform (a hand or a cloth in front of a lens is not), so the picture
/// does not freeze either.
fn draw(scene: &DemoScene, background: &[u8], n: i32, frame: &mut ffmpeg::frame::Video) {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let stride = frame.stride(0);
    let t = f64::from(n) / f64::from(FPS);
    let phase = (t / scene.crossing_seconds).fract();
    let x_frac = if phase < 0.5 {
        phase * 2.0
    } else {
        2.0 - phase * 2.0
    };
    let fig_w = w / 10;
    let fig_x = ((w - fig_w) as f64 * x_frac) as usize;
    let fig_y = h / 3;
    let cover_x = (w as f64 * covered_fraction(scene, t)) as usize;
    let luma = frame.data_mut(0);
    for y in 0..h {
        let row = &mut luma[y * stride..y * stride + w];
        row.copy_from_slice(&background[y * w..(y + 1) * w]);
        if y >= fig_y && y < h - 20 {
            row[fig_x..fig_x + fig_w].fill(scene.figure.clamp(16, 235));
        }
        if y < 16 {
            for bit in 0..16 {
                let on = (n >> bit) & 1 == 1;
                row[bit * 16..bit * 16 + 16].fill(if on { 235 } else { 16 });
            }
        }
        if cover_x > 0 {
            // Dark, with soft folds that drift as the hand moves.
            for (x, px) in row[..cover_x].iter_mut().enumerate() {
                let fold = ((x / 24 + y / 24) as i32 + n / 4) % 5;
                *px = (18 + fold) as u8;
            }
        }
    }
    for plane in 1..3 {
        let stride = frame.stride(plane);
        let data = frame.data_mut(plane);
        let tint = if plane == 1 { 120 } else { 136 };
        for y in 0..h / 2 {
            data[y * stride..y * stride + w / 2].fill(tint);
        }
    }
}

/// Encodes `scene` to an MP4 file at `path` (written to a temporary name
/// first, so an interrupted run never leaves a half file behind).
pub fn write_scene_clip(scene: &DemoScene, path: &Path) -> Result<(), AvError> {
    let enc_err = |what: &'static str| move |e: ffmpeg::Error| AvError::codec(what, e);
    ffmpeg::init().map_err(enc_err("initialising libavcodec"))?;
    ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    let codec = ffmpeg::encoder::find_by_name("libx264").ok_or_else(|| AvError {
        kind: custos_media::av_wire::ErrorKind::NoDecoder,
        message: "libx264 encoder (Debian's libavcodec has it)".into(),
    })?;
    // Per process: demos sharing a clips directory may encode at once.
    let tmp = path.with_extension(format!("partial-{}.mp4", std::process::id()));
    let mut octx = ffmpeg::format::output_as(&tmp, "mp4")
        .map_err(|e| AvError::file(format!("creating {}: {e}", tmp.display())))?;
    let global_header = octx
        .format()
        .flags()
        .contains(ffmpeg::format::Flags::GLOBAL_HEADER);
    let mut enc = ffmpeg::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(enc_err("creating the H.264 encoder"))?;
    enc.set_width(WIDTH);
    enc.set_height(HEIGHT);
    enc.set_format(ffmpeg::format::Pixel::YUV420P);
    enc.set_time_base((1, FPS));
    enc.set_frame_rate(Some((FPS, 1)));
    enc.set_gop(FPS as u32);
    enc.set_max_b_frames(0);
    enc.set_bit_rate(600_000);
    if global_header {
        enc.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
    }
    let mut opts = ffmpeg::Dictionary::new();
    opts.set("preset", "veryfast");
    opts.set("x264-params", "keyint=15:min-keyint=15:scenecut=0");
    let mut encoder = enc
        .open_with(opts)
        .map_err(enc_err("opening the H.264 encoder"))?;
    {
        let mut ost = octx
            .add_stream(codec)
            .map_err(enc_err("adding the video stream"))?;
        ost.set_parameters(&encoder);
        ost.set_time_base((1, FPS));
    }
    octx.write_header()
        .map_err(enc_err("writing the MP4 header"))?;
    let out_tb = octx
        .stream(0)
        .ok_or_else(|| AvError::codec("writing the MP4 header", "the muxer lost its stream"))?
        .time_base();
    let mut frame = ffmpeg::frame::Video::new(ffmpeg::format::Pixel::YUV420P, WIDTH, HEIGHT);
    let background = shelves(scene);
    let write_packets = |encoder: &mut ffmpeg::encoder::Video,
                         octx: &mut ffmpeg::format::context::Output|
     -> Result<(), AvError> {
        let mut packet = ffmpeg::Packet::empty();
        while encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            packet.rescale_ts((1, FPS), out_tb);
            packet
                .write_interleaved(octx)
                .map_err(enc_err("writing the MP4 file"))?;
        }
        Ok(())
    };
    for n in 0..FPS * scene.seconds {
        draw(scene, &background, n, &mut frame);
        frame.set_pts(Some(i64::from(n)));
        encoder
            .send_frame(&frame)
            .map_err(enc_err("encoding a picture"))?;
        write_packets(&mut encoder, &mut octx)?;
    }
    encoder
        .send_eof()
        .map_err(enc_err("flushing the encoder"))?;
    write_packets(&mut encoder, &mut octx)?;
    octx.write_trailer()
        .map_err(enc_err("writing the MP4 trailer"))?;
    drop(octx);
    std::fs::rename(&tmp, path).map_err(|e| {
        AvError::file(format!(
            "renaming {} to {}: {e}",
            tmp.display(),
            path.display()
        ))
    })?;
    Ok(())
}
