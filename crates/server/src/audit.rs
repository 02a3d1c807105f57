//! The audit trail over HTTP, read from the site's log itself (not from
//! the index), so what it shows is what the signed log holds:
//! `GET /api/v1/audit` lists entries newest first, `GET /api/v1/log`
//! shows the latest checkpoint, `POST /api/v1/log/verify` checks it. What
//! is listed and what a check finds are [`custos_site::audit`]'s.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use custos_ledger::storage::LogStorage;
use custos_site::audit::{category, entries, log_status, AuditFilter, AuditList, LogStatus};
use serde::Deserialize;

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiQuery};
use crate::roles::AUDITORS;
use crate::{jobs, SharedState};

/// Query of `GET /api/v1/audit`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// `views`, `logins`, `changes`, `custody`, or none for every entry.
    category: Option<String>,
    /// Only entries naming this user (`user` or `by`).
    user: Option<String>,
    /// Only entries about this camera.
    camera: Option<String>,
    limit: Option<usize>,
}

fn open_log(state: &SharedState) -> Result<LogStorage, ApiError> {
    LogStorage::open_read_only(&state.log.dir)
        .map_err(|e| ApiError::internal("opening the site log", &e))
}

/// `GET /api/v1/audit?category=&user=&camera=&limit=`: entries of the
/// site's log, newest first (admin, auditor).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "The log's own entries, newest first", body = AuditList),
        (status = 400, description = "An unknown category or a limit out of range"),
    ),
)]
pub(crate) async fn list(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    require_role(&user, AUDITORS)?;
    let kinds = match q.category.as_deref() {
        None => None,
        Some(c) => Some(category(c).ok_or_else(|| {
            ApiError::bad_request(format!(
                "category {c:?} is not one of: views, logins, changes, custody"
            ))
        })?),
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("limit must be from 1 to 1000"));
    }
    let log = open_log(&state)?;
    let filter = AuditFilter {
        kinds,
        user: q.user,
        camera: q.camera,
        limit,
    };
    let list = tokio::task::spawn_blocking(move || {
        entries(&log, &filter).map_err(|e| ApiError::internal("reading the site log", &e))
    })
    .await
    .map_err(|e| ApiError::internal("reading the site log", &e))??;
    Ok(Json(list))
}

/// The log's size and latest checkpoint, unchecked.
async fn status(state: &SharedState) -> Result<LogStatus, ApiError> {
    let stored = state
        .read("reading the latest checkpoint", |s| s.latest_checkpoint())
        .await?;
    let log = open_log(state)?;
    let verifier = state.log.verifier.clone();
    tokio::task::spawn_blocking(move || log_status(&log, stored, &verifier, false))
        .await
        .map_err(|e| ApiError::internal("reading the site log", &e))
}

/// `GET /api/v1/log`: the log's size and latest checkpoint (admin, auditor).
#[utoipa::path(
    get,
    path = "/api/v1/log",
    tag = "audit",
    responses((status = 200, description = "The log's size and latest signed checkpoint", body = LogStatus)),
)]
pub(crate) async fn log(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<LogStatus>, ApiError> {
    require_role(&user, AUDITORS)?;
    Ok(Json(status(&state).await?))
}

/// `POST /api/v1/log/verify`: checks the latest checkpoint's signature and
/// that the log still hashes to its root (admin, auditor). Files against
/// the index are checked by `custos verify --config`.
#[utoipa::path(
    post,
    path = "/api/v1/log/verify",
    tag = "audit",
    params(crate::jobs::PreferAsync),
    responses(
        (status = 200, description = "The log checked against its latest checkpoint (`verified`)", body = LogStatus),
        (status = 202, description = "Started as a job (`Prefer: respond-async`); its answer is read at the Location", body = crate::jobs::JobView),
    ),
)]
pub(crate) async fn verify(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_role(&user, AUDITORS)?;
    let stored = state
        .read("reading the latest checkpoint", |s| s.latest_checkpoint())
        .await?;
    let log = open_log(&state)?;
    let verifier = state.log.verifier.clone();
    let check = move |_: &jobs::ProgressSink| {
        jobs::json_answer(StatusCode::OK, &log_status(&log, stored, &verifier, true))
    };
    Ok(jobs::run(&state, &user, "verify_log", &headers, check).await)
}
