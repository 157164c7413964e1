//! What can go wrong in the engine, in the engine's own terms: which input of an
//! operation is wrong ([`Input`]), which rows do not fit, what is missing, and failures of
//! storage or of the engine itself (their sources kept). Each surface says these in its own
//! terms (the HTTP server names request fields).
//!
//! delta-rs and DataFusion report many conditions only in their messages; those are read
//! in one place, [`classify_delta`] and [`classify_datafusion`], tested below.

use std::sync::Arc;

use crate::row_errors::RowErrors;

/// The part of an operation's input a fault is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The rows given to a write, or the data of an imported file.
    Rows,
    /// The text of a SQL query.
    Query,
    /// A row filter.
    Filter,
    /// How an insert treats rows whose primary key exists (upsert).
    Resolution,
    /// The operation as a whole (it asks for nothing to change).
    Request,
    /// The column the operation names.
    Column,
    /// A named parameter of the operation, by its name in the operation's terms
    /// (`version`, `term`, `constraints[0].expr`, `properties.owner`, ...).
    Parameter(String),
}

impl From<&str> for Input {
    fn from(name: &str) -> Self {
        Input::Parameter(name.to_owned())
    }
}

impl From<&String> for Input {
    fn from(name: &String) -> Self {
        Input::Parameter(name.clone())
    }
}

impl From<String> for Input {
    fn from(name: String) -> Self {
        Input::Parameter(name)
    }
}

/// A failure's cause, kept for logs.
pub type Source = Arc<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// An input of the operation is wrong; `input` says which.
    #[error("{message}")]
    Invalid { input: Input, message: String },
    /// Rows that do not fit the table: every fault by row and column.
    #[error("{} row value(s) do not fit the table", .0.total)]
    Rows(RowErrors),
    /// Something the operation names is not there; the message says what, by name
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
    /// A query the SQL sandbox does not run (DDL, DML, statements, file access): the query
    /// is at fault, not the caller's permissions.
    #[error("{0}")]
    NotAllowed(String),
    /// The operation is not permitted on this table whoever asks (a read-only table).
    #[error("{0}")]
    Denied(String),
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
    #[error("{message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Source>,
    },
}

pub type EngineResult<T> = Result<T, EngineError>;

impl EngineError {
    pub fn invalid(input: impl Into<Input>, message: impl Into<String>) -> Self {
        Self::Invalid { input: input.into(), message: message.into() }
    }

    /// A column of the table that is not there.
    pub fn no_column(column: &str) -> Self {
        Self::NotFound(format!("column `{column}` not found"))
    }

    /// A failure of the engine itself, with no cause beyond the message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal { message: message.into(), source: None }
    }

    /// A failure of the engine itself, caused by `source`.
    pub fn caused(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal { message: message.into(), source: Some(Arc::new(source)) }
    }
}

/// What a delta-rs error means for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaFault {
    /// Another writer committed first; the commit did not land.
    Concurrent,
    /// The table needs Delta features delta-rs cannot write (deletion vectors, ...).
    UnsupportedFeatures,
    /// A transaction error other than a concurrent commit (the commit did not land).
    Transaction,
    /// No Delta table at the location.
    NotATable,
    /// No object store serves the location.
    NoStore,
    /// The object store failed.
    Storage,
    /// The data given does not fit the table (a write's schema check).
    InvalidData,
    /// The version asked for does not exist.
    NoSuchVersion,
    /// Out of memory under the query memory limit.
    ResourcesExhausted,
    Other,
}

pub fn classify_delta(err: &deltalake::DeltaTableError) -> DeltaFault {
    use deltalake::DeltaTableError as E;
    use deltalake::kernel::transaction::TransactionError as T;
    match err {
        E::Transaction { source: T::MaxCommitAttempts(_) | T::CommitConflict(_) } | E::VersionAlreadyExists(_) => {
            DeltaFault::Concurrent
        }
        E::Transaction { source: T::UnsupportedTableFeatures(_) } => DeltaFault::UnsupportedFeatures,
        E::Transaction { .. } => DeltaFault::Transaction,
        E::NotATable(_) => DeltaFault::NotATable,
        E::InvalidTableLocation(_) => DeltaFault::NoStore,
        E::ObjectStore { .. } => DeltaFault::Storage,
        E::InvalidVersion(_) => DeltaFault::NoSuchVersion,
        other => {
            let text = other.to_string();
            if text.contains("Invalid data found") {
                DeltaFault::InvalidData
            } else if text.contains("Resources exhausted") {
                DeltaFault::ResourcesExhausted
            } else if text.to_lowercase().contains("version") {
                // Restores of a version that is not there say so only in words.
                DeltaFault::NoSuchVersion
            } else {
                DeltaFault::Other
            }
        }
    }
}

/// What a DataFusion error means for a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFusionFault {
    ResourcesExhausted,
    /// The query is wrong: unknown names, types that do not fit, values that do not cast.
    InvalidQuery,
    /// The query does not parse.
    Syntax,
    /// The query is valid but uses something DataFusion does not support.
    NotSupported,
    Other,
}

pub fn classify_datafusion(err: &datafusion::error::DataFusionError) -> DataFusionFault {
    use datafusion::error::DataFusionError as D;
    match err.find_root() {
        D::ResourcesExhausted(_) => DataFusionFault::ResourcesExhausted,
        D::Plan(_) | D::SchemaError(..) => DataFusionFault::InvalidQuery,
        D::SQL(..) => DataFusionFault::Syntax,
        D::NotImplemented(_) => DataFusionFault::NotSupported,
        D::Execution(m) if m.contains("Cast error") || m.contains("cast") => DataFusionFault::InvalidQuery,
        _ => {
            let text = err.to_string();
            if text.contains("Resources exhausted") {
                DataFusionFault::ResourcesExhausted
            } else if text.contains("Cast error") || text.contains("Arrow error: Parser error") {
                DataFusionFault::InvalidQuery
            } else {
                DataFusionFault::Other
            }
        }
    }
}

impl From<deltalake::DeltaTableError> for EngineError {
    fn from(err: deltalake::DeltaTableError) -> Self {
        use deltalake::DeltaTableError as E;
        match (classify_delta(&err), err) {
            // The server only hands over locations of registered tables, so a location that
            // holds no table, or that no object store serves, is a storage failure.
            (DeltaFault::NotATable, E::NotATable(m)) => {
                EngineError::Storage(format!("no Delta table at the location: {m}"))
            }
            (DeltaFault::NoStore, E::InvalidTableLocation(m)) => {
                EngineError::Storage(format!("no object store serves the location: {m}"))
            }
            (DeltaFault::Storage, E::ObjectStore { source }) => EngineError::Storage(source.to_string()),
            (DeltaFault::Concurrent, _) => EngineError::Concurrent,
            (
                DeltaFault::UnsupportedFeatures,
                E::Transaction {
                    source: deltalake::kernel::transaction::TransactionError::UnsupportedTableFeatures(f),
                },
            ) => {
                let mut names: Vec<String> = f.iter().map(|f| f.to_string()).collect();
                names.sort();
                EngineError::Conflict(format!(
                    "the table uses Delta features Lakeward cannot write safely: {}; it can be read, not written",
                    names.join(", ")
                ))
            }
            (DeltaFault::Transaction, e) => EngineError::Conflict(format!("the table changed concurrently: {e}")),
            (DeltaFault::ResourcesExhausted, e) => {
                EngineError::ResourcesExhausted(crate::redact::paths(&e.to_string()))
            }
            (_, e) => EngineError::caused(crate::redact::paths(&e.to_string()), e),
        }
    }
}

impl From<datafusion::error::DataFusionError> for EngineError {
    fn from(err: datafusion::error::DataFusionError) -> Self {
        let message = || crate::redact::paths(&err.find_root().message());
        match classify_datafusion(&err) {
            DataFusionFault::ResourcesExhausted => EngineError::ResourcesExhausted(message()),
            DataFusionFault::InvalidQuery => EngineError::invalid(Input::Query, message()),
            DataFusionFault::Syntax => EngineError::invalid(Input::Query, crate::sql::parse_message(&err)),
            DataFusionFault::NotSupported => {
                EngineError::invalid(Input::Query, format!("not supported: {}", message()))
            }
            DataFusionFault::Other => EngineError::caused(crate::redact::paths(&err.to_string()), err),
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
        EngineError::caused(err.to_string(), err)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::error::DataFusionError;
    use deltalake::DeltaTableError;
    use deltalake::kernel::transaction::TransactionError;

    use super::*;

    #[test]
    fn delta_errors_are_classified() {
        let cases = [
            (DeltaTableError::VersionAlreadyExists(3), DeltaFault::Concurrent),
            (DeltaTableError::Transaction { source: TransactionError::MaxCommitAttempts(0) }, DeltaFault::Concurrent),
            (DeltaTableError::NotATable("no log".into()), DeltaFault::NotATable),
            (DeltaTableError::InvalidTableLocation("x://".into()), DeltaFault::NoStore),
            (DeltaTableError::InvalidVersion(9), DeltaFault::NoSuchVersion),
            (
                DeltaTableError::Generic("Invalid data found: 1 rows failed validation check".into()),
                DeltaFault::InvalidData,
            ),
            (DeltaTableError::Generic("Resources exhausted: 10 bytes".into()), DeltaFault::ResourcesExhausted),
            (DeltaTableError::Generic("something else".into()), DeltaFault::Other),
        ];
        for (err, fault) in cases {
            assert_eq!(classify_delta(&err), fault, "{err}");
        }
    }

    #[test]
    fn datafusion_errors_are_classified() {
        let cases = [
            (DataFusionError::ResourcesExhausted("pool".into()), DataFusionFault::ResourcesExhausted),
            (DataFusionError::Plan("no column x".into()), DataFusionFault::InvalidQuery),
            (DataFusionError::NotImplemented("LATERAL".into()), DataFusionFault::NotSupported),
            (DataFusionError::Execution("Cast error: 'a' to Int64".into()), DataFusionFault::InvalidQuery),
            (
                DataFusionError::Context("in a join".into(), Box::new(DataFusionError::Plan("x".into()))),
                DataFusionFault::InvalidQuery,
            ),
            (DataFusionError::Internal("bug".into()), DataFusionFault::Other),
        ];
        for (err, fault) in cases {
            assert_eq!(classify_datafusion(&err), fault, "{err}");
        }
    }

    #[test]
    fn unclassified_failures_keep_their_source() {
        let err: EngineError = DataFusionError::Internal("bug".into()).into();
        let EngineError::Internal { source: Some(source), .. } = &err else { panic!("{err:?}") };
        assert!(source.to_string().contains("bug"), "{source}");
    }
}
