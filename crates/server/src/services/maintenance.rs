//! Table maintenance as jobs: vacuum and optimize, each audited when it changed anything.

use lakeward_engine::ops::table::{Optimize, Vacuum};
use lakeward_engine::{EngineResult, OptimizeOutcome, VacuumOutcome};
use lakeward_meta::EventKind;
use lakeward_meta::access::Principal;
use lakeward_meta::store::{Job, JobEnd, JobProgress, JobTotals};
use serde_json::{Value, json};

use crate::audit_log::{self, Actor, Event};
use crate::auth::RequestMeta;
use crate::error::ApiResult;
use crate::jobs::{JobKind, Owner};
use crate::state::SharedState;
use crate::table_access::{self, ResolvedTable};

/// What a maintenance job reports when it is done: its progress, its result, and the
/// event to audit if it changed the table.
struct Done {
    progress: JobProgress,
    result: Value,
    event: Option<(EventKind, Value)>,
    version: Option<i64>,
}

/// Runs `work` (given the commit actor) as a job of `kind` on the table. The engine's
/// maintenance cannot stop half-way: a cancel counts only before it starts.
async fn start<F, Fut>(
    state: &SharedState,
    request: RequestMeta,
    principal: Principal,
    table: &ResolvedTable,
    kind: JobKind,
    work: F,
) -> ApiResult<Job>
where
    F: FnOnce(SharedState, lakeward_engine::Actor) -> Fut + Send + 'static,
    Fut: Future<Output = EngineResult<Done>> + Send + 'static,
{
    let actor = table_access::actor(state, &principal).await?;
    let owner = Owner { org_id: principal.org_id, user_id: principal.user_id };
    let target = table.entry.table.to_string();
    let mut job = state.jobs.start(kind, owner, Some(&target), JobTotals::default()).await?;
    let accepted = job.snapshot();
    let state = state.clone();
    tokio::spawn(async move {
        job.running().await;
        if job.is_cancelled() {
            return job.finish(JobProgress::default(), JobEnd::Cancelled).await;
        }
        match work(state.clone(), actor).await {
            Ok(done) => {
                if let Some((action, mut details)) = done.event {
                    details["job_id"] = json!(job.id());
                    let event = Event::new(principal.org_id, action).target("table", &target).details(details);
                    if let Err(err) = audit_log::record(&state, &request, Actor::Principal(&principal), event).await {
                        tracing::warn!(status = %err.status, job = %job.id(), "auditing table maintenance failed");
                    }
                }
                job.finish(done.progress, JobEnd::Succeeded { version: done.version, result: done.result }).await
            }
            Err(e) => job.fail(JobProgress::default(), e.into()).await,
        }
    });
    Ok(accepted)
}

/// Starts a vacuum of the table as a job (callers have authorized `tables:modify` and
/// checked the retention against the configured minimum).
pub async fn vacuum(
    state: &SharedState,
    request: RequestMeta,
    principal: Principal,
    table: ResolvedTable,
    retention_hours: u64,
    dry_run: bool,
) -> ApiResult<Job> {
    let location = table.location.clone();
    start(state, request, principal, &table, JobKind::Vacuum, move |state, actor| async move {
        let done: VacuumOutcome = state.engine.run(Vacuum { location, retention_hours, dry_run, actor }).await?;
        let progress = JobProgress {
            steps_done: Some(done.files as i64),
            bytes_read: Some(done.bytes as i64),
            ..Default::default()
        };
        let result = json!({
            "dry_run": dry_run, "retention_hours": retention_hours,
            "files": done.files, "bytes": done.bytes, "paths": done.paths,
        });
        let event = (!dry_run && done.files > 0).then(|| {
            let details = json!({ "files": done.files, "bytes": done.bytes, "retention_hours": retention_hours });
            (EventKind::TableVacuumed, details)
        });
        Ok(Done { progress, result, event, version: None })
    })
    .await
}

/// How to optimize.
pub struct OptimizeOptions {
    pub target_size: u64,
    pub zorder_by: Vec<String>,
    pub dry_run: bool,
}

/// Starts an optimize of the table as a job (callers have authorized `tables:modify`).
pub async fn optimize(
    state: &SharedState,
    request: RequestMeta,
    principal: Principal,
    table: ResolvedTable,
    options: OptimizeOptions,
) -> ApiResult<Job> {
    let location = table.location.clone();
    start(state, request, principal, &table, JobKind::Optimize, move |state, actor| async move {
        let OptimizeOptions { target_size, zorder_by, dry_run } = options;
        let op = Optimize { location, target_size, zorder_by: zorder_by.clone(), dry_run, actor };
        let done: OptimizeOutcome = state.engine.run(op).await?;
        let progress = JobProgress {
            rows_read: done.rows as i64,
            rows_written: if dry_run { 0 } else { done.rows as i64 },
            steps_done: Some(done.files as i64),
            bytes_read: Some(done.bytes as i64),
        };
        let result = json!({
            "dry_run": dry_run, "target_size_bytes": target_size, "zorder_by": zorder_by,
            "files": done.files, "bytes": done.bytes, "rows": done.rows, "paths": done.paths,
            "files_added": done.files_added, "bytes_added": done.bytes_added, "version": done.version,
        });
        let event = done.version.map(|version| {
            let details = json!({ "version": version, "files_removed": done.files, "files_added": done.files_added,
                                  "zorder_by": zorder_by });
            (EventKind::TableOptimized, details)
        });
        Ok(Done { progress, result, event, version: done.version.map(|v| v as i64) })
    })
    .await
}
