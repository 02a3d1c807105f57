//! The libav helper: the recorder binary does not load libav, and a
//! decoder whose helper dies fails cleanly while the next one works.
//! (A test file of its own: killing the helper would break other tests
//! sharing it.)

mod common;

use std::process::Command;

use common::test_data;
use custos_media::decode::{helper_pid, Decoder, Demuxer};
use custos_media::params::{VideoCodec, VideoParams};

fn needed_libraries(binary: &str) -> Vec<String> {
    let out = Command::new("readelf")
        .args(["-d", binary])
        .output()
        .expect("run readelf");
    assert!(out.status.success(), "readelf -d {binary}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1))
        .map(|l| l.trim_end_matches(']').to_owned())
        .collect()
}

#[test]
fn only_the_helper_loads_libav() {
    let custos = needed_libraries(env!("CARGO_BIN_EXE_custos"));
    assert!(
        custos.iter().any(|l| l.starts_with("libc.so")),
        "{custos:?}"
    );
    let libav = |libs: &[String]| {
        libs.iter()
            .filter(|l| l.starts_with("libav") || l.starts_with("libsw"))
            .count()
    };
    assert_eq!(libav(&custos), 0, "custos needs {custos:?}");
    let helper = needed_libraries(env!("CARGO_BIN_EXE_custos-av"));
    assert!(libav(&helper) >= 2, "custos-av needs {helper:?}");
}

#[test]
fn a_dead_helper_fails_its_decoders_and_the_next_decoder_starts_another() {
    let mut input = Demuxer::open(&test_data("vtest-h264.mp4")).expect("open");
    let params =
        VideoParams::from_config_record(VideoCodec::H264, 768, 576, input.extradata.clone())
            .expect("avcC");
    let mut decoder = Decoder::for_params(&params, 1).expect("decoder");
    let mut packets = Vec::new();
    while let Some(p) = input.next_packet().expect("packet") {
        packets.push(p);
    }
    drop(input);
    let send = |d: &mut Decoder, p: &custos_media::av_wire::Packet| {
        let pts = p.pts.unwrap_or(0);
        d.send(&p.data, pts, p.dts.unwrap_or(pts))
    };
    for p in &packets[..50] {
        send(&mut decoder, p).expect("send");
        while decoder.receive().expect("receive").is_some() {}
    }
    let first = helper_pid().expect("a helper runs");
    let status = Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    // The helper's end is seen when its pipe closes.
    let err = (50..packets.len())
        .find_map(|i| send(&mut decoder, &packets[i]).err())
        .expect("sending to a killed helper fails");
    assert!(err.is_helper_gone(), "{err}");
    assert!(err.to_string().contains("stopped"), "{err}");

    // A new decoder gets a new helper and decodes the whole stream.
    let mut decoder = Decoder::for_params(&params, 1).expect("decoder after the helper died");
    let second = helper_pid().expect("a new helper runs");
    assert_ne!(first, second);
    let mut pictures = 0;
    for p in &packets {
        send(&mut decoder, p).expect("send");
        while decoder.receive().expect("receive").is_some() {
            pictures += 1;
        }
    }
    decoder.send_eof().expect("eof");
    while decoder.receive().expect("receive").is_some() {
        pictures += 1;
    }
    assert_eq!(pictures, 795);
    let luma = decoder.luma().expect("luma of the last picture");
    assert_eq!((luma.width, luma.height, luma.stride), (768, 576, 768));
}
