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

/// A source file opened and parsed, with its fragments' wall-clock times.
struct OpenedSource {
    path: PathBuf,
    file: File,
    layout: crate::layout::SegmentLayout,
    /// (start, end) wall-clock ms of each fragment.
    times: Vec<(i64, i64)>,
}

impl OpenedSource {
    fn open(src: &SpanSource) -> Result<Self, SpanError> {
        let file = File::open(&src.path).map_err(|source| SpanError::Io {
            path: src.path.clone(),
            source,
        })?;
        let layout = parse_segment(&file).map_err(|source| SpanError::Layout {
            path: src.path.clone(),
            source,
        })?;
        let scale = |t: u64| ticks_to_ms((t as i64) * 90_000 / i64::from(layout.timescale));
        let times = layout
            .fragments
            .iter()
            .map(|f| {
                let start = f
                    .wall_clock_ms
                    .unwrap_or(src.start_ms + scale(f.base_decode_time));
                (start, start + scale(f.duration))
            })
            .collect();
        Ok(OpenedSource {
            path: src.path.clone(),
            file,
            layout,
            times,
        })
    }

    fn end_ms(&self) -> Option<i64> {
        self.times.last().map(|t| t.1)
    }
}

/// Plans the export of `[start_ms, end_ms)` from `sources`, ordered by
/// start. Sources that end before the span are used only for the GOP an
/// open GOP's leading pictures reference; give the segment just before the
/// span for that.
pub fn plan_span(
    sources: &[SpanSource],
    start_ms: i64,
    end_ms: i64,
) -> Result<SpanPlan, SpanError> {
    let mut plan = Planner {
        files: Vec::new(),
        init: None,
        chosen: Vec::new(),
        out_time: 0,
        first_ms: None,
        last_ms: start_ms,
        stopped: false,
    };
    // The latest source seen that ends before the span.
    let mut before_span: Option<OpenedSource> = None;
    for src in sources {
        let opened = OpenedSource::open(src)?;
        let overlaps = opened
            .times
            .iter()
            .any(|&(s, e)| s < end_ms && e > start_ms);
        if plan.chosen.is_empty() && !overlaps {
            if opened.times.first().is_some_and(|t| t.0 >= end_ms) {
                break;
            }
            before_span = Some(opened);
            continue;
        }
        let first_index = if plan.chosen.is_empty() {
            // The key-frame fragment at or before the start.
            let at = opened
                .layout
                .fragments
                .iter()
                .zip(&opened.times)
                .rposition(|(f, t)| f.starts_with_key && t.0 <= start_ms)
                .unwrap_or(0);
            let open_gop = opened
                .layout
                .fragments
                .get(at)
                .is_some_and(|f| f.has_leading_pictures);
            // An open GOP's key frame has leading pictures that reference
            // the GOP before it: start there, so they decode too.
            let earlier_key = opened.layout.fragments[..at]
                .iter()
                .rposition(|f| f.starts_with_key);
            match (open_gop, earlier_key, before_span.take()) {
                (true, Some(k), _) => k,
                (true, None, Some(prev)) => {
                    let contiguous = match (prev.end_ms(), opened.times.first()) {
                        // Within a frame or so: the same recording session.
                        (Some(end), Some(first)) => (first.0 - end).abs() <= 1000,
                        _ => false,
                    };
                    let same_stream =
                        prev.layout.sample_description == opened.layout.sample_description;
                    if contiguous && same_stream {
                        if let Some(k) = prev
                            .layout
                            .fragments
                            .iter()
                            .rposition(|f| f.starts_with_key)
                        {
                            plan.take(prev, k, end_ms)?;
                        }
                    }
                    at
                }
                _ => at,
            }
        } else {
            0
        };
        if plan.take(opened, first_index, end_ms)? {
            break;
        }
    }
    let (Some((init, _)), Some(first_ms)) = (plan.init, plan.first_ms) else {
        return Err(SpanError::Empty { start_ms, end_ms });
    };
    Ok(SpanPlan {
        files: plan.files,
        init,
        fragments: plan.chosen,
        first_ms,
        last_ms: plan.last_ms,
        stopped_at_parameter_change: plan.stopped,
    })
}

struct Planner {
    files: Vec<(PathBuf, File)>,
    /// (init bytes, sample description) of the first file used.
    init: Option<(Vec<u8>, Vec<u8>)>,
    chosen: Vec<PlannedFragment>,
    out_time: u64,
    first_ms: Option<i64>,
    last_ms: i64,
    stopped: bool,
}

impl Planner {
    /// Adds `src`'s fragments from `from` on, up to the end of the span.
    /// Returns true when the span is complete (or cannot go on).
    fn take(&mut self, src: OpenedSource, from: usize, end_ms: i64) -> Result<bool, SpanError> {
        let file_index = self.files.len();
        let mut used = false;
        let mut done = false;
        for (f, &(f_start, f_end)) in src.layout.fragments.iter().zip(&src.times).skip(from) {
            if f_start >= end_ms {
                done = true;
                break;
            }
            // From the key frame at or before the start (this file overlaps
            // the span), every fragment is needed to decode the pictures of
            // the span, even those that end before it: a GOP cut into
            // several fragments, or the GOP before an open GOP's key frame.
            if self.chosen.is_empty() && !f.starts_with_key {
                continue;
            }
            match &self.init {
                None => {
                    let mut buf = vec![0u8; src.layout.init_len as usize];
                    src.file
                        .read_exact_at(&mut buf, 0)
                        .map_err(|source| SpanError::Io {
                            path: src.path.clone(),
                            source,
                        })?;
                    self.init = Some((buf, src.layout.sample_description.clone()));
                }
                Some((_, desc)) if *desc != src.layout.sample_description => {
                    self.stopped = true;
                    done = true;
                    break;
                }
                Some(_) => {}
            }
            self.first_ms.get_or_insert(f_start);
            self.last_ms = f_end;
            self.chosen.push(PlannedFragment {
                file_index,
                fragment: f.clone(),
                out_decode_time: self.out_time,
            });
            self.out_time += f.duration;
            used = true;
        }
        if used {
            self.files.push((src.path, src.file));
        }
        Ok(done)
    }
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
