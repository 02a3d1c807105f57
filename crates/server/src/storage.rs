//! `GET /api/v1/storage`: how full the data disk is and how far back each
//! camera's footage reaches ([`custos_site::storage`]).

use axum::extract::State;
use axum::Json;
use custos_site::storage::{summarise, Storage};

use crate::auth::{require_role, AuthUser};
use crate::error::ApiError;
use crate::roles::STORAGE_READERS;
use crate::{now_ms, SharedState};

/// `GET /api/v1/storage`.
#[utoipa::path(
    get,
    path = "/api/v1/storage",
    tag = "cameras",
    responses((status = 200, description = "The data disk's use and, per camera, what is kept and for how long", body = Storage)),
)]
pub(crate) async fn storage(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<Storage>, ApiError> {
    require_role(&user, STORAGE_READERS)?;
    let cameras = state.cameras.list();
    let data_dir = state.data_dir.clone();
    let now = now_ms();
    let storage = state
        .read("summarising storage", move |store| {
            summarise(store, &cameras, &data_dir, now)
        })
        .await?;
    Ok(Json(storage))
}
