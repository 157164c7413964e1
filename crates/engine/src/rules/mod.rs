//! Governance of a table's values: column domains and CHECK constraints. Both live in the
//! Delta table (domains in column metadata, constraints as `delta.constraints.<name>`),
//! so they version, time-travel and clone with it, and other Delta writers enforce the
//! constraints too. Every write path checks them on the whole input before committing
//! (`check`); changing them counts the existing rows that would violate the change first.

pub(crate) mod check;
pub mod domain;

use deltalake::kernel::schema::MetadataValue;
use deltalake::kernel::{Action, MetadataExt, Protocol};
use deltalake::protocol::DeltaOperation;
use deltalake::table::Constraint;
use lakeward_model::query::{CmpOp, Filter};
use url::Url;

pub(crate) use self::check::Rules;
use self::check::{CONSTRAINT_PREFIX, ResolvedValues, ValueList, constraints_of};
pub use self::domain::{DOMAIN_KEY, Domain, DomainChange, DomainValue, Lookup, Parent, ReferenceSource};
use crate::commit::Actor;
use crate::error::{EngineError, EngineResult};
use crate::table::{self, TimeTravel};
use crate::{Inner as Engine, read, schema};

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
fn with_check_constraints(protocol: &Protocol) -> EngineResult<Protocol> {
    let internal = |e: serde_json::Error| EngineError::Internal(format!("protocol: {e}"));
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

fn constraint_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

impl Engine {
    pub async fn domain(&self, location: &Url, column: &str, at: TimeTravel) -> EngineResult<Option<Domain>> {
        let delta = self.open(location, at).await?;
        let schema = table::arrow_schema(&delta)?;
        let field = schema.field_with_name(column).map_err(|_| EngineError::no_column(column))?;
        domain::of_field(field)
    }

    pub async fn change_domain(
        &self,
        location: &Url,
        column: &str,
        change: DomainChange,
        force: bool,
        actor: &Actor,
    ) -> EngineResult<DomainOutcome> {
        let _guard = self.lock(location).await;
        let delta = self.open(location, TimeTravel::Latest).await?;
        let arrow_schema = table::arrow_schema(&delta)?;
        let field = arrow_schema.field_with_name(column).map_err(|_| EngineError::no_column(column))?;
        let current = domain::of_field(field)?;
        let setting_source = matches!(change, DomainChange::SetTable { .. } | DomainChange::SetReference { .. });
        let new = domain::apply(&arrow_schema, column, current.as_ref(), change)?;
        let violating_rows = match &new {
            None => 0,
            Some(d) => {
                let rules =
                    match Rules::only(self, location, &delta, vec![(column.to_owned(), d.clone())], vec![]).await {
                        // A lookup or reference naming a table or column that is not there.
                        Err(EngineError::Conflict(m)) if setting_source => {
                            return Err(EngineError::invalid("table_reference", m));
                        }
                        other => other?,
                    };
                rules.check_table(self, &delta).await?.total as u64
            }
        };
        if violating_rows > 0 && !force {
            return Err(EngineError::Violated {
                message: format!(
                    "{violating_rows} existing row(s) have values outside the new domain of `{column}`; \
                     repeat with force=true to apply it anyway"
                ),
                rows: violating_rows,
            });
        }
        let value = new
            .as_ref()
            .map(|d| serde_json::to_value(d).map(MetadataValue::Other))
            .transpose()
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let version = schema::set_field_metadata(self, location, &delta, column, DOMAIN_KEY, value, actor).await?;
        Ok(DomainOutcome { previous: current, domain: new, version, violating_rows })
    }

    pub async fn allowed_values(
        &self,
        location: &Url,
        column: &str,
        parent_value: Option<&str>,
    ) -> EngineResult<AllowedValues> {
        let delta = self.open(location, TimeTravel::Latest).await?;
        let arrow_schema = table::arrow_schema(&delta)?;
        let field = arrow_schema.field_with_name(column).map_err(|_| EngineError::no_column(column))?;
        let Some(d) = domain::of_field(field)? else {
            return Err(EngineError::invalid("column_name", format!("column `{column}` has no domain")));
        };
        let resolved = check::allowed_values(self, location, &delta, column, &d).await?;
        Ok(match (resolved, &d) {
            (ResolvedValues::Flat(values), _) => {
                if parent_value.is_some() {
                    return Err(EngineError::invalid("parent_value", "only hierarchical domains have parents"));
                }
                AllowedValues { parent_value: None, values }
            }
            (ResolvedValues::Tree(parents, _), Domain::Hierarchical { parent_column, .. }) => match parent_value {
                Some(p) => {
                    let pf = arrow_schema
                        .field_with_name(parent_column)
                        .map_err(|_| EngineError::no_column(parent_column))?;
                    let p = domain::canonical(pf, p).map_err(|m| EngineError::invalid("parent_value", m))?;
                    let values = parents.into_iter().find(|(v, _)| *v == p).map(|(_, c)| c).unwrap_or_default();
                    AllowedValues { parent_value: Some(p), values }
                }
                None => {
                    let mut values: ValueList = Vec::new();
                    for (_, children) in parents {
                        for c in children {
                            if !values.iter().any(|v| v.1 == c.1) {
                                values.push(c);
                            }
                        }
                    }
                    // Parents come in no meaningful order; the union is sorted.
                    values.sort_by(|a, b| a.1.cmp(&b.1));
                    AllowedValues { parent_value: None, values }
                }
            },
            (ResolvedValues::Tree(..), _) => unreachable!("only hierarchical domains resolve to trees"),
        })
    }

    /// How many rows hold `value` in `column`.
    pub async fn value_usage(&self, location: &Url, column: &str, value: &str) -> EngineResult<u64> {
        let delta = self.open(location, TimeTravel::Latest).await?;
        let arrow_schema = table::arrow_schema(&delta)?;
        let field = arrow_schema
            .field_with_name(column)
            .map_err(|_| EngineError::invalid("fieldName", format!("unknown column `{column}`")))?;
        let value = domain::canonical(field, value).map_err(|m| EngineError::invalid("value", m))?;
        let filter = Filter::Cmp { column: column.to_owned(), op: CmpOp::Eq, value };
        let ctx = self.session();
        read::register(&ctx, &delta).await?;
        let predicate = read::filter_expr(&filter, &arrow_schema)?;
        Ok(ctx.table(read::SELF).await?.filter(predicate)?.count().await? as u64)
    }

    /// Adds CHECK constraints as Delta constraints, in one commit, after proving that no
    /// existing row violates them.
    pub async fn add_constraints(
        &self,
        location: &Url,
        constraints: &[(String, String)],
        actor: &Actor,
    ) -> EngineResult<u64> {
        if constraints.is_empty() {
            return Err(EngineError::invalid("constraints", "give at least one constraint"));
        }
        let _guard = self.lock(location).await;
        let delta = self.open(location, TimeTravel::Latest).await?;
        let existing = constraints_of(&delta)?;
        for (i, (name, expr)) in constraints.iter().enumerate() {
            if !constraint_name_ok(name) {
                return Err(EngineError::invalid(
                    format!("constraints[{i}].name"),
                    "a constraint name is letters, digits and underscores, not starting with a digit",
                ));
            }
            if expr.trim().is_empty() {
                return Err(EngineError::invalid(format!("constraints[{i}].expr"), "give a SQL expression"));
            }
            if existing.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
                || constraints[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                return Err(EngineError::Conflict(format!("a constraint named `{name}` already exists")));
            }
        }
        let rules = Rules::only(self, location, &delta, vec![], constraints.to_vec()).await.map_err(|e| match e {
            EngineError::Invalid { field, message } => {
                let name = field.trim_start_matches("constraints.");
                let i = constraints.iter().position(|(n, _)| n == name).unwrap_or(0);
                EngineError::invalid(format!("constraints[{i}].expr"), message)
            }
            other => other,
        })?;
        let violations = rules.check_table(self, &delta).await?;
        if !violations.is_empty() {
            return Err(EngineError::Violated {
                message: format!(
                    "{} existing row(s) violate the constraint(s); first: {}",
                    violations.total,
                    violations.errors.first().map(|e| e.message.as_str()).unwrap_or("")
                ),
                rows: violations.total as u64,
            });
        }
        // Stored as the user wrote them (trimmed), not as DataFusion re-prints them
        // (`balance >= '0.00'::decimal(10, 2)`), so that every Delta engine can parse them.
        let snapshot = delta.snapshot()?;
        let mut metadata = snapshot.metadata().clone();
        for (name, expr) in constraints {
            metadata = MetadataExt::add_config_key(metadata, format!("{CONSTRAINT_PREFIX}{name}"), expr.trim().into())?;
        }
        let protocol = with_check_constraints(snapshot.protocol())?;
        let operation = DeltaOperation::AddConstraint {
            constraints: constraints.iter().map(|(name, expr)| Constraint::new(name, expr.trim())).collect(),
        };
        let actions = vec![Action::Metadata(metadata), Action::Protocol(protocol)];
        schema::commit_actions(self, location, &delta, actions, operation, actor).await
    }

    /// Drops a CHECK constraint; returns the new version and the dropped expression.
    pub async fn drop_constraint(&self, location: &Url, name: &str, actor: &Actor) -> EngineResult<(u64, String)> {
        let _guard = self.lock(location).await;
        let delta = self.open(location, TimeTravel::Latest).await?;
        let key = format!("{CONSTRAINT_PREFIX}{name}");
        let snapshot = delta.snapshot()?;
        let expr = snapshot
            .metadata()
            .configuration()
            .get(&key)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("constraint `{name}` not found")))?;
        let metadata = MetadataExt::remove_config_key(snapshot.metadata().clone(), &key)?;
        let operation = DeltaOperation::DropConstraint { name: name.to_owned() };
        let version = schema::commit_metadata(self, location, &delta, metadata, operation, actor).await?;
        Ok((version, expr))
    }
}
