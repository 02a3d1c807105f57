//! The Custos site index: one SQLite database (`<data_dir>/custos.db`).
//!
//! It records every video segment file and its custody life cycle
//! (recording → sealed → deleting → deleted, or missing), camera state
//! changes, users and API tokens, analysis events, and the custody register
//! (locations, people, items, custody events, inventories, alerts and the
//! notification outbox).
//!
//! The API is synchronous; async callers should run it on a blocking thread.
//! A [`Store`] wraps one connection. Open one per thread that needs one: the
//! database is in WAL mode with a busy timeout, so one writer and any number
//! of readers on other connections work side by side, and writers queue for
//! up to [`BUSY_TIMEOUT`]. Many threads share connections through a
//! [`pool::StorePool`]: one writer behind a mutex and several read-only
//! readers.

#![warn(missing_docs)]

mod alerts;
mod cameras;
pub mod clock;
mod cursors;
mod custody;
mod error;
mod escrow;
mod events;
mod gauges;
mod inventories;
mod log;
mod outbox;
pub mod pool;
mod register;
mod schema;
mod segments;
mod sessions;
mod users;
mod validate;
mod witnesses;
mod write;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use alerts::{Alert, AlertChange, AlertQuery, AlertState, NewAlert};
pub use cameras::{CameraState, CameraStateChange, RecordingLossRow};
pub use cursors::CameraStateRow;
pub use custody::{CustodyEvent, CustodyQuery, NewCustodyEvent};
pub use error::{ErrorKind, Result, StoreError};
pub use escrow::{EscrowBacklog, EscrowReason, EscrowUpload, SegmentEscrow, ESCROWED_ALERT_KINDS};
pub use events::{Event, EventQuery};
pub use gauges::SiteGauges;
pub use inventories::Inventory;
pub use log::{IndexedEntry, OutboxEntry, StoredCheckpoint};
pub use outbox::{AttemptOutcome, DeliveryAttempt, Notification};
pub use register::ItemQuery;
pub use segments::{
    CameraSummary, NewSegment, RecoveredSegment, SealedSegment, Segment, SegmentProgress,
    SegmentState,
};
pub use sessions::Session;
pub use users::{Role, Token, User};
pub use witnesses::{Cosignature, NewWitness, PinnedBy, Witness};
pub use write::WriteTx;

use error::Context;

/// File name of the database inside the data directory.
pub const DB_FILE_NAME: &str = "custos.db";

/// How long a statement waits for another connection's write lock before
/// failing with "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the site database.
///
/// All methods take `&self`: a `Store` is `Send` but not `Sync`, so it is
/// used from one thread at a time (put it behind a `Mutex` to share it).
/// Multi-statement writes run in one `BEGIN IMMEDIATE` transaction, which
/// takes the write lock up front so the busy timeout applies and a
/// transaction never fails half way for lack of the lock.
#[derive(Debug)]
pub struct Store {
    /// The one connection this store uses.
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database file at `path`, configures the
    /// connection and brings the schema up to date.
    ///
    /// The parent directory must exist.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .context(|| format!("opening database {}", path.display()))?;
        let store = Store::configure(conn, true)
            .map_err(|e| prefix(e, &format!("database {}", path.display())))?;
        tracing::debug!(path = %path.display(), "opened database");
        Ok(store)
    }

    /// Opens an existing database file read-only, for a reader of a
    /// [`pool::StorePool`]. It does not migrate: the writer must have brought
    /// the schema up to date first, and a version other than this build's is
    /// refused. Any write through it fails (`SQLITE_READONLY`).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .context(|| format!("opening database {} read-only", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .context(|| "setting the busy timeout".to_owned())
            .map_err(|e| prefix(e, &format!("database {}", path.display())))?;
        let version = schema::read_version(&conn)?;
        if version != schema::current_version() {
            return Err(StoreError::Schema(format!(
                "database {}: schema version {version} is not this build's ({}); open it for writing first",
                path.display(),
                schema::current_version()
            )));
        }
        Ok(Store { conn })
    }

    /// Opens a private in-memory database with the full schema (for tests).
    pub fn open_in_memory() -> Result<Store> {
        let conn =
            Connection::open_in_memory().context(|| "opening an in-memory database".to_owned())?;
        Store::configure(conn, false)
    }

    /// The schema version of the open database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32> {
        schema::read_version(&self.conn)
    }

    /// Sets the connection pragmas and runs the migrations.
    fn configure(mut conn: Connection, wal: bool) -> Result<Store> {
        // First, so that switching to WAL and migrating wait for other
        // connections instead of failing at once.
        conn.busy_timeout(BUSY_TIMEOUT)
            .context(|| "setting the busy timeout".to_owned())?;
        if wal {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .context(|| "switching to WAL mode".to_owned())?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Schema(format!(
                    "could not switch to WAL mode (journal mode is {mode:?})"
                )));
            }
        }
        // FULL: a committed seal or deletion mark survives power loss, which
        // the custody record depends on.
        conn.pragma_update(None, "synchronous", "FULL")
            .context(|| "setting synchronous=FULL".to_owned())?;
        conn.pragma_update(None, "foreign_keys", true)
            .context(|| "enabling foreign keys".to_owned())?;
        schema::migrate(&mut conn)?;
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        Ok(Store { conn })
    }

    /// Runs `f` in one read transaction, so that every query it makes sees
    /// the database as of one moment, whatever other connections commit
    /// meanwhile (WAL readers keep their snapshot until the transaction
    /// ends). `f` must only read; the transaction is rolled back.
    pub fn read_snapshot<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        // DEFERRED, not the connection's IMMEDIATE default: a reader must not
        // take the write lock.
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .context(|| "starting a read transaction".to_owned())?;
        // The snapshot is taken at the first read; take it now so that it is
        // the moment of this call even if `f` starts with other work.
        let started = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                r.get::<_, i64>(0)
            })
            .context(|| "starting a read snapshot".to_owned());
        let result = started.and_then(|_| f(self));
        let ended = self
            .conn
            .execute_batch("ROLLBACK")
            .context(|| "ending a read transaction".to_owned());
        let value = result?;
        ended?;
        Ok(value)
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`, see [`Store`]); it
    /// rolls back when dropped without `commit`.
    fn write_tx(&self, what: &str) -> Result<Transaction<'_>> {
        // Not nested: no method calls another while holding a transaction,
        // and `Store` is not `Sync`, so the unchecked variant is safe.
        self.conn
            .unchecked_transaction()
            .context(|| format!("starting a transaction for {what}"))
    }
}

/// Puts `what` in front of an internal error's message so it names the file.
fn prefix(err: StoreError, what: &str) -> StoreError {
    match err {
        StoreError::Database { context, source } => StoreError::Database {
            context: format!("{what}: {context}"),
            source,
        },
        StoreError::Schema(message) => StoreError::Schema(format!("{what}: {message}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_store_has_current_schema() -> Result<()> {
        let store = Store::open_in_memory()?;
        assert_eq!(store.schema_version()?, schema::current_version());
        assert!(schema::current_version() >= 1);
        Ok(())
    }

    #[test]
    fn newer_schema_is_refused() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(DB_FILE_NAME);
        drop(Store::open(&path)?);
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "user_version", schema::current_version() + 1)?;
        drop(conn);
        let err = Store::open(&path)
            .err()
            .ok_or("newer schema was accepted")?;
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(err.to_string().contains("newer than this build"), "{err}");
        Ok(())
    }

    #[test]
    fn file_store_sets_pragmas_and_tables() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&dir.path().join(DB_FILE_NAME))?;
        let pragma = |name: &str| -> rusqlite::Result<String> {
            store.conn.query_row(
                &format!("SELECT CAST({name} AS TEXT) FROM pragma_{name}"),
                [],
                |r| r.get(0),
            )
        };
        assert_eq!(pragma("journal_mode")?, "wal");
        assert_eq!(pragma("synchronous")?, "2"); // FULL
        assert_eq!(pragma("foreign_keys")?, "1");
        let timeout: i64 = store
            .conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))?;
        assert_eq!(timeout, 5000);
        let tables: Vec<String> = store
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(
            tables,
            [
                "alert_changes",
                "alerts",
                "camera_states",
                "checkpoints",
                "cosignatures",
                "custody_events",
                "escrow_uploads",
                "events",
                "inventories",
                "inventory_scans",
                "items",
                "locations",
                "log_entries",
                "log_outbox",
                "log_state",
                "notification_attempts",
                "notifications",
                "people",
                "recording_losses",
                "rule_cursors",
                "segment_escrow",
                "segments",
                "sessions",
                "tokens",
                "user_rooms",
                "users",
                "witnesses"
            ]
        );
        Ok(())
    }

    #[test]
    fn read_snapshot_does_not_see_commits_made_during_it(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(DB_FILE_NAME);
        let reader = Store::open(&path)?;
        let writer = Store::open(&path)?;
        writer.enqueue_log(vec![b"before".to_vec()])?;
        let (during, after_write) = reader.read_snapshot(|s| {
            let during = s.outbox(10)?.len();
            // Another connection commits while the snapshot is open: it must
            // not wait for the reader, and the reader must not see it.
            writer.enqueue_log(vec![b"during".to_vec()])?;
            Ok((during, s.outbox(10)?.len()))
        })?;
        assert_eq!((during, after_write), (1, 1));
        assert_eq!(reader.outbox(10)?.len(), 2, "a new read sees the commit");
        Ok(())
    }

    #[test]
    fn writer_waits_for_other_connections_lock(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(DB_FILE_NAME);
        let holder = Store::open(&path)?;
        let waiter = Store::open(&path)?;
        holder.conn.execute_batch("BEGIN IMMEDIATE")?;
        let release = std::thread::spawn(move || -> rusqlite::Result<()> {
            std::thread::sleep(Duration::from_millis(300));
            holder.conn.execute_batch("COMMIT")
        });
        let started = std::time::Instant::now();
        // Would fail at once with "database is locked" without the timeout.
        waiter.record_camera_state("stacks", 1, CameraState::Offline, None)?;
        assert!(started.elapsed() >= Duration::from_millis(200));
        release.join().map_err(|_| "releasing thread panicked")??;
        Ok(())
    }
}
