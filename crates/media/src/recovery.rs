//! Making a segment file whole after a crash: keep every complete fragment,
//! cut off an interrupted one, and hash what remains.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::layout::{parse_segment, LayoutError, SegmentLayout};
use crate::segment::ticks_to_ms;

/// A segment file after recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredFile {
    pub bytes: u64,
    pub frames: u64,
    /// Wall-clock time of the first fragment, from its `prft` box.
    pub start_ms: Option<i64>,
    pub duration_ms: i64,
    pub sha256: [u8; 32],
    /// Bytes of an interrupted write that were cut off.
    pub truncated_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Layout { path: PathBuf, source: LayoutError },
}

/// Truncates `path` after its last complete fragment (making the truncation
/// durable) and returns what it then holds.
pub fn recover_file(path: &Path) -> Result<RecoveredFile, RecoveryError> {
    let io_err = |source| RecoveryError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::options()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err)?;
    let layout = parse_segment(&file).map_err(|source| RecoveryError::Layout {
        path: path.to_owned(),
        source,
    })?;
    let len = file.metadata().map_err(io_err)?.len();
    let truncated_bytes = len - layout.valid_len;
    if truncated_bytes > 0 {
        file.set_len(layout.valid_len).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
    }
    let sha256 = hash_prefix(&file, layout.valid_len).map_err(io_err)?;
    Ok(summarise(&layout, sha256, truncated_bytes))
}

fn summarise(layout: &SegmentLayout, sha256: [u8; 32], truncated_bytes: u64) -> RecoveredFile {
    let ticks = layout.duration() as i64 * 90_000 / i64::from(layout.timescale);
    RecoveredFile {
        bytes: layout.valid_len,
        frames: layout.frames(),
        start_ms: layout.fragments.first().and_then(|f| f.wall_clock_ms),
        duration_ms: ticks_to_ms(ticks),
        sha256,
        truncated_bytes,
    }
}

/// SHA-256 of the first `len` bytes of `file`.
pub fn hash_prefix(mut file: &File, len: u64) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut remaining = len;
    let mut buf = vec![0u8; 1 << 16];
    io::Seek::seek(&mut file, io::SeekFrom::Start(0))?;
    while remaining > 0 {
        let want = remaining.min(buf.len() as u64) as usize;
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        remaining -= n as u64;
    }
    Ok(hasher.finalize().into())
}
