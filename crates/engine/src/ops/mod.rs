//! Engine operations: each is one type, holding its own inputs, and runs only through
//! [`crate::Engine::run`], which alone decides the deadline, hops onto the engine's
//! runtime and forwards the streams an answer carries. An operation says how the query
//! timeout applies to it ([`Timeout`]); the rest is its `run`.
//!
//! Operations that commit go through the one commit path (`crate::commit`): they are
//! redone on the new state when another writer committed first (`commit::redo`).

pub mod import;
pub mod rows;
pub mod rules;
pub mod schema;
pub mod sql;
pub mod storage;
pub mod table;

use std::future::Future;
use std::sync::Arc;

use crate::error::EngineResult;
use crate::exec::{Abandoned, Deadline, Exec};
use crate::output::ByteStream;
use crate::state::EngineState;

/// How the query timeout applies to an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// Reads: the whole operation, including the streaming of its answer. Reads are safe
    /// to abort at any point.
    Whole,
    /// Streamed exports: until the answer starts; the stream then takes its time (a large
    /// table streams for as long as the client reads).
    UntilAnswer,
    /// Commits: never aborted by a timer, since an abort cannot be made safe once a commit
    /// may have started; they are bounded by their input instead.
    None,
}

/// One engine operation. Implemented by the types of the modules below; callers build one
/// and hand it to [`crate::Engine::run`].
pub trait Operation: Send + 'static {
    type Output: Send + 'static;
    const TIMEOUT: Timeout;

    fn run(self, state: Arc<EngineState>) -> impl Future<Output = EngineResult<Self::Output>> + Send + 'static;

    /// Hands the streams of the output over to the caller's side (answers that carry none
    /// are returned as they are).
    fn forward(output: Self::Output, _streams: &Forwarder<'_>) -> Self::Output {
        output
    }
}

/// Forwards an answer's streams from the engine's threads, with the deadline that applies
/// to them; dropping a forwarded stream stops the work.
pub struct Forwarder<'a> {
    pub(crate) exec: &'a Exec,
    pub(crate) deadline: Deadline,
    pub(crate) abandoned: &'a Abandoned,
}

impl Forwarder<'_> {
    pub fn stream(&self, body: ByteStream) -> ByteStream {
        self.exec.forward(body, self.deadline, self.abandoned)
    }
}
