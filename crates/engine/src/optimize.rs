//! OPTIMIZE on request: the files smaller than a target size rewritten into files of that
//! size, or, with Z-order columns, every file rewritten with its rows ordered along a
//! Z-order curve of those columns, so that each file covers a small range of every one of
//! them and lookups on any of them skip most files by their statistics. No data changes
//! (`dataChange: false`): readers, history and time travel see the same rows.
//!
//! Like automatic compaction (`write::compact`), and unlike delta-rs's OPTIMIZE, the commit
//! lands on the version it read or not at all, so rows are never compacted twice.

use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use deltalake::DeltaTable;
use deltalake::kernel::Action;
use deltalake::protocol::DeltaOperation;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use futures::StreamExt as _;
use url::Url;

use crate::commit::Actor;
use crate::error::{EngineError, EngineResult};
use crate::state::EngineState;
use crate::vacuum::LISTED_FILES;
use crate::write::compact::{conformed, read_data_file, rewritable};
use crate::write::writer_properties;
use crate::{read, table};

/// What an optimize rewrites (a dry run's answer) or rewrote.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeOutcome {
    /// Files rewritten, their bytes and rows (by statistics).
    pub files: u64,
    pub bytes: u64,
    pub rows: u64,
    /// The first [`LISTED_FILES`] of them, as the log names them.
    pub paths: Vec<String>,
    /// The files written in their place (0 for a dry run).
    pub files_added: u64,
    pub bytes_added: u64,
    /// The commit's version; `None` for a dry run or when there was nothing to do.
    pub version: Option<u64>,
}

/// Compacts the files of `delta` smaller than `target_size` (at least two of them), or with
/// `zorder_by` rewrites all of them Z-ordered; with `dry_run` answers what it would rewrite.
/// Called with the table's write lock held.
pub(crate) async fn optimize(
    state: &EngineState,
    location: &Url,
    delta: &DeltaTable,
    target_size: u64,
    zorder_by: &[String],
    dry_run: bool,
    actor: &Actor,
) -> EngineResult<OptimizeOutcome> {
    let snapshot = delta.snapshot()?;
    if !rewritable(snapshot.metadata()) {
        return Err(EngineError::Conflict(
            "optimize does not rewrite partitioned, column-mapped or deletion-vector tables".into(),
        ));
    }
    let schema = table::arrow_schema(delta)?;
    for name in zorder_by {
        schema.field_with_name(name).map_err(|_| EngineError::no_column(name))?;
    }
    let files: Vec<_> = snapshot.log_data().iter().collect();
    let chosen: Vec<_> = if zorder_by.is_empty() {
        files.into_iter().filter(|f| (f.size().max(0) as u64) < target_size).collect()
    } else {
        files
    };
    // One small file rewritten is one small file again.
    let worth = if zorder_by.is_empty() { chosen.len() >= 2 } else { !chosen.is_empty() };
    let chosen = if worth { chosen } else { Vec::new() };
    let mut outcome = OptimizeOutcome {
        files: chosen.len() as u64,
        bytes: chosen.iter().map(|f| f.size().max(0) as u64).sum(),
        rows: chosen.iter().map(|f| f.num_records().unwrap_or(0) as u64).sum(),
        paths: chosen.iter().take(LISTED_FILES).map(|f| f.path().to_string()).collect(),
        files_added: 0,
        bytes_added: 0,
        version: None,
    };
    if dry_run || chosen.is_empty() {
        return Ok(outcome);
    }
    let mut writer = RecordBatchWriter::for_table(delta)?
        .with_writer_properties(writer_properties())
        .with_target_file_size(target_size);
    let writer_schema = writer.arrow_schema();
    if zorder_by.is_empty() {
        let store = delta.object_store();
        for file in &chosen {
            for batch in read_data_file(&store, &file.path(), &writer_schema).await? {
                writer.write(batch).await?;
            }
        }
    } else {
        let ctx = state.session();
        read::register(&ctx, delta).await?;
        let key = ScalarUDF::from(ZOrderKey::default()).call(zorder_by.iter().map(|c| read::column(c)).collect());
        let mut rows = ctx.table(read::SELF).await?.sort(vec![key.sort(true, false)])?.execute_stream().await?;
        while let Some(batch) = rows.next().await {
            writer.write(conformed(&batch?, &writer_schema)?).await?;
        }
    }
    let mut actions: Vec<Action> = chosen.iter().map(|f| Action::Remove(f.remove_action(false))).collect();
    for mut add in writer.flush().await? {
        add.data_change = false;
        outcome.files_added += 1;
        outcome.bytes_added += add.size.max(0) as u64;
        actions.push(Action::Add(add));
    }
    let operation = DeltaOperation::Optimize { predicate: None, target_size: target_size as i64 };
    let version = crate::schema::commit_actions(state, location, delta, actions, operation, actor).await?;
    // Same rows, same keys: the key index moves along.
    state.key_indexes.committed(location, version - 1, version, std::iter::empty());
    outcome.version = Some(version);
    Ok(outcome)
}

/// Bits of each column's value that take part in its Z-order key: the first 16 bytes of
/// its order-preserving row encoding (longer values sort by that prefix).
const KEY_BYTES_PER_COLUMN: usize = 16;

/// The Z-order (Morton) key of each row's values: the columns' order-preserving encodings'
/// bits interleaved, first bit of each column, then the second of each, and so on; keys
/// compare as bytes.
fn zorder_keys(columns: &[ArrayRef]) -> EngineResult<BinaryArray> {
    let rows = columns.first().map_or(0, |c| c.len());
    let n = columns.len();
    let width = n * KEY_BYTES_PER_COLUMN;
    let mut keys = vec![0u8; rows * width];
    for (c, column) in columns.iter().enumerate() {
        let converter = RowConverter::new(vec![SortField::new(column.data_type().clone())])?;
        let encoded = converter.convert_columns(std::slice::from_ref(column))?;
        for (r, value) in encoded.iter().enumerate() {
            let (value, key) = (value.as_ref(), &mut keys[r * width..(r + 1) * width]);
            for bit in 0..KEY_BYTES_PER_COLUMN * 8 {
                let set = value.get(bit / 8).is_some_and(|byte| byte & (0x80 >> (bit % 8)) != 0);
                if set {
                    let at = bit * n + c;
                    key[at / 8] |= 0x80 >> (at % 8);
                }
            }
        }
    }
    Ok(BinaryArray::from_iter_values(keys.chunks(width.max(1)).take(rows)))
}

/// `lakeward_zorder_key(columns...)`: [`zorder_keys`] as a function a sort can use.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ZOrderKey {
    signature: Signature,
}

impl Default for ZOrderKey {
    fn default() -> Self {
        Self { signature: Signature::variadic_any(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for ZOrderKey {
    fn name(&self) -> &str {
        "lakeward_zorder_key"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let columns = ColumnarValue::values_to_arrays(&args.args)?;
        let keys = zorder_keys(&columns).map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        Ok(ColumnarValue::Array(Arc::new(keys)))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array};

    use super::*;

    /// Files written in descending order, Z-ordered by their one column: one file, its
    /// rows in ascending order, each once; a second optimize finds nothing worth doing.
    #[tokio::test]
    async fn a_zorder_rewrite_orders_the_rows_of_its_files() {
        use arrow::record_batch::RecordBatch;

        let dir = tempfile::tempdir().unwrap();
        let (location, actor, mut delta) = crate::table::id_table(dir.path()).await;
        let schema = table::arrow_schema(&delta).unwrap();
        for ids in [vec![9, 8, 7], vec![6, 5, 4], vec![3, 2, 1]] {
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids))]).unwrap();
            delta = delta.write(vec![batch]).with_commit_properties(actor.commit_properties("t", None)).await.unwrap();
        }
        let limits =
            crate::EngineLimits { query_timeout: std::time::Duration::from_secs(30), memory_limit_bytes: 1 << 30 };
        let engine = EngineState::new(&limits).unwrap();
        let zorder = ["id".to_owned()];
        let done = optimize(&engine, &location, &delta, 1 << 20, &zorder, false, &actor).await.unwrap();
        assert_eq!((done.files, done.rows, done.files_added, done.version), (3, 9, 1, Some(4)));
        let after = table::open(&Default::default(), &location, table::TimeTravel::Latest).await.unwrap();
        let files: Vec<String> = after.snapshot().unwrap().log_data().iter().map(|f| f.path().to_string()).collect();
        assert_eq!(files.len(), 1);
        let batches = read_data_file(&after.object_store(), &files[0], &schema).await.unwrap();
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec())
            .collect();
        assert_eq!(ids, (1..=9).collect::<Vec<_>>());
        let again = optimize(&engine, &location, &after, 1 << 20, &[], false, &actor).await.unwrap();
        assert_eq!((again.files, again.version), (0, None), "one file is left alone");
    }

    #[test]
    fn zorder_keys_interleave_so_that_near_points_sort_near() {
        let x: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, 0, 1, 2, 3]));
        let y: ArrayRef = Arc::new(Int64Array::from(vec![0, 0, 1, 1, 0, 3]));
        let keys = zorder_keys(&[x, y]).unwrap();
        assert_eq!(keys.len(), 6);
        assert_eq!(keys.value(0).len(), 32);
        let mut order: Vec<usize> = (0..6).collect();
        order.sort_by_key(|&i| keys.value(i).to_vec());
        // The Z curve over (x, y): (0,0) (0,1) (1,0) (1,1) then (2,0), then (3,3).
        assert_eq!(order, [0, 2, 1, 3, 4, 5]);
        let one: ArrayRef = Arc::new(Int64Array::from(vec![5, -5, 0]));
        let keys = zorder_keys(&[one]).unwrap();
        let mut order: Vec<usize> = (0..3).collect();
        order.sort_by_key(|&i| keys.value(i).to_vec());
        assert_eq!(order, [1, 2, 0], "one column: its own order");
    }
}
