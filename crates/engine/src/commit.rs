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
    pub fn commit_properties(&self, commit_id: &str, idempotency_app_id: Option<&str>) -> CommitProperties {
        let props = CommitProperties::default().with_metadata([
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
