//! Table maintenance as jobs: vacuum, audited when it removed anything.

use lakeward_engine::ops::table::Vacuum;
use lakeward_meta::EventKind;
use lakeward_meta::access::Principal;
use lakeward_meta::store::{Job, JobEnd, JobProgress, JobTotals};
use serde_json::json;

use crate::audit_log::{self, Actor, Event};
use crate::auth::RequestMeta;
use crate::error::ApiResult;
use crate::jobs::{JobHandle, JobKind, Owner};
use crate::state::SharedState;
use crate::table_access::{self, ResolvedTable};

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
    let actor = table_access::actor(state, &principal).await?;
    let owner = Owner { org_id: principal.org_id, user_id: principal.user_id };
    let target = table.entry.table.to_string();
    let job = state.jobs.start(JobKind::Vacuum, owner, Some(&target), JobTotals::default()).await?;
    let accepted = job.snapshot();
    let state = state.clone();
    tokio::spawn(async move {
        let mut job: JobHandle = job;
        job.running().await;
        // delta-rs deletes without a way to stop half-way: a cancel counts only before.
        if job.is_cancelled() {
            return job.finish(JobProgress::default(), JobEnd::Cancelled).await;
        }
        let vacuum = Vacuum { location: table.location.clone(), retention_hours, dry_run, actor };
        match state.engine.run(vacuum).await {
            Ok(done) => {
                let progress = JobProgress {
                    steps_done: Some(done.files as i64),
                    bytes_read: Some(done.bytes as i64),
                    ..Default::default()
                };
                let result = json!({
                    "dry_run": dry_run, "retention_hours": retention_hours,
                    "files": done.files, "bytes": done.bytes, "paths": done.paths,
                });
                if !dry_run && done.files > 0 {
                    let event = Event::new(principal.org_id, EventKind::TableVacuumed)
                        .target("table", &target)
                        .details(json!({ "files": done.files, "bytes": done.bytes, "retention_hours": retention_hours, "job_id": job.id() }));
                    if let Err(err) = audit_log::record(&state, &request, Actor::Principal(&principal), event).await {
                        tracing::warn!(status = %err.status, job = %job.id(), "auditing the vacuum failed");
                    }
                }
                job.finish(progress, JobEnd::Succeeded { version: None, result }).await
            }
            Err(e) => job.fail(JobProgress::default(), e.into()).await,
        }
    });
    Ok(accepted)
}
