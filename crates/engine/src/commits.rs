//! The commits this process writes, announced the moment their log entry is written.
//!
//! A replica that did not write a table learns of a new version on its next request, by
//! probing for the next commit file, and then brings its cached state up to date (a
//! snapshot update delta-rs takes milliseconds for). Announced at once, before the writer
//! has even built its own new state, other replicas can bring theirs up to date in the
//! background ([`crate::ops::table::Refresh`]) while the writer answers, so that a read
//! right after a write elsewhere finds the state ready. The announcement is only a head
//! start: the probe on every request stays what guarantees reads see every acknowledged
//! write.
//!
//! Every Delta commit goes through a log store's `write_commit_entry`; Lakeward's log
//! stores ([`Announcing`]) pass each landed entry to a process-wide feed ([`feed`]).

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use deltalake::DeltaResult;
use deltalake::kernel::Version;
use deltalake::kernel::transaction::TransactionError;
use deltalake::logstore::{CommitOrBytes, LogStore, LogStoreConfig};
use object_store::ObjectStore;
use tokio::sync::broadcast;
use url::Url;
use uuid::Uuid;

/// A commit that landed: the table's location and the version it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub location: Url,
    pub version: u64,
}

/// How many announcements a slow subscriber may fall behind by before it misses some
/// (and is told so): it only loses head starts.
const FEED_CAPACITY: usize = 1024;

static FEED: LazyLock<broadcast::Sender<Landed>> = LazyLock::new(|| broadcast::channel(FEED_CAPACITY).0);

/// Every commit this process writes from now on, as it lands.
pub fn feed() -> broadcast::Receiver<Landed> {
    FEED.subscribe()
}

/// A log store that announces the entries it writes; everything else is the store it wraps.
pub(crate) struct Announcing(pub(crate) Arc<dyn LogStore>);

#[async_trait::async_trait]
impl LogStore for Announcing {
    fn name(&self) -> String {
        self.0.name()
    }

    async fn read_commit_entry(&self, version: Version) -> DeltaResult<Option<Bytes>> {
        self.0.read_commit_entry(version).await
    }

    async fn write_commit_entry(
        &self,
        version: Version,
        commit_or_bytes: CommitOrBytes,
        operation_id: Uuid,
    ) -> Result<(), TransactionError> {
        self.0.write_commit_entry(version, commit_or_bytes, operation_id).await?;
        // No subscriber is no error: the announcement is a courtesy.
        let _ = FEED.send(Landed { location: self.0.root_url().clone(), version });
        Ok(())
    }

    async fn abort_commit_entry(
        &self,
        version: Version,
        commit_or_bytes: CommitOrBytes,
        operation_id: Uuid,
    ) -> Result<(), TransactionError> {
        self.0.abort_commit_entry(version, commit_or_bytes, operation_id).await
    }

    async fn get_latest_version(&self, start_version: Version) -> DeltaResult<Version> {
        self.0.get_latest_version(start_version).await
    }

    fn object_store(&self, operation_id: Option<Uuid>) -> Arc<dyn ObjectStore> {
        self.0.object_store(operation_id)
    }

    fn root_object_store(&self, operation_id: Option<Uuid>) -> Arc<dyn ObjectStore> {
        self.0.root_object_store(operation_id)
    }

    fn config(&self) -> &LogStoreConfig {
        self.0.config()
    }
}
