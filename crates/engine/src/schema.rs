//! Changes to a table's definition that need no data rewrite (column metadata, domains,
//! nullability, description, properties): each is one Delta commit of a new `metaData`
//! action, named by its actor like every other commit.

use deltalake::DeltaTable;
use deltalake::kernel::schema::{MetadataValue, StructField, StructType};
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Metadata, MetadataExt as _};
use deltalake::protocol::DeltaOperation;
use url::Url;

use crate::Inner as Engine;
use crate::commit::Actor;
use crate::error::{EngineError, EngineResult};
use crate::write::{landed_despite, new_commit_id};

/// Commits `metadata` (and nothing else) on top of `delta`; returns the new version.
pub(crate) async fn commit_metadata(
    engine: &Engine,
    location: &Url,
    delta: &DeltaTable,
    metadata: Metadata,
    operation: DeltaOperation,
    actor: &Actor,
) -> EngineResult<u64> {
    let commit_id = new_commit_id();
    let read_version = delta.version().unwrap_or(0);
    let committed = CommitBuilder::from(actor.commit_properties(&commit_id, None))
        .with_actions(vec![Action::Metadata(metadata)])
        .build(Some(delta.snapshot()?), delta.log_store(), operation)
        .await;
    match committed {
        Ok(commit) => {
            // Brings the cached latest state up to the new version.
            engine.open(location, crate::TimeTravel::Latest).await?;
            Ok(commit.version())
        }
        Err(e) => landed_despite(engine, location, read_version, &commit_id, e).await,
    }
}

/// The table's kernel schema with `column` replaced by what `edit` makes of it.
pub(crate) fn edit_field(
    schema: &StructType,
    column: &str,
    edit: impl FnOnce(StructField) -> EngineResult<StructField>,
) -> EngineResult<StructType> {
    let field = schema.field(column).ok_or(EngineError::NotFound)?.clone();
    let edited = edit(field)?;
    StructType::try_new(schema.fields().map(|f| if f.name() == column { edited.clone() } else { f.clone() }))
        .map_err(|e| EngineError::Internal(e.to_string()))
}

/// Sets (or with `None`, removes) one metadata key of a column, as one commit.
pub(crate) async fn set_field_metadata(
    engine: &Engine,
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
