//! An in-process index of each table's primary keys, so that concurrent small inserts are
//! checked for duplicates with a hash lookup instead of a query per group commit (the
//! query's planning over a growing list of small files dominated an insert's cost).
//!
//! An index is valid for one table version only. Group commits extend it with the keys
//! they commit; any other commit (an update, delete, upsert, import, restore, or another
//! process's write) moves the table past the index's version, and the next insert rebuilds
//! it from the table. Tables larger than [`MAX_INDEXED_ROWS`] are not indexed: their
//! inserts are checked by query, as before.

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
        if self.tables.lock().expect("not poisoned").get(location.as_str()).is_some_and(|i| i.version == version) {
            return Ok(true);
        }
        let state = delta.snapshot()?;
        let rows: u64 = state.log_data().iter().map(|f| f.num_records().unwrap_or(0) as u64).sum();
        if rows > MAX_INDEXED_ROWS {
            self.forget(location);
            return Ok(false);
        }
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

    /// A commit from `read_version` to `version` added `rows`: the index follows it, or
    /// is dropped if it was not at `read_version`.
    pub fn committed<'a>(&self, location: &Url, read_version: u64, version: u64, rows: impl Iterator<Item = &'a [u8]>) {
        let mut tables = self.tables.lock().expect("not poisoned");
        match tables.get_mut(location.as_str()) {
            // Only a commit right after the indexed version is known whole: any version
            // in between was another writer's, whose keys the index has not seen.
            Some(index) if index.version == read_version && version == read_version + 1 => {
                let rows = rows.into_iter();
                index.hashes.reserve(rows.size_hint().0);
                index.add(rows);
                index.version = version;
            }
            _ => {
                tables.remove(location.as_str());
            }
        }
    }

    pub fn forget(&self, location: &Url) {
        self.tables.lock().expect("not poisoned").remove(location.as_str());
    }
}
