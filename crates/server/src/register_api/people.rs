//! People over HTTP: staff, readers and contractors who may hold items.

use super::*;

/// Body of `POST /api/v1/people` and `PUT /api/v1/people/{staff_id}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PersonBody {
    staff_id: Option<String>,
    name: String,
    #[serde(default = "default_role")]
    role: PersonRole,
    badge: Option<String>,
    #[serde(default)]
    retired: bool,
}

fn default_role() -> PersonRole {
    PersonRole::Staff
}

fn person_from(staff_id: String, body: PersonBody) -> Person {
    Person {
        staff_id,
        name: body.name,
        role: body.role,
        badge: body.badge,
        retired: body.retired,
    }
}

/// `GET /api/v1/people` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PeopleList {
    people: Vec<Person>,
}

/// `GET /api/v1/people`.
#[utoipa::path(
    get,
    path = "/api/v1/people",
    tag = "register",
    responses((status = 200, description = "Every person", body = PeopleList)),
)]
pub(crate) async fn list_people(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<PeopleList>, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let people = reading(&state, |s| Ok(s.people()?)).await?;
    Ok(Json(PeopleList { people }))
}

/// `GET /api/v1/people/{staff_id}`.
#[utoipa::path(
    get,
    path = "/api/v1/people/{staff_id}",
    tag = "register",
    params(("staff_id" = String, Path, description = "The person's staff id")),
    responses(
        (status = 200, description = "The person", body = Person),
        (status = 404, description = "No such person"),
    ),
)]
pub(crate) async fn get_person(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(staff_id): ApiPath<String>,
) -> Result<Json<Person>, ApiError> {
    require_role(&user, REGISTER_READERS)?;
    let id = staff_id.clone();
    reading(&state, move |s| Ok(s.person(&id)?))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("person {staff_id:?} not found")))
}

/// `POST /api/v1/people`.
#[utoipa::path(
    post,
    path = "/api/v1/people",
    tag = "register",
    request_body = PersonBody,
    responses(
        (status = 201, description = "The person was added; the change is logged", body = Person),
        (status = 400, description = "No staff_id"),
        (status = 404, description = "Something it names (a location, room, person or item) does not exist"),
        (status = 409, description = "Refused by the register's rules (the message says why)"),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the message names it)"),
    ),
)]
pub(crate) async fn create_person(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiJson(body): ApiJson<PersonBody>,
) -> Result<(StatusCode, Json<Person>), ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    let staff_id = body
        .staff_id
        .clone()
        .ok_or_else(|| ApiError::bad_request("staff_id is required"))?;
    let person = person_from(staff_id, body);
    let p = person.clone();
    blocking(&state, move |s| {
        register::create_person(s, &user.name, &p, now_ms())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(person)))
}

/// `PUT /api/v1/people/{staff_id}` (retire with `"retired": true`).
#[utoipa::path(
    put,
    path = "/api/v1/people/{staff_id}",
    tag = "register",
    params(("staff_id" = String, Path, description = "The person's staff id")),
    request_body = PersonBody,
    responses(
        (status = 200, description = "The person after the change; the change is logged", body = Person),
        (status = 400, description = "The body names another staff id"),
        (status = 404, description = "Something it names (a location, room, person or item) does not exist"),
        (status = 409, description = "Refused by the register's rules (the message says why)"),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the message names it)"),
    ),
)]
pub(crate) async fn update_person(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(staff_id): ApiPath<String>,
    ApiJson(body): ApiJson<PersonBody>,
) -> Result<Json<Person>, ApiError> {
    require_role(&user, REGISTER_WRITERS)?;
    if body.staff_id.as_ref().is_some_and(|c| c != &staff_id) {
        return Err(ApiError::bad_request("a person's staff id cannot change"));
    }
    let person = person_from(staff_id, body);
    let p = person.clone();
    blocking(&state, move |s| {
        register::update_person(s, &user.name, &p, now_ms())
    })
    .await?;
    Ok(Json(person))
}
