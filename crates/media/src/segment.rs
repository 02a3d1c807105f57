//! Writing one segment file: init segment, then one fragment per GOP (or per
//! `max_fragment` of media time, whichever is shorter), hashing every byte as
//! it is written.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::fmp4::{fragment_header, init_segment, SampleInfo, TIMESCALE};
use crate::params::VideoParams;

/// One encoded video frame as the camera sent it, in decode order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Presentation time in 90 kHz units: the camera's own time stamp. With
    /// B-frames it steps back and forth in decode order.
    pub pts: i64,
    /// Decode time in 90 kHz units, strictly increasing within one session
    /// (see [`crate::decode_time`]); equal to `pts` when nothing is reordered.
    pub dts: i64,
    /// NAL units, each prefixed with its 4-byte big-endian length (the MP4 form).
    pub data: Bytes,
    /// A random access point (IDR / IRAP): a fragment or segment may start here.
    pub is_key: bool,
}

/// Converts a duration in 90 kHz units to milliseconds, rounding down.
pub fn ticks_to_ms(ticks: i64) -> i64 {
    ticks.div_euclid(i64::from(TIMESCALE) / 1000)
}

/// The longest gap between two frames' decode times that is still one
/// stream. A larger jump (or a step backwards) means the camera's clock was
/// reset.
pub const MAX_FRAME_GAP_TICKS: i64 = 10 * TIMESCALE as i64;

/// A fragment is also written once the frames waiting for it hold this many
/// bytes, so what a camera keeps in memory stays about this much (or one
/// frame larger than it) whatever its bitrate. At 4 Mbit/s only a fragment
/// that starts with a key frame (~400 KB at 1080p) reaches it at once, and
/// the others after about 6 frames at 15 fps: the key frame is written as
/// soon as the next frame gives it its duration, instead of staying in
/// memory for the fragment's half second.
pub const MAX_FRAGMENT_BYTES: usize = 128 * 1024;

/// What a frame that cannot be appended to the current segment did wrong.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("a segment must start with a key frame")]
    NotKeyFrame,
    #[error("timestamp moved from {previous} to {next} (90 kHz units)")]
    TimestampJump { previous: i64, next: i64 },
    #[error("frame of {0} bytes is too large for one MP4 sample")]
    FrameTooLarge(usize),
    #[error(
        "the disk is full: {} free in {}, and {} is kept free for the index and the log",
        mb(*available),
        dir.display(),
        mb(*reserve)
    )]
    DiskFull {
        dir: PathBuf,
        available: u64,
        reserve: u64,
    },
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Bytes an unprivileged process may still write on the file system
/// holding `dir` (`None` when the system cannot tell).
pub fn available_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: all-zero bytes are a valid `statvfs` (plain integers).
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable struct.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    // The field types differ between platforms (u32 on some 32-bit ones).
    #[allow(clippy::unnecessary_cast)]
    Some((st.f_bavail as u64).saturating_mul((st.f_frsize as u64).max(1)))
}

/// Refuses to write `bytes` more into `dir` when that would leave less than
/// `reserve` free: video never takes the last of the disk, which the index
/// and the log need to record what happened (including this).
pub fn check_room(dir: &Path, bytes: u64, reserve: u64) -> Result<(), WriteError> {
    if reserve == 0 {
        return Ok(());
    }
    match available_bytes(dir) {
        Some(available) if available < reserve.saturating_add(bytes) => Err(WriteError::DiskFull {
            dir: dir.to_owned(),
            available,
            reserve,
        }),
        _ => Ok(()),
    }
}

/// A segment that could not be finished: the write that failed, and the
/// writer, to [`abandon`](SegmentWriter::abandon) the file.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct FinishError {
    #[source]
    pub source: WriteError,
    pub writer: Box<SegmentWriter>,
}

/// State of the bytes already written (not the frames still buffered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenSoFar {
    pub bytes: u64,
    pub frames: u64,
    pub end_ms: i64,
}

/// A finished segment.
#[derive(Debug)]
pub struct SealedFile {
    pub path: PathBuf,
    pub file: Arc<File>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub bytes: u64,
    pub frames: u64,
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("path", &self.path)
            .field("bytes", &self.bytes)
            .field("frames", &self.frames)
            .field("buffered", &self.pending.len())
            .finish()
    }
}

/// Appends fragments to one new segment file.
pub struct SegmentWriter {
    path: PathBuf,
    file: Arc<File>,
    hasher: Sha256,
    bytes: u64,
    frames: u64,
    /// Media time (90 kHz) covered by the fragments written so far.
    written_ticks: u64,
    sequence: u32,
    /// Decode time of the segment's first frame: media time 0 of the file.
    start_dts: i64,
    start_wall_ms: i64,
    pending: Vec<Frame>,
    last_duration: u32,
    max_fragment_ticks: i64,
    /// Bytes to leave free on the disk ([`check_room`]); 0: no check.
    reserve: u64,
}

impl SegmentWriter {
    /// Creates `path` (which must not exist), writes the init segment and
    /// makes the file and its directory entry durable.
    pub fn create(
        path: &Path,
        params: &VideoParams,
        first: Frame,
        start_wall_ms: i64,
        max_fragment_ticks: i64,
        frame_ticks_hint: u32,
    ) -> Result<Self, WriteError> {
        if !first.is_key {
            return Err(WriteError::NotKeyFrame);
        }
        let io_err = |source| WriteError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_err)?;
        let init = init_segment(params, start_wall_ms);
        let durable = file
            .write_all(&init)
            .and_then(|()| file.sync_all())
            .map_err(io_err)
            .and_then(|()| match path.parent() {
                Some(dir) => sync_dir(dir).map_err(|source| WriteError::Io {
                    path: dir.to_owned(),
                    source,
                }),
                None => Ok(()),
            });
        if let Err(e) = durable {
            // A file that never got its init segment is no segment: leave
            // nothing behind (a full disk would otherwise collect one empty
            // file per key frame).
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        let mut hasher = Sha256::new();
        hasher.update(&init);
        let start_dts = first.dts;
        Ok(SegmentWriter {
            path: path.to_owned(),
            file: Arc::new(file),
            hasher,
            bytes: init.len() as u64,
            frames: 0,
            written_ticks: 0,
            sequence: 0,
            start_dts,
            start_wall_ms,
            pending: vec![first],
            last_duration: frame_ticks_hint.max(1),
            max_fragment_ticks,
            reserve: 0,
        })
    }

    /// Leave `bytes` free on the disk: a fragment that would eat into them
    /// fails with [`WriteError::DiskFull`] instead of being written.
    pub fn set_reserve(&mut self, bytes: u64) {
        self.reserve = bytes;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }
    pub fn start_wall_ms(&self) -> i64 {
        self.start_wall_ms
    }
    /// Decode time of the segment's first frame (its key frame).
    pub fn start_dts(&self) -> i64 {
        self.start_dts
    }
    pub fn written(&self) -> WrittenSoFar {
        WrittenSoFar {
            bytes: self.bytes,
            frames: self.frames,
            end_ms: self.start_wall_ms + ticks_to_ms(self.written_ticks as i64),
        }
    }

    /// Adds a frame. Returns true when a fragment was written to the file.
    pub fn push(&mut self, frame: Frame) -> Result<bool, WriteError> {
        if frame.data.len() > u32::MAX as usize {
            return Err(WriteError::FrameTooLarge(frame.data.len()));
        }
        let Some(last) = self.pending.last() else {
            if !frame.is_key && self.frames == 0 {
                return Err(WriteError::NotKeyFrame);
            }
            self.pending.push(frame);
            return Ok(false);
        };
        let gap = frame.dts - last.dts;
        if gap <= 0 || gap > MAX_FRAME_GAP_TICKS {
            return Err(WriteError::TimestampJump {
                previous: last.dts,
                next: frame.dts,
            });
        }
        let mut flushed = false;
        let buffered: usize = self.pending.iter().map(|f| f.data.len()).sum();
        if frame.is_key
            || frame.dts - self.pending[0].dts >= self.max_fragment_ticks
            || buffered >= MAX_FRAGMENT_BYTES
        {
            self.flush(Some(frame.dts))?;
            flushed = true;
        }
        self.pending.push(frame);
        Ok(flushed)
    }

    /// Writes the buffered frames as one fragment. `next_dts` gives the last
    /// frame its duration; without it the previous frame's duration is reused.
    fn flush(&mut self, next_dts: Option<i64>) -> Result<(), WriteError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut samples = Vec::with_capacity(self.pending.len());
        for (i, f) in self.pending.iter().enumerate() {
            let next = self.pending.get(i + 1).map(|n| n.dts).or(next_dts);
            let duration = match next {
                Some(n) => u32::try_from(n - f.dts).unwrap_or(self.last_duration),
                None => self.last_duration,
            };
            self.last_duration = duration;
            samples.push(SampleInfo {
                duration,
                size: f.data.len() as u32,
                is_key: f.is_key,
                composition_offset: composition_offset(f),
            });
        }
        let first = &self.pending[0];
        let base = u64::try_from(first.dts - self.start_dts).unwrap_or(0);
        let wall = self.start_wall_ms + ticks_to_ms(first.dts - self.start_dts);
        self.sequence += 1;
        let header = fragment_header(self.sequence, base, wall, &samples);
        let total = header.len() as u64
            + self
                .pending
                .iter()
                .map(|f| f.data.len() as u64)
                .sum::<u64>();
        if let Some(dir) = self.path.parent() {
            check_room(dir, total, self.reserve)?;
        }
        // The header and the camera's frames, as they are, in one writev:
        // no copy of the fragment is made (a GOP per camera would be held
        // twice otherwise).
        let mut parts: Vec<IoSlice<'_>> = Vec::with_capacity(self.pending.len() + 1);
        parts.push(IoSlice::new(&header));
        parts.extend(self.pending.iter().map(|f| IoSlice::new(&f.data)));
        write_all_vectored(&self.file, &mut parts).map_err(|source| WriteError::Io {
            path: self.path.clone(),
            source,
        })?;
        // The hash covers exactly what reached the file.
        self.hasher.update(&header);
        for f in &self.pending {
            self.hasher.update(&f.data);
        }
        self.bytes += total;
        self.frames += samples.len() as u64;
        self.written_ticks = base + samples.iter().map(|s| u64::from(s.duration)).sum::<u64>();
        self.pending.clear();
        Ok(())
    }

    /// Writes what is buffered and finishes the file. The caller makes it
    /// durable (group commit) before recording it as sealed. On failure the
    /// writer comes back, for [`abandon`](Self::abandon).
    pub fn finish(mut self, next_dts: Option<i64>) -> Result<SealedFile, FinishError> {
        if let Err(source) = self.flush(next_dts) {
            return Err(FinishError {
                source,
                writer: Box::new(self),
            });
        }
        Ok(self.sealed())
    }

    fn sealed(self) -> SealedFile {
        SealedFile {
            end_ms: self.start_wall_ms + ticks_to_ms(self.written_ticks as i64),
            path: self.path,
            file: self.file,
            start_ms: self.start_wall_ms,
            bytes: self.bytes,
            frames: self.frames,
            sha256: self.hasher.finalize().into(),
        }
    }

    /// Gives up on the file after a failed write: cuts it back to its last
    /// complete fragment (what the hash covers) and seals that, or removes
    /// it when no fragment was written. Returns the sealed file, if any, and
    /// how many buffered frames were lost; on error, the lost count too.
    pub fn abandon(self) -> Result<(Option<SealedFile>, u64), (WriteError, u64)> {
        let buffered = self.pending.len() as u64;
        let io_err = |source| {
            (
                WriteError::Io {
                    path: self.path.clone(),
                    source,
                },
                buffered,
            )
        };
        if self.frames == 0 {
            std::fs::remove_file(&self.path).map_err(io_err)?;
            if let Some(dir) = self.path.parent() {
                // Best effort: the file's removal need not survive a crash,
                // recovery discards an init-only file too.
                let _ = sync_dir(dir);
            }
            return Ok((None, buffered));
        }
        self.file.set_len(self.bytes).map_err(io_err)?;
        Ok((Some(self.sealed()), buffered))
    }
}

/// Writes every byte of `parts`, in order, with as few `writev` calls as
/// the kernel allows.
fn write_all_vectored(mut file: &File, mut parts: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !parts.is_empty() {
        match file.write_vectored(parts) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A frame's presentation time relative to its decode time, as `trun`
/// stores it. The decode-time stage keeps the two within the reorder window
/// (seconds), far inside `i32`; saturating keeps a corrupt stamp from
/// wrapping around.
pub fn composition_offset(frame: &Frame) -> i32 {
    let offset = frame.pts - frame.dts;
    i32::try_from(offset).unwrap_or(if offset < 0 { i32::MIN } else { i32::MAX })
}

/// fsyncs a directory so that a file created or removed in it survives power loss.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
