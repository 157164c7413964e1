//! The engine's own runtime. DataFusion and delta-rs work is CPU-bound; on the server's
//! runtime it could occupy every worker, so that no timer fires and no disconnect is
//! noticed. Here it runs on separate threads; results cross back through a small
//! channel, and dropping the caller's future or stream aborts the work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::error::{EngineError, EngineResult};
use crate::output::ByteStream;

/// Set once a query is abandoned (past its timeout, or its caller gone). An abort lands
/// only when the query's task next yields, and one poll of an operator can run for
/// seconds (DataFusion's nested-loop join tries every build row against a probe batch
/// before it returns, when few rows match): the join filters of the query's plan check
/// this flag and end the query with an error (see `yielding`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Abandoned(Arc<AtomicBool>);

impl Abandoned {
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

tokio::task_local! {
    /// The flag of the query a task runs, for the sessions it makes (`EngineState::session`).
    static ABANDONED: Abandoned;
}

/// The flag of the query the current task runs, if it runs one.
pub(crate) fn abandoned() -> Option<Abandoned> {
    ABANDONED.try_with(Abandoned::clone).ok()
}

/// Aborts the task when dropped (the caller went away, or gave up waiting), and marks the
/// query abandoned unless it finished.
struct AbortOnDrop {
    task: AbortHandle,
    abandoned: Abandoned,
    finished: bool,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if !self.finished {
            self.abandoned.set();
        }
        self.task.abort();
    }
}

pub(crate) struct Exec {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Exec {
    fn drop(&mut self) {
        // Dropping a runtime from async code would block (and panic); let it wind down.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A deadline and the timeout it came from (for the message).
pub(crate) type Deadline = Option<(Instant, Duration)>;

impl Exec {
    pub(crate) fn new() -> EngineResult<Self> {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("lakeward-engine")
            // DataFusion and delta-rs futures nest deeply (a streamed import planned as a
            // write over a stream that itself runs a query at its end); the default 2 MiB
            // overflows in unoptimised builds.
            .thread_stack_size(16 * 1024 * 1024)
            .enable_all()
            .build()
            .map_err(|e| EngineError::internal(e.to_string()))?;
        Ok(Self { runtime: Some(runtime) })
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.as_ref().expect("present until drop").handle()
    }

    /// Runs `fut`, which prepares a query, on the engine's threads; past the deadline it is
    /// aborted and `abandoned` is set (pass the same flag to [`Exec::forward`]).
    pub(crate) async fn run<T, F>(&self, deadline: Deadline, abandoned: &Abandoned, fut: F) -> EngineResult<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = EngineResult<T>> + Send + 'static,
    {
        let mut task = self.handle().spawn(ABANDONED.scope(abandoned.clone(), fut));
        let mut abort = AbortOnDrop { task: task.abort_handle(), abandoned: abandoned.clone(), finished: false };
        let joined = match deadline {
            None => (&mut task).await,
            Some((at, timeout)) => match tokio::time::timeout_at(at, &mut task).await {
                Ok(joined) => joined,
                Err(_) => return Err(EngineError::Timeout(timeout.as_secs())),
            },
        };
        abort.finished = true;
        joined.map_err(|e| EngineError::internal(format!("engine task failed: {e}")))?
    }

    /// Polls `stream` on the engine's threads and hands its chunks on; ends it with a
    /// timeout error past the deadline; stops the work when the receiver is dropped.
    pub(crate) fn forward(&self, mut stream: ByteStream, deadline: Deadline, abandoned: &Abandoned) -> ByteStream {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let task = self.handle().spawn(async move {
            while let Some(chunk) = stream.next().await {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        let abort = AbortOnDrop { task: task.abort_handle(), abandoned: abandoned.clone(), finished: false };
        futures::stream::unfold((rx, Some(abort)), move |(mut rx, abort)| async move {
            abort.as_ref()?;
            let next = match deadline {
                None => rx.recv().await,
                Some((at, timeout)) => match tokio::time::timeout_at(at, rx.recv()).await {
                    Ok(next) => next,
                    Err(_) => return Some((Err(EngineError::Timeout(timeout.as_secs())), (rx, None))),
                },
            };
            match next {
                Some(Err(e)) => Some((Err(e), (rx, None))),
                Some(ok) => Some((ok, (rx, abort))),
                None => None,
            }
        })
        .boxed()
    }
}

/// Waits for the first batch before the answer starts, so that a query that fails (or
/// runs out of time or memory) before producing anything gets a proper error status.
pub(crate) async fn peeked(mut stream: SendableRecordBatchStream) -> EngineResult<SendableRecordBatchStream> {
    let schema = stream.schema();
    let first = stream.next().await.transpose()?;
    let rest = futures::stream::iter(first.map(Ok)).chain(stream);
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rest)))
}
