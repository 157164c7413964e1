//! Definition changes: columns, field metadata, description and properties. Each is one
//! commit; those that need no data rewrite commit metadata only (see `crate::schema`).

use std::sync::Arc;

use deltalake::kernel::MetadataExt as _;
use deltalake::kernel::schema::{MetadataValue, StructField, StructType};
use deltalake::protocol::DeltaOperation;
use url::Url;

use super::{Operation, Timeout};
use crate::commit::{self, Actor, Commit};
use crate::error::{EngineError, EngineResult, Input};
use crate::schema::{
    ColumnChange, ColumnRewrite, SETTABLE_DELTA_PROPERTIES, TableChange, column_mapped, commit_metadata, edit_field,
    mapped_column, reserved_key, widens,
};
use crate::state::EngineState;

/// Adds a nullable column (existing rows read it as null).
pub struct AddColumn {
    pub location: Url,
    pub column: crate::ColumnSpec,
    pub actor: Actor,
}

impl Operation for AddColumn {
    type Output = u64;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<u64> {
        commit::redo(&state, || self.attempt(&state)).await
    }
}

impl AddColumn {
    async fn attempt(&self, state: &Arc<EngineState>) -> EngineResult<u64> {
        let Self { location, column, actor } = self;
        use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
        if !column.nullable {
            return Err(EngineError::invalid(
                "nullable",
                "a new column must be nullable (existing rows have no value); make it NOT NULL afterwards",
            ));
        }
        let _guard = state.lock(location).await;
        let delta = state.open(location, crate::TimeTravel::Latest).await?;
        let snapshot = delta.snapshot()?;
        let schema = snapshot.schema();
        if schema.fields().any(|f| f.name().eq_ignore_ascii_case(column.name.as_str())) {
            return Err(EngineError::Conflict(format!("the table already has a column `{}`", column.name)));
        }
        let spec = crate::TableSpec { columns: vec![column.clone()], ..Default::default() };
        let arrow = spec.arrow_schema();
        let field: StructField = arrow
            .field(0)
            .try_into_kernel()
            .map_err(|e: arrow::error::ArrowError| EngineError::internal(e.to_string()))?;
        let (metadata, field) = if column_mapped(snapshot.metadata()) {
            mapped_column(snapshot.metadata().clone(), schema.as_ref(), field)?
        } else {
            (snapshot.metadata().clone(), field)
        };
        let new_schema = StructType::try_new(schema.fields().cloned().chain([field.clone()]))
            .map_err(|e| EngineError::internal(e.to_string()))?;
        let metadata = metadata.with_schema(&new_schema)?;
        commit_metadata(state, location, &delta, metadata, DeltaOperation::AddColumn { fields: vec![field] }, actor)
            .await
    }
}

/// A rename or drop on a column-mapped table changes metadata only: the data files name
/// columns by their physical names, which stay. A widening would rewrite every file under
/// new physical names, which Lakeward does not do.
async fn rename_or_drop_mapped(
    state: &EngineState,
    location: &Url,
    delta: &deltalake::DeltaTable,
    column: &str,
    rewrite: &ColumnRewrite,
    actor: &Actor,
) -> EngineResult<u64> {
    let snapshot = delta.snapshot()?;
    let schema = snapshot.schema();
    let fields = match rewrite {
        ColumnRewrite::Widen(_) => {
            return Err(EngineError::Conflict(
                "the table uses column mapping (Delta feature columnMapping): widening a column would rewrite \
                 its data, which Lakeward does not do on such tables; add a new column instead"
                    .into(),
            ));
        }
        ColumnRewrite::Drop => schema.fields().filter(|f| f.name() != column).cloned().collect::<Vec<_>>(),
        ColumnRewrite::Rename(new) => {
            if schema.fields().any(|o| o.name().eq_ignore_ascii_case(new.as_str())) {
                return Err(EngineError::Conflict(format!("the table already has a column `{new}`")));
            }
            schema
                .fields()
                .map(|f| {
                    let mut f = f.clone();
                    if f.name == column {
                        f.name = new.as_str().to_owned();
                    }
                    f
                })
                .collect()
        }
    };
    let changed = schema.field(column).cloned().ok_or_else(|| EngineError::no_column(column))?;
    let new_schema = StructType::try_new(fields).map_err(|e| EngineError::internal(e.to_string()))?;
    let metadata = snapshot.metadata().clone().with_schema(&new_schema)?;
    // Delta has no operation name for either; the commit records the column it changed.
    commit_metadata(
        state,
        location,
        delta,
        metadata,
        DeltaOperation::UpdateFieldMetadata { fields: vec![changed] },
        actor,
    )
    .await
}

pub struct ChangeColumn {
    pub location: Url,
    pub column: String,
    pub change: ColumnChange,
    pub actor: Actor,
}

impl Operation for ChangeColumn {
    type Output = u64;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<u64> {
        commit::redo(&state, || self.attempt(&state)).await
    }
}

impl ChangeColumn {
    async fn attempt(&self, state: &Arc<EngineState>) -> EngineResult<u64> {
        let Self { location, column, change, actor } = self;
        let column = column.as_str();
        let _guard = state.lock(location).await;
        let delta = state.open(location, crate::TimeTravel::Latest).await?;
        let snapshot = delta.snapshot()?;
        if change.nullable == Some(true) && crate::table::primary_key(&delta)?.iter().any(|k| k == column) {
            return Err(EngineError::invalid("nullable", "a primary-key column cannot be nullable"));
        }
        if change.nullable == Some(false) {
            let ctx = state.session();
            crate::read::register(&ctx, &delta).await?;
            let field = snapshot.schema().field(column).ok_or_else(|| EngineError::no_column(column))?.name().clone();
            let nulls =
                ctx.table(crate::read::SELF).await?.filter(crate::read::column(&field).is_null())?.count().await?;
            if nulls > 0 {
                return Err(EngineError::Violated {
                    message: format!("{nulls} existing row(s) have no value in `{column}`"),
                    rows: nulls as u64,
                });
            }
        }
        let schema = edit_field(snapshot.schema().as_ref(), column, |mut f| {
            if let Some(nullable) = change.nullable {
                f.nullable = nullable;
            }
            match &change.comment {
                Some(Some(c)) => {
                    f.metadata.insert(crate::types::COMMENT_KEY.to_owned(), MetadataValue::String(c.clone()));
                }
                Some(None) => {
                    f.metadata.remove(crate::types::COMMENT_KEY);
                }
                None => {}
            }
            Ok(f)
        })?;
        let changed = schema.field(column).cloned().ok_or_else(|| EngineError::no_column(column))?;
        let metadata = snapshot.metadata().clone().with_schema(&schema)?;
        let operation = if change.nullable.is_some() {
            DeltaOperation::DropColumnNotNull { column: changed }
        } else {
            DeltaOperation::UpdateFieldMetadata { fields: vec![changed] }
        };
        commit_metadata(state, location, &delta, metadata, operation, actor).await
    }
}

/// Merges `entries` into a column's metadata; a `null` value removes its key.
pub struct MergeFieldMetadata {
    pub location: Url,
    pub column: String,
    pub entries: serde_json::Map<String, serde_json::Value>,
    pub actor: Actor,
}

impl Operation for MergeFieldMetadata {
    type Output = u64;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<u64> {
        commit::redo(&state, || self.attempt(&state)).await
    }
}

impl MergeFieldMetadata {
    async fn attempt(&self, state: &Arc<EngineState>) -> EngineResult<u64> {
        let Self { location, column, entries, actor } = self;
        let column = column.as_str();
        if entries.is_empty() {
            return Err(EngineError::invalid("metadata", "give at least one key"));
        }
        if let Some(key) = entries.keys().find(|k| reserved_key(k) || k.is_empty()) {
            return Err(EngineError::invalid(
                format!("metadata.{key}"),
                "keys starting with `delta.` or `lakeward.` are managed by Delta and Lakeward (use the domain endpoints for domains)",
            ));
        }
        let _guard = state.lock(location).await;
        let delta = state.open(location, crate::TimeTravel::Latest).await?;
        let snapshot = delta.snapshot()?;
        let schema = edit_field(snapshot.schema().as_ref(), column, |mut f| {
            for (key, value) in entries {
                match value {
                    serde_json::Value::Null => f.metadata.remove(key),
                    serde_json::Value::String(s) => f.metadata.insert(key.clone(), MetadataValue::String(s.clone())),
                    other => f.metadata.insert(key.clone(), MetadataValue::Other(other.clone())),
                };
            }
            Ok(f)
        })
        .map_err(|e| match e {
            EngineError::NotFound(_) => EngineError::invalid(Input::Column, format!("unknown column `{column}`")),
            e => e,
        })?;
        let changed = schema.field(column).cloned().ok_or_else(|| EngineError::no_column(column))?;
        let metadata = snapshot.metadata().clone().with_schema(&schema)?;
        commit_metadata(
            state,
            location,
            &delta,
            metadata,
            DeltaOperation::UpdateFieldMetadata { fields: vec![changed] },
            actor,
        )
        .await
    }
}

/// Sets the description and properties, in one commit.
pub struct ChangeTable {
    pub location: Url,
    pub change: TableChange,
    pub actor: Actor,
}

impl Operation for ChangeTable {
    type Output = u64;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<u64> {
        commit::redo(&state, || self.attempt(&state)).await
    }
}

impl ChangeTable {
    async fn attempt(&self, state: &Arc<EngineState>) -> EngineResult<u64> {
        let Self { location, change, actor } = self;
        if change.description.is_none() && change.properties.is_empty() {
            return Err(EngineError::invalid(Input::Request, "nothing to change: give a description or properties"));
        }
        if change.description.as_ref().is_some_and(|d| d.chars().count() > 4000) {
            return Err(EngineError::invalid("description", "must be at most 4000 characters"));
        }
        for key in change.properties.keys() {
            if key.is_empty() || (reserved_key(key) && !SETTABLE_DELTA_PROPERTIES.contains(&key.as_str())) {
                return Err(EngineError::invalid(
                    format!("properties.{key}"),
                    format!(
                        "this property is managed by Delta or Lakeward; settable Delta properties: {}",
                        SETTABLE_DELTA_PROPERTIES.join(", ")
                    ),
                ));
            }
        }
        let _guard = state.lock(location).await;
        let delta = state.open(location, crate::TimeTravel::Latest).await?;
        let mut metadata = delta.snapshot()?.metadata().clone();
        if let Some(d) = &change.description {
            metadata = metadata.with_description(d.clone())?;
        }
        let mut set = std::collections::HashMap::new();
        for (key, value) in &change.properties {
            metadata = match value {
                Some(v) => {
                    set.insert(key.clone(), v.clone());
                    metadata.add_config_key(key.clone(), v.clone())?
                }
                None => metadata.remove_config_key(key)?,
            };
        }
        let operation = match &change.description {
            Some(d) => DeltaOperation::UpdateTableMetadata {
                metadata_update: deltalake::operations::update_table_metadata::TableMetadataUpdate {
                    name: None,
                    description: Some(d.clone()),
                },
            },
            None => DeltaOperation::SetTableProperties { properties: set },
        };
        commit_metadata(state, location, &delta, metadata, operation, actor).await
    }
}

pub struct RewriteColumn {
    pub location: Url,
    pub column: String,
    pub rewrite: ColumnRewrite,
    pub actor: Actor,
}

impl Operation for RewriteColumn {
    type Output = u64;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<u64> {
        commit::redo(&state, || self.attempt(&state)).await
    }
}

impl RewriteColumn {
    async fn attempt(&self, state: &Arc<EngineState>) -> EngineResult<u64> {
        let Self { location, column, rewrite, actor } = self;
        let column = column.as_str();
        use arrow::datatypes::{Field, Schema};
        use datafusion::logical_expr::{Expr, cast};

        let _guard = state.lock(location).await;
        let delta = state.open(location, crate::TimeTravel::Latest).await?;
        let schema = crate::table::arrow_schema(&delta)?;
        schema.field_with_name(column).map_err(|_| EngineError::no_column(column))?;
        let metadata = delta.snapshot()?.metadata().clone();
        let keys = crate::table::primary_key(&delta)?;
        let partitions = metadata.partition_columns().to_vec();
        let in_use = |what: &str| EngineError::invalid(Input::Column, format!("column `{column}` is {what}"));
        if partitions.iter().any(|p| p == column) {
            return Err(in_use("a partition column"));
        }
        if !matches!(rewrite, ColumnRewrite::Widen(_)) {
            if keys.iter().any(|k| k == column) {
                return Err(in_use("part of the primary key"));
            }
            let rules = crate::rules::Rules::compile(state, location, &delta).await?;
            if let Some((name, _)) = rules.constraint_columns().find(|(_, cols)| cols.iter().any(|c| c == column)) {
                return Err(in_use(&format!("used by CHECK constraint `{name}`; drop it first")));
            }
            for f in schema.fields() {
                if let Some(crate::rules::Domain::Hierarchical { parent_column, .. }) =
                    crate::rules::domain::of_field(f)?
                    && parent_column == column
                {
                    return Err(in_use(&format!(
                        "the parent in the domain of `{}`; change that domain first",
                        f.name()
                    )));
                }
            }
        }
        if schema.fields().len() == 1 && matches!(rewrite, ColumnRewrite::Drop) {
            return Err(in_use("the table's only column"));
        }
        if column_mapped(&metadata) {
            return rename_or_drop_mapped(state, location, &delta, column, rewrite, actor).await;
        }
        let mut fields: Vec<Field> = Vec::with_capacity(schema.fields().len());
        let mut exprs: Vec<Expr> = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            if f.name() != column {
                fields.push(f.as_ref().clone());
                exprs.push(crate::read::column(f.name()));
                continue;
            }
            match rewrite {
                ColumnRewrite::Drop => {}
                ColumnRewrite::Rename(new) => {
                    if schema.fields().iter().any(|o| o.name().eq_ignore_ascii_case(new.as_str())) {
                        return Err(EngineError::Conflict(format!("the table already has a column `{new}`")));
                    }
                    fields.push(f.as_ref().clone().with_name(new.as_str()));
                    exprs.push(crate::read::column(f.name()).alias(new.as_str()));
                }
                ColumnRewrite::Widen(to) => {
                    let from = crate::ColumnType::of_field(f).ok_or_else(|| EngineError::internal("untyped column"))?;
                    if !widens(from, *to) {
                        return Err(EngineError::invalid(
                            "type",
                            format!("`{column}` cannot widen from {from} to {to}"),
                        ));
                    }
                    if crate::rules::domain::of_field(f)?.is_some() {
                        return Err(in_use(
                            "governed by a domain whose values are written for its type; remove it first",
                        ));
                    }
                    let mut meta = f.metadata().clone();
                    meta.extend(to.metadata());
                    fields.push(Field::new(f.name(), to.arrow(), f.is_nullable()).with_metadata(meta));
                    exprs.push(cast(crate::read::column(f.name()), to.arrow()).alias(f.name()));
                }
            }
        }
        let new_schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        let ctx = state.session();
        crate::read::register(&ctx, &delta).await?;
        let plan = ctx.table(crate::read::SELF).await?.select(exprs)?.create_physical_plan().await?;
        let rows = datafusion::physical_plan::execute_stream(plan, ctx.task_ctx())?;
        let out_schema = new_schema.clone();
        let stream = futures::StreamExt::map(rows, move |b| {
            let b = b?;
            // Scans may answer strings as views; the table stores plain strings.
            let columns = b
                .columns()
                .iter()
                .zip(out_schema.fields())
                .map(|(c, f)| {
                    if c.data_type() == f.data_type() { Ok(c.clone()) } else { arrow::compute::cast(c, f.data_type()) }
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(arrow::record_batch::RecordBatch::try_new(out_schema.clone(), columns)?)
        });
        let stream = datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(new_schema.clone(), stream);
        let input = crate::import::OnceStream::plan(new_schema, Box::pin(stream))?;
        let commit = Commit::prepare(state, location, &delta);
        let written = delta
            .clone()
            .write(Vec::new())
            .with_input_plan(input)
            .with_save_mode(deltalake::protocol::SaveMode::Overwrite)
            .with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite)
            .with_partition_columns(partitions)
            .with_writer_properties(crate::write::writer_properties())
            .with_session_state(state.write_session())
            .with_commit_properties(commit.properties(actor, None))
            .await;
        Ok(commit.landed_table(written).await?.version)
    }
}
