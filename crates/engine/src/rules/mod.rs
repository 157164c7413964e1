//! Governance of a table's values: column domains and CHECK constraints. Both live in the
//! Delta table (domains in column metadata, constraints as `delta.constraints.<name>`),
//! so they version, time-travel and clone with it, and other Delta writers enforce the
//! constraints too. Every write path checks them on the whole input before committing
//! (`check`); changing them counts the existing rows that would violate the change first.

pub(crate) mod check;
pub mod domain;

use deltalake::kernel::Protocol;

pub(crate) use self::check::Rules;
use self::check::ValueList;
pub use self::domain::{Domain, DomainChange, DomainValue, Lookup, Parent, ReferenceSource};
use crate::error::{EngineError, EngineResult};

/// What a domain change did.
#[derive(Debug, Clone)]
pub struct DomainOutcome {
    /// The domain before the change.
    pub previous: Option<Domain>,
    pub domain: Option<Domain>,
    pub version: u64,
    /// Existing rows that violate the new domain (committed anyway only when forced).
    pub violating_rows: u64,
}

/// A column's allowed values, resolved now.
#[derive(Debug, Clone)]
pub struct AllowedValues {
    pub parent_value: Option<String>,
    /// `(id, value)`; no id for values that come from data rather than a definition.
    pub values: ValueList,
}

/// `protocol` raised to what CHECK constraints need, as Delta (and delta-rs) have it:
/// writer version 3, or the `checkConstraints` feature on a table with writer features.
pub(crate) fn with_check_constraints(protocol: &Protocol) -> EngineResult<Protocol> {
    let internal = |e: serde_json::Error| EngineError::internal(format!("protocol: {e}"));
    let mut json = serde_json::to_value(protocol).map_err(internal)?;
    let writer = json["minWriterVersion"].as_i64().unwrap_or(2);
    json["minWriterVersion"] = writer.max(3).into();
    if writer >= 7
        && let Some(features) = json["writerFeatures"].as_array_mut()
        && !features.iter().any(|f| f == "checkConstraints")
    {
        features.push("checkConstraints".into());
    }
    serde_json::from_value(json).map_err(internal)
}

pub(crate) fn constraint_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}
