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
    pub fn commit_properties(&self, commit_id: &str, idempotency_app_id: Option<&str>) -> CommitProperties {
        let props = CommitProperties::default().with_max_retries(0).with_metadata([
            ("userId".to_owned(), serde_json::json!(self.user_id)),
            ("userName".to_owned(), serde_json::json!(self.user_name)),
            ("lakewardCommitId".to_owned(), serde_json::json!(commit_id)),
        ]);
        match idempotency_app_id {
            Some(app_id) => props.with_application_transaction(Transaction::new(app_id, 1)),
            None => props,
        }
    }
}

/// The Delta application-transaction id an idempotency key is recorded under.
pub fn idempotency_app_id(key: &str) -> String {
    format!("lakeward-idempotency-{key}")
}
