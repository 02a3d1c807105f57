//! The centre's web app and the JSON API it reads: every site's health
//! on one page (and on a map, for sites with coordinates), alerts across
//! sites, a site's page with its witness state, the register across sites,
//! and for admins sites, users and the audit trail.
//!
//! The same security as the site's app: a sign-in sets an `HttpOnly`,
//! `SameSite=Strict` session cookie (`Secure` behind HTTPS), a request
//! that changes anything must carry the session's CSRF token, and the
//! files are served with the site's strict Content-Security-Policy
//! ([`custos_webapp::files`]). Each operation names the roles that may
//! call it ([`OPERATIONS`]); a user limited to a region sees and changes
//! only that region's sites — another site is answered 404, as if it did
//! not exist.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custos_webapp::credentials::{
    constant_time_eq, cookie_secret, csrf_token, dummy_password_hash, password_matches,
};
use custos_webapp::files::{self, App};
use custos_webapp::throttle::account_key;
use serde::{Deserialize, Serialize};

use crate::http::Central;
use crate::sites::Place;
use crate::users::{self, Role, User};
use crate::{alerts, now_ms, register, reports, sites, witness, CentralError};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "custos_session";
/// Header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Every role reads the sites' health and alerts.
const READERS: &[Role] = &Role::ALL;
/// Who acknowledges and resolves alerts and searches the register.
const AUDITORS: &[Role] = &[Role::Admin, Role::Auditor];
/// Who lists users and reads the audit trail (every site's lines).
const ADMINS: &[Role] = &[Role::Admin];

/// Every operation of the app's API and who may call it; the session's
/// answer lists the ones its role may, so the app shows only those.
pub const OPERATIONS: &[(&str, &[Role])] = &[
    ("list_sites", READERS),
    ("list_alerts", READERS),
    ("change_alerts", AUDITORS),
    ("search_register", AUDITORS),
    ("list_users", ADMINS),
    ("change_users", ADMINS),
    ("change_sites", ADMINS),
    ("read_audit", ADMINS),
];

fn operations_for(role: Role) -> Vec<&'static str> {
    OPERATIONS
        .iter()
        .filter(|(_, roles)| roles.contains(&role))
        .map(|(id, _)| *id)
        .collect()
}

/// An API error: its status and a sentence for the person.
#[derive(Debug)]
pub struct WebError {
    status: StatusCode,
    message: String,
}

impl WebError {
    fn new(status: StatusCode, message: impl Into<String>) -> WebError {
        WebError {
            status,
            message: message.into(),
        }
    }

    fn no_site(name: &str) -> WebError {
        WebError::new(StatusCode::NOT_FOUND, format!("no site named {name:?}"))
    }
}

impl From<CentralError> for WebError {
    fn from(e: CentralError) -> WebError {
        match e {
            CentralError::Invalid(message) => WebError::new(StatusCode::BAD_REQUEST, message),
            CentralError::NoSuchSite(name) => WebError::no_site(&name),
            other => {
                tracing::error!("{other}");
                WebError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the central office cannot answer now; try again later",
                )
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// A listener whose connections come with the client's address, which
/// sign-ins record (axum gives it for a plain TCP listener only).
pub struct WithPeer<L>(pub L);

impl<L: axum::serve::Listener<Addr = SocketAddr>> axum::serve::Listener for WithPeer<L> {
    type Io = L::Io;
    type Addr = SocketAddr;

    fn accept(&mut self) -> impl std::future::Future<Output = (Self::Io, Self::Addr)> + Send {
        self.0.accept()
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The client's address of a connection accepted by [`WithPeer`].
#[derive(Clone, Copy, Debug)]
pub struct ClientSocket(pub SocketAddr);

impl<L: axum::serve::Listener<Addr = SocketAddr>>
    Connected<axum::serve::IncomingStream<'_, WithPeer<L>>> for ClientSocket
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, WithPeer<L>>) -> Self {
        ClientSocket(*stream.remote_addr())
    }
}

/// The client's address, when the server was started with it.
fn client_address(parts_extensions: &axum::http::Extensions) -> String {
    parts_extensions
        .get::<ConnectInfo<ClientSocket>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0 .0.ip().to_string())
}

/// A request signed in by a live session: its user, and for changes, its
/// CSRF token checked.
pub struct SignedIn {
    session: users::Session,
    csrf: String,
}

impl SignedIn {
    fn require(&self, operation: &str) -> Result<(), WebError> {
        let allowed = OPERATIONS
            .iter()
            .find(|(id, _)| *id == operation)
            .is_some_and(|(_, roles)| roles.contains(&self.session.user.role));
        if allowed {
            Ok(())
        } else {
            Err(WebError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "role {} may not do this ({operation})",
                    self.session.user.role.as_str()
                ),
            ))
        }
    }

    fn user(&self) -> &User {
        &self.session.user
    }
}

impl FromRequestParts<Arc<Central>> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        central: &Arc<Central>,
    ) -> Result<Self, Self::Rejection> {
        let cookies = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let Some(secret) = cookie_secret(cookies, SESSION_COOKIE) else {
            return Err(WebError::new(StatusCode::UNAUTHORIZED, "please sign in"));
        };
        let csrf = csrf_token(secret);
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !sent.is_some_and(|s| constant_time_eq(s.as_bytes(), csrf.as_bytes())) {
                return Err(WebError::new(
                    StatusCode::FORBIDDEN,
                    format!("a request that changes something must carry the session's CSRF token in {CSRF_HEADER}"),
                ));
            }
        }
        match users::session(&central.pool, secret).await? {
            Some(session) => Ok(SignedIn { session, csrf }),
            None => Err(WebError::new(
                StatusCode::UNAUTHORIZED,
                "the session has ended; please sign in again",
            )),
        }
    }
}

const INDEX: &str = include_str!("../web/index.html");
/// The centre's own files under `/app/`, beside the common ones.
const FILES: &[(&str, &str)] = &[("app.js", include_str!("../web/app.js"))];
/// The centre's pages under `/app/pages/`.
const PAGES: &[(&str, &str)] = &[
    ("alerts.js", include_str!("../web/pages/alerts.js")),
    ("register.js", include_str!("../web/pages/register.js")),
    ("site.js", include_str!("../web/pages/site.js")),
    ("sites.js", include_str!("../web/pages/sites.js")),
    ("users.js", include_str!("../web/pages/users.js")),
    ("audit.js", include_str!("../web/pages/audit.js")),
];

fn with_headers(body: &'static str, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in files::HEADERS {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    r
}

async fn index() -> Response {
    with_headers(INDEX, "text/html; charset=utf-8")
}

/// The centre's app.
const APP: App = App {
    files: FILES,
    pages: PAGES,
};

/// File `name`, as `found`, or 404.
fn serve_file(found: Option<(&'static str, &'static str)>, name: &str) -> Response {
    match found {
        Some((body, content_type)) => with_headers(body, content_type),
        None => WebError::new(
            StatusCode::NOT_FOUND,
            format!("no file {name:?} in the web app"),
        )
        .into_response(),
    }
}

async fn app_file(Path(name): Path<String>) -> Response {
    serve_file(APP.file(&name), &name)
}

async fn page_file(Path(name): Path<String>) -> Response {
    serve_file(APP.page(&name), &name)
}

/// The app's routes, merged into the centre's.
pub fn router() -> Router<Arc<Central>> {
    Router::new()
        .route("/", get(index))
        .route("/app/{file}", get(app_file))
        .route("/app/pages/{file}", get(page_file))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/session", get(current))
        .route("/api/v1/sites", get(list_sites).post(add_site))
        .route("/api/v1/sites/{name}", get(site_page))
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/{id}/{verb}", post(change_alert))
        .route(
            "/api/v1/sites/{name}/alerts/{alert}/{verb}",
            post(change_site_alert),
        )
        .route("/api/v1/register/where/{barcode}", get(where_is))
        .route("/api/v1/register/handled", get(handled))
        .route("/api/v1/register/no-footage", get(no_footage))
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{name}", axum::routing::patch(change_user))
        .route("/api/v1/sites/{name}/place", post(place_site))
        .route("/api/v1/audit", get(read_audit))
}

/// Longest user name and password looked at.
const MAX_NAME_LEN: usize = 128;
const MAX_PASSWORD_LEN: usize = 1024;
/// The one answer to a wrong name or password.
const WRONG: &str = "wrong user name or password";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user: String,
    password: String,
}

/// The answer of a sign-in and of `GET /api/v1/session`.
#[derive(Serialize)]
struct SessionInfo {
    user: String,
    role: &'static str,
    region: Option<String>,
    expires_ms: i64,
    csrf_token: String,
    operations: Vec<&'static str>,
}

fn session_info(user: &User, expires_ms: i64, csrf: String) -> SessionInfo {
    SessionInfo {
        user: user.name.clone(),
        role: user.role.as_str(),
        region: user.region.clone(),
        expires_ms,
        csrf_token: csrf,
        operations: operations_for(user.role),
    }
}

fn session_cookie(value: &str, max_age_s: i64, secure: bool) -> Result<HeaderValue, WebError> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .map_err(|_| {
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "building the session cookie",
        )
    })
}

fn locked(until: i64, now: i64) -> Response {
    let wait_s = ((until - now) + 999) / 1000;
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(serde_json::json!({
            "error": format!(
                "too many failed sign-ins: this account is locked for {} min more; an admin can unlock it sooner",
                (wait_s + 59) / 60
            ),
            "locked_until_ms": until,
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(wait_s.max(1)));
    response
}

async fn login(
    State(central): State<Arc<Central>>,
    request: axum::extract::Request,
) -> Result<Response, WebError> {
    let source = client_address(request.extensions());
    let Json(body) = Json::<LoginBody>::from_request(request, &central)
        .await
        .map_err(|e| WebError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let name = body.user.trim().to_owned();
    if name.is_empty() || name.len() > MAX_NAME_LEN || body.password.len() > MAX_PASSWORD_LEN {
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "user must be 1 to {MAX_NAME_LEN} bytes and password at most {MAX_PASSWORD_LEN}"
            ),
        ));
    }
    let now = now_ms();
    // Only the per-address limit: this throttle is never told of failures,
    // so it locks no account (the database does, for every process).
    if central
        .sign_in_throttle
        .check(&account_key(&name), &source, now)
        .is_err()
    {
        let mut response = WebError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-in attempts from this address; wait a minute",
        )
        .into_response();
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(60));
        return Ok(response);
    }
    let found = users::for_sign_in(&central.pool, &name).await?;
    if let Some((user, _)) = &found {
        if let Some(until) = user.locked_until_ms.filter(|&u| u > now) {
            return Ok(locked(until, now));
        }
    }
    let password = body.password;
    let (found, matched) = tokio::task::spawn_blocking(move || {
        let phc = found
            .as_ref()
            .map_or(dummy_password_hash(), |(_, hash)| hash.as_str());
        let matched = password_matches(&password, phc);
        (found, matched)
    })
    .await
    .map_err(|_| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "checking the password"))?;
    let user = match found {
        Some((user, _)) if matched && !user.disabled => user,
        other => {
            let user = other.map(|(u, _)| u);
            let reason = match &user {
                None => "unknown user",
                Some(u) if u.disabled => "user disabled",
                Some(_) => "wrong password",
            };
            users::failed(&central.pool, user.as_ref(), &source, reason).await?;
            return Err(WebError::new(StatusCode::UNAUTHORIZED, WRONG));
        }
    };
    let session = users::start_session(&central.pool, &user, &source).await?;
    let cookie = session_cookie(
        &session.secret,
        users::SESSION_LIFETIME_MS / 1000,
        central.secure_cookies,
    )?;
    let info = session_info(&user, session.expires_ms, csrf_token(&session.secret));
    let mut response = Json(info).into_response();
    response.headers_mut().insert(SET_COOKIE, cookie);
    Ok(response)
}

async fn logout(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
) -> Result<Response, WebError> {
    users::end_session(&central.pool, signed.user(), &signed.session.id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, session_cookie("", 0, central.secure_cookies)?);
    Ok(response)
}

async fn current(signed: SignedIn) -> Json<SessionInfo> {
    Json(session_info(
        signed.user(),
        signed.session.expires_ms,
        signed.csrf.clone(),
    ))
}

/// What the sites page shows of a site.
#[derive(Serialize)]
struct SiteSummary {
    name: String,
    #[serde(flatten)]
    place: Place,
    enrolled_ms: Option<i64>,
    /// `ok`, `attention` or `not enrolled`.
    status: &'static str,
    /// What needs attention, in words.
    problems: Vec<String>,
    /// The last report, if any.
    report: Option<ReportSummary>,
    /// Unresolved alerts: the site's own and the centre's about it.
    open_alerts: usize,
    witness: WitnessSummary,
}

#[derive(Serialize)]
struct ReportSummary {
    received_ms: i64,
    sent_ms: i64,
    version: String,
    cameras: usize,
    recording: usize,
    last_segment_ms: Option<i64>,
    oldest_segment_ms: Option<i64>,
    disk_used: Option<u64>,
    disk_free: Option<u64>,
    /// Footage the site's escrow has still to copy off site, when it
    /// escrows.
    escrow: Option<custos_report::EscrowHealth>,
}

#[derive(Serialize)]
struct WitnessSummary {
    /// The latest co-signed size and when.
    size: Option<i64>,
    cosigned_ms: Option<i64>,
    suspended_ms: Option<i64>,
    suspended_reason: Option<String>,
    refusals: i64,
    mirrored: i64,
    mirror_verified: i64,
}

/// Everything the sites pages read, for the sites `user` sees.
struct Overview {
    summaries: Vec<SiteSummary>,
    health: HashMap<String, custos_report::Health>,
}

/// The overview of the sites `user` sees, or of site `only` alone.
async fn overview(
    central: &Central,
    user: &User,
    only: Option<&str>,
) -> Result<Overview, CentralError> {
    let places = sites::places(&central.pool).await?;
    let sees = |site: &str| user.sees(places.get(site).and_then(|p| p.region.as_deref()));
    let mut reports: HashMap<String, reports::LastReport> = reports::last_reports(&central.pool)
        .await?
        .into_iter()
        .filter(|r| sees(&r.site))
        .map(|r| (r.site.clone(), r))
        .collect();
    // By site, so each site finds its own at once (thousands of sites,
    // each with a few open alerts).
    let mut centre_alerts: HashMap<String, Vec<alerts::CentralAlert>> = HashMap::new();
    for a in alerts::list(&central.pool, true).await? {
        centre_alerts.entry(a.site.clone()).or_default().push(a);
    }
    let mut site_alerts: HashMap<String, usize> = HashMap::new();
    for a in alerts::site_alerts(&central.pool, true).await? {
        *site_alerts.entry(a.site).or_default() += 1;
    }
    let mut summaries = Vec::new();
    let mut health = HashMap::new();
    for site in sites::list(&central.pool).await? {
        if !sees(&site.name) || only.is_some_and(|o| o != site.name) {
            continue;
        }
        let mut problems = Vec::new();
        if let Some((_, reason)) = &site.suspended {
            problems.push(format!("co-signing suspended: {reason}"));
        }
        let centre_open = centre_alerts.get(&site.name).map_or(&[][..], Vec::as_slice);
        for a in centre_open {
            problems.push(format!("{}: {}", a.kind, a.detail));
        }
        let report = reports.remove(&site.name);
        if let Some(r) = &report {
            for c in &r.health.cameras {
                let name = if c.name.is_empty() { &c.id } else { &c.name };
                if c.state != "recording" {
                    problems.push(format!("camera {name} is {}", c.state));
                }
                if let Some(t) = &c.tamper {
                    problems.push(format!("camera {name}: {t}"));
                }
            }
        }
        let own_alerts = site_alerts.get(&site.name).copied().unwrap_or(0);
        if own_alerts > 0 {
            problems.push(format!(
                "{own_alerts} unresolved alert{} at the site",
                if own_alerts == 1 { "" } else { "s" }
            ));
        }
        let open = own_alerts + centre_open.len();
        let status = if site.enrolled_ms.is_none() {
            "not enrolled"
        } else if problems.is_empty() {
            "ok"
        } else {
            "attention"
        };
        let summary_of_report = report.as_ref().map(|r| ReportSummary {
            received_ms: r.received_ms,
            sent_ms: r.health.sent_ms,
            version: r.health.version.clone(),
            cameras: r.health.cameras.len(),
            recording: r
                .health
                .cameras
                .iter()
                .filter(|c| c.state == "recording")
                .count(),
            last_segment_ms: r.health.last_segment_ms,
            oldest_segment_ms: r.health.oldest_segment_ms,
            disk_used: r.health.disk.map(|d| d.0),
            disk_free: r.health.disk.map(|d| d.1),
            escrow: r.health.escrow.clone(),
        });
        if let Some(r) = report {
            health.insert(site.name.clone(), r.health);
        }
        summaries.push(SiteSummary {
            place: places.get(&site.name).cloned().unwrap_or_default(),
            enrolled_ms: site.enrolled_ms,
            status,
            problems,
            report: summary_of_report,
            open_alerts: open,
            witness: WitnessSummary {
                size: site.cosigned.map(|c| c.0),
                cosigned_ms: site.cosigned.map(|c| c.1),
                suspended_ms: site.suspended.as_ref().map(|s| s.0),
                suspended_reason: site.suspended.map(|s| s.1),
                refusals: site.refusals,
                mirrored: site.mirrored,
                mirror_verified: site.mirror_verified,
            },
            name: site.name,
        });
    }
    Ok(Overview { summaries, health })
}

async fn list_sites(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
) -> Result<Response, WebError> {
    signed.require("list_sites")?;
    let overview = overview(&central, signed.user(), None).await?;
    Ok(Json(serde_json::json!({ "sites": overview.summaries })).into_response())
}

/// The region of site `name` if `user` may see it; 404 otherwise, so a
/// user limited to a region learns nothing of other regions' sites.
async fn visible_site(central: &Central, user: &User, name: &str) -> Result<(), WebError> {
    let places = sites::places(&central.pool).await?;
    match places.get(name) {
        Some(place) if user.sees(place.region.as_deref()) => Ok(()),
        _ => Err(WebError::no_site(name)),
    }
}

async fn site_page(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    signed.require("list_sites")?;
    visible_site(&central, signed.user(), &name).await?;
    let mut overview = overview(&central, signed.user(), Some(&name)).await?;
    let Some(at) = overview.summaries.iter().position(|s| s.name == name) else {
        return Err(WebError::no_site(&name));
    };
    let summary = overview.summaries.swap_remove(at);
    let cameras = overview
        .health
        .remove(&name)
        .map(|h| h.cameras)
        .unwrap_or_default();
    let centre_alerts = alerts::list_of_site(&central.pool, &name, 100).await?;
    let site_alerts = alerts::site_alerts_of(&central.pool, &name, 100).await?;
    let refusals: Vec<_> = witness::refusals(&central.pool, &name)
        .await?
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "received_ms": r.received_ms,
                "status": r.status,
                "reason": r.reason,
            })
        })
        .collect();
    let checkpoint = witness::latest_cosigned(&central.pool, &name).await?;
    Ok(Json(serde_json::json!({
        "site": summary,
        "cameras": cameras,
        "alerts": { "centre": centre_alerts, "site": site_alerts },
        "refusals": refusals,
        "checkpoint": checkpoint,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct AlertQuery {
    /// `unresolved` (the default) or `all`.
    state: Option<String>,
}

async fn list_alerts(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Query(query): Query<AlertQuery>,
) -> Result<Response, WebError> {
    signed.require("list_alerts")?;
    let unresolved = match query.state.as_deref() {
        None | Some("unresolved") => true,
        Some("all") => false,
        Some(other) => {
            return Err(WebError::new(
                StatusCode::BAD_REQUEST,
                format!("state {other:?}: unresolved or all"),
            ))
        }
    };
    let places = sites::places(&central.pool).await?;
    let sees = |site: &str| {
        signed
            .user()
            .sees(places.get(site).and_then(|p| p.region.as_deref()))
    };
    let centre: Vec<_> = alerts::list(&central.pool, unresolved)
        .await?
        .into_iter()
        .filter(|a| sees(&a.site))
        .take(500)
        .collect();
    let site: Vec<_> = alerts::site_alerts(&central.pool, unresolved)
        .await?
        .into_iter()
        .filter(|a| sees(&a.site))
        .take(500)
        .collect();
    Ok(Json(serde_json::json!({ "centre": centre, "site": site })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertChange {
    #[serde(default)]
    note: String,
}

/// `acknowledge` → false, `resolve` → true.
fn verb_resolves(verb: &str) -> Result<bool, WebError> {
    match verb {
        "acknowledge" => Ok(false),
        "resolve" => Ok(true),
        other => Err(WebError::new(
            StatusCode::NOT_FOUND,
            format!("an alert is acknowledged or resolved, not {other:?}"),
        )),
    }
}

async fn change_alert(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Path((id, verb)): Path<(i64, String)>,
    Json(change): Json<AlertChange>,
) -> Result<Response, WebError> {
    signed.require("change_alerts")?;
    let resolve = verb_resolves(&verb)?;
    let site = alerts::site_of(&central.pool, id)
        .await?
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, format!("no alert {id}")))?;
    visible_site(&central, signed.user(), &site)
        .await
        .map_err(|_| WebError::new(StatusCode::NOT_FOUND, format!("no alert {id}")))?;
    if resolve && change.note.trim().is_empty() {
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            "say why the alert is resolved (a note)",
        ));
    }
    alerts::settle(
        &central.pool,
        id,
        &signed.user().name,
        resolve,
        &change.note,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn change_site_alert(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Path((name, alert, verb)): Path<(String, i64, String)>,
    Json(change): Json<AlertChange>,
) -> Result<Response, WebError> {
    signed.require("change_alerts")?;
    let state = if verb_resolves(&verb)? {
        "resolved"
    } else {
        "acknowledged"
    };
    visible_site(&central, signed.user(), &name).await?;
    let note = Some(change.note.trim()).filter(|n| !n.is_empty());
    let id = alerts::request_site_alert_change(
        &central.pool,
        &name,
        alert,
        state,
        &signed.user().name,
        note,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "request": id,
            "note": "the site carries the change out at its next report",
        })),
    )
        .into_response())
}

/// Rows of sites `user` may see.
async fn visible_rows(
    central: &Central,
    user: &User,
    rows: Vec<register::CustodyRow>,
) -> Result<Vec<register::CustodyRow>, WebError> {
    let places = sites::places(&central.pool).await?;
    Ok(rows
        .into_iter()
        .filter(|r| user.sees(places.get(&r.site).and_then(|p| p.region.as_deref())))
        .collect())
}

#[derive(Deserialize)]
struct WhereQuery {
    #[serde(default)]
    history: bool,
}

async fn where_is(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Path(barcode): Path<String>,
    Query(query): Query<WhereQuery>,
) -> Result<Response, WebError> {
    signed.require("search_register")?;
    let rows = if query.history {
        register::item_history(&central.pool, &barcode, 1000).await?
    } else {
        register::where_is(&central.pool, &barcode).await?
    };
    let rows = visible_rows(&central, signed.user(), rows).await?;
    let places = sites::places(&central.pool).await?;
    let items: Vec<_> = register::register_items(&central.pool, &barcode)
        .await?
        .into_iter()
        .filter(|i| {
            signed
                .user()
                .sees(places.get(&i.site).and_then(|p| p.region.as_deref()))
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items, "events": rows })).into_response())
}

#[derive(Deserialize)]
struct SinceQuery {
    person: Option<String>,
    days: Option<u32>,
}

fn since(days: Option<u32>) -> Result<i64, WebError> {
    let days = days.unwrap_or(30);
    if !(1..=3660).contains(&days) {
        return Err(WebError::new(StatusCode::BAD_REQUEST, "days: 1 to 3660"));
    }
    Ok(now_ms() - i64::from(days) * 24 * 3600 * 1000)
}

async fn handled(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Query(query): Query<SinceQuery>,
) -> Result<Response, WebError> {
    signed.require("search_register")?;
    let person = query
        .person
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| WebError::new(StatusCode::BAD_REQUEST, "person: whose custody events"))?;
    let since_ms = since(query.days)?;
    // A name stands for the ids the sites' registers give it.
    let places = sites::places(&central.pool).await?;
    let people: Vec<_> = register::people(&central.pool, person)
        .await?
        .into_iter()
        .filter(|p| {
            signed
                .user()
                .sees(places.get(&p.site).and_then(|p| p.region.as_deref()))
        })
        .collect();
    let mut ids: Vec<&str> = vec![person];
    ids.extend(people.iter().map(|p| p.staff_id.as_str()));
    ids.sort_unstable();
    ids.dedup();
    let mut rows = Vec::new();
    for id in ids {
        rows.extend(register::handled_by(&central.pool, id, since_ms, 1000).await?);
    }
    rows.sort_by(|a, b| {
        b.at_ms
            .cmp(&a.at_ms)
            .then(a.site.cmp(&b.site))
            .then(b.log_index.cmp(&a.log_index))
    });
    rows.dedup_by(|a, b| a.site == b.site && a.log_index == b.log_index);
    let rows = visible_rows(&central, signed.user(), rows).await?;
    Ok(Json(serde_json::json!({ "people": people, "events": rows })).into_response())
}

async fn no_footage(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Query(query): Query<SinceQuery>,
) -> Result<Response, WebError> {
    signed.require("search_register")?;
    let rows = register::without_footage(&central.pool, since(query.days)?).await?;
    let rows = visible_rows(&central, signed.user(), rows).await?;
    Ok(Json(serde_json::json!({ "events": rows })).into_response())
}

async fn list_users(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
) -> Result<Response, WebError> {
    signed.require("list_users")?;
    let users = users::list(&central.pool).await?;
    Ok(Json(serde_json::json!({ "users": users })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: String,
    #[serde(default)]
    region: Option<String>,
    password: String,
}

async fn add_user(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Json(new): Json<NewUser>,
) -> Result<Response, WebError> {
    signed.require("change_users")?;
    let role = Role::parse(&new.role)?;
    if new.password.len() > MAX_PASSWORD_LEN {
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            format!("a password is at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    let password = new.password;
    let hash =
        tokio::task::spawn_blocking(move || custos_webapp::credentials::hash_password(&password))
            .await
            .map_err(|_| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "hashing the password"))?
            .map_err(|e| WebError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let region = new
        .region
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    users::add(
        &central.pool,
        new.name.trim(),
        role,
        region,
        &hash,
        &signed.user().name,
    )
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    unlock: bool,
}

async fn change_user(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Path(name): Path<String>,
    Json(change): Json<UserChange>,
) -> Result<Response, WebError> {
    signed.require("change_users")?;
    if change.disabled == Some(true) && name == signed.user().name {
        return Err(WebError::new(
            StatusCode::CONFLICT,
            "you cannot disable yourself; another admin can",
        ));
    }
    users::change(
        &central.pool,
        &name,
        change.disabled,
        change.unlock,
        &signed.user().name,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSiteBody {
    name: String,
}

/// `POST /api/v1/sites`: a new site and its one-time enrolment code,
/// answered once (only its hash is kept).
async fn add_site(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Json(new): Json<NewSiteBody>,
) -> Result<Response, WebError> {
    signed.require("change_sites")?;
    let site = sites::add(&central.pool, new.name.trim(), &signed.user().name).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "site": site.name,
            "code": site.code,
            "expires_ms": site.expires_ms,
            "url": central.public_url,
            "tls_fingerprint": central.tls_fingerprint,
        })),
    )
        .into_response())
}

async fn place_site(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Path(name): Path<String>,
    Json(place): Json<PlaceBody>,
) -> Result<Response, WebError> {
    signed.require("change_sites")?;
    let place = Place {
        region: place
            .region
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
        latitude: place.latitude,
        longitude: place.longitude,
    };
    sites::place(&central.pool, &name, &place, &signed.user().name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceBody {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<i64>,
}

async fn read_audit(
    State(central): State<Arc<Central>>,
    signed: SignedIn,
    Query(query): Query<AuditQuery>,
) -> Result<Response, WebError> {
    signed.require("read_audit")?;
    let limit = query.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(WebError::new(StatusCode::BAD_REQUEST, "limit: 1 to 1000"));
    }
    let lines = sites::recent_audit(&central.pool, limit).await?;
    Ok(Json(serde_json::json!({ "lines": lines })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_app_is_served_and_every_import_found() -> std::io::Result<()> {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        assert_eq!(APP.problems(&web)?, Vec::<String>::new());
        Ok(())
    }

    /// Every operation a handler requires is in the table (a name that is
    /// not would refuse every role), and every one in the table is
    /// required somewhere.
    #[test]
    fn handlers_require_the_operations_of_the_table() {
        let source = include_str!("web.rs");
        let required: std::collections::BTreeSet<&str> = source
            .split("signed.require(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        let listed: std::collections::BTreeSet<&str> =
            OPERATIONS.iter().map(|(id, _)| *id).collect();
        assert_eq!(required, listed);
    }

    #[test]
    fn roles_get_their_operations() {
        assert_eq!(operations_for(Role::Admin).len(), OPERATIONS.len());
        assert_eq!(
            operations_for(Role::Auditor),
            [
                "list_sites",
                "list_alerts",
                "change_alerts",
                "search_register"
            ]
        );
        assert_eq!(operations_for(Role::Viewer), ["list_sites", "list_alerts"]);
    }
}
