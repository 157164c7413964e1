//! Vacuum and storage metrics. Vacuum (delta-rs', in full mode) removes the data files of
//! the table's folder that no version within the retention still names: files removed by
//! commits long enough ago, and files no commit ever named (left by refused or cancelled
//! writes) once they are older than the retention. It runs under the table's write lock,
//! so no write of this process is between writing its files and committing them.

use std::collections::{HashMap, HashSet};

use deltalake::DeltaTable;
use deltalake::operations::vacuum::VacuumMode;
use futures::StreamExt as _;

use crate::commit::Actor;
use crate::error::{EngineError, EngineResult};
use crate::write::compact::SMALL_FILE_BYTES;

/// What a vacuum removed (or, for a dry run, would remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacuumOutcome {
    pub dry_run: bool,
    pub files: u64,
    pub bytes: u64,
    /// The files' paths in the table, at most [`LISTED_FILES`] of them.
    pub paths: Vec<String>,
}

/// Paths listed in a vacuum's answer.
pub const LISTED_FILES: usize = 1000;

/// How a table's storage is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUse {
    pub version: u64,
    /// Data files of the latest version.
    pub active_files: u64,
    pub active_bytes: u64,
    /// Active files under 1 MiB (compacted once there are 32).
    pub small_files: u64,
    /// Data files a vacuum with the default retention would remove now.
    pub vacuumable_files: u64,
    pub vacuumable_bytes: u64,
    /// Data files kept only for time travel to earlier versions (neither active nor
    /// vacuumable yet).
    pub time_travel_files: u64,
    pub time_travel_bytes: u64,
    /// The log's files (`_delta_log/`).
    pub log_files: u64,
    pub log_bytes: u64,
}

/// Every object of the table's folder: path relative to the table, size.
async fn folder(table: &DeltaTable) -> EngineResult<HashMap<String, u64>> {
    let store = table.object_store();
    let mut listing = store.list(None);
    let mut objects = HashMap::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|e| EngineError::Storage(e.to_string()))?;
        objects.insert(meta.location.to_string(), meta.size);
    }
    Ok(objects)
}

pub(crate) async fn vacuum(
    table: &DeltaTable,
    retention_hours: u64,
    dry_run: bool,
    actor: &Actor,
) -> EngineResult<VacuumOutcome> {
    let sizes = folder(table).await?;
    let (paths, bytes) = removed(table, &sizes, retention_hours, dry_run, actor).await?;
    Ok(VacuumOutcome {
        dry_run,
        files: paths.len() as u64,
        bytes,
        paths: paths.into_iter().take(LISTED_FILES).collect(),
    })
}

/// The files a vacuum removes (or would), relative to the table, and their bytes.
async fn removed(
    table: &DeltaTable,
    sizes: &HashMap<String, u64>,
    retention_hours: u64,
    dry_run: bool,
    actor: &Actor,
) -> EngineResult<(Vec<String>, u64)> {
    let retention = chrono::Duration::hours(retention_hours.min(i64::MAX as u64 / 3_600_000) as i64);
    let (_, metrics) = table
        .clone()
        .vacuum()
        .with_mode(VacuumMode::Full)
        .with_retention_period(retention)
        // The caller checks the retention against Lakeward's configured minimum.
        .with_enforce_retention_duration(false)
        .with_dry_run(dry_run)
        .with_commit_properties(actor.commit_properties(&uuid::Uuid::new_v4().to_string(), None))
        .await?;
    let root = table.table_url().path().trim_start_matches('/').to_owned();
    let relative = |path: &str| {
        let path = path.trim_start_matches('/');
        path.strip_prefix(&root).unwrap_or(path).trim_start_matches('/').to_owned()
    };
    let paths: Vec<String> = metrics.files_deleted.iter().map(|p| relative(p)).collect();
    let bytes = paths.iter().map(|p| sizes.get(p).copied().unwrap_or(0)).sum();
    Ok((paths, bytes))
}

pub(crate) async fn storage_use(table: &DeltaTable, retention_hours: u64, actor: &Actor) -> EngineResult<StorageUse> {
    let objects = folder(table).await?;
    let snapshot = table.snapshot()?;
    let active: HashSet<String> = snapshot.log_data().iter().map(|f| f.path().into_owned()).collect();
    let active_sizes: Vec<u64> = snapshot.log_data().iter().map(|f| f.size().max(0) as u64).collect();
    let (vacuumable, vacuumable_bytes) = removed(table, &objects, retention_hours, true, actor).await?;
    let vacuumable_files = vacuumable.len() as u64;
    let vacuumable_paths: HashSet<String> = vacuumable.into_iter().collect();
    let (mut log_files, mut log_bytes, mut kept_files, mut kept_bytes) = (0, 0, 0, 0);
    for (path, size) in &objects {
        if path.starts_with("_delta_log/") {
            (log_files, log_bytes) = (log_files + 1, log_bytes + size);
        } else if !active.contains(path) && !vacuumable_paths.contains(path) {
            (kept_files, kept_bytes) = (kept_files + 1, kept_bytes + size);
        }
    }
    Ok(StorageUse {
        version: table.version().unwrap_or(0),
        active_files: active_sizes.len() as u64,
        active_bytes: active_sizes.iter().sum(),
        small_files: active_sizes.iter().filter(|s| **s < SMALL_FILE_BYTES).count() as u64,
        vacuumable_files,
        vacuumable_bytes,
        time_travel_files: kept_files,
        time_travel_bytes: kept_bytes,
        log_files,
        log_bytes,
    })
}
