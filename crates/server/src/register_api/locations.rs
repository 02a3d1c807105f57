//! Locations over HTTP: rooms, shelves and tables, with the cameras that
//! cover them.

use super::*;

/// Body of `POST /api/v1/locations` and `PUT /api/v1/locations/{code}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LocationBody {
    code: Option<String>,
    name: String,
    #[serde(default = "default_kind")]
    kind: LocationKind,
    room: Option<String>,
    #[serde(default)]
    coverage: Vec<Coverage>,
    #[serde(default)]
    retired: bool,
}

fn default_kind() -> LocationKind {
    LocationKind::Room
}

/// A location with what the API adds to it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LocationJson {
    #[serde(flatten)]
    location: Location,
    /// No camera sees it, directly or through its room.
    blind_spot: bool,
}

/// `GET /api/v1/locations` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LocationList {
    locations: Vec<LocationJson>,
}

fn with_blind_spots(all: Vec<Location>) -> Vec<LocationJson> {
    let blind: std::collections::HashSet<String> = custos_custody::rules::blind_spots(&all)
        .into_iter()
        .map(|l| l.code.clone())
        .collect();
    all.into_iter()
        .map(|location| LocationJson {
            blind_spot: blind.contains(&location.code),
            location,
        })
        .collect()
}

/// `GET /api/v1/locations`.
#[utoipa::path(
    get,
    path = "/api/v1/locations",
    tag = "register",
    responses((status = 200, description = "Every location, with whether it is a blind spot", body = LocationList)),
)]
pub(crate) async fn list_locations(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<LocationList>, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let all = reading(&state, |s| Ok(s.locations()?)).await?;
    Ok(Json(LocationList {
        locations: with_blind_spots(all),
    }))
}

/// `GET /api/v1/locations/{code}`.
#[utoipa::path(
    get,
    path = "/api/v1/locations/{code}",
    tag = "register",
    params(("code" = String, Path, description = "The location's code")),
    responses(
        (status = 200, description = "The location", body = LocationJson),
        (status = 404, description = "No such location"),
    ),
)]
pub(crate) async fn get_location(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<LocationJson>, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let all = reading(&state, |s| Ok(s.locations()?)).await?;
    with_blind_spots(all)
        .into_iter()
        .find(|l| l.location.code == code)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("location {code:?} not found")))
}

/// `POST /api/v1/locations`.
#[utoipa::path(
    post,
    path = "/api/v1/locations",
    tag = "register",
    request_body = LocationBody,
    responses(
        (status = 201, description = "The location was added; the change is logged", body = Location),
        (status = 400, description = "No code"),
        (status = 404, description = "Something it names (a location, room, person or item) does not exist"),
        (status = 409, description = "Refused by the register's rules (the message says why)"),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the message names it)"),
    ),
)]
pub(crate) async fn create_location(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiJson(body): ApiJson<LocationBody>,
) -> Result<(StatusCode, Json<Location>), ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    let code = body
        .code
        .clone()
        .ok_or_else(|| ApiError::bad_request("code is required"))?;
    let location = location_from(code, body);
    let exists = camera_checker(&state);
    let l = location.clone();
    blocking(&state, move |s| {
        register::create_location(s, &user.name, &l, &exists, now_ms())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(location)))
}

fn location_from(code: String, body: LocationBody) -> Location {
    Location {
        code,
        name: body.name,
        kind: body.kind,
        room: body.room,
        coverage: body.coverage,
        retired: body.retired,
    }
}

/// `PUT /api/v1/locations/{code}`: replaces its fields (retire with
/// `"retired": true`).
#[utoipa::path(
    put,
    path = "/api/v1/locations/{code}",
    tag = "register",
    params(("code" = String, Path, description = "The location's code")),
    request_body = LocationBody,
    responses(
        (status = 200, description = "The location after the change; the change is logged", body = Location),
        (status = 400, description = "The body names another code"),
        (status = 404, description = "Something it names (a location, room, person or item) does not exist"),
        (status = 409, description = "Refused by the register's rules (the message says why)"),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the message names it)"),
    ),
)]
pub(crate) async fn update_location(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<LocationBody>,
) -> Result<Json<Location>, ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    if body.code.as_ref().is_some_and(|c| c != &code) {
        return Err(ApiError::bad_request(
            "a location's code cannot change; retire it and add a new one",
        ));
    }
    let location = location_from(code, body);
    let exists = camera_checker(&state);
    let l = location.clone();
    blocking(&state, move |s| {
        register::update_location(s, &user.name, &l, &exists, now_ms())
    })
    .await?;
    Ok(Json(location))
}
