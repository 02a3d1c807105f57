//! Writing: the one transaction type, and how log entries commit with the
//! rows they are about.
//!
//! [`Store::write`] runs a closure in one `BEGIN IMMEDIATE` transaction and
//! hands it a [`WriteTx`]: the write methods of every table, and
//! [`WriteTx::log`] to stage log entries. The staged entries live in the
//! `WriteTx` itself and go into `log_outbox` just before the commit, so a
//! fact can never commit without its entries, nor the entries without it:
//! if the closure fails, both are rolled back.

use rusqlite::{params, Connection, Savepoint, Transaction};

use crate::error::{Context, Result, StoreError};
use crate::{
    CameraState, NewSegment, RecordingLossRow, RecoveredSegment, Role, SealedSegment, Segment,
    SegmentProgress, Session, Store, Token, User,
};

/// A write transaction, opened by [`Store::write`]. Log entries added with
/// [`WriteTx::log`] commit in the same transaction as the rows, or not at
/// all.
pub struct WriteTx<'a> {
    pub(crate) tx: Transaction<'a>,
    leaves: Vec<Vec<u8>>,
}

impl WriteTx<'_> {
    /// Stages a log entry (canonical leaf bytes) to commit with this write.
    pub fn log(&mut self, leaf: Vec<u8>) {
        self.leaves.push(leaf);
    }

    /// Stages several log entries, in order.
    pub fn log_all(&mut self, leaves: impl IntoIterator<Item = Vec<u8>>) {
        self.leaves.extend(leaves);
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.tx
    }

    /// Runs the statements of one write method in a savepoint: a method that
    /// fails leaves none of its rows behind, even if the caller handles the
    /// error and goes on with the transaction.
    pub(crate) fn write_in_tx<T>(
        &mut self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let sp = self.tx.savepoint()?;
        let value = f(&sp)?;
        sp.commit()?;
        Ok(value)
    }

    /// A savepoint for a write method that checks as it goes (see
    /// [`WriteTx::write_in_tx`]); dropped without `commit`, it undoes what
    /// the method wrote.
    pub(crate) fn savepoint(&mut self, what: &str) -> Result<Savepoint<'_>> {
        self.tx
            .savepoint()
            .context(|| format!("starting a savepoint for {what}"))
    }
}

impl Store {
    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`, see [`Store`])
    /// and commits it with the log entries `f` staged. If `f` fails, nothing
    /// is written and its error comes back as it was (a domain error stays
    /// the caller's type). `what` names the operation in errors.
    ///
    /// Not nested: `f` must not call [`Store::write`] or the one-transaction
    /// write methods again (SQLite refuses a transaction inside another, so
    /// such a call fails rather than committing part of the work).
    pub fn write<T, E>(
        &self,
        what: &str,
        f: impl FnOnce(&mut WriteTx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self.write_tx(what)?;
        let mut w = WriteTx {
            tx,
            leaves: Vec::new(),
        };
        let value = f(&mut w)?;
        let WriteTx { tx, leaves } = w;
        if !leaves.is_empty() {
            let now = crate::clock::now_ms();
            let mut stmt = tx
                .prepare_cached("INSERT INTO log_outbox (leaf, created_ms) VALUES (?1, ?2)")
                .context(|| format!("queueing the log entries of {what}"))?;
            for leaf in &leaves {
                stmt.execute(params![leaf, now])
                    .context(|| format!("queueing the log entries of {what}"))?;
            }
        }
        tx.commit().context(|| format!("committing {what}"))?;
        Ok(value)
    }

    /// Adds entries to the outbox on their own (for facts that live outside
    /// this database, such as a configuration file being loaded).
    pub fn enqueue_log(&self, leaves: Vec<Vec<u8>>) -> Result<()> {
        if leaves.is_empty() {
            return Ok(());
        }
        self.write("queueing log entries", |tx| {
            tx.log_all(leaves);
            Ok(())
        })
    }
}

/// Store methods that run one [`WriteTx`] method in a transaction of its
/// own, for writes that log nothing with them (progress, sessions) and for
/// tests. A write with log entries goes through [`Store::write`].
macro_rules! alone {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty, $what:literal;)*) => {
        impl Store {
            $(
                #[doc = concat!("[`WriteTx::", stringify!($name), "`] in a transaction of its own.")]
                pub fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
                    self.write($what, |tx| tx.$name($($arg),*))
                }
            )*
        }
    };
}

alone! {
    insert_recording_segment(new: &NewSegment) -> i64, "adding a recording segment";
    discard_empty_recording_segment(id: i64) -> (), "discarding an empty segment";
    apply_progress(progress: &[SegmentProgress]) -> (), "segment progress";
    seal_segments(sealed: &[SealedSegment]) -> (), "sealing segments";
    insert_sealed_segment(seg: &RecoveredSegment) -> i64, "adopting a recovered segment";
    insert_sealed_segments(segs: &[RecoveredSegment]) -> Vec<i64>, "adopting recovered segments";
    mark_missing(id: i64) -> (), "marking a segment missing";
    begin_delete(ids: &[i64], reason: &str, now_ms: i64) -> Vec<Segment>, "beginning deletion";
    finish_delete(ids: &[i64], now_ms: i64) -> (), "finishing deletion";
    set_hold(id: i64, hold: bool) -> Segment, "setting a hold";
    record_loss(loss: &RecordingLossRow) -> i64, "recording a loss of pictures";
    record_camera_state(
        camera: &str, at_ms: i64, state: CameraState, detail: Option<&str>
    ) -> i64, "recording a camera state";
    insert_event(camera: &str, kind: &str, start_ms: i64, zones: &[String], score: f64)
        -> i64, "recording an event";
    end_event(id: i64, end_ms: i64, zones: &[String], score: f64) -> (), "ending an event";
    set_event_snapshot(id: i64, path: &str, sha256: &str) -> (), "setting an event snapshot";
    create_session(
        id: &str, user_id: i64, secret_sha256: &str, now_ms: i64, expires_ms: i64, source: &str
    ) -> Session, "starting a session";
    end_user_sessions(user_id: i64, now_ms: i64) -> usize, "ending a user's sessions";
    end_session(id: &str, now_ms: i64) -> (), "ending a session";
    create_user(name: &str, role: Role, password_hash: &str, now_ms: i64)
        -> User, "creating a user";
    set_password_hash(user_id: i64, password_hash: &str) -> (), "setting a password";
    set_user_disabled(user_id: i64, disabled: bool) -> (), "disabling a user";
    set_user_rooms(user_id: i64, rooms: &[String]) -> (), "setting a user's rooms";
    set_user_role(user_id: i64, role: Role) -> (), "setting a user's role";
    create_token(id: &str, user_id: i64, label: Option<&str>, secret_sha256: &str, now_ms: i64)
        -> Token, "creating a token";
    revoke_token(id: &str, now_ms: i64) -> Token, "revoking a token";
}
