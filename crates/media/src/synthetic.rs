//! Synthetic streams for tests of code that handles segments: valid MP4
//! structure around payloads that are not decodable video. Real footage tests
//! use real cameras and files; these exercise muxing, indexing and recovery
//! where pixel content does not matter.

use bytes::Bytes;

use crate::params::{VideoCodec, VideoParams};
use crate::segment::Frame;

/// H.264 Constrained Baseline parameters for a picture of `width`×`height`.
pub fn params(width: u16, height: u16) -> VideoParams {
    // A minimal AVCDecoderConfigurationRecord: version 1, profile 66 (0x42),
    // constraint flags 0xC0, level 3.0, 4-byte NAL lengths, no SPS/PPS.
    let record = vec![1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0x00];
    match VideoParams::from_config_record(VideoCodec::H264, width, height, record) {
        Ok(p) => p,
        Err(e) => unreachable!("the fixed record is valid: {e}"),
    }
}

/// Frame `n` of a 10 fps stream with a key frame every `gop` frames. Its one
/// NAL unit carries `n`, so a test can find the frame in a file.
pub fn frame(n: i64, gop: i64) -> Frame {
    let mut data = vec![0, 0, 0, 8, 0x65];
    data.extend_from_slice(&(n as u32).to_be_bytes());
    data.extend_from_slice(&[0xAB; 3]);
    Frame {
        pts: n * 9000,
        dts: n * 9000,
        data: Bytes::from(data),
        is_key: n % gop == 0,
    }
}
