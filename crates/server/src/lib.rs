//! The Custos HTTP API.
//!
//! `GET /api/v1/health` is open; every other endpoint needs an
//! `Authorization: Bearer <token>` header (see [`auth`]). Every error is JSON
//! `{"error": "<message>"}` (see [`error`]).

#![warn(missing_docs)]

pub mod alerts;
mod audit;
pub mod auth;
pub mod cameras;
pub mod error;
pub mod events;
pub mod evidence;
pub mod exports;
pub mod live;
mod recordings;
pub mod register;
mod register_api;
mod reports;
pub mod sessions;
pub mod storage;
mod thumbnails;
pub mod tls;
mod users;
mod video;
mod web;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use custos_store::{Store, StoreError};
use serde_json::{json, Value};

pub use auth::{require_role, AuthUser, Credential};
pub use error::ApiError;
pub use video::audit_view;

use cameras::CameraRegistry;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The site index. `Store` is not `Sync`, hence the mutex; it is only
    /// locked on blocking threads (see [`AppState::with_store`]).
    pub store: Arc<Mutex<Store>>,
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
    /// Runs `f` with the store on a blocking thread (the store does
    /// synchronous SQLite I/O, which must not stall the async workers).
    /// `what` describes the operation for error messages.
    pub async fn with_store<T, F>(&self, what: &'static str, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_store_as(what, move |s| {
            f(s).map_err(|e| ApiError::from_store(what, e))
        })
        .await
    }

    /// [`AppState::with_store`] for work whose errors have their own
    /// mapping to an answer (register rules, for instance).
    pub async fn with_store_as<T, E, F>(&self, what: &'static str, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Send + 'static,
        ApiError: From<E>,
        F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        let joined = tokio::task::spawn_blocking(move || {
            // A poisoned lock means a panic while another request held it.
            // Any transaction it had open rolled back when dropped, so the
            // connection is still consistent and refusing all later
            // requests would help no one.
            let guard = store.lock().unwrap_or_else(|e| e.into_inner());
            f(&guard)
        })
        .await;
        match joined {
            Ok(result) => result.map_err(ApiError::from),
            Err(e) => Err(ApiError::internal(what, &e)),
        }
    }
}

/// Milliseconds since the Unix epoch now (0 if the clock is before 1970,
/// which only a broken clock reports).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    let state: SharedState = Arc::new(state);
    let authenticated = Router::new()
        .route("/api/v1/cameras", get(recordings::list_cameras))
        .route("/api/v1/cameras/{id}", get(recordings::camera))
        .route(
            "/api/v1/cameras/{id}/recordings",
            get(recordings::recordings),
        )
        .route("/api/v1/cameras/{id}/video.mp4", get(video::video))
        .route(
            "/api/v1/cameras/{id}/snapshot.jpg",
            get(thumbnails::snapshot),
        )
        .route("/api/v1/storage", get(storage::storage))
        .route("/api/v1/cameras/{id}/live", get(live::live))
        .route("/api/v1/exports", post(exports::create))
        .route("/api/v1/exports/{id}/bundle.tar", get(exports::download))
        .route("/api/v1/events", get(events::list))
        .route("/api/v1/events/{id}/snapshot.jpg", get(events::snapshot))
        .route(
            "/api/v1/locations",
            get(register_api::list_locations).post(register_api::create_location),
        )
        .route(
            "/api/v1/locations/{code}",
            get(register_api::get_location).put(register_api::update_location),
        )
        .route(
            "/api/v1/people",
            get(register_api::list_people).post(register_api::create_person),
        )
        .route(
            "/api/v1/people/{staff_id}",
            get(register_api::get_person).put(register_api::update_person),
        )
        .route(
            "/api/v1/items",
            get(register_api::list_items).post(register_api::create_item),
        )
        .route(
            "/api/v1/items/{barcode}",
            get(register_api::get_item).patch(register_api::edit_item),
        )
        .route(
            "/api/v1/items/{barcode}/custody",
            post(register_api::record_custody),
        )
        .route("/api/v1/custody", get(register_api::list_custody))
        .route(
            "/api/v1/inventories",
            get(register_api::list_inventories).post(register_api::start_inventory),
        )
        .route("/api/v1/inventories/{id}", get(register_api::get_inventory))
        .route(
            "/api/v1/inventories/{id}/scans",
            post(register_api::scan_inventory),
        )
        .route(
            "/api/v1/inventories/{id}/close",
            post(register_api::close_inventory),
        )
        .route(
            "/api/v1/register/import",
            // A register of 100,000 items is about 10 MB of CSV.
            post(register_api::import).layer(axum::extract::DefaultBodyLimit::max(64 << 20)),
        )
        .route("/api/v1/reports/{name}", get(reports::report))
        .route("/api/v1/items/{barcode}/label.svg", get(reports::label))
        .route("/api/v1/labels", get(reports::label_sheet))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route("/api/v1/users/{name}", axum::routing::patch(users::change))
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/log", get(audit::log))
        .route("/api/v1/log/verify", post(audit::verify))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{id}", get(alerts::get))
        .route("/api/v1/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/api/v1/alerts/{id}/resolve", post(alerts::resolve))
        .route(
            "/api/v1/notifications",
            get(register_api::list_notifications),
        )
        .route("/api/v1/logout", post(sessions::logout))
        .route("/api/v1/session", get(sessions::current))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_auth,
        ));
    Router::new()
        .route("/", get(web::index))
        .route("/app/{file}", get(web::file))
        .route("/api/v1/health", get(health))
        .route("/api/v1/login", post(sessions::login))
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

/// `GET /api/v1/health`: the process is up and answering.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
