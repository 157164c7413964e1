//! The job runner: all long work (imports today; clones, diffs, quality runs later) runs
//! as a job through [`Jobs`], whatever surface started it.
//!
//! [`Jobs::start`] records a job (`queued`) with its kind, owner (organisation, user, and
//! this server process's instance id) and target, and hands back a [`JobHandle`]. The
//! work marks itself running, reports progress through the handle, checks the handle's
//! cancellation, and ends with [`JobHandle::finish`] (`succeeded` with a result, `failed`
//! with the error in the API's error shape, or `cancelled`).
//!
//! Progress is published at once to subscribers (a `watch` per job, which is what the
//! event streams read), and written to the metadata store at most every
//! [`PERSIST_EVERY`]; the end is always written, before it is published. A cancel is
//! recorded in the store (so a job running in another process sees it when it next
//! records progress) and signalled to a job of this process at once. A handle dropped
//! without an end (the work panicked) fails its job.

pub mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::Stream;
use lakeward_meta::MetaStore;
use lakeward_meta::store::{Job, JobEnd, JobProgress, JobTotals, NewJob};
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The most often a job's progress is written to the metadata store.
pub const PERSIST_EVERY: Duration = Duration::from_millis(500);

/// How often work that counts its progress in counters (imports) should report it.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// How often a job running in another process is read again for an event stream.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Now, to the millisecond the store keeps, so that live and stored states agree.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}

/// The kinds of job there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A file imported into a table.
    Import,
    /// The tables of a storage connection looked for and registered.
    Discovery,
    /// A table, schema or catalog cloned into a new one.
    Clone,
    /// A table's unneeded data files removed.
    Vacuum,
    /// Two catalogs or schemas compared.
    Compare,
    /// A table's small files rewritten into fewer (optionally Z-ordered).
    Optimize,
}

impl JobKind {
    pub const ALL: [JobKind; 6] =
        [JobKind::Import, JobKind::Discovery, JobKind::Clone, JobKind::Vacuum, JobKind::Compare, JobKind::Optimize];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::Discovery => "discovery",
            JobKind::Clone => "clone",
            JobKind::Vacuum => "vacuum",
            JobKind::Compare => "compare",
            JobKind::Optimize => "optimize",
        }
    }

    pub fn parse(raw: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// Who a job belongs to (the process running it is the runner's).
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub org_id: Uuid,
    pub user_id: Uuid,
}

/// A job of this process, while it runs.
struct Live {
    org_id: Uuid,
    /// The job's current state, as the store will hold it.
    state: watch::Sender<Job>,
    cancel: watch::Sender<bool>,
}

impl Live {
    /// A cancel was asked for at `at`: shown on the job (the first time kept), told the work.
    fn cancel_requested(&self, at: DateTime<Utc>) {
        self.state.send_if_modified(|job| {
            let first = job.cancel_requested_at.is_none();
            job.cancel_requested_at.get_or_insert(at);
            first
        });
        self.cancel.send_if_modified(|cancelled| !std::mem::replace(cancelled, true));
    }
}

pub struct Jobs {
    meta: MetaStore,
    instance_id: Uuid,
    live: Mutex<HashMap<Uuid, Arc<Live>>>,
}

impl Jobs {
    /// The runner of this process; `instance_id` names the process (new at every start).
    pub fn new(meta: MetaStore, instance_id: Uuid) -> Arc<Self> {
        Arc::new(Self { meta, instance_id, live: Mutex::default() })
    }

    pub fn instance_id(&self) -> Uuid {
        self.instance_id
    }

    /// Records a new job (`queued`) and returns the handle its work reports through.
    pub async fn start(
        self: &Arc<Self>,
        kind: JobKind,
        owner: Owner,
        target: Option<&str>,
        totals: JobTotals,
    ) -> ApiResult<JobHandle> {
        let new = NewJob {
            org_id: owner.org_id,
            kind: kind.as_str(),
            target,
            created_by: owner.user_id,
            instance_id: self.instance_id,
            totals,
        };
        let job = self.meta.create_job(&new).await?;
        let id = job.id;
        let live =
            Arc::new(Live { org_id: owner.org_id, state: watch::Sender::new(job), cancel: watch::Sender::new(false) });
        self.live.lock().expect("not poisoned").insert(id, live.clone());
        let cancel = live.cancel.subscribe();
        Ok(JobHandle { jobs: self.clone(), live, id, cancel, persisted: None, finished: false })
    }

    fn live(&self, org_id: Uuid, id: Uuid) -> Option<Arc<Live>> {
        self.live.lock().expect("not poisoned").get(&id).filter(|l| l.org_id == org_id).cloned()
    }

    /// The organisation's job: its live state when this process runs it, else the stored one.
    pub async fn get(&self, org_id: Uuid, id: Uuid) -> ApiResult<Option<Job>> {
        if let Some(live) = self.live(org_id, id) {
            return Ok(Some(live.state.borrow().clone()));
        }
        Ok(self.meta.get_job(org_id, id).await?)
    }

    /// The job's states from now on: the current one at once, then every change, ending
    /// with the job's end (just that one for a job that has ended).
    pub fn follow(&self, job: Job) -> impl Stream<Item = Job> + Send + use<> {
        let start = match self.live(job.org_id, job.id) {
            Some(live) => Follow::Live { rx: live.state.subscribe(), meta: self.meta.clone(), first: true },
            None => Follow::Polled { meta: self.meta.clone(), last: Box::new(job), first: true },
        };
        futures::stream::unfold(start, |state| async move {
            match state {
                Follow::Done => None,
                Follow::Live { mut rx, meta, first } => {
                    if !first && rx.changed().await.is_err() {
                        // The work is gone without a last word here: the store has it.
                        let last = Box::new(rx.borrow().clone());
                        return Follow::Polled { meta, last, first: false }.next().await;
                    }
                    let job = rx.borrow_and_update().clone();
                    let next = if job.is_finished() { Follow::Done } else { Follow::Live { rx, meta, first: false } };
                    Some((job, next))
                }
                polled @ Follow::Polled { .. } => polled.next().await,
            }
        })
    }

    /// Asks the organisation's job to stop. Answers false when it had already ended.
    pub async fn cancel(&self, org_id: Uuid, id: Uuid) -> ApiResult<bool> {
        let at = now();
        let requested = self.meta.request_job_cancel(org_id, id, at).await?;
        if requested && let Some(live) = self.live(org_id, id) {
            live.cancel_requested(at);
        }
        Ok(requested)
    }

    /// The job once it has ended, or as it is after `timeout`.
    pub async fn wait_for_end(&self, job: Job, timeout: Duration) -> Job {
        use futures::StreamExt as _;
        let mut last = job.clone();
        let states = self.follow(job);
        tokio::pin!(states);
        let _ = tokio::time::timeout(timeout, async {
            while let Some(job) = states.next().await {
                last = job;
            }
        })
        .await;
        last
    }

    /// Writes the job's end, publishes it, and forgets the live job.
    async fn end(&self, live: &Live, id: Uuid, progress: JobProgress, end: JobEnd) {
        let (status, fallback_error) = match &end {
            JobEnd::Succeeded { .. } => ("succeeded", None),
            JobEnd::Failed { error } => ("failed", Some(error.clone())),
            JobEnd::Cancelled => ("cancelled", None),
        };
        let fallback_result = match &end {
            JobEnd::Succeeded { result, .. } => Some(result.clone()),
            _ => None,
        };
        if let Err(err) = self.meta.finish_job(id, &progress, end).await {
            tracing::warn!(%err, job = %id, "recording the job's end failed");
        }
        let stored = self.meta.get_job(live.org_id, id).await.ok().flatten().filter(Job::is_finished);
        let last = stored.unwrap_or_else(|| {
            // The store did not answer: publish the end as it would have recorded it.
            let mut job = live.state.borrow().clone();
            let now = now();
            job.status = status.to_owned();
            job.progress = progress;
            if status != "succeeded" {
                job.progress.rows_written = 0;
            }
            job.result = fallback_result;
            job.error = fallback_error;
            job.updated_at = now;
            job.finished_at = Some(now);
            job
        });
        live.state.send_replace(last);
        self.live.lock().expect("not poisoned").remove(&id);
    }
}

/// Where an event stream reads a job's states from: this process's live job (the store
/// when it ends without a word), or the store.
enum Follow {
    Live { rx: watch::Receiver<Job>, meta: MetaStore, first: bool },
    Polled { meta: MetaStore, last: Box<Job>, first: bool },
    Done,
}

impl Follow {
    /// The next state of a job read from the store, and what follows it.
    async fn next(self) -> Option<(Job, Follow)> {
        let Follow::Polled { meta, last, first } = self else { return None };
        if first || last.is_finished() {
            let next = if last.is_finished() {
                Follow::Done
            } else {
                Follow::Polled { meta, last: last.clone(), first: false }
            };
            return Some((*last, next));
        }
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            let job = match meta.get_job(last.org_id, last.id).await {
                Ok(Some(job)) => job,
                Ok(None) => return None,
                Err(err) => {
                    tracing::warn!(%err, job = %last.id, "reading a job for its event stream failed");
                    continue;
                }
            };
            if job != *last {
                let next = if job.is_finished() {
                    Follow::Done
                } else {
                    Follow::Polled { meta, last: Box::new(job.clone()), first: false }
                };
                return Some((job, next));
            }
        }
    }
}

/// The work's side of a job: progress, cancellation, the end.
pub struct JobHandle {
    jobs: Arc<Jobs>,
    live: Arc<Live>,
    id: Uuid,
    cancel: watch::Receiver<bool>,
    /// When progress was last written to the store.
    persisted: Option<Instant>,
    finished: bool,
}

impl JobHandle {
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The job as it is now.
    pub fn snapshot(&self) -> Job {
        self.live.state.borrow().clone()
    }

    /// The work starts: the job is `running`.
    pub async fn running(&mut self) {
        let at = now();
        let cancelled = match self.jobs.meta.job_started(self.id, at).await {
            Ok(cancelled) => cancelled,
            Err(err) => {
                tracing::warn!(%err, job = %self.id, "recording the job's start failed");
                None
            }
        };
        self.live.state.send_modify(|job| {
            job.status = "running".to_owned();
            job.started_at = Some(at);
            job.updated_at = at;
        });
        if let Some(asked) = cancelled {
            self.live.cancel_requested(asked);
        }
    }

    /// Reports progress: published at once when it changed, written to the store at most
    /// every [`PERSIST_EVERY`] (which is also when a cancel from another process is seen).
    pub async fn progress(&mut self, progress: JobProgress) {
        let at = now();
        self.live.state.send_if_modified(|job| {
            let changed = job.progress != progress;
            if changed {
                job.progress = progress;
                job.updated_at = at;
            }
            changed
        });
        // Written even when unchanged, so that a stalled job still sees a cancel.
        if self.persisted.is_some_and(|at| at.elapsed() < PERSIST_EVERY) {
            return;
        }
        self.persisted = Some(Instant::now());
        let updated_at = self.live.state.borrow().updated_at;
        match self.jobs.meta.job_progress(self.id, &progress, updated_at).await {
            Ok(Some(asked)) => self.live.cancel_requested(asked),
            Ok(None) => {}
            Err(err) => tracing::warn!(%err, job = %self.id, "recording the job's progress failed"),
        }
    }

    /// Sets the totals once the work knows them.
    pub async fn totals(&mut self, totals: JobTotals) {
        self.live.state.send_modify(|job| job.totals = totals);
        if let Err(err) = self.jobs.meta.job_totals(self.id, &totals).await {
            tracing::warn!(%err, job = %self.id, "recording the job's totals failed");
        }
    }

    /// Runs `work` to its end, publishing `progress()` every [`REPORT_EVERY`]; when the job
    /// is asked to stop, `cancel` is called once (the work then ends early, its own way).
    pub async fn drive<T>(
        &mut self,
        work: impl Future<Output = T>,
        progress: impl Fn() -> JobProgress,
        cancel: impl FnOnce(),
    ) -> T {
        tokio::pin!(work);
        let cancellation = self.cancellation();
        tokio::pin!(cancellation);
        let mut cancel = Some(cancel);
        let mut tick = tokio::time::interval(REPORT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                outcome = &mut work => return outcome,
                _ = &mut cancellation, if cancel.is_some() => cancel.take().into_iter().for_each(|c| c()),
                _ = tick.tick() => self.progress(progress()).await,
            }
        }
    }

    /// Whether the job was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Resolves once the job is asked to stop.
    pub fn cancellation(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut rx = self.cancel.clone();
        async move {
            if rx.wait_for(|c| *c).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Ends the job. Nothing of a failed or cancelled job counts as written.
    pub async fn finish(mut self, progress: JobProgress, end: JobEnd) {
        self.finished = true;
        self.jobs.end(&self.live, self.id, progress, end).await;
    }

    /// Ends the job as failed with `error`, in the shape a request would have answered it.
    pub async fn fail(self, progress: JobProgress, error: ApiError) {
        let error = serde_json::to_value(error.body()).unwrap_or_default();
        self.finish(progress, JobEnd::Failed { error }).await;
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (jobs, live, id) = (self.jobs.clone(), self.live.clone(), self.id);
        let progress = live.state.borrow().progress;
        let error = ApiError::internal(format!("job {id} ended without an outcome"));
        let error = serde_json::to_value(error.body()).unwrap_or_default();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { jobs.end(&live, id, progress, JobEnd::Failed { error }).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;
    use lakeward_meta::store::JobEnd;

    use super::*;

    async fn runner() -> (tempfile::TempDir, Arc<Jobs>, Owner) {
        let dir = tempfile::tempdir().unwrap();
        let meta =
            MetaStore::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display())).await.unwrap();
        let (org, user) = meta.create_organisation("Acme", "a@acme.test", "h").await.unwrap();
        (dir, Jobs::new(meta, Uuid::now_v7()), Owner { org_id: org.id, user_id: user.id })
    }

    fn rows(n: i64) -> JobProgress {
        JobProgress { rows_read: n, rows_written: n, bytes_read: None, steps_done: None }
    }

    #[tokio::test]
    async fn progress_is_published_at_once_and_written_at_most_every_half_second() {
        let (_dir, jobs, owner) = runner().await;
        let mut job = jobs.start(JobKind::Import, owner, Some("main.crm.a"), JobTotals::default()).await.unwrap();
        let id = job.id();
        let states = jobs.follow(job.snapshot());
        tokio::pin!(states);
        assert_eq!(states.next().await.unwrap().status, "queued");
        job.running().await;
        assert_eq!(states.next().await.unwrap().status, "running");
        job.progress(rows(1)).await;
        job.progress(rows(2)).await;
        assert_eq!(jobs.get(owner.org_id, id).await.unwrap().unwrap().progress, rows(2), "live at once");
        assert_eq!(jobs.meta.get_job(owner.org_id, id).await.unwrap().unwrap().progress, rows(1), "stored later");
        assert_eq!(states.next().await.unwrap().progress, rows(2), "a slow reader gets the latest");
        job.finish(rows(2), JobEnd::Succeeded { version: Some(1), result: serde_json::json!({}) }).await;
        let end = states.next().await.unwrap();
        assert_eq!((end.status.as_str(), end.progress), ("succeeded", rows(2)));
        assert!(states.next().await.is_none(), "the stream ends with the job");
        assert_eq!(jobs.meta.get_job(owner.org_id, id).await.unwrap(), Some(end.clone()));
        let after: Vec<Job> = jobs.follow(end.clone()).collect().await;
        assert_eq!(after, [end], "an ended job: its end only");
    }

    #[tokio::test]
    async fn a_cancel_recorded_by_another_process_is_seen_when_progress_is_written() {
        let (_dir, jobs, owner) = runner().await;
        let mut job = jobs.start(JobKind::Import, owner, None, JobTotals::default()).await.unwrap();
        job.running().await;
        job.progress(rows(1)).await;
        assert!(jobs.meta.request_job_cancel(owner.org_id, job.id(), now()).await.unwrap());
        assert!(!job.is_cancelled());
        tokio::time::sleep(PERSIST_EVERY).await;
        job.progress(rows(1)).await;
        assert!(job.is_cancelled());
        tokio::time::timeout(Duration::from_secs(1), job.cancellation()).await.expect("resolves");
        assert!(job.snapshot().cancel_requested_at.is_some());
    }

    #[tokio::test]
    async fn a_handle_dropped_without_an_end_fails_its_job() {
        let (_dir, jobs, owner) = runner().await;
        let job = jobs.start(JobKind::Import, owner, None, JobTotals::default()).await.unwrap();
        let id = job.id();
        let states = jobs.follow(job.snapshot());
        drop(job);
        let last = states.collect::<Vec<_>>().await.pop().unwrap();
        assert_eq!(last.status, "failed");
        assert_eq!(last.error.unwrap()["statusCode"], 500);
        assert!(jobs.live(owner.org_id, id).is_none());
    }
}
