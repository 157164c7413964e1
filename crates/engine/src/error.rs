//! What can go wrong in the engine, in terms a caller can answer a user with.

use crate::write::rows::RowErrors;

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// A request parameter or value the user gave is wrong; `field` names it.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// Rows that do not fit the table: every fault by row and column.
    #[error("{} row value(s) do not fit the table", .0.total)]
    Rows(RowErrors),
    /// Something the request names is not there; the message says what, by name
    /// (`column `x` not found`).
    #[error("{0}")]
    NotFound(String),
    /// A conflict the caller can resolve (duplicate key, concurrent change, existing table).
    #[error("{0}")]
    Conflict(String),
    /// Another writer committed to the table after this operation read it, so its commit
    /// did not land; the operation can be redone on the new state.
    #[error("the table changed concurrently; try again")]
    Concurrent,
    /// A rule change that existing rows would violate; `rows` counts them.
    #[error("{message}")]
    Violated { message: String, rows: u64 },
    /// SQL that is not allowed (DDL, DML, file access, ...).
    #[error("{0}")]
    Forbidden(String),
    #[error("the query ran longer than the configured timeout of {0} seconds")]
    Timeout(u64),
    #[error("the query needs more memory than the configured limit: {0}")]
    ResourcesExhausted(String),
    /// The caller asked the operation to stop before it committed; it committed nothing.
    #[error("the operation was cancelled; nothing was committed")]
    Cancelled,
    /// The table's storage failed, or holds no Delta table where one is registered. Never
    /// a "not found": the table exists, its storage does not answer for it.
    #[error("storage: {0}")]
    Storage(String),
    #[error("{0}")]
    Internal(String),
}

pub type EngineResult<T> = Result<T, EngineError>;

impl EngineError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }

    /// A column of the table that is not there.
    pub fn no_column(column: &str) -> Self {
        Self::NotFound(format!("column `{column}` not found"))
    }
}

impl From<deltalake::DeltaTableError> for EngineError {
    fn from(err: deltalake::DeltaTableError) -> Self {
        use deltalake::DeltaTableError as E;
        use deltalake::kernel::transaction::TransactionError;
        match err {
            // The server only hands over locations of registered tables, so a location that
            // holds no table, or that no object store serves, is a storage failure.
            E::NotATable(m) => EngineError::Storage(format!("no Delta table at the location: {m}")),
            E::InvalidTableLocation(m) => EngineError::Storage(format!("no object store serves the location: {m}")),
            E::ObjectStore { source } => EngineError::Storage(source.to_string()),
            E::Transaction { source: TransactionError::MaxCommitAttempts(_) | TransactionError::CommitConflict(_) }
            | E::VersionAlreadyExists(_) => EngineError::Concurrent,
            E::Transaction { source } => EngineError::Conflict(format!("the table changed concurrently: {source}")),
            other => {
                let text = other.to_string();
                if text.contains("Resources exhausted") {
                    EngineError::ResourcesExhausted(crate::redact::paths(&text))
                } else {
                    EngineError::Internal(text)
                }
            }
        }
    }
}

impl From<datafusion::error::DataFusionError> for EngineError {
    fn from(err: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        match err.find_root() {
            D::ResourcesExhausted(m) => EngineError::ResourcesExhausted(crate::redact::paths(m)),
            D::Plan(m) => EngineError::invalid("query", crate::redact::paths(m)),
            D::SchemaError(e, _) => EngineError::invalid("query", crate::redact::paths(&e.to_string())),
            D::SQL(..) => EngineError::invalid("query", crate::sql::parse_message(&err)),
            D::NotImplemented(m) => {
                EngineError::invalid("query", format!("not supported: {}", crate::redact::paths(m)))
            }
            D::Execution(m) if m.contains("Cast error") || m.contains("cast") => {
                EngineError::invalid("query", crate::redact::paths(m))
            }
            _ => {
                let text = err.to_string();
                if text.contains("Resources exhausted") {
                    EngineError::ResourcesExhausted(crate::redact::paths(&text))
                } else if text.contains("Cast error") || text.contains("Arrow error: Parser error") {
                    EngineError::invalid("query", crate::redact::paths(&text))
                } else {
                    EngineError::Internal(text)
                }
            }
        }
    }
}

impl From<deltalake::kernel::Error> for EngineError {
    fn from(err: deltalake::kernel::Error) -> Self {
        deltalake::DeltaTableError::from(err).into()
    }
}

impl From<arrow::error::ArrowError> for EngineError {
    fn from(err: arrow::error::ArrowError) -> Self {
        EngineError::Internal(err.to_string())
    }
}
