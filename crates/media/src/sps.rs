//! How many pictures a stream may reorder, read from its sequence parameter
//! set. RTP carries only presentation times; the recorder derives decode
//! times from them, and must hold back as many pictures as a later picture
//! may need to be presented before (the reorder depth).
//!
//! H.264: `max_num_reorder_frames` of the VUI bitstream restrictions
//! (Rec. ITU-T H.264 E.2.1) when present; otherwise no reordering for the
//! Baseline profiles and for one reference frame, else the decoded picture
//! buffer's size from the level (A.3.1 item h, Table A-1), as decoders assume.
//! H.265: `sps_max_num_reorder_pics` of the highest sub-layer (7.3.2.2),
//! which every SPS carries.

use std::io::BufRead;
use std::num::NonZeroUsize;

use h264_reader::nal::sps::{FrameMbsFlags, SeqParameterSet};
use h264_reader::rbsp::{BitRead, BitReader, ByteReader};

use crate::params::{VideoCodec, VideoParams};

/// The largest reorder depth either standard allows (a 16-picture DPB).
pub const MAX_REORDER_DEPTH: u32 = 16;

/// Where a stream's reorder depth came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepthSource {
    /// Stated in the SPS (H.264 VUI bitstream restrictions, H.265 SPS).
    Declared,
    /// Baseline profile or a single reference frame: no B-frames possible.
    NoReordering,
    /// Not stated: the decoded picture buffer's size for the level and size.
    LevelLimit,
    /// No SPS could be read (MJPEG, or a configuration record without one).
    Unknown,
}

/// A stream's reorder depth in pictures, and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReorderDepth {
    pub pictures: u32,
    pub source: DepthSource,
}

/// The reorder depth of the stream `params` describes. A record whose SPS
/// cannot be read gives depth 0 from `Unknown`: the decode-time stage then
/// learns the depth from the stream itself.
pub fn reorder_depth(params: &VideoParams) -> ReorderDepth {
    let parsed = match params.codec {
        VideoCodec::H264 => first_avc_sps(&params.config_record).and_then(h264_depth),
        VideoCodec::H265 => first_hevc_sps(&params.config_record).and_then(h265_depth),
        VideoCodec::Mjpeg => None,
    };
    parsed.unwrap_or(ReorderDepth {
        pictures: 0,
        source: DepthSource::Unknown,
    })
}

/// The first SPS NAL unit of an AVCDecoderConfigurationRecord (14496-15 5.3.3.1).
fn first_avc_sps(record: &[u8]) -> Option<&[u8]> {
    let count = usize::from(*record.get(5)? & 0x1f);
    if count == 0 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*record.get(6)?, *record.get(7)?]));
    record.get(8..8 + len)
}

/// The first SPS NAL unit (type 33) of an HEVCDecoderConfigurationRecord (14496-15 8.3.3.1).
fn first_hevc_sps(record: &[u8]) -> Option<&[u8]> {
    let arrays = usize::from(*record.get(22)?);
    let mut at = 23;
    for _ in 0..arrays {
        let nal_type = record.get(at)? & 0x3f;
        let nalus = usize::from(u16::from_be_bytes([
            *record.get(at + 1)?,
            *record.get(at + 2)?,
        ]));
        at += 3;
        for _ in 0..nalus {
            let len = usize::from(u16::from_be_bytes([*record.get(at)?, *record.get(at + 1)?]));
            let nal = record.get(at + 2..at + 2 + len)?;
            if nal_type == 33 {
                return Some(nal);
            }
            at += 2 + len;
        }
    }
    None
}

fn h264_depth(nal: &[u8]) -> Option<ReorderDepth> {
    let reader = BitReader::new(ByteReader::skipping_h264_header(nal));
    let sps = SeqParameterSet::from_bits(reader).ok()?;
    if let Some(r) = sps
        .vui_parameters
        .as_ref()
        .and_then(|v| v.bitstream_restrictions.as_ref())
    {
        return Some(ReorderDepth {
            pictures: r.max_num_reorder_frames.min(MAX_REORDER_DEPTH),
            source: DepthSource::Declared,
        });
    }
    let profile = u8::from(sps.profile_idc);
    // Baseline (66) has no B slices; intra-only profiles (constraint_set3 on
    // High 10/4:2:2/4:4:4, or CAVLC 4:4:4 Intra) never reorder.
    let intra_only = matches!(profile, 110 | 122 | 244) && sps.constraint_flags.flag3();
    if profile == 66 || profile == 44 || intra_only || sps.max_num_ref_frames <= 1 {
        return Some(ReorderDepth {
            pictures: 0,
            source: DepthSource::NoReordering,
        });
    }
    let width_mbs = sps.pic_width_in_mbs_minus1 + 1;
    let height_map_units = sps.pic_height_in_map_units_minus1 + 1;
    let height_mbs = match sps.frame_mbs_flags {
        FrameMbsFlags::Frames => height_map_units,
        FrameMbsFlags::Fields { .. } => 2 * height_map_units,
    };
    let picture_mbs = width_mbs.checked_mul(height_mbs)?.max(1);
    // Level 1b is level_idc 11 with constraint_set3 in the Baseline, Main
    // and Extended profiles; its DPB equals level 1's.
    let level_1b = sps.level_idc == 11 && sps.constraint_flags.flag3() && profile != 100;
    let max_dpb_mbs = if level_1b {
        396
    } else {
        max_dpb_mbs(sps.level_idc)?
    };
    Some(ReorderDepth {
        pictures: (max_dpb_mbs / picture_mbs).min(MAX_REORDER_DEPTH),
        source: DepthSource::LevelLimit,
    })
}

/// MaxDpbMbs of H.264 Table A-1 by level_idc.
fn max_dpb_mbs(level_idc: u8) -> Option<u32> {
    Some(match level_idc {
        9 | 10 => 396,
        11 => 900,
        12 | 13 | 20 => 2376,
        21 => 4752,
        22 | 30 => 8100,
        31 => 18000,
        32 => 20480,
        40 | 41 => 32768,
        42 => 34816,
        50 => 110_400,
        51 | 52 => 184_320,
        60..=62 => 696_320,
        _ => return None,
    })
}

fn h265_depth(nal: &[u8]) -> Option<ReorderDepth> {
    let two = NonZeroUsize::new(2)?;
    let mut r = BitReader::new(ByteReader::skipping_bytes(nal, two));
    let pictures = read_h265_reorder(&mut r).ok()?;
    Some(ReorderDepth {
        pictures: pictures.min(MAX_REORDER_DEPTH),
        source: DepthSource::Declared,
    })
}

type BitResult<T> = Result<T, h264_reader::rbsp::BitReaderError>;

/// Reads an H.265 SPS up to `sps_max_num_reorder_pics` of its highest sub-layer.
fn read_h265_reorder<R: BufRead + Clone>(r: &mut BitReader<R>) -> BitResult<u32> {
    r.skip(4, "sps_video_parameter_set_id")?;
    let max_sub_layers_minus1: u32 = r.read(3, "sps_max_sub_layers_minus1")?;
    r.skip(1, "sps_temporal_id_nesting_flag")?;
    skip_profile_tier_level(r, max_sub_layers_minus1)?;
    r.read_ue("sps_seq_parameter_set_id")?;
    let chroma_format_idc = r.read_ue("chroma_format_idc")?;
    if chroma_format_idc == 3 {
        r.skip(1, "separate_colour_plane_flag")?;
    }
    r.read_ue("pic_width_in_luma_samples")?;
    r.read_ue("pic_height_in_luma_samples")?;
    if r.read_bool("conformance_window_flag")? {
        for name in [
            "conf_win_left_offset",
            "conf_win_right_offset",
            "conf_win_top_offset",
            "conf_win_bottom_offset",
        ] {
            r.read_ue(name)?;
        }
    }
    r.read_ue("bit_depth_luma_minus8")?;
    r.read_ue("bit_depth_chroma_minus8")?;
    r.read_ue("log2_max_pic_order_cnt_lsb_minus4")?;
    let all_layers = r.read_bool("sps_sub_layer_ordering_info_present_flag")?;
    let first = if all_layers { 0 } else { max_sub_layers_minus1 };
    let mut reorder = 0;
    for _ in first..=max_sub_layers_minus1 {
        r.read_ue("sps_max_dec_pic_buffering_minus1")?;
        reorder = r.read_ue("sps_max_num_reorder_pics")?;
        r.read_ue("sps_max_latency_increase_plus1")?;
    }
    Ok(reorder)
}

/// profile_tier_level(1, max_sub_layers_minus1) of H.265 7.3.3.
fn skip_profile_tier_level<R: BufRead + Clone>(
    r: &mut BitReader<R>,
    max_sub_layers_minus1: u32,
) -> BitResult<()> {
    // general profile space .. general_inbld/reserved flag: 88 bits; level: 8.
    r.skip(88, "general_profile")?;
    r.skip(8, "general_level_idc")?;
    let mut profile_present = [false; 8];
    let mut level_present = [false; 8];
    for i in 0..max_sub_layers_minus1 as usize {
        profile_present[i] = r.read_bool("sub_layer_profile_present_flag")?;
        level_present[i] = r.read_bool("sub_layer_level_present_flag")?;
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            r.skip(2, "reserved_zero_2bits")?;
        }
    }
    for i in 0..max_sub_layers_minus1 as usize {
        if profile_present[i] {
            r.skip(88, "sub_layer_profile")?;
        }
        if level_present[i] {
            r.skip(8, "sub_layer_level_idc")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avcc_with_sps(sps: &[u8]) -> Vec<u8> {
        let mut rec = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
        rec.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        rec.extend_from_slice(sps);
        rec.push(0); // no PPS
        rec
    }

    fn params(codec: VideoCodec, record: Vec<u8>) -> VideoParams {
        VideoParams {
            codec,
            width: 640,
            height: 360,
            pixel_aspect: None,
            config_record: record,
            rfc6381: String::new(),
        }
    }

    #[test]
    fn records_without_an_sps_have_unknown_depth() {
        let p = crate::synthetic::params(640, 360);
        assert_eq!(reorder_depth(&p).source, DepthSource::Unknown);
    }

    #[test]
    fn truncated_records_are_unknown_not_a_panic() {
        for len in 0..40 {
            let mut rec = vec![1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 30];
            rec.extend(std::iter::repeat_n(0x5a, len));
            let _ = reorder_depth(&params(VideoCodec::H264, rec.clone()));
            let _ = reorder_depth(&params(VideoCodec::H265, rec));
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn hvcc_with_sps(sps: &[u8]) -> Vec<u8> {
        let mut rec = vec![0u8; 22];
        rec[0] = 1;
        rec.push(1); // one array
        rec.push(0x80 | 33);
        rec.extend_from_slice(&1u16.to_be_bytes());
        rec.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        rec.extend_from_slice(sps);
        rec
    }

    /// SPSs written by libx264 and libx265 (ffmpeg 5.1) for 640x360 at 15 fps;
    /// ffprobe reported the `has_b_frames` given here for each stream.
    #[test]
    fn encoder_written_spss_give_their_reorder_depth() {
        let h264 = [
            // default preset: 3 B-frames with a pyramid
            ("67640016acd940a02ff970110000030001000003001e0f162d96", 2),
            // -bf 3, no pyramid
            ("67640016acd100a02ff970110000030001000003001e0f162d12", 1),
            // -bf 0
            ("67640016acb201405ff2e0220000030002000003003c1e2c5c90", 0),
        ];
        for (sps, want) in h264 {
            let d = reorder_depth(&params(VideoCodec::H264, avcc_with_sps(&hex(sps))));
            assert_eq!(
                d,
                ReorderDepth {
                    pictures: want,
                    source: DepthSource::Declared
                },
                "{sps}"
            );
        }
        let h265 = [
            // default: 4 B-frames with a pyramid
            ("42010101600000030090000003000003003fa00502016965959a4932bc05a020000003002000000301e1", 2),
            // bframes=0
            ("42010101600000030090000003000003003fa0050201696592a4932bc05a020000030002000003001e10", 0),
        ];
        for (sps, want) in h265 {
            let d = reorder_depth(&params(VideoCodec::H265, hvcc_with_sps(&hex(sps))));
            assert_eq!(
                d,
                ReorderDepth {
                    pictures: want,
                    source: DepthSource::Declared
                },
                "{sps}"
            );
        }
    }
}
