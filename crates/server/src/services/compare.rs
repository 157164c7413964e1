//! Comparisons of two catalogs or two schemas as jobs: which schemas and tables are
//! missing, extra or matching; for the matching tables the differences of their
//! definitions (schema drift), their row counts by reading them and, when asked, checksums
//! of their rows that depend on neither file layout nor row order. Read-only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use lakeward_engine::ops::table::{Checksum, Describe};
use lakeward_engine::{TimeTravel, definition_drift};
use lakeward_meta::access::Principal;
use lakeward_meta::store::{Job, JobEnd, JobProgress, JobTotals, TableEntry};
use serde_json::{Value, json};
use url::Url;

use super::scope::{self, Scope, TableFilter};
use crate::error::{ApiError, ApiResult};
use crate::jobs::{JobKind, Owner};
use crate::state::{AppState, SharedState};

/// What to compare besides the definitions.
#[derive(Debug, Clone, Copy)]
pub struct CompareOptions {
    /// Count both sides' rows by reading them.
    pub row_counts: bool,
    pub checksums: bool,
    /// Tables compared at once.
    pub parallel: usize,
}

/// Both sides' selected schemas and tables, found before the job starts (404 for a side
/// that does not exist).
struct Sides {
    source: Scope,
    destination: Scope,
    schemas: (Vec<String>, Vec<String>),
    tables: (BTreeMap<String, TableEntry>, BTreeMap<String, TableEntry>),
}

/// Starts the comparison as a job (callers have authorized reading tables).
pub async fn start(
    state: &SharedState,
    principal: &Principal,
    source: Scope,
    destination: Scope,
    filter: &TableFilter,
    options: CompareOptions,
) -> ApiResult<Job> {
    let org_id = principal.org_id;
    let side = |scope: &Scope| {
        let scope = scope.clone();
        async move {
            let schemas = scope::schemas(state, org_id, &scope, filter).await?;
            let tables = scope::tables(state, org_id, &scope, filter).await?;
            // Tables by their name inside the scope: `schema.table` in a catalog.
            let name = |t: &TableEntry| match scope.schema {
                Some(_) => t.table.table.to_string(),
                None => format!("{}.{}", t.table.schema, t.table.table),
            };
            let tables: BTreeMap<String, TableEntry> = tables.into_iter().map(|t| (name(&t), t)).collect();
            ApiResult::Ok((schemas.iter().map(ToString::to_string).collect::<Vec<_>>(), tables))
        }
    };
    let (source_schemas, source_tables) = side(&source).await?;
    let (destination_schemas, destination_tables) = side(&destination).await?;
    let sides = Sides {
        source,
        destination,
        schemas: (source_schemas, destination_schemas),
        tables: (source_tables, destination_tables),
    };
    let matching = sides.tables.0.keys().filter(|k| sides.tables.1.contains_key(*k)).count();
    let owner = Owner { org_id, user_id: principal.user_id };
    let totals = JobTotals { steps: Some(matching as i64), ..Default::default() };
    let target = format!("{} vs {}", sides.source, sides.destination);
    let mut job = state.jobs.start(JobKind::Compare, owner, Some(&target), totals).await?;
    let accepted = job.snapshot();
    let state = state.clone();
    tokio::spawn(async move {
        job.running().await;
        let progress = Arc::new(Counted::default());
        let counts = || progress.counts();
        let work = compare(&state, &sides, options, &progress);
        let outcome = job.drive(work, counts, || progress.stop.store(true, Ordering::Relaxed)).await;
        match outcome {
            _ if progress.stop.load(Ordering::Relaxed) => job.finish(counts(), JobEnd::Cancelled).await,
            Ok(result) => job.finish(counts(), JobEnd::Succeeded { version: None, result }).await,
            Err(error) => job.fail(counts(), error).await,
        }
    });
    Ok(accepted)
}

/// Tables compared and rows counted so far; whether to stop.
#[derive(Default)]
struct Counted {
    tables: AtomicU64,
    rows: AtomicU64,
    stop: AtomicBool,
}

impl Counted {
    fn counts(&self) -> JobProgress {
        JobProgress {
            rows_read: self.rows.load(Ordering::Relaxed) as i64,
            rows_written: 0,
            bytes_read: None,
            steps_done: Some(self.tables.load(Ordering::Relaxed) as i64),
        }
    }
}

async fn compare(state: &AppState, sides: &Sides, options: CompareOptions, progress: &Counted) -> ApiResult<Value> {
    let (source, destination) = &sides.tables;
    let split = |a: &BTreeMap<String, TableEntry>, b: &BTreeMap<String, TableEntry>| -> Vec<String> {
        a.keys().filter(|k| !b.contains_key(*k)).cloned().collect()
    };
    let matching: Vec<&String> = source.keys().filter(|k| destination.contains_key(*k)).collect();
    let compared: Vec<BoxFuture<'_, ApiResult<Value>>> = matching
        .iter()
        .map(|name| compare_tables(state, name, &source[*name], &destination[*name], options, progress).boxed())
        .collect();
    let compared: Vec<Value> = futures::stream::iter(compared)
        .buffered(options.parallel)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<ApiResult<_>>()?;
    let count = |f: &dyn Fn(&Value) -> bool| compared.iter().filter(|c| f(c)).count();
    let (missing, extra) = (split(source, destination), split(destination, source));
    let summary = json!({
        "missing_tables": missing.len(),
        "extra_tables": extra.len(),
        "matching_tables": matching.len(),
        "tables_with_drift": count(&|c| !c["drift"].as_array().is_none_or(Vec::is_empty)),
        "row_count_mismatches": count(&|c| c["rows_match"] == false),
        "checksum_mismatches": count(&|c| c["checksums_match"] == false),
    });
    let mut result = json!({
        "source": sides.source.to_string(),
        "destination": sides.destination.to_string(),
        "tables": { "missing": missing, "extra": extra, "matching": matching },
        "compared": compared,
        "summary": summary,
    });
    let mut identical = missing.is_empty() && extra.is_empty() && compared.iter().all(|c| c["identical"] == true);
    if sides.source.schema.is_none() {
        let (a, b) = &sides.schemas;
        let missing: Vec<&String> = a.iter().filter(|s| !b.contains(s)).collect();
        let extra: Vec<&String> = b.iter().filter(|s| !a.contains(s)).collect();
        let matching: Vec<&String> = a.iter().filter(|s| b.contains(s)).collect();
        identical &= missing.is_empty() && extra.is_empty();
        result["schemas"] = json!({ "missing": missing, "extra": extra, "matching": matching });
    }
    result["identical"] = json!(identical);
    Ok(result)
}

/// One matching pair: the definitions' drift, row counts and checksums as asked.
async fn compare_tables(
    state: &AppState,
    name: &str,
    source: &TableEntry,
    destination: &TableEntry,
    options: CompareOptions,
    progress: &Counted,
) -> ApiResult<Value> {
    if progress.stop.load(Ordering::Relaxed) {
        return Err(ApiError::conflict("cancelled"));
    }
    let location = |t: &TableEntry| Url::parse(&t.location).map_err(ApiError::internal);
    let (a, b) = (location(source)?, location(destination)?);
    let describe = |location: &Url| state.engine.run(Describe { location: location.clone(), at: TimeTravel::Latest });
    let (before, after) = (describe(&a).await?, describe(&b).await?);
    let drift = definition_drift(&before, &after);
    let mut view = json!({ "table": name, "drift": drift });
    let mut identical = drift.is_empty();
    if options.row_counts || options.checksums {
        let count = |location: &Url| {
            state.engine.run(Checksum {
                location: location.clone(),
                at: TimeTravel::Latest,
                checksum: options.checksums,
            })
        };
        let (x, y) = (count(&a).await?, count(&b).await?);
        progress.rows.fetch_add(x.rows + y.rows, Ordering::Relaxed);
        view["source_rows"] = json!(x.rows);
        view["destination_rows"] = json!(y.rows);
        view["rows_match"] = json!(x.rows == y.rows);
        identical &= x.rows == y.rows;
        if options.checksums {
            view["source_checksum"] = json!(x.checksum);
            view["destination_checksum"] = json!(y.checksum);
            view["checksums_match"] = json!(x.checksum == y.checksum);
            identical &= x.checksum == y.checksum;
        }
    }
    view["identical"] = json!(identical);
    progress.tables.fetch_add(1, Ordering::Relaxed);
    Ok(view)
}
