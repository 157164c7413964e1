//! Jobs (`/v1/jobs`): the organisation's long work, whatever started it. List and read
//! them (`tables:read`), follow one as Server-Sent Events, cancel one (its creator, or an
//! admin). The work itself runs in [`crate::jobs`].

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{KeepAlive, Sse};
use futures::{Stream, StreamExt as _};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Principal, Resource, authorize};
use lakeward_meta::store::{JOB_STATUSES, Job, JobFilter};
use lakeward_model::{Ident, TableRef};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::parse_id;
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::jobs::JobKind;
use crate::jobs::view::{self, JobResponse};
use crate::query::Query;
use crate::state::SharedState;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(list_jobs)).routes(routes!(get_job, cancel_job)).routes(routes!(job_events))
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// How long a cancel waits for the job to stop before answering 202 with it still running.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// Reading jobs needs what reading tables does; another organisation's job is not found.
async fn readable_job(state: &SharedState, principal: &Principal, id: &str) -> ApiResult<Job> {
    authorize(principal, Action::TablesRead, &Resource::Table { org_id: principal.org_id })?;
    let id = parse_id(id)?;
    state.jobs.get(principal.org_id, id).await?.ok_or_else(ApiError::not_found)
}

/// A job's status, progress and result or error (`tables:read`).
#[utoipa::path(get, path = "/v1/jobs/{job_id}", tag = "jobs", security(("bearer" = [])),
    responses((status = 200, body = JobResponse)))]
pub async fn get_job(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(job_id): Path<String>,
) -> ApiResult<axum::Json<JobResponse>> {
    Ok(axum::Json(readable_job(&state, &principal, &job_id).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Only jobs with this status: `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: Option<String>,
    /// Only jobs of this kind: `import` or `discovery`.
    pub kind: Option<String>,
    /// Only jobs on this target (for imports, the table: `catalog.schema.table`).
    pub target: Option<String>,
    /// Only jobs started by this user (id).
    pub created_by: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// The cursor: the id of the last job of the previous page; the page goes on with the
    /// jobs listed after it (older). Absent: from the newest.
    pub before: Option<String>,
}

impl JobsQuery {
    fn filter(self) -> ApiResult<(JobFilter, i64)> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        if let Some(status) = &self.status
            && !JOB_STATUSES.contains(&status.as_str())
        {
            return Err(ApiError::invalid_field("status", format!("must be one of {}", JOB_STATUSES.join(", "))));
        }
        if let Some(kind) = &self.kind
            && JobKind::parse(kind).is_none()
        {
            let kinds: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(ApiError::invalid_field("kind", format!("must be one of {}", kinds.join(", "))));
        }
        let target = self.target.as_deref().map(table_target).transpose()?;
        let id = |field: &str, raw: &Option<String>| {
            raw.as_deref()
                .map(|raw| Uuid::parse_str(raw).map_err(|_| ApiError::invalid_field(field, "must be an id (a UUID)")))
                .transpose()
        };
        let created_by = id("created_by", &self.created_by)?;
        let before = id("before", &self.before)?;
        Ok((JobFilter { status: self.status, kind: self.kind, target, created_by, before }, limit))
    }
}

/// A target filter: a table reference, `catalog.schema.table`.
fn table_target(raw: &str) -> ApiResult<String> {
    let invalid = || ApiError::invalid_field("target", "must be a table, `catalog.schema.table`");
    let parts: Vec<&str> = raw.split('.').collect();
    let [catalog, schema, table] = parts.as_slice() else { return Err(invalid()) };
    let ident = |part: &str| Ident::new(part).map_err(|_| invalid());
    Ok(TableRef { catalog: ident(catalog)?, schema: ident(schema)?, table: ident(table)? }.to_string())
}

/// The organisation's jobs, newest first, filtered by `status`, `kind`, `target` and
/// `created_by` (`tables:read`). Paged by a cursor: `limit` jobs at a time; the next page
/// is `before=<id of the last job of this page>` (with the same filters), and a page
/// shorter than `limit` is the last.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", security(("bearer" = [])), params(JobsQuery),
    responses((status = 200, body = Vec<JobResponse>)))]
pub async fn list_jobs(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Query(q): Query<JobsQuery>,
) -> ApiResult<axum::Json<Vec<JobResponse>>> {
    authorize(&principal, Action::TablesRead, &Resource::Table { org_id: principal.org_id })?;
    let (filter, limit) = q.filter()?;
    if let Some(cursor) = filter.before
        && state.meta.get_job(principal.org_id, cursor).await?.is_none()
    {
        return Err(ApiError::invalid_field("before", "no job of the organisation has this id"));
    }
    let jobs = state.meta.list_jobs(principal.org_id, &filter, limit).await?;
    Ok(axum::Json(jobs.into_iter().map(JobResponse::from).collect()))
}

/// Follows a job as Server-Sent Events (`tables:read`): at once an event with its current
/// state, then one for every change of its progress, and a last one when it ends, after
/// which the stream closes; a job that has already ended gets that last event only. Each
/// event is `event: progress` (queued or running) or `event: end` (succeeded, failed or
/// cancelled), its `data` the job as `GET /v1/jobs/{job_id}` answers it. Comments (`:`)
/// keep a quiet stream open.
#[utoipa::path(get, path = "/v1/jobs/{job_id}/events", tag = "jobs", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "`event: progress` and `event: end`, each with the job (JSON) as data")))]
pub async fn job_events(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(job_id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<axum::response::sse::Event, Infallible>>>> {
    let job = readable_job(&state, &principal, &job_id).await?;
    let events = state.jobs.follow(job).map(|job| Ok(view::event(job)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Cancels a queued or running job: its work stops and commits nothing, and the job ends
/// `cancelled` (an import that created its table removes it). Needs what reading the job
/// needs; only the job's creator or an admin (`org:update`) may cancel it. Answers 200
/// with the job once it has ended (within 10 seconds), else 202 with it still running. A
/// cancel that reaches an import after its commit point is too late: the job then ends
/// `succeeded`, as the answer shows. A job that has already ended answers 409.
#[utoipa::path(delete, path = "/v1/jobs/{job_id}", tag = "jobs", security(("bearer" = [])),
    responses(
        (status = 200, body = JobResponse, description = "The job, ended"),
        (status = 202, body = JobResponse, description = "The job, asked to stop and still running"),
        (status = 409, body = crate::error::ErrorBody, description = "The job has already ended")))]
pub async fn cancel_job(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(job_id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<JobResponse>)> {
    let job = readable_job(&state, &principal, &job_id).await?;
    if job.created_by != Some(principal.user_id) {
        authorize(&principal, Action::OrgUpdate, &Resource::Organisation { org_id: principal.org_id })?;
    }
    let ended = |job: &Job| ApiError::conflict(format!("the job has already ended: it is {}", job.status));
    if job.is_finished() {
        return Err(ended(&job));
    }
    if !state.jobs.cancel(principal.org_id, job.id).await? {
        // It ended meanwhile.
        let job = state.jobs.get(principal.org_id, job.id).await?.ok_or_else(ApiError::not_found)?;
        return Err(ended(&job));
    }
    let job = state.jobs.wait_for_end(job, CANCEL_WAIT).await;
    let event = Event::new(principal.org_id, EventKind::JobCancelled)
        .target("job", job.id)
        .details(json!({ "kind": job.kind, "target": job.target, "status": job.status }));
    audit_log::record(&state, &request, Actor::Principal(&principal), event).await?;
    let status = if job.is_finished() { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, axum::Json(job.into())))
}
