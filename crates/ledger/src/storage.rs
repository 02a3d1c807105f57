//! The durable, append-only log: entries and the Merkle tree over them, in
//! plain files in one directory.
//!
//! | file | record | record `i` |
//! |---|---|---|
//! | `entries.dat` | `u32` big-endian length ‖ bytes | entry `i`, at the offset in `entries.idx` |
//! | `entries.idx` | `u64` big-endian offset | where entry `i` starts in `entries.dat` |
//! | `level-KK.hash` | 32-byte hash | the complete subtree of leaves `[i·2^K, (i+1)·2^K)` |
//!
//! Level 0 holds the leaf hashes (RFC 9162 §2.1.1); level K holds one hash
//! per complete, aligned subtree of 2^K leaves, written as soon as its last
//! leaf is appended. A log of n entries therefore holds `Σ n>>K < 2n` hashes,
//! and every hash that a root or proof of any tree size needs is either one
//! of them (a single `pread`) or a right-edge node folded from at most
//! log2(n)+1 of them (see [`crate::merkle::HashSource`]).
//!
//! # Durability and recovery
//!
//! [`LogStorage::append_batch`] writes each file once (entries, then the
//! hash levels bottom-up, then the index, so that a concurrent reader who
//! sees an index record finds everything it refers to), then `fdatasync`s
//! every file it wrote: when it returns, the batch is on disk.
//!
//! A crash can leave each file with a different, possibly torn, tail. On
//! [`LogStorage::open`] the size is recomputed as the largest n for which
//! `entries.idx`, `entries.dat` and `level-00.hash` all hold n complete
//! records, every file is cut back to that n (level K to n>>K records),
//! hash records the crash left out are recomputed from the level below, and
//! everything is synced before the first new append builds on it.
//!
//! Recovery judges records by structure (lengths and offsets), never by
//! content: an entry whose bytes no longer match its leaf hash is kept, so
//! that verification reports it as edited, rather than silently dropped.
//!
//! # Writers and readers
//!
//! One process at a time may hold the log open for writing ([`LogStorage::open`]
//! takes an exclusive lock on the file `LOCK`): a second writer's recovery
//! would cut the tail that the first one is writing. Any number of readers
//! ([`LogStorage::open_read_only`]) may run beside the writer; they never
//! modify a file and see new entries after [`LogStorage::refresh_size`].

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::merkle::{self, Hash, HashSource, MerkleError};

/// Entry bytes, each after a `u32` big-endian length.
const DATA_FILE: &str = "entries.dat";
/// One `u64` big-endian offset into [`DATA_FILE`] per entry.
const INDEX_FILE: &str = "entries.idx";
/// Held locked (`flock`) by the one writer.
const LOCK_FILE: &str = "LOCK";

/// Bytes of one hash record.
const HASH_LEN: u64 = 32;
/// Bytes of one index record.
const OFFSET_LEN: u64 = 8;
/// Bytes of the length prefix of an entry.
const PREFIX_LEN: u64 = 4;
/// Levels 0..=63 cover every size a `u64` can count.
const MAX_LEVELS: usize = 64;
/// Parent hashes recomputed per read of the level below during recovery
/// (bounds the memory that recovery uses to 2 MiB).
const REBUILD_CHUNK: u64 = 1 << 15;

/// The file name of hash level `level`.
fn level_file_name(level: u32) -> String {
    format!("level-{level:02}.hash")
}

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The operating system refused an operation on a file.
    #[error("I/O error on {path}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A file's contents contradict the log's structure.
    #[error("{path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// Byte offset in that file of the record at fault.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// An entry index or a tree size beyond what the log holds.
    #[error("{index} is out of range for a log of size {size}")]
    OutOfRange {
        /// The index or tree size asked for.
        index: u64,
        /// The size it was checked against.
        size: u64,
    },
    /// Another handle (this process or another) has the log open for
    /// writing.
    #[error("the log is already open for writing (lock held on {path})")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// An entry too long for its `u32` length prefix.
    #[error("entry {index} is {len} bytes, more than the 4 GiB an entry may hold")]
    EntryTooLarge {
        /// The index the entry would have had.
        index: u64,
        /// Its length in bytes.
        len: usize,
    },
    /// An append on a handle opened with [`LogStorage::open_read_only`].
    #[error("the log was opened read-only")]
    ReadOnly,
    /// An earlier append failed part-way. What the files hold after a failed
    /// write or `fsync` is unknown (a failed `fsync` may already have
    /// dropped the unwritten pages), so the handle refuses further appends:
    /// reopening runs recovery against what is really on disk.
    #[error("an earlier append failed; reopen the log to recover it")]
    Poisoned,
    /// A proof could not be computed for another reason.
    #[error(transparent)]
    Merkle(MerkleError),
}

/// Turns a proof-generation error back into the storage error it wraps.
fn from_merkle(e: MerkleError) -> StorageError {
    match e {
        MerkleError::IndexOutOfRange { index, size } => StorageError::OutOfRange { index, size },
        MerkleError::Source(inner) => match inner.downcast::<StorageError>() {
            Ok(storage) => *storage,
            Err(other) => StorageError::Merkle(MerkleError::Source(other)),
        },
        other => StorageError::Merkle(other),
    }
}

/// Wraps an `io::Error` with the path it concerns.
fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The log's logical end: what its files hold, excluding any torn tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tail {
    /// Number of entries.
    size: u64,
    /// Byte length of `entries.dat` holding exactly those entries.
    data_end: u64,
}

/// An append-only log in a directory; see the module documentation.
#[derive(Debug)]
pub struct LogStorage {
    dir: PathBuf,
    /// The lock file, held for as long as a writer lives; `None` for readers.
    lock: Option<File>,
    data: File,
    index: File,
    /// `levels[k]` is `level-KK.hash`, opened at recovery (writer), lazily
    /// when first needed (reader) or when first written (writer).
    levels: [OnceLock<File>; MAX_LEVELS],
    /// Behind a mutex because a reader refreshes it through `&self`.
    tail: Mutex<Tail>,
    /// The right edge, for the writer: `edge[k]` is the last hash of level
    /// k when that level holds an odd number of them (the left half of a
    /// pair the next appends will complete), so appends never read a file.
    edge: Vec<Option<Hash>>,
    poisoned: bool,
}

/// Opens `dir/name` for reading and writing, creating it if absent.
fn open_rw(dir: &Path, name: &str) -> Result<File, StorageError> {
    let path = dir.join(name);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error(&path))
}

/// Opens `dir/name` for reading only.
fn open_ro(dir: &Path, name: &str) -> Result<File, StorageError> {
    let path = dir.join(name);
    File::open(&path).map_err(io_error(&path))
}

/// The current length of a file.
fn file_len(file: &File, path: &Path) -> Result<u64, StorageError> {
    Ok(file.metadata().map_err(io_error(path))?.len())
}

/// `read_exact_at`, where reaching the end of the file means the file is
/// shorter than the log's structure says: corrupt, not an I/O failure.
/// The path is only built for an error: this is on every read's path.
fn read_at(
    file: &File,
    path: impl FnOnce() -> PathBuf,
    offset: u64,
    buf: &mut [u8],
    what: &str,
) -> Result<(), StorageError> {
    file.read_exact_at(buf, offset).map_err(|source| {
        if source.kind() == io::ErrorKind::UnexpectedEof {
            StorageError::Corrupt {
                path: path(),
                offset,
                reason: format!("the file ends inside {what}"),
            }
        } else {
            StorageError::Io {
                path: path(),
                source,
            }
        }
    })
}

/// Cuts `file` to `len` bytes if it is longer.
fn truncate_to(file: &File, path: &Path, len: u64) -> Result<(), StorageError> {
    if file_len(file, path)? > len {
        file.set_len(len).map_err(io_error(path))?;
    }
    Ok(())
}

/// Splits 64 bytes into the two hashes of a pair.
fn split_pair(pair: &[u8]) -> (Hash, Hash) {
    let mut left = [0u8; 32];
    let mut right = [0u8; 32];
    left.copy_from_slice(&pair[..32]);
    right.copy_from_slice(&pair[32..64]);
    (left, right)
}

/// `fsync` of a directory, so that files created in it survive a crash.
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

impl LogStorage {
    /// Opens the log in `dir` for writing, creating the directory and its
    /// files when new, and recovers from a crash (see the module
    /// documentation) before returning.
    pub fn open(dir: &Path) -> Result<LogStorage, StorageError> {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
            // The new directory's own entry, so that it survives a crash.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let lock_path = dir.join(LOCK_FILE);
        let lock = open_rw(dir, LOCK_FILE)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StorageError::Locked { path: lock_path }),
            Err(TryLockError::Error(source)) => {
                return Err(StorageError::Io {
                    path: lock_path,
                    source,
                })
            }
        }
        let data = open_rw(dir, DATA_FILE)?;
        let index = open_rw(dir, INDEX_FILE)?;
        let level0 = open_rw(dir, &level_file_name(0))?;
        let mut storage = LogStorage::assemble(dir, Some(lock), data, index, level0);
        storage.recover()?;
        Ok(storage)
    }

    /// True while a writer holds the log in `dir` (the site is running).
    pub fn writer_active(dir: &Path) -> bool {
        let Ok(lock) = File::open(dir.join(LOCK_FILE)) else {
            return false;
        };
        matches!(lock.try_lock(), Err(TryLockError::WouldBlock))
    }

    /// Opens an existing log for reading only: nothing is created, locked,
    /// cut or repaired, so this is safe beside a live writer and on evidence
    /// that must not change. A torn tail is ignored rather than removed.
    pub fn open_read_only(dir: &Path) -> Result<LogStorage, StorageError> {
        let data = open_ro(dir, DATA_FILE)?;
        let index = open_ro(dir, INDEX_FILE)?;
        let level0 = open_ro(dir, &level_file_name(0))?;
        let storage = LogStorage::assemble(dir, None, data, index, level0);
        storage.refresh_size()?;
        Ok(storage)
    }

    fn assemble(
        dir: &Path,
        lock: Option<File>,
        data: File,
        index: File,
        level0: File,
    ) -> LogStorage {
        let levels: [OnceLock<File>; MAX_LEVELS] = std::array::from_fn(|_| OnceLock::new());
        // Cannot fail: the cell was just made empty.
        let _ = levels[0].set(level0);
        LogStorage {
            dir: dir.to_path_buf(),
            lock,
            data,
            index,
            levels,
            tail: Mutex::new(Tail {
                size: 0,
                data_end: 0,
            }),
            edge: Vec::new(),
            poisoned: false,
        }
    }

    /// The directory holding the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this handle may append.
    pub fn is_writable(&self) -> bool {
        self.lock.is_some()
    }

    /// The number of entries.
    pub fn size(&self) -> u64 {
        self.tail().size
    }

    /// For a reader, looks again at the files for entries that the writer
    /// has appended since, and returns the new size. For the writer, which
    /// knows its own size, this is [`LogStorage::size`].
    pub fn refresh_size(&self) -> Result<u64, StorageError> {
        if self.is_writable() {
            return Ok(self.size());
        }
        let tail = self.consistent_tail()?;
        *self.tail.lock().unwrap_or_else(|p| p.into_inner()) = tail;
        Ok(tail.size)
    }

    fn tail(&self) -> Tail {
        // The mutex only guards a copyable pair, so a panic elsewhere while
        // it was held cannot have left it half-written.
        *self.tail.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn level_path(&self, level: u32) -> PathBuf {
        self.dir.join(level_file_name(level))
    }

    /// The file of hash level `level`, opening it if needed; `None` when it
    /// does not exist (a reader looking past what the writer has made).
    fn level_file(&self, level: u32) -> Result<Option<&File>, StorageError> {
        let Some(cell) = self.levels.get(level as usize) else {
            return Ok(None);
        };
        if let Some(f) = cell.get() {
            return Ok(Some(f));
        }
        let path = self.level_path(level);
        let opened = if self.is_writable() {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        } else {
            File::open(&path)
        };
        match opened {
            // Another thread may have won the race to fill the cell; either
            // handle is the same file.
            Ok(f) => Ok(Some(cell.get_or_init(|| f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !self.is_writable() => Ok(None),
            Err(source) => Err(StorageError::Io { path, source }),
        }
    }

    /// Reads the big-endian offset of entry `i` from `entries.idx`.
    fn read_offset(&self, i: u64) -> Result<u64, StorageError> {
        let mut b = [0u8; 8];
        read_at(
            &self.index,
            || self.path(INDEX_FILE),
            i * OFFSET_LEN,
            &mut b,
            "an offset record",
        )?;
        Ok(u64::from_be_bytes(b))
    }

    /// Reads the big-endian length prefix at `offset` of `entries.dat`.
    fn read_prefix(&self, offset: u64) -> Result<u64, StorageError> {
        let mut b = [0u8; 4];
        read_at(
            &self.data,
            || self.path(DATA_FILE),
            offset,
            &mut b,
            "a length prefix",
        )?;
        Ok(u64::from(u32::from_be_bytes(b)))
    }

    /// Reads hash record `i` of `level`, which must exist.
    fn read_hash(&self, level: u32, i: u64) -> Result<Hash, StorageError> {
        let Some(file) = self.level_file(level)? else {
            return Err(StorageError::Corrupt {
                path: self.level_path(level),
                offset: 0,
                reason: "the file is missing".into(),
            });
        };
        let mut h = [0u8; 32];
        let path = || self.level_path(level);
        read_at(file, path, i * HASH_LEN, &mut h, "a hash record")?;
        Ok(h)
    }

    /// The largest n such that `entries.idx`, `entries.dat` and
    /// `level-00.hash` all hold n complete records, with the end of entry
    /// n-1 in `entries.dat`.
    ///
    /// Records are appended in order, so only the tail can be torn: the
    /// last index record must point just past its predecessor's record and
    /// that record must fit in `entries.dat`. Walking back from the shortest
    /// file's count stops at the first that does.
    fn consistent_tail(&self) -> Result<Tail, StorageError> {
        // The index first: it is written last, so whatever it covers was
        // already in the other files when its length was read.
        let index_len = file_len(&self.index, &self.path(INDEX_FILE))?;
        let level0_path = self.level_path(0);
        let level0_len = match self.level_file(0)? {
            Some(f) => file_len(f, &level0_path)?,
            None => 0,
        };
        let data_len = file_len(&self.data, &self.path(DATA_FILE))?;
        let mut n = (index_len / OFFSET_LEN).min(level0_len / HASH_LEN);
        while n > 0 {
            if let Some(data_end) = self.complete_last_record(n, data_len)? {
                return Ok(Tail { size: n, data_end });
            }
            n -= 1;
        }
        Ok(Tail {
            size: 0,
            data_end: 0,
        })
    }

    /// If entry n-1 is a complete record that follows entry n-2, where it
    /// ends in `entries.dat`.
    fn complete_last_record(&self, n: u64, data_len: u64) -> Result<Option<u64>, StorageError> {
        let i = n - 1;
        let start = self.read_offset(i)?;
        let expected_start = if i == 0 {
            0
        } else {
            let prev = self.read_offset(i - 1)?;
            match prev.checked_add(PREFIX_LEN) {
                Some(p) if p <= data_len && prev < start => p + self.read_prefix(prev)?,
                _ => return Ok(None),
            }
        };
        if start != expected_start {
            return Ok(None);
        }
        match start.checked_add(PREFIX_LEN) {
            Some(p) if p <= data_len => {}
            _ => return Ok(None),
        }
        let end = start + PREFIX_LEN + self.read_prefix(start)?;
        Ok((end <= data_len).then_some(end))
    }

    /// Crash recovery for the writer; see the module documentation.
    fn recover(&mut self) -> Result<(), StorageError> {
        let tail = self.consistent_tail()?;
        let Tail { size, data_end } = tail;
        truncate_to(&self.data, &self.path(DATA_FILE), data_end)?;
        truncate_to(&self.index, &self.path(INDEX_FILE), size * OFFSET_LEN)?;
        let level0_path = self.level_path(0);
        if let Some(f) = self.level_file(0)? {
            truncate_to(f, &level0_path, size * HASH_LEN)?;
        }
        *self.tail.lock().unwrap_or_else(|p| p.into_inner()) = tail;

        let mut created = false;
        for level in 1..MAX_LEVELS as u32 {
            let want = size >> level;
            let path = self.level_path(level);
            if want == 0 {
                // Levels the recovered size does not reach are emptied, not
                // deleted: a reader holding one open then sees the truncation
                // instead of a stale, unlinked copy.
                match OpenOptions::new().write(true).open(&path) {
                    Ok(f) => f.set_len(0).map_err(io_error(&path))?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => return Err(StorageError::Io { path, source }),
                }
                continue;
            }
            created |= !path.exists();
            let Some(file) = self.level_file(level)? else {
                return Err(StorageError::Corrupt {
                    path,
                    offset: 0,
                    reason: "cannot create the file".into(),
                });
            };
            truncate_to(file, &path, want * HASH_LEN)?;
            let mut have = file_len(file, &path)? / HASH_LEN;
            // A crash can leave a torn or stale last record: keep only
            // records that match their two children, from the end back.
            while have > 0 {
                let j = have - 1;
                let expected = merkle::node_hash(
                    &self.read_hash(level - 1, 2 * j)?,
                    &self.read_hash(level - 1, 2 * j + 1)?,
                );
                if self.read_hash(level, j)? == expected {
                    break;
                }
                have -= 1;
            }
            file.set_len(have * HASH_LEN).map_err(io_error(&path))?;
            self.rebuild_level(level, have, want)?;
        }

        // Whatever survived the crash may still be only in the page cache:
        // make it durable before new appends are built on it.
        self.data
            .sync_data()
            .map_err(io_error(&self.path(DATA_FILE)))?;
        self.index
            .sync_data()
            .map_err(io_error(&self.path(INDEX_FILE)))?;
        for level in 0..MAX_LEVELS as u32 {
            if let Some(f) = self.levels[level as usize].get() {
                f.sync_data().map_err(io_error(&self.level_path(level)))?;
            }
        }
        if created || size == 0 {
            sync_dir(&self.dir)?;
        }

        self.edge = Vec::new();
        for level in 0..MAX_LEVELS as u32 {
            let count = size >> level;
            if count == 0 {
                break;
            }
            self.edge.push(if count % 2 == 1 {
                Some(self.read_hash(level, count - 1)?)
            } else {
                None
            });
        }
        Ok(())
    }

    /// Writes the records `[from, to)` of `level` from the level below.
    fn rebuild_level(&self, level: u32, from: u64, to: u64) -> Result<(), StorageError> {
        let below_path = self.level_path(level - 1);
        let path = self.level_path(level);
        let (Some(below), Some(file)) = (self.level_file(level - 1)?, self.level_file(level)?)
        else {
            return Err(StorageError::Corrupt {
                path,
                offset: from * HASH_LEN,
                reason: "a level file is missing".into(),
            });
        };
        let mut j = from;
        while j < to {
            let end = to.min(j + REBUILD_CHUNK);
            let mut children = vec![0u8; ((end - j) * 2 * HASH_LEN) as usize];
            read_at(
                below,
                || below_path.clone(),
                j * 2 * HASH_LEN,
                &mut children,
                "the children of a lost hash record",
            )?;
            let mut parents = Vec::with_capacity(((end - j) * HASH_LEN) as usize);
            for pair in children.chunks_exact(2 * HASH_LEN as usize) {
                let (l, r) = split_pair(pair);
                parents.extend_from_slice(&merkle::node_hash(&l, &r));
            }
            file.write_all_at(&parents, j * HASH_LEN)
                .map_err(io_error(&path))?;
            j = end;
        }
        Ok(())
    }

    /// Appends `entries` in order and returns their indices. Durable when it
    /// returns: every file written is `fdatasync`ed once per call, so the
    /// cost of a sync is shared by the whole batch.
    ///
    /// After an error the handle is poisoned ([`StorageError::Poisoned`])
    /// and the log must be reopened.
    pub fn append_batch<E: AsRef<[u8]>>(
        &mut self,
        entries: &[E],
    ) -> Result<Range<u64>, StorageError> {
        if !self.is_writable() {
            return Err(StorageError::ReadOnly);
        }
        if self.poisoned {
            return Err(StorageError::Poisoned);
        }
        let Tail { size, data_end } = self.tail();
        if entries.is_empty() {
            return Ok(size..size);
        }
        let mut data_len = 0usize;
        for (i, e) in entries.iter().enumerate() {
            let e = e.as_ref();
            if u32::try_from(e.len()).is_err() {
                return Err(StorageError::EntryTooLarge {
                    index: size + i as u64,
                    len: e.len(),
                });
            }
            data_len += PREFIX_LEN as usize + e.len();
        }

        // Everything is built in memory first, so each file gets one write.
        let mut data = Vec::with_capacity(data_len);
        let mut index = Vec::with_capacity(entries.len() * OFFSET_LEN as usize);
        let mut levels: Vec<Vec<u8>> = Vec::new();
        let mut edge = self.edge.clone();
        let mut offset = data_end;
        for e in entries {
            let e = e.as_ref();
            index.extend_from_slice(&offset.to_be_bytes());
            // Checked above to fit.
            data.extend_from_slice(&(e.len() as u32).to_be_bytes());
            data.extend_from_slice(e);
            offset += PREFIX_LEN + e.len() as u64;
            // Add the leaf, then every parent it completes (RFC 9162 §2.1.1:
            // a pair at level k is the complete subtree above it at k+1).
            let mut hash = merkle::leaf_hash(e);
            let mut level = 0;
            loop {
                if levels.len() == level {
                    levels.push(Vec::new());
                }
                if edge.len() == level {
                    edge.push(None);
                }
                levels[level].extend_from_slice(&hash);
                match edge[level].take() {
                    Some(left) => {
                        hash = merkle::node_hash(&left, &hash);
                        level += 1;
                    }
                    None => {
                        edge[level] = Some(hash);
                        break;
                    }
                }
            }
        }
        let new_size = size + entries.len() as u64;

        if let Err(e) = self.write_batch(size, data_end, &data, &levels, &index) {
            self.poisoned = true;
            return Err(e);
        }
        self.edge = edge;
        *self.tail.lock().unwrap_or_else(|p| p.into_inner()) = Tail {
            size: new_size,
            data_end: offset,
        };
        Ok(size..new_size)
    }

    /// Writes a built batch at the log's current end and syncs it.
    fn write_batch(
        &self,
        size: u64,
        data_end: u64,
        data: &[u8],
        levels: &[Vec<u8>],
        index: &[u8],
    ) -> Result<(), StorageError> {
        let data_path = self.path(DATA_FILE);
        self.data
            .write_all_at(data, data_end)
            .map_err(io_error(&data_path))?;
        let mut created = false;
        for (level, records) in levels.iter().enumerate() {
            let level = level as u32;
            let path = self.level_path(level);
            created |= self.levels[level as usize].get().is_none() && !path.exists();
            let Some(file) = self.level_file(level)? else {
                return Err(StorageError::Corrupt {
                    path,
                    offset: 0,
                    reason: "cannot create the file".into(),
                });
            };
            file.write_all_at(records, (size >> level) * HASH_LEN)
                .map_err(io_error(&path))?;
        }
        let index_path = self.path(INDEX_FILE);
        self.index
            .write_all_at(index, size * OFFSET_LEN)
            .map_err(io_error(&index_path))?;

        self.data.sync_data().map_err(io_error(&data_path))?;
        for level in 0..levels.len() as u32 {
            if let Some(f) = self.levels[level as usize].get() {
                f.sync_data().map_err(io_error(&self.level_path(level)))?;
            }
        }
        self.index.sync_data().map_err(io_error(&index_path))?;
        if created {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// The bytes of entry `index`.
    ///
    /// The record's extent is checked against both the index and the length
    /// prefix (it must end where the next entry starts, or at the end of the
    /// log), so a damaged prefix or offset is reported as
    /// [`StorageError::Corrupt`] with the file and byte offset.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, StorageError> {
        let Tail { size, data_end } = self.tail();
        if index >= size {
            return Err(StorageError::OutOfRange { index, size });
        }
        let start = self.read_offset(index)?;
        let end = if index + 1 < size {
            self.read_offset(index + 1)?
        } else {
            data_end
        };
        let len = match end.checked_sub(start) {
            Some(extent) if extent >= PREFIX_LEN && end <= data_end => extent - PREFIX_LEN,
            _ => {
                return Err(StorageError::Corrupt {
                    path: self.path(INDEX_FILE),
                    offset: index * OFFSET_LEN,
                    reason: format!(
                        "entry {index} starts at {start} but the next record starts at {end} \
                         (the log's data ends at {data_end})"
                    ),
                })
            }
        };
        let prefix = self.read_prefix(start)?;
        if prefix != len {
            return Err(StorageError::Corrupt {
                path: self.path(DATA_FILE),
                offset: start,
                reason: format!("entry {index} has length prefix {prefix} but the index leaves {len} bytes for it"),
            });
        }
        // `len <= data_end`, the length of a file that was read, so it fits
        // in memory's address space.
        let mut bytes = vec![0u8; len as usize];
        read_at(
            &self.data,
            || self.path(DATA_FILE),
            start + PREFIX_LEN,
            &mut bytes,
            "an entry",
        )?;
        Ok(bytes)
    }

    /// The leaf hash of entry `index`, as the tree holds it (level 0). That
    /// it equals [`merkle::leaf_hash`] of [`LogStorage::entry`] is for
    /// verification to check, not assumed.
    pub fn leaf_hash(&self, index: u64) -> Result<Hash, StorageError> {
        let size = self.size();
        if index >= size {
            return Err(StorageError::OutOfRange { index, size });
        }
        self.read_hash(0, index)
    }

    /// Fails unless `size` is at most the log's size.
    fn check_size(&self, size: u64) -> Result<(), StorageError> {
        let current = self.size();
        if size > current {
            return Err(StorageError::OutOfRange {
                index: size,
                size: current,
            });
        }
        Ok(())
    }

    /// The root (RFC 9162 §2.1.1) of the tree of the first `size` entries,
    /// for any `size` up to the current one.
    pub fn root(&self, size: u64) -> Result<Hash, StorageError> {
        self.check_size(size)?;
        merkle::root(self, size).map_err(from_merkle)
    }

    /// The inclusion proof (RFC 9162 §2.1.3.1) of entry `index` in the tree
    /// of the first `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StorageError> {
        self.check_size(size)?;
        merkle::inclusion_proof(self, index, size).map_err(from_merkle)
    }

    /// The consistency proof (RFC 9162 §2.1.4.1) between the trees of the
    /// first `old_size` and the first `new_size` entries.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, StorageError> {
        self.check_size(new_size)?;
        merkle::consistency_proof(self, old_size, new_size).map_err(from_merkle)
    }

    /// [`HashSource::subtree_hash`] with the storage error type.
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, StorageError> {
        let size = self.size();
        let end = index
            .checked_add(1)
            .and_then(|n| n.checked_mul(1u64.checked_shl(level)?));
        match end {
            Some(end) if end <= size => {}
            _ => {
                return Err(StorageError::OutOfRange {
                    index: end.unwrap_or(u64::MAX),
                    size,
                })
            }
        }
        if let Some(file) = self.level_file(level)? {
            let mut h = [0u8; 32];
            match file.read_exact_at(&mut h, index * HASH_LEN) {
                Ok(()) => return Ok(h),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
                Err(source) => {
                    return Err(StorageError::Io {
                        path: self.level_path(level),
                        source,
                    })
                }
            }
        }
        if level == 0 {
            return Err(StorageError::Corrupt {
                path: self.level_path(level),
                offset: index * HASH_LEN,
                reason: format!("no leaf hash for entry {index} of a log of size {size}"),
            });
        }
        // A reader can get here while the writer has written a leaf but not
        // yet the parents it completes, or after a crash the writer has not
        // yet recovered from: the hash is then computed from the level below.
        let left = self.subtree(level - 1, 2 * index)?;
        let right = self.subtree(level - 1, 2 * index + 1)?;
        Ok(merkle::node_hash(&left, &right))
    }
}

impl HashSource for LogStorage {
    /// Reads the record from `level-KK.hash` (one `pread`).
    fn subtree_hash(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        self.subtree(level, index).map_err(|e| match e {
            StorageError::Merkle(m) => m,
            other => MerkleError::Source(Box::new(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_file_names_sort_by_level() {
        assert_eq!(level_file_name(0), "level-00.hash");
        assert_eq!(level_file_name(7), "level-07.hash");
        assert_eq!(level_file_name(63), "level-63.hash");
    }

    #[test]
    fn proof_errors_come_back_as_storage_errors() {
        let e = from_merkle(MerkleError::Source(Box::new(StorageError::OutOfRange {
            index: 3,
            size: 2,
        })));
        assert!(matches!(e, StorageError::OutOfRange { index: 3, size: 2 }));
        let e = from_merkle(MerkleError::IndexOutOfRange { index: 5, size: 5 });
        assert!(matches!(e, StorageError::OutOfRange { index: 5, size: 5 }));
        let e = from_merkle(MerkleError::SizeOrder {
            old_size: 2,
            new_size: 1,
        });
        assert!(matches!(
            e,
            StorageError::Merkle(MerkleError::SizeOrder { .. })
        ));
    }
}
