//! What kind of picture a frame is, read from its NAL unit headers.
//!
//! retina marks only IDR pictures as random access points. Encoders that
//! use open GOPs (x265's default, and cameras built on it) start their GOPs
//! with CRA pictures, and H.264 encoders with I pictures carrying a recovery
//! point; a decoder can start at either, so a segment can too. Without this
//! such a stream would have one key frame per session and never be cut.

use crate::params::VideoCodec;

/// Iterates over the NAL units of a frame in MP4 form (4-byte big-endian
/// lengths). Stops at the first length that runs past the end.
fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let len = u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?) as usize;
        let unit = data.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some(unit)
    })
}

/// True when a decoder can start at this frame: an IRAP picture in H.265
/// (IDR, CRA or BLA), an IDR picture or an I picture with a recovery point
/// in H.264, and every MJPEG picture.
pub fn is_random_access(codec: VideoCodec, frame: &[u8]) -> bool {
    match codec {
        VideoCodec::Mjpeg => true,
        VideoCodec::H265 => {
            let mut irap = false;
            for unit in nal_units(frame) {
                let Some(&first) = unit.first() else { continue };
                match (first >> 1) & 0x3f {
                    // IRAP: BLA_W_LP .. RSV_IRAP_VCL23.
                    16..=23 => irap = true,
                    // Any other picture NAL in the same access unit: not IRAP.
                    0..=15 | 24..=31 => return false,
                    _ => {}
                }
            }
            irap
        }
        VideoCodec::H264 => {
            let mut recovery_point = false;
            let mut intra = false;
            for unit in nal_units(frame) {
                let Some(&first) = unit.first() else { continue };
                match first & 0x1f {
                    5 => return true,
                    6 => recovery_point |= sei_has_recovery_point(&unit[1..]),
                    1 => match slice_type(&unit[1..]) {
                        // I (2, 7) and SI (4, 9) slices only.
                        Some(2 | 4 | 7 | 9) => intra = true,
                        _ => return false,
                    },
                    _ => {}
                }
            }
            recovery_point && intra
        }
    }
}

/// True when an H.264 SEI NAL body (after its header byte) holds a
/// recovery point message (payload type 6).
fn sei_has_recovery_point(body: &[u8]) -> bool {
    let mut at = 0usize;
    while at < body.len() && body[at] != 0x80 {
        let mut payload_type = 0usize;
        while let Some(&b) = body.get(at) {
            at += 1;
            payload_type += usize::from(b);
            if b != 0xff {
                break;
            }
        }
        let mut size = 0usize;
        while let Some(&b) = body.get(at) {
            at += 1;
            size += usize::from(b);
            if b != 0xff {
                break;
            }
        }
        if payload_type == 6 {
            return true;
        }
        // Emulation prevention bytes are rare in SEI headers; a wrong skip
        // only means a recovery point is missed, never a false one.
        at += size;
    }
    false
}

/// `slice_type` of an H.264 slice header: the second Exp-Golomb value
/// after `first_mb_in_slice`.
fn slice_type(body: &[u8]) -> Option<u32> {
    let mut bits = BitCursor { data: body, pos: 0 };
    bits.ue()?;
    bits.ue()
}

struct BitCursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitCursor<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(bit))
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let mut value = 1u64;
        for _ in 0..zeros {
            value = value << 1 | u64::from(self.bit()?);
        }
        u32::try_from(value - 1).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4(units: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for u in units {
            out.extend_from_slice(&(u.len() as u32).to_be_bytes());
            out.extend_from_slice(u);
        }
        out
    }

    #[test]
    fn h265_irap_pictures_are_random_access_and_others_are_not() {
        // NAL header: type << 1, then layer/temporal id byte.
        let cra = [21 << 1, 1, 0xaf];
        let idr = [19 << 1, 1, 0xaf];
        let trail = [1 << 1, 1, 0xaf];
        let rasl = [9 << 1, 1, 0xaf];
        let sei = [39 << 1, 1, 5];
        assert!(is_random_access(VideoCodec::H265, &mp4(&[&sei, &cra])));
        assert!(is_random_access(VideoCodec::H265, &mp4(&[&idr])));
        assert!(!is_random_access(VideoCodec::H265, &mp4(&[&trail])));
        assert!(!is_random_access(VideoCodec::H265, &mp4(&[&rasl])));
        assert!(!is_random_access(VideoCodec::H265, &mp4(&[&sei])));
        assert!(!is_random_access(VideoCodec::H265, &[0, 0, 0, 9, 42]));
    }

    #[test]
    fn h264_idr_and_i_pictures_with_a_recovery_point_are_random_access() {
        // slice header: first_mb_in_slice = 0 ("1"), slice_type 7 ("0001000").
        let i_slice = [0x01, 0b1000_1000, 0];
        // slice_type 5 (P) = "00110".
        let p_slice = [0x01, 0b1001_1000, 0];
        let recovery = [0x06, 6, 1, 0x84, 0x80];
        let other_sei = [0x06, 5, 1, 0, 0x80];
        let idr = [0x05, 0x88, 0];
        assert!(is_random_access(VideoCodec::H264, &mp4(&[&idr])));
        assert!(is_random_access(
            VideoCodec::H264,
            &mp4(&[&recovery, &i_slice])
        ));
        assert!(!is_random_access(VideoCodec::H264, &mp4(&[&i_slice])));
        assert!(!is_random_access(
            VideoCodec::H264,
            &mp4(&[&other_sei, &i_slice])
        ));
        assert!(!is_random_access(
            VideoCodec::H264,
            &mp4(&[&recovery, &p_slice])
        ));
    }
}
