//! Domains and CHECK constraints (the model and its checks are `crate::rules`).

use std::sync::Arc;

use deltalake::kernel::schema::MetadataValue;
use deltalake::kernel::{Action, MetadataExt};
use deltalake::protocol::DeltaOperation;
use deltalake::table::Constraint;
use lakeward_model::query::{CmpOp, Filter};
use url::Url;

use super::{Operation, Timeout};
use crate::commit::{self, Actor};
use crate::error::{EngineError, EngineResult, Input};
use crate::rules::check::{self, CONSTRAINT_PREFIX, ResolvedValues, ValueList, constraints_of};
use crate::rules::domain::{self, DOMAIN_KEY, Domain, DomainChange};
use crate::rules::{AllowedValues, DomainOutcome, Rules, constraint_name_ok, with_check_constraints};
use crate::state::EngineState;
use crate::table::{self, TimeTravel};
use crate::{read, schema};

/// A column's domain, at a version.
pub struct ColumnDomain {
    pub location: Url,
    pub column: String,
    pub at: TimeTravel,
}

impl Operation for ColumnDomain {
    type Output = Option<Domain>;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<Option<Domain>> {
        let state = &state;
        let Self { location, column, at } = &self;
        let column = column.as_str();
        let at = *at;
        let delta = state.open(location, at).await?;
        let schema = table::arrow_schema(&delta)?;
        let field = schema.field_with_name(column).map_err(|_| EngineError::no_column(column))?;
        domain::of_field(field)
    }
}

pub struct ChangeDomain {
    pub location: Url,
    pub column: String,
    pub change: DomainChange,
    pub force: bool,
    pub actor: Actor,
}

impl Operation for ChangeDomain {
    type Output = DomainOutcome;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<DomainOutcome> {
        commit::redo(&state, || self.attempt(&state)).await
    }
}

impl ChangeDomain {
    async fn attempt(&self, state: &Arc<EngineState>) -> EngineResult<DomainOutcome> {
        let Self { location, column, change, force, actor } = self;
        let column = column.as_str();
        let change = change.clone();
        let force = *force;
        let _guard = state.lock(location).await;
        let delta = state.open(location, TimeTravel::Latest).await?;
        let arrow_schema = table::arrow_schema(&delta)?;
        let field = arrow_schema.field_with_name(column).map_err(|_| EngineError::no_column(column))?;
        let current = domain::of_field(field)?;
        let setting_source = matches!(change, DomainChange::SetTable { .. } | DomainChange::SetReference { .. });
        let new = domain::apply(&arrow_schema, column, current.as_ref(), change)?;
        let violating_rows = match &new {
            None => 0,
            Some(d) => {
                let rules =
                    match Rules::only(state, location, &delta, vec![(column.to_owned(), d.clone())], vec![]).await {
                        // A lookup or reference naming a table or column that is not there.
                        Err(EngineError::Conflict(m)) if setting_source => {
                            return Err(EngineError::invalid("table_reference", m));
                        }
                        other => other?,
                    };
                rules.check_table(state, &delta).await?.total as u64
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
            .map_err(|e| EngineError::internal(e.to_string()))?;
        let version = schema::set_field_metadata(state, location, &delta, column, DOMAIN_KEY, value, actor).await?;
        Ok(DomainOutcome { previous: current, domain: new, version, violating_rows })
    }
}

pub struct ResolveAllowedValues {
    pub location: Url,
    pub column: String,
    pub parent_value: Option<String>,
}

impl Operation for ResolveAllowedValues {
    type Output = AllowedValues;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<AllowedValues> {
        let state = &state;
        let Self { location, column, parent_value } = &self;
        let column = column.as_str();
        let parent_value = parent_value.as_deref();
        let delta = state.open(location, TimeTravel::Latest).await?;
        let arrow_schema = table::arrow_schema(&delta)?;
        let field = arrow_schema.field_with_name(column).map_err(|_| EngineError::no_column(column))?;
        let Some(d) = domain::of_field(field)? else {
            return Err(EngineError::invalid(Input::Column, format!("column `{column}` has no domain")));
        };
        let resolved = check::allowed_values(state, location, &delta, column, &d).await?;
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
}

/// How many rows hold `value` in `column`.
pub struct ValueUsage {
    pub location: Url,
    pub column: String,
    pub value: String,
}

impl Operation for ValueUsage {
    type Output = u64;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<u64> {
        let state = &state;
        let Self { location, column, value } = &self;
        let column = column.as_str();
        let value = value.as_str();
        let delta = state.open(location, TimeTravel::Latest).await?;
        let arrow_schema = table::arrow_schema(&delta)?;
        let field = arrow_schema
            .field_with_name(column)
            .map_err(|_| EngineError::invalid(Input::Column, format!("unknown column `{column}`")))?;
        let value = domain::canonical(field, value).map_err(|m| EngineError::invalid("value", m))?;
        let filter = Filter::Cmp { column: column.to_owned(), op: CmpOp::Eq, value };
        let ctx = state.session();
        read::register(&ctx, &delta).await?;
        let predicate = read::filter_expr(&filter, &arrow_schema)?;
        Ok(ctx.table(read::SELF).await?.filter(predicate)?.count().await? as u64)
    }
}

/// Adds CHECK constraints as Delta constraints, in one commit, after proving that no
/// existing row violates them.
pub struct AddConstraints {
    pub location: Url,
    pub constraints: Vec<(String, String)>,
    pub actor: Actor,
}

impl Operation for AddConstraints {
    type Output = u64;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<u64> {
        commit::redo(&state, || self.attempt(&state)).await
    }
}

impl AddConstraints {
    async fn attempt(&self, state: &Arc<EngineState>) -> EngineResult<u64> {
        let Self { location, constraints, actor } = self;
        let constraints = constraints.as_slice();
        if constraints.is_empty() {
            return Err(EngineError::invalid("constraints", "give at least one constraint"));
        }
        let _guard = state.lock(location).await;
        let delta = state.open(location, TimeTravel::Latest).await?;
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
        let rules = Rules::only(state, location, &delta, vec![], constraints.to_vec()).await.map_err(|e| match e {
            EngineError::Invalid { input: Input::Parameter(field), message } => {
                let name = field.trim_start_matches("constraints.");
                let i = constraints.iter().position(|(n, _)| n == name).unwrap_or(0);
                EngineError::invalid(format!("constraints[{i}].expr"), message)
            }
            other => other,
        })?;
        let violations = rules.check_table(state, &delta).await?;
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
        schema::commit_actions(state, location, &delta, actions, operation, actor).await
    }
}

/// Drops a CHECK constraint; returns the new version and the dropped expression.
pub struct DropConstraint {
    pub location: Url,
    pub name: String,
    pub actor: Actor,
}

impl Operation for DropConstraint {
    type Output = (u64, String);
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<(u64, String)> {
        commit::redo(&state, || self.attempt(&state)).await
    }
}

impl DropConstraint {
    async fn attempt(&self, state: &Arc<EngineState>) -> EngineResult<(u64, String)> {
        let Self { location, name, actor } = self;
        let name = name.as_str();
        let _guard = state.lock(location).await;
        let delta = state.open(location, TimeTravel::Latest).await?;
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
        let version = schema::commit_metadata(state, location, &delta, metadata, operation, actor).await?;
        Ok((version, expr))
    }
}
