//! Whose footage a user may see, asked of [`custos_site::scope`] by every
//! route that hands out pictures (recorded video, live video, live
//! thumbnails, event snapshots), after the role check.

use custos_site::scope::{footage_scope, scope_by_role};
use custos_store::User;

use crate::error::ApiError;
use crate::SharedState;

/// Refuses (403) when `user` may not see footage of `camera`.
pub(crate) async fn check_footage(
    state: &SharedState,
    user: &User,
    camera: &str,
) -> Result<(), ApiError> {
    // Only a scope the role does not decide needs the index.
    let scope = match scope_by_role(user) {
        Some(scope) => scope,
        None => {
            let user = user.clone();
            state
                .read("finding the cameras of your rooms", move |store| {
                    footage_scope(store, &user)
                })
                .await?
        }
    };
    scope.allows(camera).map_err(ApiError::forbidden)
}
