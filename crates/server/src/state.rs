//! What every handler shares.

use std::sync::Arc;

use lakeward_engine::Engine;
use lakeward_meta::MetaStore;

use crate::auth::Tokens;
use crate::config::ServerConfig;
use crate::rate_limit::RateLimits;

pub struct AppState {
    pub config: ServerConfig,
    pub meta: MetaStore,
    pub engine: Engine,
    pub tokens: Tokens,
    pub rate_limits: RateLimits,
    pub webhooks: std::sync::Arc<crate::webhooks::Webhooks>,
    pub metrics: crate::metrics::Metrics,
    /// The job runner: all long work runs through it.
    pub jobs: std::sync::Arc<crate::jobs::Jobs>,
    /// GraphQL schemas, one per organisation, rebuilt when its tables change.
    pub graphql: crate::graphql::SchemaCache,
    /// Serializes onboarding so that the `allow_signup` check and the insert are atomic.
    pub onboarding: tokio::sync::Mutex<()>,
}

pub type SharedState = Arc<AppState>;
