//! Signing in: the session and its log entries, and how fast sign-ins may
//! be tried (the throttle shared with the centre: an account is locked for
//! [`LOCK_MS`] after [`MAX_FAILURES`] failures within [`FAILURE_WINDOW_MS`],
//! and one client address may try at most [`MAX_ATTEMPTS_PER_SOURCE`]
//! times a minute; kept in memory, while the log keeps every failure).

use custos_ledger::catalogue::{leaf, AuthLogin, AuthLoginFailed, AuthLogout};
use custos_store::{Store, User};

use crate::NotLogged;

// The rules are the centre's too.
pub use custos_webapp::credentials::{FAILURE_WINDOW_MS, LOCK_MS, MAX_FAILURES};
pub use custos_webapp::throttle::{account_key, LoginThrottle, Refusal, MAX_ATTEMPTS_PER_SOURCE};

/// Starts session `id` of `user`, signed in from `source`: the session and
/// its `auth.login` entry in one transaction.
pub fn start_session(
    store: &Store,
    user: &User,
    source: &str,
    id: &str,
    secret_digest: &str,
    now_ms: i64,
    expires_ms: i64,
) -> Result<(), NotLogged> {
    let entry = leaf(
        now_ms,
        &AuthLogin {
            user: &user.name,
            source,
            session: id,
        },
    )?;
    store.write("starting a session", |tx| {
        tx.log(entry);
        tx.create_session(id, user.id, secret_digest, now_ms, expires_ms, source)
    })?;
    tracing::info!(target: "custos::audit", user = %user.name, %source, session = %id, "signed in");
    Ok(())
}

/// Logs a failed sign-in as `name` from `source`, and why.
pub fn log_failure(
    store: &Store,
    name: &str,
    source: &str,
    reason: &str,
    now_ms: i64,
) -> Result<(), NotLogged> {
    tracing::info!(target: "custos::audit", user = %name, %source, reason, "failed sign-in");
    let entry = leaf(
        now_ms,
        &AuthLoginFailed {
            user: name,
            source,
            reason,
        },
    )?;
    store.enqueue_log(vec![entry])?;
    Ok(())
}

/// Ends session `id` of user `name` (signed out): the end and its
/// `auth.logout` entry in one transaction.
pub fn end_session(store: &Store, name: &str, id: &str, now_ms: i64) -> Result<(), NotLogged> {
    let entry = leaf(
        now_ms,
        &AuthLogout {
            user: name,
            session: id,
        },
    )?;
    store.write("ending the session", |tx| {
        tx.log(entry);
        tx.end_session(id, now_ms)
    })?;
    tracing::info!(target: "custos::audit", user = %name, session = %id, "signed out");
    Ok(())
}
