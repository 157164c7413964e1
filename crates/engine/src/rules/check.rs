//! A table's rules compiled for checking a write: NOT NULL, JSON validity, column
//! domains (with lookups resolved once per write) and CHECK constraints (parsed once into
//! physical expressions). Every fault is named by row, column and value; the first
//! [`MAX_REPORTED_ERRORS`](crate::MAX_REPORTED_ERRORS) are kept and all are counted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, ExprSchemable, cast};
use datafusion::physical_expr::PhysicalExpr;
use deltalake::DeltaTable;
use futures::StreamExt;
use url::Url;

use super::domain::{self, Domain, Lookup};
use crate::Warehouse;
use crate::error::{EngineError, EngineResult};
use crate::read::{self, column};
use crate::row_errors::RowErrors;
use crate::state::EngineState;
use crate::table::{self, TimeTravel};
use crate::types::ColumnType;

/// The prefix of Delta's CHECK constraint properties.
pub const CONSTRAINT_PREFIX: &str = "delta.constraints.";

pub(crate) struct Rules {
    schema: SchemaRef,
    /// NOT NULL and JSON validity (off when counting violations of one new rule).
    types: bool,
    domains: Vec<DomainCheck>,
    constraints: Vec<ConstraintCheck>,
}

struct DomainCheck {
    column: String,
    kind: Allowed,
}

enum Allowed {
    Values(HashSet<String>),
    /// Allowed child values per parent value. `open`: a parent value with no entry
    /// allows any child (derived domains: a new parent value starts a new branch).
    Pairs {
        parent: String,
        children: HashMap<String, HashSet<String>>,
        open: bool,
    },
}

struct ConstraintCheck {
    name: String,
    sql: String,
    expr: Arc<dyn PhysicalExpr>,
    columns: Vec<String>,
}

/// The table's CHECK constraints: (name, SQL expression), sorted by name.
pub fn constraints_of(delta: &DeltaTable) -> EngineResult<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = delta
        .snapshot()?
        .metadata()
        .configuration()
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(CONSTRAINT_PREFIX).map(|n| (n.to_owned(), v.clone())))
        .collect();
    out.sort();
    Ok(out)
}

/// The text of every value of `array` (null stays null), as domains compare them.
fn texts(array: &ArrayRef) -> EngineResult<StringArray> {
    if array.data_type() == &DataType::Utf8 {
        return Ok(array.as_string::<i32>().clone());
    }
    Ok(arrow::compute::cast(array, &DataType::Utf8)?.as_string::<i32>().clone())
}

impl Rules {
    /// Every rule of the table at its loaded state.
    pub async fn compile(engine: &EngineState, location: &Url, delta: &DeltaTable) -> EngineResult<Rules> {
        let schema = table::arrow_schema(delta)?;
        let mut domains = Vec::new();
        for field in schema.fields() {
            if let Some(d) = domain::of_field(field)? {
                domains.push((field.name().clone(), d));
            }
        }
        Self::build(engine, location, delta, schema, true, domains, constraints_of(delta)?).await
    }

    /// Only the rules given (for counting what a new domain or constraint would refuse).
    pub async fn only(
        engine: &EngineState,
        location: &Url,
        delta: &DeltaTable,
        domains: Vec<(String, Domain)>,
        constraints: Vec<(String, String)>,
    ) -> EngineResult<Rules> {
        Self::build(engine, location, delta, table::arrow_schema(delta)?, false, domains, constraints).await
    }

    async fn build(
        engine: &EngineState,
        location: &Url,
        delta: &DeltaTable,
        schema: SchemaRef,
        types: bool,
        domains: Vec<(String, Domain)>,
        constraints: Vec<(String, String)>,
    ) -> EngineResult<Rules> {
        let mut checks = Vec::with_capacity(domains.len());
        for (column, d) in domains {
            let kind = allowed(engine, location, delta, &column, &d).await?;
            checks.push(DomainCheck { column, kind });
        }
        let mut compiled = Vec::with_capacity(constraints.len());
        if !constraints.is_empty() {
            let ctx = engine.session();
            let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
            for (name, sql) in constraints {
                let expr = ctx
                    .parse_sql_expr(&sql, &df_schema)
                    .map_err(|e| EngineError::invalid(format!("constraints.{name}"), crate::sql::parse_message(&e)))?;
                // A row passes only when the expression is true, so it must be a condition.
                match expr.get_type(&df_schema) {
                    Ok(DataType::Boolean) => {}
                    Ok(other) => {
                        let field = arrow::datatypes::Field::new("", other.clone(), true);
                        let shown = ColumnType::of_field(&field).map(|t| t.to_string()).unwrap_or(other.to_string());
                        return Err(EngineError::invalid(
                            format!("constraints.{name}"),
                            format!("must be a condition (true or false), not a value of type {shown}"),
                        ));
                    }
                    Err(e) => {
                        return Err(EngineError::invalid(
                            format!("constraints.{name}"),
                            format!("cannot be evaluated: {}", e.message()),
                        ));
                    }
                }
                // In the table's order, so that a fault reads the same every time.
                let mut columns: Vec<String> = expr.column_refs().into_iter().map(|c| c.name.clone()).collect();
                columns.sort_by_key(|c| schema.index_of(c).unwrap_or(usize::MAX));
                let physical = ctx.create_physical_expr(expr, &df_schema).map_err(|e| {
                    EngineError::invalid(format!("constraints.{name}"), format!("cannot be evaluated: {e}"))
                })?;
                compiled.push(ConstraintCheck { name, sql, expr: physical, columns });
            }
        }
        Ok(Rules { schema, types, domains: checks, constraints: compiled })
    }

    /// Each CHECK constraint's name and the columns it reads.
    pub fn constraint_columns(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.constraints.iter().map(|c| (c.name.as_str(), c.columns.as_slice()))
    }

    /// Whether anything beyond the column types is checked.
    pub fn has_value_rules(&self) -> bool {
        !self.domains.is_empty() || !self.constraints.is_empty()
    }

    /// Checks one batch of the table's columns; `offset` is the index of its first row in
    /// the whole input.
    pub fn check(&self, batch: &RecordBatch, offset: usize, errors: &mut RowErrors) -> EngineResult<()> {
        if self.types {
            check_types(batch, &self.schema, offset, errors);
        }
        let column = |name: &str| -> EngineResult<&ArrayRef> {
            batch.column_by_name(name).ok_or_else(|| EngineError::internal(format!("column `{name}` is missing")))
        };
        for d in &self.domains {
            let values = texts(column(&d.column)?)?;
            match &d.kind {
                Allowed::Values(allowed) => {
                    for (row, v) in values.iter().enumerate() {
                        if let Some(v) = v
                            && !allowed.contains(v)
                        {
                            errors.push(
                                offset + row,
                                Some(&d.column),
                                format!("`{v}` is not an allowed value of `{}`", d.column),
                            );
                        }
                    }
                }
                Allowed::Pairs { parent, children, open } => {
                    let parents = texts(column(parent)?)?;
                    for (row, v) in values.iter().enumerate() {
                        let Some(v) = v else { continue };
                        let message = match parents.is_valid(row).then(|| parents.value(row)) {
                            None => format!("`{v}` needs a value of its parent column `{parent}`"),
                            Some(p) => match children.get(p) {
                                Some(allowed) if allowed.contains(v) => continue,
                                None if *open => continue,
                                _ => {
                                    format!("`{v}` is not an allowed value of `{}` when `{parent}` is `{p}`", d.column)
                                }
                            },
                        };
                        errors.push(offset + row, Some(&d.column), message);
                    }
                }
            }
        }
        for c in &self.constraints {
            let result = c.expr.evaluate(batch)?.into_array(batch.num_rows())?;
            let passed: &BooleanArray = result.as_boolean();
            for row in 0..batch.num_rows() {
                // As Delta writers judge it: a row passes only when the result is TRUE
                // (NULL fails too; `x IS NULL OR ...` lets nulls through).
                if !(passed.is_valid(row) && passed.value(row)) {
                    let shown = c
                        .columns
                        .iter()
                        .filter_map(|name| {
                            let array = batch.column_by_name(name)?;
                            let v = arrow::util::display::array_value_to_string(array, row).ok()?;
                            Some(format!("{name} = {}", if array.is_null(row) { "null".into() } else { v }))
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    errors.push(
                        offset + row,
                        None,
                        format!("violates CHECK constraint `{}` ({}): {shown}", c.name, c.sql),
                    );
                }
            }
        }
        Ok(())
    }

    /// Checks every row of the table as it is (streamed, not collected).
    pub async fn check_table(&self, engine: &EngineState, delta: &DeltaTable) -> EngineResult<RowErrors> {
        let ctx = engine.session();
        read::register(&ctx, delta).await?;
        // In the schema's order (partition columns come last in a scan) and types: a scan
        // reads strings as views, which the compiled constraints do not compare with text.
        let columns: Vec<Expr> = self
            .schema
            .fields()
            .iter()
            .map(|f| cast(column(f.name()), f.data_type().clone()).alias(f.name()))
            .collect();
        let mut stream = ctx.table(read::SELF).await?.select(columns)?.execute_stream().await?;
        let mut errors = RowErrors::default();
        let mut offset = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            self.check(&batch, offset, &mut errors)?;
            offset += batch.num_rows();
        }
        Ok(errors)
    }
}

/// NOT NULL and JSON-column validity.
fn check_types(batch: &RecordBatch, schema: &SchemaRef, offset: usize, errors: &mut RowErrors) {
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !field.is_nullable() && column.null_count() > 0 {
            for row in (0..column.len()).filter(|r| column.is_null(*r)) {
                errors.push(offset + row, Some(field.name()), "must not be null");
            }
        }
        if ColumnType::of_field(field) == Some(ColumnType::Json)
            && let Some(strings) = column.as_any().downcast_ref::<StringArray>()
        {
            for (row, text) in strings.iter().enumerate() {
                if let Some(text) = text
                    && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err()
                {
                    errors.push(offset + row, Some(field.name()), "not a valid JSON document");
                }
            }
        }
    }
}

/// A table this one's domain refers to (same organisation: a sibling in the warehouse).
pub(crate) async fn referenced_table(
    engine: &EngineState,
    location: &Url,
    table: &lakeward_model::TableRef,
) -> EngineResult<DeltaTable> {
    let sibling = Warehouse::sibling(location, table);
    match engine.open(&sibling, TimeTravel::Latest).await {
        Err(EngineError::Storage(_)) if table::surely_absent(&engine.stores, &sibling).await => {
            Err(EngineError::Conflict(format!("the table `{table}` a domain refers to does not exist")))
        }
        other => other,
    }
}

fn source_field(
    delta: &DeltaTable,
    table: &lakeward_model::TableRef,
    name: &str,
) -> EngineResult<arrow::datatypes::Field> {
    let schema = table::arrow_schema(delta)?;
    schema
        .field_with_name(name)
        .cloned()
        .map_err(|_| EngineError::Conflict(format!("the table `{table}` has no column `{name}`")))
}

/// Distinct texts of `columns` of a table, as rows.
async fn distinct_texts(
    engine: &EngineState,
    delta: &DeltaTable,
    columns: &[&str],
) -> EngineResult<Vec<Vec<Option<String>>>> {
    let ctx = engine.session();
    read::register(&ctx, delta).await?;
    let exprs: Vec<Expr> = columns.iter().map(|c| cast(column(c), DataType::Utf8).alias(*c)).collect();
    let batches = ctx.table(read::SELF).await?.select(exprs)?.distinct()?.collect().await?;
    let mut rows = Vec::new();
    for batch in batches {
        let cols: Vec<&StringArray> = batch.columns().iter().map(|c| c.as_string::<i32>()).collect();
        for row in 0..batch.num_rows() {
            rows.push(cols.iter().map(|c| c.is_valid(row).then(|| c.value(row).to_owned())).collect());
        }
    }
    Ok(rows)
}

fn pairs(rows: Vec<Vec<Option<String>>>) -> HashMap<String, HashSet<String>> {
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for row in rows {
        if let [Some(p), Some(c)] = row.as_slice() {
            out.entry(p.clone()).or_default().insert(c.clone());
        }
    }
    out
}

/// The values a domain allows, with lookups resolved now.
pub(crate) async fn allowed_values(
    engine: &EngineState,
    location: &Url,
    delta: &DeltaTable,
    column: &str,
    d: &Domain,
) -> EngineResult<ResolvedValues> {
    Ok(match d {
        Domain::Fixed { allowed_values } => ResolvedValues::Flat(with_ids(allowed_values)),
        Domain::Reference { reference_source: source } => {
            let other = referenced_table(engine, location, &source.table_reference).await?;
            let f = source_field(&other, &source.table_reference, &source.column)?;
            match domain::of_field(&f)? {
                Some(Domain::Fixed { allowed_values }) => ResolvedValues::Flat(with_ids(&allowed_values)),
                _ => {
                    let mut values: Vec<(Option<uuid::Uuid>, String)> =
                        distinct_texts(engine, &other, &[&source.column])
                            .await?
                            .into_iter()
                            .filter_map(|r| r.into_iter().next().flatten().map(|v| (None, v)))
                            .collect();
                    values.sort_by(|a, b| a.1.cmp(&b.1));
                    ResolvedValues::Flat(values)
                }
            }
        }
        Domain::Hierarchical { parent_column, lookup } => match lookup {
            Lookup::Inline { parents } => {
                ResolvedValues::Tree(parents.iter().map(|p| (p.value.clone(), with_ids(&p.children))).collect(), false)
            }
            Lookup::Derived => {
                let rows = distinct_texts(engine, delta, &[parent_column, column]).await?;
                ResolvedValues::Tree(tree(pairs(rows)), true)
            }
            Lookup::Table { table_reference, parent_key, child_key } => {
                let other = referenced_table(engine, location, table_reference).await?;
                source_field(&other, table_reference, parent_key)?;
                source_field(&other, table_reference, child_key)?;
                let rows = distinct_texts(engine, &other, &[parent_key, child_key]).await?;
                ResolvedValues::Tree(tree(pairs(rows)), false)
            }
        },
    })
}

fn with_ids(values: &[super::domain::DomainValue]) -> ValueList {
    values.iter().map(|v| (Some(v.id), v.value.clone())).collect()
}

fn tree(pairs: HashMap<String, HashSet<String>>) -> Vec<(String, ValueList)> {
    let mut out: Vec<(String, ValueList)> = pairs
        .into_iter()
        .map(|(p, children)| {
            let mut children: Vec<_> = children.into_iter().map(|c| (None, c)).collect();
            children.sort_by(|a, b| a.1.cmp(&b.1));
            (p, children)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Allowed values as `(id, value)`; ids are absent for values that come from data
/// rather than from a domain definition.
pub type ValueList = Vec<(Option<uuid::Uuid>, String)>;

/// A domain's allowed values, resolved.
#[derive(Debug, Clone)]
pub enum ResolvedValues {
    Flat(ValueList),
    /// Children per parent value; `true` when a parent value with no entry is open.
    Tree(Vec<(String, ValueList)>, bool),
}

async fn allowed(
    engine: &EngineState,
    location: &Url,
    delta: &DeltaTable,
    column: &str,
    d: &Domain,
) -> EngineResult<Allowed> {
    Ok(match allowed_values(engine, location, delta, column, d).await? {
        ResolvedValues::Flat(values) => Allowed::Values(values.into_iter().map(|(_, v)| v).collect()),
        ResolvedValues::Tree(parents, open) => {
            let Domain::Hierarchical { parent_column, .. } = d else { unreachable!("trees come from hierarchies") };
            Allowed::Pairs {
                parent: parent_column.clone(),
                children: parents.into_iter().map(|(p, cs)| (p, cs.into_iter().map(|(_, c)| c).collect())).collect(),
                open,
            }
        }
    })
}
