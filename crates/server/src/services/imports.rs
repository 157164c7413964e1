//! Imports of whole files as jobs: the table created when it does not exist (with the
//! proposed domains, when asked), then every row committed or none. Whatever the import
//! created is removed again when a later step fails or the job is cancelled.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use lakeward_engine::{DomainChange, EngineError, ImportFormat, ImportProgress, TableSpec, WriteRequest, ops};
use lakeward_meta::EventKind;
use lakeward_meta::access::Principal;
use lakeward_meta::store::{Job, JobEnd, JobProgress, JobTotals, TableEntry};
use lakeward_model::TableRef;
use serde_json::json;

use crate::audit_log::{self, Actor, Event};
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult, FieldNames};
use crate::jobs::{JobHandle, JobKind, Owner};
use crate::services;
use crate::services::domains::{self, DomainTarget};
use crate::state::SharedState;
use crate::table_access;

/// The table an import fills.
pub enum ImportTarget {
    Existing(TableEntry),
    /// A table to create first, and the fixed domains to set on its columns.
    New {
        spec: TableSpec,
        domains: BTreeMap<String, Vec<String>>,
    },
}

/// Creates the table if needed and starts the import as a job; answers the job as it was
/// accepted. Callers have authorized the import (and the creation and domains it implies).
pub async fn start(
    state: &SharedState,
    request: RequestMeta,
    principal: Principal,
    reference: TableRef,
    target: ImportTarget,
    file: tempfile::TempPath,
    format: ImportFormat,
) -> ApiResult<Job> {
    let (entry, created) = match target {
        ImportTarget::Existing(entry) => (entry, false),
        ImportTarget::New { spec, domains } => {
            let (entry, _) = services::tables::create_table(state, &request, &principal, &reference, &spec).await?;
            if let Err(e) = apply_domains(state, &request, &principal, &reference, &entry, domains).await {
                remove_table(state, &principal, &entry).await;
                return Err(e);
            }
            (entry, true)
        }
    };
    let runner = match ImportRun::new(state, &request, &principal, entry.clone(), created).await {
        Ok(runner) => runner,
        Err(e) => {
            if created {
                remove_table(state, &principal, &entry).await;
            }
            return Err(e);
        }
    };
    let size = tokio::fs::metadata(&file).await.ok().map(|m| m.len() as i64);
    let owner = Owner { org_id: principal.org_id, user_id: principal.user_id };
    let totals = JobTotals { bytes: size, ..Default::default() };
    let job = match state.jobs.start(JobKind::Import, owner, Some(&reference.to_string()), totals).await {
        Ok(job) => job,
        Err(e) => {
            runner.remove_created().await;
            return Err(e);
        }
    };
    let accepted = job.snapshot();
    tokio::spawn(runner.run(job, file, format));
    Ok(accepted)
}

async fn apply_domains(
    state: &SharedState,
    request: &RequestMeta,
    principal: &Principal,
    reference: &TableRef,
    entry: &TableEntry,
    domains: BTreeMap<String, Vec<String>>,
) -> ApiResult<()> {
    let location = url::Url::parse(&entry.location).map_err(ApiError::internal)?;
    for (column, values) in domains {
        let target = DomainTarget { table: reference, location: &location };
        let change = DomainChange::SetFixed { values };
        domains::apply(state, request, principal, target, &column, change, false).await?;
    }
    Ok(())
}

struct ImportRun {
    state: SharedState,
    request: RequestMeta,
    principal: Principal,
    entry: TableEntry,
    /// The job created the table, and removes it again if the import fails or is cancelled.
    created: bool,
    write: WriteRequest,
}

impl ImportRun {
    async fn new(
        state: &SharedState,
        request: &RequestMeta,
        principal: &Principal,
        entry: TableEntry,
        created: bool,
    ) -> ApiResult<Self> {
        let write = WriteRequest {
            actor: table_access::actor(state, principal).await?,
            idempotency_key: None,
            return_rows: false,
        };
        Ok(ImportRun {
            state: state.clone(),
            request: request.clone(),
            principal: principal.clone(),
            entry,
            created,
            write,
        })
    }

    /// Runs the import, reporting its progress; a cancel of the job reaches the engine,
    /// which stops at its next batch (or, past its commit point, commits anyway).
    async fn run(self, mut job: JobHandle, file: tempfile::TempPath, format: ImportFormat) {
        job.running().await;
        let job_id = job.id();
        let state = &self.state;
        let progress = Arc::new(ImportProgress::default());
        let location = match url::Url::parse(&self.entry.location) {
            Ok(l) => l,
            Err(e) => return self.fail(job, &progress, ApiError::internal(e)).await,
        };
        let import = state.engine.run(ops::import::Import {
            location: location.clone(),
            path: file.to_path_buf(),
            format,
            request: self.write.clone(),
            progress: progress.clone(),
        });
        let outcome = job.drive(import, || counts(&progress), || progress.cancel()).await;
        match outcome {
            Ok(outcome) => {
                let version = outcome.version.map(|v| v as i64);
                let done = JobProgress { rows_written: outcome.rows as i64, ..counts(&progress) };
                let result = json!({ "version": version, "rows_written": outcome.rows });
                job.finish(done, JobEnd::Succeeded { version, result }).await;
                let event = Event::new(self.principal.org_id, EventKind::RowBatchInserted)
                    .target("table", &self.entry.table)
                    .details(json!({ "version": outcome.version, "rows": outcome.rows, "job_id": job_id }));
                if let Err(err) =
                    audit_log::record(state, &self.request, Actor::Principal(&self.principal), event).await
                {
                    tracing::warn!(status = %err.status, job = %job_id, "auditing the import failed");
                }
            }
            Err(EngineError::Cancelled) => {
                self.remove_created().await;
                job.finish(counts(&progress), JobEnd::Cancelled).await;
            }
            Err(e) => self.fail(job, &progress, ApiError::engine(e, FieldNames::IMPORT)).await,
        }
    }

    async fn fail(&self, job: JobHandle, progress: &ImportProgress, error: ApiError) {
        self.remove_created().await;
        job.fail(counts(progress), error).await;
    }

    /// Commit everything or nothing: the table the job created goes too.
    async fn remove_created(&self) {
        if self.created {
            remove_table(&self.state, &self.principal, &self.entry).await;
        }
    }
}

fn counts(progress: &ImportProgress) -> JobProgress {
    JobProgress {
        rows_read: progress.rows_read.load(Ordering::Relaxed) as i64,
        rows_written: progress.rows_written.load(Ordering::Relaxed) as i64,
        bytes_read: Some(progress.bytes_read.load(Ordering::Relaxed) as i64),
        steps_done: None,
    }
}

/// Removes a table the import created (its registry entry and its files).
async fn remove_table(state: &SharedState, principal: &Principal, entry: &TableEntry) {
    let _ = state.meta.unregister_table(principal.org_id, &entry.table).await;
    if let Ok(location) = url::Url::parse(&entry.location) {
        let _ = state.engine.run(ops::table::DropTable { location }).await;
    }
}
