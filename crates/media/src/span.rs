//! One playable MP4 built from the recorded segments of a time span: the
//! first segment's init segment, then the fragments from the key frame at or
//! before the span's start to the span's end, renumbered and with decode
//! times made continuous so any player takes them as one stream.
//!
//! Sample data is copied from the segment files unchanged.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use crate::layout::{parse_segment, FragmentInfo, LayoutError, ReadAt};
use crate::mp4box::{be_u32, be_u64};
use crate::segment::ticks_to_ms;

/// A recorded segment file and the wall-clock time of its start.
#[derive(Clone, Debug)]
pub struct SpanSource {
    pub path: PathBuf,
    pub start_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpanError {
    #[error("nothing was recorded between {start_ms} and {end_ms}")]
    Empty { start_ms: i64, end_ms: i64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Layout { path: PathBuf, source: LayoutError },
}

struct PlannedFragment {
    file_index: usize,
    fragment: FragmentInfo,
    out_decode_time: u64,
}

/// What a span export will contain, decided before the first byte is sent so
/// that errors become HTTP errors rather than a truncated download.
pub struct SpanPlan {
    files: Vec<(PathBuf, File)>,
    init: Vec<u8>,
    fragments: Vec<PlannedFragment>,
    /// Wall-clock start of the first fragment included.
    pub first_ms: i64,
    /// Wall-clock end of the last fragment included.
    pub last_ms: i64,
    /// True when the span continues in segments with other codec parameters,
    /// which one MP4 track cannot hold; the export stops before them.
    pub stopped_at_parameter_change: bool,
}

impl SpanPlan {
    /// Total bytes the export will have.
    pub fn len(&self) -> u64 {
        self.init.len() as u64 + self.fragments.iter().map(|f| f.fragment.len).sum::<u64>()
    }
    pub fn is_empty(&self) -> bool {
        self.fragments.is_empty()
    }
}

/// Plans the export of `[start_ms, end_ms)` from `sources`, ordered by start.
pub fn plan_span(
    sources: &[SpanSource],
    start_ms: i64,
    end_ms: i64,
) -> Result<SpanPlan, SpanError> {
    let mut files = Vec::new();
    let mut init: Option<(Vec<u8>, Vec<u8>)> = None; // (init bytes, sample description)
    let mut chosen: Vec<PlannedFragment> = Vec::new();
    let mut out_time = 0u64;
    let mut first_ms = None;
    let mut last_ms = start_ms;
    let mut stopped = false;
    'files: for src in sources {
        let file = File::open(&src.path).map_err(|source| SpanError::Io {
            path: src.path.clone(),
            source,
        })?;
        let layout = parse_segment(&file).map_err(|source| SpanError::Layout {
            path: src.path.clone(),
            source,
        })?;
        let scale = |t: u64| ticks_to_ms((t as i64) * 90_000 / i64::from(layout.timescale));
        let frag_start = |f: &FragmentInfo| {
            f.wall_clock_ms
                .unwrap_or(src.start_ms + scale(f.base_decode_time))
        };
        // Index of the key-frame fragment at or before `start_ms` in this file.
        let first_index = if chosen.is_empty() {
            let before = layout
                .fragments
                .iter()
                .rposition(|f| f.starts_with_key && frag_start(f) <= start_ms);
            before.unwrap_or(0)
        } else {
            0
        };
        // Registered before the loop: a span that ends inside this file leaves
        // the loop by `break 'files`, and its fragments still refer to it.
        let file_index = files.len();
        files.push((src.path.clone(), file));
        let file = &files[file_index].1;
        let mut used = false;
        for f in &layout.fragments[first_index.min(layout.fragments.len())..] {
            let f_start = frag_start(f);
            if f_start >= end_ms {
                break 'files;
            }
            let f_end = f_start + scale(f.duration);
            if f_end <= start_ms {
                continue;
            }
            if chosen.is_empty() && !f.starts_with_key {
                continue;
            }
            match &init {
                None => {
                    let mut buf = vec![0u8; layout.init_len as usize];
                    file.read_exact_at(&mut buf, 0)
                        .map_err(|source| SpanError::Io {
                            path: src.path.clone(),
                            source,
                        })?;
                    init = Some((buf, layout.sample_description.clone()));
                }
                Some((_, desc)) if *desc != layout.sample_description => {
                    stopped = true;
                    break 'files;
                }
                Some(_) => {}
            }
            first_ms.get_or_insert(f_start);
            last_ms = f_end;
            chosen.push(PlannedFragment {
                file_index,
                fragment: f.clone(),
                out_decode_time: out_time,
            });
            out_time += f.duration;
            used = true;
        }
        if !used {
            files.pop();
        }
    }
    let (Some((init, _)), Some(first_ms)) = (init, first_ms) else {
        return Err(SpanError::Empty { start_ms, end_ms });
    };
    Ok(SpanPlan {
        files,
        init,
        fragments: chosen,
        first_ms,
        last_ms,
        stopped_at_parameter_change: stopped,
    })
}

/// Produces the bytes of a planned span in chunks of at most `chunk` bytes.
pub struct SpanReader {
    plan: SpanPlan,
    /// Index of the next fragment; `None` before the init segment is sent.
    next_fragment: Option<usize>,
    /// Within the current fragment: bytes already sent.
    offset_in_fragment: u64,
    chunk: usize,
}

impl SpanReader {
    pub fn new(plan: SpanPlan, chunk: usize) -> Self {
        SpanReader {
            plan,
            next_fragment: None,
            offset_in_fragment: 0,
            chunk: chunk.max(4096),
        }
    }

    /// The next chunk, or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, SpanError> {
        let Some(index) = self.next_fragment else {
            self.next_fragment = Some(0);
            return Ok(Some(self.plan.init.clone()));
        };
        let Some(planned) = self.plan.fragments.get(index) else {
            return Ok(None);
        };
        let (path, file) = &self.plan.files[planned.file_index];
        let f = &planned.fragment;
        let io_err = |source| SpanError::Io {
            path: path.clone(),
            source,
        };
        let out = if self.offset_in_fragment == 0 {
            // Fragment metadata (prft + moof + mdat header), patched.
            let mdat_header_end = metadata_len(file, f).map_err(io_err)?;
            let mut buf = vec![0u8; mdat_header_end as usize];
            file.read_exact_at(&mut buf, f.offset).map_err(io_err)?;
            patch_fragment(&mut buf, f, (index + 1) as u32, planned.out_decode_time);
            buf
        } else {
            let remaining = f.len - self.offset_in_fragment;
            let n = remaining.min(self.chunk as u64) as usize;
            let mut buf = vec![0u8; n];
            file.read_exact_at(&mut buf, f.offset + self.offset_in_fragment)
                .map_err(io_err)?;
            buf
        };
        self.offset_in_fragment += out.len() as u64;
        if self.offset_in_fragment >= f.len {
            self.next_fragment = Some(index + 1);
            self.offset_in_fragment = 0;
        }
        Ok(Some(out))
    }
}

/// Bytes from the fragment's start through its `mdat` header.
fn metadata_len(file: &File, f: &FragmentInfo) -> io::Result<u64> {
    let mut size = [0u8; 4];
    file.read_exact_at(&mut size, f.moof_offset)?;
    let moof_len = u64::from(be_u32(&size));
    let mut mdat_size = [0u8; 4];
    file.read_exact_at(&mut mdat_size, f.moof_offset + moof_len)?;
    let header = if be_u32(&mdat_size) == 1 { 16 } else { 8 };
    Ok(f.moof_offset - f.offset + moof_len + header)
}

/// Rewrites the sequence number and decode time of a fragment's metadata
/// copied into `buf` (which starts at `f.offset`).
fn patch_fragment(buf: &mut [u8], f: &FragmentInfo, sequence: u32, decode_time: u64) {
    let rel = |abs: u64| (abs - f.offset) as usize;
    let s = rel(f.sequence_offset);
    buf[s..s + 4].copy_from_slice(&sequence.to_be_bytes());
    let t = rel(f.tfdt_offset) + 12;
    if f.tfdt_version == 1 {
        buf[t..t + 8].copy_from_slice(&decode_time.to_be_bytes());
    } else {
        let v = u32::try_from(decode_time).unwrap_or(u32::MAX);
        buf[t..t + 4].copy_from_slice(&v.to_be_bytes());
    }
    if let Some(p) = f.prft_media_time_offset {
        let p = rel(p);
        debug_assert_eq!(be_u64(&buf[p..]), f.base_decode_time);
        buf[p..p + 8].copy_from_slice(&decode_time.to_be_bytes());
    }
}

/// Convenience for tests and the CLI: the whole span in memory.
pub fn read_span_to_vec(
    sources: &[SpanSource],
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<u8>, SpanError> {
    let mut reader = SpanReader::new(plan_span(sources, start_ms, end_ms)?, 1 << 16);
    let mut out = Vec::new();
    while let Some(chunk) = reader.next_chunk()? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
