//! The error type of the store and its coarse classification.

use rusqlite::ffi;

/// Coarse class of a [`StoreError`], so callers (the HTTP layer above all)
/// can choose a response without matching every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The named row does not exist (HTTP 404).
    NotFound,
    /// A row with the same unique key already exists (HTTP 409).
    AlreadyExists,
    /// The caller passed a value the store will not accept (HTTP 400).
    InvalidArgument,
    /// The row exists but is in a state that forbids the change (HTTP 409).
    Conflict,
    /// The database failed or holds something unexpected (HTTP 500).
    Internal,
}

/// Everything that can go wrong in the store.
///
/// Messages name the thing concerned, e.g. `user "alice" already exists`, so
/// they can be shown to an operator as they are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named row does not exist; the string names it (`segment 42`).
    #[error("{0} not found")]
    NotFound(String),
    /// A row with the same unique key exists; the string names it
    /// (`user "alice"`).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// An argument was rejected before touching the database.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The row's current state forbids the requested change.
    #[error("{0}")]
    Conflict(String),
    /// SQLite reported an error; `context` says what the store was doing.
    ///
    /// The SQLite message is part of the display text (so one-line logs are
    /// complete) and is also reachable as the error's source.
    #[error("{context}: {source}")]
    Database {
        /// What the store was doing, e.g. `sealing segment 42`.
        context: String,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database file is not usable by this build (e.g. its schema
    /// version is newer than the migrations this build knows).
    #[error("{0}")]
    Schema(String),
}

impl StoreError {
    /// The coarse class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::AlreadyExists(_) => ErrorKind::AlreadyExists,
            StoreError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::Database { .. } | StoreError::Schema(_) => ErrorKind::Internal,
        }
    }
}

/// Result alias used throughout the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Adds a description of the operation to a `rusqlite` result.
pub(crate) trait Context<T> {
    /// Wraps an error as [`StoreError::Database`] with a lazily built context.
    fn context<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, rusqlite::Error> {
    fn context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|source| StoreError::Database {
            context: f(),
            source,
        })
    }
}

/// True when `err` is SQLite refusing a row because of a UNIQUE or PRIMARY
/// KEY constraint.
pub(crate) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Rejects with [`StoreError::InvalidArgument`] unless `ok`.
pub(crate) fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidArgument(message()))
    }
}
