//! Storage connections: what a connection is (its kind's fields, with the credentials
//! sealed under the server secret), where its tables live, testing it, attaching its store
//! to the engine, and discovering the tables it holds.
//!
//! Connections may not overlap: a connection's location (bucket or container, and base
//! path) must neither contain nor lie inside another connection's or the warehouse's, so
//! that exactly one set of credentials, of one organisation, serves any table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lakeward_engine::ops::storage::{CheckStore, Discover, Discovery, DiscoveryProgress, FoundTable, StoreCheck};
use lakeward_engine::{AzureConfig, GcsConfig, S3Config, Secret, StoreConfig, ops};
use lakeward_meta::EventKind;
use lakeward_meta::access::Principal;
use lakeward_meta::secrets;
use lakeward_meta::store::{JobProgress, StorageConnection, TableEntry};
use lakeward_model::{Ident, TableRef};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit_log::{self, Actor, Event};
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{JobHandle, JobKind, Owner};
use crate::state::AppState;

/// The kinds of connection, as stored and as `POST /v1/storages/{kind}` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    S3,
    Az,
    Gcs,
}

impl StorageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::S3 => "s3",
            StorageKind::Az => "az",
            StorageKind::Gcs => "gcs",
        }
    }

    fn parse(raw: &str) -> ApiResult<Self> {
        match raw {
            "s3" => Ok(StorageKind::S3),
            "az" => Ok(StorageKind::Az),
            "gcs" => Ok(StorageKind::Gcs),
            other => Err(ApiError::internal(format!("unknown storage kind `{other}`"))),
        }
    }

    /// The fields of the kind's request that are credentials: sealed, never returned.
    fn secret_fields(self) -> &'static [&'static str] {
        match self {
            StorageKind::S3 => &["accessKeyId", "secretKey", "sessionToken"],
            StorageKind::Az => &["accessKey", "sasToken", "bearerToken"],
            StorageKind::Gcs => &["serviceAccountKey"],
        }
    }
}

/// `POST /v1/storages/s3`: an S3 bucket or an S3-compatible store.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterS3Request {
    pub access_key_id: Option<String>,
    pub secret_key: Option<String>,
    pub session_token: Option<String>,
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    pub bucket_name: String,
    /// For S3-compatible stores (MinIO, Ceph, an emulator): `http(s)://host:port`.
    pub endpoint: Option<String>,
    #[serde(flatten)]
    pub common: CommonFields,
}

/// `POST /v1/storages/az`: an Azure Blob Storage / ADLS Gen2 container.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterAzRequest {
    pub account_name: String,
    pub container: String,
    pub access_key: Option<String>,
    pub sas_token: Option<String>,
    pub bearer_token: Option<String>,
    /// OneLake (Fabric) endpoints are not supported; `true` is refused.
    #[serde(default)]
    pub use_fabric_endpoint: bool,
    /// For the Azurite emulator or sovereign clouds, e.g. `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: Option<String>,
    #[serde(flatten)]
    pub common: CommonFields,
}

/// `POST /v1/storages/gcs`: a Google Cloud Storage bucket.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterGcsRequest {
    pub bucket: String,
    /// The service account key: the JSON document (as an object, or as a string).
    #[schema(value_type = Option<Object>)]
    pub service_account_key: Option<Value>,
    #[serde(flatten)]
    pub common: CommonFields,
}

/// Fields every kind has.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonFields {
    /// A name for the connection, unique in the organisation; default: the bucket or container.
    pub name: Option<String>,
    /// The catalog its tables are registered under (an identifier, created with the
    /// connection); default: the name, made an identifier.
    pub catalog_name: Option<String>,
    /// The folder under which tables are looked for and objects browsed; default: the root.
    pub base_path: Option<String>,
    /// Put every discovered table in this schema (default: the first folder; see README).
    pub schema_name: Option<String>,
    /// Whether to discover Delta tables (on save and on `with_discovery`); default true.
    pub discover_delta: Option<bool>,
    /// Whether to list Iceberg tables found (not registered: read-only listing); default false.
    pub discover_iceberg: Option<bool>,
}

/// A connection request of any kind, checked: the engine's store configuration and what
/// the registry keeps.
#[derive(Clone)]
pub struct ConnectionSpec {
    pub kind: StorageKind,
    pub name: String,
    pub catalog: Ident,
    pub base_path: String,
    pub schema_name: Option<Ident>,
    pub discover_delta: bool,
    pub discover_iceberg: bool,
    pub config: StoreConfig,
    /// The request without its credentials.
    pub settings: Value,
    /// The credentials, as given.
    pub secrets: Value,
    pub hint: Option<String>,
}

impl ConnectionSpec {
    /// Parses a request of `kind` given as JSON (the body, or a stored connection with a
    /// change merged in), checking every field before anything is contacted.
    pub fn parse(kind: StorageKind, body: Value) -> ApiResult<Self> {
        let invalid = |e: serde_json::Error| ApiError::invalid_field("body", e.to_string());
        let (config, common, default_name) = match kind {
            StorageKind::S3 => {
                let r: RegisterS3Request = serde_json::from_value(body.clone()).map_err(invalid)?;
                check_bucket("bucketName", &r.bucket_name)?;
                check_text("region", &r.region, 64)?;
                if let Some(endpoint) = &r.endpoint {
                    check_endpoint(endpoint)?;
                }
                if r.access_key_id.is_some() != r.secret_key.is_some() {
                    return Err(ApiError::invalid_field("secretKey", "give accessKeyId and secretKey together"));
                }
                let config = StoreConfig::S3(S3Config {
                    bucket: r.bucket_name.clone(),
                    region: r.region.clone(),
                    access_key_id: r.access_key_id.clone(),
                    secret_key: r.secret_key.clone().map(Secret),
                    session_token: r.session_token.clone().map(Secret),
                    endpoint: r.endpoint.clone(),
                });
                (config, r.common, r.bucket_name)
            }
            StorageKind::Az => {
                let r: RegisterAzRequest = serde_json::from_value(body.clone()).map_err(invalid)?;
                if r.use_fabric_endpoint {
                    return Err(ApiError::invalid_field(
                        "useFabricEndpoint",
                        "Fabric (OneLake) endpoints are not supported",
                    ));
                }
                check_text("accountName", &r.account_name, 64)?;
                check_bucket("container", &r.container)?;
                if let Some(endpoint) = &r.endpoint {
                    check_endpoint(endpoint)?;
                }
                let config = StoreConfig::Azure(AzureConfig {
                    account: r.account_name.clone(),
                    container: r.container.clone(),
                    access_key: r.access_key.clone().map(Secret),
                    sas_token: r.sas_token.clone().map(Secret),
                    bearer_token: r.bearer_token.clone().map(Secret),
                    endpoint: r.endpoint.clone(),
                });
                (config, r.common, r.container)
            }
            StorageKind::Gcs => {
                let r: RegisterGcsRequest = serde_json::from_value(body.clone()).map_err(invalid)?;
                check_bucket("bucket", &r.bucket)?;
                let key = match &r.service_account_key {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(v @ Value::Object(_)) => Some(v.to_string()),
                    Some(_) => {
                        return Err(ApiError::invalid_field("serviceAccountKey", "must be the key's JSON document"));
                    }
                };
                if let Some(key) = &key
                    && !serde_json::from_str::<Value>(key).is_ok_and(|v| v.is_object())
                {
                    return Err(ApiError::invalid_field("serviceAccountKey", "must be the key's JSON document"));
                }
                let config =
                    StoreConfig::Gcs(GcsConfig { bucket: r.bucket.clone(), service_account_key: key.map(Secret) });
                (config, r.common, r.bucket)
            }
        };
        let name = common.name.clone().unwrap_or(default_name);
        check_text("name", &name, 128)?;
        let catalog = match &common.catalog_name {
            Some(raw) => Ident::new(raw).map_err(|e| ApiError::invalid_field("catalogName", e.to_string()))?,
            None => identifier(&name),
        };
        let schema_name = match &common.schema_name {
            Some(raw) => Some(Ident::new(raw).map_err(|e| ApiError::invalid_field("schemaName", e.to_string()))?),
            None => None,
        };
        let base_path = match &common.base_path {
            Some(raw) => normalized_path("basePath", raw)?,
            None => String::new(),
        };
        let (settings, secrets) = split_secrets(kind, body);
        let hint = hint(kind, &secrets);
        Ok(ConnectionSpec {
            kind,
            name,
            catalog,
            base_path,
            schema_name,
            discover_delta: common.discover_delta.unwrap_or(true),
            discover_iceberg: common.discover_iceberg.unwrap_or(false),
            config,
            settings,
            secrets,
            hint,
        })
    }

    /// Where the connection's tables and objects are: the store's root and the base path.
    pub fn base(&self) -> ApiResult<Url> {
        base_url(&self.config, &self.base_path)
    }
}

fn base_url(config: &StoreConfig, base_path: &str) -> ApiResult<Url> {
    let root = config.root().map_err(|e| ApiError::engine(e, crate::error::FieldNames::REST))?;
    if base_path.is_empty() {
        return Ok(root);
    }
    let encoded: Vec<String> = base_path.split('/').map(encode_segment).collect();
    root.join(&format!("{}/", encoded.join("/"))).map_err(ApiError::internal)
}

pub fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}

/// The settings (request without credentials) and the credentials of a request.
fn split_secrets(kind: StorageKind, body: Value) -> (Value, Value) {
    let Value::Object(mut settings) = body else { return (Value::Object(Default::default()), Value::Null) };
    let mut secrets = serde_json::Map::new();
    for field in kind.secret_fields() {
        if let Some(v) = settings.remove(*field)
            && !v.is_null()
        {
            secrets.insert((*field).to_owned(), v);
        }
    }
    (Value::Object(settings), Value::Object(secrets))
}

/// What answers show of the credentials: the kind of credential and at most the last
/// four characters of a key id.
fn hint(kind: StorageKind, secrets: &Value) -> Option<String> {
    let has = |field: &str| secrets.get(field).is_some();
    let text = match kind {
        StorageKind::S3 => {
            let id = secrets.get("accessKeyId").and_then(Value::as_str)?;
            let tail: String = id.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            let shown = if id.chars().count() > 8 { format!("access key …{tail}") } else { "access key".to_owned() };
            if has("sessionToken") { format!("{shown} with a session token") } else { shown }
        }
        StorageKind::Az if has("accessKey") => "account key".to_owned(),
        StorageKind::Az if has("sasToken") => "SAS token".to_owned(),
        StorageKind::Az if has("bearerToken") => "bearer token".to_owned(),
        StorageKind::Gcs if has("serviceAccountKey") => {
            let email = secrets
                .get("serviceAccountKey")
                .and_then(|k| match k {
                    Value::String(s) => serde_json::from_str::<Value>(s).ok(),
                    other => Some(other.clone()),
                })
                .and_then(|k| k.get("client_email").and_then(Value::as_str).map(str::to_owned));
            match email {
                Some(email) => format!("service account {email}"),
                None => "service account key".to_owned(),
            }
        }
        _ => return None,
    };
    Some(text)
}

fn check_text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_field(field, "must not be empty"));
    }
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(field, format!("must be at most {max} printable characters")));
    }
    Ok(())
}

/// Bucket and container names: 3 to 63 of lower-case letters, digits, `.`, `-`, `_`.
fn check_bucket(field: &str, name: &str) -> ApiResult<()> {
    let ok = (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            "must be 3 to 63 lower-case letters, digits, `.`, `-` or `_`, starting with a letter or digit",
        ))
    }
}

fn check_endpoint(endpoint: &str) -> ApiResult<()> {
    let url = Url::parse(endpoint).map_err(|e| ApiError::invalid_field("endpoint", format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || url.query().is_some() {
        return Err(ApiError::invalid_field("endpoint", "must be an http:// or https:// URL with a host"));
    }
    Ok(())
}

/// A relative path inside a connection, as its folders (`a/b`, no leading or trailing
/// `/`). Refuses what could leave the base or name something else than it seems: `..` and
/// `.` segments, absolute paths, empty segments, backslashes, `%` (a percent-encoded
/// path would be decoded again by some stores), control characters.
pub fn normalized_path(field: &str, raw: &str) -> ApiResult<String> {
    let refuse = |why: &str| {
        Err(ApiError::invalid_field(field, format!("{why}; give a path relative to the base, like `folder/file.csv`")))
    };
    if raw.len() > 1024 {
        return refuse("is longer than 1024 characters");
    }
    if raw.starts_with('/') {
        return refuse("must not be absolute");
    }
    if raw.contains('\\') || raw.contains('%') || raw.chars().any(char::is_control) {
        return refuse("must not contain `\\`, `%` or control characters");
    }
    let trimmed = raw.strip_suffix('/').unwrap_or(raw);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for segment in trimmed.split('/') {
        match segment {
            "" => return refuse("must not contain empty segments (`//`)"),
            "." | ".." => return refuse("must not contain `.` or `..` segments"),
            _ => {}
        }
    }
    Ok(trimmed.to_owned())
}

/// A name made an identifier: other characters become `_`, a leading digit gets one.
pub fn identifier(raw: &str) -> Ident {
    let mut text: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).take(120).collect();
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_digit()) {
        text.insert(0, '_');
    }
    Ident::new(&text).expect("only identifier characters remain")
}

/// A stored connection, opened: its spec with the credentials unsealed.
pub fn open(state: &AppState, connection: &StorageConnection) -> ApiResult<ConnectionSpec> {
    let kind = StorageKind::parse(&connection.kind)?;
    let secrets = secrets::unseal(&sealing_key(state), &connection.secrets_sealed)
        .ok_or_else(|| ApiError::internal("a storage connection's credentials do not open under this server secret"))?;
    let secrets: Value = serde_json::from_str(&secrets).map_err(ApiError::internal)?;
    let mut body = connection.settings.clone();
    if let (Value::Object(body), Value::Object(secrets)) = (&mut body, secrets) {
        body.extend(secrets);
    }
    ConnectionSpec::parse(kind, body)
}

/// The request a stored connection was made from, with `change`'s fields replacing its
/// own (`null` removes an optional field); credentials not named in `change` are kept.
pub fn merged(state: &AppState, connection: &StorageConnection, change: Value) -> ApiResult<ConnectionSpec> {
    let Value::Object(change) = change else {
        return Err(ApiError::invalid_field("body", "must be a JSON object"));
    };
    let current = open(state, connection)?;
    let mut body = current.settings;
    if let (Value::Object(body), Value::Object(secrets)) = (&mut body, current.secrets) {
        body.extend(secrets);
        for (k, v) in change {
            if v.is_null() {
                body.remove(&k);
            } else {
                body.insert(k, v);
            }
        }
    }
    let spec = ConnectionSpec::parse(current.kind, body)?;
    if spec.catalog.as_str() != connection.catalog {
        return Err(ApiError::invalid_field("catalogName", "a connection's catalog cannot change"));
    }
    Ok(spec)
}

pub fn sealing_key(state: &AppState) -> Vec<u8> {
    state.config.secret.derive("storage-credentials")
}

pub fn seal(state: &AppState, spec: &ConnectionSpec) -> String {
    secrets::seal(&sealing_key(state), &spec.secrets.to_string())
}

/// Runs the connection's checks; `Err` is the 400 that carries them when one failed.
pub async fn test(state: &AppState, spec: &ConnectionSpec, read_only: bool) -> ApiResult<Vec<StoreCheck>> {
    let checks = state
        .engine
        .run(CheckStore { config: spec.config.clone(), base_path: spec.base_path.clone(), read_only })
        .await?;
    Ok(checks)
}

pub fn all_passed(checks: &[StoreCheck]) -> bool {
    checks.iter().all(|c| c.ok || c.skipped) && checks.iter().any(|c| c.ok)
}

pub fn failed_checks(checks: &[StoreCheck]) -> ApiError {
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok && !c.skipped).map(|c| c.name).collect();
    ApiError {
        checks: Some(Box::new(serde_json::to_value(checks).unwrap_or_default())),
        ..ApiError::bad_request(format!("the connection test failed: {}", failed.join(", ")))
    }
}

/// Refuses a location that overlaps the warehouse or another connection (`except`: the
/// connection being changed).
pub async fn check_overlap(state: &AppState, org_id: Uuid, base: &Url, except: Option<Uuid>) -> ApiResult<()> {
    let overlaps = |a: &str, b: &str| a.starts_with(b) || b.starts_with(a);
    if overlaps(base.as_str(), state.config.warehouse.root().as_str()) {
        return Err(ApiError::conflict("this location holds the server's warehouse and cannot be connected"));
    }
    for other in state.meta.all_storage_connections().await? {
        if Some(other.id) == except {
            continue;
        }
        let Ok(spec) = open(state, &other) else { continue };
        let Ok(other_base) = spec.base() else { continue };
        if overlaps(base.as_str(), other_base.as_str()) {
            return Err(if other.org_id == org_id {
                ApiError::conflict(format!(
                    "this location overlaps the storage connection `{}`: connections may not contain one another",
                    other.name
                ))
            } else {
                ApiError::conflict("this location cannot be connected")
            });
        }
    }
    Ok(())
}

/// Serves the connection's tables and objects with its store.
pub async fn attach(state: &AppState, spec: &ConnectionSpec) -> ApiResult<()> {
    state.engine.run(ops::storage::AttachStore { prefix: spec.base()?, config: spec.config.clone() }).await?;
    Ok(())
}

/// Attaches every saved connection's store (at start-up); one that no longer opens is
/// logged and left detached, so that its tables answer 500 instead of the server failing.
pub async fn attach_all(state: &AppState) -> ApiResult<()> {
    for connection in state.meta.all_storage_connections().await? {
        let attached = match open(state, &connection) {
            Ok(spec) => attach(state, &spec).await,
            Err(e) => Err(e),
        };
        if let Err(e) = attached {
            tracing::warn!(connection = %connection.id, error = %e.message, "a storage connection could not be attached");
        }
    }
    Ok(())
}

/// What a discovery did: the tables registered now, those already registered, the
/// registered ones that are gone from the store (reported, not dropped), Iceberg tables
/// (listed only), and the LIST requests per level.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryReport {
    pub delta_tables_count: u64,
    pub iceberg_tables_count: u64,
    /// Tables registered in all (new and already registered).
    pub total_tables: u64,
    pub message: String,
    pub discovery_time_ms: u64,
    #[schema(value_type = Vec<String>)]
    pub registered: Vec<String>,
    #[schema(value_type = Vec<String>)]
    pub already_registered: Vec<String>,
    /// Registered tables whose Delta log is no longer there.
    #[schema(value_type = Vec<String>)]
    pub vanished: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub iceberg: Vec<Value>,
    pub lists_per_level: Vec<u64>,
}

/// Walks the connection's base and registers every Delta table found (as `by`).
pub async fn discover(
    state: &AppState,
    principal: &Principal,
    connection: &StorageConnection,
    spec: &ConnectionSpec,
    progress: Arc<DiscoveryProgress>,
) -> ApiResult<DiscoveryReport> {
    let started = std::time::Instant::now();
    let discovery: Discovery = state
        .engine
        .run(Discover {
            base: spec.base()?,
            delta: spec.discover_delta,
            iceberg: spec.discover_iceberg,
            max_depth: 8,
            progress,
        })
        .await?;
    let catalog = Ident::new(&connection.catalog).map_err(ApiError::internal)?;
    let (known, _) = state.meta.list_tables(principal.org_id, Some(&catalog), None, i64::MAX, 0).await?;
    let known_locations: BTreeMap<&str, &TableEntry> = known.iter().map(|t| (t.location.as_str(), t)).collect();
    let mut taken: BTreeSet<String> = known.iter().map(|t| t.table.to_string()).collect();
    let mut report = DiscoveryReport { lists_per_level: discovery.lists_per_level.clone(), ..Default::default() };
    let mut found_locations = BTreeSet::new();
    for table in &discovery.tables {
        match table.format {
            ops::storage::TableFormat::Iceberg => {
                report.iceberg_tables_count += 1;
                report
                    .iceberg
                    .push(json!({ "path": table.path.join("/"), "format": "iceberg", "columns": table.columns }));
            }
            ops::storage::TableFormat::Delta => {
                report.delta_tables_count += 1;
                found_locations.insert(table.location.to_string());
                if let Some(entry) = known_locations.get(table.location.as_str()) {
                    report.already_registered.push(entry.table.to_string());
                    continue;
                }
                let reference = name_for(&catalog, spec.schema_name.as_ref(), table, &mut taken);
                if state.meta.get_schema(principal.org_id, &catalog, &reference.schema).await?.is_none() {
                    match state
                        .meta
                        .create_schema(principal.org_id, &catalog, &reference.schema, None, principal.user_id)
                        .await
                    {
                        Ok(_) | Err(lakeward_meta::MetaError::Conflict(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                state
                    .meta
                    .register_table_on(
                        principal.org_id,
                        &reference,
                        table.location.as_str(),
                        Some(connection.id),
                        principal.user_id,
                    )
                    .await?;
                report.registered.push(reference.to_string());
            }
        }
    }
    // Only tables under the base can have vanished: one registered outside it (a
    // connection whose base path changed) is not looked for there.
    let base = spec.base()?;
    for entry in &known {
        if entry.location.starts_with(base.as_str()) && !found_locations.contains(&entry.location) {
            report.vanished.push(entry.table.to_string());
        }
    }
    report.total_tables = (report.registered.len() + report.already_registered.len()) as u64;
    report.discovery_time_ms = started.elapsed().as_millis() as u64;
    report.message = format!(
        "{} Delta table(s) found: {} registered now, {} already registered; {} vanished; {} Iceberg table(s) listed",
        report.delta_tables_count,
        report.registered.len(),
        report.already_registered.len(),
        report.vanished.len(),
        report.iceberg_tables_count
    );
    Ok(report)
}

/// The name a discovered table is registered under (see the README's naming rule):
/// `schemaName` (or the first folder, or `default` for a table right under the base) and
/// the remaining folders joined by `_`; a taken name gets `_2`, `_3`, ...
fn name_for(
    catalog: &Ident,
    schema_name: Option<&Ident>,
    table: &FoundTable,
    taken: &mut BTreeSet<String>,
) -> TableRef {
    let (schema, rest): (Ident, &[String]) = match (schema_name, table.path.as_slice()) {
        (Some(schema), parts) => (schema.clone(), parts),
        (None, [only]) => (Ident::new("default").expect("an identifier"), std::slice::from_ref(only)),
        (None, [first, rest @ ..]) => (identifier(first), rest),
        (None, []) => (Ident::new("default").expect("an identifier"), &[]),
    };
    let base = identifier(&rest.join("_")).to_string();
    let mut candidate = base.clone();
    let mut n = 2;
    loop {
        let reference = TableRef {
            catalog: catalog.clone(),
            schema: schema.clone(),
            table: Ident::new(&candidate).expect("an identifier"),
        };
        if taken.insert(reference.to_string()) {
            return reference;
        }
        candidate = format!("{base}_{n}");
        n += 1;
    }
}

/// A discovery started as a job: the job as it is at the start, and the work, which runs on
/// whether or not anyone waits for it (a request that goes away, or `Prefer: respond-async`).
pub struct StartedDiscovery {
    pub job: lakeward_meta::store::Job,
    pub work: tokio::task::JoinHandle<ApiResult<DiscoveryReport>>,
}

impl StartedDiscovery {
    pub async fn report(self) -> ApiResult<DiscoveryReport> {
        self.work.await.map_err(ApiError::internal)?
    }
}

/// Starts a discovery of `connection` as a job (kind `discovery`, progress the folders
/// listed and tables found); what it registered is audited when it ends.
pub async fn start_discovery(
    state: &Arc<AppState>,
    request: &RequestMeta,
    principal: &Principal,
    connection: &StorageConnection,
    spec: ConnectionSpec,
) -> ApiResult<StartedDiscovery> {
    let owner = Owner { org_id: principal.org_id, user_id: principal.user_id };
    let handle = state.jobs.start(JobKind::Discovery, owner, Some(&connection.name), Default::default()).await?;
    let job = handle.snapshot();
    let (state, request, principal, connection) =
        (state.clone(), request.clone(), principal.clone(), connection.clone());
    let work = tokio::spawn(async move {
        let report = discover_as_job(&state, &principal, &connection, &spec, handle).await?;
        audit_log::record(
            &state,
            &request,
            Actor::Principal(&principal),
            Event::new(principal.org_id, EventKind::StorageTablesDiscovered).target("storage", connection.id).details(
                json!({ "registered": report.registered, "vanished": report.vanished, "delta_tables": report.delta_tables_count, "iceberg_tables": report.iceberg_tables_count }),
            ),
        )
        .await?;
        Ok(report)
    });
    Ok(StartedDiscovery { job, work })
}

/// Runs a discovery as the job `job`, its progress the folders listed and tables found.
async fn discover_as_job(
    state: &Arc<AppState>,
    principal: &Principal,
    connection: &StorageConnection,
    spec: &ConnectionSpec,
    mut job: JobHandle,
) -> ApiResult<DiscoveryReport> {
    job.running().await;
    let progress = Arc::new(DiscoveryProgress::default());
    let counts = |p: &DiscoveryProgress| JobProgress {
        rows_read: p.folders_listed.load(std::sync::atomic::Ordering::Relaxed) as i64,
        rows_written: p.tables_found.load(std::sync::atomic::Ordering::Relaxed) as i64,
        bytes_read: None,
        steps_done: Some(p.folders_listed.load(std::sync::atomic::Ordering::Relaxed) as i64),
    };
    let work = discover(state, principal, connection, spec, progress.clone());
    let outcome = job.drive(work, || counts(&progress), || progress.cancel()).await;
    match &outcome {
        Ok(report) => {
            let result = serde_json::to_value(report).unwrap_or_default();
            job.finish(counts(&progress), lakeward_meta::store::JobEnd::Succeeded { version: None, result }).await;
        }
        Err(_) if job.is_cancelled() => {
            job.finish(counts(&progress), lakeward_meta::store::JobEnd::Cancelled).await;
        }
        Err(e) => job.fail(counts(&progress), e.clone()).await,
    }
    outcome
}
