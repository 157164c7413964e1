//! Compaction of small files. Each group commit of inserts adds one small file, and a table
//! of thousands of tiny files is slow to read and, above all, slow to commit to: after
//! every commit delta-rs materializes the table's file list again, parsing the statistics
//! of every file. Once a table has gathered [`COMPACT_AT_SMALL_FILES`] small files, one
//! OPTIMIZE commit rewrites them into few. It changes no data (`dataChange: false`), so
//! readers, history and time travel see the same rows, and concurrent appends do not
//! conflict with it.

use std::num::NonZeroU64;

use deltalake::DeltaTable;
use deltalake::operations::optimize::OptimizeType;
use url::Url;

use super::{new_commit_id, writer_properties};
use crate::Inner as Engine;
use crate::commit::Actor;
use crate::error::EngineResult;

/// Files smaller than this are compacted; compaction writes files up to this size.
/// Well under the table's target file size, so that files written by imports and
/// rewrites are left alone.
pub(crate) const SMALL_FILE_BYTES: u64 = 1 << 20;
/// How many small files a table may gather before they are compacted.
pub(crate) const COMPACT_AT_SMALL_FILES: usize = 32;

/// The actor that OPTIMIZE commits name: the server itself, not the user whose insert
/// happened to cross the threshold.
fn maintenance_actor() -> Actor {
    Actor { user_id: "lakeward".into(), user_name: "lakeward (compaction)".into() }
}

fn small_files(delta: &DeltaTable) -> EngineResult<usize> {
    let state = delta.snapshot()?;
    Ok(state.log_data().iter().filter(|f| (f.size().max(0) as u64) < SMALL_FILE_BYTES).count())
}

/// Compacts the table's small files when there are enough of them. Called with the
/// table's write lock held. A failed compaction changes nothing and is only logged: the
/// writes that triggered it have already committed.
pub(crate) async fn if_needed(engine: &Engine, location: &Url, delta: DeltaTable) {
    match small_files(&delta) {
        Ok(n) if n >= COMPACT_AT_SMALL_FILES => {}
        _ => return,
    }
    let read_version = delta.version().unwrap_or(0);
    let result = delta
        .clone()
        .optimize()
        .with_type(OptimizeType::Compact)
        .with_target_size(NonZeroU64::new(SMALL_FILE_BYTES).expect("non-zero"))
        .with_writer_properties(writer_properties())
        .with_session_state(engine.write_session())
        .with_commit_properties(maintenance_actor().commit_properties(&new_commit_id(), None))
        .await;
    match result {
        Ok((compacted, metrics)) => {
            tracing::debug!(table = %location, removed = metrics.num_files_removed, added = metrics.num_files_added, "compacted small files");
            engine.remember(location, &compacted);
            if let Some(version) = compacted.version() {
                // Same rows, same keys: the key index moves along.
                engine.key_indexes.committed(location, read_version, version, std::iter::empty());
            }
        }
        Err(e) => tracing::warn!(table = %location, error = %e, "compaction failed"),
    }
}
