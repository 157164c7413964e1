//! Operations metrics, served by `GET /metrics` in the Prometheus text format (or
//! OpenMetrics when the scraper asks for it): HTTP requests by route template, method and
//! status, their latency, requests in flight, rate-limited requests, webhook delivery
//! attempts by outcome, the engine's commits, conflicts, redos, group commits and query
//! memory, and, read from the metadata store at each scrape, jobs by kind
//! and status and webhook deliveries by status.
//!
//! Labels are route templates (`/v1/tables/{catalog}/{schema}/{table}/rows`) and fixed
//! words, never raw paths, names or ids, so the number of series stays bounded whatever
//! clients send. The metrics are the whole server's: they count every organisation's
//! requests together and name none.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use lakeward_engine::{Engine, EngineStats};
use lakeward_meta::{MetaResult, MetaStore};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::state::SharedState;

/// The `route` of requests that matched no route (answered 404 by the fallback).
const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency buckets, in seconds: 1 ms to the default query timeout.
const LATENCY_BUCKETS: [f64; 16] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallerLabels {
    caller: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

/// Who a rate-limited request was charged to.
#[derive(Debug, Clone, Copy)]
pub enum Caller {
    ApiKey,
    User,
    /// No credential, or one that failed: the client address's budget.
    Anonymous,
}

/// How one webhook delivery attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Delivered,
    /// Failed, and will be tried again.
    Retrying,
    /// Failed for the last time: the delivery is given up.
    Failed,
}

/// Webhook delivery attempts by outcome; the webhook dispatcher counts into it.
#[derive(Debug, Clone, Default)]
pub struct DeliveryAttempts(Family<OutcomeLabels, Counter>);

impl DeliveryAttempts {
    pub fn count(&self, outcome: Outcome) {
        let outcome = match outcome {
            Outcome::Delivered => "delivered",
            Outcome::Retrying => "retrying",
            Outcome::Failed => "failed",
        };
        self.0.get_or_create(&OutcomeLabels { outcome }).inc();
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    rate_limited: Family<CallerLabels, Counter>,
    jobs: Family<JobLabels, Gauge>,
    deliveries: Family<StatusLabels, Gauge>,
    engine: EngineMetrics,
    /// One scrape at a time: the store-read gauges are cleared and refilled for each.
    scrape: tokio::sync::Mutex<()>,
}

impl Metrics {
    pub fn new(delivery_attempts: &DeliveryAttempts) -> Self {
        let mut registry = Registry::with_prefix("lakeward");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status code",
            requests.clone(),
        );
        let latency: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response's headers, by method and route template",
            Unit::Seconds,
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register("http_requests_in_flight", "HTTP requests being handled now", in_flight.clone());
        let rate_limited = Family::<CallerLabels, Counter>::default();
        registry.register(
            "rate_limited_requests",
            "Requests refused with 429, by the budget charged: api_key, user or anonymous (the address)",
            rate_limited.clone(),
        );
        registry.register(
            "webhook_delivery_attempts",
            "Webhook delivery attempts by outcome: delivered, retrying (failed, tried again later) or failed (given up)",
            delivery_attempts.0.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register("jobs", "Jobs recorded, by kind and status", jobs.clone());
        let deliveries = Family::<StatusLabels, Gauge>::default();
        registry.register("webhook_deliveries", "Webhook deliveries kept, by status", deliveries.clone());
        let engine = EngineMetrics::register(&mut registry);
        Self {
            registry,
            engine,
            requests,
            latency,
            in_flight,
            rate_limited,
            jobs,
            deliveries,
            scrape: tokio::sync::Mutex::new(()),
        }
    }

    pub fn rate_limited(&self, caller: Caller) {
        let caller = match caller {
            Caller::ApiKey => "api_key",
            Caller::User => "user",
            Caller::Anonymous => "anonymous",
        };
        self.rate_limited.get_or_create(&CallerLabels { caller }).inc();
    }

    /// The exposition: OpenMetrics if `openmetrics`, else the Prometheus text format.
    pub async fn render(&self, meta: &MetaStore, engine: &Engine, openmetrics: bool) -> MetaResult<String> {
        let _one_at_a_time = self.scrape.lock().await;
        self.engine.update(engine.stats());
        let jobs = meta.count_jobs().await?;
        let deliveries = meta.count_deliveries().await?;
        self.jobs.clear();
        for (kind, status, n) in jobs {
            self.jobs.get_or_create(&JobLabels { kind, status }).set(n);
        }
        self.deliveries.clear();
        for (status, n) in deliveries {
            self.deliveries.get_or_create(&StatusLabels { status }).set(n);
        }
        let mut out = String::new();
        let written = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        };
        written.expect("writing to a String cannot fail");
        Ok(out)
    }
}

/// The engine's own counters (`Engine::stats`), brought up to date at each scrape.
struct EngineMetrics {
    commits: Counter,
    conflicts: Counter,
    redos: Counter,
    group_commits: Counter,
    grouped_inserts: Counter,
    key_index_builds: Counter,
    query_memory: Gauge,
}

impl EngineMetrics {
    fn register(registry: &mut Registry) -> Self {
        let m = EngineMetrics {
            commits: Counter::default(),
            conflicts: Counter::default(),
            redos: Counter::default(),
            group_commits: Counter::default(),
            grouped_inserts: Counter::default(),
            key_index_builds: Counter::default(),
            query_memory: Gauge::default(),
        };
        registry.register("engine_commits", "Delta commits the engine made", m.commits.clone());
        registry.register(
            "engine_commit_conflicts",
            "Commits that did not land because another writer committed first",
            m.conflicts.clone(),
        );
        registry.register("engine_redos", "Operations redone on a table's new state after a conflict", m.redos.clone());
        registry.register("engine_group_commits", "Group commits of concurrent inserts", m.group_commits.clone());
        registry.register(
            "engine_grouped_inserts",
            "Insert requests carried by group commits (over engine_group_commits_total: the mean group size)",
            m.grouped_inserts.clone(),
        );
        registry.register(
            "engine_key_index_builds",
            "Primary-key indexes built from a whole table's keys, not caught up with the commits since",
            m.key_index_builds.clone(),
        );
        registry.register_with_unit(
            "engine_query_memory",
            "Memory queries hold in the engine's memory pool now",
            Unit::Bytes,
            m.query_memory.clone(),
        );
        m
    }

    fn update(&self, stats: EngineStats) {
        let catch_up = |counter: &Counter, total: u64| counter.inc_by(total.saturating_sub(counter.get()));
        catch_up(&self.commits, stats.commits);
        catch_up(&self.conflicts, stats.conflicts);
        catch_up(&self.redos, stats.redos);
        catch_up(&self.group_commits, stats.group_commits);
        catch_up(&self.grouped_inserts, stats.grouped_inserts);
        catch_up(&self.key_index_builds, stats.key_index_builds);
        self.query_memory.set(stats.query_memory_bytes as i64);
    }
}

pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const PROMETHEUS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Methods as labels: the standard ones by name, anything else as `other`, so that a
/// client inventing methods cannot add series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Decrements the in-flight gauge however the request ends (also when it is dropped).
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The middleware that counts and times every request, around the gate (so refusals for
/// credentials or rate limits are counted too). It runs after routing, so the matched
/// route template is known.
pub async fn track(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let metrics = &state.metrics;
    let route = req.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str).to_owned();
    let method = method_label(req.method());
    metrics.in_flight.inc();
    let _in_flight = InFlight(metrics.in_flight.clone());
    let started = Instant::now();
    let response = next.run(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    metrics.latency.get_or_create(&RouteLabels { method, route: route.clone() }).observe(elapsed);
    metrics.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    response
}
