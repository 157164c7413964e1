//! Writes: every request is one Delta commit, by a named actor, checked whole before it
//! commits. An idempotency key is recorded as a Delta application transaction, so a
//! retried request is recognised from the log itself. A commit whose outcome was not
//! reported is looked up in the log by its commit id before anything is reported.

pub(crate) mod compact;
pub(crate) mod encoding;
pub(crate) mod group;
pub mod input;
pub(crate) mod key_index;
pub mod rows;

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use lakeward_model::query::Filter;
use serde_json::Value;
use url::Url;

pub use self::input::InputFormat;
use crate::commit::{Actor, Commit, replayed};
use crate::error::{EngineError, EngineResult, Input};
use crate::output;
use crate::read::{self, column};
use crate::row_errors::{self, RowErrors};
use crate::rules::Rules;
use crate::state::EngineState;
use crate::table::{self, TimeTravel};

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn ints(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    #[test]
    fn increasing_keys_are_recognised_across_batches() {
        assert!(strictly_increasing(&[ints(&[1, 2, 5]), ints(&[6, 9])], "id"));
        assert!(!strictly_increasing(&[ints(&[1, 2, 5]), ints(&[5, 9])], "id"), "a repeat across batches");
        assert!(!strictly_increasing(&[ints(&[3, 2])], "id"));
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
        let strings =
            |v: Vec<&str>| RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(v))]).unwrap();
        assert!(strictly_increasing(&[strings(vec!["a", "b"]), strings(vec!["c"])], "id"));
        assert!(!strictly_increasing(&[strings(vec!["a", "a"])], "id"));
    }
}

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
    /// The rows as a read of them would write them in JSON.
    pub returned: Option<Vec<Box<serde_json::value::RawValue>>>,
    /// The idempotency key had already been written: nothing was written again.
    pub replayed: bool,
}

/// Row groups small enough that a point lookup decodes little once statistics prune.
pub(crate) fn writer_properties_builder() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(16 * 1024))
        .set_compression(deltalake::parquet::basic::Compression::SNAPPY)
}

pub(crate) fn writer_properties() -> WriterProperties {
    writer_properties_builder().build()
}

/// Primary keys of the input must be unique, and (unless upserting) new to the table.
/// Whether a single key column is strictly increasing across all batches: then it has no
/// duplicates, proven in one pass and no memory (imports usually arrive in key order).
fn strictly_increasing(batches: &[RecordBatch], key: &str) -> bool {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int32Type, Int64Type};
    let mut last_int: Option<i64> = None;
    let mut last_str: Option<String> = None;
    for batch in batches {
        let Some(column) = batch.column_by_name(key) else { return false };
        if column.null_count() > 0 {
            return false;
        }
        match column.data_type() {
            DataType::Int64 | DataType::Int32 => {
                let values: Box<dyn Iterator<Item = i64>> = match column.data_type() {
                    DataType::Int64 => Box::new(column.as_primitive::<Int64Type>().values().iter().copied()),
                    _ => Box::new(column.as_primitive::<Int32Type>().values().iter().map(|v| i64::from(*v))),
                };
                for v in values {
                    if last_int.is_some_and(|l| v <= l) {
                        return false;
                    }
                    last_int = Some(v);
                }
            }
            DataType::Utf8 => {
                let strings = column.as_string::<i32>();
                for i in 0..strings.len() {
                    let v = strings.value(i);
                    if last_str.as_deref().is_some_and(|l| v <= l) {
                        return false;
                    }
                    last_str = Some(v.to_owned());
                }
            }
            _ => return false,
        }
    }
    true
}

pub(crate) async fn check_keys_unique(
    engine: &EngineState,
    delta: &DeltaTable,
    batches: &[RecordBatch],
    keys: &[String],
    upsert: bool,
) -> EngineResult<()> {
    let ctx = engine.session();
    let in_order = keys.len() == 1 && strictly_increasing(batches, &keys[0]);
    let schema = batches[0].schema();
    let incoming = datafusion::datasource::MemTable::try_new(schema, vec![batches.to_vec()])?;
    ctx.register_table("incoming", Arc::new(incoming))?;
    let key_cols: Vec<Expr> = keys.iter().map(|k| column(k)).collect();
    let dup = if in_order {
        Vec::new()
    } else {
        ctx.table("incoming")
            .await?
            .aggregate(key_cols.clone(), vec![datafusion::functions_aggregate::count::count(lit(1)).alias("n")])?
            .filter(datafusion::logical_expr::col("n").gt(lit(1)))?
            .select(key_cols.clone())?
            .limit(0, Some(row_errors::MAX_REPORTED_ERRORS))?
            .collect()
            .await?
    };
    let mut errors = RowErrors::default();
    for row in output::to_json_rows(&dup)? {
        errors.push(
            0,
            Some(&keys.join(",")),
            format!("primary key {} appears more than once in the input", key_text(&row, keys)),
        );
    }
    if !errors.is_empty() {
        return Err(EngineError::Rows(errors));
    }
    if upsert || delta.snapshot()?.log_data().iter().next().is_none() {
        return Ok(());
    }
    read::register(&ctx, delta).await?;
    let incoming_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if keys.len() == 1 && incoming_rows <= IN_LIST_MAX {
        // Few keys: an IN list that file and row-group statistics prune, instead of a
        // join that reads the whole table.
        let mut values = Vec::with_capacity(incoming_rows);
        for batch in batches {
            let array = batch.column_by_name(&keys[0]).expect("key column");
            for i in 0..batch.num_rows() {
                values.push(lit(datafusion::scalar::ScalarValue::try_from_array(array, i)?));
            }
        }
        let existing = ctx
            .table(read::SELF)
            .await?
            .filter(column(&keys[0]).in_list(values, false))?
            .select(key_cols)?
            .limit(0, Some(row_errors::MAX_REPORTED_ERRORS))?
            .collect()
            .await?;
        return duplicate_keys(&output::to_json_rows(&existing)?, keys);
    }
    let on: Vec<Expr> = keys
        .iter()
        .map(|k| {
            datafusion::logical_expr::Expr::Column(datafusion::common::Column::new(Some("incoming"), k))
                .eq(datafusion::logical_expr::Expr::Column(datafusion::common::Column::new(Some(read::SELF), k)))
        })
        .collect();
    // Only rows within the incoming keys' range can clash: a range filter that file and
    // row-group statistics prune, so an append of new keys reads none of the table.
    let mut table = ctx.table(read::SELF).await?;
    for range in key_ranges(&ctx, keys).await? {
        table = table.filter(range)?;
    }
    let existing = ctx
        .table("incoming")
        .await?
        .join_on(table, datafusion::logical_expr::JoinType::LeftSemi, on)?
        .select(key_cols)?
        .limit(0, Some(row_errors::MAX_REPORTED_ERRORS))?
        .collect()
        .await?;
    duplicate_keys(&output::to_json_rows(&existing)?, keys)
}

/// `min <= key AND key <= max` of the incoming rows, for every key column.
async fn key_ranges(ctx: &datafusion::prelude::SessionContext, keys: &[String]) -> EngineResult<Vec<Expr>> {
    use datafusion::functions_aggregate::min_max::{max, min};
    let bounds: Vec<Expr> = keys.iter().flat_map(|k| [min(column(k)), max(column(k))]).collect();
    let batches = ctx.table("incoming").await?.aggregate(vec![], bounds)?.collect().await?;
    let Some(row) = batches.first().filter(|b| b.num_rows() == 1) else { return Ok(Vec::new()) };
    let mut ranges = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let low = datafusion::scalar::ScalarValue::try_from_array(row.column(2 * i), 0)?;
        let high = datafusion::scalar::ScalarValue::try_from_array(row.column(2 * i + 1), 0)?;
        if !low.is_null() && !high.is_null() {
            ranges.push(column(key).gt_eq(lit(low)).and(column(key).lt_eq(lit(high))));
        }
    }
    Ok(ranges)
}

/// Inputs of up to this many rows check their keys with an IN list.
const IN_LIST_MAX: usize = 4096;

fn duplicate_keys(clashes: &[Value], keys: &[String]) -> EngineResult<()> {
    if clashes.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = clashes.iter().map(|r| key_text(r, keys)).collect();
    Err(EngineError::Conflict(format!("duplicate primary key: {} already exist(s)", shown.join(", "))))
}

/// `(id=3)`, `(code=DE, day=2024-01-01)`: values as written, text without quotes, as
/// the key index's messages show them.
fn key_text(row: &Value, keys: &[String]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|k| match &row[k] {
            Value::String(text) => format!("{k}={text}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("({})", parts.join(", "))
}

pub(crate) async fn upsert(
    engine: &EngineState,
    location: &Url,
    format: InputFormat,
    body: &[u8],
    request: &WriteRequest,
) -> EngineResult<WriteOutcome> {
    let delta = engine.open(location, TimeTravel::Latest).await?;
    if let Some(outcome) = replayed(&delta, request.idempotency_key.as_deref()).await? {
        return Ok(outcome);
    }
    let keys = table::primary_key(&delta)?;
    if keys.is_empty() {
        return Err(EngineError::invalid(
            Input::Resolution,
            "resolution=merge-duplicates needs a table with a primary key",
        ));
    }
    let schema = table::arrow_schema(&delta)?;
    let rules = Rules::compile(engine, location, &delta).await?;
    let batches = input::parse(format, body, &schema, &rules)?;
    let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    if rows == 0 {
        return Ok(WriteOutcome {
            version: None,
            rows: 0,
            returned: request.return_rows.then(Vec::new),
            replayed: false,
        });
    }
    check_keys_unique(engine, &delta, &batches, &keys, true).await?;
    let returned = if request.return_rows { Some(output::json_rows(&batches)?) } else { None };
    let source = SessionContext::new().read_batches(batches)?;
    let predicate = keys.iter().map(|k| format!("target.\"{k}\" = source.\"{k}\"")).collect::<Vec<_>>().join(" AND ");
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let non_keys: Vec<&String> = columns.iter().filter(|c| !keys.contains(c)).collect();
    let commit = Commit::prepare(engine, location, &delta);
    let mut merge = delta
        .clone()
        .merge(source, predicate)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_writer_properties(engine.encodings.writer_properties(engine, location, &delta).await)
        .with_commit_properties(commit.properties(&request.actor, request.idempotency_key.as_deref()));
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
    let version = commit.landed(merge.await).await?.version;
    Ok(WriteOutcome { version: Some(version), rows, returned, replayed: false })
}

/// The rows a filter matches (for `return=representation` on update and delete).
async fn matching_batches(
    engine: &EngineState,
    delta: &DeltaTable,
    predicate: Option<Expr>,
) -> EngineResult<Vec<RecordBatch>> {
    let ctx = engine.session();
    read::register(&ctx, delta).await?;
    let mut df = ctx.table(read::SELF).await?;
    if let Some(p) = predicate {
        df = df.filter(p)?;
    }
    Ok(df.collect().await?)
}

/// `batches` with each assigned column replaced by its new value.
fn with_assignments(
    batches: &[RecordBatch],
    assignments: &[(String, datafusion::scalar::ScalarValue)],
) -> EngineResult<Vec<RecordBatch>> {
    batches
        .iter()
        .map(|batch| {
            let mut fields: Vec<arrow::datatypes::Field> =
                batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
            let mut columns = batch.columns().to_vec();
            for (name, value) in assignments {
                if let Ok(i) = batch.schema().index_of(name) {
                    columns[i] = value.to_array_of_size(batch.num_rows())?;
                    fields[i] = fields[i].clone().with_data_type(value.data_type()).with_nullable(true);
                }
            }
            Ok(RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns)?)
        })
        .collect()
}

pub(crate) async fn update(
    engine: &EngineState,
    location: &Url,
    filter: Option<&Filter>,
    set: &serde_json::Map<String, Value>,
    request: &WriteRequest,
) -> EngineResult<WriteOutcome> {
    let delta = engine.open(location, TimeTravel::Latest).await?;
    if let Some(outcome) = replayed(&delta, request.idempotency_key.as_deref()).await? {
        return Ok(outcome);
    }
    let schema = table::arrow_schema(&delta)?;
    let keys = table::primary_key(&delta)?;
    if set.is_empty() {
        return Err(EngineError::invalid(Input::Request, "nothing to update: give the columns to set"));
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
        match crate::coerce::scalar_from_json(field, value) {
            Ok(v) => assignments.push((name.clone(), v)),
            Err(m) => errors.push(0, Some(name), m),
        }
    }
    if !errors.is_empty() {
        return Err(EngineError::Rows(errors));
    }
    let predicate = filter.map(|f| read::filter_expr(f, &schema)).transpose()?;
    // The rows as they will be: read before the update (the filter may no longer match
    // afterwards, when the update changes a filtered column), with the assignments applied;
    // needed to return them, and to check them against domains and constraints.
    let rules = Rules::compile(engine, location, &delta).await?;
    let before = if request.return_rows || rules.has_value_rules() {
        Some(matching_batches(engine, &delta, predicate.clone()).await?)
    } else {
        None
    };
    if rules.has_value_rules() {
        let mut errors = RowErrors::default();
        let mut offset = 0;
        for batch in with_assignments(before.as_deref().unwrap_or_default(), &assignments)? {
            rules.check(&batch, offset, &mut errors)?;
            offset += batch.num_rows();
        }
        if !errors.is_empty() {
            return Err(EngineError::Rows(errors));
        }
    }
    let commit = Commit::prepare(engine, location, &delta);
    let mut builder = delta
        .clone()
        .update()
        .with_session_state(engine.write_session())
        .with_writer_properties(engine.encodings.writer_properties(engine, location, &delta).await)
        .with_commit_properties(commit.properties(&request.actor, request.idempotency_key.as_deref()));
    if let Some(p) = predicate.clone() {
        builder = builder.with_predicate(p);
    }
    for (name, value) in &assignments {
        builder = builder.with_update(name.clone(), lit(value.clone()));
    }
    let landed = commit.landed(builder.await).await?;
    let (version, rows) = match landed.reported {
        Some((_, metrics)) => {
            let rows = metrics.num_updated_rows as u64;
            (if rows > 0 { Some(landed.version) } else { None }, rows)
        }
        None => (Some(landed.version), 0),
    };
    let returned = match before.filter(|_| request.return_rows) {
        Some(batches) if version.is_some() => Some(output::json_rows(&with_assignments(&batches, &assignments)?)?),
        Some(_) => Some(Vec::new()),
        None => None,
    };
    Ok(WriteOutcome { version, rows, returned, replayed: false })
}

pub(crate) async fn delete(
    engine: &EngineState,
    location: &Url,
    filter: Option<&Filter>,
    request: &WriteRequest,
) -> EngineResult<WriteOutcome> {
    let delta = engine.open(location, TimeTravel::Latest).await?;
    if let Some(outcome) = replayed(&delta, request.idempotency_key.as_deref()).await? {
        return Ok(outcome);
    }
    let schema = table::arrow_schema(&delta)?;
    let predicate = filter.map(|f| read::filter_expr(f, &schema)).transpose()?;
    let returned = if request.return_rows {
        Some(output::json_rows(&matching_batches(engine, &delta, predicate.clone()).await?)?)
    } else {
        None
    };
    let commit = Commit::prepare(engine, location, &delta);
    let mut builder = delta
        .clone()
        .delete()
        .with_session_state(engine.write_session())
        .with_writer_properties(engine.encodings.writer_properties(engine, location, &delta).await)
        .with_commit_properties(commit.properties(&request.actor, request.idempotency_key.as_deref()));
    if let Some(p) = predicate {
        builder = builder.with_predicate(p);
    }
    let landed = commit.landed(builder.await).await?;
    let (version, rows) = match landed.reported {
        Some((t, metrics)) => {
            let changed = t.version() != delta.version();
            let rows = metrics
                .num_deleted_rows
                .map(|n| n as u64)
                .or_else(|| returned.as_ref().map(|r| r.len() as u64))
                .unwrap_or(0);
            (if changed { Some(landed.version) } else { None }, rows)
        }
        None => (Some(landed.version), 0),
    };
    Ok(WriteOutcome { version, rows, returned, replayed: false })
}

pub(crate) async fn restore(
    engine: &EngineState,
    location: &Url,
    version: u64,
    request: &WriteRequest,
) -> EngineResult<WriteOutcome> {
    let delta = engine.open(location, TimeTravel::Latest).await?;
    let current = delta.version().unwrap_or(0);
    if version >= current {
        return Err(EngineError::invalid(
            "version",
            format!("can only roll back to an earlier version than the current {current}"),
        ));
    }
    let commit = Commit::prepare(engine, location, &delta);
    let result = delta
        .clone()
        .restore()
        .with_version_to_restore(version)
        .with_commit_properties(commit.properties(&request.actor, None))
        .await;
    if let Err(e) = &result
        && crate::error::classify_delta(e) == crate::error::DeltaFault::NoSuchVersion
    {
        return Err(EngineError::invalid("version", format!("version {version} does not exist")));
    }
    Ok(WriteOutcome { version: Some(commit.landed(result).await?.version), ..Default::default() })
}
