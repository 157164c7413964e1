//! Counts for operations (the server's `/metrics`): how many jobs and webhook deliveries
//! are in each state, over every organisation. Aggregates only, no ids or names.

use sqlx::Row;

use super::{MetaResult, MetaStore};

impl MetaStore {
    /// `(kind, status, count)` of the jobs recorded, one entry per kind and status.
    pub async fn count_jobs(&self) -> MetaResult<Vec<(String, String, i64)>> {
        let rows =
            sqlx::query("SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status ORDER BY kind, status")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("status")?, r.try_get("n")?)))
            .collect::<sqlx::Result<_>>()?)
    }

    /// `(status, count)` of the webhook deliveries kept: `pending`, `delivered`, `failed`.
    pub async fn count_deliveries(&self) -> MetaResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| Ok((r.try_get("status")?, r.try_get("n")?))).collect::<sqlx::Result<_>>()?)
    }
}
