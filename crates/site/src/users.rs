//! Users and their tokens: adding and changing them, each change with its
//! log entry in the same transaction, for the API and the command line.

use custos_ledger::catalogue::{leaf, TokenChange, UserChanged, UserCreated};
use custos_store::{Role, Store, StoreError, Token, User};

use crate::credentials::{new_token, NewToken};
use crate::sign_in::{account_key, LoginThrottle};
use crate::NotLogged;

/// Refuses the first of `rooms` that names no location of the register.
fn check_rooms(store: &Store, rooms: &[String]) -> Result<(), StoreError> {
    for code in rooms {
        if store.location(code)?.is_none() {
            return Err(StoreError::NotFound(format!("location {code:?}")));
        }
    }
    Ok(())
}

/// A user to add.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// The sign-in name.
    pub name: &'a str,
    /// What they may do.
    pub role: Role,
    /// The argon2id hash of their password
    /// ([`crate::credentials::hash_password`]).
    pub password_hash: &'a str,
    /// For an archivist, the locations whose footage they may see (`None`:
    /// none given, and none logged).
    pub rooms: Option<&'a [String]>,
}

/// Adds a user: the user, their rooms and the `user.created` entry commit
/// together. An unknown room is named before a taken name.
pub fn create_user(
    store: &Store,
    by: &str,
    new: &NewUser<'_>,
    now_ms: i64,
) -> Result<User, StoreError> {
    let entry = leaf(
        now_ms,
        &UserCreated {
            name: new.name,
            role: new.role.as_str(),
            by,
            rooms: new.rooms,
        },
    )
    .map_err(crate::unloggable)?;
    if let Some(rooms) = new.rooms {
        check_rooms(store, rooms)?;
    }
    store.write("creating a user", |tx| {
        tx.log(entry);
        let created = tx.create_user(new.name, new.role, new.password_hash, now_ms)?;
        if let Some(rooms) = new.rooms {
            tx.set_user_rooms(created.id, rooms)?;
        }
        Ok::<_, StoreError>(created)
    })
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChange<'a> {
    /// A new role.
    pub role: Option<Role>,
    /// Disable (or enable) the account.
    pub disabled: Option<bool>,
    /// A new password's hash; whoever signed in with the old one is out.
    pub password_hash: Option<&'a str>,
    /// The new list of an archivist's rooms.
    pub rooms: Option<&'a [String]>,
}

/// Changes user `name` (logged as `user.changed`, with the change, in one
/// transaction). An administrator may not demote or disable their own
/// account (another admin can), so a site always keeps one who can act.
pub fn change_user(
    store: &Store,
    by: &str,
    name: &str,
    change: &UserChange<'_>,
    now_ms: i64,
) -> Result<User, StoreError> {
    let is_self = by.eq_ignore_ascii_case(name);
    if is_self && (change.disabled == Some(true) || change.role.is_some_and(|r| r != Role::Admin)) {
        return Err(StoreError::Conflict(
            "you cannot demote or disable your own account; another admin can".into(),
        ));
    }
    let entry = leaf(
        now_ms,
        &UserChanged {
            name,
            by,
            password_changed: change.password_hash.is_some(),
            role: change.role.map(|r| r.as_str()),
            disabled: change.disabled,
            rooms: change.rooms,
            unlocked_until_ms: None,
        },
    )
    .map_err(crate::unloggable)?;
    let target = store
        .user_by_name(name)?
        .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))?;
    // A change of nothing is refused rather than logged.
    if change.role.is_none()
        && change.disabled.is_none()
        && change.password_hash.is_none()
        && change.rooms.is_none()
    {
        return Err(StoreError::InvalidArgument(
            "nothing to change: give role, disabled, password or rooms".into(),
        ));
    }
    if let Some(rooms) = change.rooms {
        check_rooms(store, rooms)?;
    }
    store.write("changing a user", |tx| {
        tx.log(entry);
        if let Some(r) = change.role {
            tx.set_user_role(target.id, r)?;
        }
        if let Some(d) = change.disabled {
            tx.set_user_disabled(target.id, d)?;
        }
        if let Some(h) = change.password_hash {
            tx.set_password_hash(target.id, h)?;
            tx.end_user_sessions(target.id, now_ms)?;
        }
        if let Some(r) = change.rooms {
            tx.set_user_rooms(target.id, r)?;
        }
        Ok::<_, StoreError>(())
    })?;
    store
        .user_by_id(target.id)?
        .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))
}

/// Makes a token for `user` (logged as `token.created`); the token itself is
/// returned once and only its digest is kept.
pub fn create_token(
    store: &Store,
    user: &User,
    label: Option<&str>,
    by: &str,
    now_ms: i64,
) -> Result<NewToken, StoreError> {
    let token = new_token();
    let entry = leaf(
        now_ms,
        &TokenChange {
            id: &token.id,
            user: &user.name,
            by,
            revoked: false,
        },
    )
    .map_err(crate::unloggable)?;
    store.write("creating a token", |tx| {
        tx.log(entry);
        tx.create_token(&token.id, user.id, label, &token.digest, now_ms)
    })?;
    Ok(token)
}

/// Revokes token `id` (logged as `token.revoked`, naming the token's user).
pub fn revoke_token(store: &Store, id: &str, by: &str, now_ms: i64) -> Result<Token, StoreError> {
    let token = store
        .list_tokens(None)?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| StoreError::NotFound(format!("token {id:?}")))?;
    let owner = store
        .user_by_id(token.user_id)?
        .map_or_else(|| format!("user #{}", token.user_id), |u| u.name);
    let entry = leaf(
        now_ms,
        &TokenChange {
            id,
            user: &owner,
            by,
            revoked: true,
        },
    )
    .map_err(crate::unloggable)?;
    store.write("revoking a token", |tx| {
        tx.log(entry);
        tx.revoke_token(id, now_ms)
    })
}

/// Ends the sign-in lock of user `name` at once (an admin, `by`, vouched
/// for them): logged as `user.changed` with the lock's end before the lock
/// goes, since an unlock the log does not hold never happened. `None` when
/// the account was not locked.
pub fn unlock(
    store: &Store,
    throttle: &LoginThrottle,
    name: &str,
    by: &str,
    now_ms: i64,
) -> Result<Option<i64>, NotLogged> {
    let account = account_key(name);
    let Some(until) = throttle.locked_until(&account, now_ms) else {
        return Ok(None);
    };
    let entry = leaf(
        now_ms,
        &UserChanged {
            name,
            by,
            password_changed: false,
            role: None,
            disabled: None,
            rooms: None,
            unlocked_until_ms: Some(until),
        },
    )?;
    store.enqueue_log(vec![entry])?;
    throttle.unlock(&account, now_ms);
    tracing::info!(target: "custos::audit", user = %name, by = %by, "account unlocked");
    Ok(Some(until))
}

#[cfg(test)]
mod tests {
    use custos_custody::model::{Location, LocationKind};

    use super::*;

    fn site() -> Store {
        let store = Store::open_in_memory().expect("store");
        let room = Location {
            code: "R1".into(),
            name: "Room".into(),
            kind: LocationKind::Room,
            room: None,
            coverage: vec![],
            retired: false,
        };
        crate::register::create_location(&store, "t", &room, &|_| true, 0).expect("room");
        store
    }

    fn new_user<'a>(name: &'a str, role: Role, rooms: Option<&'a [String]>) -> NewUser<'a> {
        NewUser {
            name,
            role,
            password_hash: "$argon2id$test",
            rooms,
        }
    }

    #[test]
    fn a_user_comes_with_their_rooms_and_an_unknown_room_adds_no_one() {
        let store = site();
        let rooms = ["R1".to_owned()];
        let rita = create_user(
            &store,
            "ada",
            &new_user("rita", Role::Archivist, Some(&rooms)),
            1,
        )
        .expect("rita");
        assert_eq!(store.user_rooms(rita.id).expect("rooms"), ["R1"]);
        let nowhere = ["R9".to_owned()];
        let e = create_user(
            &store,
            "ada",
            &new_user("sam", Role::Archivist, Some(&nowhere)),
            2,
        )
        .expect_err("unknown room");
        assert!(matches!(e, StoreError::NotFound(_)), "{e}");
        assert!(store.user_by_name("sam").expect("lookup").is_none());
    }

    #[test]
    fn an_admin_cannot_demote_or_disable_themselves_and_nothing_is_no_change() {
        let store = site();
        create_user(&store, "cli", &new_user("ada", Role::Admin, None), 1).expect("ada");
        let demote = UserChange {
            role: Some(Role::Viewer),
            ..UserChange::default()
        };
        let e = change_user(&store, "ADA", "ada", &demote, 2).expect_err("self demotion");
        assert!(matches!(e, StoreError::Conflict(_)), "{e}");
        let disable = UserChange {
            disabled: Some(true),
            ..UserChange::default()
        };
        assert!(change_user(&store, "ada", "ada", &disable, 2).is_err());
        let e = change_user(&store, "root", "ada", &UserChange::default(), 2)
            .expect_err("nothing to change");
        assert!(matches!(e, StoreError::InvalidArgument(_)), "{e}");
        // Another admin can.
        let ada = change_user(&store, "root", "ada", &demote, 3).expect("demoted");
        assert_eq!(ada.role, Role::Viewer);
    }
}
