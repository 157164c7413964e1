//! Clones of a table's state at a version into a new table: the data files are copied as
//! bytes (deep) or linked (shallow), never decoded; the new table's log starts at version 0
//! with the source's protocol, schema and the files' own add actions (statistics included),
//! so it is an independent Delta table that every reader opens as any other.
//!
//! A shallow clone of a local table hard-links the source's files: no byte is copied, the
//! clone's log names its own relative paths (readable by every Delta reader), writes to
//! the clone never touch the source (Delta never changes a file in place), and a vacuum
//! of the source only removes the source's name of a file, never the clone's. Object
//! stores have no links: there a shallow clone copies the files like a deep one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arrow::datatypes::{Field, Schema};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::{Action, StructType};
use deltalake::{DeltaTable, TableProperty};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use url::Url;

use crate::commit::Actor;
use crate::error::{EngineError, EngineResult};
use crate::rules::check::CONSTRAINT_PREFIX;
use crate::rules::domain::DOMAIN_KEY;
use crate::state::EngineState;
use crate::table::{self, CHECKPOINT_INTERVAL, PRIMARY_KEY_PROPERTY, TARGET_FILE_SIZE};
use crate::types::COMMENT_KEY;

/// What of the source's definition the clone keeps (each on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloneKeep {
    /// The table's description and column comments.
    pub comments: bool,
    /// Table properties other than constraints and the primary key.
    pub properties: bool,
    pub domains: bool,
    pub constraints: bool,
    pub primary_key: bool,
}

impl Default for CloneKeep {
    fn default() -> Self {
        Self { comments: true, properties: true, domains: true, constraints: true, primary_key: true }
    }
}

/// Files and bytes copied so far, and whether the clone was asked to stop.
#[derive(Debug, Default)]
pub struct CloneProgress {
    pub files_done: AtomicU64,
    pub bytes_done: AtomicU64,
    cancelled: AtomicBool,
}

impl CloneProgress {
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    fn check(&self) -> EngineResult<()> {
        if self.is_cancelled() { Err(EngineError::Cancelled) } else { Ok(()) }
    }
}

/// What a clone copies (a dry run's answer) or copied.
#[derive(Debug, Clone, PartialEq)]
pub struct ClonePlan {
    pub source_version: u64,
    pub files: u64,
    pub bytes: u64,
    /// Rows by the files' statistics.
    pub rows: u64,
    /// Whether the files are linked rather than copied.
    pub linked: bool,
    /// A rough estimate of the time the clone takes, in seconds.
    pub estimated_seconds: f64,
    /// The clone's version (0) once written; `None` for a dry run.
    pub version: Option<u64>,
}

/// Copies at most this many files at once.
const PARALLEL_COPIES: usize = 8;

/// Clones `source` (opened at the version to clone) into a new table at `destination`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn clone_table(
    state: &EngineState,
    source: &DeltaTable,
    destination: &Url,
    name: &str,
    shallow: bool,
    keep: CloneKeep,
    dry_run: bool,
    actor: &Actor,
    progress: &CloneProgress,
) -> EngineResult<ClonePlan> {
    let snapshot = source.snapshot()?;
    let files: Vec<_> = snapshot.log_data().iter().collect();
    if files.iter().any(|f| f.deletion_vector_descriptor().is_some()) {
        return Err(EngineError::Conflict("tables with deletion vectors cannot be cloned yet".into()));
    }
    if files.iter().any(|f| f.path().contains("://")) {
        return Err(EngineError::Conflict("tables whose files lie outside their folder cannot be cloned".into()));
    }
    let local = local_roots(source, destination);
    let linked = shallow && local.is_some();
    let bytes: u64 = files.iter().map(|f| f.size().max(0) as u64).sum();
    let rows: u64 = files.iter().map(|f| f.num_records().unwrap_or(0) as u64).sum();
    let mut plan = ClonePlan {
        source_version: source.version().unwrap_or(0),
        files: files.len() as u64,
        bytes,
        rows,
        linked,
        estimated_seconds: estimate_seconds(files.len() as u64, bytes, linked, local.is_some()),
        version: None,
    };
    if dry_run {
        return Ok(plan);
    }
    progress.check()?;
    if !table::surely_absent(&state.stores, destination).await {
        return Err(EngineError::Conflict("a table already exists at this location".into()));
    }
    let target = table::builder(&state.stores, &table::ensure_local_folder(destination)?)?.build()?;
    let adds: Vec<_> = files
        .iter()
        .map(|f| {
            #[allow(deprecated)] // delta-rs' own conversion; the file keeps its statistics.
            let add = f.add_action();
            add
        })
        .collect();
    let (source_store, target_store) = (source.object_store(), target.object_store());
    let files: Vec<(String, u64)> = adds.iter().map(|add| (add.path.clone(), add.size.max(0) as u64)).collect();
    let copies = futures::stream::iter(files.into_iter().map(|(path, size)| {
        let (source_store, target_store, local) = (source_store.clone(), target_store.clone(), local.clone());
        async move {
            progress.check()?;
            copy_file(&source_store, &target_store, local.as_ref(), &path, linked).await?;
            progress.files_done.fetch_add(1, Ordering::Relaxed);
            progress.bytes_done.fetch_add(size, Ordering::Relaxed);
            EngineResult::Ok(())
        }
    }))
    .buffer_unordered(PARALLEL_COPIES);
    copies.try_collect::<Vec<()>>().await?;
    progress.check()?;

    let metadata = snapshot.metadata();
    let schema = kept_schema(table::arrow_schema(source)?.as_ref(), keep)?;
    let mut configuration: HashMap<String, Option<String>> = HashMap::new();
    for (key, value) in metadata.configuration() {
        // Column mapping describes how the copied files are laid out: never a choice.
        let kept = if key.starts_with("delta.columnMapping.") {
            true
        } else if key.starts_with(CONSTRAINT_PREFIX) {
            keep.constraints
        } else if key == PRIMARY_KEY_PROPERTY {
            keep.primary_key
        } else {
            keep.properties
        };
        if kept {
            configuration.insert(key.clone(), Some(value.clone()));
        }
    }
    let mut create = target
        .create()
        .with_columns(schema.fields().cloned())
        .with_partition_columns(metadata.partition_columns().iter().cloned())
        .with_table_name(name)
        .with_configuration_property(TableProperty::CheckpointInterval, Some(CHECKPOINT_INTERVAL))
        .with_configuration_property(TableProperty::TargetFileSize, Some(TARGET_FILE_SIZE))
        .with_configuration(configuration)
        .with_raise_if_key_not_exists(false)
        .with_actions(
            std::iter::once(Action::Protocol(snapshot.protocol().clone())).chain(adds.into_iter().map(Action::Add)),
        )
        .with_commit_properties(actor.commit_properties(&uuid::Uuid::new_v4().to_string(), None));
    if keep.comments
        && let Some(description) = metadata.description()
    {
        create = create.with_comment(description);
    }
    let created = create.await?;
    state.remember(destination, &created);
    plan.version = Some(created.version().unwrap_or(0));
    Ok(plan)
}

/// The source's schema without the column metadata the clone does not keep.
fn kept_schema(schema: &Schema, keep: CloneKeep) -> EngineResult<StructType> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut metadata = f.metadata().clone();
            if !keep.comments {
                metadata.remove(COMMENT_KEY);
            }
            if !keep.domains {
                metadata.remove(DOMAIN_KEY);
            }
            f.as_ref().clone().with_metadata(metadata)
        })
        .collect();
    (&Schema::new(fields)).try_into_kernel().map_err(|e| EngineError::internal(e.to_string()))
}

/// Both tables' folders, when both are local.
fn local_roots(source: &DeltaTable, destination: &Url) -> Option<(PathBuf, PathBuf)> {
    let from = source.table_url().to_file_path().ok().filter(|_| source.table_url().scheme() == "file")?;
    let to = destination.to_file_path().ok().filter(|_| destination.scheme() == "file")?;
    Some((from, to))
}

/// Links or copies one data file (its path relative to the table's root, as in the log).
async fn copy_file(
    source: &Arc<dyn ObjectStore>,
    target: &Arc<dyn ObjectStore>,
    local: Option<&(PathBuf, PathBuf)>,
    relative: &str,
    link: bool,
) -> EngineResult<()> {
    let decoded = percent_encoding::percent_decode_str(relative).decode_utf8_lossy().into_owned();
    if let Some((from_root, to_root)) = local {
        let (from, to) = (from_root.join(&decoded), to_root.join(&decoded));
        return tokio::task::spawn_blocking(move || {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if link { std::fs::hard_link(&from, &to) } else { std::fs::copy(&from, &to).map(|_| ()) }
        })
        .await
        .map_err(|e| EngineError::internal(e.to_string()))?
        .map_err(|e| EngineError::internal(format!("cannot copy a data file: {e}")));
    }
    let path = Path::parse(&decoded).unwrap_or_else(|_| Path::from(decoded.as_str()));
    let mut reading = source.get(&path).await.map_err(|e| EngineError::internal(e.to_string()))?.into_stream();
    let mut writer = object_store::buffered::BufWriter::new(target.clone(), path);
    use tokio::io::AsyncWriteExt as _;
    while let Some(chunk) = reading.next().await {
        let chunk = chunk.map_err(|e| EngineError::internal(e.to_string()))?;
        writer.write_all(&chunk).await.map_err(|e| EngineError::internal(e.to_string()))?;
    }
    writer.shutdown().await.map_err(|e| EngineError::internal(e.to_string()))
}

/// Rough: links take a fraction of a millisecond each; local copies run at disk speed
/// (about 500 MB/s), object-store copies at about 50 MB/s.
fn estimate_seconds(files: u64, bytes: u64, linked: bool, local: bool) -> f64 {
    let per_file = if local { 0.0002 } else { 0.05 } / PARALLEL_COPIES as f64;
    let transfer = match (linked, local) {
        (true, _) => 0.0,
        (false, true) => bytes as f64 / 500e6,
        (false, false) => bytes as f64 / 50e6,
    };
    files as f64 * per_file + transfer
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::record_batch::RecordBatch;

    use super::*;
    use crate::ops::Operation as _;
    use crate::ops::table::CloneTable;
    use crate::table::TimeTravel;

    /// A cancelled clone writes nothing (or removes what it wrote); a finished one reads
    /// the source's rows at the version cloned.
    #[tokio::test]
    async fn a_cancelled_clone_leaves_nothing_and_a_finished_one_has_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (source, actor, mut delta) = crate::table::id_table(dir.path()).await;
        let schema = table::arrow_schema(&delta).unwrap();
        for id in 0..3 {
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![id]))]).unwrap();
            delta = delta.write(vec![batch]).with_commit_properties(actor.commit_properties("t", None)).await.unwrap();
        }
        let limits =
            crate::EngineLimits { query_timeout: std::time::Duration::from_secs(30), memory_limit_bytes: 1 << 30 };
        let engine = Arc::new(EngineState::new(&limits).unwrap());
        let destination = Url::from_directory_path(dir.path().join("copy")).unwrap();
        let clone = |progress: Arc<CloneProgress>| CloneTable {
            source: source.clone(),
            at: TimeTravel::Version(2),
            destination: destination.clone(),
            name: "copy".into(),
            shallow: false,
            keep: CloneKeep::default(),
            dry_run: false,
            actor: actor.clone(),
            progress,
        };
        let cancelled = Arc::new(CloneProgress::default());
        cancelled.cancel();
        assert!(matches!(clone(cancelled).run(engine.clone()).await, Err(EngineError::Cancelled)));
        assert!(!dir.path().join("copy").join("_delta_log").exists(), "no log written");
        assert!(table::surely_absent(&engine.stores, &destination).await);

        let plan = clone(Arc::default()).run(engine.clone()).await.unwrap();
        assert_eq!((plan.source_version, plan.files, plan.rows, plan.version), (2, 2, 2, Some(0)));
        let copy = table::open(&engine.stores, &destination, TimeTravel::Latest).await.unwrap();
        let rows: u64 = copy.snapshot().unwrap().log_data().iter().map(|f| f.num_records().unwrap() as u64).sum();
        assert_eq!(rows, 2);
        assert!(
            matches!(clone(Arc::default()).run(engine.clone()).await, Err(EngineError::Conflict(_))),
            "already there"
        );
        assert!(
            !table::surely_absent(&engine.stores, &destination).await,
            "a clone that found a table leaves it alone"
        );
    }
}
