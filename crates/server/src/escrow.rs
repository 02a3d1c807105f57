//! `GET /api/v1/escrow`: how far the copy of the site's evidence in the
//! escrow bucket is (the log published, the footage copied, the backlog),
//! and the escrow state of segments in the recordings API.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use custos_escrow::run::{EscrowBoard, EscrowStatus};
use custos_store::{EscrowBacklog, Store};
use serde::Serialize;

use crate::auth::{require_role, AuthUser};
use crate::error::ApiError;
use crate::roles::AUDITORS;
use crate::SharedState;

/// The site's escrow, when it has one (`[escrow]`).
#[derive(Clone, Debug)]
pub struct EscrowAccess {
    /// What the escrow thread reports.
    pub board: EscrowBoard,
    /// Cameras whose footage is escrowed whole.
    pub all_footage_of: Vec<String>,
}

/// `GET /api/v1/escrow` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EscrowOverview {
    /// Whether the site escrows its evidence (`[escrow]`); the rest is
    /// empty when not.
    configured: bool,
    /// The escrow thread's own report (bucket, log published, bytes sent,
    /// last error).
    status: Option<EscrowStatus>,
    /// Footage the escrow still has to copy.
    backlog: Option<EscrowBacklog>,
}

/// `GET /api/v1/escrow`.
#[utoipa::path(
    get,
    path = "/api/v1/escrow",
    tag = "cameras",
    responses((status = 200, description = "How far the escrow of the site's log and footage is", body = EscrowOverview)),
)]
pub(crate) async fn escrow(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<EscrowOverview>, ApiError> {
    require_role(&user, AUDITORS)?;
    let Some(access) = state.escrow.clone() else {
        return Ok(Json(EscrowOverview {
            configured: false,
            status: None,
            backlog: None,
        }));
    };
    let all = access.all_footage_of.clone();
    let backlog = state
        .read("measuring the escrow backlog", move |store| {
            store.escrow_backlog(
                custos_custody::footage::WINDOW_BEFORE_MS,
                custos_custody::footage::WINDOW_AFTER_MS,
                &all,
            )
        })
        .await?;
    Ok(Json(EscrowOverview {
        configured: true,
        status: Some(access.board.snapshot()),
        backlog: Some(backlog),
    }))
}

/// A segment's copy in the escrow bucket, as the recordings API shows it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub(crate) struct SegmentEscrowJson {
    /// `pending`: escrow wants it and has not copied it yet; `verified`:
    /// copied and read back with its sealed SHA-256.
    state: &'static str,
    /// The store's ETag for the copy.
    etag: Option<String>,
    /// When it was verified (Unix ms).
    at_ms: Option<i64>,
}

/// The escrow state of segments `ids`: verified copies, and, when the site
/// escrows, those still pending; segments escrow does not want are absent.
pub(crate) fn segment_states(
    store: &Store,
    escrow: Option<&EscrowAccess>,
    ids: &[i64],
) -> custos_store::Result<HashMap<i64, SegmentEscrowJson>> {
    let mut out = HashMap::new();
    for id in ids {
        if let Some(copy) = store.segment_escrow(*id)? {
            out.insert(
                *id,
                SegmentEscrowJson {
                    state: "verified",
                    etag: copy.etag,
                    at_ms: Some(copy.at_ms),
                },
            );
        }
    }
    if let Some(escrow) = escrow {
        for id in store.escrow_pending_among(
            ids,
            custos_custody::footage::WINDOW_BEFORE_MS,
            custos_custody::footage::WINDOW_AFTER_MS,
            &escrow.all_footage_of,
        )? {
            out.insert(
                id,
                SegmentEscrowJson {
                    state: "pending",
                    etag: None,
                    at_ms: None,
                },
            );
        }
    }
    Ok(out)
}
