//! Replicas on one PostgreSQL announce their commits to each other (NOTIFY on the
//! metadata database), so that the others bring their cached state of the table up to
//! date in the background, while the writer is still answering, instead of in the next
//! request that reads it. Only a head start: each request still probes for newer commits.

use std::sync::Weak;
use std::time::Duration;

use lakeward_engine::ops::table::Refresh;
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use crate::state::AppState;

#[derive(Serialize, Deserialize)]
struct Announcement {
    /// The process that committed: it does not refresh on its own announcements.
    instance: Uuid,
    location: String,
    version: u64,
}

/// Announces this process's commits and listens for the others'. Nothing on SQLite.
pub(crate) fn spawn(state: Weak<AppState>, instance: Uuid) {
    let mut landed = lakeward_engine::commit_feed();
    let announcer = state.clone();
    tokio::spawn(async move {
        loop {
            let commit = match landed.recv().await {
                Ok(commit) => commit,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let Some(state) = announcer.upgrade() else { return };
            let announcement = Announcement { instance, location: commit.location.into(), version: commit.version };
            let payload = serde_json::to_string(&announcement).expect("serializable");
            if let Err(err) = state.meta.announce_commit(&payload).await {
                tracing::debug!(%err, "a commit was not announced");
            }
        }
    });
    tokio::spawn(async move {
        loop {
            let listener = match state.upgrade() {
                Some(state) => state.meta.commit_announcements().await,
                None => return,
            };
            let mut listener = match listener {
                Ok(Some(listener)) => listener,
                Ok(None) => return,
                Err(err) => {
                    tracing::debug!(%err, "listening for other replicas' commits failed; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            while let Ok(notification) = listener.recv().await {
                let Some(state) = state.upgrade() else { return };
                let Ok(heard) = serde_json::from_str::<Announcement>(notification.payload()) else { continue };
                let Ok(location) = Url::parse(&heard.location) else { continue };
                if heard.instance == instance {
                    continue;
                }
                tokio::spawn(async move {
                    let refresh = Refresh { location, version: heard.version };
                    if let Err(err) = state.engine.run(refresh).await {
                        tracing::debug!(%err, "refreshing a table another replica committed to failed");
                    }
                });
            }
        }
    });
}
