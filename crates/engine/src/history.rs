//! A table's commits, newest first, as the reference's TableHistoryItem.

use deltalake::DeltaTable;
use serde::Serialize;

use crate::error::{EngineError, EngineResult};

#[derive(Debug, Clone, Serialize)]
pub struct HistoryItem {
    pub version: u64,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub operation: Option<String>,
    pub operation_parameters: serde_json::Map<String, serde_json::Value>,
    pub engine_info: Option<String>,
    pub info: serde_json::Map<String, serde_json::Value>,
    pub user_metadata: Option<String>,
}

/// Commits from `newest` down, at most `limit`, read one commit file each (so every
/// item carries its exact version).
pub async fn history(table: &DeltaTable, limit: usize, before: Option<u64>) -> EngineResult<Vec<HistoryItem>> {
    let latest = table.version().ok_or_else(|| EngineError::Storage("the table has no committed version".into()))?;
    let newest = before.map(|b| b.saturating_sub(1).min(latest)).unwrap_or(latest);
    if before == Some(0) {
        return Ok(Vec::new());
    }
    let store = table.log_store();
    let mut items = Vec::new();
    let mut version = newest as i64;
    while version >= 0 && items.len() < limit {
        let v = version as u64;
        version -= 1;
        let Some(bytes) = store.read_commit_entry(v).await? else { continue };
        let actions = deltalake::logstore::get_actions(v, &bytes)?;
        let Some(info) = actions.into_iter().find_map(|a| match a {
            deltalake::kernel::Action::CommitInfo(info) => Some(info),
            _ => None,
        }) else {
            continue;
        };
        let mut extra: serde_json::Map<String, serde_json::Value> = info.info.into_iter().collect();
        extra.remove("lakewardCommitId");
        items.push(HistoryItem {
            version: v,
            timestamp: info.timestamp,
            user_id: info.user_id,
            user_name: info.user_name,
            operation: info.operation,
            operation_parameters: info
                .operation_parameters
                .unwrap_or_default()
                .into_iter()
                // Where the table lives is not the user's business (nor another reader's).
                .filter(|(k, _)| k != "location")
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => (k, serde_json::Value::String(crate::redact::paths(&s))),
                    other => (k, other),
                })
                .collect(),
            engine_info: info.engine_info,
            info: extra,
            user_metadata: info.user_metadata,
        });
    }
    Ok(items)
}

/// Whether a commit after `read_version` carries `commit_id` (resolves a commit whose
/// outcome was not reported).
pub async fn committed(table: &DeltaTable, read_version: u64, commit_id: &str) -> EngineResult<Option<u64>> {
    let store = table.log_store();
    let latest = store.get_latest_version(read_version).await?;
    for v in (read_version + 1)..=latest {
        let Some(bytes) = store.read_commit_entry(v).await? else { continue };
        let found = deltalake::logstore::get_actions(v, &bytes)?.into_iter().any(|a| match a {
            deltalake::kernel::Action::CommitInfo(info) => {
                info.info.get("lakewardCommitId").and_then(|x| x.as_str()) == Some(commit_id)
            }
            _ => false,
        });
        if found {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::record_batch::RecordBatch;

    use super::*;
    use crate::table::TimeTravel;

    /// A commit whose outcome was not reported is found again by its commit id; an id
    /// that never committed is not.
    #[tokio::test]
    async fn commits_are_found_by_their_commit_id() {
        let dir = tempfile::tempdir().unwrap();
        let (location, actor, created) = crate::table::id_table(dir.path()).await;
        let schema = crate::table::arrow_schema(&created).unwrap();
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
        created.write(vec![batch]).with_commit_properties(actor.commit_properties("commit-42", None)).await.unwrap();

        let table = crate::table::open(&Default::default(), &location, TimeTravel::Latest).await.unwrap();
        assert_eq!(committed(&table, 0, "commit-42").await.unwrap(), Some(1));
        assert_eq!(committed(&table, 0, "never-made").await.unwrap(), None);
        assert_eq!(committed(&table, 1, "commit-42").await.unwrap(), None, "only commits after the read version count");
        let items = history(&table, 10, None).await.unwrap();
        assert_eq!(items.iter().map(|h| h.version).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(items[0].user_name.as_deref(), Some("ada@example.com"));
        assert!(!items[0].info.contains_key("lakewardCommitId"), "internal ids stay internal");
    }
}
