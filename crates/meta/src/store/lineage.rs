//! Lineage: which table was made from which, by what operation, at which version.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaResult, MetaStore, now_ms, opt_uuid, time, uuid};

/// A table made from another (a clone).
#[derive(Debug, Clone, PartialEq)]
pub struct Lineage {
    pub id: Uuid,
    pub source_table_id: Uuid,
    /// `catalog.schema.table` when the lineage was recorded.
    pub source_name: String,
    pub source_version: i64,
    pub target_table_id: Uuid,
    pub target_name: String,
    /// `clone.deep` or `clone.shallow`.
    pub kind: String,
    /// The operation's options, as JSON.
    pub options: serde_json::Value,
    pub job_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

/// What [`MetaStore::record_lineage`] records.
#[derive(Debug, Clone)]
pub struct NewLineage<'a> {
    pub source_table_id: Uuid,
    pub source_name: &'a str,
    pub source_version: i64,
    pub target_table_id: Uuid,
    pub target_name: &'a str,
    pub kind: &'a str,
    pub options: &'a serde_json::Value,
    pub job_id: Option<Uuid>,
    pub by: Uuid,
}

const COLUMNS: &str = "id, source_table_id, source_name, source_version, target_table_id, target_name, kind, \
                       options, job_id, created_at, created_by";

fn from_row(row: &AnyRow) -> sqlx::Result<Lineage> {
    let options: String = row.try_get("options")?;
    Ok(Lineage {
        id: uuid(row, "id")?,
        source_table_id: uuid(row, "source_table_id")?,
        source_name: row.try_get("source_name")?,
        source_version: row.try_get("source_version")?,
        target_table_id: uuid(row, "target_table_id")?,
        target_name: row.try_get("target_name")?,
        kind: row.try_get("kind")?,
        options: serde_json::from_str(&options).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        job_id: opt_uuid(row, "job_id")?,
        created_at: time(row, "created_at")?,
        created_by: opt_uuid(row, "created_by")?,
    })
}

impl MetaStore {
    pub async fn record_lineage(&self, org_id: Uuid, new: NewLineage<'_>) -> MetaResult<Uuid> {
        let id = Uuid::now_v7();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO table_lineage ({COLUMNS}, org_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(id.to_string())
        .bind(new.source_table_id.to_string())
        .bind(new.source_name)
        .bind(new.source_version)
        .bind(new.target_table_id.to_string())
        .bind(new.target_name)
        .bind(new.kind)
        .bind(new.options.to_string())
        .bind(new.job_id.map(|j| j.to_string()))
        .bind(now_ms())
        .bind(new.by.to_string())
        .bind(org_id.to_string())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// What the table was made from (`as_target`) or what was made from it, oldest first.
    pub async fn lineage_of(&self, org_id: Uuid, table_id: Uuid, as_target: bool) -> MetaResult<Vec<Lineage>> {
        let column = if as_target { "target_table_id" } else { "source_table_id" };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM table_lineage WHERE org_id = $1 AND {column} = $2 ORDER BY created_at, id"
        )))
        .bind(org_id.to_string())
        .bind(table_id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect::<sqlx::Result<_>>().map_err(Into::into)
    }

    /// The tables a job made.
    pub async fn lineage_of_job(&self, org_id: Uuid, job_id: Uuid) -> MetaResult<Vec<Lineage>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM table_lineage WHERE org_id = $1 AND job_id = $2 ORDER BY created_at, id"
        )))
        .bind(org_id.to_string())
        .bind(job_id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect::<sqlx::Result<_>>().map_err(Into::into)
    }
}
