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
    #[error("table not found")]
    NotFound,
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
    #[error("{0}")]
    Internal(String),
}

pub type EngineResult<T> = Result<T, EngineError>;

impl EngineError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }
}

impl From<deltalake::DeltaTableError> for EngineError {
    fn from(err: deltalake::DeltaTableError) -> Self {
        use deltalake::DeltaTableError as E;
        use deltalake::kernel::transaction::TransactionError;
        match err {
            E::NotATable(_) | E::InvalidTableLocation(_) => EngineError::NotFound,
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
            D::Plan(m) | D::SQL(_, Some(m)) => EngineError::invalid("query", crate::redact::paths(m)),
            D::SchemaError(e, _) => EngineError::invalid("query", crate::redact::paths(&e.to_string())),
            D::SQL(e, None) => EngineError::invalid("query", crate::redact::paths(&e.to_string())),
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
