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
use std::sync::Mutex;

use arrow::record_batch::RecordBatch;
use deltalake::DeltaTable;
use url::Url;

use crate::error::EngineResult;
use crate::read;
use crate::state::EngineState;

/// Beyond this many rows a table's keys are not held in memory.
pub const MAX_INDEXED_ROWS: u64 = 1_000_000;

#[derive(Default)]
pub(crate) struct KeyIndexes {
    tables: Mutex<HashMap<String, KeyIndex>>,
}

struct KeyIndex {
    version: u64,
    keys: HashSet<String>,
}

/// Key values of every row, as text (columns joined by U+001F).
pub(crate) fn key_texts(batches: &[RecordBatch], keys: &[String]) -> EngineResult<Vec<String>> {
    let mut out = Vec::new();
    for batch in batches {
        let columns: Vec<_> = keys.iter().map(|k| batch.column_by_name(k).expect("key column")).collect();
        for row in 0..batch.num_rows() {
            let parts = columns
                .iter()
                .map(|c| arrow::util::display::array_value_to_string(c, row))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(parts.join("\u{1f}"));
        }
    }
    Ok(out)
}

/// `(id=3)`, `(a=x, b=y)`: a key text for messages.
pub(crate) fn key_display(text: &str, keys: &[String]) -> String {
    let parts: Vec<String> = keys.iter().zip(text.split('\u{1f}')).map(|(k, v)| format!("{k}={v}")).collect();
    format!("({})", parts.join(", "))
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
        let keys: HashSet<String> = key_texts(&batches, keys)?.into_iter().collect();
        self.tables.lock().expect("not poisoned").insert(location.to_string(), KeyIndex { version, keys });
        Ok(true)
    }

    /// The first of `texts` already in the table (per the index `ensure` prepared).
    pub fn clash<'a>(&self, location: &Url, texts: &'a [String]) -> Option<&'a String> {
        let tables = self.tables.lock().expect("not poisoned");
        let index = tables.get(location.as_str())?;
        texts.iter().find(|t| index.keys.contains(*t))
    }

    /// A commit from `read_version` to `version` added `texts`: the index follows it, or
    /// is dropped if it was not at `read_version`.
    pub fn committed<'a>(
        &self,
        location: &Url,
        read_version: u64,
        version: u64,
        texts: impl Iterator<Item = &'a String>,
    ) {
        let mut tables = self.tables.lock().expect("not poisoned");
        match tables.get_mut(location.as_str()) {
            // Only a commit right after the indexed version is known whole: any version
            // in between was another writer's, whose keys the index has not seen.
            Some(index) if index.version == read_version && version == read_version + 1 => {
                index.keys.extend(texts.cloned());
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
