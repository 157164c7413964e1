//! Clones of tables, schemas and catalogs as jobs. Every table is planned first (the job's
//! totals), then the catalog and schemas the clone needs are created, the tables written by
//! the engine and registered (several at once, bounded), validated when asked, and only when
//! all of them are there is each one's lineage recorded and audited. A clone that fails, is
//! cancelled or does not validate leaves nothing behind; a finished one can be rolled back
//! (the tables, schemas and catalog it made removed, nothing else touched).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use lakeward_engine::ops::table::{Checksum, CloneTable, DropTable, TableChecksum};
use lakeward_engine::{Actor as CommitActor, CloneKeep, ClonePlan, CloneProgress, EngineError, TimeTravel};
use lakeward_meta::EventKind;
use lakeward_meta::access::Principal;
use lakeward_meta::store::{Job, JobEnd, JobProgress, JobTotals, NewLineage, TableEntry};
use lakeward_model::{Ident, TableRef};
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

use super::scope::{self, Scope, TableFilter};
use crate::audit_log::{self, Actor, Event};
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::jobs::{JobHandle, JobKind, Owner};
use crate::state::{AppState, SharedState};
use crate::table_access::{self, ResolvedTable};

/// How to clone.
#[derive(Debug, Clone)]
pub struct CloneOptions {
    pub shallow: bool,
    pub at: TimeTravel,
    pub dry_run: bool,
    pub keep: CloneKeep,
    /// Count the rows of both tables after the clone (and compare checksums).
    pub validate: bool,
    pub checksum: bool,
    /// Tables cloned at once.
    pub parallel: usize,
    /// The options as the request gave them, for the lineage record.
    pub echo: Value,
}

/// One table to clone, and where to.
pub struct ClonePair {
    source: ResolvedTable,
    destination: TableRef,
    location: Url,
    connection_id: Option<Uuid>,
}

/// What a clone makes: its tables, and the catalog and schemas they need that do not exist.
pub struct CloneSet {
    pairs: Vec<ClonePair>,
    /// For a schema or catalog clone, what it names (source, destination).
    scope: Option<(Scope, Scope)>,
    new_catalog: Option<Ident>,
    new_schemas: Vec<Ident>,
}

/// A clone of one table into an existing schema (404 when it does not exist, 409 when the
/// table does).
pub async fn table_set(
    state: &AppState,
    principal: &Principal,
    source: ResolvedTable,
    destination: TableRef,
) -> ApiResult<CloneSet> {
    if state.meta.get_schema(principal.org_id, &destination.catalog, &destination.schema).await?.is_none() {
        let (catalog, schema) = (&destination.catalog, Some(&destination.schema));
        return Err(table_access::not_found(state, principal.org_id, catalog, schema, None).await);
    }
    if state.meta.get_table(principal.org_id, &destination).await?.is_some() {
        return Err(ApiError::conflict(format!("table `{destination}` already exists")));
    }
    let (location, connection_id) = super::tables::location_for(state, principal, &destination).await?;
    Ok(CloneSet {
        pairs: vec![ClonePair { source, destination, location, connection_id }],
        scope: None,
        new_catalog: None,
        new_schemas: Vec::new(),
    })
}

/// A clone of the tables of a schema (into a schema) or of a catalog (into a catalog, each
/// schema keeping its name) that `filter` selects. The destination catalog and schemas are
/// made when missing; a destination table that exists already refuses the whole clone (409).
pub async fn scope_set(
    state: &AppState,
    principal: &Principal,
    source: Scope,
    destination: Scope,
    filter: &TableFilter,
) -> ApiResult<CloneSet> {
    let org_id = principal.org_id;
    let schemas = scope::schemas(state, org_id, &source, filter).await?;
    let tables = scope::tables(state, org_id, &source, filter).await?;
    let target_schema = |schema: &Ident| destination.schema.clone().unwrap_or_else(|| schema.clone());
    let mut pairs = Vec::with_capacity(tables.len());
    let mut existing = Vec::new();
    for entry in tables {
        let target = TableRef {
            catalog: destination.catalog.clone(),
            schema: target_schema(&entry.table.schema),
            table: entry.table.table.clone(),
        };
        if state.meta.get_table(org_id, &target).await?.is_some() {
            existing.push(target.to_string());
            continue;
        }
        let (location, connection_id) = super::tables::location_for(state, principal, &target).await?;
        let source_location = Url::parse(&entry.location).map_err(ApiError::internal)?;
        pairs.push(ClonePair {
            source: ResolvedTable { entry, location: source_location },
            destination: target,
            location,
            connection_id,
        });
    }
    if !existing.is_empty() {
        let shown = existing.iter().take(10).map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
        return Err(ApiError::conflict(format!("{} destination table(s) exist already: {shown}", existing.len())));
    }
    let new_catalog = match state.meta.get_catalog(org_id, &destination.catalog).await? {
        Some(_) => None,
        None => Some(destination.catalog.clone()),
    };
    let mut new_schemas = Vec::new();
    for schema in schemas.iter().map(target_schema) {
        let exists =
            new_catalog.is_none() && state.meta.get_schema(org_id, &destination.catalog, &schema).await?.is_some();
        if !exists && !new_schemas.contains(&schema) {
            new_schemas.push(schema);
        }
    }
    Ok(CloneSet { pairs, scope: Some((source, destination)), new_catalog, new_schemas })
}

/// Starts the clone as a job; answers the job as accepted.
pub async fn start(
    state: &SharedState,
    request: RequestMeta,
    principal: Principal,
    set: CloneSet,
    options: CloneOptions,
) -> ApiResult<Job> {
    let actor = table_access::actor(state, &principal).await?;
    let owner = Owner { org_id: principal.org_id, user_id: principal.user_id };
    let target = match &set.scope {
        Some((_, destination)) => destination.to_string(),
        None => set.pairs[0].destination.to_string(),
    };
    let job = state.jobs.start(JobKind::Clone, owner, Some(&target), JobTotals::default()).await?;
    let accepted = job.snapshot();
    let run = CloneRun { state: state.clone(), request, principal, actor, options, progress: Arc::default() };
    tokio::spawn(run.run(job, set));
    Ok(accepted)
}

/// How a clone ended early.
enum Stopped {
    Cancelled,
    Failed(ApiError),
}

impl From<ApiError> for Stopped {
    fn from(e: ApiError) -> Self {
        Stopped::Failed(e)
    }
}

impl From<EngineError> for Stopped {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Cancelled => Stopped::Cancelled,
            e => Stopped::Failed(e.into()),
        }
    }
}

/// A table the clone wrote and registered.
struct Made {
    /// Which of the set's pairs it was made from.
    pair: usize,
    entry: TableEntry,
    plan: ClonePlan,
    validation: Value,
}

struct CloneRun {
    state: SharedState,
    request: RequestMeta,
    principal: Principal,
    actor: CommitActor,
    options: CloneOptions,
    /// Files and bytes copied over all tables; cancelling it stops every table's copy.
    progress: Arc<CloneProgress>,
}

impl CloneRun {
    async fn run(self, mut job: JobHandle, set: CloneSet) {
        job.running().await;
        let progress = self.progress.clone();
        let counts = || counts(&progress);
        let planned = job.drive(self.plan(&set), counts, || progress.cancel()).await;
        let plans = match planned {
            Ok(plans) => plans,
            Err(stopped) => return end(job, counts(), stopped).await,
        };
        let totals = JobTotals {
            rows: Some(plans.iter().map(|p| p.rows as i64).sum()),
            bytes: Some(plans.iter().map(|p| p.bytes as i64).sum()),
            steps: Some(plans.iter().map(|p| p.files as i64).sum()),
        };
        job.totals(totals).await;
        if self.options.dry_run {
            let result = self.dry_run_result(&set, &plans);
            return job.finish(counts(), JobEnd::Succeeded { version: None, result }).await;
        }
        let job_id = job.id();
        let outcome = job.drive(self.clone_all(job_id, &set, plans), counts, || progress.cancel()).await;
        match outcome {
            Ok((version, result)) => job.finish(counts(), JobEnd::Succeeded { version, result }).await,
            Err(stopped) => end(job, counts(), stopped).await,
        }
    }

    fn clone_op(&self, pair: &ClonePair, at: TimeTravel, dry_run: bool) -> CloneTable {
        CloneTable {
            source: pair.source.location.clone(),
            at,
            destination: pair.location.clone(),
            name: pair.destination.table.to_string(),
            shallow: self.options.shallow,
            keep: self.options.keep,
            dry_run,
            actor: self.actor.clone(),
            progress: self.progress.clone(),
        }
    }

    /// Every table's plan, in order: the version it clones, its files and bytes.
    async fn plan(&self, set: &CloneSet) -> Result<Vec<ClonePlan>, Stopped> {
        // Boxed: a stream of futures that borrow, in a spawned task, needs their type named.
        let plans: Vec<BoxFuture<'_, ApiResult<ClonePlan>>> = set
            .pairs
            .iter()
            .map(|pair| {
                let op = self.clone_op(pair, self.options.at, true);
                let table = &pair.source.entry.table;
                async move { self.state.engine.run(op).await.map_err(|e| name_table(e.into(), table)) }.boxed()
            })
            .collect();
        let plans = futures::stream::iter(plans).buffered(self.options.parallel).collect::<Vec<_>>().await;
        let plans = plans.into_iter().collect::<ApiResult<Vec<_>>>()?;
        if self.progress.is_cancelled() {
            return Err(Stopped::Cancelled);
        }
        Ok(plans)
    }

    fn dry_run_result(&self, set: &CloneSet, plans: &[ClonePlan]) -> Value {
        let shallow = self.options.shallow;
        let Some((source, destination)) = &set.scope else {
            return json!({ "dry_run": true, "plan": plan_json(&plans[0], shallow), "destination": set.pairs[0].destination.to_string() });
        };
        let tables: Vec<Value> = set
            .pairs
            .iter()
            .zip(plans)
            .map(|(pair, plan)| {
                json!({ "source": pair.source.entry.table.to_string(), "destination": pair.destination.to_string(),
                        "plan": plan_json(plan, shallow) })
            })
            .collect();
        json!({
            "dry_run": true,
            "source": source.to_string(),
            "destination": destination.to_string(),
            "clone_type": clone_type(shallow),
            "tables": tables,
            "files": plans.iter().map(|p| p.files).sum::<u64>(),
            "bytes": plans.iter().map(|p| p.bytes).sum::<u64>(),
            "rows": plans.iter().map(|p| p.rows).sum::<u64>(),
            "estimated_seconds": estimated_seconds(plans, self.options.parallel),
            "parallel_tables": self.options.parallel,
            "creates_catalog": set.new_catalog.as_ref().map(Ident::to_string),
            "creates_schemas": created_schemas(set, destination),
        })
    }

    /// Creates the missing namespaces, clones every table (at the version planned), and
    /// records lineage and audit events once all are there; on failure or cancel removes
    /// everything it made.
    async fn clone_all(
        &self,
        job_id: Uuid,
        set: &CloneSet,
        plans: Vec<ClonePlan>,
    ) -> Result<(Option<i64>, Value), Stopped> {
        let mut created = Created::default();
        let outcome = self.create_namespaces(job_id, set, &mut created).await;
        let mut made = Vec::with_capacity(set.pairs.len());
        let mut stopped = outcome.err().map(Stopped::Failed);
        if stopped.is_none() {
            let clones: Vec<BoxFuture<'_, Result<Made, Stopped>>> = set
                .pairs
                .iter()
                .zip(&plans)
                .enumerate()
                .map(|(i, (pair, plan))| self.clone_one(i, pair, plan).boxed())
                .collect();
            let clones = futures::stream::iter(clones).buffer_unordered(self.options.parallel);
            tokio::pin!(clones);
            while let Some(outcome) = clones.next().await {
                match outcome {
                    Ok(one) => made.push(one),
                    Err(e) => {
                        // The first failure stops the others; each removes what it copied.
                        self.progress.cancel();
                        if stopped.is_none() || matches!(stopped, Some(Stopped::Cancelled)) {
                            stopped = Some(e);
                        }
                    }
                }
            }
        }
        if stopped.is_none() && self.progress.is_cancelled() {
            stopped = Some(Stopped::Cancelled);
        }
        if stopped.is_none() {
            match self.record(job_id, set, &made).await {
                Ok(()) => return Ok(self.result(set, &plans, made, &created)),
                Err(e) => stopped = Some(Stopped::Failed(e)),
            }
        }
        for one in &made {
            remove(&self.state, self.principal.org_id, &one.entry).await;
        }
        created.remove(&self.state, self.principal.org_id).await;
        Err(stopped.expect("set above"))
    }

    async fn create_namespaces(&self, job_id: Uuid, set: &CloneSet, created: &mut Created) -> ApiResult<()> {
        let Some((_, destination)) = &set.scope else { return Ok(()) };
        let (meta, org_id, by) = (&self.state.meta, self.principal.org_id, self.principal.user_id);
        let catalog = &destination.catalog;
        if let Some(name) = &set.new_catalog {
            meta.create_catalog(org_id, name, None, by).await?;
            created.catalog = Some(name.clone());
            self.audit(Event::new(org_id, EventKind::CatalogCreated).target("catalog", name), job_id).await;
        }
        for schema in &set.new_schemas {
            meta.create_schema(org_id, catalog, schema, None, by).await?;
            created.schemas.push((catalog.clone(), schema.clone()));
            let event = Event::new(org_id, EventKind::SchemaCreated).target("schema", format!("{catalog}.{schema}"));
            self.audit(event, job_id).await;
        }
        Ok(())
    }

    /// Copies one table at its planned version, registers and validates it; removes it
    /// again on any failure.
    async fn clone_one(&self, index: usize, pair: &ClonePair, planned: &ClonePlan) -> Result<Made, Stopped> {
        let at = TimeTravel::Version(planned.source_version);
        let plan = self.state.engine.run(self.clone_op(pair, at, false)).await?;
        let (state, org_id) = (&self.state, self.principal.org_id);
        let registered = state
            .meta
            .register_table_on(
                org_id,
                &pair.destination,
                pair.location.as_str(),
                pair.connection_id,
                self.principal.user_id,
            )
            .await;
        let entry = match registered {
            Ok(entry) => entry,
            Err(e) => {
                let _ = state.engine.run(DropTable { location: pair.location.clone() }).await;
                return Err(Stopped::Failed(e.into()));
            }
        };
        match self.validate(pair, &plan).await {
            Ok(validation) => Ok(Made { pair: index, entry, plan, validation }),
            Err(e) => {
                remove(state, org_id, &entry).await;
                Err(Stopped::Failed(e))
            }
        }
    }

    /// With `validate`: both tables' rows counted by reading them (and checksums), equal.
    async fn validate(&self, pair: &ClonePair, plan: &ClonePlan) -> ApiResult<Value> {
        if !self.options.validate {
            return Ok(Value::Null);
        }
        let count = |location: &Url, at: TimeTravel| {
            self.state.engine.run(Checksum { location: location.clone(), at, checksum: self.options.checksum })
        };
        let source: TableChecksum = count(&pair.source.location, TimeTravel::Version(plan.source_version)).await?;
        let clone: TableChecksum = count(&pair.location, TimeTravel::Latest).await?;
        let view = json!({
            "matched": source == clone,
            "source_rows": source.rows, "clone_rows": clone.rows,
            "source_checksum": source.checksum, "clone_checksum": clone.checksum,
        });
        if source != clone {
            let message = format!("the clone `{}` does not match its source; it was removed", pair.destination);
            let mut error = ApiError::conflict(message);
            error.details.push(FieldError { field: "validation".into(), message: view.to_string() });
            return Err(error);
        }
        Ok(view)
    }

    /// Every table's lineage and audit event, once all tables are there.
    async fn record(&self, job_id: Uuid, set: &CloneSet, made: &[Made]) -> ApiResult<()> {
        let org_id = self.principal.org_id;
        let kind = if self.options.shallow { "clone.shallow" } else { "clone.deep" };
        for one in made {
            let pair = &set.pairs[one.pair];
            let lineage = NewLineage {
                source_table_id: pair.source.entry.id,
                source_name: &pair.source.entry.table.to_string(),
                source_version: one.plan.source_version as i64,
                target_table_id: one.entry.id,
                target_name: &pair.destination.to_string(),
                kind,
                options: &self.options.echo,
                job_id: Some(job_id),
                by: self.principal.user_id,
            };
            self.state.meta.record_lineage(org_id, lineage).await?;
        }
        for one in made {
            let pair = &set.pairs[one.pair];
            let event = Event::new(org_id, EventKind::TableCloned).target("table", &pair.destination).details(json!({
                "source": pair.source.entry.table.to_string(), "source_version": one.plan.source_version,
                "clone_type": clone_type(self.options.shallow), "files": one.plan.files, "bytes": one.plan.bytes,
            }));
            self.audit(event, job_id).await;
        }
        Ok(())
    }

    async fn audit(&self, mut event: Event, job_id: Uuid) {
        event.details["job_id"] = json!(job_id);
        if let Err(err) = audit_log::record(&self.state, &self.request, Actor::Principal(&self.principal), event).await
        {
            tracing::warn!(status = %err.status, job = %job_id, "auditing a clone failed");
        }
    }

    fn table_result(&self, pair: &ClonePair, made: &Made) -> Value {
        json!({
            "source": pair.source.entry.table.to_string(),
            "source_version": made.plan.source_version,
            "destination": pair.destination.to_string(),
            "clone_type": clone_type(self.options.shallow),
            "plan": plan_json(&made.plan, self.options.shallow),
            "validation": made.validation,
        })
    }

    /// The job's result (and version, for a single table): a single table's clone, or a
    /// scope's tables in the order of their names.
    fn result(
        &self,
        set: &CloneSet,
        plans: &[ClonePlan],
        mut made: Vec<Made>,
        created: &Created,
    ) -> (Option<i64>, Value) {
        made.sort_by_key(|m| m.pair);
        let Some((source, destination)) = &set.scope else {
            let one = &made[0];
            return (one.plan.version.map(|v| v as i64), self.table_result(&set.pairs[0], one));
        };
        let tables: Vec<Value> = made.iter().map(|one| self.table_result(&set.pairs[one.pair], one)).collect();
        let schemas: Vec<String> = created.schemas.iter().map(|(c, s)| format!("{c}.{s}")).collect();
        let result = json!({
            "source": source.to_string(),
            "destination": destination.to_string(),
            "clone_type": clone_type(self.options.shallow),
            "tables": tables,
            "files": plans.iter().map(|p| p.files).sum::<u64>(),
            "bytes": plans.iter().map(|p| p.bytes).sum::<u64>(),
            "rows": plans.iter().map(|p| p.rows).sum::<u64>(),
            "parallel_tables": self.options.parallel,
            "created_catalog": created.catalog.as_ref().map(Ident::to_string),
            "created_schemas": schemas,
        });
        (None, result)
    }
}

/// The namespaces a clone created: removed with it.
#[derive(Default)]
struct Created {
    catalog: Option<Ident>,
    schemas: Vec<(Ident, Ident)>,
}

impl Created {
    async fn remove(&self, state: &AppState, org_id: Uuid) {
        for (catalog, schema) in &self.schemas {
            let _ = state.meta.drop_schema(org_id, catalog, schema).await;
        }
        if let Some(catalog) = &self.catalog {
            let _ = state.meta.drop_catalog(org_id, catalog).await;
        }
    }
}

async fn end(job: JobHandle, progress: JobProgress, stopped: Stopped) {
    match stopped {
        Stopped::Cancelled => job.finish(progress, JobEnd::Cancelled).await,
        Stopped::Failed(error) => job.fail(progress, error).await,
    }
}

/// An error of one table of many names the table.
fn name_table(mut error: ApiError, table: &TableRef) -> ApiError {
    error.message = format!("{table}: {}", error.message);
    error
}

fn clone_type(shallow: bool) -> &'static str {
    if shallow { "SHALLOW" } else { "DEEP" }
}

fn created_schemas(set: &CloneSet, destination: &Scope) -> Vec<String> {
    set.new_schemas.iter().map(|s| format!("{}.{s}", destination.catalog)).collect()
}

/// Tables run `parallel` at a time: the longest of an even spread of their estimates.
fn estimated_seconds(plans: &[ClonePlan], parallel: usize) -> f64 {
    let total: f64 = plans.iter().map(|p| p.estimated_seconds).sum();
    let longest = plans.iter().map(|p| p.estimated_seconds).fold(0.0, f64::max);
    (total / parallel.min(plans.len()).max(1) as f64).max(longest)
}

fn plan_json(plan: &ClonePlan, shallow: bool) -> Value {
    json!({
        "source_version": plan.source_version,
        "files": plan.files,
        "bytes": plan.bytes,
        "rows": plan.rows,
        "clone_type": clone_type(shallow),
        "files_linked": plan.linked,
        "estimated_seconds": plan.estimated_seconds,
    })
}

/// A clone counts the files it copied as steps.
fn counts(progress: &CloneProgress) -> JobProgress {
    JobProgress {
        rows_read: 0,
        rows_written: 0,
        bytes_read: Some(progress.bytes_done.load(Ordering::Relaxed) as i64),
        steps_done: Some(progress.files_done.load(Ordering::Relaxed) as i64),
    }
}

/// Removes what a finished clone job made: the tables its lineage names that still are the
/// tables it made, then the schemas and catalog it created if they are empty; audited.
/// Answers the tables' names. Callers have authorized dropping.
pub async fn rollback(
    state: &AppState,
    request: &RequestMeta,
    principal: &Principal,
    job: &Job,
) -> ApiResult<Vec<String>> {
    if job.kind != JobKind::Clone.as_str() {
        return Err(ApiError::not_found());
    }
    if job.finished_at.is_none() {
        return Err(ApiError::conflict("the clone is still running: cancel it instead"));
    }
    let org_id = principal.org_id;
    let mut made = Vec::new();
    for lineage in state.meta.lineage_of_job(org_id, job.id).await? {
        let Some(reference) = TableRef::parse(&lineage.target_name) else { continue };
        // A table of that name made since is not the clone's.
        if let Some(entry) = state.meta.get_table(org_id, &reference).await?
            && entry.id == lineage.target_table_id
        {
            table_access::refuse_read_only(state, principal, &entry).await?;
            made.push(entry);
        }
    }
    made.sort_by_key(|entry| entry.table.to_string());
    let mut removed = Vec::new();
    for entry in made {
        remove(state, org_id, &entry).await;
        removed.push(entry.table.to_string());
    }
    let result = job.result.as_ref();
    let names = |key: &str| -> Vec<String> {
        let listed = result.and_then(|r| r[key].as_array().cloned()).unwrap_or_default();
        listed.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let mut dropped = Vec::new();
    for name in names("created_schemas") {
        let Some(Scope { catalog, schema: Some(schema) }) = Scope::parse(&name) else { continue };
        // Only if empty: what was put there since stays.
        if state.meta.drop_schema(org_id, &catalog, &schema).await.is_ok() {
            dropped.push(name);
        }
    }
    if let Some(catalog) = result.and_then(|r| r["created_catalog"].as_str()).and_then(|c| Ident::new(c).ok())
        && state.meta.drop_catalog(org_id, &catalog).await.is_ok()
    {
        dropped.push(catalog.to_string());
    }
    let event = Event::new(org_id, EventKind::CloneRolledBack)
        .target("job", job.id)
        .details(json!({ "removed": removed, "dropped_namespaces": dropped }));
    audit_log::record(state, request, Actor::Principal(principal), event).await?;
    Ok(removed)
}

/// Unregisters a table and deletes its files.
async fn remove(state: &AppState, org_id: Uuid, entry: &TableEntry) {
    let _ = state.meta.unregister_table(org_id, &entry.table).await;
    if let Ok(location) = Url::parse(&entry.location) {
        let _ = state.engine.run(DropTable { location }).await;
    }
}
