//! Jobs: long-running work (imports) whose status and progress clients poll.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaError, MetaResult, MetaStore, now_ms, opt_time, opt_uuid, time, uuid};

#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub org_id: Uuid,
    pub kind: String,
    pub status: String,
    pub target: Option<String>,
    pub rows_read: i64,
    pub rows_written: i64,
    pub version: Option<i64>,
    pub error: Option<serde_json::Value>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How a job ended.
pub enum JobEnd {
    Succeeded { version: Option<i64>, rows_written: i64 },
    Failed { error: serde_json::Value },
}

const JOB_COLUMNS: &str =
    "id, org_id, kind, status, target, rows_read, rows_written, version, error, created_by, created_at, finished_at";

fn job_from_row(row: &AnyRow) -> sqlx::Result<Job> {
    let error: Option<String> = row.try_get("error")?;
    Ok(Job {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        target: row.try_get("target")?,
        rows_read: row.try_get("rows_read")?,
        rows_written: row.try_get("rows_written")?,
        version: row.try_get("version")?,
        error: error.and_then(|e| serde_json::from_str(&e).ok()),
        created_by: opt_uuid(row, "created_by")?,
        created_at: time(row, "created_at")?,
        finished_at: opt_time(row, "finished_at")?,
    })
}

impl MetaStore {
    pub async fn start_job(&self, org_id: Uuid, kind: &str, target: &str, created_by: Uuid) -> MetaResult<Job> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO jobs (id, org_id, kind, status, target, rows_read, rows_written, created_by, created_at) \
             VALUES ($1, $2, $3, 'running', $4, 0, 0, $5, $6)",
        )
        .bind(id.to_string())
        .bind(org_id.to_string())
        .bind(kind)
        .bind(target)
        .bind(created_by.to_string())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        self.get_job(org_id, id).await?.ok_or(MetaError::NotFound)
    }

    pub async fn job_progress(&self, id: Uuid, rows_read: i64, rows_written: i64) -> MetaResult<()> {
        sqlx::query("UPDATE jobs SET rows_read = $1, rows_written = $2 WHERE id = $3 AND status = 'running'")
            .bind(rows_read)
            .bind(rows_written)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn finish_job(&self, id: Uuid, rows_read: i64, end: JobEnd) -> MetaResult<()> {
        let (status, version, written, error) = match end {
            JobEnd::Succeeded { version, rows_written } => ("succeeded", version, Some(rows_written), None),
            JobEnd::Failed { error } => ("failed", None, Some(0), Some(error.to_string())),
        };
        sqlx::query(
            "UPDATE jobs SET status = $1, version = $2, rows_read = $3, rows_written = $4, error = $5, \
             finished_at = $6 WHERE id = $7",
        )
        .bind(status)
        .bind(version)
        .bind(rows_read)
        .bind(written)
        .bind(error)
        .bind(now_ms())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Jobs a previous run of the server left running can no longer finish.
    pub async fn fail_interrupted_jobs(&self) -> MetaResult<u64> {
        let error = serde_json::json!({ "statusCode": 500, "error": "Internal Server Error",
            "message": "the server stopped while the job ran; nothing was committed by it" });
        let done =
            sqlx::query("UPDATE jobs SET status = 'failed', error = $1, finished_at = $2 WHERE status = 'running'")
                .bind(error.to_string())
                .bind(now_ms())
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

    /// The organisation's jobs, newest first.
    pub async fn list_jobs(&self, org_id: Uuid, limit: i64) -> MetaResult<Vec<Job>> {
        let sql =
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2");
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org_id.to_string()).bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(job_from_row).collect::<sqlx::Result<_>>()?)
    }
}
