//! Reading a table: a DataFusion Parquet scan over the files of the table's snapshot.
//!
//! delta-rs' own table provider replays the log through delta-kernel on every scan and
//! tags every batch with a file id it then strips again; on a group-by over 5M rows that
//! was about 40 % of the query. For tables as Lakeward writes them (no partitions, no
//! deletion vectors, no column mapping) the snapshot already holds everything a scan
//! needs: the files, their sizes and their statistics. Each file carries its statistics,
//! so DataFusion skips files a predicate rules out before opening them, then row groups
//! and pages by their own statistics. Other tables are read through delta-rs' provider.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::{ColumnStatistics, Precision, Statistics};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_optimizer::pruning::PruningStatistics;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use deltalake::DeltaTable;
use deltalake::logstore::LogStore;
use deltalake::table::state::DeltaTableState;
use object_store::ObjectStore;

use crate::error::EngineResult;
use crate::local_reads::InlineReads;
use crate::page_index::WithPageIndex;
use crate::table;

/// A provider for reading `table` as it is in this snapshot.
pub(crate) async fn provider(table: &DeltaTable) -> EngineResult<Arc<dyn TableProvider>> {
    match FileScan::try_new(table)? {
        Some(scan) => Ok(Arc::new(scan)),
        None => Ok(table.table_provider().await?),
    }
}

/// The files of recently scanned snapshots, with their statistics. Building them means
/// evaluating every column's bounds from the log through delta-kernel, which was about a
/// tenth of a point lookup's CPU, for a list that never changes for a given version. The
/// engine's sessions carry this as a config extension, so every scan finds it.
#[derive(Default)]
pub(crate) struct FileLists {
    /// Oldest first; at most [`FileLists::KEPT`].
    recent: Mutex<VecDeque<(FileListKey, Arc<Vec<PartitionedFile>>)>>,
}

/// A snapshot: the table's location, its Delta id (a table dropped and created again at
/// the same location starts again at version 0) and the version.
type FileListKey = (String, String, u64);

impl FileLists {
    const KEPT: usize = 64;

    fn get_or_build(&self, key: FileListKey, build: impl FnOnce() -> Vec<PartitionedFile>) -> Vec<PartitionedFile> {
        if let Some((_, files)) = self.recent.lock().expect("not poisoned").iter().find(|(k, _)| *k == key) {
            return files.as_ref().clone();
        }
        let files = Arc::new(build());
        let mut recent = self.recent.lock().expect("not poisoned");
        if !recent.iter().any(|(k, _)| *k == key) {
            if recent.len() == Self::KEPT {
                recent.pop_front();
            }
            recent.push_back((key, files.clone()));
        }
        Arc::unwrap_or_clone(files)
    }
}

#[derive(Debug)]
struct FileScan {
    /// The table's columns as queries see them: strings and binaries as views, which
    /// DataFusion groups, compares and decodes faster.
    schema: SchemaRef,
    state: DeltaTableState,
    /// The whole table's: its exact row count, no column bounds.
    statistics: Statistics,
    store_url: ObjectStoreUrl,
    /// The table's store; a local folder is read through [`InlineReads`].
    store: Arc<dyn ObjectStore>,
    /// Whether the table is in a local folder (else in an object store).
    local: bool,
    /// Which snapshot this is, for [`FileLists`].
    key: FileListKey,
}

fn view_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
        DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
        other => other.clone(),
    }
}

/// A file's lower or upper bound for a column, as a value of the column's type; absent
/// when unknown. DataFusion prunes with exact bounds only, so bounds are exact where the
/// Delta statistics are true bounds: integers, floats, dates, and strings (Parquet
/// rounds a truncated maximum up). Timestamps are cut to milliseconds and decimals
/// pass through a float, so a maximum may fall below the true one: those stay inexact,
/// and prune nothing. (The table as a whole reports no column bounds, so none of these
/// ever answers a MIN or MAX by itself.)
fn bound(values: Option<&ArrayRef>, file: usize, to: &DataType) -> Precision<ScalarValue> {
    let Some(values) = values.filter(|v| file < v.len() && v.is_valid(file)) else {
        return Precision::Absent;
    };
    match ScalarValue::try_from_array(values, file).and_then(|v| v.cast_to(to)) {
        Ok(v) if matches!(to, DataType::Timestamp(..) | DataType::Decimal128(..) | DataType::Decimal256(..)) => {
            Precision::Inexact(v)
        }
        Ok(v) => Precision::Exact(v),
        Err(_) => Precision::Absent,
    }
}

/// A file's null count for a column: exact in Delta statistics, unlike the bounds.
fn null_count(values: Option<&ArrayRef>, file: usize) -> Precision<usize> {
    let Some(values) = values.filter(|v| file < v.len() && v.is_valid(file)) else {
        return Precision::Absent;
    };
    match ScalarValue::try_from_array(values, file).and_then(|v| v.cast_to(&DataType::UInt64)) {
        Ok(ScalarValue::UInt64(Some(n))) => Precision::Exact(n as usize),
        _ => Precision::Absent,
    }
}

impl FileScan {
    /// Checks that the table can be read this way and sums up its rows. Cheap: per-file
    /// statistics are only built when the table is scanned (a SQL session registers every
    /// table the caller may read, and most go unread).
    fn try_new(table: &DeltaTable) -> EngineResult<Option<Self>> {
        let state = table.snapshot()?;
        if !state.metadata().partition_columns().is_empty() || crate::schema::column_mapped(state.metadata()) {
            return Ok(None);
        }
        let (mut rows, mut bytes, mut rows_known) = (0usize, 0usize, true);
        for file in state.log_data().iter() {
            if file.deletion_vector_descriptor().is_some() {
                return Ok(None);
            }
            rows += file.num_records().unwrap_or(0);
            rows_known &= file.num_records().is_some();
            bytes += file.size().max(0) as usize;
        }
        let base = table::arrow_schema(table)?;
        let schema: SchemaRef = Arc::new(Schema::new_with_metadata(
            base.fields().iter().map(|f| Field::clone(f).with_data_type(view_type(f.data_type()))).collect::<Vec<_>>(),
            base.metadata().clone(),
        ));
        let statistics = Statistics {
            num_rows: if rows_known { Precision::Exact(rows) } else { Precision::Absent },
            total_byte_size: Precision::Inexact(bytes),
            column_statistics: Statistics::unknown_column(&schema),
        };
        let log_store = table.log_store();
        let store = log_store.object_store(None);
        let (store, local): (Arc<dyn ObjectStore>, bool) = match InlineReads::new(table.table_url(), store.clone()) {
            Some(local) => (Arc::new(local), true),
            None => (store, false),
        };
        let key = (table.table_url().to_string(), state.metadata().id().to_owned(), state.version());
        Ok(Some(Self {
            schema,
            state: state.clone(),
            statistics,
            store_url: log_store.object_store_url(),
            store,
            local,
            key,
        }))
    }

    /// The table's files, each with its row count, null counts and bounds.
    fn files(&self) -> Vec<PartitionedFile> {
        let snapshot = self.state.snapshot();
        let columns: Vec<Column> = self.schema.fields().iter().map(|f| Column::new_unqualified(f.name())).collect();
        let mins: Vec<Option<ArrayRef>> = columns.iter().map(|c| snapshot.min_values(c)).collect();
        let maxs: Vec<Option<ArrayRef>> = columns.iter().map(|c| snapshot.max_values(c)).collect();
        let nulls: Vec<Option<ArrayRef>> = columns.iter().map(|c| snapshot.null_counts(c)).collect();
        self.state
            .log_data()
            .iter()
            .enumerate()
            .map(|(i, file)| {
                let size = file.size().max(0) as u64;
                let mut partitioned = PartitionedFile::new(String::new(), size);
                partitioned.object_meta.location = file.object_store_path();
                let column_statistics = self
                    .schema
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(c, field)| ColumnStatistics {
                        null_count: null_count(nulls[c].as_ref(), i),
                        min_value: bound(mins[c].as_ref(), i, field.data_type()),
                        max_value: bound(maxs[c].as_ref(), i, field.data_type()),
                        ..ColumnStatistics::new_unknown()
                    })
                    .collect();
                let statistics = Statistics {
                    num_rows: file.num_records().map_or(Precision::Absent, Precision::Exact),
                    total_byte_size: Precision::Inexact(size as usize),
                    column_statistics,
                };
                partitioned.with_statistics(Arc::new(statistics))
            })
            .collect()
    }
}

#[async_trait]
impl TableProvider for FileScan {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters go into the Parquet scan (file, row-group and page pruning, and row
    /// filtering when the session pushes filters down); a filter above the scan still
    /// has the last word.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(self.statistics.clone())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let files = match state.config().get_extension::<FileLists>() {
            Some(lists) => lists.get_or_build(self.key.clone(), || self.files()),
            None => self.files(),
        };
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        state.runtime_env().register_object_store(self.store_url.as_ref(), self.store.clone());
        let mut options = state.table_options().parquet.clone();
        // Filters evaluated while decoding save decoding rows the filter drops, but decode
        // the filter's columns first and the others after, row selection by row selection:
        // worth it for a lookup of a value (few rows survive), a loss for scans that keep
        // many rows (TPC-H Q6 took 1.8x as long with it), and on an object store two round
        // trips per file cost more than one read of every projected column (of the pages
        // the page index kept).
        options.global.pushdown_filters = self.local && filters.iter().any(looks_up_a_value);
        let metadata_size_hint = options.global.metadata_size_hint;
        let metadata_cache = state.runtime_env().cache_manager.get_file_metadata_cache();
        let readers = CachedParquetFileReaderFactory::new(self.store.clone(), metadata_cache);
        let mut source = ParquetSource::new(TableSchema::from(self.schema.clone()))
            .with_table_parquet_options(options)
            .with_parquet_file_reader_factory(Arc::new(WithPageIndex(readers)));
        if let Some(hint) = metadata_size_hint {
            source = source.with_metadata_size_hint(hint);
        }
        let groups = FileGroup::new(files).split_files(state.config().target_partitions());
        let config = FileScanConfigBuilder::new(self.store_url.clone(), Arc::new(source))
            .with_file_groups(groups)
            .with_statistics(self.statistics.clone())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// Whether a filter asks for the rows where a column equals one value (`id = 42`, with
/// `AND`s around it): the query shape that decoding with the filter serves.
fn looks_up_a_value(filter: &Expr) -> bool {
    use datafusion::logical_expr::{BinaryExpr, Operator, utils::split_conjunction};
    fn column(e: &Expr) -> bool {
        match e {
            Expr::Column(_) => true,
            Expr::Cast(c) => column(&c.expr),
            Expr::TryCast(c) => column(&c.expr),
            _ => false,
        }
    }
    split_conjunction(filter).into_iter().any(|part| match part {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
            (column(left) && matches!(right.as_ref(), Expr::Literal(..)))
                || (column(right) && matches!(left.as_ref(), Expr::Literal(..)))
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn key(version: u64) -> FileListKey {
        ("file:///t/".to_owned(), "table-id".to_owned(), version)
    }

    fn file(name: &str) -> PartitionedFile {
        PartitionedFile::new(name.to_owned(), 1)
    }

    #[test]
    fn only_value_lookups_are_filtered_while_decoding() {
        use datafusion::prelude::{col, lit};
        assert!(looks_up_a_value(&col("id").eq(lit(42))));
        assert!(looks_up_a_value(&lit("x").eq(col("email"))));
        assert!(looks_up_a_value(&col("age").gt(lit(3)).and(col("id").eq(lit(42)))));
        assert!(!looks_up_a_value(&col("shipdate").gt_eq(lit(3)).and(col("discount").lt(lit(7)))));
        assert!(!looks_up_a_value(&col("mode").in_list(vec![lit("MAIL"), lit("SHIP")], false)));
        assert!(!looks_up_a_value(&col("a").eq(col("b"))));
        assert!(!looks_up_a_value(&col("id").eq(lit(1)).or(col("id").eq(lit(2)))));
    }

    /// A snapshot's list is built once; other snapshots get their own; past
    /// [`FileLists::KEPT`] the oldest is built again when asked for.
    #[test]
    fn file_lists_are_built_once_per_snapshot_and_the_oldest_go() {
        let lists = FileLists::default();
        let builds = Cell::new(0);
        let get = |version: u64| {
            let files = lists.get_or_build(key(version), || {
                builds.set(builds.get() + 1);
                vec![file(&format!("v{version}.parquet"))]
            });
            files.iter().map(|f| f.object_meta.location.to_string()).collect::<Vec<_>>()
        };
        assert_eq!(get(1), ["v1.parquet"]);
        assert_eq!(get(1), ["v1.parquet"]);
        assert_eq!(builds.get(), 1);
        assert_eq!(get(2), ["v2.parquet"]);
        assert_eq!(builds.get(), 2);
        for version in 3..=FileLists::KEPT as u64 + 1 {
            get(version);
        }
        assert_eq!(builds.get(), FileLists::KEPT + 1);
        get(2);
        assert_eq!(builds.get(), FileLists::KEPT + 1, "still kept");
        get(1);
        assert_eq!(builds.get(), FileLists::KEPT + 2, "the oldest went");
    }
}
