//! The server's resolved configuration. Loading it (defaults, file, environment, flags)
//! is the binary's job; the server is handed the result and reads no globals.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use lakeward_engine::Warehouse;
use lakeward_meta::secrets::ServerSecret;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where Flight SQL (gRPC) listens; `None`: it does not.
    pub flight_listen: Option<SocketAddr>,
    /// A certificate chain and its private key (PEM files): Flight SQL then speaks TLS only.
    pub flight_tls: Option<(PathBuf, PathBuf)>,
    pub data_dir: PathBuf,
    pub warehouse: Warehouse,
    /// `sqlite://<path>?mode=rwc`.
    pub database_url: String,
    /// Apply pending metadata migrations at start-up (else refuse to start on an outdated
    /// database: `lakeward migrate` applies them).
    pub migrate_on_start: bool,
    pub secret: ServerSecret,
    /// Whether anyone may onboard a new organisation once one exists.
    pub allow_signup: bool,
    /// Lifetime of a session token from `POST /v1/auth/login`.
    pub session_ttl: Duration,
    /// Lifetime of an invitation's acceptance token.
    pub invite_ttl: Duration,
    pub limits: Limits,
    /// Peers whose `X-Forwarded-For` is believed. Requests from anyone else are
    /// attributed to the connecting address, whatever headers they carry.
    pub trusted_proxies: Vec<IpNet>,
    pub webhooks: crate::webhooks::WebhookConfig,
    /// Whether `GET /metrics` answers without credentials (and without a rate limit), for
    /// a scraper that reaches the server on a network only operators can. Otherwise it
    /// needs an admin's `metrics:read`.
    pub metrics_public: bool,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// Largest body for row writes and imports (CSV, NDJSON, Arrow).
    pub max_upload_bytes: usize,
    /// Requests per minute per API key, user, or (anonymous) client address.
    pub rate_limit_per_minute: u32,
    /// Requests per minute on `/v1/auth/*`, stricter to slow down password guessing.
    pub auth_rate_limit_per_minute: u32,
    /// Longest a query may run before it is cancelled.
    pub query_timeout: Duration,
    /// Memory a query may use before it is refused.
    pub memory_limit_bytes: u64,
    /// The shortest retention a vacuum accepts without `force` (Delta's default: 7 days).
    pub vacuum_min_retention_hours: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 10 * 1024 * 1024,
            max_upload_bytes: 1024 * 1024 * 1024,
            rate_limit_per_minute: 60,
            auth_rate_limit_per_minute: 10,
            query_timeout: Duration::from_secs(60),
            memory_limit_bytes: 1024 * 1024 * 1024,
            vacuum_min_retention_hours: 168,
        }
    }
}
