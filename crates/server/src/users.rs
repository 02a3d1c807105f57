//! Users over HTTP (admin only): list, create, change role, disable, set a
//! password, unlock an account locked by failed sign-ins. Every change is
//! logged. An administrator cannot lock themselves out (demote or disable
//! their own account).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use custos_site::users::{self as site_users, change_user, create_user};
use custos_store::{Role, StoreError};
use custos_webapp::credentials::PasswordError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::roles::USER_ADMINS;
use crate::sessions::account_key;
use crate::{now_ms, SharedState};

/// A user as the API shows it (never the password hash).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserJson {
    name: String,
    role: &'static str,
    created_ms: i64,
    disabled: bool,
    /// The locations whose footage an archivist may see.
    rooms: Vec<String>,
    /// While failed sign-ins keep the account locked: when the lock ends
    /// (`POST /api/v1/users/{name}/unlock` ends it sooner).
    locked_until_ms: Option<i64>,
}

impl UserJson {
    fn new(u: custos_store::User, rooms: Vec<String>) -> Self {
        UserJson {
            name: u.name,
            role: u.role.as_str(),
            created_ms: u.created_ms,
            disabled: u.disabled,
            rooms,
            locked_until_ms: None,
        }
    }

    /// Fills in the sign-in lock, which the server keeps in memory.
    fn with_lock(mut self, state: &SharedState, now: i64) -> Self {
        self.locked_until_ms = state
            .login_throttle
            .locked_until(&account_key(&self.name), now);
        self
    }
}

/// Reads `u`'s rooms and shows it.
fn with_rooms(s: &custos_store::Store, u: custos_store::User) -> Result<UserJson, StoreError> {
    let rooms = s.user_rooms(u.id)?;
    Ok(UserJson::new(u, rooms))
}

/// `GET /api/v1/users` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserList {
    users: Vec<UserJson>,
}

fn parse_role(text: &str) -> Result<Role, ApiError> {
    text.parse::<Role>().map_err(|_| {
        ApiError::bad_request(format!(
            "role {text:?} is not one of: admin, auditor, archivist, viewer"
        ))
    })
}

fn hash(password: &str) -> Result<String, ApiError> {
    custos_webapp::credentials::hash_password(password).map_err(|e| match e {
        PasswordError::TooShort => ApiError::bad_request(e.to_string()),
        PasswordError::Hashing(_) => ApiError::internal("hashing a password", &e),
    })
}

/// `GET /api/v1/users`.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    responses((status = 200, description = "Every user (never a password or token)", body = UserList)),
)]
pub(crate) async fn list(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<UserList>, ApiError> {
    require_role(&user, USER_ADMINS)?;
    let users: Vec<UserJson> = state
        .read("listing users", |s| {
            s.list_users()?
                .into_iter()
                .map(|u| with_rooms(s, u))
                .collect()
        })
        .await?;
    let now = now_ms();
    let users = users
        .into_iter()
        .map(|u| u.with_lock(&state, now))
        .collect();
    Ok(Json(UserList { users }))
}

/// Body of `POST /api/v1/users`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    name: String,
    role: String,
    password: String,
    /// For an archivist: the locations whose footage they may see.
    #[serde(default)]
    rooms: Vec<String>,
}

/// `POST /api/v1/users` `{name, role, password}`.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "The user was added; the change is logged", body = UserJson),
        (status = 400, description = "A bad name, an unknown role or a password shorter than 12 characters"),
        (status = 404, description = "A room names no location of the register"),
        (status = 409, description = "A user of that name exists"),
    ),
)]
pub(crate) async fn create(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserJson>), ApiError> {
    require_role(&user, USER_ADMINS)?;
    let role = parse_role(&body.role)?;
    let name = body.name.trim().to_owned();
    let password_hash = tokio::task::spawn_blocking(move || hash(&body.password))
        .await
        .map_err(|e| ApiError::internal("hashing a password", &e))??;
    let now = now_ms();
    let rooms = body.rooms;
    let by = user.name.clone();
    let created = state
        .write("creating a user", move |s| {
            let new = site_users::NewUser {
                name: &name,
                role,
                password_hash: &password_hash,
                rooms: Some(&rooms),
            };
            let created = create_user(s, &by, &new, now)?;
            with_rooms(s, created)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Body of `PATCH /api/v1/users/{name}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserChange {
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
    /// Replaces the locations whose footage an archivist may see.
    rooms: Option<Vec<String>>,
}

/// `PATCH /api/v1/users/{name}` `{role?, disabled?, password?}`.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{name}",
    tag = "users",
    params(("name" = String, Path, description = "The user's name")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user after the change; the change is logged", body = UserJson),
        (status = 400, description = "Nothing to change, an unknown role or a password shorter than 12 characters"),
        (status = 404, description = "No such user, or a room names no location of the register"),
        (status = 409, description = "An admin may not demote or disable their own account"),
    ),
)]
pub(crate) async fn change(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<UserChange>,
) -> Result<Json<UserJson>, ApiError> {
    require_role(&user, USER_ADMINS)?;
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let password_hash = match body.password {
        Some(p) => Some(
            tokio::task::spawn_blocking(move || hash(&p))
                .await
                .map_err(|e| ApiError::internal("hashing a password", &e))??,
        ),
        None => None,
    };
    let now = now_ms();
    let by = user.name.clone();
    let updated = state
        .write("changing a user", move |s| {
            let change = site_users::UserChange {
                role,
                disabled: body.disabled,
                password_hash: password_hash.as_deref(),
                rooms: body.rooms.as_deref(),
            };
            let updated = change_user(s, &by, &name, &change, now)?;
            with_rooms(s, updated)
        })
        .await?;
    Ok(Json(updated.with_lock(&state, now_ms())))
}

/// `POST /api/v1/users/{name}/unlock`: ends the lock that failed sign-ins
/// put on an account, before its time (logged as a `user.changed` entry
/// with `unlocked`).
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/unlock",
    tag = "users",
    params(("name" = String, Path, description = "The user's name")),
    responses(
        (status = 200, description = "The account signs in again at once; the unlock is logged", body = UserJson),
        (status = 404, description = "No such user"),
        (status = 409, description = "The account is not locked"),
    ),
)]
pub(crate) async fn unlock(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<UserJson>, ApiError> {
    require_role(&user, USER_ADMINS)?;
    let lookup = name.clone();
    let target = state
        .read("looking up the user", move |s| {
            let target = s
                .user_by_name(&lookup)?
                .ok_or_else(|| StoreError::NotFound(format!("user {lookup:?}")))?;
            with_rooms(s, target)
        })
        .await?;
    let now = now_ms();
    let what = "recording the unlock";
    let (throttle, name, by) = (
        Arc::clone(&state.login_throttle),
        target.name.clone(),
        user.name.clone(),
    );
    let unlocked = state
        .write_as(what, move |store| {
            custos_site::users::unlock(store, &throttle, &name, &by, now)
                .map_err(|e| ApiError::not_logged(what, e))
        })
        .await?;
    if unlocked.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("user {:?} is not locked", target.name),
        ));
    }
    Ok(Json(target.with_lock(&state, now)))
}
