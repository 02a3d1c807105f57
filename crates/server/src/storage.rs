//! `GET /api/v1/storage`: how full the data disk is and how far back each
//! camera's footage reaches ([`custos_site::storage`]).

use axum::extract::State;
use axum::Json;
use custos_site::storage::{summarise, Storage};
use custos_store::Role;

use crate::auth::{require_role, AuthUser};
use crate::error::ApiError;
use crate::{now_ms, SharedState};

/// Every role sees the dashboard, which shows this.
pub(crate) const STORAGE_READERS: &[Role] = &Role::ALL;

/// `GET /api/v1/storage`.
#[utoipa::path(
    get,
    path = "/api/v1/storage",
    tag = "cameras",
    extensions(("x-custos-roles" = json!(STORAGE_READERS))),
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
        .with_store("summarising storage", move |store| {
            summarise(store, &cameras, &data_dir, now)
        })
        .await?;
    Ok(Json(storage))
}
