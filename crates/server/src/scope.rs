//! Whose footage a user may see, asked of [`custos_site::scope`] by every
//! route that hands out pictures (recorded video, live video, live
//! thumbnails, event snapshots), after the role check.

use custos_site::scope::{footage_scope, FootageScope};
use custos_store::{Role, User};

use crate::error::ApiError;
use crate::SharedState;

/// Refuses (403) when `user` may not see footage of `camera`.
pub(crate) async fn check_footage(
    state: &SharedState,
    user: &User,
    camera: &str,
) -> Result<(), ApiError> {
    // Only an archivist's scope needs the index.
    let scope = if user.role == Role::Archivist {
        let user = user.clone();
        state
            .read("finding the cameras of your rooms", move |store| {
                footage_scope(store, &user)
            })
            .await?
    } else {
        FootageScope::Everything
    };
    scope.allows(camera).map_err(ApiError::forbidden)
}
