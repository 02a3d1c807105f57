//! The `sessions` table: browser sign-ins.
//!
//! Like tokens, a session is found by the SHA-256 of its secret (the cookie
//! value); the store never sees the secret itself.

use rusqlite::{params, OptionalExtension, Row};

use crate::error::{Context, Result, StoreError};
use crate::users::user_from_row;
use crate::WriteTx;
use crate::{validate, Store, User};

/// A sign-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Public id.
    pub id: String,
    /// Who signed in.
    pub user_id: i64,
    /// When.
    pub created_ms: i64,
    /// Absolute end.
    pub expires_ms: i64,
    /// Last use (updated at most about once a minute).
    pub last_seen_ms: i64,
    /// When it was ended, if it was.
    pub ended_ms: Option<i64>,
    /// Client address at sign-in.
    pub source: String,
}

const SESSION_COLUMNS: &str =
    "s.id, s.user_id, s.created_ms, s.expires_ms, s.last_seen_ms, s.ended_ms, s.source";

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        user_id: row.get(1)?,
        created_ms: row.get(2)?,
        expires_ms: row.get(3)?,
        last_seen_ms: row.get(4)?,
        ended_ms: row.get(5)?,
        source: row.get(6)?,
    })
}

impl Store {
    /// The live session whose secret hashes to `secret_sha256`, and its
    /// user: `None` if there is none, or it ended, expired (`expires_ms`),
    /// sat idle since before `idle_since_ms`, or its user is disabled.
    pub fn session_for_hash(
        &self,
        secret_sha256: &str,
        now_ms: i64,
        idle_since_ms: i64,
    ) -> Result<Option<(Session, User)>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS}, \
                        u.id, u.name, u.role, u.password_hash, u.created_ms, u.disabled \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.secret_sha256 = ?1 AND s.ended_ms IS NULL AND s.expires_ms > ?2 \
                   AND s.last_seen_ms >= ?3 AND u.disabled = 0"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![secret_sha256, now_ms, idle_since_ms], |row| {
                    Ok((session_from_row(row)?, user_from_row(row, 7)?))
                })
                .optional()
            })
            .context(|| "looking up a session".to_owned())
    }

    /// Records that session `id` was used at `now_ms` (never backwards).
    pub fn touch_session(&self, id: &str, now_ms: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE sessions SET last_seen_ms = MAX(last_seen_ms, ?2) WHERE id = ?1",
                params![id, now_ms],
            )
            .context(|| format!("recording the use of session {id:?}"))?;
        Ok(())
    }
}

impl WriteTx<'_> {
    /// Starts a session for `user_id` until `expires_ms`. Staged log
    /// entries (the sign-in) commit with it.
    pub fn create_session(
        &mut self,
        id: &str,
        user_id: i64,
        secret_sha256: &str,
        now_ms: i64,
        expires_ms: i64,
        source: &str,
    ) -> Result<Session> {
        validate::sha256_hex("session secret hash", secret_sha256)?;
        let res = self.write_in_tx(|tx| {
            tx.execute(
                "INSERT INTO sessions \
                 (id, user_id, secret_sha256, created_ms, expires_ms, last_seen_ms, source) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6)",
                params![id, user_id, secret_sha256, now_ms, expires_ms, source],
            )
        });
        match res {
            Ok(_) => Ok(Session {
                id: id.to_owned(),
                user_id,
                created_ms: now_ms,
                expires_ms,
                last_seen_ms: now_ms,
                ended_ms: None,
                source: source.to_owned(),
            }),
            Err(e) if crate::error::is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists(format!("session {id:?}")))
            }
            Err(e) => Err(e).context(|| format!("creating session {id:?}")),
        }
    }

    /// Ends every live session of user `user_id` (their password changed:
    /// whoever signed in with the old one is out). Returns how many.
    pub fn end_user_sessions(&mut self, user_id: i64, now_ms: i64) -> Result<usize> {
        self.write_in_tx(|tx| {
            tx.execute(
                "UPDATE sessions SET ended_ms = ?2 WHERE user_id = ?1 AND ended_ms IS NULL",
                params![user_id, now_ms],
            )
        })
        .context(|| format!("ending the sessions of user {user_id}"))
    }

    /// Ends session `id` (signing out). Staged log entries commit with it.
    /// [`NotFound`](crate::ErrorKind::NotFound) if there is no such live
    /// session.
    pub fn end_session(&mut self, id: &str, now_ms: i64) -> Result<()> {
        let res = self.write_in_tx(|tx| {
            let n = tx.execute(
                "UPDATE sessions SET ended_ms = ?2 WHERE id = ?1 AND ended_ms IS NULL",
                params![id, now_ms],
            )?;
            if n == 0 {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            Ok(())
        });
        match res {
            Err(rusqlite::Error::QueryReturnedNoRows) => {
                Err(StoreError::NotFound(format!("live session {id:?}")))
            }
            other => other.context(|| format!("ending session {id:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{ErrorKind, Role, Store};

    #[test]
    fn sessions_expire_idle_end_and_die_with_their_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("custos.db")).expect("open");
        let u = s
            .create_user("ann", Role::Auditor, "$argon2id$x", 0)
            .expect("user");
        let h = "ab".repeat(32);
        s.create_session("s1", u.id, &h, 1000, 10_000, "127.0.0.1")
            .expect("session");
        assert_eq!(
            s.create_session("s1", u.id, &"cd".repeat(32), 1000, 10_000, "x")
                .expect_err("dup")
                .kind(),
            ErrorKind::AlreadyExists
        );
        let live = |now, idle| s.session_for_hash(&h, now, idle).expect("q");
        let (sess, user) = live(2000, 0).expect("live");
        assert_eq!((sess.id.as_str(), user.name.as_str()), ("s1", "ann"));
        // Expired at its absolute end.
        assert!(live(10_000, 0).is_none());
        // Idle: last seen 1000, idle limit says it must be seen since 1500.
        assert!(live(2000, 1500).is_none());
        s.touch_session("s1", 1600).expect("touch");
        s.touch_session("s1", 1200).expect("never backwards");
        assert!(live(2000, 1500).is_some());
        // A disabled user's session stops working.
        s.set_user_disabled(u.id, true).expect("disable");
        assert!(live(2000, 0).is_none());
        s.set_user_disabled(u.id, false).expect("enable");
        let h2 = "ef".repeat(32);
        s.create_session("s2", u.id, &h2, 1000, 10_000, "127.0.0.1")
            .expect("second session");
        assert_eq!(s.end_user_sessions(u.id, 2500).expect("end all"), 2);
        assert!(live(2600, 0).is_none());
        assert!(s.session_for_hash(&h2, 2600, 0).expect("q").is_none());
        assert_eq!(s.end_user_sessions(u.id, 2700).expect("none left"), 0);
        s.create_session("s3", u.id, &"12".repeat(32), 2800, 10_000, "x")
            .expect("a new sign-in works");
        s.end_session("s3", 3000).expect("end");
        assert!(s
            .session_for_hash(&"12".repeat(32), 3001, 0)
            .expect("q")
            .is_none());
        assert_eq!(
            s.end_session("s3", 3002).expect_err("ended").kind(),
            ErrorKind::NotFound
        );
    }
}
