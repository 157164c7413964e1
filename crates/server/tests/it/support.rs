use std::time::Duration;

use lakeward_engine::Warehouse;
use lakeward_meta::secrets::ServerSecret;
use lakeward_server::{Limits, RunningServer, ServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub config: ServerConfig,
    // Held so that the server runs, and its data directory exists, as long as the test.
    _server: RunningServer,
    _dir: tempfile::TempDir,
}

/// A signed-in organisation admin.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub org_id: String,
    pub user_id: String,
    pub token: String,
}

pub const PASSWORD: &str = "correct horse battery";

/// The warehouse of a test server: a folder of its data directory, or, when
/// `LAKEWARD_TEST_WAREHOUSE` names an object-store prefix (`s3://bucket/prefix`, the store
/// configured by the standard `AWS_*` variables), a fresh prefix under it: the data-plane
/// tests run a second time that way in `scripts/test.sh`.
fn test_warehouse(dir: &std::path::Path) -> Warehouse {
    match std::env::var("LAKEWARD_TEST_WAREHOUSE") {
        Ok(root) => Warehouse::parse(&format!("{}/{}/", root.trim_end_matches('/'), uuid::Uuid::new_v4())).unwrap(),
        Err(_) => Warehouse::parse(&format!("file://{}/warehouse/", dir.display())).unwrap(),
    }
}

/// With `LAKEWARD_TEST_METADATA_URL` set to a PostgreSQL URL, a new database beside the one
/// it names, for one test server: `scripts/test.sh` runs the server's tests a second time
/// with their metadata on PostgreSQL.
async fn test_postgres_database() -> Option<String> {
    use sqlx::Connection as _;
    let admin = std::env::var("LAKEWARD_TEST_METADATA_URL").ok()?;
    sqlx::any::install_default_drivers();
    let name = format!("lakeward_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}

pub fn test_config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        flight_listen: Some("127.0.0.1:0".parse().unwrap()),
        flight_tls: None,
        data_dir: dir.to_path_buf(),
        warehouse: test_warehouse(dir),
        database_url: format!("sqlite://{}?mode=rwc", dir.join("meta.db").display()),
        migrate_on_start: true,
        secret: ServerSecret::generate(),
        allow_signup: true,
        session_ttl: Duration::from_secs(3600),
        invite_ttl: Duration::from_secs(3600),
        // Generous by default; the rate-limit tests set their own.
        limits: Limits { rate_limit_per_minute: 100_000, auth_rate_limit_per_minute: 100_000, ..Limits::default() },
        trusted_proxies: Vec::new(),
        webhooks: Default::default(),
        metrics_public: false,
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        if let Some(url) = test_postgres_database().await {
            config.database_url = url;
        }
        adjust(&mut config);
        let server = lakeward_server::start(config.clone()).await.unwrap();
        let base = format!("http://{}", server.addr);
        Self { base, client: reqwest::Client::new(), config, _server: server, _dir: dir }
    }

    /// Stops the server and starts it again on the same data directory and secret (so
    /// tokens stay valid), with its configuration changed by `adjust`, on a new port.
    pub async fn restart_with(self, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let Self { mut config, _server: server, _dir: dir, .. } = self;
        server.shutdown().await.unwrap();
        adjust(&mut config);
        let server = lakeward_server::start(config.clone()).await.unwrap();
        let base = format!("http://{}", server.addr);
        Self { base, client: reqwest::Client::new(), config, _server: server, _dir: dir }
    }

    /// The Flight SQL address, as a gRPC URL.
    pub fn flight_url(&self) -> String {
        format!("http://{}", self._server.flight_addr.expect("Flight SQL is on in tests"))
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and returns the status and the JSON body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn onboard(&self, org: &str, email: &str) -> Tenant {
        let (status, body) = self
            .post("/v1/auth/onboard", None, json!({ "email": email, "password": PASSWORD, "organisation_name": org }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Tenant {
            org_id: body["organisation"]["id"].as_str().unwrap().to_owned(),
            user_id: body["user"]["id"].as_str().unwrap().to_owned(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.post("/v1/auth/login", None, json!({ "email": email, "password": password })).await
    }

    /// Invites `email` with `role` into the admin's organisation, accepts, and returns
    /// the new member signed in.
    pub async fn add_member(&self, admin: &Tenant, email: &str, role: &str) -> Tenant {
        let (status, invite) = self
            .post(
                &format!("/v1/organisations/{}/invite", admin.org_id),
                Some(&admin.token),
                json!({ "email": email, "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{invite}");
        let (status, accepted) = self
            .post("/v1/auth/accept-invite", None, json!({ "token": invite["invite_token"], "password": PASSWORD }))
            .await;
        assert_eq!(status, StatusCode::OK, "{accepted}");
        Tenant {
            org_id: admin.org_id.clone(),
            user_id: accepted["user"]["id"].as_str().unwrap().to_owned(),
            token: accepted["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates an API key with `body` as the request and returns (plaintext, id).
    pub async fn create_key(&self, token: &str, body: Value) -> (String, String) {
        let (status, created) = self.post("/v1/api-keys", Some(token), body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        (created["key"].as_str().unwrap().to_owned(), created["api_key"]["id"].as_str().unwrap().to_owned())
    }
}

/// The exact error body, with optional extras (`details`, `requiredScope`, ...).
pub fn error(status: u16, error: &str, message: &str) -> Value {
    json!({ "statusCode": status, "error": error, "message": message })
}

pub fn unauthorized() -> Value {
    error(401, "Unauthorized", "Invalid or expired token")
}

/// The plain 404: for ids, and anything another organisation may own.
pub fn not_found() -> Value {
    error(404, "Not Found", "Resource not found")
}

/// The 404 for a name in the caller's own namespace: `missing("table `main.crm.x`")`.
pub fn missing(what: &str) -> Value {
    error(404, "Not Found", &format!("{what} not found"))
}

/// The 403 naming `scope`; which roles hold it is written out here by hand, so that
/// tests do not re-derive the access model they check.
pub fn forbidden(scope: &str) -> Value {
    let held_by = match scope {
        "tables:query" | "tables:read" | "domains:read" | "org:read" | "connections:read" | "storage:read"
        | "objects:read" | "objects:download" => "every role",
        "tables:import" | "rows:insert" | "rows:update" | "rows:delete" => "editors, builders and admins",
        "tables:create" | "tables:modify" | "domains:write" | "apikeys:read" | "apikeys:create" | "apikeys:update"
        | "apikeys:revoke" | "webhooks:read" | "webhooks:write" | "connections:create" | "connections:delete"
        | "objects:delete" | "objects:upload" => "builders and admins",
        "org:update" | "audit:read" | "metrics:read" => "admins",
        other => panic!("no role table entry for scope {other}"),
    };
    let message = format!("Insufficient permissions: requires `{scope}`, held by {held_by}");
    json!({ "statusCode": 403, "error": "Forbidden", "message": message, "requiredScope": scope })
}

pub fn invalid(field: &str, message: &str) -> Value {
    json!({ "statusCode": 400, "error": "Bad Request", "message": "Validation failed",
            "details": [{ "field": field, "message": message }] })
}
