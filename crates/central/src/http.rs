//! The centre's HTTP interface: the C2SP witness endpoint and enrolment.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::note::VerifierKey;
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};

use crate::config::CentralConfig;
use crate::{db, mirror, reports, sites, witness, CentralError};

/// What every request handler shares: nothing two processes could disagree
/// on (the database holds all state).
pub struct Central {
    /// The database.
    pub pool: Pool,
    /// The witness key.
    pub witness: CosigningKey,
    /// Where sites reach the witness.
    pub witness_url: String,
    /// The address sites are told to reach the centre at.
    pub public_url: String,
    /// The fingerprint of the centre's own TLS certificate, when it serves
    /// HTTPS itself.
    pub tls_fingerprint: Option<String>,
    /// That, and the next certificate's when one is announced: what sites
    /// are told to pin in every report's answer.
    pub tls_fingerprints: Vec<String>,
    /// Whether people reach the centre over HTTPS (served here or by a
    /// proxy, as `public_url` says): session cookies are then `Secure`.
    pub secure_cookies: bool,
    /// Sign-in attempts per client address in the last minute, this
    /// process's share (accounts lock in the database, for every process).
    pub sign_in_throttle: custos_webapp::throttle::LoginThrottle,
}

/// A request to enrol a site.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The one-time code the centre issued for the site.
    pub code: String,
    /// The site's log verifier key.
    pub log_key: String,
}

/// What an enrolled site pins.
#[derive(Debug, Serialize, Deserialize)]
pub struct EnrolAnswer {
    /// The site's name at the centre.
    pub site: String,
    /// The centre's TLS certificate fingerprint, when it serves HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_fingerprint: Option<String>,
    /// The witness key the site trusts from now on.
    pub witness_key: String,
    /// The witness endpoint prefix (`…/add-checkpoint` is below it).
    pub witness_url: String,
    /// When the centre knew the site by another key: that key, who allowed
    /// the new one and why, for the site's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<sites::Rotation>,
}

/// The centre's routes.
pub fn router(central: Arc<Central>) -> Router {
    Router::new()
        .route("/witness/add-checkpoint", post(add_checkpoint))
        .route("/api/v1/enrol", post(enrol))
        .route("/healthz", get(health))
        // A checkpoint with 63 proof lines and a few signatures is under
        // 4 KiB; anything much larger is not a witness request.
        .layer(DefaultBodyLimit::max(64 * 1024))
        // A report of a site with a hundred cameras is tens of KiB.
        .route(
            "/api/v1/report",
            post(report).layer(DefaultBodyLimit::max(1024 * 1024)),
        )
        // A batch is at most 256 KiB of entries, in base64.
        .route(
            "/api/v1/entries",
            post(entries).layer(DefaultBodyLimit::max(1024 * 1024)),
        )
        .merge(crate::web::router())
        .with_state(central)
}

fn error_json(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

fn internal(e: &CentralError) -> Response {
    tracing::error!("{e}");
    error_json(
        StatusCode::SERVICE_UNAVAILABLE,
        "the central office cannot answer now; try again later".to_owned(),
    )
}

async fn add_checkpoint(State(central): State<Arc<Central>>, body: String) -> Response {
    match witness::add(&central.pool, &central.witness, &body).await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
            (
                status,
                [(header::CONTENT_TYPE, answer.content_type)],
                answer.body,
            )
                .into_response()
        }
        Err(e) => internal(&e),
    }
}

async fn enrol(State(central): State<Arc<Central>>, Json(request): Json<EnrolRequest>) -> Response {
    let log_key = match VerifierKey::parse(request.log_key.trim()) {
        Ok(k) => k,
        Err(e) => return error_json(StatusCode::BAD_REQUEST, format!("log_key: {e}")),
    };
    match sites::enrol(&central.pool, &request.code, &log_key).await {
        Ok(sites::Enrolled { site, rotation }) => {
            match &rotation {
                Some(r) => tracing::warn!(%site, key = %log_key.short(), by = %r.rotated_by,
                    "site enrolled with a new log key; its witnessed history starts afresh"),
                None => tracing::info!(%site, key = %log_key.short(), "site enrolled"),
            }
            Json(EnrolAnswer {
                site,
                rotation,
                witness_key: central.witness.verifier().to_string(),
                witness_url: central.witness_url.clone(),
                tls_fingerprint: central.tls_fingerprint.clone(),
            })
            .into_response()
        }
        Err(e @ CentralError::BadEnrolCode) => error_json(StatusCode::FORBIDDEN, e.to_string()),
        Err(e @ (CentralError::OriginTaken { .. } | CentralError::Invalid(_))) => {
            error_json(StatusCode::CONFLICT, e.to_string())
        }
        Err(e) => internal(&e),
    }
}

/// The most a note may decompress to: four times a full entries batch.
const MAX_NOTE_BYTES: usize = 1024 * 1024;

/// The body as text, gunzipped when the site sent it so.
fn note_text(headers: &HeaderMap, body: &[u8]) -> Result<String, (StatusCode, String)> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") => String::from_utf8(body.to_vec()).map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                "the body is not UTF-8 text".to_owned(),
            )
        }),
        Some(custos_report::wire::GZIP) => custos_report::wire::decompress(body, MAX_NOTE_BYTES)
            .map_err(|e| {
                let status = match e {
                    custos_report::wire::WireError::TooLarge { .. } => {
                        StatusCode::PAYLOAD_TOO_LARGE
                    }
                    _ => StatusCode::BAD_REQUEST,
                };
                (status, e.to_string())
            }),
        Some(other) => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding {other:?}: only gzip or none is taken"),
        )),
    }
}

async fn report(State(central): State<Arc<Central>>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match note_text(&headers, &body) {
        Ok(text) => text,
        Err((status, why)) => return error_json(status, why),
    };
    match reports::accept(&central.pool, &body).await {
        Ok(mut answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
            if status == StatusCode::OK && !central.tls_fingerprints.is_empty() {
                answer.body = with_pins(&answer.body, &central.tls_fingerprints);
            }
            let content_type = if status == StatusCode::OK {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            (status, [(header::CONTENT_TYPE, content_type)], answer.body).into_response()
        }
        Err(e) => internal(&e),
    }
}

/// A report's answer with the certificates to pin added.
fn with_pins(body: &str, pins: &[String]) -> String {
    match serde_json::from_str::<custos_report::ReportAnswer>(body) {
        Ok(mut answer) => {
            answer.tls_fingerprints = pins.to_vec();
            serde_json::to_string(&answer).unwrap_or_else(|_| body.to_owned())
        }
        Err(_) => body.to_owned(),
    }
}

async fn entries(State(central): State<Arc<Central>>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match note_text(&headers, &body) {
        Ok(text) => text,
        Err((status, why)) => return error_json(status, why),
    };
    match mirror::accept(&central.pool, &body).await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
            (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                answer.body,
            )
                .into_response()
        }
        Err(e) => internal(&e),
    }
}

async fn health(State(central): State<Arc<Central>>) -> Response {
    match central.pool.get().await {
        Ok(client) => match client.simple_query("SELECT 1").await {
            Ok(_) => (StatusCode::OK, "ok\n").into_response(),
            Err(e) => internal(&CentralError::db("checking the database")(e)),
        },
        Err(e) => internal(&CentralError::Pool(e)),
    }
}

/// Opens the database and the witness key of `config`;
/// `tls_fingerprints` are those of the certificate it serves HTTPS with
/// and of the next one, if any.
pub async fn open(
    config: &CentralConfig,
    tls_fingerprints: Vec<String>,
) -> Result<Arc<Central>, String> {
    let (witness, created) =
        CosigningKey::load_or_create(&config.witness_key_file, &config.witness_name)
            .map_err(|e| format!("witness key: {e}"))?;
    if created {
        tracing::info!(key = %witness.verifier(), "created the witness key");
    }
    let pool = db::connect(&config.database.url, config.database.pool_size)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(Central {
        pool,
        witness,
        witness_url: config.witness_url(),
        public_url: config.public_url.clone(),
        tls_fingerprint: tls_fingerprints.first().cloned(),
        secure_cookies: !tls_fingerprints.is_empty() || config.public_url.starts_with("https://"),
        sign_in_throttle: Default::default(),
        tls_fingerprints,
    }))
}

/// Serves the centre on `listener` (plain TCP, or TLS handshakes done)
/// until `shutdown` completes, notifying `destinations` of alerts.
pub async fn serve<L>(
    central: Arc<Central>,
    listener: L,
    destinations: std::collections::BTreeMap<String, custos_notify::Destination>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    tracing::info!(witness_key = %central.witness.verifier(), "central office serving");
    let watcher = tokio::spawn(watch_silence(central.pool.clone()));
    let notifier = tokio::spawn(crate::notify::run(central.pool.clone(), destinations));
    let app = router(central).into_make_service_with_connect_info::<crate::web::ClientSocket>();
    let served = axum::serve(crate::web::WithPeer(listener), app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("serving: {e}"));
    watcher.abort();
    notifier.abort();
    served
}

/// How often silent sites are looked for.
const SILENCE_CHECK: std::time::Duration = std::time::Duration::from_secs(15);

/// Raises `site.silent` for sites that stopped reporting, until the end.
async fn watch_silence(pool: Pool) {
    let mut tick = tokio::time::interval(SILENCE_CHECK);
    loop {
        tick.tick().await;
        match reports::raise_silent(&pool).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!("{n} site(s) fell silent"),
            Err(e) => tracing::error!("looking for silent sites: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_encoding(encoding: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(e) = encoding {
            headers.insert(header::CONTENT_ENCODING, e.parse().expect("a header value"));
        }
        headers
    }

    #[test]
    fn a_note_is_taken_plain_or_gzipped_and_anything_else_is_named() {
        let note = "custos-report/v1\nsite\n1\n{}\n";
        assert_eq!(
            note_text(&with_encoding(None), note.as_bytes())
                .ok()
                .as_deref(),
            Some(note)
        );
        let packed = custos_report::wire::compress(note);
        assert_eq!(
            note_text(&with_encoding(Some("GZIP")), &packed)
                .ok()
                .as_deref(),
            Some(note)
        );
        let status = |r: Result<String, (StatusCode, String)>| r.err().map(|(s, _)| s);
        assert_eq!(
            status(note_text(&with_encoding(Some("br")), &packed)),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(
            status(note_text(&with_encoding(Some("gzip")), note.as_bytes())),
            Some(StatusCode::BAD_REQUEST)
        );
        let bomb = custos_report::wire::compress(&"x".repeat(MAX_NOTE_BYTES + 1));
        assert_eq!(
            status(note_text(&with_encoding(Some("gzip")), &bomb)),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        assert_eq!(
            status(note_text(&with_encoding(None), &[0xff, 0xfe])),
            Some(StatusCode::BAD_REQUEST)
        );
    }
}
