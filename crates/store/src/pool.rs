//! Connections to one site database shared by many threads.
//!
//! SQLite allows one writer at a time; under WAL any number of readers run
//! beside it, each on its own connection. A [`StorePool`] holds one writer
//! connection behind a mutex (writes queue for it) and several read-only
//! connections, so a long write (a register import) or a long read (a
//! report) does not hold up the others.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::{Result, Store};

/// One writer connection and several read-only reader connections on the
/// same database file (see the [module](self) documentation).
#[derive(Debug)]
pub struct StorePool {
    /// The only connection that writes.
    writer: Mutex<Store>,
    /// Read-only connections; empty when the database is in memory, where
    /// the writer also serves reads.
    readers: Vec<Mutex<Store>>,
    /// Where the next reader search starts, so load spreads over readers.
    next_reader: AtomicUsize,
}

impl StorePool {
    /// Opens the database at `path` for writing (creating and migrating it
    /// as [`Store::open`] does), then `readers` read-only connections.
    ///
    /// The readers are opened after the writer has migrated the schema,
    /// since a read-only connection cannot.
    pub fn open(path: &Path, readers: usize) -> Result<StorePool> {
        StorePool::with_writer(Store::open(path)?, path, readers)
    }

    /// A pool around `writer`, an open (hence migrated) connection to the
    /// database at `path`, with `readers` read-only connections to it.
    pub fn with_writer(writer: Store, path: &Path, readers: usize) -> Result<StorePool> {
        let readers = (0..readers)
            .map(|_| Store::open_read_only(path).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(StorePool {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// A pool of one connection that both reads and writes: for an
    /// in-memory store (tests), which other connections cannot open.
    pub fn single(store: Store) -> StorePool {
        StorePool {
            writer: Mutex::new(store),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        }
    }

    /// Runs `f` on a reader connection, waiting only for other reads when
    /// every reader is busy. Writes through it fail: the connection is
    /// read-only.
    pub fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        if self.readers.is_empty() {
            return f(&self.lock_writer());
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            match self.readers[(start + i) % n].try_lock() {
                Ok(guard) => return f(&guard),
                // See `lock_writer` on why a poisoned connection is reused.
                Err(TryLockError::Poisoned(e)) => return f(&e.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let guard = self.readers[start % n]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    /// Runs `f` on the writer connection, after the writes before it.
    pub fn write<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.lock_writer())
    }

    /// Runs `f` on the writer connection if no one else holds it; `None`
    /// (and `f` not run) if it is busy. For bookkeeping that may lag, such
    /// as recording when a credential was last used.
    pub fn try_write<T>(&self, f: impl FnOnce(&Store) -> T) -> Option<T> {
        match self.writer.try_lock() {
            Ok(guard) => Some(f(&guard)),
            Err(TryLockError::Poisoned(e)) => Some(f(&e.into_inner())),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// The writer connection, held until the guard is dropped (for work
    /// that runs many statements, and for tests).
    pub fn lock_writer(&self) -> MutexGuard<'_, Store> {
        // A poisoned lock means a panic while another thread held it. Any
        // transaction it had open rolled back when dropped, so the
        // connection is still consistent and refusing all later work would
        // help no one.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many read-only connections the pool has (0: the writer reads).
    pub fn reader_count(&self) -> usize {
        self.readers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CameraState, ErrorKind, DB_FILE_NAME};
    use std::sync::{mpsc, Arc};
    use std::time::{Duration, Instant};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn read_runs_while_a_write_is_held() -> TestResult {
        let dir = tempfile::tempdir()?;
        let pool = Arc::new(StorePool::open(&dir.path().join(DB_FILE_NAME), 2)?);
        pool.write(|s| s.enqueue_log(vec![b"before".to_vec()]))?;
        let (locked_tx, locked_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let holder = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                pool.write(|s| -> rusqlite::Result<()> {
                    // Hold the writer and SQLite's write lock, as a long
                    // import does.
                    s.conn.execute_batch("BEGIN IMMEDIATE")?;
                    s.conn.execute(
                        "INSERT INTO log_outbox (leaf, created_ms) VALUES (x'00', 0)",
                        [],
                    )?;
                    let _ = locked_tx.send(());
                    let _ = release_rx.recv_timeout(Duration::from_secs(30));
                    s.conn.execute_batch("ROLLBACK")
                })
            })
        };
        locked_rx.recv_timeout(Duration::from_secs(10))?;
        let started = Instant::now();
        let seen = pool.read(|s| s.outbox(10))?.len();
        let took = started.elapsed();
        assert!(pool.try_write(|_| ()).is_none(), "the writer is busy");
        release_tx.send(())?;
        holder.join().map_err(|_| "holder panicked")??;
        assert_eq!(seen, 1, "the reader sees the last commit only");
        assert!(took < Duration::from_secs(1), "the read waited {took:?}");
        assert!(pool.try_write(|_| ()).is_some(), "the writer is free");
        Ok(())
    }

    #[test]
    fn write_on_a_reader_fails() -> TestResult {
        let dir = tempfile::tempdir()?;
        let pool = StorePool::open(&dir.path().join(DB_FILE_NAME), 1)?;
        assert_eq!(pool.reader_count(), 1);
        let err = pool
            .read(|s| s.record_camera_state("stacks", 1, CameraState::Offline, None))
            .err()
            .ok_or("a reader wrote")?;
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(err.to_string().contains("readonly"), "{err}");
        pool.write(|s| s.record_camera_state("stacks", 1, CameraState::Offline, None))?;
        Ok(())
    }

    #[test]
    fn reader_needs_a_migrated_database() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(DB_FILE_NAME);
        drop(rusqlite::Connection::open(&path)?);
        let err = Store::open_read_only(&path)
            .err()
            .ok_or("an unmigrated database was opened")?;
        assert!(err.to_string().contains("schema version 0"), "{err}");
        Ok(())
    }

    #[test]
    fn in_memory_pool_reads_and_writes_on_one_connection() -> TestResult {
        let pool = StorePool::single(Store::open_in_memory()?);
        assert_eq!(pool.reader_count(), 0);
        pool.write(|s| s.enqueue_log(vec![b"x".to_vec()]))?;
        assert_eq!(pool.read(|s| s.outbox(10))?.len(), 1);
        Ok(())
    }
}
