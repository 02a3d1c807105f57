//! How fast sign-ins may be tried, in memory: an account is locked for
//! [`LOCK_MS`] after [`MAX_FAILURES`] failures within [`FAILURE_WINDOW_MS`]
//! (an admin may unlock it sooner), and one client address may try at most
//! [`MAX_ATTEMPTS_PER_SOURCE`] times a minute. A restart forgets them. The
//! site keeps its locks here; the centre keeps them in its database and
//! uses only the per-address limit.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::credentials::{FAILURE_WINDOW_MS, LOCK_MS, MAX_FAILURES};

/// Sign-in attempts one client address may make per minute.
pub const MAX_ATTEMPTS_PER_SOURCE: usize = 30;

/// Sign-in attempts remembered in memory (a restart forgets them; the log
/// keeps every failure).
#[derive(Default)]
pub struct LoginThrottle {
    inner: Mutex<ThrottleState>,
}

#[derive(Default)]
struct ThrottleState {
    /// Per account (lower-cased name): recent failure times, and the lock
    /// end with whether the lock's first refusal was logged.
    accounts: HashMap<String, AccountFailures>,
    /// Per client address: attempt times in the last minute.
    sources: HashMap<String, Vec<i64>>,
}

#[derive(Default)]
struct AccountFailures {
    failures: Vec<i64>,
    locked_until: Option<i64>,
    refusal_logged: bool,
}

/// Why a sign-in is refused before its password is checked.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The account is locked; the first refusal of each lock is logged.
    Locked {
        /// How long until the lock ends.
        retry_ms: i64,
        /// Whether this refusal is the one of the lock to log.
        log: bool,
    },
    /// The client address is trying too fast (never logged: it would let
    /// one client grow the log at will).
    TooFast,
}

impl LoginThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, ThrottleState> {
        // The state is plain counters; after a panic elsewhere it is still
        // usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts an attempt and says whether it may go ahead.
    pub fn check(&self, account: &str, source: &str, now: i64) -> Result<(), Refusal> {
        let mut state = self.lock();
        let attempts = state.sources.entry(source.to_owned()).or_default();
        attempts.retain(|t| now - t < 60_000);
        if attempts.len() >= MAX_ATTEMPTS_PER_SOURCE {
            return Err(Refusal::TooFast);
        }
        attempts.push(now);
        // Bound the memory a client cycling through addresses can use.
        if state.sources.len() > 10_000 {
            state
                .sources
                .retain(|_, v| v.iter().any(|t| now - t < 60_000));
        }
        if let Some(acct) = state.accounts.get_mut(account) {
            if let Some(until) = acct.locked_until {
                if now < until {
                    let log = !acct.refusal_logged;
                    acct.refusal_logged = true;
                    return Err(Refusal::Locked {
                        retry_ms: until - now,
                        log,
                    });
                }
                acct.locked_until = None;
                acct.failures.clear();
            }
        }
        Ok(())
    }

    /// Records a failure; true when it locked the account.
    pub fn failed(&self, account: &str, now: i64) -> bool {
        let mut state = self.lock();
        if state.accounts.len() > 10_000 {
            state.accounts.retain(|_, a| {
                a.locked_until.is_some_and(|u| u > now)
                    || a.failures.iter().any(|t| now - t < FAILURE_WINDOW_MS)
            });
        }
        let acct = state.accounts.entry(account.to_owned()).or_default();
        acct.failures.retain(|t| now - t < FAILURE_WINDOW_MS);
        acct.failures.push(now);
        if acct.failures.len() >= MAX_FAILURES {
            acct.locked_until = Some(now + LOCK_MS);
            acct.refusal_logged = false;
            return true;
        }
        false
    }

    /// Forgets the failures of `account`, which has just signed in.
    pub fn succeeded(&self, account: &str) {
        self.lock().accounts.remove(account);
    }

    /// When the lock of `account` (see [`account_key`]) ends, if it is
    /// locked at `now`.
    pub fn locked_until(&self, account: &str, now: i64) -> Option<i64> {
        self.lock()
            .accounts
            .get(account)
            .and_then(|a| a.locked_until)
            .filter(|&until| now < until)
    }

    /// Ends the lock of `account` at once and forgets its failures (an
    /// admin vouched for the person); returns when the lock would have
    /// ended, or `None` when it was not locked.
    pub fn unlock(&self, account: &str, now: i64) -> Option<i64> {
        let mut state = self.lock();
        let until = state
            .accounts
            .get(account)?
            .locked_until
            .filter(|&until| now < until)?;
        state.accounts.remove(account);
        Some(until)
    }
}

/// The key the throttle knows an account by: sign-in names are matched
/// without regard to case or surrounding spaces.
pub fn account_key(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_locks_after_repeated_failures_and_unlocks_later() {
        let t = LoginThrottle::default();
        for i in 0..MAX_FAILURES as i64 {
            assert_eq!(t.check("ann", "a", i), Ok(()));
            assert_eq!(t.failed("ann", i), i == MAX_FAILURES as i64 - 1);
        }
        // Locked: the first refusal is to be logged, later ones not.
        let at = MAX_FAILURES as i64;
        assert!(matches!(
            t.check("ann", "b", at),
            Err(Refusal::Locked { log: true, .. })
        ));
        assert!(matches!(
            t.check("ann", "c", at),
            Err(Refusal::Locked { log: false, .. })
        ));
        // Other accounts are unaffected.
        assert_eq!(t.check("bob", "d", at), Ok(()));
        // After the lock, attempts go ahead with a clean slate.
        assert_eq!(t.check("ann", "e", at + LOCK_MS), Ok(()));
        assert!(!t.failed("ann", at + LOCK_MS));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let t = LoginThrottle::default();
        for i in 0..MAX_FAILURES as i64 {
            assert!(!t.failed("ann", i * FAILURE_WINDOW_MS));
        }
    }

    #[test]
    fn one_address_may_not_try_too_fast() {
        let t = LoginThrottle::default();
        for i in 0..MAX_ATTEMPTS_PER_SOURCE {
            assert_eq!(t.check(&format!("u{i}"), "10.0.0.1", 0), Ok(()));
        }
        assert_eq!(t.check("x", "10.0.0.1", 1), Err(Refusal::TooFast));
        assert_eq!(t.check("x", "10.0.0.2", 1), Ok(()));
        assert_eq!(t.check("x", "10.0.0.1", 60_001), Ok(()));
    }
}
