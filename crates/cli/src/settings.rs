//! Configuration: defaults, then `lakeward.toml`, then `LAKEWARD_*` environment
//! variables, then command-line flags; each later source wins. Resolved once here and
//! handed to the server.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use ipnet::IpNet;
use lakeward_engine::Warehouse;
use lakeward_meta::secrets::ServerSecret;
use lakeward_server::webhooks::WebhookConfig;
use lakeward_server::{Limits, ServerConfig};
use serde::Deserialize;

pub const DEFAULT_DATA_DIR: &str = "./lakeward-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_FLIGHT_LISTEN: &str = "127.0.0.1:8082";
const SECRET_FILE: &str = "secret.key";

/// Options shared by `serve` and `admin`. Every option can also be set in the config
/// file (same name, snake_case) or the environment (`LAKEWARD_` + upper case).
#[derive(Debug, Default, Clone, Args)]
pub struct ConfigArgs {
    /// Config file [default: ./lakeward.toml if it exists]
    #[arg(long, env = "LAKEWARD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the metadata database, the secret and the default warehouse [default: ./lakeward-data]
    #[arg(long, env = "LAKEWARD_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "LAKEWARD_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Address for Arrow Flight SQL (gRPC), or `off` [default: 127.0.0.1:8082]
    #[arg(long, env = "LAKEWARD_FLIGHT_LISTEN", global = true)]
    pub flight_listen: Option<String>,
    /// PEM certificate chain for Flight SQL over TLS (with --flight-tls-key)
    #[arg(long, env = "LAKEWARD_FLIGHT_TLS_CERT", global = true)]
    pub flight_tls_cert: Option<PathBuf>,
    /// PEM private key for Flight SQL over TLS (with --flight-tls-cert)
    #[arg(long, env = "LAKEWARD_FLIGHT_TLS_KEY", global = true)]
    pub flight_tls_key: Option<PathBuf>,
    /// Where managed tables live: a local folder as a file:// URL, or an object store as
    /// s3://bucket/prefix, az://container/prefix or gs://bucket/prefix, configured by the
    /// standard variables: S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
    /// AWS_REGION, AWS_ENDPOINT_URL (S3-compatible stores), AWS_ALLOW_HTTP=true (plain
    /// http); Azure: AZURE_STORAGE_ACCOUNT_NAME, AZURE_STORAGE_ACCOUNT_KEY (or
    /// AZURE_STORAGE_SAS_KEY, AZURE_STORAGE_TOKEN), AZURE_STORAGE_ENDPOINT, AZURE_ALLOW_HTTP;
    /// GCS: GOOGLE_SERVICE_ACCOUNT (key file) or GOOGLE_SERVICE_ACCOUNT_KEY (its JSON).
    /// Commits are conditional puts, so several servers may write one table without a lock
    /// service [default: file://<data-dir>/warehouse/]
    #[arg(long, env = "LAKEWARD_WAREHOUSE", global = true)]
    pub warehouse: Option<String>,
    /// Metadata database URL: `sqlite://<path>?mode=rwc` or
    /// `postgres://user:password@host:port/database` (replicas share one PostgreSQL);
    /// LAKEWARD_DATABASE_URL is read too [default: sqlite://<data-dir>/lakeward.db]
    #[arg(long = "metadata-url", visible_alias = "database-url", env = "LAKEWARD_METADATA_URL", global = true)]
    pub database_url: Option<String>,
    /// Apply pending metadata migrations at start-up; with false, `lakeward serve` refuses
    /// to start on an outdated database and `lakeward migrate` applies them [default: true]
    #[arg(long, env = "LAKEWARD_MIGRATE_ON_START", global = true)]
    pub migrate_on_start: Option<bool>,
    /// Server secret (at least 32 characters) keying API-key hashes and session tokens [default: generated once into <data-dir>/secret.key]
    #[arg(long, env = "LAKEWARD_SECRET", global = true, hide_env_values = true)]
    pub secret: Option<String>,
    /// Allow onboarding further organisations once one exists [default: false]
    #[arg(long, env = "LAKEWARD_ALLOW_SIGNUP", global = true)]
    pub allow_signup: Option<bool>,
    /// Lifetime of session tokens, in seconds [default: 3600]
    #[arg(long, env = "LAKEWARD_SESSION_TTL_SECS", global = true)]
    pub session_ttl_secs: Option<u64>,
    /// Lifetime of invitation tokens, in seconds [default: 604800]
    #[arg(long, env = "LAKEWARD_INVITE_TTL_SECS", global = true)]
    pub invite_ttl_secs: Option<u64>,
    /// Proxies whose X-Forwarded-For is trusted, as IPs or CIDRs, comma-separated [default: none]
    #[arg(long, env = "LAKEWARD_TRUSTED_PROXIES", global = true, value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<IpNet>>,
    /// Largest request body, in bytes [default: 10485760]
    #[arg(long, env = "LAKEWARD_MAX_BODY_BYTES", global = true)]
    pub max_body_bytes: Option<usize>,
    /// Largest body for row writes and imports, in bytes [default: 1073741824]
    #[arg(long, env = "LAKEWARD_MAX_UPLOAD_BYTES", global = true)]
    pub max_upload_bytes: Option<usize>,
    /// Requests per minute per API key, user or anonymous client address [default: 60]
    #[arg(long, env = "LAKEWARD_RATE_LIMIT_PER_MINUTE", global = true)]
    pub rate_limit_per_minute: Option<u32>,
    /// Requests per minute to /v1/auth/* per caller [default: 10]
    #[arg(long, env = "LAKEWARD_AUTH_RATE_LIMIT_PER_MINUTE", global = true)]
    pub auth_rate_limit_per_minute: Option<u32>,
    /// Longest a query may run, in seconds [default: 60]
    #[arg(long, env = "LAKEWARD_QUERY_TIMEOUT_SECS", global = true)]
    pub query_timeout_secs: Option<u64>,
    /// Memory one query may use, in MiB [default: 1024]
    #[arg(long, env = "LAKEWARD_MEMORY_LIMIT_MB", global = true)]
    pub memory_limit_mb: Option<u64>,
    /// Shortest vacuum retention accepted without `force`, in hours [default: 168]
    #[arg(long, env = "LAKEWARD_VACUUM_MIN_RETENTION_HOURS", global = true)]
    pub vacuum_min_retention_hours: Option<u64>,
    /// Longest a webhook receiver may take to answer, in seconds [default: 10]
    #[arg(long, env = "LAKEWARD_WEBHOOK_TIMEOUT_SECS", global = true)]
    pub webhook_timeout_secs: Option<u64>,
    /// Wait before a failed webhook delivery's first retry, in seconds; doubles each time [default: 5]
    #[arg(long, env = "LAKEWARD_WEBHOOK_RETRY_SECS", global = true)]
    pub webhook_retry_secs: Option<u64>,
    /// Attempts before a webhook delivery is given up [default: 8]
    #[arg(long, env = "LAKEWARD_WEBHOOK_MAX_ATTEMPTS", global = true)]
    pub webhook_max_attempts: Option<u32>,
    /// Let webhooks target loopback, private and link-local addresses, i.e. the server's own network [default: false]
    #[arg(long, env = "LAKEWARD_WEBHOOK_ALLOW_PRIVATE_TARGETS", global = true)]
    pub webhook_allow_private_targets: Option<bool>,
    /// Serve GET /metrics without credentials or rate limit, for a scraper on a network only operators reach (`--metrics-public` alone means `=true`) [default: false: an admin's metrics:read is needed]
    #[arg(long, env = "LAKEWARD_METRICS_PUBLIC", global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub metrics_public: Option<bool>,
}

/// `lakeward.toml`. Unknown keys are an error, so that a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    flight_listen: Option<String>,
    flight_tls_cert: Option<PathBuf>,
    flight_tls_key: Option<PathBuf>,
    warehouse: Option<String>,
    #[serde(alias = "metadata_url")]
    database_url: Option<String>,
    migrate_on_start: Option<bool>,
    secret: Option<String>,
    allow_signup: Option<bool>,
    session_ttl_secs: Option<u64>,
    invite_ttl_secs: Option<u64>,
    trusted_proxies: Option<Vec<IpNet>>,
    metrics_public: Option<bool>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    webhooks: FileWebhooks,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebhooks {
    timeout_secs: Option<u64>,
    retry_secs: Option<u64>,
    max_attempts: Option<u32>,
    allow_private_targets: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_body_bytes: Option<usize>,
    max_upload_bytes: Option<usize>,
    rate_limit_per_minute: Option<u32>,
    auth_rate_limit_per_minute: Option<u32>,
    query_timeout_secs: Option<u64>,
    memory_limit_mb: Option<u64>,
    vacuum_min_retention_hours: Option<u64>,
}

fn read_file_config(args: &ConfigArgs) -> anyhow::Result<FileConfig> {
    let (path, required) = match &args.config {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from("lakeward.toml"), false),
    };
    match fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(FileConfig::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read config file {}", path.display())),
    }
}

/// Resolves the configuration and prepares the data directory (creating it, and the
/// server secret on first start).
pub fn resolve(args: &ConfigArgs) -> anyhow::Result<ServerConfig> {
    let file = read_file_config(args)?;
    let data_dir = args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    fs::create_dir_all(&data_dir).with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize()?;

    let warehouse_url = match args.warehouse.clone().or(file.warehouse) {
        Some(url) => url,
        None => {
            let dir = data_dir.join("warehouse");
            fs::create_dir_all(&dir)?;
            url::Url::from_directory_path(&dir)
                .map_err(|_| anyhow::anyhow!("data directory is not an absolute path"))?
                .to_string()
        }
    };
    let warehouse = Warehouse::parse(&warehouse_url)?;
    let database_url = args
        .database_url
        .clone()
        .or_else(|| std::env::var("LAKEWARD_DATABASE_URL").ok())
        .or(file.database_url)
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("lakeward.db").display()));
    let secret = match args.secret.clone().or(file.secret) {
        Some(given) => {
            if given.len() < 32 {
                bail!("the server secret must be at least 32 characters");
            }
            ServerSecret::new(given.into_bytes())
        }
        None => load_or_create_secret(&data_dir)?,
    };
    let defaults = Limits::default();
    let fl = file.limits;
    let limits = Limits {
        max_body_bytes: args.max_body_bytes.or(fl.max_body_bytes).unwrap_or(defaults.max_body_bytes),
        max_upload_bytes: args.max_upload_bytes.or(fl.max_upload_bytes).unwrap_or(defaults.max_upload_bytes),
        rate_limit_per_minute: args
            .rate_limit_per_minute
            .or(fl.rate_limit_per_minute)
            .unwrap_or(defaults.rate_limit_per_minute),
        auth_rate_limit_per_minute: args
            .auth_rate_limit_per_minute
            .or(fl.auth_rate_limit_per_minute)
            .unwrap_or(defaults.auth_rate_limit_per_minute),
        query_timeout: args
            .query_timeout_secs
            .or(fl.query_timeout_secs)
            .map(Duration::from_secs)
            .unwrap_or(defaults.query_timeout),
        memory_limit_bytes: args
            .memory_limit_mb
            .or(fl.memory_limit_mb)
            .map(|mb| mb * 1024 * 1024)
            .unwrap_or(defaults.memory_limit_bytes),
        vacuum_min_retention_hours: args
            .vacuum_min_retention_hours
            .or(fl.vacuum_min_retention_hours)
            .unwrap_or(defaults.vacuum_min_retention_hours),
    };
    if limits.rate_limit_per_minute == 0 || limits.auth_rate_limit_per_minute == 0 {
        bail!("rate limits must be at least 1 request per minute");
    }
    let default_hooks = WebhookConfig::default();
    let webhooks = WebhookConfig {
        timeout: args
            .webhook_timeout_secs
            .or(file.webhooks.timeout_secs)
            .map(Duration::from_secs)
            .unwrap_or(default_hooks.timeout),
        retry_base: args
            .webhook_retry_secs
            .or(file.webhooks.retry_secs)
            .map(Duration::from_secs)
            .unwrap_or(default_hooks.retry_base),
        max_attempts: args.webhook_max_attempts.or(file.webhooks.max_attempts).unwrap_or(default_hooks.max_attempts),
        allow_private_targets: args
            .webhook_allow_private_targets
            .or(file.webhooks.allow_private_targets)
            .unwrap_or(default_hooks.allow_private_targets),
    };
    if webhooks.max_attempts == 0 || webhooks.timeout.is_zero() {
        bail!("webhook timeout and max attempts must be at least 1");
    }
    let flight_listen = match args.flight_listen.clone().or(file.flight_listen.clone()) {
        None => Some(DEFAULT_FLIGHT_LISTEN.parse().expect("valid default")),
        Some(v) if v.trim().eq_ignore_ascii_case("off") => None,
        Some(v) => {
            Some(v.trim().parse().map_err(|_| anyhow::anyhow!("flight listen address `{v}`: give host:port or off"))?)
        }
    };
    let flight_tls = match (
        args.flight_tls_cert.clone().or(file.flight_tls_cert.clone()),
        args.flight_tls_key.clone().or(file.flight_tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => bail!("Flight SQL over TLS needs both --flight-tls-cert and --flight-tls-key"),
    };
    Ok(ServerConfig {
        listen: args.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
        flight_listen,
        flight_tls,
        data_dir,
        warehouse,
        database_url,
        migrate_on_start: args.migrate_on_start.or(file.migrate_on_start).unwrap_or(true),
        secret,
        allow_signup: args.allow_signup.or(file.allow_signup).unwrap_or(false),
        session_ttl: Duration::from_secs(args.session_ttl_secs.or(file.session_ttl_secs).unwrap_or(3600)),
        invite_ttl: Duration::from_secs(args.invite_ttl_secs.or(file.invite_ttl_secs).unwrap_or(7 * 24 * 3600)),
        limits,
        trusted_proxies: args.trusted_proxies.clone().or(file.trusted_proxies).unwrap_or_default(),
        webhooks,
        metrics_public: args.metrics_public.or(file.metrics_public).unwrap_or(false),
    })
}

/// The secret lives in `<data-dir>/secret.key`, readable only by its owner.
fn load_or_create_secret(data_dir: &Path) -> anyhow::Result<ServerSecret> {
    let path = data_dir.join(SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => ServerSecret::from_hex(&text).with_context(|| format!("{} is not a valid secret", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = ServerSecret::generate();
            write_private(&path, &secret.to_hex())?;
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// The resolved configuration as JSON for `lakeward config`; the secret is left out.
pub fn describe(config: &ServerConfig) -> serde_json::Value {
    serde_json::json!({
        "listen": config.listen.to_string(),
        "flight_listen": config.flight_listen.map_or("off".to_owned(), |a| a.to_string()),
        "flight_tls": config.flight_tls.is_some(),
        "data_dir": config.data_dir.display().to_string(),
        "warehouse": config.warehouse.root().as_str(),
        "database_url": without_password(&config.database_url),
        "migrate_on_start": config.migrate_on_start,
        "allow_signup": config.allow_signup,
        "session_ttl_secs": config.session_ttl.as_secs(),
        "invite_ttl_secs": config.invite_ttl.as_secs(),
        "trusted_proxies": config.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "metrics_public": config.metrics_public,
        "limits": {
            "max_body_bytes": config.limits.max_body_bytes,
            "max_upload_bytes": config.limits.max_upload_bytes,
            "rate_limit_per_minute": config.limits.rate_limit_per_minute,
            "auth_rate_limit_per_minute": config.limits.auth_rate_limit_per_minute,
            "query_timeout_secs": config.limits.query_timeout.as_secs(),
            "memory_limit_mb": config.limits.memory_limit_bytes / (1024 * 1024),
            "vacuum_min_retention_hours": config.limits.vacuum_min_retention_hours,
        },
        "webhooks": {
            "timeout_secs": config.webhooks.timeout.as_secs(),
            "retry_secs": config.webhooks.retry_base.as_secs(),
            "max_attempts": config.webhooks.max_attempts,
            "allow_private_targets": config.webhooks.allow_private_targets,
        },
    })
}

/// A database URL with its password, if any, masked: `describe` never prints a secret.
fn without_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => raw.to_owned(),
    }
}
