//! Who may call what: the one table of every authenticated operation and
//! the roles allowed to call it.
//!
//! Three readers share it, so they cannot disagree: the authentication
//! layer ([`crate::auth::require_auth`]) refuses any other role with 403
//! before a parameter or body is read; the OpenAPI document
//! ([`crate::openapi`]) takes each operation's id and its `x-custos-roles`
//! from it; and `GET /api/v1/session` tells the web app which operations
//! its session may call, so the app shows only what will be allowed.
//! Handlers check again with the same constants, passed to
//! [`crate::require_role`].
//!
//! The table is plain data and imports nothing else of the crate.

use custos_store::Role;

/// Every role: for what any signed-in user may do.
pub const EVERY_ROLE: &[Role] = &Role::ALL;
/// Who may read camera status and the recording index.
pub const CAMERA_READERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Archivist, Role::Viewer];
/// Who may watch recorded video: a viewer (a guard) watches live and
/// answers alerts, but playing back the record is for the roles that
/// answer for it.
pub const FOOTAGE_VIEWERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Archivist];
/// Every role may see the live picture.
pub const THUMBNAIL_VIEWERS: &[Role] = &Role::ALL;
/// Every role may watch live.
pub const LIVE_VIEWERS: &[Role] = &Role::ALL;
/// Every role sees the dashboard, which shows disk use.
pub const STORAGE_READERS: &[Role] = &Role::ALL;
/// Who may export evidence.
pub const EXPORTERS: &[Role] = &[Role::Admin, Role::Auditor];
/// Every role sees events (a viewer watches alerts).
pub const EVENT_READERS: &[Role] = &Role::ALL;
/// Who reads the register (a viewer watches cameras, not the holdings).
pub const REGISTER_READERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Archivist];
/// Who changes it and records custody.
pub const REGISTER_WRITERS: &[Role] = &[Role::Admin, Role::Archivist];
/// Who may read the notification outbox.
pub const NOTIFICATION_READERS: &[Role] = &[Role::Admin, Role::Auditor];
/// Who may list, add, change and unlock users.
pub const USER_ADMINS: &[Role] = &[Role::Admin];
/// Who may read and change the site's settings.
pub const SETTINGS_ADMINS: &[Role] = &[Role::Admin];
/// Who reads the audit trail.
pub const AUDITORS: &[Role] = &[Role::Admin, Role::Auditor];
/// Every role sees alerts (a guard watches them).
pub const ALERT_READERS: &[Role] = &Role::ALL;
/// Who acknowledges an alert.
pub const ACKNOWLEDGERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Archivist];
/// Who resolves one by hand.
pub const RESOLVERS: &[Role] = &[Role::Admin, Role::Auditor];
/// Every role may read its own jobs (an admin reads everyone's).
pub const JOB_READERS: &[Role] = &Role::ALL;
/// Who may read the metrics besides the metrics token.
pub const METRICS_READERS: &[Role] = &[Role::Admin, Role::Auditor];

/// One operation of the API that needs credentials.
#[derive(Debug)]
pub struct Operation {
    /// Its `operationId` in the OpenAPI document, unique in the API; the
    /// web app asks by it whether the session may call the operation.
    pub id: &'static str,
    /// Its method, in lower case as the OpenAPI document writes it.
    pub method: &'static str,
    /// Its path template, as routed (`/api/v1/cameras/{id}`).
    pub path: &'static str,
    /// The roles that may call it.
    pub roles: &'static [Role],
}

const fn op(
    id: &'static str,
    method: &'static str,
    path: &'static str,
    roles: &'static [Role],
) -> Operation {
    Operation {
        id,
        method,
        path,
        roles,
    }
}

/// Every operation that needs credentials. A routed operation missing here
/// is refused to every role (and fails the tests of [`crate::openapi`]).
pub const OPERATIONS: &[Operation] = &[
    op("list_cameras", "get", "/api/v1/cameras", CAMERA_READERS),
    op("get_camera", "get", "/api/v1/cameras/{id}", CAMERA_READERS),
    op(
        "list_recordings",
        "get",
        "/api/v1/cameras/{id}/recordings",
        CAMERA_READERS,
    ),
    op(
        "get_video",
        "get",
        "/api/v1/cameras/{id}/video.mp4",
        FOOTAGE_VIEWERS,
    ),
    op(
        "camera_snapshot",
        "get",
        "/api/v1/cameras/{id}/snapshot.jpg",
        THUMBNAIL_VIEWERS,
    ),
    op("get_storage", "get", "/api/v1/storage", STORAGE_READERS),
    op("get_escrow", "get", "/api/v1/escrow", AUDITORS),
    op(
        "watch_live",
        "get",
        "/api/v1/cameras/{id}/live",
        LIVE_VIEWERS,
    ),
    op("create_export", "post", "/api/v1/exports", EXPORTERS),
    op(
        "download_export",
        "get",
        "/api/v1/exports/{id}/bundle.tar",
        EXPORTERS,
    ),
    op("list_events", "get", "/api/v1/events", EVENT_READERS),
    op(
        "event_snapshot",
        "get",
        "/api/v1/events/{id}/snapshot.jpg",
        EVENT_READERS,
    ),
    op(
        "list_locations",
        "get",
        "/api/v1/locations",
        REGISTER_READERS,
    ),
    op(
        "create_location",
        "post",
        "/api/v1/locations",
        REGISTER_WRITERS,
    ),
    op(
        "get_location",
        "get",
        "/api/v1/locations/{code}",
        REGISTER_READERS,
    ),
    op(
        "update_location",
        "put",
        "/api/v1/locations/{code}",
        REGISTER_WRITERS,
    ),
    op("list_people", "get", "/api/v1/people", REGISTER_READERS),
    op("create_person", "post", "/api/v1/people", REGISTER_WRITERS),
    op(
        "get_person",
        "get",
        "/api/v1/people/{staff_id}",
        REGISTER_READERS,
    ),
    op(
        "update_person",
        "put",
        "/api/v1/people/{staff_id}",
        REGISTER_WRITERS,
    ),
    op("list_items", "get", "/api/v1/items", REGISTER_READERS),
    op("create_item", "post", "/api/v1/items", REGISTER_WRITERS),
    op(
        "get_item",
        "get",
        "/api/v1/items/{barcode}",
        REGISTER_READERS,
    ),
    op(
        "edit_item",
        "patch",
        "/api/v1/items/{barcode}",
        REGISTER_WRITERS,
    ),
    op(
        "record_custody",
        "post",
        "/api/v1/items/{barcode}/custody",
        REGISTER_WRITERS,
    ),
    op("list_custody", "get", "/api/v1/custody", REGISTER_READERS),
    op(
        "list_inventories",
        "get",
        "/api/v1/inventories",
        REGISTER_READERS,
    ),
    op(
        "start_inventory",
        "post",
        "/api/v1/inventories",
        REGISTER_WRITERS,
    ),
    op(
        "get_inventory",
        "get",
        "/api/v1/inventories/{id}",
        REGISTER_READERS,
    ),
    op(
        "scan_inventory",
        "post",
        "/api/v1/inventories/{id}/scans",
        REGISTER_WRITERS,
    ),
    op(
        "close_inventory",
        "post",
        "/api/v1/inventories/{id}/close",
        REGISTER_WRITERS,
    ),
    op(
        "import_register",
        "post",
        "/api/v1/register/import",
        REGISTER_WRITERS,
    ),
    op(
        "get_report",
        "get",
        "/api/v1/reports/{name}",
        REGISTER_READERS,
    ),
    op(
        "item_label",
        "get",
        "/api/v1/items/{barcode}/label.svg",
        REGISTER_READERS,
    ),
    op("label_sheet", "get", "/api/v1/labels", REGISTER_READERS),
    op("list_users", "get", "/api/v1/users", USER_ADMINS),
    op("create_user", "post", "/api/v1/users", USER_ADMINS),
    op("change_user", "patch", "/api/v1/users/{name}", USER_ADMINS),
    op(
        "unlock_user",
        "post",
        "/api/v1/users/{name}/unlock",
        USER_ADMINS,
    ),
    op(
        "list_camera_settings",
        "get",
        "/api/v1/settings/cameras",
        SETTINGS_ADMINS,
    ),
    op(
        "put_camera_settings",
        "put",
        "/api/v1/settings/cameras/{id}",
        SETTINGS_ADMINS,
    ),
    op(
        "get_hours",
        "get",
        "/api/v1/settings/hours",
        SETTINGS_ADMINS,
    ),
    op(
        "put_hours",
        "put",
        "/api/v1/settings/hours",
        SETTINGS_ADMINS,
    ),
    op(
        "probe_camera",
        "post",
        "/api/v1/settings/probe",
        SETTINGS_ADMINS,
    ),
    op("list_audit", "get", "/api/v1/audit", AUDITORS),
    op("read_log", "get", "/api/v1/log", AUDITORS),
    op("verify_log", "post", "/api/v1/log/verify", AUDITORS),
    op("list_alerts", "get", "/api/v1/alerts", ALERT_READERS),
    op("get_alert", "get", "/api/v1/alerts/{id}", ALERT_READERS),
    op(
        "acknowledge_alert",
        "post",
        "/api/v1/alerts/{id}/acknowledge",
        ACKNOWLEDGERS,
    ),
    op(
        "resolve_alert",
        "post",
        "/api/v1/alerts/{id}/resolve",
        RESOLVERS,
    ),
    op(
        "list_notifications",
        "get",
        "/api/v1/notifications",
        NOTIFICATION_READERS,
    ),
    op("list_jobs", "get", "/api/v1/jobs", JOB_READERS),
    op("get_job", "get", "/api/v1/jobs/{id}", JOB_READERS),
    op("logout", "post", "/api/v1/logout", EVERY_ROLE),
    op("current_session", "get", "/api/v1/session", EVERY_ROLE),
    op("metrics", "get", "/metrics", METRICS_READERS),
];

/// The operation routed as `method` (any case) on the path template
/// `path`. HEAD is answered by the GET handler, so it is GET's operation.
pub fn operation(method: &str, path: &str) -> Option<&'static Operation> {
    let method = if method.eq_ignore_ascii_case("head") {
        "get"
    } else {
        method
    };
    OPERATIONS
        .iter()
        .find(|o| o.path == path && o.method.eq_ignore_ascii_case(method))
}

/// The ids of the operations `role` may call, in the table's order.
pub fn operations_for(role: Role) -> Vec<&'static str> {
    OPERATIONS
        .iter()
        .filter(|o| o.roles.contains(&role))
        .map(|o| o.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_routes_are_unique() {
        let mut ids = HashSet::new();
        let mut routes = HashSet::new();
        for o in OPERATIONS {
            assert!(ids.insert(o.id), "operation id {} twice", o.id);
            assert!(
                routes.insert((o.method, o.path)),
                "{} {} twice",
                o.method,
                o.path
            );
            assert!(!o.roles.is_empty(), "{} lists no role", o.id);
            assert_eq!(o.method, o.method.to_ascii_lowercase(), "{}", o.id);
        }
    }

    #[test]
    fn head_is_get() {
        let get = operation("GET", "/api/v1/cameras").map(|o| o.id);
        assert_eq!(get, Some("list_cameras"));
        assert_eq!(operation("HEAD", "/api/v1/cameras").map(|o| o.id), get);
        assert!(operation("DELETE", "/api/v1/cameras").is_none());
    }

    #[test]
    fn each_role_gets_its_operations() {
        let viewer = operations_for(Role::Viewer);
        assert!(viewer.contains(&"watch_live") && viewer.contains(&"list_alerts"));
        assert!(!viewer.contains(&"get_video") && !viewer.contains(&"list_users"));
        assert_eq!(operations_for(Role::Admin).len(), OPERATIONS.len());
    }
}
