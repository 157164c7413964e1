//! The engine's own runtime. DataFusion and delta-rs work is CPU-bound; on the server's
//! runtime it could occupy every worker, so that no timer fires and no disconnect is
//! noticed. Here it runs on separate threads; results cross back through a small
//! channel, and dropping the caller's future or stream aborts the work.

use std::time::Duration;

use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::error::{EngineError, EngineResult};
use crate::output::ByteStream;

/// Aborts the task when dropped (the caller went away, or gave up waiting).
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(Self { runtime: Some(runtime) })
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.as_ref().expect("present until drop").handle()
    }

    /// Runs `fut` on the engine's threads; past the deadline it is aborted.
    pub(crate) async fn run<T, F>(&self, deadline: Deadline, fut: F) -> EngineResult<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = EngineResult<T>> + Send + 'static,
    {
        let mut task = self.handle().spawn(fut);
        let _abort = AbortOnDrop(task.abort_handle());
        let joined = match deadline {
            None => (&mut task).await,
            Some((at, timeout)) => match tokio::time::timeout_at(at, &mut task).await {
                Ok(joined) => joined,
                Err(_) => return Err(EngineError::Timeout(timeout.as_secs())),
            },
        };
        joined.map_err(|e| EngineError::Internal(format!("engine task failed: {e}")))?
    }

    /// Polls `stream` on the engine's threads and hands its chunks on; ends it with a
    /// timeout error past the deadline; stops the work when the receiver is dropped.
    pub(crate) fn forward(&self, mut stream: ByteStream, deadline: Deadline) -> ByteStream {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let task = self.handle().spawn(async move {
            while let Some(chunk) = stream.next().await {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        let abort = AbortOnDrop(task.abort_handle());
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
