//! Changes to a table's definition that need no data rewrite (column metadata, domains,
//! nullability, description, properties): each is one Delta commit of a new `metaData`
//! action, named by its actor like every other commit.

use deltalake::DeltaTable;
use deltalake::kernel::schema::{MetadataValue, StructField, StructType};
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Metadata, MetadataExt as _};
use deltalake::protocol::DeltaOperation;
use url::Url;

use crate::commit::{Actor, Commit};
use crate::error::{EngineError, EngineResult};
use crate::state::EngineState;

/// Commits `metadata` (and nothing else) on top of `delta`; returns the new version.
pub(crate) async fn commit_metadata(
    engine: &EngineState,
    location: &Url,
    delta: &DeltaTable,
    metadata: Metadata,
    operation: DeltaOperation,
    actor: &Actor,
) -> EngineResult<u64> {
    commit_actions(engine, location, delta, vec![Action::Metadata(metadata)], operation, actor).await
}

/// Commits `actions` that change no data (metadata, protocol) on top of `delta`; returns
/// the new version.
pub(crate) async fn commit_actions(
    engine: &EngineState,
    location: &Url,
    delta: &DeltaTable,
    actions: Vec<Action>,
    operation: DeltaOperation,
    actor: &Actor,
) -> EngineResult<u64> {
    let commit = Commit::prepare(engine, location, delta);
    let committed = CommitBuilder::from(commit.properties(actor, None))
        .with_actions(actions)
        .build(Some(delta.snapshot()?), delta.log_store(), operation)
        .await;
    commit.landed_actions(committed.map(|c| c.version())).await
}

/// The table's kernel schema with `column` replaced by what `edit` makes of it.
pub(crate) fn edit_field(
    schema: &StructType,
    column: &str,
    edit: impl FnOnce(StructField) -> EngineResult<StructField>,
) -> EngineResult<StructType> {
    let field = schema.field(column).ok_or_else(|| EngineError::no_column(column))?.clone();
    let edited = edit(field)?;
    StructType::try_new(schema.fields().map(|f| if f.name() == column { edited.clone() } else { f.clone() }))
        .map_err(|e| EngineError::internal(e.to_string()))
}

/// Whether the table uses column mapping (`delta.columnMapping.mode` `name` or `id`, as Spark
/// and Databricks write it): data files then name columns by physical names kept in each
/// field's metadata, so renames and drops change metadata only, a new column needs an id
/// and a physical name, and a change that rewrites the data is not made.
pub(crate) fn column_mapped(metadata: &Metadata) -> bool {
    metadata.configuration().get(MAPPING_MODE).is_some_and(|mode| mode != "none")
}

const MAPPING_MODE: &str = "delta.columnMapping.mode";
const MAPPING_MAX_ID: &str = "delta.columnMapping.maxColumnId";
const MAPPING_ID: &str = "delta.columnMapping.id";
const MAPPING_PHYSICAL_NAME: &str = "delta.columnMapping.physicalName";

/// `field` as a new column of a column-mapped table: the next column id (above the table's
/// `maxColumnId` and every id in use, as Delta asks) and a fresh physical name; `metadata`
/// with the raised `maxColumnId`.
pub(crate) fn mapped_column(
    metadata: Metadata,
    schema: &StructType,
    mut field: StructField,
) -> EngineResult<(Metadata, StructField)> {
    let recorded = metadata.configuration().get(MAPPING_MAX_ID).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let in_use = schema
        .fields()
        .filter_map(|f| match f.metadata.get(MAPPING_ID) {
            Some(MetadataValue::Number(id)) => Some(*id),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let id = recorded.max(in_use) + 1;
    field.metadata.insert(MAPPING_ID.to_owned(), MetadataValue::Number(id));
    field
        .metadata
        .insert(MAPPING_PHYSICAL_NAME.to_owned(), MetadataValue::String(format!("col-{}", uuid::Uuid::new_v4())));
    Ok((metadata.add_config_key(MAPPING_MAX_ID.to_owned(), id.to_string())?, field))
}

/// Sets (or with `None`, removes) one metadata key of a column, as one commit.
pub(crate) async fn set_field_metadata(
    engine: &EngineState,
    location: &Url,
    delta: &DeltaTable,
    column: &str,
    key: &str,
    value: Option<MetadataValue>,
    actor: &Actor,
) -> EngineResult<u64> {
    let snapshot = delta.snapshot()?;
    let schema = edit_field(snapshot.schema().as_ref(), column, |mut f| {
        match value {
            Some(v) => {
                f.metadata.insert(key.to_owned(), v);
            }
            None => {
                f.metadata.remove(key);
            }
        }
        Ok(f)
    })?;
    let metadata = snapshot.metadata().clone().with_schema(&schema)?;
    let operation = DeltaOperation::UpdateFieldMetadata { fields: schema.fields().cloned().collect() };
    commit_metadata(engine, location, delta, metadata, operation, actor).await
}

/// A change to one column that needs no data rewrite.
#[derive(Debug, Clone, Default)]
pub struct ColumnChange {
    /// `Some(false)` makes the column NOT NULL (refused while rows hold nulls).
    pub nullable: Option<bool>,
    /// `Some(None)` removes the comment.
    pub comment: Option<Option<String>>,
}

/// Changes to the table as a whole.
#[derive(Debug, Clone, Default)]
pub struct TableChange {
    pub description: Option<String>,
    /// Property -> value; `None` removes the property.
    pub properties: std::collections::BTreeMap<String, Option<String>>,
}

/// Delta properties a user may set; everything else under `delta.` is Delta's own (and
/// `delta.constraints.*` are changed through the constraint endpoints).
pub(crate) const SETTABLE_DELTA_PROPERTIES: &[&str] = &[
    "delta.checkpointInterval",
    "delta.targetFileSize",
    "delta.logRetentionDuration",
    "delta.deletedFileRetentionDuration",
];

/// Metadata keys Lakeward or Delta manage themselves.
pub(crate) fn reserved_key(key: &str) -> bool {
    key.starts_with("delta.") || key.starts_with("lakeward.")
}

/// A change to one column that rewrites the table's data (Delta keeps columns by name in
/// the data files, so renaming, dropping or widening a column means new files). The
/// rewrite is one commit; earlier versions keep their files for time travel.
#[derive(Debug, Clone)]
pub enum ColumnRewrite {
    Rename(lakeward_model::Ident),
    Drop,
    Widen(crate::ColumnType),
}

/// Widenings that lose nothing: every old value has exactly one new value.
pub(crate) fn widens(from: crate::ColumnType, to: crate::ColumnType) -> bool {
    use crate::ColumnType as T;
    match (from, to) {
        (T::Int32, T::Int64 | T::Float64) | (T::Float32, T::Float64) | (T::Date, T::Timestamp) => true,
        (T::Int32, T::Decimal { precision, scale }) => precision - scale as u8 >= 10,
        (T::Int64, T::Decimal { precision, scale }) => precision - scale as u8 >= 19,
        (T::Decimal { precision: p, scale: s }, T::Decimal { precision: p2, scale: s2 }) => {
            s2 >= s && (p2 as i16 - s2 as i16) >= (p as i16 - s as i16) && (p2, s2) != (p, s)
        }
        _ => false,
    }
}
