//! Segment files written, read back, cut short and joined — box by box.

use custos_media::layout::parse_segment;
use custos_media::params::VideoParams;
use custos_media::recorder::{CameraRecorder, DropReason, RecorderConfig, SegmentEvent};
use custos_media::recovery::recover_file;
use custos_media::segment::{Frame, SegmentWriter, MAX_FRAGMENT_BYTES};
use custos_media::span::{read_span_to_vec, SpanSource};
use custos_media::synthetic;
use sha2::{Digest, Sha256};

const T0: i64 = 1_764_340_000_000;
/// One frame at 10 fps in 90 kHz units, as `synthetic::frame` spaces them.
const FRAME: i64 = 9000;
fn params() -> VideoParams {
    synthetic::params(640, 360)
}

fn frame(n: i64, gop: i64) -> Frame {
    synthetic::frame(n, gop)
}

#[test]
fn writer_output_parses_back_with_one_fragment_per_gop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.mp4");
    let mut w =
        SegmentWriter::create(&path, &params(), frame(0, 10), T0, 90_000, 9000).expect("create");
    for n in 1..35 {
        w.push(frame(n, 10)).expect("push");
    }
    let sealed = w.finish(Some(35 * FRAME)).expect("finish");
    let bytes = std::fs::read(&path).expect("read");
    assert_eq!(sealed.bytes, bytes.len() as u64);
    assert_eq!(sealed.frames, 35);
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    assert_eq!(
        sealed.sha256, digest,
        "hash computed while writing matches the file"
    );
    assert_eq!(sealed.end_ms, T0 + 3500);

    let layout = parse_segment(bytes.as_slice()).expect("layout");
    assert_eq!(layout.trailing, None);
    assert_eq!(layout.valid_len, bytes.len() as u64);
    let counts: Vec<u32> = layout.fragments.iter().map(|f| f.samples).collect();
    assert_eq!(counts, vec![10, 10, 10, 5]);
    assert!(layout.fragments.iter().all(|f| f.starts_with_key));
    let starts: Vec<u64> = layout
        .fragments
        .iter()
        .map(|f| f.base_decode_time)
        .collect();
    assert_eq!(starts, vec![0, 90_000, 180_000, 270_000]);
    let walls: Vec<Option<i64>> = layout.fragments.iter().map(|f| f.wall_clock_ms).collect();
    assert_eq!(
        walls,
        vec![Some(T0), Some(T0 + 1000), Some(T0 + 2000), Some(T0 + 3000)]
    );
    assert_eq!(
        layout
            .fragments
            .iter()
            .map(|f| f.sequence)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
}

#[test]
fn long_gops_are_split_into_fragments_of_at_most_max_fragment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long-gop.mp4");
    // GOP of 40 frames (4 s) with a 1 s fragment bound.
    let mut w =
        SegmentWriter::create(&path, &params(), frame(0, 40), T0, 90_000, 9000).expect("create");
    for n in 1..40 {
        w.push(frame(n, 40)).expect("push");
    }
    w.finish(None).expect("finish");
    let layout = parse_segment(std::fs::read(&path).expect("read").as_slice()).expect("layout");
    let counts: Vec<u32> = layout.fragments.iter().map(|f| f.samples).collect();
    assert_eq!(counts, vec![10, 10, 10, 10]);
    let keys: Vec<bool> = layout.fragments.iter().map(|f| f.starts_with_key).collect();
    assert_eq!(keys, vec![true, false, false, false]);
}

#[test]
fn a_fragment_is_written_once_its_frames_reach_max_fragment_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("large.mp4");
    // A key frame as large as a 1080p camera's, then frames of a third of
    // the byte bound, all well within the 1 s time bound.
    let sized = |n: i64, len: usize| {
        let mut f = frame(n, 100);
        let mut data = f.data.to_vec();
        data.resize(len, 0x5A);
        f.data = data.into();
        f
    };
    let third = MAX_FRAGMENT_BYTES / 3 + 1;
    let mut w = SegmentWriter::create(
        &path,
        &params(),
        sized(0, 3 * MAX_FRAGMENT_BYTES),
        T0,
        90_000,
        9000,
    )
    .expect("create");
    let mut written_at = Vec::new();
    for n in 1..8 {
        if w.push(sized(n, third)).expect("push") {
            written_at.push(n);
        }
    }
    w.finish(Some(8 * FRAME)).expect("finish");
    // The key frame went out as soon as the next frame came; then every
    // third frame, when the waiting ones reached the bound.
    assert_eq!(written_at, vec![1, 4, 7]);
    let layout = parse_segment(std::fs::read(&path).expect("read").as_slice()).expect("layout");
    let counts: Vec<u32> = layout.fragments.iter().map(|f| f.samples).collect();
    assert_eq!(counts, vec![1, 3, 3, 1]);
    assert_eq!(
        layout.valid_len,
        std::fs::metadata(&path).expect("stat").len()
    );
}

#[test]
fn recovery_keeps_complete_fragments_and_cuts_the_interrupted_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crash.mp4");
    let mut w =
        SegmentWriter::create(&path, &params(), frame(0, 10), T0, 90_000, 9000).expect("create");
    for n in 1..30 {
        w.push(frame(n, 10)).expect("push");
    }
    let complete = w.written();
    assert_eq!(complete.frames, 20);
    drop(w); // a crash: the third GOP never reached the file
             // ...and a torn write of a fourth fragment.
    let mut bytes = std::fs::read(&path).expect("read");
    let len_complete = bytes.len();
    bytes.extend_from_within(len_complete - 200..len_complete - 100);
    std::fs::write(&path, &bytes).expect("write");

    let r = recover_file(&path).expect("recover");
    assert_eq!(r.frames, 20);
    assert_eq!(r.bytes, len_complete as u64);
    assert_eq!(r.truncated_bytes, 100);
    assert_eq!(r.start_ms, Some(T0));
    assert_eq!(r.duration_ms, 2000);
    let after = std::fs::read(&path).expect("read");
    assert_eq!(after.len(), len_complete);
    assert_eq!(r.sha256, <[u8; 32]>::from(Sha256::digest(&after)));
}

#[test]
fn recovery_rejects_a_file_that_is_not_a_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("junk.mp4");
    std::fs::write(&path, b"definitely not an mp4 file").expect("write");
    let e = recover_file(&path).expect_err("junk");
    let msg = e.to_string();
    assert!(msg.contains("junk.mp4") && msg.contains("ftyp"), "{msg}");
}

#[test]
fn pictures_before_the_stream_parameters_are_counted_as_waiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rec = CameraRecorder::new(RecorderConfig::new("cam", dir.path().join("video/cam"), 2));
    let mut events = Vec::new();
    // A camera that sends its parameter sets in band only, joined between
    // two key frames: two pictures come before them.
    rec.before_parameters(T0 - 200, &mut events);
    rec.before_parameters(T0 - 100, &mut events);
    rec.set_params(params(), T0, &mut events);
    rec.push(frame(9, 10), T0 + 900, &mut events);
    rec.push(frame(10, 10), T0 + 1000, &mut events);
    rec.seal(None, T0 + 1100, &mut events);
    assert!(events.iter().all(|e| !matches!(e, SegmentEvent::Loss(_))));
    let counts = rec.counts();
    assert_eq!((counts.received, counts.stored), (4, 1));
    assert_eq!(counts.dropped(DropReason::AwaitingKeyFrame), 3);
    assert_eq!(counts.dropped_total(), 3);
}

#[test]
fn recorder_cuts_on_key_frame_after_segment_duration_and_on_parameter_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rec = CameraRecorder::new(RecorderConfig::new("cam", dir.path().join("video/cam"), 2));
    let mut events = Vec::new();
    rec.set_params(params(), T0, &mut events);
    // 3 frames before the first key frame are skipped, not recorded.
    for n in 7..10 {
        rec.push(frame(n, 10), T0 + n * 100, &mut events);
    }
    assert!(events.is_empty(), "waiting for a key frame is not a loss");
    assert_eq!(rec.counts().dropped(DropReason::AwaitingKeyFrame), 3);
    assert_eq!(rec.counts().dropped_total(), 3);
    for n in 10..60 {
        rec.push(frame(n, 10), T0 + n * 100, &mut events);
    }
    let mut other = params();
    other.width = 1280;
    rec.set_params(other, T0 + 6000, &mut events);
    rec.push(frame(60, 10), T0 + 6000, &mut events);
    rec.seal(None, T0 + 6100, &mut events);
    let counts = rec.counts();
    assert_eq!((counts.received, counts.stored), (54, 51));

    let sealed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SegmentEvent::Sealed(s) => Some((s.start_ms, s.end_ms, s.frames)),
            _ => None,
        })
        .collect();
    // Cut at frames 30 and 50 (2 s of media), then at the parameter change.
    assert_eq!(
        sealed,
        vec![
            (T0 + 1000, T0 + 3000, 20),
            (T0 + 3000, T0 + 5000, 20),
            (T0 + 5000, T0 + 6000, 10),
            (T0 + 6000, T0 + 6100, 1)
        ]
    );
    let opened = events
        .iter()
        .filter(|e| matches!(e, SegmentEvent::Opened { .. }))
        .count();
    assert_eq!(opened, 4);
}

#[test]
fn span_starts_at_key_frame_before_start_and_is_continuous_across_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    // One fragment per GOP (1 s here).
    let mut rec = CameraRecorder::new(RecorderConfig {
        max_fragment_ticks: 90_000,
        ..RecorderConfig::new("cam", dir.path().to_owned(), 2)
    });
    let mut events = Vec::new();
    rec.set_params(params(), T0, &mut events);
    for n in 0..60 {
        rec.push(frame(n, 10), T0 + n * 100, &mut events);
    }
    rec.seal(None, T0 + 6000, &mut events);
    let sources: Vec<SpanSource> = events
        .iter()
        .filter_map(|e| match e {
            SegmentEvent::Sealed(s) => Some(SpanSource {
                path: s.path.clone(),
                start_ms: s.start_ms,
            }),
            _ => None,
        })
        .collect();
    assert_eq!(sources.len(), 3);
    // From 1.5 s to 3.2 s: starts at the key frame at 1.0 s, ends with the GOP at 3.0 s.
    let out = read_span_to_vec(&sources, T0 + 1500, T0 + 3200).expect("span");
    let layout = parse_segment(out.as_slice()).expect("layout");
    assert_eq!(layout.trailing, None);
    assert_eq!(layout.frames(), 30);
    assert_eq!(
        layout
            .fragments
            .iter()
            .map(|f| f.sequence)
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        layout
            .fragments
            .iter()
            .map(|f| f.base_decode_time)
            .collect::<Vec<_>>(),
        vec![0, 90_000, 180_000]
    );
    assert_eq!(layout.fragments[0].wall_clock_ms, Some(T0 + 1000));
    // The first sample is frame 10, byte for byte.
    let first = &out[layout.fragments[0].offset as usize..];
    let pos = first
        .windows(5)
        .position(|w| w == [0, 0, 0, 8, 0x65])
        .expect("sample");
    assert_eq!(&first[pos + 5..pos + 9], &10u32.to_be_bytes());

    // A span that ends inside a file (the common case).
    let inner = read_span_to_vec(&sources, T0 + 500, T0 + 1500).expect("inner span");
    let layout = parse_segment(inner.as_slice()).expect("layout");
    assert_eq!(layout.frames(), 20, "the GOPs at 0 s and 1 s");

    let empty = read_span_to_vec(&sources, T0 + 60_000, T0 + 70_000);
    assert!(empty.is_err());
}

#[test]
fn layout_reports_the_sample_entry_parameters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.mp4");
    let w =
        SegmentWriter::create(&path, &params(), frame(0, 10), T0, 90_000, 9000).expect("create");
    w.finish(None).expect("finish");
    let layout = parse_segment(std::fs::read(&path).expect("read").as_slice()).expect("layout");
    assert_eq!(layout.video_params(), Some(params()));
}
