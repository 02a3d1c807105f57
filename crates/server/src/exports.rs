//! `POST /api/v1/exports` and `GET /api/v1/exports/{id}/bundle.tar`: evidence
//! bundles made and downloaded over the API.
//!
//! A bundle is built in a hidden directory under `<data_dir>/exports/`,
//! packed into `<id>.tar` (whose single top-level directory is `<id>/`) and
//! the directory removed; the tar is renamed into place only when complete,
//! so a listed export is a whole one.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use custos_ledger::catalogue::{leaf, EvidenceDownloaded};
use custos_site::data_dir::DataDir;
use custos_store::Store;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::recordings::{check_window, known_camera};
use crate::roles::EXPORTERS;
use crate::SharedState;
use custos_site::evidence::{export_bundle, ExportError, ExportRequest};

/// Longest span one export may cover (a day): bounds one request's work.
const MAX_EXPORT_SPAN_MS: i64 = 24 * 60 * 60 * 1000;

/// Longest reason accepted.
const MAX_REASON_CHARS: usize = 2000;

/// Body of `POST /api/v1/exports`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportBody {
    camera: String,
    start_ms: i64,
    end_ms: i64,
    reason: String,
}

/// Answer of `POST /api/v1/exports`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ExportCreated {
    id: String,
    camera: String,
    start_ms: i64,
    end_ms: i64,
    segments: usize,
    entries: usize,
    tree_size: u64,
    bytes: u64,
    download: String,
}

/// Where the site keeps exported bundles.
pub fn exports_dir(data_dir: &Path) -> PathBuf {
    DataDir::new(data_dir).exports()
}

/// `POST /api/v1/exports`: builds an evidence bundle (auditor or admin).
#[utoipa::path(
    post,
    path = "/api/v1/exports",
    tag = "exports",
    request_body = ExportBody,
    responses(
        (status = 201, description = "The evidence bundle was built; download it from `download`", body = ExportCreated),
        (status = 400, description = "A bad span (empty, reversed, longer than 24 h) or no reason"),
        (status = 404, description = "No such camera, or nothing recorded in the span"),
        (status = 503, description = "The span's log entries are not yet under a signed checkpoint; try again in a few seconds"),
    ),
)]
pub(crate) async fn create(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiJson(body): ApiJson<ExportBody>,
) -> Result<(StatusCode, Json<ExportCreated>), ApiError> {
    require_role(&user, EXPORTERS)?;
    known_camera(&state, &body.camera)?;
    check_window(body.start_ms, body.end_ms, MAX_EXPORT_SPAN_MS, "24 h")?;
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(ApiError::bad_request(
            "reason must say why the footage is exported",
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad_request(format!(
            "reason is longer than {MAX_REASON_CHARS} characters"
        )));
    }
    let id = new_export_id(body.start_ms);
    let state2 = state.clone();
    let user_name = user.name.clone();
    let camera = body.camera.clone();
    let id2 = id.clone();
    let (summary, bytes) = tokio::task::spawn_blocking(move || {
        // A connection of its own: the export may wait seconds for a
        // checkpoint and must not hold the shared one meanwhile.
        let store = Store::open(&DataDir::new(&state2.data_dir).index())
            .map_err(|e| ApiError::from_store("opening the index for an export", e))?;
        let req = ExportRequest {
            site: &state2.site,
            camera: &camera,
            start_ms: body.start_ms,
            end_ms: body.end_ms,
            reason: &reason,
            user: &user_name,
        };
        build_tar(&store, &state2, &req, &id2)
    })
    .await
    .map_err(|e| ApiError::internal("building an evidence bundle", &e))??;
    tracing::info!(
        target: "custos::audit",
        user = %user.name,
        camera = %body.camera,
        start_ms = body.start_ms,
        end_ms = body.end_ms,
        export = %id,
        "evidence exported"
    );
    Ok((
        StatusCode::CREATED,
        Json(ExportCreated {
            download: format!("/api/v1/exports/{id}/bundle.tar"),
            id,
            camera: body.camera,
            start_ms: body.start_ms,
            end_ms: body.end_ms,
            segments: summary.segments,
            entries: summary.entries,
            tree_size: summary.tree_size,
            bytes,
        }),
    ))
}

/// `exp-<start ms>-<16 hex digits>`: sortable by the span and unguessable.
fn new_export_id(start_ms: i64) -> String {
    let mut random = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut random);
    format!("exp-{start_ms}-{}", hex::encode(random))
}

/// Whether `id` has the shape [`new_export_id`] gives: the only names the
/// download route will open, so no path can be smuggled through it.
fn is_export_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("exp-") else {
        return false;
    };
    let Some((start, random)) = rest.rsplit_once('-') else {
        return false;
    };
    let start = start.strip_prefix('-').unwrap_or(start);
    !start.is_empty()
        && start.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 16
        && random.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Builds the bundle for `req` and packs it into `<exports>/<id>.tar`;
/// returns the export's summary and the tar's size.
fn build_tar(
    store: &Store,
    state: &crate::AppState,
    req: &ExportRequest<'_>,
    id: &str,
) -> Result<(custos_site::evidence::ExportSummary, u64), ApiError> {
    let dir = exports_dir(&state.data_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ApiError::internal(&format!("creating {}", dir.display()), &e))?;
    let work = dir.join(format!(".{id}.partial"));
    let summary = export_bundle(
        store,
        &state.data_dir,
        &state.log.dir,
        &state.log.verifier,
        req,
        &work,
    )
    .map_err(|e| {
        let _ = std::fs::remove_dir_all(&work);
        export_error(e)
    })?;
    let packed = pack(&work, &dir, id);
    let _ = std::fs::remove_dir_all(&work);
    let bytes = packed.map_err(|e| ApiError::internal("packing the evidence bundle", &e))?;
    Ok((summary, bytes))
}

/// Tars `work` as `<id>/…` into `<dir>/<id>.tar`, durably.
fn pack(work: &Path, dir: &Path, id: &str) -> std::io::Result<u64> {
    let partial = dir.join(format!(".{id}.tar.partial"));
    let result = (|| {
        let file = File::create(&partial)?;
        let mut builder = tar::Builder::new(file);
        builder.follow_symlinks(false);
        builder.append_dir_all(id, work)?;
        let mut file = builder.into_inner()?;
        file.flush()?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(&partial, dir.join(format!("{id}.tar")))?;
        File::open(dir)?.sync_all()?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn export_error(e: ExportError) -> ApiError {
    match e {
        ExportError::BadSpan { .. } => ApiError::bad_request(e.to_string()),
        ExportError::NothingRecorded { .. } => ApiError::not_found(e.to_string()),
        ExportError::NotYetSigned { .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        ExportError::Store(err) => ApiError::from_store("exporting evidence", err),
        other => ApiError::internal("exporting evidence", &other),
    }
}

/// `GET /api/v1/exports/{id}/bundle.tar` (auditor or admin). The download
/// is logged (`evidence.downloaded`) before any byte is sent.
#[utoipa::path(
    get,
    path = "/api/v1/exports/{id}/bundle.tar",
    tag = "exports",
    params(("id" = String, Path, description = "The export's id, as `POST /api/v1/exports` answered")),
    responses(
        (status = 200, description = "The evidence bundle as a tar file; the download is logged first",
            content_type = "application/x-tar", body = Vec<u8>),
        (status = 404, description = "No such export"),
    ),
)]
pub(crate) async fn download(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    require_role(&user, EXPORTERS)?;
    if !is_export_id(&id) {
        return Err(ApiError::not_found(format!("export {id:?} not found")));
    }
    let path = exports_dir(&state.data_dir).join(format!("{id}.tar"));
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(format!("export {id:?} not found")))
        }
        Err(e) => return Err(ApiError::internal("opening the export", &e)),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal("reading the export's size", &e))?
        .len();
    let leaf = leaf(
        crate::now_ms(),
        &EvidenceDownloaded {
            user: &user.name,
            role: user.role.as_str(),
            export: &id,
        },
    )
    .map_err(|e| ApiError::internal("recording the download in the log", &e))?;
    state
        .write("recording the download in the log", move |store| {
            store.enqueue_log(vec![leaf])
        })
        .await?;
    tracing::info!(target: "custos::audit", user = %user.name, export = %id, "evidence downloaded");
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{id}.tar\""))
        .map_err(|e| ApiError::internal("naming the download", &e))?;
    let mut response = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(file)));
    response.headers_mut().extend([
        (CONTENT_TYPE, HeaderValue::from_static("application/x-tar")),
        (CONTENT_LENGTH, HeaderValue::from(len)),
        (CONTENT_DISPOSITION, disposition),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_ids_are_recognised_and_nothing_else() {
        let id = new_export_id(1_700_000_000_000);
        assert!(is_export_id(&id), "{id}");
        assert!(is_export_id(&new_export_id(-5)));
        for bad in [
            "",
            "exp-",
            "exp-1-",
            "exp-1-0123456789abcdeg",
            "exp-1-0123456789abcdef0",
            "exp-../0123456789abcdef",
            "../exp-1-0123456789abcdef",
            "exp-1-0123456789abcdef/../x",
            "exp-1-0123456789abcde",
        ] {
            assert!(!is_export_id(bad), "{bad:?}");
        }
    }
}
