//! The data plane: tables as Delta Lake tables (delta-rs), queried with DataFusion.
//! Creating, describing, writing (one Delta commit per request), reading with pushed-down
//! filters, sandboxed SQL, history, time travel and restore. No HTTP and no
//! authorization here: callers hand the engine only the tables a principal may touch.
//! This is the only crate allowed to depend on DataFusion and delta-rs.
//!
//! Every operation is a type of [`ops`], run by [`Engine::run`].

mod clone;
mod coerce;
mod commit;
mod commits;
mod compare;
mod diff;
mod error;
mod exec;
mod group_by;
mod history;
mod import;
mod local_log;
mod local_reads;
pub mod ops;
mod optimize;
mod output;
mod page_index;
mod read;
mod redact;
mod row_errors;
mod rules;
mod scan;
mod schema;
mod search;
mod sql;
mod state;
mod storage;
mod table;
mod types;
mod vacuum;
mod warehouse;
mod write;
mod yielding;

use std::sync::Arc;
use std::time::Duration;

pub use clone::{CloneKeep, ClonePlan, CloneProgress};
pub use commit::Actor;
pub use commits::{Landed, feed as commit_feed};
pub use compare::{Drift, definition_drift};
pub use diff::TableDiff;
pub use error::{EngineError, EngineResult, Input};
pub use history::HistoryItem;
pub use import::infer::{CsvOptions, DOMAIN_MAX_VALUES, Inferred, InferredColumn};
pub use import::{ImportFormat, ImportProgress};
pub use ops::rows::RowsPage;
pub use ops::sql::SqlOutput;
pub use ops::{Operation, Timeout};
pub use optimize::OptimizeOutcome;
pub use output::{ACCEPTED_OUTPUT_TYPES, ByteStream, OutputFormat};
pub use row_errors::{MAX_REPORTED_ERRORS, RowError, RowErrors};
pub use rules::{AllowedValues, Domain, DomainChange, DomainOutcome, DomainValue, Lookup, Parent, ReferenceSource};
pub use schema::{ColumnChange, ColumnRewrite, TableChange};
pub use search::SearchOutput;
pub use sql::{ALLOWED_TABLE_FUNCTIONS, SqlTable, named_tables};
pub use state::{EngineState, EngineStats, WriteTurns};
pub use storage::{AzureConfig, GcsConfig, OBJECT_STORE_SCHEMES, S3Config, Secret, StoreConfig};
pub use table::{ColumnInfo, ColumnSpec, ColumnStatistics, TableMetadata, TableSpec, TimeTravel};
pub use types::{ColumnType, TYPE_NAMES};
pub use vacuum::{LISTED_FILES, StorageUse, VacuumOutcome};
pub use warehouse::{Warehouse, WarehouseError};
pub use write::input::{ACCEPTED_CONTENT_TYPES, InputFormat};
pub use write::{WriteOutcome, WriteRequest};

#[derive(Debug, Clone)]
pub struct EngineLimits {
    pub query_timeout: Duration,
    pub memory_limit_bytes: u64,
}

/// The engine. Its work runs on a runtime of its own, so that CPU-heavy queries never
/// starve the server's threads: timeouts fire, and a client that goes away cancels its
/// query.
pub struct Engine {
    state: Arc<EngineState>,
    exec: exec::Exec,
    query_timeout: Duration,
}

impl Engine {
    pub fn new(limits: EngineLimits) -> EngineResult<Self> {
        Ok(Self {
            state: Arc::new(EngineState::new(&limits)?),
            exec: exec::Exec::new()?,
            query_timeout: limits.query_timeout,
        })
    }

    /// Has writes take turns at a table with other processes through `turns` (see
    /// [`WriteTurns`]); once, before the first write.
    pub fn share_write_turns(&self, turns: Arc<dyn WriteTurns>) {
        let _ = self.state.write_turns.set(turns);
    }

    /// What the engine has done since it started, and the memory its queries hold.
    pub fn stats(&self) -> EngineStats {
        self.state.stats()
    }

    /// Runs one operation on the engine's threads. The only place that decides deadlines:
    /// the query timeout applies as the operation's [`Timeout`] says, and an operation
    /// past it (or whose caller went away) is aborted; streams in its answer are forwarded
    /// from the engine's threads.
    pub async fn run<O: Operation>(&self, operation: O) -> EngineResult<O::Output> {
        let deadline = match O::TIMEOUT {
            Timeout::None => None,
            Timeout::Whole | Timeout::UntilAnswer => {
                Some((tokio::time::Instant::now() + self.query_timeout, self.query_timeout))
            }
        };
        let abandoned = exec::Abandoned::default();
        let output = self.exec.run(deadline, &abandoned, operation.run(self.state.clone())).await?;
        let streams = ops::Forwarder {
            exec: &self.exec,
            deadline: if O::TIMEOUT == Timeout::Whole { deadline } else { None },
            abandoned: &abandoned,
        };
        Ok(O::forward(output, &streams))
    }
}
