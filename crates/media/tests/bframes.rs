//! Streams with B-frames, as encoders write them by default, recorded the
//! way an RTSP camera delivers them: in decode order with presentation times
//! only. Every picture must reach the files, in its order, with the camera's
//! presentation times, and every file must decode without an error.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use custos_media::decode_time::DecodeTimer;
use custos_media::layout::parse_segment;
use custos_media::params::{VideoCodec, VideoParams};
use custos_media::recorder::{CameraRecorder, RecorderConfig, SegmentEvent};
use custos_media::segment::Frame;
use custos_media::span::{read_span_to_vec, SpanSource};
use custos_media::sps::reorder_depth;
use ffmpeg_next as ffmpeg;

const T0: i64 = 1_796_000_000_000;

struct Clip {
    params: VideoParams,
    /// (pts, dts, data, key) in decode order, in 90 kHz units.
    packets: Vec<(i64, i64, Bytes, bool)>,
}

/// Encodes 12 s of a noisy test scene with `codec_args` into an MP4 file.
fn encode(dir: &Path, name: &str, codec_args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15"])
        .args(["-t", "12", "-vf", "noise=alls=10:allf=t,format=yuv420p"])
        .args(codec_args)
        .arg(&path);
    let out = cmd.output().expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn demux(path: &Path) -> Clip {
    ffmpeg::init().expect("init");
    let mut input = ffmpeg::format::input(path).expect("open");
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .expect("video");
    let index = stream.index();
    let tb = stream.time_base();
    let codec = match stream.parameters().id() {
        ffmpeg::codec::Id::H264 => VideoCodec::H264,
        ffmpeg::codec::Id::HEVC => VideoCodec::H265,
        other => panic!("unexpected codec {other:?}"),
    };
    // SAFETY: reading extradata of the open input's stream parameters.
    let record = unsafe {
        let p = &*stream.parameters().as_ptr();
        std::slice::from_raw_parts(p.extradata, p.extradata_size as usize).to_vec()
    };
    let params = VideoParams::from_config_record(codec, 320, 240, record).expect("record");
    let ticks = |t: i64| t * 90_000 * i64::from(tb.numerator()) / i64::from(tb.denominator());
    let mut packets = Vec::new();
    for (s, packet) in input.packets() {
        if s.index() != index {
            continue;
        }
        let pts = ticks(packet.pts().expect("pts"));
        let dts = ticks(packet.dts().expect("dts"));
        packets.push((
            pts,
            dts,
            Bytes::copy_from_slice(packet.data().expect("data")),
            packet.is_key(),
        ));
    }
    Clip { params, packets }
}

/// (pts, dts, key) of a file's packets as ffprobe reads them, in decode
/// order, in 90 kHz units.
fn probe_packets(path: &Path) -> Vec<(i64, i64, bool)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "packet=pts,dts,flags", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().expect("pts"),
                f[1].parse().expect("dts"),
                f[2].contains('K'),
            )
        })
        .collect()
}

/// Decodes the whole file with `-xerror`: any decoding error fails.
fn decodes_cleanly(path: &Path) -> Result<u64, String> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-xerror", "-i"])
        .arg(path)
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("run ffmpeg");
    if !out.status.success() || !out.stderr.is_empty() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count() as u64)
}

/// Feeds the clip as an RTSP source would (presentation times only, decode
/// order, one frame every 1/15 s of wall time) through the decode-time stage
/// and the recorder; returns the sealed files' paths and the recorder.
fn record(clip: &Clip, dir: &Path, segment_seconds: u32) -> (Vec<SpanSource>, CameraRecorder) {
    let depth = reorder_depth(&clip.params);
    let mut timer = DecodeTimer::new(depth.pictures);
    let mut rec = CameraRecorder::new(RecorderConfig::new(
        "cam",
        dir.join("video/cam"),
        segment_seconds,
    ));
    let mut events = Vec::new();
    rec.set_params(clip.params.clone(), T0, &mut events);
    let mut timed = Vec::new();
    for (i, (pts, _, data, key)) in clip.packets.iter().enumerate() {
        let frame = Frame {
            pts: *pts,
            dts: *pts,
            data: data.clone(),
            is_key: *key,
        };
        assert!(timer.push(frame, &mut timed).is_none(), "no clock jump");
        for f in timed.drain(..) {
            rec.push(f, T0 + i as i64 * 1000 / 15, &mut events);
        }
    }
    timer.drain(&mut timed);
    for f in timed.drain(..) {
        rec.push(f, T0 + 12_000, &mut events);
    }
    rec.stop(T0 + 12_100, &mut events);
    assert_eq!(timer.deepened, 0, "the SPS's reorder depth was enough");
    let sealed = events
        .iter()
        .filter_map(|e| match e {
            SegmentEvent::Sealed(s) => Some(SpanSource {
                path: s.path.clone(),
                start_ms: s.start_ms,
            }),
            SegmentEvent::Loss(l) => panic!("unexpected loss {l:?}"),
            _ => None,
        })
        .collect();
    (sealed, rec)
}

/// Records the clip and checks every picture and its presentation time;
/// returns the sealed files (in their temporary directory).
fn check_every_picture(
    name: &str,
    codec_args: &[&str],
    want_depth: u32,
) -> (tempfile::TempDir, Vec<SpanSource>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = encode(dir.path(), name, codec_args);
    let clip = demux(&src);
    let reordered = clip.packets.iter().filter(|p| p.0 != p.1).count();
    assert!(reordered > 0, "{name}: the encoder wrote B-frames");
    assert_eq!(reorder_depth(&clip.params).pictures, want_depth, "{name}");

    let (files, rec) = record(&clip, dir.path(), 4);
    assert!(files.len() >= 2, "{name}: several segments");
    let counts = rec.counts();
    assert_eq!(counts.received, clip.packets.len() as u64);
    assert_eq!(
        counts.stored,
        clip.packets.len() as u64,
        "{name}: every picture stored"
    );
    assert_eq!(counts.dropped_total(), 0);

    // Files hold the camera's packets in its decode order, and ffprobe's
    // presentation times are the camera's, relative to each file's start.
    let mut next = 0usize;
    for f in &files {
        let packets = probe_packets(&f.path);
        assert!(packets[0].2, "{name}: a file starts with a key frame");
        let (src_first_pts, ..) = clip.packets[next];
        for (j, (pts, dts, _)) in packets.iter().enumerate() {
            let (src_pts, ..) = clip.packets[next + j];
            assert_eq!(
                pts - packets[0].0,
                src_pts - src_first_pts,
                "{name}: {} packet {j}",
                f.path.display()
            );
            if j > 0 {
                assert!(*dts > packets[j - 1].1, "{name}: decode times increase");
            }
        }
        next += packets.len();
        match decodes_cleanly(&f.path) {
            Ok(pictures) if pictures > 0 => {}
            other => panic!("{name}: {} does not decode: {other:?}", f.path.display()),
        }
    }
    assert_eq!(next, clip.packets.len(), "{name}: every packet in a file");

    // A span across the files plays as one stream.
    let span = read_span_to_vec(&files, T0, T0 + 60_000).expect("span");
    let span_path = dir.path().join("span.mp4");
    std::fs::write(&span_path, &span).expect("write span");
    let pictures = decodes_cleanly(&span_path).unwrap_or_else(|e| panic!("{name}: span: {e}"));
    assert_eq!(
        pictures,
        clip.packets.len() as u64,
        "{name}: span decodes every picture"
    );
    (dir, files)
}

#[test]
fn x264_default_b_pyramid_is_recorded_picture_for_picture() {
    check_every_picture(
        "x264-default.mp4",
        &["-c:v", "libx264", "-g", "30", "-keyint_min", "30"],
        2,
    );
}

#[test]
fn x264_three_b_frames_without_pyramid_are_recorded_picture_for_picture() {
    check_every_picture(
        "x264-bf3.mp4",
        &[
            "-c:v",
            "libx264",
            "-bf",
            "3",
            "-b_strategy",
            "0",
            "-x264-params",
            "b-pyramid=none",
            "-g",
            "30",
        ],
        1,
    );
}

#[test]
fn x265_closed_gop_b_frames_are_recorded_picture_for_picture() {
    check_every_picture(
        "x265-closed.mp4",
        &[
            "-c:v",
            "libx265",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "keyint=30:min-keyint=30:open-gop=0:log-level=error",
        ],
        2,
    );
}

#[test]
fn x265_default_open_gop_is_recorded_picture_for_picture() {
    let (dir, files) = check_every_picture(
        "x265-open.mp4",
        &[
            "-c:v",
            "libx265",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "keyint=30:min-keyint=30:log-level=error",
        ],
        2,
    );
    // x265's default is an open GOP: key frames (CRA) after the first have
    // leading pictures that reference the GOP before.
    let second = &files[1];
    let layout =
        parse_segment(std::fs::read(&second.path).expect("read").as_slice()).expect("layout");
    assert!(
        layout.fragments[0].has_leading_pictures,
        "CRA with leading pictures"
    );
    // A span from that key frame on starts a GOP earlier, so that its
    // leading pictures decode too: nothing is skipped, nothing is broken.
    let span = read_span_to_vec(&files, second.start_ms, second.start_ms + 3000).expect("span");
    let span_path = dir.path().join("open-span.mp4");
    std::fs::write(&span_path, &span).expect("write span");
    let packets = probe_packets(&span_path);
    let pictures = decodes_cleanly(&span_path).expect("span decodes");
    // Only the lead-in GOP's own leading pictures (presented before the
    // span's first key frame, referencing a GOP not in the file) cannot
    // decode; the requested key frame's leading pictures all do.
    let second_key = packets
        .iter()
        .skip(1)
        .position(|p| p.2)
        .expect("second key")
        + 1;
    let lead_in_leading = packets[..second_key]
        .iter()
        .filter(|p| p.0 < packets[0].0)
        .count();
    assert!(lead_in_leading > 0, "the lead-in GOP is an open GOP too");
    assert_eq!(
        pictures,
        (packets.len() - lead_in_leading) as u64,
        "every picture from the span's start decodes"
    );
    let span_layout = parse_segment(span.as_slice()).expect("layout");
    assert!(span_layout.fragments[0].wall_clock_ms < Some(second.start_ms));
}
