//! Clones of tables as jobs: the new table written by the engine, then registered, its
//! lineage recorded and the clone audited; validated when asked. A clone that fails, is
//! cancelled or does not validate leaves nothing behind; a finished one can be rolled back
//! (the tables it made removed, nothing else touched).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use lakeward_engine::ops::table::{Checksum, CloneTable, DropTable, TableChecksum};
use lakeward_engine::{CloneKeep, ClonePlan, CloneProgress, EngineError, TimeTravel, ops};
use lakeward_meta::EventKind;
use lakeward_meta::access::Principal;
use lakeward_meta::store::{Job, JobEnd, JobProgress, JobTotals, NewLineage, TableEntry};
use lakeward_model::TableRef;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

use crate::audit_log::{self, Actor, Event};
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult};
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
    /// The options as the request gave them, for the lineage record.
    pub echo: Value,
}

/// Checks the destination and starts the clone as a job; answers the job as accepted.
/// Callers have authorized reading the source and creating tables.
pub async fn start(
    state: &SharedState,
    request: RequestMeta,
    principal: Principal,
    source: ResolvedTable,
    destination: TableRef,
    options: CloneOptions,
) -> ApiResult<Job> {
    if state.meta.get_schema(principal.org_id, &destination.catalog, &destination.schema).await?.is_none() {
        let (catalog, schema) = (&destination.catalog, Some(&destination.schema));
        return Err(table_access::not_found(state, principal.org_id, catalog, schema, None).await);
    }
    if state.meta.get_table(principal.org_id, &destination).await?.is_some() {
        return Err(ApiError::conflict(format!("table `{destination}` already exists")));
    }
    let (location, connection_id) = super::tables::location_for(state, &principal, &destination).await?;
    let actor = table_access::actor(state, &principal).await?;
    let owner = Owner { org_id: principal.org_id, user_id: principal.user_id };
    let job = state.jobs.start(JobKind::Clone, owner, Some(&destination.to_string()), JobTotals::default()).await?;
    let accepted = job.snapshot();
    let run = CloneRun { state: state.clone(), request, principal, source, destination, location, connection_id };
    tokio::spawn(run.run(job, options, actor));
    Ok(accepted)
}

struct CloneRun {
    state: SharedState,
    request: RequestMeta,
    principal: Principal,
    source: ResolvedTable,
    destination: TableRef,
    location: Url,
    connection_id: Option<Uuid>,
}

impl CloneRun {
    async fn run(self, mut job: JobHandle, options: CloneOptions, actor: lakeward_engine::Actor) {
        job.running().await;
        let progress = Arc::new(CloneProgress::default());
        let clone = self.state.engine.run(CloneTable {
            source: self.source.location.clone(),
            at: options.at,
            destination: self.location.clone(),
            name: self.destination.table.to_string(),
            shallow: options.shallow,
            keep: options.keep,
            dry_run: options.dry_run,
            actor,
            progress: progress.clone(),
        });
        let outcome = job.drive(clone, || counts(&progress), || progress.cancel()).await;
        let plan = match outcome {
            Ok(plan) => plan,
            // The engine removed what it had copied.
            Err(EngineError::Cancelled) => return job.finish(counts(&progress), JobEnd::Cancelled).await,
            Err(e) => return job.fail(counts(&progress), e.into()).await,
        };
        if options.dry_run {
            let result = json!({ "dry_run": true, "plan": plan_json(&plan, options.shallow), "destination": self.destination.to_string() });
            return job.finish(counts(&progress), JobEnd::Succeeded { version: None, result }).await;
        }
        match self.register(&job, &plan, &options).await {
            Ok(result) => {
                job.finish(counts(&progress), JobEnd::Succeeded { version: plan.version.map(|v| v as i64), result })
                    .await
            }
            Err(error) => job.fail(counts(&progress), error).await,
        }
    }

    /// Registers the written clone, records its lineage, validates and audits it; removes
    /// it again on any failure.
    async fn register(&self, job: &JobHandle, plan: &ClonePlan, options: &CloneOptions) -> ApiResult<Value> {
        let (state, org_id) = (&self.state, self.principal.org_id);
        let registered = state
            .meta
            .register_table_on(
                org_id,
                &self.destination,
                self.location.as_str(),
                self.connection_id,
                self.principal.user_id,
            )
            .await;
        let entry = match registered {
            Ok(entry) => entry,
            Err(e) => {
                let _ = state.engine.run(DropTable { location: self.location.clone() }).await;
                return Err(e.into());
            }
        };
        let validated = match self.validate(plan, options).await {
            Ok(v) => v,
            Err(e) => {
                remove(state, org_id, &entry).await;
                return Err(e);
            }
        };
        let kind = if options.shallow { "clone.shallow" } else { "clone.deep" };
        let lineage = NewLineage {
            source_table_id: self.source.entry.id,
            source_name: &self.source.entry.table.to_string(),
            source_version: plan.source_version as i64,
            target_table_id: entry.id,
            target_name: &self.destination.to_string(),
            kind,
            options: &options.echo,
            job_id: Some(job.id()),
            by: self.principal.user_id,
        };
        if let Err(e) = state.meta.record_lineage(org_id, lineage).await {
            remove(state, org_id, &entry).await;
            return Err(e.into());
        }
        let result = json!({
            "source": self.source.entry.table.to_string(),
            "source_version": plan.source_version,
            "destination": self.destination.to_string(),
            "clone_type": if options.shallow { "SHALLOW" } else { "DEEP" },
            "plan": plan_json(plan, options.shallow),
            "validation": validated,
        });
        let event = Event::new(org_id, EventKind::TableCloned)
            .target("table", &self.destination)
            .details(json!({ "source": result["source"], "source_version": plan.source_version,
                              "clone_type": result["clone_type"], "files": plan.files, "bytes": plan.bytes, "job_id": job.id() }));
        if let Err(err) = audit_log::record(state, &self.request, Actor::Principal(&self.principal), event).await {
            tracing::warn!(status = %err.status, job = %job.id(), "auditing the clone failed");
        }
        Ok(result)
    }

    /// With `validate`: both tables' rows counted by reading them (and checksums), equal.
    async fn validate(&self, plan: &ClonePlan, options: &CloneOptions) -> ApiResult<Value> {
        if !options.validate {
            return Ok(Value::Null);
        }
        let count = |location: &Url, at: TimeTravel| {
            self.state.engine.run(Checksum { location: location.clone(), at, checksum: options.checksum })
        };
        let source: TableChecksum = count(&self.source.location, TimeTravel::Version(plan.source_version)).await?;
        let clone: TableChecksum = count(&self.location, TimeTravel::Latest).await?;
        let view = json!({
            "source_rows": source.rows, "clone_rows": clone.rows,
            "source_checksum": source.checksum, "clone_checksum": clone.checksum,
        });
        if source != clone {
            let mut error = ApiError::conflict("the clone does not match its source; it was removed");
            error.details.push(crate::error::FieldError { field: "validation".into(), message: view.to_string() });
            return Err(error);
        }
        Ok(json!({ "matched": true, "source_rows": source.rows, "clone_rows": clone.rows,
                   "source_checksum": source.checksum, "clone_checksum": clone.checksum }))
    }
}

fn plan_json(plan: &ClonePlan, shallow: bool) -> Value {
    json!({
        "source_version": plan.source_version,
        "files": plan.files,
        "bytes": plan.bytes,
        "rows": plan.rows,
        "clone_type": if shallow { "SHALLOW" } else { "DEEP" },
        "files_linked": plan.linked,
        "estimated_seconds": plan.estimated_seconds,
    })
}

fn counts(progress: &CloneProgress) -> JobProgress {
    JobProgress {
        rows_read: 0,
        rows_written: 0,
        bytes_read: Some(progress.bytes_done.load(Ordering::Relaxed) as i64),
        steps_done: Some(progress.files_done.load(Ordering::Relaxed) as i64),
    }
}

/// Removes the tables a finished clone job made (those its lineage names that still are
/// the tables it made), audited; answers their names. Callers have authorized dropping.
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
    let mut removed = Vec::new();
    for made in state.meta.lineage_of_job(principal.org_id, job.id).await? {
        let Some(reference) = TableRef::parse(&made.target_name) else { continue };
        match state.meta.get_table(principal.org_id, &reference).await? {
            // A table of that name made since is not the clone's.
            Some(entry) if entry.id == made.target_table_id => {
                table_access::refuse_read_only(state, principal, &entry).await?;
                remove(state, principal.org_id, &entry).await;
                removed.push(made.target_name);
            }
            _ => {}
        }
    }
    audit_log::record(
        state,
        request,
        Actor::Principal(principal),
        Event::new(principal.org_id, EventKind::CloneRolledBack)
            .target("job", job.id)
            .details(json!({ "removed": removed })),
    )
    .await?;
    Ok(removed)
}

/// Unregisters a table and deletes its files.
async fn remove(state: &AppState, org_id: Uuid, entry: &TableEntry) {
    let _ = state.meta.unregister_table(org_id, &entry.table).await;
    if let Ok(location) = Url::parse(&entry.location) {
        let _ = state.engine.run(ops::table::DropTable { location }).await;
    }
}
