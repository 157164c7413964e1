//! Writes: every request is one Delta commit, by a named actor, checked whole before it
//! commits. An idempotency key is recorded as a Delta application transaction, so a
//! retried request is recognised from the log itself. A commit whose outcome was not
//! reported is looked up in the log by its commit id before anything is reported.

pub mod input;
pub mod rows;

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::SaveMode;
use lakeward_model::query::Filter;
use serde_json::Value;
use url::Url;

use self::input::InputFormat;
use self::rows::RowErrors;
use crate::commit::{Actor, idempotency_app_id};
use crate::error::{EngineError, EngineResult};
use crate::read::{self, column};
use crate::table::{self, TimeTravel};
use crate::{Inner as Engine, history, output};

#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub actor: Actor,
    pub idempotency_key: Option<String>,
    /// Return the written (or deleted) rows.
    pub return_rows: bool,
}

#[derive(Debug, Clone, Default)]
pub struct WriteOutcome {
    /// The version the commit produced; `None` when nothing was committed.
    pub version: Option<u64>,
    pub rows: u64,
    pub returned: Option<Vec<Value>>,
    /// The idempotency key had already been written: nothing was written again.
    pub replayed: bool,
}

/// Row groups small enough that a point lookup reads little once statistics prune.
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(128 * 1024))
        .set_compression(deltalake::parquet::basic::Compression::SNAPPY)
        .build()
}

/// Whether this idempotency key was already committed to the table.
async fn already_written(table: &DeltaTable, key: Option<&str>) -> EngineResult<bool> {
    let Some(key) = key else { return Ok(false) };
    let version = table.snapshot()?.transaction_version(table.log_store().as_ref(), idempotency_app_id(key)).await?;
    Ok(version.is_some())
}

/// Runs a commit; if it fails in a way that leaves its outcome unknown, reads the log to
/// see whether it landed.
async fn commit<F>(table: &DeltaTable, location: &Url, commit_id: &str, run: F) -> EngineResult<DeltaTable>
where
    F: std::future::Future<Output = deltalake::DeltaResult<DeltaTable>>,
{
    let read_version = table.version().unwrap_or(0);
    match run.await {
        Ok(t) => Ok(t),
        Err(e @ (deltalake::DeltaTableError::Transaction { .. } | deltalake::DeltaTableError::VersionAlreadyExists(_))) => Err(e.into()),
        Err(e) if e.to_string().contains("Invalid data found") => Err(EngineError::invalid("body", e.to_string())),
        Err(e) => {
            let reopened = table::open(location, TimeTravel::Latest).await?;
            match history::committed(&reopened, read_version, commit_id).await? {
                Some(_) => Ok(reopened),
                None => Err(e.into()),
            }
        }
    }
}

fn new_commit_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) async fn insert(engine: &Engine, location: &Url, format: InputFormat, body: &[u8], request: &WriteRequest) -> EngineResult<WriteOutcome> {
    let delta = table::open(location, TimeTravel::Latest).await?;
    if already_written(&delta, request.idempotency_key.as_deref()).await? {
        return Ok(WriteOutcome { replayed: true, ..Default::default() });
    }
    let schema = table::arrow_schema(&delta)?;
    let batches = input::parse(format, body, &schema)?;
    let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    if rows == 0 {
        return Ok(WriteOutcome { version: None, rows: 0, returned: request.return_rows.then(Vec::new), replayed: false });
    }
    let keys = table::primary_key(&delta)?;
    if !keys.is_empty() {
        check_keys_unique(engine, &delta, &batches, &keys, false).await?;
    }
    let returned = if request.return_rows { Some(output::to_json_rows(&batches)?) } else { None };
    let commit_id = new_commit_id();
    let app_id = request.idempotency_key.as_deref().map(idempotency_app_id);
    let written = commit(
        &delta,
        location,
        &commit_id,
        delta
            .clone()
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_writer_properties(writer_properties())
            .with_commit_properties(request.actor.commit_properties(&commit_id, app_id.as_deref()))
            .into_future(),
    )
    .await?;
    Ok(WriteOutcome { version: written.version(), rows, returned, replayed: false })
}

/// Primary keys of the input must be unique, and (unless upserting) new to the table.
async fn check_keys_unique(engine: &Engine, delta: &DeltaTable, batches: &[RecordBatch], keys: &[String], upsert: bool) -> EngineResult<()> {
    let ctx = engine.session();
    let schema = batches[0].schema();
    let incoming = datafusion::datasource::MemTable::try_new(schema, vec![batches.to_vec()])?;
    ctx.register_table("incoming", Arc::new(incoming))?;
    let key_cols: Vec<Expr> = keys.iter().map(|k| column(k)).collect();
    let dup = ctx
        .table("incoming")
        .await?
        .aggregate(key_cols.clone(), vec![datafusion::functions_aggregate::count::count(lit(1)).alias("n")])?
        .filter(datafusion::logical_expr::col("n").gt(lit(1)))?
        .select(key_cols.clone())?
        .limit(0, Some(rows::MAX_REPORTED_ERRORS))?
        .collect()
        .await?;
    let mut errors = RowErrors::default();
    for row in output::to_json_rows(&dup)? {
        errors.push(0, Some(&keys.join(",")), format!("primary key {} appears more than once in the input", key_text(&row, keys)));
    }
    if !errors.is_empty() {
        return Err(EngineError::Rows(errors));
    }
    if upsert || table::describe(delta)?.num_rows == 0 {
        return Ok(());
    }
    read::register(&ctx, delta).await?;
    let on: Vec<Expr> = keys
        .iter()
        .map(|k| {
            datafusion::logical_expr::Expr::Column(datafusion::common::Column::new(Some("incoming"), k))
                .eq(datafusion::logical_expr::Expr::Column(datafusion::common::Column::new(Some(read::SELF), k)))
        })
        .collect();
    let existing = ctx
        .table("incoming")
        .await?
        .join_on(ctx.table(read::SELF).await?, datafusion::logical_expr::JoinType::LeftSemi, on)?
        .select(key_cols)?
        .limit(0, Some(rows::MAX_REPORTED_ERRORS))?
        .collect()
        .await?;
    let clashes = output::to_json_rows(&existing)?;
    if !clashes.is_empty() {
        let shown: Vec<String> = clashes.iter().map(|r| key_text(r, keys)).collect();
        return Err(EngineError::Conflict(format!("duplicate primary key: {} already exist(s)", shown.join(", "))));
    }
    Ok(())
}

fn key_text(row: &Value, keys: &[String]) -> String {
    let parts: Vec<String> = keys.iter().map(|k| format!("{k}={}", row[k])).collect();
    format!("({})", parts.join(", "))
}

pub(crate) async fn upsert(engine: &Engine, location: &Url, format: InputFormat, body: &[u8], request: &WriteRequest) -> EngineResult<WriteOutcome> {
    let delta = table::open(location, TimeTravel::Latest).await?;
    if already_written(&delta, request.idempotency_key.as_deref()).await? {
        return Ok(WriteOutcome { replayed: true, ..Default::default() });
    }
    let keys = table::primary_key(&delta)?;
    if keys.is_empty() {
        return Err(EngineError::invalid("Prefer", "resolution=merge-duplicates needs a table with a primary key"));
    }
    let schema = table::arrow_schema(&delta)?;
    let batches = input::parse(format, body, &schema)?;
    let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    if rows == 0 {
        return Ok(WriteOutcome { version: None, rows: 0, returned: request.return_rows.then(Vec::new), replayed: false });
    }
    check_keys_unique(engine, &delta, &batches, &keys, true).await?;
    let returned = if request.return_rows { Some(output::to_json_rows(&batches)?) } else { None };
    let source = SessionContext::new().read_batches(batches)?;
    let predicate = keys.iter().map(|k| format!("target.\"{k}\" = source.\"{k}\"")).collect::<Vec<_>>().join(" AND ");
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let non_keys: Vec<&String> = columns.iter().filter(|c| !keys.contains(c)).collect();
    let commit_id = new_commit_id();
    let app_id = request.idempotency_key.as_deref().map(idempotency_app_id);
    let mut merge = delta
        .clone()
        .merge(source, predicate)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_writer_properties(writer_properties())
        .with_commit_properties(request.actor.commit_properties(&commit_id, app_id.as_deref()));
    if !non_keys.is_empty() {
        merge = merge.when_matched_update(|mut u| {
            for c in &non_keys {
                u = u.update(c.as_str(), format!("source.\"{c}\""));
            }
            u
        })?;
    }
    merge = merge.when_not_matched_insert(|mut i| {
        for c in &columns {
            i = i.set(c.as_str(), format!("source.\"{c}\""));
        }
        i
    })?;
    let read_version = delta.version().unwrap_or(0);
    let outcome = merge.await;
    let version = match outcome {
        Ok((t, _metrics)) => t.version(),
        Err(e @ deltalake::DeltaTableError::Transaction { .. }) => return Err(e.into()),
        Err(e) => {
            let reopened = table::open(location, TimeTravel::Latest).await?;
            match history::committed(&reopened, read_version, &commit_id).await? {
                Some(v) => Some(v),
                None => return Err(e.into()),
            }
        }
    };
    Ok(WriteOutcome { version, rows, returned, replayed: false })
}

/// The rows a filter matches, as JSON (for `return=representation` on update and delete).
async fn matching_rows(engine: &Engine, delta: &DeltaTable, predicate: Option<Expr>) -> EngineResult<Vec<Value>> {
    let ctx = engine.session();
    read::register(&ctx, delta).await?;
    let mut df = ctx.table(read::SELF).await?;
    if let Some(p) = predicate {
        df = df.filter(p)?;
    }
    output::to_json_rows(&df.collect().await?)
}

pub(crate) async fn update(
    engine: &Engine,
    location: &Url,
    filter: Option<&Filter>,
    set: &serde_json::Map<String, Value>,
    request: &WriteRequest,
) -> EngineResult<WriteOutcome> {
    let delta = table::open(location, TimeTravel::Latest).await?;
    if already_written(&delta, request.idempotency_key.as_deref()).await? {
        return Ok(WriteOutcome { replayed: true, ..Default::default() });
    }
    let schema = table::arrow_schema(&delta)?;
    let keys = table::primary_key(&delta)?;
    if set.is_empty() {
        return Err(EngineError::invalid("body", "nothing to update: give the columns to set"));
    }
    let mut errors = RowErrors::default();
    let mut assignments = Vec::new();
    for (name, value) in set {
        let Ok(field) = schema.field_with_name(name) else {
            errors.push(0, Some(name), format!("unknown column `{name}`"));
            continue;
        };
        if keys.contains(name) {
            errors.push(0, Some(name), "primary-key columns cannot be updated");
            continue;
        }
        match rows::scalar_from_json(field, value) {
            Ok(v) => assignments.push((name.clone(), lit(v))),
            Err(m) => errors.push(0, Some(name), m),
        }
    }
    if !errors.is_empty() {
        return Err(EngineError::Rows(errors));
    }
    let predicate = filter.map(|f| read::filter_expr(f, &schema)).transpose()?;
    let commit_id = new_commit_id();
    let app_id = request.idempotency_key.as_deref().map(idempotency_app_id);
    let mut builder = delta
        .clone()
        .update()
        .with_writer_properties(writer_properties())
        .with_commit_properties(request.actor.commit_properties(&commit_id, app_id.as_deref()));
    if let Some(p) = predicate.clone() {
        builder = builder.with_predicate(p);
    }
    for (name, value) in assignments {
        builder = builder.with_update(name, value);
    }
    let read_version = delta.version().unwrap_or(0);
    let (version, rows) = match builder.await {
        Ok((t, metrics)) => {
            let rows = metrics.num_updated_rows as u64;
            (if rows > 0 { t.version() } else { None }, rows)
        }
        Err(e @ deltalake::DeltaTableError::Transaction { .. }) => return Err(e.into()),
        Err(e) if e.to_string().contains("Invalid data found") => return Err(EngineError::invalid("body", e.to_string())),
        Err(e) => {
            let reopened = table::open(location, TimeTravel::Latest).await?;
            match history::committed(&reopened, read_version, &commit_id).await? {
                Some(v) => (Some(v), 0),
                None => return Err(e.into()),
            }
        }
    };
    let returned = if request.return_rows && version.is_some() {
        let after = table::open(location, TimeTravel::Version(version.unwrap_or_default())).await?;
        Some(matching_rows(engine, &after, predicate).await?)
    } else if request.return_rows {
        Some(Vec::new())
    } else {
        None
    };
    Ok(WriteOutcome { version, rows, returned, replayed: false })
}

pub(crate) async fn delete(engine: &Engine, location: &Url, filter: Option<&Filter>, request: &WriteRequest) -> EngineResult<WriteOutcome> {
    let delta = table::open(location, TimeTravel::Latest).await?;
    if already_written(&delta, request.idempotency_key.as_deref()).await? {
        return Ok(WriteOutcome { replayed: true, ..Default::default() });
    }
    let schema = table::arrow_schema(&delta)?;
    let predicate = filter.map(|f| read::filter_expr(f, &schema)).transpose()?;
    let returned = if request.return_rows { Some(matching_rows(engine, &delta, predicate.clone()).await?) } else { None };
    let commit_id = new_commit_id();
    let app_id = request.idempotency_key.as_deref().map(idempotency_app_id);
    let mut builder = delta
        .clone()
        .delete()
        .with_writer_properties(writer_properties())
        .with_commit_properties(request.actor.commit_properties(&commit_id, app_id.as_deref()));
    if let Some(p) = predicate {
        builder = builder.with_predicate(p);
    }
    let before = delta.version();
    let read_version = before.unwrap_or(0);
    let (version, rows) = match builder.await {
        Ok((t, metrics)) => {
            let changed = t.version() != before;
            let rows = metrics.num_deleted_rows.map(|n| n as u64).or_else(|| returned.as_ref().map(|r| r.len() as u64)).unwrap_or(0);
            (if changed { t.version() } else { None }, rows)
        }
        Err(e @ deltalake::DeltaTableError::Transaction { .. }) => return Err(e.into()),
        Err(e) => {
            let reopened = table::open(location, TimeTravel::Latest).await?;
            match history::committed(&reopened, read_version, &commit_id).await? {
                Some(v) => (Some(v), 0),
                None => return Err(e.into()),
            }
        }
    };
    Ok(WriteOutcome { version, rows, returned, replayed: false })
}

pub(crate) async fn restore(location: &Url, version: u64, request: &WriteRequest) -> EngineResult<WriteOutcome> {
    let delta = table::open(location, TimeTravel::Latest).await?;
    let current = delta.version().unwrap_or(0);
    if version >= current {
        return Err(EngineError::invalid("version", format!("can only roll back to an earlier version than the current {current}")));
    }
    let commit_id = new_commit_id();
    let result = delta
        .clone()
        .restore()
        .with_version_to_restore(version)
        .with_commit_properties(request.actor.commit_properties(&commit_id, None))
        .await;
    match result {
        Ok((t, _)) => Ok(WriteOutcome { version: t.version(), ..Default::default() }),
        Err(e) if e.to_string().to_lowercase().contains("version") && !matches!(e, deltalake::DeltaTableError::Transaction { .. }) => {
            Err(EngineError::invalid("version", format!("version {version} does not exist")))
        }
        Err(e) => {
            let reopened = table::open(location, TimeTravel::Latest).await?;
            match history::committed(&reopened, current, &commit_id).await? {
                Some(v) => Ok(WriteOutcome { version: Some(v), ..Default::default() }),
                None => Err(e.into()),
            }
        }
    }
}
