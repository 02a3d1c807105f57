//! API errors, and extractors whose rejections are API errors.
//!
//! Every error response is `{"error": "<message>"}` with a fitting status, so
//! clients need one way of reading failures.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use custos_store::{ErrorKind, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// An error answer: a status and a message safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody<'a> {
    /// What went wrong, in plain words.
    error: &'a str,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request's parameters are wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: no valid credentials; the response asks for a bearer token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: authenticated, but the role does not allow it.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404: the named thing does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500 for a failure whose details must stay in the log: `what` says
    /// what the server was doing, `detail` what went wrong (logged only,
    /// since it may hold file paths or database internals).
    pub fn internal(what: &str, detail: &dyn std::fmt::Display) -> Self {
        tracing::error!("{what}: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error while {what}; see the server log"),
        )
    }

    /// Maps a store error by its kind; `what` says what the server was doing.
    pub fn from_store(what: &str, err: StoreError) -> Self {
        match err.kind() {
            ErrorKind::NotFound => Self::not_found(err.to_string()),
            ErrorKind::InvalidArgument => Self::bad_request(err.to_string()),
            ErrorKind::AlreadyExists | ErrorKind::Conflict => {
                Self::new(StatusCode::CONFLICT, err.to_string())
            }
            ErrorKind::Internal => Self::internal(what, &err),
        }
    }

    /// The answer to something that could not be logged, and so was not
    /// done; `what` says what the server was doing.
    pub fn not_logged(what: &str, err: custos_site::NotLogged) -> Self {
        match err {
            custos_site::NotLogged::Encoding(e) => Self::internal(what, &e),
            custos_site::NotLogged::Store(e) => Self::from_store(what, e),
        }
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: &self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a 401 names the scheme the client should use.
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Query-string extractor whose rejection is a JSON 400 naming the bad
/// parameter (axum's own answers in plain text).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

/// Turns axum's query rejection into a JSON error with its explanation.
fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}

/// JSON-body extractor whose rejection is a JSON error naming what is wrong
/// with the body (missing content type, bad syntax, a missing or mistyped
/// field).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}

/// Path-parameter extractor whose rejection is a JSON error.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

/// Turns axum's path rejection into a JSON error. A missing path parameter
/// is a routing bug (500, logged); a parameter that cannot be decoded is the
/// client's (400).
fn path_rejection(rejection: PathRejection) -> ApiError {
    let status = rejection.status();
    if status.is_server_error() {
        ApiError::internal("reading the path parameters", &rejection.body_text())
    } else {
        ApiError::new(status, rejection.body_text())
    }
}

/// Fallback for paths no route matches.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {method} {}", uri.path()))
}

/// Fallback for a known path with a method it does not serve (axum adds the
/// `Allow` header).
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed on {}", uri.path()),
    )
}
