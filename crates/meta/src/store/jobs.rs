//! Jobs: long-running work (imports today; clones, diffs, quality runs later) with an
//! owner, a status, progress with totals, and a result or an error. The server's job
//! runner writes them; clients read them.
//!
//! A job is `queued` when created, `running` once its work starts, and ends `succeeded`,
//! `failed` or `cancelled`; an ended job never changes again. A cancel is requested by
//! setting `cancel_requested_at`, which the process running the job sees when it next
//! records progress.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaError, MetaResult, MetaStore, now_ms, opt_time, opt_uuid, time, uuid};

/// Every status a job can have, in its life's order.
pub const JOB_STATUSES: [&str; 5] = ["queued", "running", "succeeded", "failed", "cancelled"];

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub org_id: Uuid,
    pub kind: String,
    pub status: String,
    pub target: Option<String>,
    pub created_by: Option<Uuid>,
    /// The server process that runs (or ran) the job.
    pub instance_id: Option<Uuid>,
    pub progress: JobProgress,
    pub totals: JobTotals,
    pub version: Option<i64>,
    /// On success: what the job produced (JSON).
    pub result: Option<serde_json::Value>,
    /// On failure: the error body a request would have answered (JSON).
    pub error: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cancel_requested_at: Option<DateTime<Utc>>,
}

impl Job {
    /// Whether the job has ended (succeeded, failed or cancelled).
    pub fn is_finished(&self) -> bool {
        !matches!(self.status.as_str(), "queued" | "running")
    }
}

/// Work done so far; what a kind of job does not count stays `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobProgress {
    pub rows_read: i64,
    pub rows_written: i64,
    pub bytes_read: Option<i64>,
    pub steps_done: Option<i64>,
}

/// The work to do, where known when the job starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobTotals {
    pub rows: Option<i64>,
    pub bytes: Option<i64>,
    pub steps: Option<i64>,
}

/// A job to create (`queued`).
pub struct NewJob<'a> {
    pub org_id: Uuid,
    pub kind: &'a str,
    pub target: Option<&'a str>,
    pub created_by: Uuid,
    pub instance_id: Uuid,
    pub totals: JobTotals,
}

/// How a job ended.
pub enum JobEnd {
    Succeeded {
        version: Option<i64>,
        result: serde_json::Value,
    },
    Failed {
        error: serde_json::Value,
    },
    /// Stopped on request before committing anything.
    Cancelled,
}

/// Which jobs to list, newest first; every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub target: Option<String>,
    pub created_by: Option<Uuid>,
    /// The cursor: only jobs listed after this one (older; it must be the organisation's).
    pub before: Option<Uuid>,
}

const JOB_COLUMNS: &str = "id, org_id, kind, status, target, created_by, instance_id, rows_read, rows_written, \
     rows_total, bytes_read, bytes_total, steps_done, steps_total, version, result, error, created_at, started_at, \
     updated_at, finished_at, cancel_requested_at";

/// How long a job stays its process's without a renewal: a job whose process stopped is
/// marked failed by any server this long after its last renewal.
pub const JOB_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

const NOT_ENDED: &str = "status IN ('queued', 'running')";

fn json_column(row: &AnyRow, col: &str) -> sqlx::Result<Option<serde_json::Value>> {
    let raw: Option<String> = row.try_get(col)?;
    Ok(raw.and_then(|e| serde_json::from_str(&e).ok()))
}

fn job_from_row(row: &AnyRow) -> sqlx::Result<Job> {
    Ok(Job {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        target: row.try_get("target")?,
        created_by: opt_uuid(row, "created_by")?,
        instance_id: opt_uuid(row, "instance_id")?,
        progress: JobProgress {
            rows_read: row.try_get("rows_read")?,
            rows_written: row.try_get("rows_written")?,
            bytes_read: row.try_get("bytes_read")?,
            steps_done: row.try_get("steps_done")?,
        },
        totals: JobTotals {
            rows: row.try_get("rows_total")?,
            bytes: row.try_get("bytes_total")?,
            steps: row.try_get("steps_total")?,
        },
        version: row.try_get("version")?,
        result: json_column(row, "result")?,
        error: json_column(row, "error")?,
        created_at: time(row, "created_at")?,
        started_at: opt_time(row, "started_at")?,
        updated_at: time(row, "updated_at")?,
        finished_at: opt_time(row, "finished_at")?,
        cancel_requested_at: opt_time(row, "cancel_requested_at")?,
    })
}

impl MetaStore {
    /// Records a new job, `queued`.
    pub async fn create_job(&self, job: &NewJob<'_>) -> MetaResult<Job> {
        let id = Uuid::now_v7();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO jobs (id, org_id, kind, status, target, created_by, instance_id, rows_read, rows_written, \
             rows_total, bytes_total, steps_total, created_at, updated_at, lease_expires_at) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, 0, 0, $7, $8, $9, $10, $10, $11)",
        )
        .bind(id.to_string())
        .bind(job.org_id.to_string())
        .bind(job.kind)
        .bind(job.target)
        .bind(job.created_by.to_string())
        .bind(job.instance_id.to_string())
        .bind(job.totals.rows)
        .bind(job.totals.bytes)
        .bind(job.totals.steps)
        .bind(now)
        .bind(now + JOB_LEASE.as_millis() as i64)
        .execute(&self.pool)
        .await?;
        self.get_job(job.org_id, id).await?.ok_or(MetaError::NotFound)
    }

    /// A queued job's work starts at `at`. Answers when a cancel was requested, if one was.
    pub async fn job_started(&self, id: Uuid, at: DateTime<Utc>) -> MetaResult<Option<DateTime<Utc>>> {
        let now = at.timestamp_millis();
        let row = sqlx::query(
            "UPDATE jobs SET status = 'running', started_at = $1, updated_at = $1 WHERE id = $2 AND status = 'queued' \
             RETURNING cancel_requested_at",
        )
        .bind(now)
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(cancel_requested(row.as_ref())?)
    }

    /// Records a running job's progress as of `updated_at`, when it last changed (an ended
    /// job does not change). Answers when a cancel was requested, if one was.
    pub async fn job_progress(
        &self,
        id: Uuid,
        progress: &JobProgress,
        updated_at: DateTime<Utc>,
    ) -> MetaResult<Option<DateTime<Utc>>> {
        let sql = format!(
            "UPDATE jobs SET rows_read = $1, rows_written = $2, bytes_read = $3, steps_done = $4, updated_at = $5 \
             WHERE id = $6 AND {NOT_ENDED} RETURNING cancel_requested_at"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(progress.rows_read)
            .bind(progress.rows_written)
            .bind(progress.bytes_read)
            .bind(progress.steps_done)
            .bind(updated_at.timestamp_millis())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(cancel_requested(row.as_ref())?)
    }

    /// Sets a running job's totals, for work that learns them only once it has started
    /// (a clone plans its tables first).
    pub async fn job_totals(&self, id: Uuid, totals: &JobTotals) -> MetaResult<()> {
        let sql = format!(
            "UPDATE jobs SET rows_total = $1, bytes_total = $2, steps_total = $3 WHERE id = $4 AND {NOT_ENDED}"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(totals.rows)
            .bind(totals.bytes)
            .bind(totals.steps)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a job with its last progress; answers false if it had already ended.
    pub async fn finish_job(&self, id: Uuid, progress: &JobProgress, end: JobEnd) -> MetaResult<bool> {
        let (status, version, result, error) = match end {
            JobEnd::Succeeded { version, result } => ("succeeded", version, Some(result.to_string()), None),
            JobEnd::Failed { error } => ("failed", None, None, Some(error.to_string())),
            JobEnd::Cancelled => ("cancelled", None, None, None),
        };
        // Nothing a failed or cancelled job wrote is part of the table.
        let written = if status == "succeeded" { progress.rows_written } else { 0 };
        let now = now_ms();
        let sql = format!(
            "UPDATE jobs SET status = $1, version = $2, result = $3, error = $4, rows_read = $5, rows_written = $6, \
             bytes_read = $7, steps_done = $8, updated_at = $9, finished_at = $9 WHERE id = $10 AND {NOT_ENDED}"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(status)
            .bind(version)
            .bind(result)
            .bind(error)
            .bind(progress.rows_read)
            .bind(written)
            .bind(progress.bytes_read)
            .bind(progress.steps_done)
            .bind(now)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Asks the organisation's job to stop, at `at`: answers false when it has already ended
    /// (or there is no such job). A second request keeps the first one's time.
    pub async fn request_job_cancel(&self, org_id: Uuid, id: Uuid, at: DateTime<Utc>) -> MetaResult<bool> {
        let sql = format!(
            "UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, $1) \
             WHERE id = $2 AND org_id = $3 AND {NOT_ENDED}"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(at.timestamp_millis())
            .bind(id.to_string())
            .bind(org_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Renews the leases of the jobs `instance_id` runs until `until` (every
    /// [`JOB_LEASE`] / 3 while the process lives); answers how many it renewed.
    pub async fn renew_job_leases(&self, instance_id: Uuid, until: DateTime<Utc>) -> MetaResult<u64> {
        let sql = format!("UPDATE jobs SET lease_expires_at = $1 WHERE instance_id = $2 AND {NOT_ENDED}");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(until.timestamp_millis())
            .bind(instance_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Marks failed the queued and running jobs whose lease expired before `now`: the
    /// process running them stopped (any server may call this; a live one keeps renewing).
    pub async fn fail_abandoned_jobs(&self, now: DateTime<Utc>) -> MetaResult<u64> {
        let error = serde_json::json!({ "statusCode": 500, "error": "Internal Server Error",
            "message": "the server running the job stopped; nothing was committed by it" });
        let sql = format!(
            "UPDATE jobs SET status = 'failed', error = $1, rows_written = 0, updated_at = $2, finished_at = $2 \
             WHERE {NOT_ENDED} AND (lease_expires_at IS NULL OR lease_expires_at < $2)"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(error.to_string())
            .bind(now.timestamp_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn get_job(&self, org_id: Uuid, id: Uuid) -> MetaResult<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND org_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(org_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    /// The organisation's jobs matching `filter`, newest first, at most `limit`.
    pub async fn list_jobs(&self, org_id: Uuid, filter: &JobFilter, limit: i64) -> MetaResult<Vec<Job>> {
        // Conditions are fixed text; only values are bound.
        let mut conditions = vec!["org_id = $1".to_owned()];
        let mut values: Vec<String> = vec![org_id.to_string()];
        let mut push = |condition: &str, value: String| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("${}", values.len())));
        };
        if let Some(status) = &filter.status {
            push("status = ?", status.clone());
        }
        if let Some(kind) = &filter.kind {
            push("kind = ?", kind.clone());
        }
        if let Some(target) = &filter.target {
            push("target = ?", target.clone());
        }
        if let Some(user) = filter.created_by {
            push("created_by = ?", user.to_string());
        }
        if let Some(cursor) = filter.before {
            // Keyset paging in the listing's order (created_at, then id, both descending).
            push(
                "(created_at < (SELECT c.created_at FROM jobs c WHERE c.id = ? AND c.org_id = $1) \
                 OR (created_at = (SELECT c.created_at FROM jobs c WHERE c.id = ? AND c.org_id = $1) AND id < ?))",
                cursor.to_string(),
            );
        }
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE {} ORDER BY created_at DESC, id DESC LIMIT ${}",
            conditions.join(" AND "),
            values.len() + 1
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in &values {
            query = query.bind(value.clone());
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(job_from_row).collect::<sqlx::Result<_>>()?)
    }
}

fn cancel_requested(row: Option<&AnyRow>) -> sqlx::Result<Option<DateTime<Utc>>> {
    match row {
        Some(row) => opt_time(row, "cancel_requested_at"),
        None => Ok(None),
    }
}
