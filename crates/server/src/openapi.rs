//! The API's OpenAPI 3.1 document, `GET /api/v1/openapi.json`.
//!
//! It is generated from the code, never written by hand: every API route is
//! registered in [`crate::router`] through `utoipa_axum`'s `routes!`, which
//! takes the path, method, parameters, bodies and answers from the handler's
//! `#[utoipa::path]` annotation, so a route without an annotation does not
//! compile (and a plain axum `.route(…)` for the API fails this module's
//! tests). Each authenticated operation's `operationId` and the roles that
//! may call it (the `x-custos-roles` extension) come from the one table in
//! [`crate::roles`], which access control reads too.
//!
//! What every operation has in common is added here, from how the router
//! is built rather than from the annotations: the credentials of the
//! authenticated routes (bearer token, or session cookie plus CSRF header
//! for anything but GET), and the answers the shared extractors and the
//! authentication layer give (400, 401, 403, 415, 422, 500), all in the one
//! error shape `{"error": "…"}`.

use std::sync::OnceLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Response as DocResponse,
    ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use crate::auth::{CSRF_HEADER, SESSION_COOKIE};
use crate::error::ErrorBody;
use crate::roles;

/// Name of the bearer-token security scheme.
pub const BEARER: &str = "bearer";
/// Name of the session-cookie security scheme.
pub const SESSION: &str = "session";
/// Name of the CSRF-header security scheme (with [`SESSION`], for requests
/// that may change something).
pub const CSRF: &str = "csrf";
/// The extension that lists the roles allowed to call an operation.
pub const ROLES_EXTENSION: &str = "x-custos-roles";

/// Routes that serve the web app rather than the API; they are not in the
/// document.
pub const WEB_ROUTES: &[&str] = &["/", "/app/{file}", "/app/pages/{file}"];

/// The whole document.
pub fn openapi() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Custos API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The HTTP API of one Custos site: cameras and their recordings, events, \
                     evidence exports, the custody register, alerts, the audit trail and users.\n\n\
                     Every endpoint but health, sign-in and this document needs credentials: \
                     `Authorization: Bearer cst_…` (tokens from `custos token create`), or the \
                     `custos_session` cookie a sign-in sets, with the session's CSRF token in \
                     `X-CSRF-Token` on every request but GET. `x-custos-roles` on each \
                     operation lists the roles (admin, auditor, archivist, viewer) that may call \
                     it; every other role gets 403 before anything else is checked.\n\n\
                     Every error is JSON `{\"error\": \"…\"}`.\n\n\
                     `/`, `/app/{file}` and `/app/pages/{file}` serve the web app and are not described here.",
                ))
                .build(),
        )
        .build();
    let mut authenticated = crate::authenticated_routes().into_openapi();
    require_credentials(&mut authenticated);
    name_roles(&mut authenticated);
    // Checks its own credentials (it also takes the metrics token), but
    // like the others needs them.
    let mut metrics = crate::metrics_routes().into_openapi();
    require_credentials(&mut metrics);
    name_roles(&mut metrics);
    doc.merge(crate::open_routes().into_openapi());
    doc.merge(authenticated);
    doc.merge(metrics);
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    components.security_schemes.insert(
        BEARER.into(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("cst_…")
                .description(Some(
                    "An API token made with `custos token create USER`; it acts with the \
                     user's role.",
                ))
                .build(),
        )),
    );
    components.security_schemes.insert(
        SESSION.into(),
        RefOr::T(SecurityScheme::ApiKey(ApiKey::Cookie(
            ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie set by POST /api/v1/login.",
            ),
        ))),
    );
    components.security_schemes.insert(
        CSRF.into(),
        RefOr::T(SecurityScheme::ApiKey(ApiKey::Header(
            ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's CSRF token (from the sign-in's answer or GET /api/v1/session); \
             required with the session cookie on every request but GET, HEAD and OPTIONS.",
            ),
        ))),
    );
    debug_assert!(CSRF_HEADER.eq_ignore_ascii_case("X-CSRF-Token"));
    for item in doc.paths.paths.values_mut() {
        for (_, op) in operations_mut(item) {
            common_answers(op);
        }
    }
    doc
}

/// Gives every operation of `doc` that [`roles::OPERATIONS`] lists its id
/// and its `x-custos-roles` from there.
fn name_roles(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations_mut(item) {
            let Some(entry) = roles::operation(method, path) else {
                continue;
            };
            op.operation_id = Some(entry.id.to_owned());
            let names: Vec<&str> = entry.roles.iter().map(|r| r.as_str()).collect();
            op.extensions
                .get_or_insert_with(Extensions::default)
                .insert(ROLES_EXTENSION.to_owned(), serde_json::json!(names));
        }
    }
}

/// The document as served, built once.
fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        // Serialising plain data to a string cannot fail.
        openapi().to_pretty_json().unwrap_or_default()
    })
}

/// `GET /api/v1/openapi.json`: this API's OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API",
        content_type = "application/json", body = Object)),
)]
pub(crate) async fn document() -> Response {
    let mut response = document_json().into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Every operation of a path, with its method.
pub fn operations_mut(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
    .collect()
}

/// Marks every operation of `doc` as needing credentials (what
/// [`crate::auth::require_auth`] enforces on these routes).
fn require_credentials(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for (method, op) in operations_mut(item) {
            let safe = matches!(method, "get" | "head" | "options");
            let session = if safe {
                SecurityRequirement::new(SESSION, Vec::<String>::new())
            } else {
                SecurityRequirement::new(SESSION, Vec::<String>::new())
                    .add(CSRF, Vec::<String>::new())
            };
            op.security = Some(vec![
                SecurityRequirement::new(BEARER, Vec::<String>::new()),
                session,
            ]);
            add_answer(
                op,
                401,
                "No valid credentials: no or a malformed `Authorization` header, an unknown or \
                 revoked token, a disabled user, or a session that has ended",
            );
            add_answer(
                op,
                403,
                if safe {
                    "The user's role may not do this"
                } else {
                    "The user's role may not do this, or a session-cookie request without the \
                     session's CSRF token in `X-CSRF-Token`"
                },
            );
        }
    }
}

/// Adds the answers the shared extractors give, where the annotation did
/// not describe them itself.
fn common_answers(op: &mut Operation) {
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let json_body = op.request_body.as_ref().is_some_and(|b| match b {
        RefOr::T(b) => b.content.contains_key("application/json"),
        RefOr::Ref(_) => false,
    });
    if has_params || json_body {
        add_answer(
            op,
            400,
            "A path or query parameter, or the JSON body, cannot be read (the message names it)",
        );
    }
    if json_body {
        add_answer(op, 415, "The body is not sent as `application/json`");
        add_answer(
            op,
            422,
            "The JSON body lacks a field or has one of the wrong type (the message names it)",
        );
    }
    add_answer(
        op,
        500,
        "Internal error; the details are in the server's log",
    );
    // Errors the annotation describes without a body have the error shape.
    for (status, answer) in op.responses.responses.iter_mut() {
        if let RefOr::T(answer) = answer {
            if status.starts_with(['4', '5']) && answer.content.is_empty() {
                if let RefOr::T(with_body) = error_response(&answer.description) {
                    answer.content = with_body.content;
                }
            }
        }
    }
}

/// Adds an error answer with `status` unless the operation has one.
fn add_answer(op: &mut Operation, status: u16, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| error_response(description));
}

/// An answer whose body is the error shape.
fn error_response(description: &str) -> RefOr<DocResponse> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                    .build(),
            )
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API's routes are registered only through `routes!` (which needs
    /// an annotation); a plain `.route(` in the router is for the web app
    /// alone. This catches an API route added without one.
    #[test]
    fn every_plain_route_serves_the_web_app() {
        // The code of lib.rs, without its comments.
        let source: String = include_str!("lib.rs")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut plain = Vec::new();
        for (i, _) in source.match_indices(".route(") {
            let rest = &source[i + ".route(".len()..];
            let path = rest
                .trim_start()
                .strip_prefix('"')
                .and_then(|r| r.split_once('"'))
                .map(|(p, _)| p.to_owned());
            plain.push(path.unwrap_or_else(|| rest.chars().take(60).collect()));
        }
        let undocumented: Vec<&String> = plain
            .iter()
            .filter(|p| !WEB_ROUTES.contains(&p.as_str()))
            .collect();
        assert!(
            undocumented.is_empty(),
            "routes added with a plain .route(…) are missing from the OpenAPI document; \
             annotate the handler with #[utoipa::path] and register it with routes!: {undocumented:?}"
        );
        assert_eq!(plain.len(), WEB_ROUTES.len(), "{plain:?}");
    }

    #[test]
    fn every_path_parameter_is_declared() {
        let mut doc = openapi();
        for (path, item) in doc.paths.paths.iter_mut() {
            let names: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, op) in operations_mut(item) {
                let declared: Vec<String> = op
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        RefOr::T(p)
                            if p.parameter_in == utoipa::openapi::path::ParameterIn::Path =>
                        {
                            Some(p.name.clone())
                        }
                        _ => None,
                    })
                    .collect();
                for n in &names {
                    assert!(
                        declared.iter().any(|d| d == n),
                        "{method} {path}: path parameter {n} is not declared"
                    );
                }
                assert_eq!(declared.len(), names.len(), "{method} {path}: {declared:?}");
            }
        }
    }

    #[test]
    fn every_authenticated_operation_names_its_roles() {
        let mut doc = openapi();
        assert!(!doc.paths.paths.is_empty());
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations_mut(item) {
                let roles = op
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get(ROLES_EXTENSION))
                    .cloned();
                if op.security.is_some() {
                    let roles = roles.unwrap_or_else(|| {
                        panic!("{method} {path} needs credentials but has no {ROLES_EXTENSION}")
                    });
                    let list = roles.as_array().cloned().unwrap_or_default();
                    assert!(!list.is_empty(), "{method} {path}: {roles}");
                    for r in list {
                        assert!(
                            ["admin", "auditor", "archivist", "viewer"]
                                .contains(&r.as_str().unwrap_or("")),
                            "{method} {path}: unknown role {r}"
                        );
                    }
                } else {
                    assert!(roles.is_none(), "{method} {path} is open but lists roles");
                }
                assert!(
                    op.operation_id.is_some(),
                    "{method} {path} has no operation id"
                );
            }
        }
    }

    /// The document and access control read one table: each operation
    /// that needs credentials has the table's id and roles, and each entry
    /// of the table is a documented operation.
    #[test]
    fn the_roles_in_the_document_are_the_table() {
        let mut doc = openapi();
        let mut seen = Vec::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations_mut(item) {
                if op.security.is_none() {
                    continue;
                }
                let entry = roles::operation(method, path)
                    .unwrap_or_else(|| panic!("{method} {path} is not in the role table"));
                assert_eq!(
                    op.operation_id.as_deref(),
                    Some(entry.id),
                    "{method} {path}"
                );
                let listed = op
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get(ROLES_EXTENSION))
                    .cloned();
                let names: Vec<&str> = entry.roles.iter().map(|r| r.as_str()).collect();
                assert_eq!(listed, Some(serde_json::json!(names)), "{method} {path}");
                seen.push(entry.id);
            }
        }
        let missing: Vec<&str> = roles::OPERATIONS
            .iter()
            .map(|o| o.id)
            .filter(|id| !seen.contains(id))
            .collect();
        assert!(
            missing.is_empty(),
            "in the role table but not routed: {missing:?}"
        );
        // Operation ids are unique in the whole document, open ones too.
        let mut ids: Vec<String> = doc
            .paths
            .paths
            .values_mut()
            .flat_map(|item| {
                operations_mut(item)
                    .into_iter()
                    .filter_map(|(_, op)| op.operation_id.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        let all = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all, "an operation id is used twice");
    }

    #[test]
    fn the_document_is_openapi_3_1() -> Result<(), Box<dyn std::error::Error>> {
        let v: serde_json::Value = serde_json::from_str(document_json())?;
        assert_eq!(v["openapi"], "3.1.0");
        assert!(v["paths"]["/api/v1/openapi.json"]["get"].is_object());
        assert!(v["paths"]["/api/v1/health"]["get"]["security"].is_null());
        let cameras = &v["paths"]["/api/v1/cameras"]["get"];
        assert_eq!(cameras["security"][0]["bearer"], serde_json::json!([]));
        assert_eq!(
            cameras["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        assert!(v["components"]["securitySchemes"]["session"].is_object());
        Ok(())
    }
}
