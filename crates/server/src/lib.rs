//! The HTTP API: routing, authentication and the one authorization call, the error
//! shape, rate limits, the audit trail, webhooks, operations metrics, and the OpenAPI
//! document.
//! [`start`] runs it; the `lakeward` binary decides the configuration.

pub mod config;

mod answer_format;
mod audit_log;
mod auth;
mod body_limit;
mod client_ip;
mod commit_feed;
mod console;
mod error;
mod error_shape;
mod flight;
mod gate;
mod graphql;
mod idempotency;
mod identity_views;
mod jobs;
mod json;
mod metrics;
mod openapi;
mod paging;
mod postgrest;
mod prefer;
mod query;
mod rate_limit;
mod routes;
mod services;
mod state;
mod table_access;
mod table_definition;
mod upload;
pub mod webhooks;
mod write_turns;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::serve::ListenerExt as _;
use lakeward_meta::MetaStore;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use config::{Limits, ServerConfig};
pub use error::ErrorBody;

use crate::auth::Tokens;
use crate::rate_limit::RateLimits;
use crate::state::{AppState, SharedState};

/// The application: every route and middleware, ready to serve.
pub fn app(state: SharedState) -> Router {
    let (router, mut api) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(routes::router(&state.config.limits))
        .merge(body_limit::limit(graphql::router(), state.config.limits.max_body_bytes))
        .split_for_parts();
    openapi::finish(&mut api);
    router
        .merge(SwaggerUi::new("/docs").url("/openapi.json", api))
        .merge(console::router())
        .fallback(error_shape::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), gate::gate))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .with_state(state)
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(error_shape::normalize_errors))
        .layer(CatchPanicLayer::new())
}

/// A server running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where Flight SQL listens, unless it is off.
    pub flight_addr: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    flight_shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    flight: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    dispatcher: JoinHandle<()>,
    /// For handing this process's job leases back at shutdown.
    meta: MetaStore,
    instance_id: uuid::Uuid,
}

impl RunningServer {
    /// Stops accepting connections, lets in-flight requests finish, stops sending
    /// webhooks (a delivery cut short is sent again once its lease expires), and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(tx) = self.flight_shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(flight) = self.flight.take() {
            flight.await??;
        }
        let served = self.task.await;
        self.dispatcher.abort();
        hand_back_job_leases(&self.meta, self.instance_id).await;
        served??;
        Ok(())
    }
}

/// The metadata store, its schema brought up to date, or (without `migrate_on_start`)
/// checked to be.
async fn open_metadata(config: &ServerConfig) -> anyhow::Result<MetaStore> {
    if config.migrate_on_start {
        return MetaStore::connect(&config.database_url).await;
    }
    let meta = MetaStore::open(&config.database_url).await?;
    let pending = meta.pending_migrations().await?;
    anyhow::ensure!(
        pending.is_empty(),
        "the metadata database lacks {} migration(s) of this release: run `lakeward migrate` first \
         (or start with --migrate-on-start true)",
        pending.len()
    );
    Ok(meta)
}

/// Opens the metadata store, binds the listener and starts serving.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let meta = open_metadata(&config).await?;
    // Jobs whose process stopped (their lease expired) can no longer finish; those of
    // another live server on the same database are within their lease and stay.
    fail_abandoned_jobs(&meta).await;
    // This process's id, recorded with every job it runs.
    let instance_id = uuid::Uuid::now_v7();
    let jobs = jobs::Jobs::new(meta.clone(), instance_id);
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let flight_listener = match config.flight_listen {
        Some(flight_addr) => Some(flight::bind(flight_addr).await?),
        None => None,
    };
    let flight_addr = flight_listener.as_ref().map(TcpListener::local_addr).transpose()?;
    let flight_tls = config.flight_tls.as_ref().map(flight::tls).transpose()?;
    let engine = lakeward_engine::Engine::new(lakeward_engine::EngineLimits {
        query_timeout: config.limits.query_timeout,
        memory_limit_bytes: config.limits.memory_limit_bytes,
    })
    .map_err(|e| anyhow::anyhow!("cannot start the query engine: {e}"))?;
    if meta.has_write_turns() {
        engine.share_write_turns(Arc::new(write_turns::SharedWriteTurns(meta.clone())));
    }
    if config.warehouse.root().scheme() == "file"
        && let Ok(folder) = config.warehouse.root().to_file_path()
    {
        // A local warehouse is the server's own: there from the start (readiness checks it).
        std::fs::create_dir_all(&folder)
            .map_err(|e| anyhow::anyhow!("cannot create the warehouse folder {}: {e}", folder.display()))?;
    }
    if lakeward_engine::OBJECT_STORE_SCHEMES.contains(&config.warehouse.root().scheme()) {
        let root = config.warehouse.root().clone();
        let config = lakeward_engine::StoreConfig::FromEnvironment(root.clone());
        engine
            .run(lakeward_engine::ops::storage::AttachStore { prefix: root, config })
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the warehouse's object store: {e}"))?;
    }
    let webhooks = webhooks::Webhooks::new(meta.clone(), &config.secret, config.webhooks.clone())?;
    let dispatcher = webhooks.spawn_dispatcher();
    let state: SharedState = Arc::new(AppState {
        engine,
        metrics: metrics::Metrics::new(webhooks.delivery_attempts()),
        webhooks,
        jobs,
        tokens: Tokens::new(&config.secret),
        rate_limits: RateLimits::new(&config.limits),
        graphql: Default::default(),
        onboarding: tokio::sync::Mutex::new(()),
        meta,
        config,
    });
    services::storages::attach_all(&state).await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    spawn_housekeeping(Arc::downgrade(&state));
    spawn_lease_keeper(Arc::downgrade(&state));
    if state.meta.backend() == lakeward_meta::store::Backend::Postgres {
        commit_feed::spawn(Arc::downgrade(&state), instance_id);
    }
    let (flight_shutdown, flight) = match flight_listener {
        Some(listener) => {
            let (tx, rx) = oneshot::channel::<()>();
            let task = tokio::spawn(flight::serve(state.clone(), listener, flight_tls, async move {
                let _ = rx.await;
            }));
            (Some(tx), Some(task))
        }
        None => (None, None),
    };
    let (tx, rx) = oneshot::channel::<()>();
    let meta = state.meta.clone();
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    // Responses are written in pieces (headers, then streamed chunks); without NODELAY,
    // Nagle's algorithm and the client's delayed ACK add ~40 ms to small answers.
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(%err, "cannot set TCP_NODELAY");
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, ?flight_addr, %instance_id, "lakeward listening");
    Ok(RunningServer {
        addr,
        flight_addr,
        shutdown: Some(tx),
        flight_shutdown,
        task,
        flight,
        dispatcher,
        meta,
        instance_id,
    })
}

/// Serves until `signal` resolves, then drains in-flight requests and returns.
pub async fn serve_until(config: ServerConfig, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
    let server = start(config).await?;
    signal.await;
    tracing::info!("shutting down: draining in-flight requests");
    server.shutdown().await
}

/// Periodic upkeep; ends when the server's state is dropped.
/// The jobs a stopping process still runs end with it: their leases are handed back
/// (expired now), so they are marked failed at once rather than when the lease runs out.
async fn hand_back_job_leases(meta: &MetaStore, instance_id: uuid::Uuid) {
    let now = chrono::Utc::now();
    match meta.renew_job_leases(instance_id, now - chrono::Duration::milliseconds(1)).await {
        Ok(0) => return,
        Ok(handed) => tracing::warn!(handed, "jobs still running at shutdown are marked failed"),
        Err(err) => tracing::warn!(%err, "handing back job leases failed"),
    }
    fail_abandoned_jobs(meta).await;
}

async fn fail_abandoned_jobs(meta: &MetaStore) {
    match meta.fail_abandoned_jobs(chrono::Utc::now()).await {
        Ok(0) => {}
        Ok(failed) => tracing::warn!(failed, "jobs whose server stopped were marked failed"),
        Err(err) => tracing::warn!(%err, "failing abandoned jobs failed"),
    }
}

/// Renews the leases of this process's jobs every third of a lease, and marks failed the
/// jobs of processes that stopped renewing theirs (any server does; the first one wins).
fn spawn_lease_keeper(state: std::sync::Weak<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(lakeward_meta::store::JOB_LEASE / 3);
        loop {
            tick.tick().await;
            let Some(state) = state.upgrade() else { return };
            let until = chrono::Utc::now() + lakeward_meta::store::JOB_LEASE;
            if let Err(err) = state.meta.renew_job_leases(state.jobs.instance_id(), until).await {
                tracing::warn!(%err, "renewing job leases failed");
            }
            fail_abandoned_jobs(&state.meta).await;
        }
    });
}

fn spawn_housekeeping(state: std::sync::Weak<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            let Some(state) = state.upgrade() else { return };
            state.rate_limits.forget_idle();
            if rounds.is_multiple_of(60)
                && let Err(err) = state.meta.prune_sessions().await
            {
                tracing::warn!(%err, "pruning expired sessions failed");
            }
            rounds += 1;
        }
    });
}
