//! The central office: many sites report to it, and it witnesses every
//! site's log so that nobody on a site can rewrite history unnoticed.
//!
//! Everything the centre knows lives in PostgreSQL ([`db`]); a process holds
//! only its connection pool and the witness key, so several `custos central
//! serve` processes behind one load balancer never disagree. A site enrols
//! once with a one-time code ([`sites`]), pinning its log key here and the
//! centre's witness key there; from then on every checkpoint it signs is
//! sent to the witness endpoint ([`witness`], C2SP `tlog-witness`), which
//! co-signs only what extends what it co-signed before. A signed checkpoint
//! that does not is kept as evidence, raises `site.log_rewritten`
//! ([`alerts`]) and suspends co-signing until an auditor acts; every act of
//! an administrator or auditor goes into the centre's audit trail. Sites
//! also report their state, signed with the same key ([`reports`]); a site
//! that falls silent or whose clock is wrong raises an alert. People use
//! the centre through its web app ([`web`]), signed in as central users
//! ([`users`]) whose role and region bound what they see and change.

pub mod alerts;
pub mod config;
pub mod db;
pub mod http;
pub mod mirror;
pub mod notify;
pub mod register;
pub mod reports;
pub mod sites;
pub mod users;
pub mod web;
pub mod witness;

use std::time::{SystemTime, UNIX_EPOCH};

/// Why a central operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    /// The database refused or could not be reached.
    #[error("database: {context}: {}", db_message(source))]
    Database {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// No connection could be taken from the pool.
    #[error("database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A request or command is wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// The named site does not exist.
    #[error("no site named {0:?}")]
    NoSuchSite(String),
    /// An enrolment code is unknown, used or expired.
    #[error("the enrolment code is unknown, already used or expired; ask the central office for a new one")]
    BadEnrolCode,
    /// Another site already enrolled with this log key name.
    #[error("another site ({other:?}) is already enrolled with the log origin {origin:?}")]
    OriginTaken {
        /// The log origin (the site key's name).
        origin: String,
        /// The site holding it.
        other: String,
    },
}

impl CentralError {
    /// Wraps a driver error with what was being done.
    pub(crate) fn db(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> CentralError {
        move |source| CentralError::Database { context, source }
    }
}

/// The driver's error with the server's own message, which its `Display`
/// leaves out ("db error").
fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{e}: {} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
