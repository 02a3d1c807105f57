//! Users over HTTP (admin only): list, create, change role, disable, set a
//! password. Every change is logged. An administrator cannot lock
//! themselves out (demote or disable their own account).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use custos_ledger::entry::Entry;
use custos_store::{Role, StoreError};
use serde::{Deserialize, Serialize};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::{now_ms, SharedState};

/// Shortest password accepted (argon2id makes each guess slow; length
/// makes the space large).
/// Who may list, add and change users.
const USER_ADMINS: &[Role] = &[Role::Admin];

const MIN_PASSWORD_CHARS: usize = 12;

/// A user as the API shows it (never the password hash).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserJson {
    name: String,
    role: &'static str,
    created_ms: i64,
    disabled: bool,
}

impl From<custos_store::User> for UserJson {
    fn from(u: custos_store::User) -> Self {
        UserJson {
            name: u.name,
            role: u.role.as_str(),
            created_ms: u.created_ms,
            disabled: u.disabled,
        }
    }
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
    use argon2::password_hash::rand_core::OsRng;
    use argon2::password_hash::{PasswordHasher, SaltString};
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::bad_request(format!(
            "password too short: at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal("hashing a password", &e))
}

/// `GET /api/v1/users`.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    extensions(("x-custos-roles" = json!(USER_ADMINS))),
    responses((status = 200, description = "Every user (never a password or token)", body = UserList)),
)]
pub(crate) async fn list(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<UserList>, ApiError> {
    require_role(&user, USER_ADMINS)?;
    let users = state
        .with_store("listing users", |s| s.list_users())
        .await?;
    Ok(Json(UserList {
        users: users.into_iter().map(UserJson::from).collect(),
    }))
}

/// Body of `POST /api/v1/users`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    name: String,
    role: String,
    password: String,
}

/// `POST /api/v1/users` `{name, role, password}`.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    extensions(("x-custos-roles" = json!(USER_ADMINS))),
    request_body = NewUser,
    responses(
        (status = 201, description = "The user was added; the change is logged", body = UserJson),
        (status = 400, description = "A bad name, an unknown role or a password shorter than 12 characters"),
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
    let entry = Entry::user_created(now, &name, role.as_str(), &user.name)
        .to_leaf_bytes()
        .map_err(|e| ApiError::internal("recording the new user", &e))?;
    let created = state
        .with_store("creating a user", move |s| {
            s.with_log(vec![entry], |s| {
                s.create_user(&name, role, &password_hash, now)
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Body of `PATCH /api/v1/users/{name}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserChange {
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
}

/// `PATCH /api/v1/users/{name}` `{role?, disabled?, password?}`.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{name}",
    tag = "users",
    extensions(("x-custos-roles" = json!(USER_ADMINS))),
    params(("name" = String, Path, description = "The user's name")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user after the change; the change is logged", body = UserJson),
        (status = 400, description = "Nothing to change, an unknown role or a password shorter than 12 characters"),
        (status = 404, description = "No such user"),
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
    let is_self = user.name.eq_ignore_ascii_case(&name);
    if is_self && (body.disabled == Some(true) || role.is_some_and(|r| r != Role::Admin)) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "you cannot demote or disable your own account; another admin can",
        ));
    }
    let password_hash = match body.password {
        Some(p) => Some(
            tokio::task::spawn_blocking(move || hash(&p))
                .await
                .map_err(|e| ApiError::internal("hashing a password", &e))??,
        ),
        None => None,
    };
    let now = now_ms();
    let mut entry = Entry::new("user.changed", now)
        .with("name", name.clone().into())
        .with("by", user.name.clone().into())
        .with("password_changed", password_hash.is_some().into());
    if let Some(r) = role {
        entry = entry.with("role", r.as_str().into());
    }
    if let Some(d) = body.disabled {
        entry = entry.with("disabled", d.into());
    }
    let leaf = entry
        .to_leaf_bytes()
        .map_err(|e| ApiError::internal("recording the change", &e))?;
    let disabled = body.disabled;
    let updated = state
        .with_store("changing a user", move |s| {
            let target = s
                .user_by_name(&name)?
                .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))?;
            // The entry commits with the first write; a change of nothing
            // is refused rather than logged.
            if role.is_none() && disabled.is_none() && password_hash.is_none() {
                return Err(StoreError::InvalidArgument(
                    "nothing to change: give role, disabled or password".into(),
                ));
            }
            s.with_log(vec![leaf], |s| {
                if let Some(r) = role {
                    s.set_user_role(target.id, r)?;
                }
                if let Some(d) = disabled {
                    s.set_user_disabled(target.id, d)?;
                }
                if let Some(h) = &password_hash {
                    s.set_password_hash(target.id, h)?;
                }
                Ok(())
            })?;
            s.user_by_id(target.id)?
                .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))
        })
        .await?;
    Ok(Json(updated.into()))
}
