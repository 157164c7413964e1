//! Compaction of small files. Each group commit of inserts adds one small file, and a table
//! of thousands of tiny files is slow to read and, above all, slow to commit to: after
//! every commit delta-rs materializes the table's file list again, parsing the statistics
//! of every file. Once a table has gathered [`COMPACT_AT_SMALL_FILES`] small files, one
//! commit rewrites them into few. It changes no data (`dataChange: false`), so readers,
//! history and time travel see the same rows.
//!
//! Not delta-rs's OPTIMIZE: it retries its commit on top of any concurrent commit, and its
//! conflict check ignores removes without data change, so two compactions of the same
//! files (two processes, or Lakeward and another engine) both committed, and every
//! compacted row was then in the table twice. This commit lands on the version it read,
//! or not at all (a later insert tries again).

use std::sync::Arc;

use arrow::array::{ArrayRef, new_null_array};
use arrow::record_batch::RecordBatch;
use deltalake::DeltaTable;
use deltalake::kernel::Action;
use deltalake::parquet::arrow::ProjectionMask;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use deltalake::protocol::DeltaOperation;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use object_store::ObjectStoreExt as _;
use url::Url;

use super::writer_properties;
use crate::commit::Actor;
use crate::error::{EngineError, EngineResult};
use crate::state::EngineState;

/// Files smaller than this are compacted. Well under the table's target file size, so
/// that files written by imports and rewrites are left alone.
pub(crate) const SMALL_FILE_BYTES: u64 = 1 << 20;
/// How many small files a table may gather before they are compacted. Fewer makes each
/// snapshot update cheaper (its price grows with the table's files) but compacts more
/// often, rewriting the earlier compaction's file too while it is under 1 MiB; 8 and 32
/// measured alike on 100,000 single-row inserts from 16 clients (228 and 232/s, bench
/// `writes`), so 32 stays.
pub(crate) const COMPACT_AT_SMALL_FILES: usize = 32;
/// At most this many files are rewritten by one compaction (the rest by the next), so
/// that it holds the table's write lock briefly.
const MAX_FILES_PER_COMPACTION: usize = 512;

/// The actor that compaction commits name: the server itself, not the user whose insert
/// happened to cross the threshold.
fn maintenance_actor() -> Actor {
    Actor { user_id: "lakeward".into(), user_name: "lakeward (compaction)".into() }
}

/// Compacts the table's small files when there are enough of them. Called with the
/// table's write lock held. A failed compaction changes nothing and is only logged: the
/// writes that triggered it have already committed.
pub(crate) async fn if_needed(engine: &EngineState, location: &Url, delta: DeltaTable) {
    match compact(engine, location, &delta).await {
        Ok(None) => {}
        Ok(Some(version)) => {
            tracing::debug!(table = %location, version, "compacted small files");
            // Same rows, same keys: the key index moves along.
            engine.key_indexes.committed(location, version - 1, version, std::iter::empty());
        }
        // Another writer committed first: a later insert tries again on the new state.
        Err(EngineError::Concurrent) => tracing::debug!(table = %location, "compaction lost a race"),
        Err(e) => tracing::warn!(table = %location, error = %e, "compaction failed"),
    }
}

/// Rewrites the small files of `delta`'s version into files of the table's target size,
/// as one commit on top of exactly that version; `None` when there is nothing to do.
async fn compact(engine: &EngineState, location: &Url, delta: &DeltaTable) -> EngineResult<Option<u64>> {
    let snapshot = delta.snapshot()?;
    let plain = rewritable(snapshot.metadata());
    let small: Vec<_> = snapshot.log_data().iter().filter(|f| (f.size().max(0) as u64) < SMALL_FILE_BYTES).collect();
    if !plain || small.len() < COMPACT_AT_SMALL_FILES {
        return Ok(None);
    }
    let store = delta.object_store();
    let mut writer = RecordBatchWriter::for_table(delta)?.with_writer_properties(writer_properties());
    let schema = writer.arrow_schema();
    let mut actions = Vec::new();
    for file in small.iter().take(MAX_FILES_PER_COMPACTION) {
        for batch in read_data_file(&store, &file.path(), &schema).await? {
            writer.write(batch).await?;
        }
        actions.push(Action::Remove(file.remove_action(false)));
    }
    for mut add in writer.flush().await? {
        add.data_change = false;
        actions.push(Action::Add(add));
    }
    let operation = DeltaOperation::Optimize { predicate: None, target_size: SMALL_FILE_BYTES as i64 };
    let version =
        crate::schema::commit_actions(engine, location, delta, actions, operation, &maintenance_actor()).await?;
    Ok(Some(version))
}

/// Whether the table's files are plain copies of its rows that can be rewritten; files of
/// partitioned, column-mapped or deletion-vector tables are not: those are left to engines
/// that know them.
pub(crate) fn rewritable(metadata: &deltalake::kernel::Metadata) -> bool {
    metadata.partition_columns().is_empty()
        && !crate::schema::column_mapped(metadata)
        && metadata.configuration().get("delta.enableDeletionVectors").is_none_or(|v| v != "true")
}

/// The rows of one data file (its path as the log has it) in `schema` (see [`conformed`]);
/// only `schema`'s columns are decoded.
pub(crate) async fn read_data_file(
    store: &Arc<dyn object_store::ObjectStore>,
    path: &str,
    schema: &arrow::datatypes::SchemaRef,
) -> EngineResult<Vec<RecordBatch>> {
    let path = object_store::path::Path::from_url_path(path).map_err(|e| EngineError::internal(e.to_string()))?;
    let bytes = store
        .get(&path)
        .await
        .map_err(|e| EngineError::internal(e.to_string()))?
        .bytes()
        .await
        .map_err(|e| EngineError::internal(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| EngineError::internal(e.to_string()))?;
    let wanted: Vec<usize> = reader
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| schema.field_with_name(f.name()).is_ok())
        .map(|(i, _)| i)
        .collect();
    let projection = ProjectionMask::roots(reader.parquet_schema(), wanted);
    reader
        .with_projection(projection)
        .build()
        .map_err(|e| EngineError::internal(e.to_string()))?
        .map(|batch| conformed(&batch?, schema))
        .collect()
}

/// A file's rows in the table's current schema: columns by name (a column added since the
/// file was written reads as nulls), each cast to the table's type.
pub(crate) fn conformed(batch: &RecordBatch, schema: &arrow::datatypes::SchemaRef) -> EngineResult<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => Ok(arrow::compute::cast(column, field.data_type())?),
            None => Ok(new_null_array(field.data_type(), batch.num_rows())),
        })
        .collect::<EngineResult<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::record_batch::RecordBatch;

    use super::*;
    use crate::table::{self, TimeTravel};

    fn rows_in(delta: &DeltaTable) -> i64 {
        delta.snapshot().unwrap().log_data().iter().map(|f| f.num_records().unwrap_or(0) as i64).sum()
    }

    /// Two compactions prepared from the same state (two processes whose inserts both
    /// crossed the threshold): only the first commits. delta-rs's conflict check ignores
    /// removes without data change, so the second used to commit a second copy of every
    /// compacted row.
    #[tokio::test]
    async fn racing_compactions_keep_each_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let (location, actor, mut delta) = crate::table::id_table(dir.path()).await;
        let schema = table::arrow_schema(&delta).unwrap();
        for id in 0..COMPACT_AT_SMALL_FILES as i64 {
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![id]))]).unwrap();
            delta =
                delta.write(vec![batch]).with_commit_properties(actor.commit_properties("test", None)).await.unwrap();
        }
        let limits =
            crate::EngineLimits { query_timeout: std::time::Duration::from_secs(30), memory_limit_bytes: 1 << 30 };
        let engine = EngineState::new(&limits).unwrap();
        let prepared = table::open(&Default::default(), &location, TimeTravel::Latest).await.unwrap();
        let before = prepared.version();

        if_needed(&engine, &location, prepared.clone()).await;
        if_needed(&engine, &location, prepared).await;

        let after = table::open(&Default::default(), &location, TimeTravel::Latest).await.unwrap();
        assert_eq!(after.version(), before.map(|v| v + 1), "one compaction commit");
        assert_eq!(rows_in(&after), COMPACT_AT_SMALL_FILES as i64);
        assert_eq!(after.snapshot().unwrap().log_data().iter().count(), 1, "the small files became one");
    }
}
