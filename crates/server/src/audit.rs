//! The audit trail over HTTP, read from the site's log itself (not from
//! the index), so what it shows is what the signed log holds:
//! `GET /api/v1/audit` lists entries newest first, `GET /api/v1/log`
//! shows the latest checkpoint, `POST /api/v1/log/verify` checks it.

use axum::extract::State;
use axum::Json;
use custos_ledger::note::open_checkpoint;
use custos_ledger::storage::LogStorage;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiQuery};
use crate::roles::AUDITORS;
use crate::SharedState;

/// Entries looked at per request at most (the newest first), so one
/// request's work stays bounded however long the log is.
const MAX_SCANNED: u64 = 200_000;

/// Entry types of each audit category.
fn category(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "views" => &["footage.viewed", "footage.exported", "evidence.downloaded"],
        "logins" => &["auth.login", "auth.login_failed", "auth.logout"],
        "changes" => &[
            "config.loaded",
            "user.created",
            "user.changed",
            "token.created",
            "token.revoked",
            "segment.deleted",
            "segment.held",
            "segment.released",
            "register.location",
            "register.person",
            "register.item",
            "register.import",
            "alert.changed",
        ],
        "custody" => &["custody.event", "inventory.started", "inventory.closed"],
        _ => return None,
    })
}

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

/// One entry as the audit list shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuditEntry {
    /// Its index in the log.
    index: u64,
    /// The entry, decoded.
    entry: Value,
}

/// `GET /api/v1/audit` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuditList {
    /// Newest first.
    entries: Vec<AuditEntry>,
    /// The log's size when read.
    log_size: u64,
    /// True when older entries were not looked at (see `MAX_SCANNED`).
    truncated: bool,
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
    let types = match q.category.as_deref() {
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
    let list = tokio::task::spawn_blocking(move || {
        let size = log.size();
        let mut entries = Vec::new();
        let mut index = size;
        while index > 0 && entries.len() < limit && size - index < MAX_SCANNED {
            index -= 1;
            let bytes = log
                .entry(index)
                .map_err(|e| ApiError::internal("reading the site log", &e))?;
            let Ok(entry) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            let kind = entry["type"].as_str().unwrap_or_default();
            if types.is_some_and(|t| !t.contains(&kind)) {
                continue;
            }
            if let Some(u) = &q.user {
                if entry["user"].as_str() != Some(u) && entry["by"].as_str() != Some(u) {
                    continue;
                }
            }
            if let Some(c) = &q.camera {
                if entry["camera"].as_str() != Some(c) {
                    continue;
                }
            }
            entries.push(AuditEntry { index, entry });
        }
        Ok::<_, ApiError>(AuditList {
            truncated: index > 0 && entries.len() < limit,
            entries,
            log_size: size,
        })
    })
    .await
    .map_err(|e| ApiError::internal("reading the site log", &e))??;
    Ok(Json(list))
}

/// `GET /api/v1/log` and `POST /api/v1/log/verify` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LogStatus {
    /// Entries in the log.
    size: u64,
    /// The latest signed checkpoint (C2SP signed note), if any.
    checkpoint: Option<String>,
    /// The tree size it commits to.
    checkpoint_size: Option<u64>,
    /// When it was signed.
    checkpoint_ms: Option<i64>,
    /// The key it verifies with.
    verifier_key: String,
    /// Set by a verification: what was checked and the outcome.
    verified: Option<Verification>,
}

/// The outcome of `POST /api/v1/log/verify`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Verification {
    ok: bool,
    /// What was found, in plain words.
    findings: Vec<String>,
}

async fn status(state: &SharedState, verify: bool) -> Result<LogStatus, ApiError> {
    let stored = state
        .read("reading the latest checkpoint", |s| s.latest_checkpoint())
        .await?;
    let log = open_log(state)?;
    let verifier = state.log.verifier.clone();
    tokio::task::spawn_blocking(move || {
        let size = log.size();
        let verified = verify.then(|| {
            let mut findings = Vec::new();
            let mut ok = true;
            match &stored {
                None => findings.push("no checkpoint has been signed yet".to_owned()),
                Some(cp) => match open_checkpoint(&cp.note, &verifier) {
                    Err(e) => {
                        ok = false;
                        findings.push(format!("the latest checkpoint does not verify: {e}"));
                    }
                    Ok(c) => {
                        findings.push(format!(
                            "the latest checkpoint is signed by {} and commits to {} entries",
                            verifier.short(),
                            c.size
                        ));
                        if c.size > size {
                            ok = false;
                            findings.push(format!(
                                "the log holds only {size} entries: it was truncated"
                            ));
                        } else {
                            match log.root(c.size) {
                                Ok(root) if root == c.root => findings.push(format!(
                                    "the log's first {} entries hash to the signed root",
                                    c.size
                                )),
                                Ok(_) => {
                                    ok = false;
                                    findings.push(format!(
                                        "the log's first {} entries do not hash to the signed root: it was rewritten",
                                        c.size
                                    ));
                                }
                                Err(e) => {
                                    ok = false;
                                    findings.push(format!("the log cannot be read: {e}"));
                                }
                            }
                        }
                    }
                },
            }
            Verification { ok, findings }
        });
        LogStatus {
            size,
            checkpoint_size: stored.as_ref().map(|c| c.tree_size),
            checkpoint_ms: stored.as_ref().map(|c| c.created_ms),
            checkpoint: stored.map(|c| c.note),
            verifier_key: verifier.to_string(),
            verified,
        }
    })
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
    Ok(Json(status(&state, false).await?))
}

/// `POST /api/v1/log/verify`: checks the latest checkpoint's signature and
/// that the log still hashes to its root (admin, auditor). Files against
/// the index are checked by `custos verify --config`.
#[utoipa::path(
    post,
    path = "/api/v1/log/verify",
    tag = "audit",
    responses((status = 200, description = "The log checked against its latest checkpoint (`verified`)", body = LogStatus)),
)]
pub(crate) async fn verify(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<LogStatus>, ApiError> {
    require_role(&user, AUDITORS)?;
    Ok(Json(status(&state, true).await?))
}
