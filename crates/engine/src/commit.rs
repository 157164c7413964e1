//! The one commit path. Every operation that commits goes through it:
//! - who a commit is by, recorded in the Delta commit itself so that any Delta reader's
//!   history shows it, with a commit id to find it again ([`Actor`], [`Commit`]);
//! - idempotency keys, recorded as Delta application transactions, so a retried request
//!   is recognised from the log itself and answered with the original outcome
//!   ([`replayed`]);
//! - a commit whose outcome was not reported is looked up in the log before anything is
//!   reported ([`Commit::landed`]);
//! - the state a commit produced is remembered as the table's latest;
//! - an operation that lost the race to another writer is redone on the new state
//!   ([`redo`]).

use std::sync::atomic::Ordering;

use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::{DeltaTable, DeltaTableError};
use serde_json::Value;
use url::Url;

use crate::error::{EngineError, EngineResult, Input};
use crate::history;
use crate::state::EngineState;
use crate::table::TimeTravel;
use crate::write::WriteOutcome;

#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub user_name: String,
}

impl Actor {
    /// Commit properties naming the actor and carrying `commit_id` (to find the commit
    /// again if its outcome is not reported), with an application transaction when the
    /// write carries an idempotency key.
    ///
    /// A commit lands on the version it was prepared from, or not at all: delta-rs's own
    /// retry would rebase it onto whatever another writer committed in between, and its
    /// conflict check lets through what breaks Lakeward's tables: removes of files that a
    /// concurrent compaction (`dataChange: false`) already rewrote, so both copies of the
    /// rows stay live; appends whose primary keys another writer has just committed; and
    /// a new constraint or domain over rows it never checked. The engine redoes the whole
    /// operation on the new state instead (`write::redo`).
    ///
    /// Expired log files are not cleaned up by the commit itself (delta-rs would list the
    /// whole log after every commit, a cost that grows with the table's history) but once
    /// per checkpoint, in the background ([`clean_log_after_checkpoint`]).
    pub fn commit_properties(&self, commit_id: &str, idempotency: Option<Transaction>) -> CommitProperties {
        let props = base_properties().with_metadata(self.metadata(commit_id));
        match idempotency {
            Some(txn) => props.with_application_transaction(txn),
            None => props,
        }
    }

    /// Commit properties for one commit of several requests prepared from `read_version`:
    /// each idempotency key is recorded with the rows its request wrote.
    pub fn group_commit_properties(
        &self,
        commit_id: &str,
        read_version: u64,
        keys: &[(&str, u64)],
    ) -> CommitProperties {
        if keys.is_empty() {
            return self.commit_properties(commit_id, None);
        }
        let rows: serde_json::Map<String, serde_json::Value> =
            keys.iter().map(|(key, rows)| ((*key).to_owned(), serde_json::json!(rows))).collect();
        let mut metadata = self.metadata(commit_id);
        metadata.push((ROWS_BY_KEY.to_owned(), serde_json::Value::Object(rows)));
        base_properties().with_metadata(metadata).with_application_transactions(
            keys.iter().map(|(key, _)| idempotency_transaction(key, read_version)).collect(),
        )
    }

    fn metadata(&self, commit_id: &str) -> Vec<(String, serde_json::Value)> {
        vec![
            ("userId".to_owned(), serde_json::json!(self.user_id)),
            ("userName".to_owned(), serde_json::json!(self.user_name)),
            ("lakewardCommitId".to_owned(), serde_json::json!(commit_id)),
        ]
    }
}

/// No rebase onto another writer's commit, no log cleanup on the write path.
fn base_properties() -> CommitProperties {
    CommitProperties::default().with_max_retries(0).with_cleanup_expired_logs(Some(false))
}

/// Once a commit completes a checkpoint interval (delta-rs has just written the
/// checkpoint), removes the log files older than the table's log retention, in the
/// background: only then can any have expired, and a listing of the log would otherwise
/// delay the commits that follow. What cleanup removes no reader needs (the checkpoint
/// covers it), so it may run beside them.
fn clean_log_after_checkpoint(table: &DeltaTable) {
    use deltalake::table::config::TablePropertiesExt as _;
    let (Some(version), Ok(snapshot)) = (table.version(), table.snapshot()) else { return };
    let config = snapshot.table_config();
    // delta-rs checkpoints the commit that completes an interval of versions 0 to n - 1.
    if !(version + 1).is_multiple_of(config.checkpoint_interval().get()) || !config.enable_expired_log_cleanup() {
        return;
    }
    let cutoff = chrono::Utc::now().timestamp_millis() - config.log_retention_duration().as_millis() as i64;
    let log_store = table.log_store();
    tokio::spawn(async move {
        let cleaned =
            deltalake::protocol::checkpoints::cleanup_expired_logs_for(version, log_store.as_ref(), cutoff, None).await;
        if let Err(e) = cleaned {
            tracing::warn!(error = %e, "expired log files were not cleaned up");
        }
    });
}

/// The Delta application-transaction id an idempotency key is recorded under.
pub fn idempotency_app_id(key: &str) -> String {
    format!("lakeward-idempotency-{key}")
}

/// The application transaction that records `key` in a commit prepared from `read_version`.
/// Its version is the table version the commit lands on (commits land on the version after
/// the one they read, or not at all), so that a replay can name the original commit.
pub fn idempotency_transaction(key: &str, read_version: u64) -> Transaction {
    Transaction::new(idempotency_app_id(key), read_version as i64 + 1)
}

/// Commit metadata: the rows each idempotency key of a group commit wrote, for replays.
pub const ROWS_BY_KEY: &str = "lakewardRowsByIdempotencyKey";

/// One commit in the making, prepared from the table state `read_version`.
pub(crate) struct Commit<'a> {
    state: &'a EngineState,
    location: &'a Url,
    pub(crate) id: String,
    pub(crate) read_version: u64,
}

/// What a commit produced.
pub(crate) struct Landed<M> {
    pub(crate) version: u64,
    /// The new state and delta-rs' metrics for it, unless the outcome had to be looked up
    /// in the log.
    pub(crate) reported: Option<(DeltaTable, M)>,
}

impl<'a> Commit<'a> {
    pub(crate) fn prepare(state: &'a EngineState, location: &'a Url, read: &DeltaTable) -> Self {
        Commit { state, location, id: uuid::Uuid::new_v4().to_string(), read_version: read.version().unwrap_or(0) }
    }

    /// The commit's properties: its actor and id, and the idempotency key's transaction.
    pub(crate) fn properties(&self, actor: &Actor, idempotency_key: Option<&str>) -> CommitProperties {
        actor.commit_properties(&self.id, idempotency_key.map(|k| idempotency_transaction(k, self.read_version)))
    }

    /// The properties of one commit for several requests (see [`Actor::group_commit_properties`]).
    pub(crate) fn group_properties(&self, actor: &Actor, keys: &[(&str, u64)]) -> CommitProperties {
        actor.group_commit_properties(&self.id, self.read_version, keys)
    }

    /// [`Commit::landed`] for a write that reports no metrics.
    pub(crate) async fn landed_table(&self, result: Result<DeltaTable, DeltaTableError>) -> EngineResult<Landed<()>> {
        self.landed(result.map(|t| (t, ()))).await
    }

    /// [`Commit::landed`] for a commit of prepared actions, which reports only its version:
    /// the cached state is brought up to it.
    pub(crate) async fn landed_actions(&self, result: Result<u64, DeltaTableError>) -> EngineResult<u64> {
        match result {
            Ok(version) => {
                self.state.counters.commits.fetch_add(1, Ordering::Relaxed);
                clean_log_after_checkpoint(&self.state.open(self.location, TimeTravel::Latest).await?);
                Ok(version)
            }
            Err(e) => landed_despite(self.state, self.location, self.read_version, &self.id, e).await,
        }
    }

    /// The version the commit produced, once delta-rs answered: the new state is
    /// remembered as the latest; a failure that may have landed anyway is looked up.
    pub(crate) async fn landed<M>(&self, result: Result<(DeltaTable, M), DeltaTableError>) -> EngineResult<Landed<M>> {
        match result {
            Ok((table, metrics)) => {
                self.state.counters.commits.fetch_add(1, Ordering::Relaxed);
                self.state.remember(self.location, &table);
                clean_log_after_checkpoint(&table);
                let version = table.version().unwrap_or(self.read_version + 1);
                Ok(Landed { version, reported: Some((table, metrics)) })
            }
            Err(e) => {
                let version = landed_despite(self.state, self.location, self.read_version, &self.id, e).await?;
                Ok(Landed { version, reported: None })
            }
        }
    }
}

/// The outcome of the commit that already wrote this idempotency key, if one did: its
/// version, and the rows it wrote (recorded by the commit, or from delta-rs's operation
/// metrics for a commit of one request).
pub(crate) async fn replayed(table: &DeltaTable, key: Option<&str>) -> EngineResult<Option<WriteOutcome>> {
    let Some(key) = key else { return Ok(None) };
    let app_id = idempotency_app_id(key);
    let store = table.log_store();
    let Some(recorded) = table.snapshot()?.transaction_version(store.as_ref(), app_id.clone()).await? else {
        return Ok(None);
    };
    let replay = |version: Option<u64>, rows: u64| WriteOutcome { version, rows, returned: None, replayed: true };
    let version = recorded.max(0) as u64;
    let Some(bytes) = store.read_commit_entry(version).await? else { return Ok(Some(replay(None, 0))) };
    let actions = deltalake::logstore::get_actions(version, &bytes)?;
    // Keys recorded before transactions carried their table version say version 1.
    let recorded_here = actions.iter().any(|a| matches!(a, deltalake::kernel::Action::Txn(t) if t.app_id == app_id));
    if !recorded_here {
        return Ok(Some(replay(None, 0)));
    }
    let info = actions.iter().find_map(|a| match a {
        deltalake::kernel::Action::CommitInfo(info) => Some(&info.info),
        _ => None,
    });
    let by_key = info.and_then(|i| i.get(crate::commit::ROWS_BY_KEY)).and_then(|m| m.get(key)).and_then(Value::as_u64);
    let metrics = info.and_then(|i| i.get("operationMetrics"));
    let from_metrics = ["num_updated_rows", "num_deleted_rows", "num_source_rows", "num_added_rows"]
        .iter()
        .find_map(|m| metrics.and_then(|x| x.get(*m)).and_then(Value::as_u64));
    Ok(Some(replay(Some(version), by_key.or(from_metrics).unwrap_or(0))))
}

/// After a failed commit: errors that say it did not land are answered as they are
/// (a concurrent commit as [`EngineError::Concurrent`], for the operation to be redone);
/// for any other (an I/O error after the commit file may have been written) the log is
/// read, and the version is returned if the commit landed after all.
pub(crate) async fn landed_despite(
    state: &EngineState,
    location: &Url,
    read_version: u64,
    commit_id: &str,
    err: deltalake::DeltaTableError,
) -> EngineResult<u64> {
    use deltalake::DeltaTableError as E;
    match err {
        e @ (E::Transaction { .. } | E::VersionAlreadyExists(_)) => Err(e.into()),
        e if e.to_string().contains("Invalid data found") => Err(EngineError::invalid(Input::Rows, e.to_string())),
        e => {
            let reopened = state.open(location, TimeTravel::Latest).await?;
            history::committed(&reopened, read_version, commit_id).await?.ok_or_else(|| e.into())
        }
    }
}

/// How many times an operation is redone while other writers keep committing first.
pub(crate) const MAX_REDOS: u32 = 40;

/// Runs `attempt` until it does not fail for a concurrent commit: each attempt reads the
/// table afresh, checks the request against that state (keys, rules, idempotency) and
/// commits on top of exactly that version. Waits a little, with jitter, between attempts
/// so that writers in several processes do not keep colliding in step.
pub(crate) async fn redo<T, F, Fut>(state: &EngineState, mut attempt: F) -> EngineResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = EngineResult<T>>,
{
    let mut redone = 0;
    loop {
        let outcome = attempt().await;
        if matches!(outcome, Err(EngineError::Concurrent)) {
            state.counters.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        match outcome {
            Err(EngineError::Concurrent) if redone < MAX_REDOS => {
                redone += 1;
                state.counters.redos.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(redo_pause(redone)).await;
            }
            other => return other,
        }
    }
}

/// The pause before redo number `n`: up to 2 ms times 2^n (at most 100 ms), jittered.
pub(crate) fn redo_pause(n: u32) -> std::time::Duration {
    let ceiling_ms = (2u64 << n.min(6)).min(100);
    let jitter = uuid::Uuid::new_v4().as_u128() as u64 % 1000;
    std::time::Duration::from_micros(ceiling_ms * jitter)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::record_batch::RecordBatch;

    use super::*;
    use crate::ops::Operation as _;
    use crate::table;

    /// Commits no longer clean the log themselves, but expired log files still go: once a
    /// commit completes a checkpoint interval (versions 0-3 of 4, checkpointed at 3), the
    /// commits before the checkpoint are removed (with a retention of zero, all of them),
    /// and the table reads the same from the checkpoint on.
    #[tokio::test]
    async fn expired_log_files_are_cleaned_up_after_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let (location, actor, _) = table::id_table(dir.path()).await;
        let limits =
            crate::EngineLimits { query_timeout: std::time::Duration::from_secs(30), memory_limit_bytes: 1 << 30 };
        let engine = Arc::new(EngineState::new(&limits).unwrap());
        let properties = [("delta.checkpointInterval", "4"), ("delta.logRetentionDuration", "interval 0 seconds")];
        let change = crate::schema::TableChange {
            description: None,
            properties: properties.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect(),
        };
        crate::ops::schema::ChangeTable { location: location.clone(), change, actor: actor.clone() }
            .run(engine.clone())
            .await
            .unwrap();
        let log = dir.path().join("t").join("_delta_log");
        let commit_file = |v: u64| log.join(format!("{v:020}.json"));
        for id in 0..3i64 {
            let delta = engine.open(&location, TimeTravel::Latest).await.unwrap();
            let schema = table::arrow_schema(&delta).unwrap();
            let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![id]))]).unwrap();
            let commit = Commit::prepare(&engine, &location, &delta);
            let written = delta.write(vec![batch]).with_commit_properties(commit.properties(&actor, None)).await;
            let version = commit.landed_table(written).await.unwrap().version;
            assert_eq!(version, id as u64 + 2);
            if version < 3 {
                assert!(commit_file(0).exists(), "no checkpoint yet: every commit is kept");
            }
        }
        let mut waited = 0;
        while commit_file(2).exists() && waited < 100 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            waited += 1;
        }
        let mut left: Vec<String> =
            std::fs::read_dir(&log).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert!(
            !commit_file(0).exists() && !commit_file(2).exists(),
            "the commits before the checkpoint went: {left:?}"
        );
        assert!(
            commit_file(3).exists() && commit_file(4).exists(),
            "the checkpoint's commit and later ones stay: {left:?}"
        );
        let reopened = table::open(&Default::default(), &location, TimeTravel::Latest).await.unwrap();
        assert_eq!(reopened.version(), Some(4));
        let rows: i64 =
            reopened.snapshot().unwrap().log_data().iter().map(|f| f.num_records().unwrap_or(0) as i64).sum();
        assert_eq!(rows, 3);
    }
}
