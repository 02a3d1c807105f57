//! Long requests answered later.
//!
//! An import, an export or a check of the whole log can take a minute. With
//! `Prefer: respond-async` (RFC 7240 §4.1) such a request is started as a
//! job and answered at once with `202 Accepted`, `Location:
//! /api/v1/jobs/{id}` and `Preference-Applied: respond-async`; `GET
//! /api/v1/jobs/{id}` then gives its progress and, once it is done, the
//! status and body the request would have answered with. Without the
//! preference the request waits for its answer, as it always has. Either
//! way the work runs on a blocking thread with its own connection to the
//! index, so other requests go on meanwhile.
//!
//! Jobs are kept in memory, for [`KEEP_FINISHED`] after they finish: a
//! restart forgets them. That loses no data: an import is one transaction
//! (a job cut short imported nothing), and an export's tar is renamed into
//! place only when whole.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use custos_store::User;
use rand::RngCore;
use serde::Serialize;
use serde_json::Value;

use crate::auth::{require_role, AuthUser};
use crate::error::{ApiError, ApiPath};
use crate::roles::JOB_READERS;
use crate::{now_ms, SharedState};

/// How long a finished job's answer stays readable.
pub const KEEP_FINISHED: Duration = Duration::from_secs(60 * 60);
/// Most jobs one user may have running at once: each holds a thread and,
/// for an import, the index's one writer.
pub const MAX_RUNNING_PER_USER: usize = 2;
/// Most jobs kept in all; the oldest finished ones go first.
const MAX_KEPT: usize = 500;

/// The header that asks for an asynchronous answer.
const PREFER: HeaderName = HeaderName::from_static("prefer");
/// The header that says the preference was honoured.
const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// Whether the request asks to be answered before its work is done
/// (`Prefer: respond-async`, among other preferences or alone).
pub fn wants_async(headers: &HeaderMap) -> bool {
    headers.get_all(PREFER).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',').any(|pref| {
                let token = pref.split(';').next().unwrap_or("").trim();
                token.eq_ignore_ascii_case("respond-async")
            })
        })
    })
}

/// The `Prefer` header of a request that may run as a job.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Read by `wants_async` from the headers; declared for the OpenAPI document.
pub(crate) struct PreferAsync {
    /// `respond-async`: answer 202 at once with the job's Location, instead
    /// of waiting for the work to finish (RFC 7240).
    #[param(rename = "Prefer")]
    prefer: Option<String>,
}

/// How far a job has got, in the units of its kind (rows for an import).
#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all.
    pub total: u64,
}

/// A job as `GET /api/v1/jobs/{id}` shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    /// The job's id.
    pub id: String,
    /// The operation it runs (its OpenAPI operation id, e.g. `import_register`).
    pub operation: &'static str,
    /// `running` or `done`.
    pub state: &'static str,
    /// When it started (ms since the Unix epoch).
    pub started_ms: i64,
    /// When it finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<i64>,
    /// How far it has got, when its kind counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// Once done: the status the request would have answered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Once done: the body it would have answered with (an error is
    /// `{"error": …}`, as everywhere in the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub answer: Option<Value>,
    /// Where to read the job.
    pub href: String,
}

struct Job {
    operation: &'static str,
    owner: i64,
    started_ms: i64,
    progress: Option<Progress>,
    finished: Option<(i64, StatusCode, String)>,
}

impl Job {
    /// Its owner sees it, and an admin sees every job.
    fn visible_to(&self, user: &User) -> bool {
        self.owner == user.id || user.role == custos_store::Role::Admin
    }

    fn view(&self, id: &str) -> JobView {
        JobView {
            id: id.to_owned(),
            operation: self.operation,
            state: if self.finished.is_some() {
                "done"
            } else {
                "running"
            },
            started_ms: self.started_ms,
            finished_ms: self.finished.as_ref().map(|f| f.0),
            progress: self.progress,
            status: self.finished.as_ref().map(|f| f.1.as_u16()),
            answer: self
                .finished
                .as_ref()
                .map(|f| serde_json::from_str(&f.2).unwrap_or_else(|_| Value::String(f.2.clone()))),
            href: href(id),
        }
    }
}

fn href(id: &str) -> String {
    format!("/api/v1/jobs/{id}")
}

/// The site's jobs, running and recently finished.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Job>>,
}

impl Jobs {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Job>> {
        // A job that panicked left the map whole: every change is one insert
        // or one field.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a job of `user`'s, refusing one more than
    /// [`MAX_RUNNING_PER_USER`] (429).
    fn begin(&self, operation: &'static str, user: &User, now_ms: i64) -> Result<String, ApiError> {
        let mut jobs = self.lock();
        let running = jobs
            .values()
            .filter(|j| j.owner == user.id && j.finished.is_none())
            .count();
        if running >= MAX_RUNNING_PER_USER {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{} already has {running} jobs running; wait for one to finish",
                    user.name
                ),
            ));
        }
        forget_old(&mut jobs, now_ms);
        let mut bytes = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        jobs.insert(
            id.clone(),
            Job {
                operation,
                owner: user.id,
                started_ms: now_ms,
                progress: None,
                finished: None,
            },
        );
        Ok(id)
    }

    fn set_progress(&self, id: &str, progress: Progress) {
        if let Some(job) = self.lock().get_mut(id) {
            job.progress = Some(progress);
        }
    }

    fn finish(&self, id: &str, status: StatusCode, answer: String, now_ms: i64) {
        if let Some(job) = self.lock().get_mut(id) {
            job.finished = Some((now_ms, status, answer));
        }
    }

    /// The job `id` if `user` may see it: their own, or any for an admin.
    pub fn get(&self, id: &str, user: &User) -> Option<JobView> {
        let jobs = self.lock();
        let job = jobs.get(id)?;
        job.visible_to(user).then(|| job.view(id))
    }

    /// The jobs `user` may see, newest first.
    pub fn list(&self, user: &User) -> Vec<JobView> {
        let jobs = self.lock();
        let mut views: Vec<JobView> = jobs
            .iter()
            .filter(|(_, j)| j.visible_to(user))
            .map(|(id, j)| j.view(id))
            .collect();
        views.sort_by(|a, b| b.started_ms.cmp(&a.started_ms).then(a.id.cmp(&b.id)));
        views
    }
}

/// Drops finished jobs older than [`KEEP_FINISHED`], then the oldest
/// finished ones while more than [`MAX_KEPT`] are kept. Running jobs stay.
fn forget_old(jobs: &mut HashMap<String, Job>, now_ms: i64) {
    let keep_ms = i64::try_from(KEEP_FINISHED.as_millis()).unwrap_or(i64::MAX);
    jobs.retain(|_, j| j.finished.as_ref().is_none_or(|f| now_ms - f.0 < keep_ms));
    while jobs.len() >= MAX_KEPT {
        let oldest = jobs
            .iter()
            .filter_map(|(id, j)| j.finished.as_ref().map(|f| (f.0, id.clone())))
            .min();
        match oldest {
            Some((_, id)) => {
                jobs.remove(&id);
            }
            None => break,
        }
    }
}

/// Reports a running job's progress; cheap enough to call per row.
#[derive(Clone)]
pub struct ProgressSink {
    target: Option<(Arc<Jobs>, String)>,
}

impl ProgressSink {
    /// Records that `done` of `total` units are done.
    pub fn report(&self, done: u64, total: u64) {
        if let Some((jobs, id)) = &self.target {
            jobs.set_progress(id, Progress { done, total });
        }
    }
}

/// The answer of a long operation: its status and its JSON body, as text,
/// so a request that waits gets the very bytes it always got.
pub type Answer = (StatusCode, String);

/// `body` as the answer with `status`.
pub fn json_answer(status: StatusCode, body: &impl Serialize) -> Answer {
    match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(e) => error_answer(&ApiError::internal("encoding the answer", &e)),
    }
}

/// An error as an answer: `{"error": …}`, as everywhere in the API.
pub fn error_answer(e: &ApiError) -> Answer {
    (
        e.status(),
        serde_json::json!({ "error": e.message() }).to_string(),
    )
}

/// Runs `work` on a blocking thread and answers with its result, or, when
/// the request asked for it, starts it as a job of `user`'s and answers 202
/// at once.
pub async fn run(
    state: &SharedState,
    user: &User,
    operation: &'static str,
    headers: &HeaderMap,
    work: impl FnOnce(&ProgressSink) -> Answer + Send + 'static,
) -> Response {
    if !wants_async(headers) {
        let sink = ProgressSink { target: None };
        return match tokio::task::spawn_blocking(move || work(&sink)).await {
            Ok((status, body)) => (
                status,
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
                .into_response(),
            Err(e) => ApiError::internal(operation, &e).into_response(),
        };
    }
    let jobs = Arc::clone(&state.jobs);
    let id = match jobs.begin(operation, user, now_ms()) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let sink = ProgressSink {
        target: Some((Arc::clone(&jobs), id.clone())),
    };
    let view = jobs.get(&id, user);
    let task_id = id.clone();
    tokio::spawn(async move {
        let answer = match tokio::task::spawn_blocking(move || work(&sink)).await {
            Ok(answer) => answer,
            Err(e) => error_answer(&ApiError::internal(operation, &e)),
        };
        if answer.0.is_server_error() {
            tracing::warn!(job = %task_id, operation, status = %answer.0, "job failed");
        }
        jobs.finish(&task_id, answer.0, answer.1, now_ms());
    });
    let mut response = (StatusCode::ACCEPTED, Json(view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&href(&id)) {
        response.headers_mut().insert(LOCATION, location);
    }
    response.headers_mut().insert(
        PREFERENCE_APPLIED,
        HeaderValue::from_static("respond-async"),
    );
    response
}

/// `GET /api/v1/jobs/{id}`: a job's progress, and its answer once done.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id, from the 202 answer's Location")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job of yours (or it finished over an hour ago)", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []), ("session" = [])),
)]
pub(crate) async fn get(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobView>, ApiError> {
    require_role(&user, JOB_READERS)?;
    state
        .jobs
        .get(&id, &user)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no job {id:?} of yours")))
}

/// `GET /api/v1/jobs`: the caller's jobs (an admin's: everyone's), newest
/// first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    responses((status = 200, description = "The jobs, newest first", body = Vec<JobView>)),
    security(("bearer" = []), ("session" = [])),
)]
pub(crate) async fn list(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<Vec<JobView>>, ApiError> {
    require_role(&user, JOB_READERS)?;
    Ok(Json(state.jobs.list(&user)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(PREFER, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn respond_async_is_found_among_other_preferences() {
        assert!(wants_async(&headers(&["respond-async"])));
        assert!(wants_async(&headers(&["return=minimal, Respond-Async"])));
        assert!(wants_async(&headers(&["wait=10", "respond-async; x=1"])));
        assert!(!wants_async(&headers(&[])));
        assert!(!wants_async(&headers(&["return=minimal"])));
        assert!(!wants_async(&headers(&["respond-asynchronously"])));
    }

    fn user(id: i64) -> User {
        User {
            id,
            name: format!("u{id}"),
            role: custos_store::Role::Archivist,
            password_hash: String::new(),
            created_ms: 0,
            disabled: false,
        }
    }

    #[test]
    fn a_user_runs_at_most_two_jobs_and_sees_only_their_own() {
        let jobs = Jobs::default();
        let (a, b) = (user(1), user(2));
        let first = jobs.begin("import_register", &a, 0).expect("first");
        jobs.begin("create_export", &a, 0).expect("second");
        let refused = jobs.begin("create_export", &a, 0).expect_err("third");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        jobs.begin("create_export", &b, 0).expect("another user's");
        assert!(jobs.get(&first, &b).is_none());
        assert_eq!(jobs.list(&a).len(), 2);
        jobs.finish(&first, StatusCode::CREATED, r#"{"rows":3}"#.into(), 5);
        let done = jobs.get(&first, &a).expect("own job");
        assert_eq!((done.state, done.status), ("done", Some(201)));
        assert_eq!(done.answer, Some(serde_json::json!({"rows": 3})));
        jobs.begin("create_export", &a, 6)
            .expect("a slot is free again");
    }

    #[test]
    fn finished_jobs_are_forgotten_after_an_hour_and_running_ones_never() {
        let jobs = Jobs::default();
        let a = user(1);
        let done = jobs.begin("import_register", &a, 0).expect("begin");
        let running = jobs.begin("create_export", &a, 0).expect("begin");
        jobs.finish(&done, StatusCode::OK, "null".into(), 10);
        let hour = i64::try_from(KEEP_FINISHED.as_millis()).expect("ms");
        jobs.begin("create_export", &user(2), 10 + hour)
            .expect("begin");
        assert!(jobs.get(&done, &a).is_none());
        assert!(jobs.get(&running, &a).is_some());
    }
}
