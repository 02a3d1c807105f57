//! Fragmented MP4 writing: one init segment (`ftyp` + `moov`) followed by
//! fragments (`prft` + `moof` + `mdat`), as ISO/IEC 14496-12 describes.
//!
//! Each fragment carries a Producer Reference Time box (`prft`, 14496-12
//! 8.16.5) that ties its first sample's decode time to wall-clock time, so a
//! file on its own says when it was recorded — which crash recovery and any
//! third party reading the file rely on.

use crate::mp4box::{put_u16, put_u32, put_u64, write_box, write_full_box};
use crate::params::VideoParams;

/// All media times in a segment are in 90 kHz units, the RTP video clock.
pub const TIMESCALE: u32 = 90_000;

/// Seconds from 1904-01-01 (MP4's epoch) to 1970-01-01.
const MP4_EPOCH_OFFSET: i64 = 2_082_844_800;
/// Seconds from 1900-01-01 (NTP's epoch) to 1970-01-01.
const NTP_EPOCH_OFFSET: i64 = 2_208_988_800;

/// `sample_flags` (14496-12 8.8.3.1) for a sync sample: depends on no other.
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// `sample_flags` for a non-sync sample: depends on others, is_non_sync.
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

const IDENTITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// One sample (a video frame) as a `trun` entry describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleInfo {
    /// Decode time to the next sample's, in [`TIMESCALE`] units.
    pub duration: u32,
    pub size: u32,
    pub is_key: bool,
    /// Presentation time minus decode time, in [`TIMESCALE`] units; nonzero
    /// for streams with B-frames. Negative values are written in a
    /// version 1 `trun` (14496-12 8.8.8), so presentation times are the
    /// camera's own without an edit list.
    pub composition_offset: i32,
}

fn mp4_time(unix_secs: i64) -> u32 {
    u32::try_from(unix_secs.saturating_add(MP4_EPOCH_OFFSET)).unwrap_or(0)
}

/// NTP 64-bit timestamp (32.32 fixed point seconds since 1900) of a Unix time in ms.
pub fn ntp_timestamp(unix_ms: i64) -> u64 {
    let secs = unix_ms.div_euclid(1000) + NTP_EPOCH_OFFSET;
    let ms = unix_ms.rem_euclid(1000);
    let frac = ((ms as u64) << 32) / 1000;
    ((secs.max(0) as u64) << 32) | frac
}

/// Inverse of [`ntp_timestamp`], to millisecond precision.
pub fn unix_ms_from_ntp(ntp: u64) -> i64 {
    let secs = (ntp >> 32) as i64 - NTP_EPOCH_OFFSET;
    let frac = ntp & 0xffff_ffff;
    // Round to the nearest millisecond so that write/read round-trips exactly.
    let ms = ((frac * 1000) + (1 << 31)) >> 32;
    secs * 1000 + ms as i64
}

/// Writes `ftyp` + `moov` for a single video track.
pub fn init_segment(params: &VideoParams, creation_unix_ms: i64) -> Vec<u8> {
    let created = mp4_time(creation_unix_ms.div_euclid(1000));
    let mut buf = Vec::with_capacity(1024);
    write_box(&mut buf, b"ftyp", |b| {
        b.extend_from_slice(b"iso6");
        put_u32(b, 0);
        for brand in [b"iso6", b"isom", b"mp41", params.codec.sample_entry_type()] {
            b.extend_from_slice(brand);
        }
    });
    write_box(&mut buf, b"moov", |b| {
        write_full_box(b, b"mvhd", 0, 0, |b| {
            put_u32(b, created);
            put_u32(b, created);
            put_u32(b, 1000); // movie timescale: ms
            put_u32(b, 0); // duration lives in the fragments
            put_u32(b, 0x0001_0000); // rate 1.0
            put_u16(b, 0x0100); // volume 1.0
            b.extend_from_slice(&[0; 10]);
            IDENTITY_MATRIX.iter().for_each(|&m| put_u32(b, m));
            b.extend_from_slice(&[0; 24]);
            put_u32(b, 2); // next_track_ID
        });
        write_box(b, b"trak", |b| {
            write_full_box(b, b"tkhd", 0, 0x3, |b| {
                put_u32(b, created);
                put_u32(b, created);
                put_u32(b, 1); // track_ID
                put_u32(b, 0);
                put_u32(b, 0); // duration
                b.extend_from_slice(&[0; 8]);
                put_u16(b, 0); // layer
                put_u16(b, 0); // alternate_group
                put_u16(b, 0); // volume: video
                put_u16(b, 0);
                IDENTITY_MATRIX.iter().for_each(|&m| put_u32(b, m));
                put_u32(b, u32::from(params.width) << 16);
                put_u32(b, u32::from(params.height) << 16);
            });
            write_box(b, b"mdia", |b| {
                write_full_box(b, b"mdhd", 0, 0, |b| {
                    put_u32(b, created);
                    put_u32(b, created);
                    put_u32(b, TIMESCALE);
                    put_u32(b, 0);
                    put_u16(b, 0x55c4); // language "und"
                    put_u16(b, 0);
                });
                write_full_box(b, b"hdlr", 0, 0, |b| {
                    put_u32(b, 0);
                    b.extend_from_slice(b"vide");
                    b.extend_from_slice(&[0; 12]);
                    b.extend_from_slice(b"Custos video\0");
                });
                write_box(b, b"minf", |b| {
                    write_full_box(b, b"vmhd", 0, 1, |b| b.extend_from_slice(&[0; 8]));
                    write_box(b, b"dinf", |b| {
                        write_full_box(b, b"dref", 0, 0, |b| {
                            put_u32(b, 1);
                            write_full_box(b, b"url ", 0, 1, |_| {});
                        });
                    });
                    write_box(b, b"stbl", |b| {
                        write_full_box(b, b"stsd", 0, 0, |b| {
                            put_u32(b, 1);
                            write_sample_entry(b, params);
                        });
                        // Sample tables are empty: every sample is in a fragment.
                        write_full_box(b, b"stts", 0, 0, |b| put_u32(b, 0));
                        write_full_box(b, b"stsc", 0, 0, |b| put_u32(b, 0));
                        write_full_box(b, b"stsz", 0, 0, |b| {
                            put_u32(b, 0);
                            put_u32(b, 0);
                        });
                        write_full_box(b, b"stco", 0, 0, |b| put_u32(b, 0));
                    });
                });
            });
        });
        write_box(b, b"mvex", |b| {
            write_full_box(b, b"trex", 0, 0, |b| {
                put_u32(b, 1); // track_ID
                put_u32(b, 1); // default_sample_description_index
                put_u32(b, 0);
                put_u32(b, 0);
                put_u32(b, 0);
            });
        });
    });
    buf
}

/// VisualSampleEntry (14496-12 12.1.3) with the codec's configuration box.
fn write_sample_entry(b: &mut Vec<u8>, params: &VideoParams) {
    write_box(b, params.codec.sample_entry_type(), |b| {
        b.extend_from_slice(&[0; 6]);
        put_u16(b, 1); // data_reference_index
        b.extend_from_slice(&[0; 16]); // pre_defined, reserved
        put_u16(b, params.width);
        put_u16(b, params.height);
        put_u32(b, 0x0048_0000); // 72 dpi
        put_u32(b, 0x0048_0000);
        put_u32(b, 0);
        put_u16(b, 1); // frame_count
        b.extend_from_slice(&[0; 32]); // compressorname
        put_u16(b, 0x0018); // depth
        put_u16(b, 0xffff); // pre_defined = -1
        write_box(b, params.codec.config_box_type(), |b| {
            b.extend_from_slice(&params.config_record)
        });
        if let Some((h, v)) = params.pixel_aspect {
            write_box(b, b"pasp", |b| {
                put_u32(b, h);
                put_u32(b, v);
            });
        }
    });
}

/// Writes the `prft`, `moof` and `mdat` header of one fragment. The caller
/// writes the samples' bytes, in order, right after the returned header.
pub fn fragment_header(
    sequence: u32,
    base_decode_time: u64,
    wall_clock_ms: i64,
    samples: &[SampleInfo],
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128 + samples.len() * 12);
    write_full_box(&mut buf, b"prft", 1, 0, |b| {
        put_u32(b, 1); // reference_track_ID
        put_u64(b, ntp_timestamp(wall_clock_ms));
        put_u64(b, base_decode_time);
    });
    let moof_start = buf.len();
    let mut data_offset_pos = 0;
    write_box(&mut buf, b"moof", |b| {
        write_full_box(b, b"mfhd", 0, 0, |b| put_u32(b, sequence));
        write_box(b, b"traf", |b| {
            // default-base-is-moof: data offsets count from this moof.
            write_full_box(b, b"tfhd", 0, 0x02_0000, |b| put_u32(b, 1));
            write_full_box(b, b"tfdt", 1, 0, |b| put_u64(b, base_decode_time));
            // data-offset, sample duration, size and flags present; and
            // signed composition offsets (version 1) when any is nonzero.
            let reordered = samples.iter().any(|s| s.composition_offset != 0);
            let (version, flags) = if reordered {
                (1, 0x00_0F01)
            } else {
                (0, 0x00_0701)
            };
            write_full_box(b, b"trun", version, flags, |b| {
                put_u32(b, samples.len() as u32);
                data_offset_pos = b.len();
                put_u32(b, 0);
                for s in samples {
                    put_u32(b, s.duration);
                    put_u32(b, s.size);
                    put_u32(
                        b,
                        if s.is_key {
                            SYNC_SAMPLE_FLAGS
                        } else {
                            NON_SYNC_SAMPLE_FLAGS
                        },
                    );
                    if reordered {
                        b.extend_from_slice(&s.composition_offset.to_be_bytes());
                    }
                }
            });
        });
    });
    let moof_len = buf.len() - moof_start;
    let data_offset = (moof_len + 8) as u32;
    buf[data_offset_pos..data_offset_pos + 4].copy_from_slice(&data_offset.to_be_bytes());
    let mdat_len: u64 = 8 + samples.iter().map(|s| u64::from(s.size)).sum::<u64>();
    put_u32(&mut buf, u32::try_from(mdat_len).unwrap_or(u32::MAX));
    buf.extend_from_slice(b"mdat");
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4box::{children, find_child, read_header};

    fn test_params() -> VideoParams {
        crate::synthetic::params(640, 360)
    }

    #[test]
    fn ntp_round_trips_milliseconds() {
        for ms in [0i64, 1, 999, 1_764_340_000_123, 1_764_340_000_999] {
            assert_eq!(unix_ms_from_ntp(ntp_timestamp(ms)), ms);
        }
        // 1970-01-01 is 2208988800 s after the NTP epoch.
        assert_eq!(ntp_timestamp(0) >> 32, 2_208_988_800);
    }

    #[test]
    fn init_segment_has_expected_box_tree() {
        let init = init_segment(&test_params(), 1_764_340_000_000);
        let tops: Vec<_> = children(&init, 0..init.len())
            .map(|h| h.expect("box").fourcc)
            .collect();
        assert_eq!(tops, vec![*b"ftyp", *b"moov"]);
        let moov = read_header(&init, tops_offset(&init, 1)).expect("moov");
        let kinds: Vec<_> = children(&init, moov.body_range())
            .map(|h| h.expect("box").fourcc)
            .collect();
        assert_eq!(kinds, vec![*b"mvhd", *b"trak", *b"mvex"]);
        // mvhd creation_time: seconds since 1904.
        let mvhd = find_child(&init, moov.body_range(), b"mvhd")
            .expect("ok")
            .expect("mvhd");
        let created = crate::mp4box::be_u32(&init[mvhd.offset + 12..]);
        assert_eq!(i64::from(created), 1_764_340_000 + MP4_EPOCH_OFFSET);
        // The avcC record is carried byte for byte.
        let pos = init
            .windows(4)
            .position(|w| w == b"avcC")
            .expect("avcC present");
        assert_eq!(
            &init[pos + 4..pos + 11],
            &[1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0x00]
        );
        let size = crate::mp4box::be_u32(&init[pos - 4..]);
        assert_eq!(size, 8 + 7);
    }

    fn tops_offset(data: &[u8], index: usize) -> usize {
        children(data, 0..data.len())
            .nth(index)
            .expect("exists")
            .expect("box")
            .offset
    }

    #[test]
    fn fragment_header_points_trun_at_mdat_payload() {
        let samples = [
            SampleInfo {
                duration: 6000,
                size: 100,
                is_key: true,
                composition_offset: 0,
            },
            SampleInfo {
                duration: 6000,
                size: 20,
                is_key: false,
                composition_offset: 0,
            },
        ];
        let hdr = fragment_header(7, 123_456, 1_764_340_000_500, &samples);
        let boxes: Vec<_> = children(&hdr[..hdr.len() - 8], 0..hdr.len() - 8)
            .map(|h| h.expect("box"))
            .collect();
        assert_eq!(
            boxes.iter().map(|b| b.fourcc).collect::<Vec<_>>(),
            vec![*b"prft", *b"moof"]
        );
        let moof = boxes[1];
        // mdat header directly follows the moof and announces the payload size.
        assert_eq!(&hdr[moof.offset + moof.len + 4..], b"mdat");
        assert_eq!(
            crate::mp4box::be_u32(&hdr[moof.offset + moof.len..]),
            8 + 120
        );
        let trun_pos = hdr.windows(4).position(|w| w == b"trun").expect("trun");
        let count = crate::mp4box::be_u32(&hdr[trun_pos + 8..]);
        let data_offset = crate::mp4box::be_u32(&hdr[trun_pos + 12..]) as usize;
        assert_eq!(count, 2);
        assert_eq!(data_offset, moof.len + 8);
        let flags0 = crate::mp4box::be_u32(&hdr[trun_pos + 24..]);
        let flags1 = crate::mp4box::be_u32(&hdr[trun_pos + 36..]);
        assert_eq!(flags0, SYNC_SAMPLE_FLAGS);
        assert_eq!(flags1, NON_SYNC_SAMPLE_FLAGS);
    }
}
