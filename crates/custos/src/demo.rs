//! `custos demo`: a complete site from nothing — synthetic scenes encoded to
//! H.264 in process (libx264 through libavcodec), played as live cameras.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use ffmpeg_next as ffmpeg;

/// A synthetic camera scene.
pub struct Scene {
    pub id: &'static str,
    pub name: &'static str,
    /// Luma of the background and of the moving figure.
    pub background: u8,
    pub figure: u8,
    /// Seconds the figure takes to cross the picture.
    pub crossing_seconds: f64,
}

pub const SCENES: [Scene; 2] = [
    Scene {
        id: "reading-room",
        name: "Reading room",
        background: 70,
        figure: 200,
        crossing_seconds: 6.0,
    },
    Scene {
        id: "stacks",
        name: "Stacks",
        background: 110,
        figure: 30,
        crossing_seconds: 9.0,
    },
];

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 360;
pub const FPS: i32 = 15;
const SECONDS: i32 = 20;

/// Draws frame `n` of `scene` into a YUV 4:2:0 frame: shelves, a figure
/// walking back and forth, and a row of blocks spelling the frame number in
/// binary so that no two frames are alike.
fn draw(scene: &Scene, n: i32, frame: &mut ffmpeg::frame::Video) {
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
    let luma = frame.data_mut(0);
    for y in 0..h {
        let row = &mut luma[y * stride..y * stride + w];
        for (x, px) in row.iter_mut().enumerate() {
            // Shelves: vertical bands with a little gradient.
            let shelf = if (x / 80) % 2 == 0 { 0 } else { 25 };
            let mut v = i32::from(scene.background) + shelf + (y * 20 / h) as i32;
            if x >= fig_x && x < fig_x + fig_w && y >= fig_y && y < h - 20 {
                v = i32::from(scene.figure);
            }
            if y < 16 && x < 16 * 16 {
                let bit = (n >> (x / 16)) & 1;
                v = if bit == 1 { 235 } else { 16 };
            }
            *px = v.clamp(16, 235) as u8;
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
pub fn write_scene_clip(scene: &Scene, path: &Path) -> anyhow::Result<()> {
    ffmpeg::init().context("initialising libavcodec")?;
    ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    let codec = ffmpeg::encoder::find_by_name("libx264").ok_or_else(|| {
        anyhow!("this FFmpeg has no libx264 encoder (Debian's libavcodec has it)")
    })?;
    let tmp = path.with_extension("partial.mp4");
    let mut octx = ffmpeg::format::output_as(&tmp, "mp4")
        .with_context(|| format!("creating {}", tmp.display()))?;
    let global_header = octx
        .format()
        .flags()
        .contains(ffmpeg::format::Flags::GLOBAL_HEADER);
    let mut enc = ffmpeg::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()?;
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
    let mut encoder = enc.open_with(opts).context("opening the H.264 encoder")?;
    {
        let mut ost = octx.add_stream(codec)?;
        ost.set_parameters(&encoder);
        ost.set_time_base((1, FPS));
    }
    octx.write_header().context("writing the MP4 header")?;
    let out_tb = octx
        .stream(0)
        .ok_or_else(|| anyhow!("muxer lost its stream"))?
        .time_base();
    let mut frame = ffmpeg::frame::Video::new(ffmpeg::format::Pixel::YUV420P, WIDTH, HEIGHT);
    let write_packets = |encoder: &mut ffmpeg::encoder::Video,
                         octx: &mut ffmpeg::format::context::Output|
     -> anyhow::Result<()> {
        let mut packet = ffmpeg::Packet::empty();
        while encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            packet.rescale_ts((1, FPS), out_tb);
            packet.write_interleaved(octx)?;
        }
        Ok(())
    };
    for n in 0..FPS * SECONDS {
        draw(scene, n, &mut frame);
        frame.set_pts(Some(i64::from(n)));
        encoder.send_frame(&frame)?;
        write_packets(&mut encoder, &mut octx)?;
    }
    encoder.send_eof()?;
    write_packets(&mut encoder, &mut octx)?;
    octx.write_trailer()?;
    drop(octx);
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// Creates the demo directory: clips and a config. Returns the config path.
pub fn prepare(dir: &Path, listen: &str) -> anyhow::Result<PathBuf> {
    let clips = dir.join("clips");
    std::fs::create_dir_all(&clips).with_context(|| format!("creating {}", clips.display()))?;
    let dir = std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let mut cameras = String::new();
    for scene in &SCENES {
        let clip = dir.join("clips").join(format!("{}.mp4", scene.id));
        if !clip.exists() {
            eprintln!("encoding the synthetic scene {:?} …", scene.name);
            write_scene_clip(scene, &clip)?;
        }
        let url = url::Url::from_file_path(&clip)
            .map_err(|_| anyhow!("clip path {} is not absolute", clip.display()))?;
        cameras.push_str(&format!(
            "\n[[camera]]\nid = \"{}\"\nname = \"{}\"\nurl = \"{url}\"\nsegment_seconds = 10\nretain_days = 7\nretain_bytes = \"2GB\"\n",
            scene.id, scene.name
        ));
    }
    let config = dir.join("custos.toml");
    let text = format!(
        "# Written by `custos demo`: two synthetic cameras played as live streams.\n\
         data_dir = \"data\"\nsite = \"demo\"\n\n[server]\nlisten = \"{listen}\"\n{cameras}"
    );
    std::fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
    Ok(config)
}
