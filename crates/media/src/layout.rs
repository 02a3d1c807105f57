//! Reading the structure of a fragmented MP4 segment file without loading
//! its media data: where the init segment ends, where each complete fragment
//! lies, its decode time, duration, sample count and wall-clock time.
//!
//! Crash recovery uses this to find the last complete fragment of a file cut
//! short by a crash; span export uses it to pick fragments by time.

use std::io;

use crate::fmp4::{unix_ms_from_ntp, NON_SYNC_SAMPLE_FLAGS};
use crate::mp4box::{self, children, find_child, BoxError, BoxHeader, Cursor};

/// Random access to bytes: a file, or a slice in tests.
pub trait ReadAt {
    fn size(&self) -> io::Result<u64>;
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for std::fs::File {
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = self
            .get(start..start + buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// One complete fragment: optional `prft`, then `moof`, then `mdat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentInfo {
    /// File offset of the fragment's first box (`prft` when present).
    pub offset: u64,
    /// Length through the end of its `mdat`.
    pub len: u64,
    /// File offset of the `moof` box.
    pub moof_offset: u64,
    /// File offset of the 64-bit `prft` media_time, when there is a `prft`.
    pub prft_media_time_offset: Option<u64>,
    /// File offset of the 32-bit `mfhd` sequence number.
    pub sequence_offset: u64,
    /// File offset of the `tfdt` box (version 0 or 1 as recorded in `tfdt_version`).
    pub tfdt_offset: u64,
    pub tfdt_version: u8,
    pub sequence: u32,
    /// In the track's timescale.
    pub base_decode_time: u64,
    pub duration: u64,
    pub samples: u32,
    pub starts_with_key: bool,
    /// Some sample after the first is presented before it: the fragment's
    /// key frame has leading pictures (an open GOP), which reference the
    /// fragment before it.
    pub has_leading_pictures: bool,
    /// From the `prft` box, when present.
    pub wall_clock_ms: Option<i64>,
}

/// The structure of a segment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentLayout {
    /// Length of `ftyp` + `moov`.
    pub init_len: u64,
    /// The `stsd` box bytes: two segments can be joined only if these match.
    pub sample_description: Vec<u8>,
    pub timescale: u32,
    pub fragments: Vec<FragmentInfo>,
    /// Bytes from the start of the file to the end of the last complete
    /// fragment. Anything after it is an interrupted write.
    pub valid_len: u64,
    /// Why parsing stopped before the end of the file, if it did.
    pub trailing: Option<String>,
}

impl SegmentLayout {
    pub fn frames(&self) -> u64 {
        self.fragments.iter().map(|f| u64::from(f.samples)).sum()
    }
    /// Total duration in timescale units.
    pub fn duration(&self) -> u64 {
        self.fragments.iter().map(|f| f.duration).sum()
    }
}

/// Why a file is not a segment at all (its init segment is unusable).
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("reading the file: {0}")]
    Io(#[from] io::Error),
    #[error("not a fragmented MP4 video segment: {0}")]
    NotASegment(String),
    #[error(transparent)]
    Box(#[from] BoxError),
}

/// Upper bound on a `moov` or `moof` we are willing to load: ours are a few KB.
const MAX_METADATA_BOX: u64 = 4 << 20;

struct TopBox {
    fourcc: [u8; 4],
    offset: u64,
    header_len: u64,
    len: u64,
}

/// Reads the header of the top-level box at `offset`; `None` when fewer than
/// the announced bytes remain (an interrupted write).
fn read_top(
    src: &(impl ReadAt + ?Sized),
    offset: u64,
    file_len: u64,
) -> io::Result<Option<TopBox>> {
    if file_len - offset < 8 {
        return Ok(None);
    }
    let mut hdr = [0u8; 16];
    let n = if file_len - offset >= 16 { 16 } else { 8 };
    src.read_exact_at(&mut hdr[..n], offset)?;
    let size32 = mp4box::be_u32(&hdr);
    let mut fourcc = [0u8; 4];
    fourcc.copy_from_slice(&hdr[4..8]);
    let (len, header_len) = match size32 {
        0 => (file_len - offset, 8),
        1 if n == 16 => (mp4box::be_u64(&hdr[8..]), 16),
        1 => return Ok(None),
        s => (u64::from(s), 8),
    };
    if len < header_len || len > file_len - offset {
        return Ok(None);
    }
    Ok(Some(TopBox {
        fourcc,
        offset,
        header_len,
        len,
    }))
}

fn load(src: &(impl ReadAt + ?Sized), b: &TopBox) -> Result<Vec<u8>, LayoutError> {
    if b.len > MAX_METADATA_BOX {
        return Err(LayoutError::NotASegment(format!(
            "'{}' box at byte {} is {} bytes, larger than any metadata box we write",
            String::from_utf8_lossy(&b.fourcc),
            b.offset,
            b.len
        )));
    }
    let mut buf = vec![0u8; b.len as usize];
    src.read_exact_at(&mut buf, b.offset)?;
    Ok(buf)
}

/// Parses a segment's structure. Fails only when the init segment itself is
/// missing or malformed; a damaged tail is reported in `trailing`.
pub fn parse_segment(src: &(impl ReadAt + ?Sized)) -> Result<SegmentLayout, LayoutError> {
    let file_len = src.size()?;
    let not = |m: String| LayoutError::NotASegment(m);
    let ftyp = read_top(src, 0, file_len)?
        .filter(|b| &b.fourcc == b"ftyp")
        .ok_or_else(|| not("no complete 'ftyp' box at the start".into()))?;
    let moov = read_top(src, ftyp.len, file_len)?
        .filter(|b| &b.fourcc == b"moov")
        .ok_or_else(|| not("no complete 'moov' box after 'ftyp'".into()))?;
    let moov_bytes = load(src, &moov)?;
    let (sample_description, timescale) = parse_moov(&moov_bytes)?;
    let init_len = ftyp.len + moov.len;

    let mut layout = SegmentLayout {
        init_len,
        sample_description,
        timescale,
        fragments: Vec::new(),
        valid_len: init_len,
        trailing: None,
    };
    let mut offset = init_len;
    let mut pending_prft: Option<(u64, i64)> = None;
    while offset < file_len {
        let Some(top) = read_top(src, offset, file_len)? else {
            layout.trailing = Some(format!("incomplete box at byte {offset}"));
            break;
        };
        match &top.fourcc {
            b"prft" => {
                let bytes = load(src, &top)?;
                pending_prft = parse_prft(&bytes).ok().map(|ms| (top.offset, ms));
                offset += top.len;
            }
            b"moof" => {
                let moof = load(src, &top)?;
                let mdat_at = top.offset + top.len;
                let mdat = read_top(src, mdat_at, file_len)?.filter(|b| &b.fourcc == b"mdat");
                let Some(mdat) = mdat else {
                    layout.trailing =
                        Some(format!("'moof' at byte {offset} has no complete 'mdat'"));
                    break;
                };
                match parse_moof(&moof, top.offset, mdat.len - mdat.header_len) {
                    Ok(mut frag) => {
                        let start = pending_prft.map_or(top.offset, |(at, _)| at);
                        frag.offset = start;
                        frag.len = mdat.offset + mdat.len - start;
                        frag.wall_clock_ms = pending_prft.map(|(_, ms)| ms);
                        // prft: header 8, version+flags 4, track 4, ntp 8.
                        frag.prft_media_time_offset = pending_prft.map(|(at, _)| at + 24);
                        layout.valid_len = mdat.offset + mdat.len;
                        layout.fragments.push(frag);
                        offset = mdat.offset + mdat.len;
                        pending_prft = None;
                    }
                    Err(e) => {
                        layout.trailing = Some(format!("fragment at byte {offset}: {e}"));
                        break;
                    }
                }
            }
            // Boxes a reader may skip (14496-12 allows free space anywhere).
            b"free" | b"skip" | b"sidx" | b"styp" | b"emsg" => offset += top.len,
            other => {
                layout.trailing = Some(format!(
                    "unexpected '{}' box at byte {offset}",
                    String::from_utf8_lossy(other)
                ));
                break;
            }
        }
    }
    Ok(layout)
}

fn parse_moov(moov: &[u8]) -> Result<(Vec<u8>, u32), LayoutError> {
    let not = |m: &str| LayoutError::NotASegment(m.to_string());
    let body = header_at(moov)?.body_range();
    if find_child(moov, body.clone(), b"mvex")?.is_none() {
        return Err(not("'moov' has no 'mvex': the file is not fragmented"));
    }
    let trak = find_child(moov, body, b"trak")?.ok_or_else(|| not("'moov' has no 'trak'"))?;
    let mdia = child(moov, &trak, b"mdia")?;
    let mdhd = child(moov, &mdia, b"mdhd")?;
    let mut c = Cursor::new(moov, &mdhd);
    let version = c.u8()?;
    c.skip(3)?;
    c.skip(if version == 1 { 16 } else { 8 })?;
    let timescale = c.u32()?;
    if timescale == 0 {
        return Err(not("'mdhd' timescale is zero"));
    }
    let minf = child(moov, &mdia, b"minf")?;
    let stbl = child(moov, &minf, b"stbl")?;
    let stsd = child(moov, &stbl, b"stsd")?;
    Ok((moov[stsd.range()].to_vec(), timescale))
}

fn header_at(data: &[u8]) -> Result<BoxHeader, BoxError> {
    mp4box::read_header(data, 0)
}

fn child(data: &[u8], parent: &BoxHeader, fourcc: &[u8; 4]) -> Result<BoxHeader, LayoutError> {
    find_child(data, parent.body_range(), fourcc)?.ok_or_else(|| {
        LayoutError::NotASegment(format!(
            "'{}' has no '{}'",
            String::from_utf8_lossy(&parent.fourcc),
            String::from_utf8_lossy(fourcc)
        ))
    })
}

fn parse_prft(prft: &[u8]) -> Result<i64, BoxError> {
    let h = header_at(prft)?;
    let mut c = Cursor::new(prft, &h);
    let _version = c.u8()?;
    c.skip(3)?;
    c.skip(4)?; // reference_track_ID
    Ok(unix_ms_from_ntp(c.u64()?))
}

/// Parses one `moof` (single track) and checks its samples fit the `mdat`
/// payload of `mdat_payload` bytes that follows it.
fn parse_moof(moof: &[u8], file_offset: u64, mdat_payload: u64) -> Result<FragmentInfo, BoxError> {
    let h = header_at(moof)?;
    let invalid = |reason| BoxError::Invalid {
        fourcc: *b"moof",
        offset: 0,
        reason,
    };
    let mfhd = find_child(moof, h.body_range(), b"mfhd")?.ok_or(invalid("no 'mfhd'"))?;
    let mut c = Cursor::new(moof, &mfhd);
    c.skip(4)?;
    let sequence = c.u32()?;
    let sequence_offset = file_offset + (mfhd.offset + 12) as u64;

    let traf = find_child(moof, h.body_range(), b"traf")?.ok_or(invalid("no 'traf'"))?;
    let tfhd = find_child(moof, traf.body_range(), b"tfhd")?.ok_or(invalid("no 'tfhd'"))?;
    let mut c = Cursor::new(moof, &tfhd);
    let tfhd_flags = c.u32()? & 0x00ff_ffff;
    c.skip(4)?; // track_ID
    if tfhd_flags & 0x1 != 0 {
        c.skip(8)?; // base_data_offset
    }
    if tfhd_flags & 0x2 != 0 {
        c.skip(4)?;
    }
    let default_duration = if tfhd_flags & 0x8 != 0 {
        Some(c.u32()?)
    } else {
        None
    };
    let default_size = if tfhd_flags & 0x10 != 0 {
        Some(c.u32()?)
    } else {
        None
    };
    let default_flags = if tfhd_flags & 0x20 != 0 {
        c.u32()?
    } else {
        NON_SYNC_SAMPLE_FLAGS
    };

    let tfdt = find_child(moof, traf.body_range(), b"tfdt")?.ok_or(invalid("no 'tfdt'"))?;
    let mut c = Cursor::new(moof, &tfdt);
    let tfdt_version = c.u8()?;
    c.skip(3)?;
    let base_decode_time = if tfdt_version == 1 {
        c.u64()?
    } else {
        u64::from(c.u32()?)
    };

    let mut samples = 0u32;
    let mut duration = 0u64;
    let mut bytes = 0u64;
    let mut starts_with_key = false;
    // Presentation time of the first sample, relative to the fragment's
    // decode time, to find samples presented before it.
    let mut first_presented: Option<i64> = None;
    let mut has_leading_pictures = false;
    for run in children(moof, traf.body_range()) {
        let run = run?;
        if &run.fourcc != b"trun" {
            continue;
        }
        let mut c = Cursor::new(moof, &run);
        let version_flags = c.u32()?;
        let signed_offsets = version_flags >> 24 == 1;
        let flags = version_flags & 0x00ff_ffff;
        let count = c.u32()?;
        if flags & 0x1 != 0 {
            c.skip(4)?;
        }
        let first_flags = if flags & 0x4 != 0 {
            Some(c.u32()?)
        } else {
            None
        };
        for i in 0..count {
            let d = if flags & 0x100 != 0 {
                c.u32()?
            } else {
                default_duration.ok_or(c.invalid("sample duration missing"))?
            };
            let s = if flags & 0x200 != 0 {
                c.u32()?
            } else {
                default_size.ok_or(c.invalid("sample size missing"))?
            };
            let f = if flags & 0x400 != 0 {
                c.u32()?
            } else if i == 0 {
                first_flags.unwrap_or(default_flags)
            } else {
                default_flags
            };
            let offset = if flags & 0x800 != 0 {
                let raw = c.u32()?;
                if signed_offsets {
                    i64::from(raw as i32)
                } else {
                    i64::from(raw)
                }
            } else {
                0
            };
            let presented = duration as i64 + offset;
            match first_presented {
                None => first_presented = Some(presented),
                Some(first) if presented < first => has_leading_pictures = true,
                Some(_) => {}
            }
            if samples == 0 && i == 0 {
                starts_with_key = f & 0x0001_0000 == 0;
            }
            duration += u64::from(d);
            bytes += u64::from(s);
        }
        samples = samples
            .checked_add(count)
            .ok_or(invalid("sample count overflows"))?;
    }
    if samples == 0 {
        return Err(invalid("fragment has no samples"));
    }
    if bytes > mdat_payload {
        return Err(invalid("samples extend past the end of 'mdat'"));
    }
    Ok(FragmentInfo {
        offset: file_offset,
        len: 0,
        moof_offset: file_offset,
        prft_media_time_offset: None,
        sequence_offset,
        tfdt_offset: file_offset + tfdt.offset as u64,
        tfdt_version,
        sequence,
        base_decode_time,
        duration,
        samples,
        starts_with_key,
        has_leading_pictures,
        wall_clock_ms: None,
    })
}

impl SegmentLayout {
    /// The stream parameters described by the sample entry, when it is an
    /// `avc1`/`hvc1` entry with a valid configuration record.
    pub fn video_params(&self) -> Option<crate::params::VideoParams> {
        use crate::params::{VideoCodec, VideoParams};
        let d = &self.sample_description;
        let stsd = mp4box::read_header(d, 0).ok()?;
        // stsd body: version/flags (4) + entry_count (4), then the entry.
        let entry = mp4box::read_header(d, stsd.offset + stsd.header_len + 8).ok()?;
        let codec = match &entry.fourcc {
            b"avc1" | b"avc3" => VideoCodec::H264,
            b"hvc1" | b"hev1" => VideoCodec::H265,
            b"mp4v" => VideoCodec::Mjpeg,
            _ => return None,
        };
        let body = entry.body_range();
        // VisualSampleEntry: 6 reserved + 2 index + 16 predefined, then width, height; 78 bytes in all.
        let width = mp4box::be_u16(d.get(body.start + 24..body.start + 26)?);
        let height = mp4box::be_u16(d.get(body.start + 26..body.start + 28)?);
        if codec == VideoCodec::Mjpeg {
            // Only JPEG is recorded in an `mp4v` entry; its `esds` says so.
            let esds = find_child(d, body.start + 78..body.end, b"esds").ok()??;
            let is_jpeg = d[esds.body_range()]
                .windows(3)
                .any(|w| w == [0x04, 13, 0x6C]);
            return is_jpeg
                .then(|| VideoParams::mjpeg(width, height).ok())
                .flatten();
        }
        let config = find_child(d, body.start + 78..body.end, codec.config_box_type()).ok()??;
        VideoParams::from_config_record(codec, width, height, d[config.body_range()].to_vec()).ok()
    }
}
