//! Row-level differences between two versions of a table, or two tables (a clone and its
//! source). Only the data files that one side has and the other does not are read (a file
//! both name holds the same rows in both: Delta never rewrites a file, and a clone's files
//! are its source's bytes under the same names), so the cost follows what changed, not
//! the table's size. Rows of those files are
//! joined by primary key: a key only before is removed, only after is added, on both sides
//! with another value in some column is changed (a row merely rewritten into a new file
//! is no change). Without a primary key whole rows are compared as multisets.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::JoinType;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, Operator, binary_expr, lit, when};
use datafusion::prelude::{DataFrame, SessionContext};
use deltalake::DeltaTable;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{EngineError, EngineResult};
use crate::read::column;
use crate::state::EngineState;
use crate::table;
use crate::write::compact::read_data_file;

/// What changed from one version to another.
#[derive(Debug, Clone)]
pub struct TableDiff {
    pub from_version: u64,
    pub to_version: u64,
    /// The primary key the rows were matched on; empty: whole rows were compared.
    pub key: Vec<String>,
    /// Data files read: those only one of the versions has.
    pub files_read: u64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    /// Every difference, ordered by key, values as a read writes them:
    /// `{"change": "added"|"removed", "key", "row"}` or
    /// `{"change": "changed", "key", "columns": {name: {"old", "new"}}}`.
    pub rows: Vec<Box<RawValue>>,
}

impl TableDiff {
    /// `differences` as CSV, one line per changed value: `change`, the key's columns, then
    /// `column`, `old`, `new`. A changed row has a line per column that changed; an added
    /// or removed row one line, its whole row as a JSON object in `new` or `old`. Key
    /// values are written as text, `old` and `new` as JSON (so `null` and `"null"` differ).
    pub fn csv(&self, differences: &[Box<RawValue>]) -> String {
        let mut out = String::new();
        let header =
            std::iter::once("change").chain(self.key.iter().map(String::as_str)).chain(["column", "old", "new"]);
        csv_line(&mut out, header.map(str::to_owned));
        for difference in differences {
            let Ok(d) = serde_json::from_str::<Value>(difference.get()) else { continue };
            let change = d["change"].as_str().unwrap_or_default().to_owned();
            let key: Vec<String> = self.key.iter().map(|k| plain(&d["key"][k])).collect();
            let line = |column: &str, old: String, new: String| {
                std::iter::once(change.clone()).chain(key.iter().cloned()).chain([column.to_owned(), old, new])
            };
            match d["columns"].as_object() {
                Some(columns) => {
                    for (column, values) in columns {
                        csv_line(&mut out, line(column, values["old"].to_string(), values["new"].to_string()));
                    }
                }
                None if change == "added" => csv_line(&mut out, line("", String::new(), d["row"].to_string())),
                None => csv_line(&mut out, line("", d["row"].to_string(), String::new())),
            }
        }
        out
    }
}

/// A key value as text: strings without quotes, null as nothing.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One CSV record (RFC 4180: fields with a comma, quote or line break are quoted).
fn csv_line(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&field);
        }
    }
    out.push_str("\r\n");
}

/// The differences from `before` to `after` (two states of one table).
pub(crate) async fn diff_versions(
    state: &EngineState,
    before: &DeltaTable,
    after: &DeltaTable,
) -> EngineResult<TableDiff> {
    let files = |t: &DeltaTable| -> EngineResult<HashSet<String>> {
        let snapshot = t.snapshot()?;
        if snapshot.log_data().iter().any(|f| f.deletion_vector_descriptor().is_some()) {
            return Err(EngineError::Conflict("tables with deletion vectors cannot be compared yet".into()));
        }
        Ok(snapshot.log_data().iter().map(|f| f.path().into_owned()).collect())
    };
    let (old_files, new_files) = (files(before)?, files(after)?);
    let schema = table::arrow_schema(after)?;
    let key = table::primary_key(after)?;
    if table::primary_key(before)? != key {
        return Err(EngineError::Conflict("the tables have different primary keys; rows cannot be matched".into()));
    }
    let gone: Vec<&String> = old_files.difference(&new_files).collect();
    let came: Vec<&String> = new_files.difference(&old_files).collect();
    let files_read = (gone.len() + came.len()) as u64;
    let old = read_files(before, &gone, &schema).await?;
    let new = read_files(after, &came, &schema).await?;
    let ctx = state.session();
    ctx.register_table("old", Arc::new(MemTable::try_new(schema.clone(), vec![old])?))?;
    ctx.register_table("new", Arc::new(MemTable::try_new(schema.clone(), vec![new])?))?;
    let rows = if key.is_empty() { by_whole_rows(&ctx, &schema).await? } else { by_key(&ctx, &schema, &key).await? };
    let count =
        |kind: &str| rows.iter().filter(|r| r.get().starts_with(&format!(r#"{{"change":"{kind}""#))).count() as u64;
    Ok(TableDiff {
        from_version: before.version().unwrap_or(0),
        to_version: after.version().unwrap_or(0),
        files_read,
        added: count("added"),
        removed: count("removed"),
        changed: count("changed"),
        key,
        rows,
    })
}

async fn read_files(table: &DeltaTable, paths: &[&String], schema: &SchemaRef) -> EngineResult<Vec<RecordBatch>> {
    let store = table.object_store();
    let mut batches = Vec::new();
    for path in paths {
        batches.extend(read_data_file(&store, path, schema).await?);
    }
    Ok(batches)
}

/// A side's columns renamed by position (`o3`, `n3`), so that both sides can be joined,
/// and a marker that the side has the row (`o_present`).
async fn side(ctx: &SessionContext, name: &str, schema: &SchemaRef) -> EngineResult<DataFrame> {
    let prefix = &name[..1];
    let columns: Vec<Expr> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| column(f.name()).alias(format!("{prefix}{i}")))
        .chain([lit(true).alias(format!("{prefix}_present"))])
        .collect();
    Ok(ctx.table(name).await?.select(columns)?)
}

async fn by_key(ctx: &SessionContext, schema: &SchemaRef, key: &[String]) -> EngineResult<Vec<Box<RawValue>>> {
    let keys: Vec<usize> = key.iter().map(|k| schema.index_of(k)).collect::<Result<_, _>>()?;
    let (old, new) = (side(ctx, "old", schema).await?, side(ctx, "new", schema).await?);
    let (left, right): (Vec<String>, Vec<String>) = keys.iter().map(|i| (format!("o{i}"), format!("n{i}"))).unzip();
    let (left, right): (Vec<&str>, Vec<&str>) =
        (left.iter().map(String::as_str).collect(), right.iter().map(String::as_str).collect());
    let joined = old.join(new, JoinType::Full, &left, &right, None)?;
    let differs = (0..schema.fields().len())
        .filter(|i| !keys.contains(i))
        .map(|i| binary_expr(column(&format!("o{i}")), Operator::IsDistinctFrom, column(&format!("n{i}"))))
        .reduce(Expr::or)
        .unwrap_or(lit(false));
    let missing = |side: &str| column(&format!("{side}_present")).is_null();
    let change = when(missing("o"), lit("added")).when(missing("n"), lit("removed")).otherwise(lit("changed"))?;
    let mut selected = vec![change.alias("change")];
    for i in 0..schema.fields().len() {
        selected.push(column(&format!("o{i}")));
        selected.push(column(&format!("n{i}")));
    }
    let order: Vec<_> = keys
        .iter()
        .map(|i| {
            datafusion::functions::expr_fn::coalesce(vec![column(&format!("o{i}")), column(&format!("n{i}"))])
                .sort(true, false)
        })
        .collect();
    let batches =
        joined.filter(missing("o").or(missing("n")).or(differs))?.sort(order)?.select(selected)?.collect().await?;
    let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    let mut out = Vec::new();
    for row in fields_of(&batches)? {
        let change = row.get("change").map(|c| c.get()).unwrap_or_default().to_owned();
        let value = |prefix: &str, i: usize| row.get(&format!("{prefix}{i}")).map_or("null", |v| v.get());
        let side = if change == r#""added""# { "n" } else { "o" };
        let key_of = object(keys.iter().map(|&i| (names[i].as_str(), value(side, i).to_owned())));
        let text = if change == r#""changed""# {
            let columns = object(
                (0..names.len())
                    .filter(|i| !keys.contains(i) && value("o", *i) != value("n", *i))
                    .map(|i| (names[i].as_str(), format!(r#"{{"old":{},"new":{}}}"#, value("o", i), value("n", i)))),
            );
            format!(r#"{{"change":{change},"key":{key_of},"columns":{columns}}}"#)
        } else {
            let whole = object((0..names.len()).map(|i| (names[i].as_str(), value(side, i).to_owned())));
            format!(r#"{{"change":{change},"key":{key_of},"row":{whole}}}"#)
        };
        out.push(raw(text)?);
    }
    Ok(out)
}

/// Each row's fields as the JSON text a read writes for them.
fn fields_of(batches: &[RecordBatch]) -> EngineResult<Vec<BTreeMap<String, Box<RawValue>>>> {
    crate::output::json_rows(batches)?
        .iter()
        .map(|row| serde_json::from_str(row.get()).map_err(|e| EngineError::internal(e.to_string())))
        .collect()
}

/// `{"name": <value text>, ...}`.
fn object<'a>(fields: impl Iterator<Item = (&'a str, String)>) -> String {
    let parts: Vec<String> =
        fields.map(|(name, value)| format!("{}:{value}", Value::String(name.to_owned()))).collect();
    format!("{{{}}}", parts.join(","))
}

fn raw(text: String) -> EngineResult<Box<RawValue>> {
    RawValue::from_string(text).map_err(|e| EngineError::internal(e.to_string()))
}

/// Without a key: a row that is more often before than after is removed that many times,
/// one more often after is added (multisets; DataFusion's EXCEPT ALL would not count).
async fn by_whole_rows(ctx: &SessionContext, schema: &SchemaRef) -> EngineResult<Vec<Box<RawValue>>> {
    let all: Vec<Expr> = schema.fields().iter().map(|f| column(f.name())).collect();
    let counted = |name: &'static str| {
        let all = all.clone();
        async move {
            let n = datafusion::functions_aggregate::count::count(lit(1)).alias(COUNT);
            let batches = ctx.table(name).await?.aggregate(all, vec![n])?.collect().await?;
            let mut counts = BTreeMap::new();
            for mut row in fields_of(&batches)? {
                let n: i64 = row.remove(COUNT).and_then(|n| n.get().parse().ok()).unwrap_or(0);
                let text = object(row.iter().map(|(k, v)| (k.as_str(), v.get().to_owned())));
                counts.insert(text, n);
            }
            EngineResult::Ok(counts)
        }
    };
    let (before, after) = (counted("old").await?, counted("new").await?);
    let mut out = Vec::new();
    for (row, n) in &before {
        for _ in 0..(n - after.get(row).copied().unwrap_or(0)).max(0) {
            out.push(raw(format!(r#"{{"change":"removed","key":null,"row":{row}}}"#))?);
        }
    }
    for (row, n) in &after {
        for _ in 0..(n - before.get(row).copied().unwrap_or(0)).max(0) {
            out.push(raw(format!(r#"{{"change":"added","key":null,"row":{row}}}"#))?);
        }
    }
    Ok(out)
}

/// The count column of [`by_whole_rows`] (a name no table column can have).
const COUNT: &str = "__lakeward_rows";
