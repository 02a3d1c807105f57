//! `POST /api/v1/exports` and `GET /api/v1/exports/{id}/bundle.tar`: evidence
//! bundles made and downloaded over the API. Where a bundle is kept and how
//! it is packed is [`custos_site::exports`]'s.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use custos_site::data_dir::DataDir;
use custos_site::evidence::{ExportError, ExportRequest};
use custos_site::exports::{export_tar, export_tar_bundle, new_export_id, PackedExportError};
use custos_site::views::evidence_downloaded;
use custos_store::Store;
use serde::{Deserialize, Serialize};

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::recordings::{check_window, known_camera};
use crate::roles::EXPORTERS;
use crate::{jobs, SharedState};

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

/// `POST /api/v1/exports`: builds an evidence bundle (auditor or admin).
#[utoipa::path(
    post,
    path = "/api/v1/exports",
    tag = "exports",
    params(crate::jobs::PreferAsync),
    request_body = ExportBody,
    responses(
        (status = 201, description = "The evidence bundle was built; download it from `download`", body = ExportCreated),
        (status = 202, description = "Started as a job (`Prefer: respond-async`); its answer, one of the others here, is read at the Location", body = crate::jobs::JobView),
        (status = 400, description = "A bad span (empty, reversed, longer than 24 h) or no reason"),
        (status = 404, description = "No such camera, or nothing recorded in the span"),
        (status = 503, description = "The span's log entries are not yet under a signed checkpoint; try again in a few seconds"),
    ),
)]
pub(crate) async fn create(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ExportBody>,
) -> Result<Response, ApiError> {
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
    let build = move |_: &jobs::ProgressSink| {
        // A connection of its own: the export may wait seconds for a
        // checkpoint and must not hold the shared one meanwhile.
        let built = Store::open(&DataDir::new(&state2.data_dir).index())
            .map_err(|e| ApiError::from_store("opening the index for an export", e))
            .and_then(|store| {
                let req = ExportRequest {
                    site: &state2.site,
                    camera: &body.camera,
                    start_ms: body.start_ms,
                    end_ms: body.end_ms,
                    reason: &reason,
                    user: &user_name,
                };
                export_tar_bundle(
                    &store,
                    &DataDir::new(&state2.data_dir),
                    &state2.log.dir,
                    &state2.log.verifier,
                    &req,
                    &id,
                )
                .map_err(packed_export_error)
            });
        let (summary, bytes) = match built {
            Ok(built) => built,
            Err(e) => return jobs::error_answer(&e),
        };
        tracing::info!(
            target: "custos::audit",
            user = %user_name,
            camera = %body.camera,
            start_ms = body.start_ms,
            end_ms = body.end_ms,
            export = %id,
            "evidence exported"
        );
        jobs::json_answer(
            StatusCode::CREATED,
            &ExportCreated {
                download: format!("/api/v1/exports/{id}/bundle.tar"),
                id,
                camera: body.camera,
                start_ms: body.start_ms,
                end_ms: body.end_ms,
                segments: summary.segments,
                entries: summary.entries,
                tree_size: summary.tree_size,
                bytes,
            },
        )
    };
    Ok(jobs::run(&state, &user, "create_export", &headers, build).await)
}

fn packed_export_error(e: PackedExportError) -> ApiError {
    match e {
        PackedExportError::Creating { dir, source } => {
            ApiError::internal(&format!("creating {}", dir.display()), &source)
        }
        PackedExportError::Export(e) => export_error(e),
        PackedExportError::Packing(e) => ApiError::internal("packing the evidence bundle", &e),
    }
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
    let Some(path) = export_tar(&DataDir::new(&state.data_dir), &id) else {
        return Err(ApiError::not_found(format!("export {id:?} not found")));
    };
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
    let what = "recording the download in the log";
    let (who, export) = (user.clone(), id.clone());
    state
        .write_as(what, move |store| {
            evidence_downloaded(store, &who, &export, crate::now_ms())
                .map_err(|e| ApiError::not_logged(what, e))
        })
        .await?;
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
