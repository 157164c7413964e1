//! `lakeward jobs` (list), `jobs watch` and `jobs cancel`, and following a job to its
//! end: its Server-Sent Events (`GET /v1/jobs/{id}/events`: one event per change, the
//! last one `end`), or, should that stream break off, polling `GET /v1/jobs/{id}`.

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use futures::StreamExt as _;
use reqwest::Method;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde_json::Value;

use super::http::Api;
use super::output::{Table, print_answer, print_json};
use super::progress::{Progress, Unit};
use super::{Connection, Ctx, JobFailed};

/// Between two polls: a fallback only, and every poll counts against the rate limit.
const POLL_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub conn: Connection,
    #[command(subcommand)]
    command: Option<JobsCommand>,
    /// Only jobs with this status: queued, running, succeeded, failed or cancelled
    #[arg(long)]
    status: Option<String>,
    /// Only jobs of this kind (import, discovery, clone, ...)
    #[arg(long)]
    kind: Option<String>,
    /// Only jobs on this target (an import's table, `catalog.schema.table`)
    #[arg(long)]
    target: Option<String>,
    /// At most this many, newest first (1 to 500)
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Follow a job to its end with a progress bar; fails when the job does.
    Watch {
        /// The job's id
        id: String,
    },
    /// Cancel a queued or running job: it stops and commits nothing.
    Cancel {
        /// The job's id
        id: String,
    },
}

/// The parts of a job (as `GET /v1/jobs/{id}` answers it) the client shows; the whole
/// answer is kept for `--json`.
#[derive(Debug, Clone)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub target: Option<String>,
    pub rows_written: i64,
    pub version: Option<i64>,
    pub created_at: String,
    progress: Counts,
    pub raw: Value,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Counts {
    rows_read: i64,
    rows_written: i64,
    rows_total: Option<i64>,
    bytes_read: Option<i64>,
    bytes_total: Option<i64>,
    steps_done: Option<i64>,
    steps_total: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Fields {
    id: String,
    kind: String,
    status: String,
    target: Option<String>,
    #[serde(default)]
    rows_written: i64,
    version: Option<i64>,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    progress: Counts,
}

impl JobView {
    pub fn from_value(raw: Value) -> anyhow::Result<Self> {
        let f: Fields = serde_json::from_value(raw.clone()).context("the server's job is not the JSON expected")?;
        Ok(Self {
            id: f.id,
            kind: f.kind,
            status: f.status,
            target: f.target,
            rows_written: f.rows_written,
            version: f.version,
            created_at: f.created_at,
            progress: f.progress,
            raw,
        })
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "cancelled")
    }

    /// Work done of the total, by the best measure the job has: bytes (an import reads
    /// its file), steps, else rows.
    fn fraction(&self) -> Option<(u64, u64)> {
        let p = &self.progress;
        let pair = |done: Option<i64>, total: Option<i64>| match (done, total) {
            (Some(done), Some(total)) if total > 0 => Some((done.max(0) as u64, total as u64)),
            _ => None,
        };
        pair(p.bytes_read, p.bytes_total)
            .or_else(|| pair(p.steps_done, p.steps_total))
            .or_else(|| pair(Some(p.rows_written.max(p.rows_read)), p.rows_total))
    }
}

impl<'de> Deserialize<'de> for JobView {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        JobView::from_value(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// The job's progress bar, made at its first sight (its kind is the label).
#[derive(Default)]
struct JobBar(Option<Progress>);

impl JobBar {
    fn show(&mut self, job: &JobView) {
        let bar = self.0.get_or_insert_with(|| Progress::new(&job.kind, Unit::Work, None));
        if let Some((done, total)) = job.fraction() {
            bar.set_total(total);
            bar.set_position(done);
        }
        let p = &job.progress;
        bar.set_message(format!("{} rows read, {} written", p.rows_read, p.rows_written));
        if job.is_finished() {
            if job.status == "succeeded" { bar.finish() } else { bar.abandon() }
        }
    }
}

/// Follows the job until it ends and answers it as it ended (whatever its status).
pub async fn follow(api: &Api, id: &str) -> anyhow::Result<Value> {
    let mut bar = JobBar::default();
    let response = api.send(api.get(&["v1", "jobs", id, "events"]).header(ACCEPT, "text/event-stream")).await?;
    let mut events = EventStream::default();
    let mut body = response.bytes_stream();
    while let Some(Ok(chunk)) = body.next().await {
        for event in events.push(&chunk) {
            let job: JobView = serde_json::from_str(&event.data).context("a job event is not the JSON expected")?;
            bar.show(&job);
            if event.name == "end" || job.is_finished() {
                return Ok(job.raw);
            }
        }
    }
    // The stream closed before the end (a proxy's idle timeout, a server restart).
    loop {
        let job: JobView = api.json(api.get(&["v1", "jobs", id])).await?;
        bar.show(&job);
        if job.is_finished() {
            return Ok(job.raw);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The job if it succeeded, else the error it ended with.
pub fn succeeded(job: Value) -> anyhow::Result<Value> {
    if job["status"] == "succeeded" { Ok(job) } else { Err(JobFailed { job }.into()) }
}

pub async fn run(ctx: &Ctx, args: JobsArgs) -> anyhow::Result<()> {
    match args.command {
        Some(JobsCommand::Watch { id }) => {
            let job = succeeded(follow(&ctx.api, &id).await?)?;
            if ctx.json {
                return print_json(&job);
            }
            let job = JobView::from_value(job)?;
            let version = job.version.map(|v| format!(", version {v}")).unwrap_or_default();
            say!("Job {} ({}) succeeded: {} rows written{version}", job.id, job.kind, job.rows_written)?;
            Ok(())
        }
        Some(JobsCommand::Cancel { id }) => {
            let request = ctx.api.request(Method::DELETE, &["v1", "jobs", &id]);
            let job: JobView = ctx.api.json(request).await?;
            if ctx.json {
                return print_json(&job.raw);
            }
            match job.status.as_str() {
                "cancelled" => say!("Job {} cancelled: nothing was committed", job.id)?,
                // The cancel came after the commit point: the work is done and stays.
                "succeeded" => say!("Job {} had already committed: it succeeded", job.id)?,
                "failed" => say!("Job {} failed before it could be cancelled", job.id)?,
                _ => say!("Job {} was asked to stop and is still {}", job.id, job.status)?,
            }
            Ok(())
        }
        None => {
            let mut query: Vec<(&str, String)> = vec![("limit", args.limit.to_string())];
            query.extend(args.status.map(|s| ("status", s)));
            query.extend(args.kind.map(|k| ("kind", k)));
            query.extend(args.target.map(|t| ("target", t)));
            let request = ctx.api.get(&["v1", "jobs"]).query(&query);
            if ctx.json {
                return print_answer(ctx.api.send(request).await?).await;
            }
            let jobs: Vec<JobView> = ctx.api.json(request).await?;
            let mut table = Table::new(["id", "kind", "status", "target", "rows_written", "created_at"]);
            for job in &jobs {
                table.push(vec![
                    job.id.clone(),
                    job.kind.clone(),
                    job.status.clone(),
                    job.target.clone().unwrap_or_default(),
                    job.rows_written.to_string(),
                    job.created_at.clone(),
                ]);
            }
            table.print()?;
            Ok(())
        }
    }
}

/// One Server-Sent Event.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    name: String,
    data: String,
}

/// Server-Sent Events cut out of a byte stream, whatever the chunking: an event ends at
/// a blank line; `event:` names it, `data:` lines are its data, `:` lines are comments.
#[derive(Default)]
struct EventStream {
    pending: Vec<u8>,
}

impl EventStream {
    fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        // CRLF and LF both end lines.
        self.pending.extend(chunk.iter().copied().filter(|b| *b != b'\r'));
        let mut events = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.pending.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let mut name = "message".to_owned();
            let mut data: Vec<&str> = Vec::new();
            for line in text.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => name = value.to_owned(),
                    "data" => data.push(value),
                    _ => {} // comments (`: ...`), ids, retry hints
                }
            }
            if !data.is_empty() {
                events.push(Event { name, data: data.join("\n") });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_cut_out_whatever_the_chunks() {
        let stream =
            b": keep-alive\n\nevent: progress\ndata: {\"a\":1}\n\nevent: end\r\ndata: {\"a\":\r\ndata: 2}\r\n\r\n";
        for size in [1, 3, 7, stream.len()] {
            let mut events = EventStream::default();
            let got: Vec<Event> = stream.chunks(size).flat_map(|c| events.push(c)).collect();
            assert_eq!(
                got,
                vec![
                    Event { name: "progress".into(), data: "{\"a\":1}".into() },
                    Event { name: "end".into(), data: "{\"a\":\n2}".into() },
                ],
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn progress_is_measured_in_bytes_then_steps_then_rows() {
        let job = |progress: Value| {
            JobView::from_value(
                serde_json::json!({ "id": "x", "kind": "import", "status": "running", "progress": progress }),
            )
            .unwrap()
        };
        let counts = serde_json::json!({ "rows_read": 5, "rows_written": 0, "bytes_read": 50, "bytes_total": 200 });
        assert_eq!(job(counts).fraction(), Some((50, 200)));
        let counts = serde_json::json!({ "rows_read": 0, "rows_written": 0, "steps_done": 1, "steps_total": 4 });
        assert_eq!(job(counts).fraction(), Some((1, 4)));
        let counts = serde_json::json!({ "rows_read": 7, "rows_written": 3, "rows_total": 10 });
        assert_eq!(job(counts).fraction(), Some((7, 10)));
        assert_eq!(job(serde_json::json!({ "rows_read": 7, "rows_written": 3 })).fraction(), None);
    }
}
