//! The register over HTTP. Locations are in `locations.rs` and people in
//! `people.rs`; items, custody events with their footage, inventories,
//! imports and notifications are here. Rules and logging are in
//! [`custos_site::register`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use custos_custody::actions::Action;
use custos_custody::csv_import::RowError;
use custos_custody::inventory::InventoryReport;
use custos_custody::model::{
    Coverage, Item, ItemStatus, Location, LocationKind, Person, PersonRole,
};
use custos_store::{CustodyQuery, Inventory, ItemQuery};
use serde::{Deserialize, Serialize};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::roles::{NOTIFICATION_READERS, REGISTER_READERS, REGISTER_WRITERS};
use crate::{jobs, now_ms, SharedState};
use custos_site::register::{
    self, EventWithFootage, ItemEdit, Recorded, RegisterError, ScanResult,
};

/// Most rows one list returns.
const MAX_LIMIT: usize = 1000;

/// How far ahead of the server's clock a custody event may be dated
/// (clocks of scanners and browsers drift a little).
const MAX_FUTURE_MS: i64 = 60_000;

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            RegisterError::Refused(m) => ApiError::new(StatusCode::CONFLICT, m),
            RegisterError::NotFound(m) => ApiError::not_found(format!("{m} not found")),
            RegisterError::Store(s) => ApiError::from_store("changing the register", s),
        }
    }
}

async fn blocking<T: Send + 'static>(
    state: &SharedState,
    f: impl FnOnce(&custos_store::Store) -> Result<T, RegisterError> + Send + 'static,
) -> Result<T, ApiError> {
    state.write_as("changing the register", f).await
}

/// [`blocking`] for reads of the register, on a reader of the index.
async fn reading<T: Send + 'static>(
    state: &SharedState,
    f: impl FnOnce(&custos_store::Store) -> Result<T, RegisterError> + Send + 'static,
) -> Result<T, ApiError> {
    state.read_as("reading the register", f).await
}

fn limit(l: Option<usize>) -> Result<usize, ApiError> {
    let l = l.unwrap_or(200);
    if l == 0 || l > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {MAX_LIMIT}"
        )));
    }
    Ok(l)
}

/// Whether a camera id names a configured camera.
fn camera_checker(state: &SharedState) -> impl Fn(&str) -> bool + Send + 'static {
    let cameras = std::sync::Arc::clone(&state.cameras);
    move |c: &str| cameras.contains(c)
}

mod locations;
mod people;

pub(crate) use locations::*;
pub(crate) use people::*;

// ---------------------------------------------------------------- items

/// Query of `GET /api/v1/items`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ItemsQuery {
    q: Option<String>,
    status: Option<String>,
    location: Option<String>,
    holder: Option<String>,
    overdue: Option<bool>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/items` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ItemList {
    items: Vec<Item>,
}

/// `GET /api/v1/items?q=&status=&location=&holder=&overdue=&after=&limit=`.
#[utoipa::path(
    get,
    path = "/api/v1/items",
    tag = "register",
    params(ItemsQuery),
    responses(
        (status = 200, description = "Items, by barcode (or the overdue ones)", body = ItemList),
        (status = 400, description = "An unknown status or a limit out of range"),
    ),
)]
pub(crate) async fn list_items(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiQuery(q): ApiQuery<ItemsQuery>,
) -> Result<Json<ItemList>, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let status = q
        .status
        .as_deref()
        .map(str::parse::<ItemStatus>)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("status: {e}")))?;
    let limit = limit(q.limit)?;
    let items = if q.overdue == Some(true) {
        reading(&state, move |s| {
            let mut items = s.overdue_items(now_ms())?;
            items.truncate(limit);
            Ok(items)
        })
        .await?
    } else {
        let query = ItemQuery {
            text: q.q,
            status,
            location: q.location,
            holder: q.holder,
            limit,
            after: q.after,
        };
        reading(&state, move |s| Ok(s.items(&query)?)).await?
    };
    Ok(Json(ItemList { items }))
}

/// Body of `POST /api/v1/items`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewItemBody {
    barcode: String,
    title: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    classification: String,
    home_location: String,
}

/// `POST /api/v1/items`: a new item, in place at its home location.
#[utoipa::path(
    post,
    path = "/api/v1/items",
    tag = "register",
    request_body = NewItemBody,
    responses(
        (status = 201, description = "The item was added, in place at its home; the change is logged", body = Item),
        (status = 404, description = "Something it names (a location, room, person or item) does not exist"),
        (status = 409, description = "Refused by the register's rules (the message says why)"),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the message names it)"),
    ),
)]
pub(crate) async fn create_item(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiJson(body): ApiJson<NewItemBody>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    let item = Item {
        barcode: body.barcode,
        title: body.title,
        reference: body.reference,
        classification: body.classification,
        location: body.home_location.clone(),
        home_location: body.home_location,
        status: ItemStatus::InPlace,
        holder: None,
        due_ms: None,
        disposed_reason: None,
    };
    let i = item.clone();
    blocking(&state, move |s| {
        register::create_item(s, &user.name, &i, now_ms())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// `GET /api/v1/items/{barcode}` body: the item and its chain of custody.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ItemDetail {
    item: Item,
    custody: Vec<EventWithFootage>,
}

/// `GET /api/v1/items/{barcode}`: the item with its whole chain of custody
/// and the footage of each event.
#[utoipa::path(
    get,
    path = "/api/v1/items/{barcode}",
    tag = "register",
    params(("barcode" = String, Path, description = "The item's barcode")),
    responses(
        (status = 200, description = "The item and its chain of custody with footage", body = ItemDetail),
        (status = 404, description = "No such item"),
    ),
)]
pub(crate) async fn get_item(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(barcode): ApiPath<String>,
) -> Result<Json<ItemDetail>, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let detail = reading(&state, move |s| {
        let item = s
            .item(&barcode)?
            .ok_or_else(|| RegisterError::NotFound(format!("item {barcode:?}")))?;
        let events = s.custody_events(&CustodyQuery {
            barcode: Some(barcode.clone()),
            limit: 10_000,
            oldest_first: true,
            ..Default::default()
        })?;
        let custody = register::with_footage(s, events, now_ms())?;
        Ok(ItemDetail { item, custody })
    })
    .await?;
    Ok(Json(detail))
}

/// `PATCH /api/v1/items/{barcode}`: title, reference, classification.
#[utoipa::path(
    patch,
    path = "/api/v1/items/{barcode}",
    tag = "register",
    params(("barcode" = String, Path, description = "The item's barcode")),
    request_body = ItemEdit,
    responses(
        (status = 200, description = "The item after the change; the change is logged", body = Item),
        (status = 404, description = "Something it names (a location, room, person or item) does not exist"),
        (status = 409, description = "Refused by the register's rules (the message says why)"),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the message names it)"),
    ),
)]
pub(crate) async fn edit_item(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(barcode): ApiPath<String>,
    ApiJson(edit): ApiJson<ItemEdit>,
) -> Result<Json<Item>, ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    let item = blocking(&state, move |s| {
        register::edit_item(s, &user.name, &barcode, &edit, now_ms())
    })
    .await?;
    Ok(Json(item))
}

/// Body of `POST /api/v1/items/{barcode}/custody`: the action (tagged by
/// `"action"`) and, optionally, when it happened.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CustodyBody {
    #[serde(flatten)]
    action: Action,
    at_ms: Option<i64>,
}

/// `POST /api/v1/items/{barcode}/custody`: records a custody action.
#[utoipa::path(
    post,
    path = "/api/v1/items/{barcode}/custody",
    tag = "register",
    params(("barcode" = String, Path, description = "The item's barcode")),
    request_body = CustodyBody,
    responses(
        (status = 201, description = "The custody event was recorded and logged", body = Recorded),
        (status = 400, description = "`at_ms` is in the future"),
        (status = 404, description = "Something it names (a location, room, person or item) does not exist"),
        (status = 409, description = "Refused by the register's rules (the message says why)"),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the message names it)"),
    ),
)]
pub(crate) async fn record_custody(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(barcode): ApiPath<String>,
    ApiJson(body): ApiJson<CustodyBody>,
) -> Result<(StatusCode, Json<Recorded>), ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    let now = now_ms();
    let at_ms = body.at_ms.unwrap_or(now);
    if at_ms > now + MAX_FUTURE_MS {
        return Err(ApiError::bad_request(format!(
            "at_ms ({at_ms}) is in the future"
        )));
    }
    let recorded = blocking(&state, move |s| {
        register::record_custody(s, &user.name, &barcode, &body.action, at_ms, now)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

/// Query of `GET /api/v1/custody`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustodyListQuery {
    barcode: Option<String>,
    person: Option<String>,
    location: Option<String>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    no_footage: Option<bool>,
    limit: Option<usize>,
}

/// `GET /api/v1/custody` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CustodyList {
    events: Vec<EventWithFootage>,
}

/// `GET /api/v1/custody?barcode=&person=&location=&start_ms=&end_ms=&no_footage=&limit=`:
/// custody events, newest first, with their footage.
#[utoipa::path(
    get,
    path = "/api/v1/custody",
    tag = "register",
    params(CustodyListQuery),
    responses(
        (status = 200, description = "Custody events with their footage, newest first", body = CustodyList),
        (status = 400, description = "A limit out of range"),
    ),
)]
pub(crate) async fn list_custody(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiQuery(q): ApiQuery<CustodyListQuery>,
) -> Result<Json<CustodyList>, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let query = CustodyQuery {
        barcode: q.barcode,
        person: q.person,
        location: q.location,
        from_ms: q.start_ms,
        to_ms: q.end_ms,
        no_footage: q.no_footage.unwrap_or(false),
        limit: limit(q.limit)?,
        oldest_first: false,
    };
    let events = reading(&state, move |s| {
        let events = s.custody_events(&query)?;
        register::with_footage(s, events, now_ms())
    })
    .await?;
    Ok(Json(CustodyList { events }))
}

/// Query of `GET /api/v1/notifications`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotificationsQuery {
    state: Option<String>,
    limit: Option<usize>,
}

/// A notification with its delivery attempts.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationJson {
    #[serde(flatten)]
    notification: custos_store::Notification,
    attempts_made: Vec<custos_store::DeliveryAttempt>,
}

/// `GET /api/v1/notifications` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationList {
    notifications: Vec<NotificationJson>,
}

/// `GET /api/v1/notifications?state=pending|delivered|failed&limit=`: the
/// outbox, newest first, with every delivery attempt (admin, auditor).
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "register",
    params(NotificationsQuery),
    responses(
        (status = 200, description = "Notifications with their delivery attempts, newest first", body = NotificationList),
        (status = 400, description = "An unknown state or a limit out of range"),
    ),
)]
pub(crate) async fn list_notifications(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiQuery(q): ApiQuery<NotificationsQuery>,
) -> Result<Json<NotificationList>, ApiError> {
    require_role(&user, NOTIFICATION_READERS)?;
    if let Some(s) = q.state.as_deref() {
        if !["pending", "delivered", "failed"].contains(&s) {
            return Err(ApiError::bad_request(format!(
                "state {s:?} is not one of: pending, delivered, failed"
            )));
        }
    }
    let limit = limit(q.limit)?;
    let notifications = reading(&state, move |s| {
        let list = s.notifications(q.state.as_deref(), limit)?;
        let mut out = Vec::with_capacity(list.len());
        for n in list {
            let attempts_made = s.delivery_attempts(n.id)?;
            out.push(NotificationJson {
                notification: n,
                attempts_made,
            });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(NotificationList { notifications }))
}

/// Body of `POST /api/v1/inventories`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InventoryBody {
    location: String,
}

/// `POST /api/v1/inventories` `{"location"}`: starts an inventory.
#[utoipa::path(
    post,
    path = "/api/v1/inventories",
    tag = "register",
    request_body = InventoryBody,
    responses(
        (status = 201, description = "The inventory was started; the change is logged", body = Inventory),
        (status = 404, description = "Something it names (a location, room, person or item) does not exist"),
        (status = 409, description = "Refused by the register's rules (the message says why)"),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the message names it)"),
    ),
)]
pub(crate) async fn start_inventory(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiJson(body): ApiJson<InventoryBody>,
) -> Result<(StatusCode, Json<Inventory>), ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    let inv = blocking(&state, move |s| {
        register::start_inventory(s, &user.name, &body.location, now_ms())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(inv)))
}

/// Query of `GET /api/v1/inventories`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct InventoriesQuery {
    location: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/inventories` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct InventoryList {
    inventories: Vec<Inventory>,
}

/// `GET /api/v1/inventories?location=&limit=`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/inventories",
    tag = "register",
    params(InventoriesQuery),
    responses(
        (status = 200, description = "Inventories, newest first", body = InventoryList),
        (status = 400, description = "A limit out of range"),
    ),
)]
pub(crate) async fn list_inventories(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiQuery(q): ApiQuery<InventoriesQuery>,
) -> Result<Json<InventoryList>, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let limit = limit(q.limit)?;
    let inventories = reading(&state, move |s| {
        Ok(s.inventories(q.location.as_deref(), limit)?)
    })
    .await?;
    Ok(Json(InventoryList { inventories }))
}

/// `GET /api/v1/inventories/{id}`: with its scans and, once closed, its report.
#[utoipa::path(
    get,
    path = "/api/v1/inventories/{id}",
    tag = "register",
    params(("id" = i64, Path, description = "The inventory's id")),
    responses(
        (status = 200, description = "The inventory", body = Inventory),
        (status = 404, description = "No such inventory"),
    ),
)]
pub(crate) async fn get_inventory(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Inventory>, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    reading(&state, move |s| Ok(s.inventory(id)?))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("inventory {id} not found")))
}

/// Body of `POST /api/v1/inventories/{id}/scans`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanBody {
    barcode: String,
}

/// `POST /api/v1/inventories/{id}/scans` `{"barcode"}`.
#[utoipa::path(
    post,
    path = "/api/v1/inventories/{id}/scans",
    tag = "register",
    params(("id" = i64, Path, description = "The inventory's id")),
    request_body = ScanBody,
    responses(
        (status = 200, description = "What the scan found; an item in place is recorded as seen", body = ScanResult),
        (status = 404, description = "Something it names (a location, room, person or item) does not exist"),
        (status = 409, description = "Refused by the register's rules (the message says why)"),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the message names it)"),
    ),
)]
pub(crate) async fn scan_inventory(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ScanBody>,
) -> Result<Json<ScanResult>, ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    let barcode = body.barcode.trim().to_owned();
    let result = blocking(&state, move |s| {
        register::scan_inventory(s, &user.name, id, &barcode, now_ms())
    })
    .await?;
    Ok(Json(result))
}

/// `POST /api/v1/inventories/{id}/close`: the report (missing, unexpected,
/// misplaced).
#[utoipa::path(
    post,
    path = "/api/v1/inventories/{id}/close",
    tag = "register",
    params(("id" = i64, Path, description = "The inventory's id")),
    responses(
        (status = 200, description = "The inventory was closed; its report", body = InventoryReport),
        (status = 404, description = "No such inventory"),
        (status = 409, description = "The inventory is already closed"),
    ),
)]
pub(crate) async fn close_inventory(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<InventoryReport>, ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    let report = blocking(&state, move |s| {
        register::close_inventory(s, &user.name, id, now_ms())
    })
    .await?;
    Ok(Json(report))
}

/// The answer to an import with bad rows: the error shape, with every bad
/// row. (An import refused for another reason has no `rows`.)
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ImportRefused {
    /// How many rows are bad.
    error: String,
    /// Each bad row, with its line and column.
    #[schema(required = false)]
    rows: Vec<RowError>,
}

/// Query of `POST /api/v1/register/import`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    /// Which register file this is.
    kind: register::ImportKind,
}

/// `POST /api/v1/register/import?kind=items|people|locations` with the CSV
/// file as the body: every row or none (admin, archivist). A bad file gets
/// 422 with every bad row's line, column and reason. With `Prefer:
/// respond-async` it runs as a job whose progress counts rows.
#[utoipa::path(
    post,
    path = "/api/v1/register/import",
    tag = "register",
    params(ImportQuery, crate::jobs::PreferAsync),
    request_body(content = String, content_type = "text/csv",
        description = "The CSV file (see the custody crate's README for the columns); at most 64 MiB"),
    responses(
        (status = 201, description = "Every row was added (or none: a bad row stops the import)", body = register::ImportSummary),
        (status = 202, description = "Started as a job (`Prefer: respond-async`); its answer, one of the others here, is read at the Location", body = crate::jobs::JobView),
        (status = 409, description = "A row is refused by the register's rules (nothing was imported)"),
        (status = 422, description = "Bad rows, each with its line and column (nothing was imported)", body = ImportRefused),
    ),
)]
pub(crate) async fn import(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Err(e) = require_role(&user, REGISTER_WRITERS) {
        return e.into_response();
    }
    let exists = camera_checker(&state);
    let store = std::sync::Arc::clone(&state.store);
    let by = user.name.clone();
    // Holds the writer only: reads of the index go on meanwhile.
    jobs::run(
        &state,
        &user,
        "import_register",
        &headers,
        move |progress| {
            let guard = store.lock_writer();
            let imported = register::import(
                &guard,
                &by,
                q.kind,
                &body,
                &exists,
                now_ms(),
                &mut |done, total| progress.report(done, total),
            );
            match imported {
                Ok(summary) => jobs::json_answer(StatusCode::CREATED, &summary),
                Err(register::ImportError::Rows(rows)) => jobs::json_answer(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &ImportRefused {
                        error: format!("{} bad row(s); nothing was imported", rows.len()),
                        rows,
                    },
                ),
                Err(register::ImportError::Register(e)) => jobs::error_answer(&ApiError::from(e)),
            }
        },
    )
    .await
}
