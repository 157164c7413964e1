//! A job as the API shows it: in answers (`GET /v1/jobs/{id}`, the 202 of an import) and
//! in the data of its Server-Sent Events.

use axum::response::sse::Event;
use chrono::{DateTime, Utc};
use lakeward_meta::store::Job;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct JobResponse {
    pub id: Uuid,
    /// What the job does: `import` or `discovery`.
    pub kind: String,
    /// `queued`, `running`, then `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// What the job works on: for an import its table, `catalog.schema.table`.
    pub target: Option<String>,
    /// Rows read so far (`progress.rows_read`).
    pub rows_read: i64,
    /// Rows written so far; once ended, the rows committed (0 unless it succeeded).
    pub rows_written: i64,
    /// The table version the job committed.
    pub version: Option<i64>,
    /// On failure: the error, in the shape a request would have answered it.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// The user who started the job.
    pub created_by: Option<Uuid>,
    /// The server process that runs (or ran) the job; a new id at every start of a server.
    pub instance_id: Option<Uuid>,
    pub progress: JobProgressResponse,
    /// On success: what the job produced; for an import `{"version", "rows_written"}`.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub created_at: DateTime<Utc>,
    /// When the work started (`queued` until then).
    pub started_at: Option<DateTime<Utc>>,
    /// When the job last changed (progress, or its end).
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When a cancel was asked for (`DELETE /v1/jobs/{id}`).
    pub cancel_requested_at: Option<DateTime<Utc>>,
}

/// Work done so far, with the totals known when the job started; what a kind of job
/// does not count is `null` (an import counts rows and bytes; its byte total is the file's
/// size, its row total unknown).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobProgressResponse {
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_total: Option<i64>,
    pub bytes_read: Option<i64>,
    pub bytes_total: Option<i64>,
    pub steps_done: Option<i64>,
    pub steps_total: Option<i64>,
}

impl From<Job> for JobResponse {
    fn from(j: Job) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            status: j.status,
            target: j.target,
            rows_read: j.progress.rows_read,
            rows_written: j.progress.rows_written,
            version: j.version,
            error: j.error,
            created_by: j.created_by,
            instance_id: j.instance_id,
            progress: JobProgressResponse {
                rows_read: j.progress.rows_read,
                rows_written: j.progress.rows_written,
                rows_total: j.totals.rows,
                bytes_read: j.progress.bytes_read,
                bytes_total: j.totals.bytes,
                steps_done: j.progress.steps_done,
                steps_total: j.totals.steps,
            },
            result: j.result,
            created_at: j.created_at,
            started_at: j.started_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
            cancel_requested_at: j.cancel_requested_at,
        }
    }
}

/// The Server-Sent Event for a state of the job: `event: progress` while it is queued or
/// running, `event: end` once it has ended; the data is the job, as `GET /v1/jobs/{id}`
/// answers it.
pub fn event(job: Job) -> Event {
    let name = if job.is_finished() { "end" } else { "progress" };
    let data = serde_json::to_string(&JobResponse::from(job)).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(name).data(data)
}
