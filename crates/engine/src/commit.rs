//! Who a commit is by, recorded in the Delta commit itself so that any Delta reader's
//! history shows it.

use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;

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
    pub fn commit_properties(&self, commit_id: &str, idempotency: Option<Transaction>) -> CommitProperties {
        let props = CommitProperties::default().with_max_retries(0).with_metadata(self.metadata(commit_id));
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
        CommitProperties::default().with_max_retries(0).with_metadata(metadata).with_application_transactions(
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
