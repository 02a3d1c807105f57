//! Decoding real footage: every picture of the fixtures, in files of three
//! codecs and from frames in the MP4 form the camera sources deliver.

mod common;

use common::test_data;
use custos_media::decode::{DecodeError, Decoder, Demuxer, FileDecoder};
use custos_media::params::{VideoCodec, VideoParams};

/// Decodes a whole file; returns (pictures, first and last time in ms).
fn decode_all(name: &str) -> (u64, i64, i64, usize, usize) {
    let mut d = FileDecoder::open(&test_data(name), 1).expect("open");
    let (mut n, mut first, mut last) = (0u64, None, 0);
    let (mut w, mut h) = (0, 0);
    while let Some(ms) = d.next_picture().expect("decode") {
        let luma = d.decoder().luma().expect("luma");
        assert!(luma.data.len() >= luma.stride * (luma.height - 1) + luma.width);
        (w, h) = (luma.width, luma.height);
        first.get_or_insert(ms);
        last = ms;
        n += 1;
    }
    (n, first.unwrap_or(0), last, w, h)
}

#[test]
fn files_of_every_fixture_codec_decode_completely() {
    // Frame counts from `ffprobe -count_frames`.
    for (name, frames, codec) in [
        ("vtest.avi", 795, "msmpeg4v3"),
        ("vtest-h264.mp4", 795, "h264"),
        ("vtest-h265.mp4", 300, "hevc"),
    ] {
        let d = FileDecoder::open(&test_data(name), 1).expect("open");
        assert_eq!(d.codec(), codec, "{name}");
        let (n, first, last, w, h) = decode_all(name);
        assert_eq!(n, frames, "{name}");
        assert_eq!((w, h), (768, 576), "{name}");
        // 10 fps: the last picture is (frames - 1) / 10 s after the first.
        assert_eq!(last - first, (frames as i64 - 1) * 100, "{name}");
    }
}

#[test]
fn a_file_that_is_not_video_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("notes.mp4");
    std::fs::write(&junk, b"this is not a video file at all").expect("write");
    let err = FileDecoder::open(&junk, 1).err().expect("refused");
    assert!(err.to_string().contains("notes.mp4"), "{err}");
    let err = FileDecoder::open(&dir.path().join("absent.mp4"), 1)
        .err()
        .expect("refused");
    assert!(matches!(err, DecodeError::File { .. }), "{err}");
}

#[test]
fn frames_in_mp4_form_decode_with_the_configuration_record() {
    // Demux the H.264 fixture as the file source does: packets in MP4 form,
    // the avcC record as the stream's parameters.
    let mut input = Demuxer::open(&test_data("vtest-h264.mp4")).expect("open");
    assert_eq!(input.codec, "h264");
    let params =
        VideoParams::from_config_record(VideoCodec::H264, 768, 576, input.extradata.clone())
            .expect("avcC");
    let mut decoder = Decoder::for_params(&params, 1).expect("decoder");
    let mut pictures = 0;
    let mut jpeg = Vec::new();
    while let Some(packet) = input.next_packet().expect("packet") {
        let pts = packet.pts.unwrap_or(0);
        decoder
            .send(&packet.data, pts, packet.dts.unwrap_or(pts))
            .expect("send");
        while decoder.receive().expect("receive").is_some() {
            pictures += 1;
            if pictures == 100 {
                jpeg = decoder.jpeg(320).expect("jpeg");
            }
        }
    }
    decoder.send_eof().expect("eof");
    while decoder.receive().expect("receive").is_some() {
        pictures += 1;
    }
    assert_eq!(pictures, 795);

    // The snapshot is a JPEG ffprobe reads as 320x240.
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("snap.jpg");
    std::fs::write(&path, &jpeg).expect("write");
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "mjpeg,320,240");
}
