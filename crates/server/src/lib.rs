//! The Custos HTTP API.
//!
//! `GET /api/v1/health`, `POST /api/v1/login` and `GET /api/v1/openapi.json`
//! are open; every other endpoint needs an `Authorization: Bearer <token>`
//! header or a session cookie (see [`auth`]). Every error is JSON
//! `{"error": "<message>"}` (see [`error`]). The OpenAPI document is
//! generated from the handlers' annotations (see [`openapi`]).

#![warn(missing_docs)]

pub mod alerts;
mod audit;
pub mod auth;
pub mod error;
pub mod escrow;
pub mod events;
mod exports;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod openapi;
mod recordings;
mod register_api;
mod reports;
pub mod roles;
mod scope;
pub mod sessions;
mod settings;
pub mod storage;
mod thumbnails;
pub mod tls;
mod users;
mod video;
mod web;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Json, Router};
use custos_store::pool::StorePool;
use custos_store::{Store, StoreError};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use auth::{require_role, AuthUser, Credential};
pub use error::ApiError;
pub use video::audit_view;

use custos_site::cameras::CameraRegistry;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The site index: one writer and several readers, only used on
    /// blocking threads (see [`AppState::read`] and [`AppState::write`]).
    pub store: Arc<StorePool>,
    /// Directory that segment paths in the index are relative to.
    pub data_dir: PathBuf,
    /// Live status of the configured cameras.
    pub cameras: Arc<CameraRegistry>,
    /// Name of this site.
    pub site: String,
    /// Where the site's log is, and the key its checkpoints verify with.
    pub log: LogAccess,
    /// Failed sign-ins remembered for throttling and lock-out.
    pub login_throttle: Arc<sessions::LoginThrottle>,
    /// Mark the session cookie `Secure` (the server runs TLS).
    pub secure_cookies: bool,
    /// Notification destinations that receive alerts.
    pub alert_destinations: Vec<String>,
    /// Every camera's live frames, for live view.
    pub live: Arc<live::LiveHub>,
    /// Who may read `GET /metrics`; `None` while metrics are off.
    pub metrics: metrics::Access,
    /// Where the site's settings are kept, when this process may change
    /// them (see [`custos_site::settings`]); `None` makes the settings API
    /// answer 404.
    pub settings: Option<Arc<dyn custos_site::settings::SiteSettings>>,
    /// Long requests started with `Prefer: respond-async` (see [`jobs`]).
    pub jobs: Arc<jobs::Jobs>,
    /// The site's escrow, when it has one (`[escrow]`).
    pub escrow: Option<escrow::EscrowAccess>,
}

/// Read access to the site's Merkle log.
#[derive(Clone, Debug)]
pub struct LogAccess {
    /// The log's directory (read-only here; the site's log writer appends).
    pub dir: PathBuf,
    /// The verifier key of the site's checkpoints.
    pub verifier: custos_ledger::note::VerifierKey,
}

/// The state as the router holds it: one allocation shared by all requests
/// instead of cloning paths and strings per request.
pub(crate) type SharedState = Arc<AppState>;

impl AppState {
    /// Runs `f` with a reader of the index on a blocking thread (the store
    /// does synchronous SQLite I/O, which must not stall the async workers).
    /// Readers run beside each other and beside a write; a write through
    /// one fails (read-only connection). `what` describes the operation for
    /// error messages.
    pub async fn read<T, F>(&self, what: &'static str, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.read_as(what, move |s| {
            f(s).map_err(|e| ApiError::from_store(what, e))
        })
        .await
    }

    /// [`AppState::read`] for work whose errors have their own mapping to an
    /// answer (register rules, for instance).
    pub async fn read_as<T, E, F>(&self, what: &'static str, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Send + 'static,
        ApiError: From<E>,
        F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        blocking(what, move || store.read(f)).await
    }

    /// Runs `f` with the index's writer on a blocking thread, after the
    /// writes before it (SQLite has one writer at a time).
    pub async fn write<T, F>(&self, what: &'static str, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_as(what, move |s| {
            f(s).map_err(|e| ApiError::from_store(what, e))
        })
        .await
    }

    /// [`AppState::write`] for work whose errors have their own mapping to
    /// an answer.
    pub async fn write_as<T, E, F>(&self, what: &'static str, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Send + 'static,
        ApiError: From<E>,
        F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        blocking(what, move || store.write(f)).await
    }

    /// Runs `f` with the writer only if it is free; `None` if another write
    /// holds it. For bookkeeping that may lag (when a credential was last
    /// used), which must not make a request wait for a long import.
    pub async fn try_write<T, F>(&self, what: &'static str, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> T + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        match tokio::task::spawn_blocking(move || store.try_write(f)).await {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!("{what}: {e}");
                None
            }
        }
    }
}

/// Runs `f` on a blocking thread and maps its error to an answer.
async fn blocking<T, E>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Send + 'static,
    ApiError: From<E>,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError::internal(what, &e)),
    }
}

pub(crate) use custos_site::clock::now_ms;

/// The API routes that need credentials, each registered with its
/// `#[utoipa::path]` annotation (see [`openapi`]); [`router`] puts them
/// behind [`auth::require_auth`].
pub(crate) fn authenticated_routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(recordings::list_cameras))
        .routes(routes!(recordings::camera))
        .routes(routes!(recordings::recordings))
        .routes(routes!(video::video))
        .routes(routes!(thumbnails::snapshot))
        .routes(routes!(storage::storage))
        .routes(routes!(escrow::escrow))
        .routes(routes!(live::live))
        .routes(routes!(exports::create))
        .routes(routes!(exports::download))
        .routes(routes!(events::list))
        .routes(routes!(events::snapshot))
        .routes(routes!(
            register_api::list_locations,
            register_api::create_location
        ))
        .routes(routes!(
            register_api::get_location,
            register_api::update_location
        ))
        .routes(routes!(
            register_api::list_people,
            register_api::create_person
        ))
        .routes(routes!(
            register_api::get_person,
            register_api::update_person
        ))
        .routes(routes!(register_api::list_items, register_api::create_item))
        .routes(routes!(register_api::get_item, register_api::edit_item))
        .routes(routes!(register_api::record_custody))
        .routes(routes!(register_api::list_custody))
        .routes(routes!(
            register_api::list_inventories,
            register_api::start_inventory
        ))
        .routes(routes!(register_api::get_inventory))
        .routes(routes!(register_api::scan_inventory))
        .routes(routes!(register_api::close_inventory))
        // A register of 100,000 items is about 10 MB of CSV.
        .routes(routes!(register_api::import).layer(DefaultBodyLimit::max(64 << 20)))
        .routes(routes!(reports::report))
        .routes(routes!(reports::label))
        .routes(routes!(reports::label_sheet))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::change))
        .routes(routes!(users::unlock))
        .routes(routes!(settings::list_cameras))
        .routes(routes!(settings::put_camera))
        .routes(routes!(settings::get_hours, settings::put_hours))
        .routes(routes!(settings::probe))
        .routes(routes!(audit::list))
        .routes(routes!(audit::log))
        .routes(routes!(audit::verify))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::get))
        .routes(routes!(alerts::acknowledge))
        .routes(routes!(alerts::resolve))
        .routes(routes!(register_api::list_notifications))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(sessions::logout))
        .routes(routes!(sessions::current))
}

/// The API routes open to anyone.
pub(crate) fn open_routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(sessions::login))
        .routes(routes!(openapi::document))
}

/// `GET /metrics`, which authenticates itself: a scraper may send the
/// metrics token, which is no user's.
pub(crate) fn metrics_routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(metrics::metrics))
}

/// The API's routes, and the web app's.
///
/// API routes are added only with `routes!` in [`authenticated_routes`] or
/// [`open_routes`], so each is in the OpenAPI document; a plain `.route(…)`
/// here is for the web app alone (a test checks).
pub fn router(state: AppState) -> Router {
    let state: SharedState = Arc::new(state);
    let (authenticated, _) = authenticated_routes().split_for_parts();
    let (open, _) = open_routes().split_for_parts();
    let (metrics, _) = metrics_routes().split_for_parts();
    let authenticated = authenticated.route_layer(middleware::from_fn_with_state(
        Arc::clone(&state),
        auth::require_auth,
    ));
    Router::new()
        .route("/", get(web::index))
        .route("/app/{file}", get(web::file))
        .route("/app/pages/{file}", get(web::page))
        .merge(open)
        .merge(metrics)
        .merge(authenticated)
        // After the routes: it replaces the fallback of those already added.
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::not_found)
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then lets
/// requests in progress finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // With the peer's address, so sign-ins can be logged and throttled by it.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// [`serve`] over TLS.
pub async fn serve_tls(
    listener: tls::TlsListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<tls::PeerAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Answer of `GET /api/v1/health`.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// `GET /api/v1/health`: the process is up and answering.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "meta",
    responses((status = 200, description = "The process is up and answering", body = Health)),
)]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}
