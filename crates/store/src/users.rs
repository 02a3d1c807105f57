//! The `users` and `tokens` tables: who may use the system, and their API
//! bearer tokens.
//!
//! The store never sees a password or a token secret: the caller stores a
//! PHC password hash and the SHA-256 of each token secret.

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, OptionalExtension, Row, ToSql};
use serde::Serialize;

use crate::error::{ensure, is_unique_violation, Context, Result, StoreError};
use crate::WriteTx;
use crate::{validate, Store};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages users, cameras and settings.
    Admin,
    /// Reads the custody log and verifies footage.
    Auditor,
    /// Places holds and exports footage.
    Archivist,
    /// Watches live video and answers alerts (no recorded footage).
    Viewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Auditor, Role::Archivist, Role::Viewer];

    /// The name stored in the database and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Archivist => "archivist",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;

    /// Parses a role name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "unknown role {s:?} (expected one of admin, auditor, archivist, viewer)"
                ))
            })
    }
}

impl ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Role {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Login name (unique ignoring ASCII case).
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// PHC string of the password hash; never serialized.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// When the user was created.
    pub created_ms: i64,
    /// A disabled user cannot log in and their tokens do not work.
    pub disabled: bool,
}

/// An API bearer token (without its secret hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token {
    /// Short public id.
    pub id: String,
    /// The user the token acts as.
    pub user_id: i64,
    /// What the token is for.
    pub label: Option<String>,
    /// When it was created.
    pub created_ms: i64,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<i64>,
    /// When it last authenticated a request.
    pub last_used_ms: Option<i64>,
}

/// `users` columns in the order [`user_from_row`] reads them.
const USER_COLUMNS: &str = "id, name, role, password_hash, created_ms, disabled";

/// `tokens` columns in the order [`token_from_row`] reads them.
const TOKEN_COLUMNS: &str = "id, user_id, label, created_ms, revoked_ms, last_used_ms";

/// Builds a [`User`] from [`USER_COLUMNS`] starting at column `at`.
pub(crate) fn user_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(at)?,
        name: row.get(at + 1)?,
        role: row.get(at + 2)?,
        password_hash: row.get(at + 3)?,
        created_ms: row.get(at + 4)?,
        disabled: row.get(at + 5)?,
    })
}

/// Builds a [`Token`] from [`TOKEN_COLUMNS`] starting at column `at`.
fn token_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<Token> {
    Ok(Token {
        id: row.get(at)?,
        user_id: row.get(at + 1)?,
        label: row.get(at + 2)?,
        created_ms: row.get(at + 3)?,
        revoked_ms: row.get(at + 4)?,
        last_used_ms: row.get(at + 5)?,
    })
}

/// A PHC string starts with `$` and an algorithm id (`$argon2id$...`).
fn check_password_hash(hash: &str) -> Result<()> {
    ensure(hash.starts_with('$') && hash.len() > 1, || {
        "password hash must be a PHC string (starting with '$')".to_owned()
    })
}

/// A token id: 1 to 64 ASCII letters, digits, `-` or `_`.
fn check_token_id(id: &str) -> Result<()> {
    ensure(
        !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        || format!("token id {id:?} must be 1 to 64 ASCII letters, digits, '-' or '_'"),
    )
}

impl Store {
    /// The user called `name` (ignoring ASCII case), or `None`.
    pub fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        self.conn
            .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"))
            .and_then(|mut stmt| {
                stmt.query_row([name], |row| user_from_row(row, 0))
                    .optional()
            })
            .context(|| format!("looking up user {name:?}"))
    }

    /// The user with id `user_id`, or `None`.
    pub fn user_by_id(&self, user_id: i64) -> Result<Option<User>> {
        self.conn
            .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
            .and_then(|mut stmt| {
                stmt.query_row([user_id], |row| user_from_row(row, 0))
                    .optional()
            })
            .context(|| format!("looking up user {user_id}"))
    }

    /// All users, by name.
    pub fn list_users(&self) -> Result<Vec<User>> {
        let what = || "listing users".to_owned();
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY name, id"
            ))
            .context(what)?;
        let rows = stmt
            .query_map([], |row| user_from_row(row, 0))
            .context(what)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().context(what)
    }

    /// The locations whose footage user `user_id` may see, by code (only
    /// archivists are limited this way).
    pub fn user_rooms(&self, user_id: i64) -> Result<Vec<String>> {
        let what = || format!("listing the rooms of user {user_id}");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT location FROM user_rooms WHERE user_id = ?1 ORDER BY location")
            .context(what)?;
        let rows = stmt
            .query_map([user_id], |row| row.get::<_, String>(0))
            .context(what)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().context(what)
    }

    /// The token whose secret hashes to `secret_sha256` and its user, or
    /// `None` if there is none, it is revoked or the user is disabled.
    pub fn user_for_token_hash(&self, secret_sha256: &str) -> Result<Option<(Token, User)>> {
        self.conn
            .prepare_cached(
                "SELECT t.id, t.user_id, t.label, t.created_ms, t.revoked_ms, t.last_used_ms, \
                        u.id, u.name, u.role, u.password_hash, u.created_ms, u.disabled \
                 FROM tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.secret_sha256 = ?1 AND t.revoked_ms IS NULL AND u.disabled = 0",
            )
            .and_then(|mut stmt| {
                stmt.query_row([secret_sha256], |row| {
                    Ok((token_from_row(row, 0)?, user_from_row(row, 6)?))
                })
                .optional()
            })
            .context(|| "looking up a token by secret hash".to_owned())
    }

    /// Records that token `id` authenticated a request at `now_ms` (never
    /// moving `last_used_ms` backwards).
    pub fn touch_token(&self, id: &str, now_ms: i64) -> Result<()> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE tokens SET last_used_ms = MAX(COALESCE(last_used_ms, ?2), ?2) \
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![id, now_ms]))
            .context(|| format!("recording use of token {id:?}"))?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("token {id:?}")));
        }
        Ok(())
    }

    /// Tokens of `user_id`, or of everyone when `None`, oldest first
    /// (revoked ones included, for the audit trail).
    pub fn list_tokens(&self, user_id: Option<i64>) -> Result<Vec<Token>> {
        let what = || "listing tokens".to_owned();
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens \
                 WHERE ?1 IS NULL OR user_id = ?1 ORDER BY created_ms, id"
            ))
            .context(what)?;
        let rows = stmt
            .query_map([user_id], |row| token_from_row(row, 0))
            .context(what)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().context(what)
    }
}

impl WriteTx<'_> {
    /// Runs an UPDATE of one user by id, reporting a missing user as
    /// [`NotFound`](crate::ErrorKind::NotFound).
    fn update_user(
        &mut self,
        user_id: i64,
        sql: &str,
        value: &dyn ToSql,
        what: &str,
    ) -> Result<()> {
        // No such user is an error, so that the caller's transaction does
        // not commit a log entry for a change that did not happen.
        let res = self.write_in_tx(|tx| {
            let changed = tx
                .prepare_cached(sql)
                .and_then(|mut stmt| stmt.execute(params![user_id, value]))?;
            if changed == 0 {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            Ok(())
        });
        match res {
            Err(rusqlite::Error::QueryReturnedNoRows) => {
                Err(StoreError::NotFound(format!("user {user_id}")))
            }
            other => other.context(|| format!("{what} of user {user_id}")),
        }
    }

    /// Creates a user. `password_hash` is a PHC string made by the caller.
    ///
    /// [`AlreadyExists`](crate::ErrorKind::AlreadyExists) if the name is
    /// taken (ignoring ASCII case).
    pub fn create_user(
        &mut self,
        name: &str,
        role: Role,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<User> {
        validate::name("user name", name)?;
        check_password_hash(password_hash)?;
        let res = self.write_in_tx(|tx| {
            tx.prepare_cached(&format!(
                "INSERT INTO users (name, role, password_hash, created_ms) \
                 VALUES (?1, ?2, ?3, ?4) RETURNING {USER_COLUMNS}"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![name, role, password_hash, now_ms], |row| {
                    user_from_row(row, 0)
                })
            })
        });
        match res {
            Ok(user) => {
                tracing::info!(user = %user.name, role = %user.role, "created user");
                Ok(user)
            }
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists(format!("user {name:?}")))
            }
            Err(e) => Err(e).context(|| format!("creating user {name:?}")),
        }
    }

    /// Replaces a user's password hash (a PHC string made by the caller).
    pub fn set_password_hash(&mut self, user_id: i64, password_hash: &str) -> Result<()> {
        check_password_hash(password_hash)?;
        self.update_user(
            user_id,
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            &password_hash,
            "setting the password",
        )?;
        tracing::info!(user_id, "password changed");
        Ok(())
    }

    /// Disables or re-enables a user. A disabled user's tokens stop working
    /// without being revoked.
    pub fn set_user_disabled(&mut self, user_id: i64, disabled: bool) -> Result<()> {
        self.update_user(
            user_id,
            "UPDATE users SET disabled = ?2 WHERE id = ?1",
            &disabled,
            "setting the disabled flag",
        )?;
        tracing::info!(user_id, disabled, "user disabled flag changed");
        Ok(())
    }

    /// Replaces the locations whose footage user `user_id` may see.
    /// [`NotFound`](StoreError::NotFound) names an unknown location.
    pub fn set_user_rooms(&mut self, user_id: i64, rooms: &[String]) -> Result<()> {
        for code in rooms {
            if self.location(code)?.is_none() {
                return Err(StoreError::NotFound(format!("location {code:?}")));
            }
        }
        let res = self.write_in_tx(|tx| {
            let exists = tx
                .prepare_cached("SELECT 1 FROM users WHERE id = ?1")
                .and_then(|mut stmt| stmt.exists([user_id]))?;
            if !exists {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            tx.prepare_cached("DELETE FROM user_rooms WHERE user_id = ?1")
                .and_then(|mut stmt| stmt.execute([user_id]))?;
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO user_rooms (user_id, location) VALUES (?1, ?2)",
            )?;
            for code in rooms {
                insert.execute(params![user_id, code])?;
            }
            Ok(())
        });
        match res {
            Err(rusqlite::Error::QueryReturnedNoRows) => {
                Err(StoreError::NotFound(format!("user {user_id}")))
            }
            other => other.context(|| format!("setting the rooms of user {user_id}")),
        }?;
        tracing::info!(user_id, ?rooms, "user rooms changed");
        Ok(())
    }

    /// Changes a user's role.
    pub fn set_user_role(&mut self, user_id: i64, role: Role) -> Result<()> {
        self.update_user(
            user_id,
            "UPDATE users SET role = ?2 WHERE id = ?1",
            &role,
            "setting the role",
        )?;
        tracing::info!(user_id, %role, "user role changed");
        Ok(())
    }

    /// Creates an API token for `user_id`. `id` is a short public id chosen
    /// by the caller; `secret_sha256` is the lower-hex SHA-256 of the secret.
    ///
    /// [`NotFound`](crate::ErrorKind::NotFound) if the user does not exist;
    /// [`AlreadyExists`](crate::ErrorKind::AlreadyExists) if the id or the
    /// secret hash is already used.
    pub fn create_token(
        &mut self,
        id: &str,
        user_id: i64,
        label: Option<&str>,
        secret_sha256: &str,
        now_ms: i64,
    ) -> Result<Token> {
        check_token_id(id)?;
        validate::sha256_hex("token secret hash", secret_sha256)?;
        let tx = self.savepoint("creating a token")?;
        let user_exists = tx
            .query_row("SELECT 1 FROM users WHERE id = ?1", [user_id], |_| Ok(()))
            .optional()
            .context(|| format!("looking up user {user_id}"))?
            .is_some();
        if !user_exists {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        let id_taken = tx
            .query_row("SELECT 1 FROM tokens WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .context(|| format!("looking up token {id:?}"))?
            .is_some();
        if id_taken {
            return Err(StoreError::AlreadyExists(format!("token {id:?}")));
        }
        let res = tx.query_row(
            &format!(
                "INSERT INTO tokens (id, user_id, label, secret_sha256, created_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {TOKEN_COLUMNS}"
            ),
            params![id, user_id, label, secret_sha256, now_ms],
            |row| token_from_row(row, 0),
        );
        let token = match res {
            Ok(token) => token,
            // The id was checked above under the write lock, so this is the
            // secret hash.
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AlreadyExists(
                    "a token with the same secret".to_owned(),
                ))
            }
            Err(e) => return Err(e).context(|| format!("creating token {id:?}")),
        };
        tx.commit().context(|| format!("committing token {id:?}"))?;
        tracing::info!(token = %token.id, user_id, "created token");
        Ok(token)
    }

    /// Revokes token `id` at `now_ms` and returns it.
    ///
    /// [`NotFound`](crate::ErrorKind::NotFound) if there is no such token,
    /// [`Conflict`](crate::ErrorKind::Conflict) if it is already revoked.
    pub fn revoke_token(&mut self, id: &str, now_ms: i64) -> Result<Token> {
        let tx = self.savepoint("revoking a token")?;
        let revoked: Option<Option<i64>> = tx
            .query_row("SELECT revoked_ms FROM tokens WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .context(|| format!("looking up token {id:?}"))?;
        match revoked {
            None => return Err(StoreError::NotFound(format!("token {id:?}"))),
            Some(Some(at)) => {
                return Err(StoreError::Conflict(format!(
                    "token {id:?} was already revoked at {at}"
                )))
            }
            Some(None) => {}
        }
        let token = tx
            .query_row(
                &format!(
                    "UPDATE tokens SET revoked_ms = ?2 WHERE id = ?1 RETURNING {TOKEN_COLUMNS}"
                ),
                params![id, now_ms],
                |row| token_from_row(row, 0),
            )
            .context(|| format!("revoking token {id:?}"))?;
        tx.commit()
            .context(|| format!("committing revocation of token {id:?}"))?;
        tracing::info!(token = %id, "revoked token");
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use custos_custody::model::{Location, LocationKind};

    use super::*;

    const HASH: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

    fn room(code: &str) -> Location {
        Location {
            code: code.into(),
            name: format!("Room {code}"),
            kind: LocationKind::Room,
            room: None,
            coverage: Vec::new(),
            retired: false,
        }
    }

    #[test]
    fn an_archivists_rooms_are_replaced_as_a_whole_and_must_exist() {
        let s = Store::open_in_memory().expect("store");
        s.write("rooms", |tx| {
            tx.insert_location(&room("R1"), 1)?;
            tx.insert_location(&room("R2"), 1)
        })
        .expect("rooms");
        let u = s
            .create_user("ada", Role::Archivist, HASH, 1)
            .expect("user");
        assert!(s.user_rooms(u.id).expect("rooms").is_empty());
        s.set_user_rooms(u.id, &["R2".into(), "R1".into(), "R1".into()])
            .expect("set");
        assert_eq!(s.user_rooms(u.id).expect("rooms"), ["R1", "R2"]);
        s.set_user_rooms(u.id, &["R2".into()]).expect("set");
        assert_eq!(s.user_rooms(u.id).expect("rooms"), ["R2"]);

        let unknown = s.set_user_rooms(u.id, &["R1".into(), "R9".into()]);
        assert!(
            matches!(&unknown, Err(StoreError::NotFound(m)) if m.contains("R9")),
            "{unknown:?}"
        );
        assert_eq!(s.user_rooms(u.id).expect("rooms"), ["R2"], "unchanged");
        let nobody = s.set_user_rooms(u.id + 100, &[]);
        assert!(matches!(nobody, Err(StoreError::NotFound(_))), "{nobody:?}");
    }
}
