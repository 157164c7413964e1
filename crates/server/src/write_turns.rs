//! Replicas on one PostgreSQL take turns at writing a table (the engine's
//! [`WriteTurns`], held by the metadata store's advisory locks), so that their commits
//! follow each other instead of colliding.

use futures::future::BoxFuture;
use lakeward_engine::WriteTurns;
use lakeward_meta::MetaStore;
use url::Url;

pub(crate) struct SharedWriteTurns(pub MetaStore);

impl WriteTurns for SharedWriteTurns {
    fn take(&self, location: &Url) -> BoxFuture<'static, Option<Box<dyn Send>>> {
        let meta = self.0.clone();
        let table = location.to_string();
        Box::pin(async move {
            match meta.write_turn(&table).await {
                Ok(turn) => turn.map(|t| Box::new(t) as Box<dyn Send>),
                Err(err) => {
                    // Only a courtesy: the commit protocol keeps the write correct without.
                    tracing::debug!(%err, "writing without a turn");
                    None
                }
            }
        })
    }
}
