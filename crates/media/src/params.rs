//! Codec parameters of a video stream, as the MP4 sample entry needs them.

use std::fmt;

/// The video codecs Custos records. Each is stored exactly as the camera sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    H264,
    H265,
    /// Motion JPEG: every picture a JPEG image, every picture a key frame.
    Mjpeg,
}

impl VideoCodec {
    /// The MP4 sample entry type: `avc1` or `hvc1` (parameter sets out of band,
    /// which is what browsers' Media Source Extensions accept).
    pub fn sample_entry_type(self) -> &'static [u8; 4] {
        match self {
            VideoCodec::H264 => b"avc1",
            VideoCodec::H265 => b"hvc1",
            // MPEG-4 visual sample entry whose `esds` names JPEG (14496-14).
            VideoCodec::Mjpeg => b"mp4v",
        }
    }
    /// The box that carries the decoder configuration record.
    pub fn config_box_type(self) -> &'static [u8; 4] {
        match self {
            VideoCodec::H264 => b"avcC",
            VideoCodec::H265 => b"hvcC",
            VideoCodec::Mjpeg => b"esds",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::H265 => "h265",
            VideoCodec::Mjpeg => "mjpeg",
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything needed to describe a stream in an MP4 init segment. Two frames
/// with different `VideoParams` never share a segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VideoParams {
    pub codec: VideoCodec,
    /// Display (cropped) dimensions in pixels.
    pub width: u16,
    pub height: u16,
    /// Pixel aspect ratio `(h_spacing, v_spacing)` when the stream says it is not square.
    pub pixel_aspect: Option<(u32, u32)>,
    /// The AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3) or
    /// HEVCDecoderConfigurationRecord (8.3.3), exactly as it goes in
    /// `avcC`/`hvcC`; for MJPEG the body of the `esds` box.
    pub config_record: Vec<u8>,
    /// RFC 6381 codec string, e.g. `avc1.640028`.
    pub rfc6381: String,
}

/// A decoder configuration record we cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{codec} decoder configuration record is invalid: {reason}")]
pub struct ConfigRecordError {
    pub codec: VideoCodec,
    pub reason: &'static str,
}

impl VideoParams {
    /// Builds parameters from a configuration record, deriving the RFC 6381 string from it.
    pub fn from_config_record(
        codec: VideoCodec,
        width: u16,
        height: u16,
        config_record: Vec<u8>,
    ) -> Result<Self, ConfigRecordError> {
        let rfc6381 = match codec {
            VideoCodec::H264 => avc_codec_string(&config_record)?,
            VideoCodec::H265 => hevc_codec_string(&config_record)?,
            VideoCodec::Mjpeg => MJPEG_CODEC_STRING.to_owned(),
        };
        if width == 0 || height == 0 {
            return Err(ConfigRecordError {
                codec,
                reason: "frame size is zero",
            });
        }
        Ok(VideoParams {
            codec,
            width,
            height,
            pixel_aspect: None,
            config_record,
            rfc6381,
        })
    }
}

/// RFC 6381 names MPEG-4 visual streams by object type: 0x6C is JPEG.
const MJPEG_CODEC_STRING: &str = "mp4v.6C";

impl VideoParams {
    /// Motion JPEG of `width`×`height`: pictures carry their own tables, so
    /// the only configuration is the `esds` that says "JPEG".
    pub fn mjpeg(width: u16, height: u16) -> Result<Self, ConfigRecordError> {
        VideoParams::from_config_record(VideoCodec::Mjpeg, width, height, mjpeg_esds())
    }
}

/// The body of an `esds` box (14496-14 5.6) for a JPEG stream: an
/// ES_Descriptor holding a DecoderConfigDescriptor with
/// objectTypeIndication 0x6C (JPEG, 14496-1 Table 5) and streamType 4
/// (visual), and the predefined MP4 SLConfigDescriptor.
fn mjpeg_esds() -> Vec<u8> {
    let decoder_config = [
        0x04, 13,   // DecoderConfigDescriptor, 13 bytes
        0x6C, // objectTypeIndication: JPEG
        0x11, // streamType 4 (visual) << 2 | upStream 0 | reserved 1
        0, 0, 0, // bufferSizeDB
        0, 0, 0, 0, // maxBitrate
        0, 0, 0, 0, // avgBitrate
    ];
    let sl_config = [0x06, 1, 0x02];
    let es_len = 3 + decoder_config.len() + sl_config.len();
    let mut body = vec![0, 0, 0, 0]; // full box version and flags
    body.extend_from_slice(&[0x03, es_len as u8, 0, 1, 0]); // ES_ID 1, no flags
    body.extend_from_slice(&decoder_config);
    body.extend_from_slice(&sl_config);
    body
}

/// `avc1.PPCCLL` from bytes 1..4 of an AVCDecoderConfigurationRecord.
fn avc_codec_string(record: &[u8]) -> Result<String, ConfigRecordError> {
    let err = |reason| ConfigRecordError {
        codec: VideoCodec::H264,
        reason,
    };
    if record.len() < 7 {
        return Err(err("shorter than 7 bytes"));
    }
    if record[0] != 1 {
        return Err(err(
            "configurationVersion is not 1 (Annex B extradata is not accepted)",
        ));
    }
    Ok(format!(
        "avc1.{:02X}{:02X}{:02X}",
        record[1], record[2], record[3]
    ))
}

/// `hvc1.<space><profile>.<compat>.<tier><level>[.<constraint>…]` as ISO/IEC
/// 14496-15 Annex E describes, from an HEVCDecoderConfigurationRecord.
fn hevc_codec_string(record: &[u8]) -> Result<String, ConfigRecordError> {
    let err = |reason| ConfigRecordError {
        codec: VideoCodec::H265,
        reason,
    };
    if record.len() < 23 {
        return Err(err("shorter than 23 bytes"));
    }
    if record[0] != 1 {
        return Err(err(
            "configurationVersion is not 1 (Annex B extradata is not accepted)",
        ));
    }
    let space = ["", "A", "B", "C"][usize::from(record[1] >> 6)];
    let tier = if record[1] & 0x20 != 0 { 'H' } else { 'L' };
    let profile = record[1] & 0x1f;
    let compat = u32::from_be_bytes([record[2], record[3], record[4], record[5]]).reverse_bits();
    let level = record[12];
    let mut s = format!("hvc1.{space}{profile}.{compat:X}.{tier}{level}");
    let constraints = &record[6..12];
    let used = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1);
    for b in &constraints[..used] {
        s.push_str(&format!(".{b:X}"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc_codec_string_uses_profile_compat_level() {
        let rec = vec![1, 0x64, 0x00, 0x28, 0xff, 0xe1, 0x00];
        let p = VideoParams::from_config_record(VideoCodec::H264, 1920, 1080, rec).expect("valid");
        assert_eq!(p.rfc6381, "avc1.640028");
    }

    #[test]
    fn annex_b_extradata_is_refused() {
        let annex_b = vec![0, 0, 0, 1, 0x67, 0x64, 0, 0x28];
        let e = VideoParams::from_config_record(VideoCodec::H264, 640, 360, annex_b)
            .expect_err("annex b");
        assert!(e.to_string().contains("configurationVersion"), "{e}");
    }

    #[test]
    fn hevc_codec_string_main_profile() {
        // Main profile, compat flag 2 set (0x60000000 reversed = 6), level 93, constraint 0xB0.
        let mut rec = vec![0u8; 23];
        rec[0] = 1;
        rec[1] = 0x01;
        rec[2..6].copy_from_slice(&[0x60, 0, 0, 0]);
        rec[6] = 0xB0;
        rec[12] = 93;
        let p = VideoParams::from_config_record(VideoCodec::H265, 640, 360, rec).expect("valid");
        assert_eq!(p.rfc6381, "hvc1.1.6.L93.B0");
    }
}
