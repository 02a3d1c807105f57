//! The people who use the centre's web app: their roles, the region that
//! limits what they see, their sign-ins and sessions.
//!
//! Everything is in the database, so any centre process may check any
//! session and a lock set by one process holds in all of them. Passwords
//! are argon2id ([`custos_webapp::credentials`], the site's rules); an
//! account is locked for [`LOCK_MS`] after [`MAX_FAILURES`] failures within
//! [`FAILURE_WINDOW_MS`]. Sessions are kept by the SHA-256 of their secret
//! only. Every sign-in, failed sign-in, sign-out and change of a user goes
//! into the audit trail.

use custos_webapp::credentials::{
    new_session_secret, token_digest, FAILURE_WINDOW_MS, LOCK_MS, MAX_FAILURES,
};
use deadpool_postgres::Pool;

use crate::db::begin;
use crate::sites::audit;
use crate::{now_ms, CentralError};

/// A session ends this long after sign-in, however active.
pub const SESSION_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;
/// A session unused for this long no longer works.
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
/// How long a session's last use may lag behind the truth: recording it
/// on every request would make every read a write.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// What a central user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, at every site; the users list.
    Admin,
    /// Reads, and acknowledges and resolves alerts, at the sites of their
    /// region (or every site).
    Auditor,
    /// Reads only, at the sites of their region (or every site).
    Viewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Auditor, Role::Viewer];

    /// Its name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Viewer => "viewer",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Result<Role, CentralError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| {
                CentralError::Invalid(format!(
                    "no role {name:?}: a central user is an admin, auditor or viewer"
                ))
            })
    }
}

/// A central user, as signed in or listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    /// Their number.
    #[serde(skip)]
    pub id: i64,
    /// Their name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// The region whose sites they see, or every site.
    pub region: Option<String>,
    /// Whether they may sign in.
    pub disabled: bool,
    /// Until when sign-ins are refused after repeated failures.
    pub locked_until_ms: Option<i64>,
}

impl User {
    /// Whether they may see a site of region `site_region`: only an
    /// unlimited user sees a site with no region.
    pub fn sees(&self, site_region: Option<&str>) -> bool {
        match &self.region {
            None => true,
            Some(mine) => site_region == Some(mine.as_str()),
        }
    }
}

fn user_from(row: &tokio_postgres::Row) -> Result<User, CentralError> {
    let role: String = row.get("role");
    Ok(User {
        id: row.get("id"),
        name: row.get("name"),
        role: Role::parse(&role)?,
        region: row.get("region"),
        disabled: row.get("disabled"),
        locked_until_ms: row.get("locked_until_ms"),
    })
}

/// A name people type and read: 1–64 characters, no control characters
/// and no spaces at either end.
fn check_name(name: &str) -> Result<(), CentralError> {
    if name.is_empty()
        || name.chars().count() > 64
        || name.trim() != name
        || name.chars().any(char::is_control)
    {
        return Err(CentralError::Invalid(format!(
            "user name {name:?}: 1 to 64 characters, no control characters or spaces at either end"
        )));
    }
    Ok(())
}

/// Adds user `name` with an argon2id `password_hash`, as `actor`.
pub async fn add(
    pool: &Pool,
    name: &str,
    role: Role,
    region: Option<&str>,
    password_hash: &str,
    actor: &str,
) -> Result<(), CentralError> {
    check_name(name)?;
    if role == Role::Admin && region.is_some() {
        return Err(CentralError::Invalid(
            "an admin sees every site: a region is for auditors and viewers".to_owned(),
        ));
    }
    if region.is_some_and(|r| r.trim().is_empty()) {
        return Err(CentralError::Invalid("the region is empty".to_owned()));
    }
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let added = tx
        .execute(
            "INSERT INTO users (name, password_hash, role, region, created_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
            &[&name, &password_hash, &role.as_str(), &region, &now_ms()],
        )
        .await
        .map_err(CentralError::db("adding a user"))?;
    if added == 0 {
        return Err(CentralError::Invalid(format!(
            "there is already a user named {name:?}"
        )));
    }
    let scope = region.map_or_else(|| "every site".to_owned(), |r| format!("region {r}"));
    audit(
        &tx,
        actor,
        "user.added",
        None,
        &format!("{name} as {} ({scope})", role.as_str()),
    )
    .await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a new user"))
}

/// Every user, by name.
pub async fn list(pool: &Pool) -> Result<Vec<User>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, name, role, region, disabled, locked_until_ms FROM users ORDER BY name",
            &[],
        )
        .await
        .map_err(CentralError::db("listing users"))?;
    rows.iter().map(user_from).collect()
}

/// Disables (`disabled`) or enables user `name`, or (`unlock`) ends their
/// lock, as `actor`; disabling ends their sessions.
pub async fn change(
    pool: &Pool,
    name: &str,
    disabled: Option<bool>,
    unlock: bool,
    actor: &str,
) -> Result<(), CentralError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let id: i64 = tx
        .query_opt("SELECT id FROM users WHERE name = $1 FOR UPDATE", &[&name])
        .await
        .map_err(CentralError::db("looking up a user"))?
        .ok_or_else(|| CentralError::Invalid(format!("no user named {name:?}")))?
        .get(0);
    if let Some(disabled) = disabled {
        tx.execute(
            "UPDATE users SET disabled = $2 WHERE id = $1",
            &[&id, &disabled],
        )
        .await
        .map_err(CentralError::db("changing a user"))?;
        if disabled {
            tx.execute(
                "UPDATE sessions SET ended_ms = $2 WHERE user_id = $1 AND ended_ms IS NULL",
                &[&id, &now_ms()],
            )
            .await
            .map_err(CentralError::db("ending a user's sessions"))?;
        }
        let action = if disabled {
            "user.disabled"
        } else {
            "user.enabled"
        };
        audit(&tx, actor, action, None, name).await?;
    }
    if unlock {
        tx.execute(
            "UPDATE users SET failures = 0, first_failure_ms = NULL, locked_until_ms = NULL
             WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(CentralError::db("unlocking a user"))?;
        audit(&tx, actor, "user.unlocked", None, name).await?;
    }
    tx.commit()
        .await
        .map_err(CentralError::db("committing a user change"))
}

/// Gives user `name` a new argon2id `password_hash`, as `actor`: their
/// sessions end and any lock with them.
pub async fn set_password(
    pool: &Pool,
    name: &str,
    password_hash: &str,
    actor: &str,
) -> Result<(), CentralError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let id: i64 = tx
        .query_opt(
            "UPDATE users SET password_hash = $2, failures = 0, first_failure_ms = NULL,
                              locked_until_ms = NULL
             WHERE name = $1 RETURNING id",
            &[&name, &password_hash],
        )
        .await
        .map_err(CentralError::db("changing a password"))?
        .ok_or_else(|| CentralError::Invalid(format!("no user named {name:?}")))?
        .get(0);
    tx.execute(
        "UPDATE sessions SET ended_ms = $2 WHERE user_id = $1 AND ended_ms IS NULL",
        &[&id, &now_ms()],
    )
    .await
    .map_err(CentralError::db("ending a user's sessions"))?;
    audit(&tx, actor, "user.password_changed", None, name).await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a new password"))
}

/// The user named `name` with their password hash, for a sign-in.
pub async fn for_sign_in(pool: &Pool, name: &str) -> Result<Option<(User, String)>, CentralError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT id, name, role, region, disabled, locked_until_ms, password_hash
             FROM users WHERE name = $1",
            &[&name],
        )
        .await
        .map_err(CentralError::db("looking up a user"))?;
    row.map(|r| Ok((user_from(&r)?, r.get("password_hash"))))
        .transpose()
}

/// Counts a failed sign-in of user `id` (from `source`, with `reason`) in
/// one statement, so two processes counting at once both count; returns
/// when the account's lock ends if this failure locked it.
pub async fn failed(
    pool: &Pool,
    user: Option<&User>,
    source: &str,
    reason: &str,
) -> Result<Option<i64>, CentralError> {
    let now = now_ms();
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let mut locked = None;
    if let Some(user) = user {
        let max = i32::try_from(MAX_FAILURES).unwrap_or(i32::MAX);
        let row = tx
            .query_one(
                "UPDATE users SET
                     failures = CASE WHEN first_failure_ms IS NULL OR first_failure_ms < $2::BIGINT - $3::BIGINT
                                     THEN 1 ELSE failures + 1 END,
                     first_failure_ms = CASE WHEN first_failure_ms IS NULL OR first_failure_ms < $2::BIGINT - $3::BIGINT
                                     THEN $2 ELSE first_failure_ms END
                 WHERE id = $1 RETURNING failures",
                &[&user.id, &now, &FAILURE_WINDOW_MS],
            )
            .await
            .map_err(CentralError::db("counting a failed sign-in"))?;
        if row.get::<_, i32>(0) >= max {
            let until = now + LOCK_MS;
            tx.execute(
                "UPDATE users SET locked_until_ms = $2, failures = 0, first_failure_ms = NULL
                 WHERE id = $1",
                &[&user.id, &until],
            )
            .await
            .map_err(CentralError::db("locking an account"))?;
            locked = Some(until);
        }
    }
    // A name that is no one's may be a password typed into the wrong
    // field: only that it was unknown is kept.
    let who = user.map_or("", |u| u.name.as_str());
    audit(
        &tx,
        who,
        "sign_in.failed",
        None,
        &format!("from {source}: {reason}"),
    )
    .await?;
    if let Some(until) = locked {
        audit(
            &tx,
            who,
            "user.locked",
            None,
            &format!("after {MAX_FAILURES} failed sign-ins, until {until} ms"),
        )
        .await?;
    }
    tx.commit()
        .await
        .map_err(CentralError::db("committing a failed sign-in"))?;
    Ok(locked)
}

/// A session just started: its public id and its secret, for the cookie.
pub struct NewSession {
    /// Public id.
    pub id: String,
    /// The cookie's value.
    pub secret: String,
    /// When it ends.
    pub expires_ms: i64,
}

/// Starts a session of `user` from `source` (a new one every time: an id
/// planted before sign-in is never promoted), clears their failures, and
/// logs the sign-in.
pub async fn start_session(
    pool: &Pool,
    user: &User,
    source: &str,
) -> Result<NewSession, CentralError> {
    let (id, secret) = new_session_secret();
    let now = now_ms();
    let expires_ms = now + SESSION_LIFETIME_MS;
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    tx.execute(
        "INSERT INTO sessions (id, user_id, secret_digest, source, started_ms, expires_ms, last_seen_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $5)",
        &[&id, &user.id, &token_digest(&secret), &source, &now, &expires_ms],
    )
    .await
    .map_err(CentralError::db("starting a session"))?;
    tx.execute(
        "UPDATE users SET failures = 0, first_failure_ms = NULL WHERE id = $1",
        &[&user.id],
    )
    .await
    .map_err(CentralError::db("clearing failed sign-ins"))?;
    audit(
        &tx,
        &user.name,
        "sign_in",
        None,
        &format!("session {id} from {source}"),
    )
    .await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a sign-in"))?;
    Ok(NewSession {
        id,
        secret,
        expires_ms,
    })
}

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct Session {
    /// Public id.
    pub id: String,
    /// When it ends.
    pub expires_ms: i64,
    /// Whose.
    pub user: User,
}

/// The live session whose cookie holds `secret`, of an enabled user;
/// records its use now and then.
pub async fn session(pool: &Pool, secret: &str) -> Result<Option<Session>, CentralError> {
    let now = now_ms();
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT u.id, u.name, u.role, u.region, u.disabled, u.locked_until_ms,
                    s.id AS session, s.expires_ms, s.last_seen_ms
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.secret_digest = $1 AND s.ended_ms IS NULL AND s.expires_ms > $2
               AND s.last_seen_ms > $2::BIGINT - $3::BIGINT AND NOT u.disabled",
            &[&token_digest(secret), &now, &SESSION_IDLE_MS],
        )
        .await
        .map_err(CentralError::db("checking a session"))?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.get("session");
    if now - row.get::<_, i64>("last_seen_ms") >= TOUCH_INTERVAL_MS {
        client
            .execute(
                "UPDATE sessions SET last_seen_ms = $2 WHERE id = $1",
                &[&id, &now],
            )
            .await
            .map_err(CentralError::db("recording a session's use"))?;
    }
    Ok(Some(Session {
        id,
        expires_ms: row.get("expires_ms"),
        user: user_from(&row)?,
    }))
}

/// Ends session `id` of `user`, logged.
pub async fn end_session(pool: &Pool, user: &User, id: &str) -> Result<(), CentralError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    tx.execute(
        "UPDATE sessions SET ended_ms = $2 WHERE id = $1 AND ended_ms IS NULL",
        &[&id, &now_ms()],
    )
    .await
    .map_err(CentralError::db("ending a session"))?;
    audit(&tx, &user.name, "sign_out", None, &format!("session {id}")).await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a sign-out"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(region: Option<&str>) -> User {
        User {
            id: 1,
            name: "a".into(),
            role: Role::Auditor,
            region: region.map(str::to_owned),
            disabled: false,
            locked_until_ms: None,
        }
    }

    #[test]
    fn a_region_limits_what_a_user_sees() {
        assert!(user(None).sees(Some("north")));
        assert!(user(None).sees(None));
        assert!(user(Some("north")).sees(Some("north")));
        assert!(!user(Some("north")).sees(Some("south")));
        assert!(!user(Some("north")).sees(None));
    }

    #[test]
    fn roles_parse_by_name_and_names_are_checked() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).ok(), Some(role));
        }
        assert!(Role::parse("root").is_err());
        assert!(check_name("ana").is_ok());
        assert!(check_name(" ana").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a\nb").is_err());
    }
}
