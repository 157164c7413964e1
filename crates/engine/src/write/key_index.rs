//! An in-process index of each table's primary keys, so that concurrent small inserts are
//! checked for duplicates with a hash lookup instead of a query per group commit (the
//! query's planning over a growing list of small files dominated an insert's cost).
//!
//! An index holds the keys of one table version. Group commits extend it with the keys
//! they commit. Commits that only append (another replica's or another engine's inserts,
//! an import, a compaction) are caught up with by reading the key columns of the files they
//! added, so that writers in several processes do not each rebuild the index whenever
//! the other commits; after any other commit (an update, delete, upsert, restore, a new
//! definition) the next insert rebuilds it from the table. Tables larger than
//! [`MAX_INDEXED_ROWS`] are not indexed: their inserts are checked by query, as before.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Mutex;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use deltalake::DeltaTable;
use url::Url;

use crate::error::EngineResult;
use crate::read;
use crate::state::EngineState;

/// Beyond this many rows a table's keys are not held in memory.
pub const MAX_INDEXED_ROWS: u64 = 1_000_000;

/// At most this many files added by other commits are read to bring an index up to date;
/// beyond, rebuilding it from the table is as cheap.
const MAX_CATCH_UP_FILES: usize = 64;

/// Sets of keys hash with foldhash, fast on short keys and seeded at random per set, so
/// that keys which collide cannot be chosen in advance.
pub(crate) type KeySet<K> = HashSet<K, foldhash::fast::RandomState>;

#[derive(Default)]
pub(crate) struct KeyIndexes {
    tables: Mutex<HashMap<String, KeyIndex>>,
}

/// A table's keys as 64-bit hashes: no allocation per key, 8 bytes each. A key whose
/// hash is absent is certainly new; one whose hash is present may be (two keys can share
/// a hash), so callers confirm a clash against the table before refusing.
struct KeyIndex {
    version: u64,
    hasher: foldhash::fast::RandomState,
    hashes: KeySet<u64>,
}

impl KeyIndex {
    fn add<'a>(&mut self, rows: impl Iterator<Item = &'a [u8]>) {
        for row in rows {
            self.hashes.insert(self.hasher.hash_one(row));
        }
    }
}

/// The primary key of each row in Arrow's row format, one buffer for all rows: equal
/// keys have equal bytes whatever the key's types, and nothing becomes text.
#[derive(Default)]
pub(crate) struct KeyRows {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl KeyRows {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn get(&self, row: usize) -> &[u8] {
        let start = if row == 0 { 0 } else { self.ends[row - 1] };
        &self.bytes[start..self.ends[row]]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|row| self.get(row))
    }
}

/// The key rows of `batches`, in order.
pub(crate) fn key_rows(batches: &[RecordBatch], keys: &[String]) -> EngineResult<KeyRows> {
    let mut out = KeyRows::default();
    let Some(first) = batches.first() else { return Ok(out) };
    let columns = |batch: &RecordBatch| -> EngineResult<Vec<ArrayRef>> {
        keys.iter().map(|k| canonical(batch.column_by_name(k).expect("key column"))).collect()
    };
    let fields = columns(first)?.iter().map(|c| SortField::new(c.data_type().clone())).collect();
    let converter = RowConverter::new(fields)?;
    for batch in batches {
        let rows = converter.convert_columns(&columns(batch)?)?;
        out.ends.reserve(rows.num_rows());
        for row in rows.iter() {
            out.bytes.extend_from_slice(row.as_ref());
            out.ends.push(out.bytes.len());
        }
    }
    Ok(out)
}

/// One type per kind of value, so that a key read back from the table (where strings
/// may be views) encodes as the same key arriving in a request.
fn canonical(column: &ArrayRef) -> EngineResult<ArrayRef> {
    let to = canonical_type(column.data_type());
    if &to == column.data_type() {
        return Ok(column.clone());
    }
    Ok(arrow::compute::cast(column, &to)?)
}

fn canonical_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::Dictionary(_, value) => canonical_type(value),
        other => other.clone(),
    }
}

/// `(id=3)`, `(a=x, b=y)`: the key of row `row` of `batches`, for messages.
pub(crate) fn key_display(batches: &[RecordBatch], keys: &[String], mut row: usize) -> String {
    for batch in batches {
        if row >= batch.num_rows() {
            row -= batch.num_rows();
            continue;
        }
        let parts: Vec<String> = keys
            .iter()
            .map(|k| {
                let column = batch.column_by_name(k).expect("key column");
                let value = arrow::util::display::array_value_to_string(column, row).unwrap_or_default();
                format!("{k}={value}")
            })
            .collect();
        return format!("({})", parts.join(", "));
    }
    String::new()
}

impl KeyIndexes {
    /// Makes sure the table's keys at `delta`'s version are indexed; `false` when the
    /// table is too large to index (check by query instead).
    pub async fn ensure(
        &self,
        engine: &EngineState,
        location: &Url,
        delta: &DeltaTable,
        keys: &[String],
    ) -> EngineResult<bool> {
        let version = delta.version().unwrap_or(0);
        let indexed_at = self.tables.lock().expect("not poisoned").get(location.as_str()).map(|i| i.version);
        if indexed_at == Some(version) {
            return Ok(true);
        }
        let state = delta.snapshot()?;
        let rows: u64 = state.log_data().iter().map(|f| f.num_records().unwrap_or(0) as u64).sum();
        if rows > MAX_INDEXED_ROWS {
            self.forget(location);
            return Ok(false);
        }
        if let Some(from) = indexed_at.filter(|at| *at < version)
            && let Some(added) = appended_keys(delta, keys, from, version).await?
        {
            let mut tables = self.tables.lock().expect("not poisoned");
            if let Some(index) = tables.get_mut(location.as_str()).filter(|i| i.version == from) {
                index.hashes.reserve(added.len());
                index.add(added.iter());
                index.version = version;
                return Ok(true);
            }
        }
        engine.counters.key_index_builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ctx = engine.session();
        read::register(&ctx, delta).await?;
        let columns: Vec<&str> = keys.iter().map(String::as_str).collect();
        let batches = ctx.table(read::SELF).await?.select_columns(&columns)?.collect().await?;
        let rows = key_rows(&batches, keys)?;
        let hashes = KeySet::with_capacity_and_hasher(rows.len(), Default::default());
        let mut index = KeyIndex { version, hasher: Default::default(), hashes };
        index.add(rows.iter());
        self.tables.lock().expect("not poisoned").insert(location.to_string(), index);
        Ok(true)
    }

    /// Whether some of `rows` may already be in the table (per the index `ensure`
    /// prepared); `false` means none is.
    pub fn may_clash(&self, location: &Url, rows: &KeyRows) -> bool {
        let tables = self.tables.lock().expect("not poisoned");
        let Some(index) = tables.get(location.as_str()) else { return true };
        rows.iter().any(|row| index.hashes.contains(&index.hasher.hash_one(row)))
    }

    /// A commit from `read_version` to `version` added `rows`: the index follows it when it
    /// was at `read_version`. Otherwise it stays at the version it holds, and the next
    /// [`KeyIndexes::ensure`] catches up from the log.
    pub fn committed<'a>(&self, location: &Url, read_version: u64, version: u64, rows: impl Iterator<Item = &'a [u8]>) {
        let mut tables = self.tables.lock().expect("not poisoned");
        // Only a commit right after the indexed version is known whole: any version in
        // between was another writer's, whose keys the index has not seen.
        if let Some(index) = tables.get_mut(location.as_str())
            && index.version == read_version
            && version == read_version + 1
        {
            let rows = rows.into_iter();
            index.hashes.reserve(rows.size_hint().0);
            index.add(rows);
            index.version = version;
        }
    }

    pub fn forget(&self, location: &Url) {
        self.tables.lock().expect("not poisoned").remove(location.as_str());
    }
}

/// The keys that the commits after `from`, up to `to`, appended: read from the files they
/// added. `None` when the index is to be rebuilt instead: a commit removed rows or changed
/// the table's definition, is no longer in the log, or added more files than are worth
/// reading one by one (or the files are not plain copies of rows: partitioned or
/// column-mapped tables).
async fn appended_keys(delta: &DeltaTable, keys: &[String], from: u64, to: u64) -> EngineResult<Option<KeyRows>> {
    use deltalake::kernel::Action;
    if !super::compact::rewritable(delta.snapshot()?.metadata()) {
        return Ok(None);
    }
    let log = delta.log_store();
    let mut added = Vec::new();
    for version in from + 1..=to {
        let Some(bytes) = log.read_commit_entry(version).await? else { return Ok(None) };
        for action in deltalake::logstore::get_actions(version, &bytes)? {
            match action {
                Action::Add(add) if add.data_change => added.push(add.path),
                // A compaction's files hold rows the index has already seen.
                Action::Add(_) | Action::Remove(deltalake::kernel::Remove { data_change: false, .. }) => {}
                Action::Remove(_) | Action::Metadata(_) | Action::Protocol(_) => return Ok(None),
                _ => {}
            }
        }
        if added.len() > MAX_CATCH_UP_FILES {
            return Ok(None);
        }
    }
    let schema = crate::table::arrow_schema(delta)?;
    let key_fields: Vec<_> = keys.iter().filter_map(|k| schema.field_with_name(k).ok().cloned()).collect();
    let key_schema = std::sync::Arc::new(arrow::datatypes::Schema::new(key_fields));
    let store = delta.object_store();
    let mut batches = Vec::new();
    for path in added {
        batches.extend(super::compact::read_data_file(&store, &path, &key_schema).await?);
    }
    Ok(Some(key_rows(&batches, keys)?))
}
