//! The libav helper: the recorder binary does not load libav, and a
//! decoder whose helper dies or hangs fails cleanly while the next one
//! works. (A test file of its own: killing the helper would break other
//! tests sharing it; the tests here that do take turns.)

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::test_data;
use custos_media::av_wire::Packet;
use custos_media::decode::{helper_pid, set_reply_timeout, Decoder, Demuxer};
use custos_media::params::{VideoCodec, VideoParams};

/// The process has one helper: one test at a time kills or stops it.
static HELPER_TURN: Mutex<()> = Mutex::new(());

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

/// The test clip's parameters and packets.
fn clip() -> (VideoParams, Vec<Packet>) {
    let mut input = Demuxer::open(&test_data("vtest-h264.mp4")).expect("open");
    let params =
        VideoParams::from_config_record(VideoCodec::H264, 768, 576, input.extradata.clone())
            .expect("avcC");
    let mut packets = Vec::new();
    while let Some(p) = input.next_packet().expect("packet") {
        packets.push(p);
    }
    (params, packets)
}

fn send(d: &mut Decoder, p: &Packet) -> Result<(), custos_media::decode::DecodeError> {
    let pts = p.pts.unwrap_or(0);
    d.send(&p.data, pts, p.dts.unwrap_or(pts))
}

/// A decoder fed the first 50 packets, and the pid of the helper it uses.
fn decoder_under_way(params: &VideoParams, packets: &[Packet]) -> (Decoder, u32) {
    let mut decoder = Decoder::for_params(params, 1).expect("decoder");
    for p in &packets[..50] {
        send(&mut decoder, p).expect("send");
        while decoder.receive().expect("receive").is_some() {}
    }
    (decoder, helper_pid().expect("a helper runs"))
}

/// Decodes every packet with a new decoder: the number of pictures, and
/// the decoder (holding the last picture).
fn decode_all(params: &VideoParams, packets: &[Packet]) -> (usize, Decoder) {
    let mut decoder = Decoder::for_params(params, 1).expect("decoder");
    let mut pictures = 0;
    for p in packets {
        send(&mut decoder, p).expect("send");
        while decoder.receive().expect("receive").is_some() {
            pictures += 1;
        }
    }
    decoder.send_eof().expect("eof");
    while decoder.receive().expect("receive").is_some() {
        pictures += 1;
    }
    (pictures, decoder)
}

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
    let _turn = HELPER_TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (params, packets) = clip();
    let (mut decoder, first) = decoder_under_way(&params, &packets);
    signal(first, "-KILL");
    // The helper's end is seen when its pipe closes.
    let err = (50..packets.len())
        .find_map(|i| send(&mut decoder, &packets[i]).err())
        .expect("sending to a killed helper fails");
    assert!(err.is_helper_gone(), "{err}");
    assert!(err.to_string().contains("stopped"), "{err}");

    // A new decoder gets a new helper and decodes the whole stream.
    let (pictures, mut decoder) = decode_all(&params, &packets);
    let second = helper_pid().expect("a new helper runs");
    assert_ne!(first, second);
    assert_eq!(pictures, 795);
    let luma = decoder.luma().expect("luma of the last picture");
    assert_eq!((luma.width, luma.height, luma.stride), (768, 576, 768));
}

#[test]
fn a_helper_that_stops_answering_is_killed_and_the_next_decoder_starts_another() {
    let _turn = HELPER_TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (params, packets) = clip();
    let (mut decoder, first) = decoder_under_way(&params, &packets);
    // Stopped, the helper lives on and answers nothing, as when libav is
    // stuck on some input.
    set_reply_timeout(Duration::from_secs(2));
    signal(first, "-STOP");
    let asked = Instant::now();
    let err = (50..packets.len())
        .find_map(|i| send(&mut decoder, &packets[i]).err())
        .expect("a request to a stopped helper fails");
    let waited = asked.elapsed();
    set_reply_timeout(Duration::from_secs(60));
    assert!(err.is_helper_gone(), "{err}");
    assert!(
        err.to_string().contains("did not answer within 2 s"),
        "{err}"
    );
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(20),
        "failed after {waited:?}"
    );
    assert_eq!(helper_pid(), None, "the hung helper is no longer used");
    // Killed, not left stopped: the reply reader reaps it.
    let proc_dir = format!("/proc/{first}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&proc_dir).exists() {
        assert!(
            Instant::now() < deadline,
            "the hung helper {first} is still there"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The next decoder starts a new helper and decodes the whole stream.
    assert_eq!(decode_all(&params, &packets).0, 795);
    let second = helper_pid().expect("a new helper runs");
    assert_ne!(first, second);
}
