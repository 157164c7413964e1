//! Object stores: the buckets and containers tables may live in (S3 and S3-compatible
//! stores, Azure Blob / ADLS Gen2, Google Cloud Storage), and the registry that says which
//! store, with which credentials, serves a location.
//!
//! delta-rs finds a store for a URL through process-wide factories keyed by scheme. The
//! engine does not use them for object stores: credentials belong to a connection, not to a
//! process, so every table on an object store is opened with the store of the attached root
//! that is the longest prefix of its location ([`Stores::for_location`]). Local folders keep
//! delta-rs' own file store.

use std::fmt;
use std::sync::{Arc, Once, RwLock};
use std::time::Duration;

use deltalake::logstore::{LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig, default_logstore};
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use url::Url;

use crate::error::{EngineError, EngineResult};

/// The schemes of object-store locations, as tables and warehouses name them.
pub const OBJECT_STORE_SCHEMES: [&str; 3] = ["s3", "az", "gs"];

/// A credential: kept out of `Debug` output, so that it never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where an object store is and how to sign in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    S3(S3Config),
    Azure(AzureConfig),
    Gcs(GcsConfig),
    /// A warehouse on an object store, configured by the standard environment variables
    /// (`AWS_*`, `AZURE_STORAGE_*`, `GOOGLE_*`) of the process.
    FromEnvironment(Url),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_key: Option<Secret>,
    pub session_token: Option<Secret>,
    /// For S3-compatible stores (MinIO, Ceph, emulators); `http://` is allowed here.
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    pub account: String,
    pub container: String,
    pub access_key: Option<Secret>,
    pub sas_token: Option<Secret>,
    pub bearer_token: Option<Secret>,
    /// For the Azurite emulator or sovereign clouds, e.g. `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsConfig {
    pub bucket: String,
    /// The service account key, as the JSON document Google hands out.
    pub service_account_key: Option<Secret>,
}

impl StoreConfig {
    /// The root of the store as a location: `s3://bucket/`, `az://container/`, `gs://bucket/`.
    pub fn root(&self) -> EngineResult<Url> {
        let text = match self {
            StoreConfig::S3(c) => format!("s3://{}/", c.bucket),
            StoreConfig::Azure(c) => format!("az://{}/", c.container),
            StoreConfig::Gcs(c) => format!("gs://{}/", c.bucket),
            StoreConfig::FromEnvironment(url) => {
                let host = url.host_str().unwrap_or_default();
                format!("{}://{host}/", url.scheme())
            }
        };
        Url::parse(&text).map_err(|e| EngineError::invalid("bucket", format!("not a valid bucket name: {e}")))
    }

    /// Every credential of the configuration, for scrubbing texts the store answered with.
    fn secrets(&self) -> Vec<&str> {
        let secrets: Vec<Option<&Secret>> = match self {
            StoreConfig::S3(c) => vec![c.secret_key.as_ref(), c.session_token.as_ref()],
            StoreConfig::Azure(c) => vec![c.access_key.as_ref(), c.sas_token.as_ref(), c.bearer_token.as_ref()],
            StoreConfig::Gcs(c) => vec![c.service_account_key.as_ref()],
            StoreConfig::FromEnvironment(_) => vec![],
        };
        secrets.into_iter().flatten().map(|s| s.0.as_str()).filter(|s| !s.is_empty()).collect()
    }

    /// A store's answer as a reason a user may read: no credential, no query string of a
    /// signed URL (an Azure SAS signature travels in it), no local path.
    pub fn reason(&self, error: &dyn std::error::Error) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        for secret in self.secrets() {
            text = text.replace(secret, "***");
        }
        scrub_urls(&text)
    }

    pub(crate) fn build(&self) -> EngineResult<Arc<dyn ObjectStore>> {
        let invalid = |e: object_store::Error| EngineError::invalid("connection", self.reason(&e));
        let store: Arc<dyn ObjectStore> = match self {
            StoreConfig::S3(c) => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&c.bucket)
                    .with_region(&c.region)
                    .with_conditional_put(S3ConditionalPut::ETagMatch)
                    .with_client_options(client_options(c.endpoint.as_deref()))
                    .with_retry(retry());
                if let Some(key) = &c.access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = &c.secret_key {
                    builder = builder.with_secret_access_key(&secret.0);
                }
                if let Some(token) = &c.session_token {
                    builder = builder.with_token(&token.0);
                }
                if let Some(endpoint) = &c.endpoint {
                    // S3-compatible stores mostly serve buckets as paths, not host names.
                    builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
                }
                if c.access_key_id.is_none() && c.secret_key.is_none() {
                    builder = builder.with_skip_signature(true);
                }
                Arc::new(builder.build().map_err(invalid)?)
            }
            StoreConfig::Azure(c) => {
                let mut builder = MicrosoftAzureBuilder::new()
                    .with_account(&c.account)
                    .with_container_name(&c.container)
                    .with_client_options(client_options(c.endpoint.as_deref()))
                    .with_retry(retry());
                if let Some(key) = &c.access_key {
                    builder = builder.with_access_key(&key.0);
                }
                if let Some(sas) = &c.sas_token {
                    let pairs: Vec<(String, String)> =
                        url::form_urlencoded::parse(sas.0.trim_start_matches('?').as_bytes())
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect();
                    builder = builder.with_sas_authorization(pairs);
                }
                if let Some(token) = &c.bearer_token {
                    builder = builder.with_bearer_token_authorization(&token.0);
                }
                if let Some(endpoint) = &c.endpoint {
                    builder = builder.with_endpoint(endpoint.clone());
                }
                Arc::new(builder.build().map_err(invalid)?)
            }
            StoreConfig::Gcs(c) => {
                let mut builder = GoogleCloudStorageBuilder::new()
                    .with_bucket_name(&c.bucket)
                    .with_client_options(client_options(None))
                    .with_retry(retry());
                if let Some(key) = &c.service_account_key {
                    builder = builder.with_service_account_key(&key.0);
                }
                Arc::new(builder.build().map_err(invalid)?)
            }
            StoreConfig::FromEnvironment(url) => from_environment(url)?,
        };
        Ok(store)
    }
}

/// A warehouse's store from the process environment; S3 commits by conditional put
/// (`If-None-Match`), so that two processes never both write one version.
fn from_environment(url: &Url) -> EngineResult<Arc<dyn ObjectStore>> {
    let failed = |e: object_store::Error| EngineError::invalid("warehouse", scrub_urls(&e.to_string()));
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "s3" => Arc::new(
            AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                .build()
                .map_err(failed)?,
        ),
        "az" => Arc::new(MicrosoftAzureBuilder::from_env().with_url(url.as_str()).build().map_err(failed)?),
        "gs" => Arc::new(GoogleCloudStorageBuilder::from_env().with_url(url.as_str()).build().map_err(failed)?),
        other => return Err(EngineError::invalid("warehouse", format!("unsupported scheme `{other}`"))),
    };
    Ok(store)
}

/// Timeouts that answer a connection test within seconds instead of retrying for minutes.
fn client_options(endpoint: Option<&str>) -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(60))
        .with_allow_http(endpoint.is_some_and(|e| e.starts_with("http://")))
}

fn retry() -> RetryConfig {
    RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(20), ..RetryConfig::default() }
}

/// Replaces the query string of every URL in `text` (signed URLs carry credentials there).
pub(crate) fn scrub_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("http") {
        let (before, tail) = rest.split_at(start);
        out.push_str(before);
        let end =
            tail.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | ']' | '>')).unwrap_or(tail.len());
        let url = &tail[..end];
        match url.find('?') {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?…");
            }
            None => out.push_str(url),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// An attached store: every location under `prefix` is served by `store`, rooted at `root`.
struct Attached {
    prefix: String,
    root: Url,
    store: Arc<dyn ObjectStore>,
}

/// The stores the engine knows, by the location prefix each serves.
#[derive(Default)]
pub struct Stores {
    attached: RwLock<Vec<Attached>>,
}

impl Stores {
    /// Serves every location under `prefix` (which must lie in the store's root) with the
    /// store `config` describes, replacing whatever served exactly that prefix before.
    pub(crate) fn attach(&self, prefix: &Url, config: &StoreConfig) -> EngineResult<()> {
        register_log_stores();
        let root = config.root()?;
        let prefix = as_prefix(prefix);
        if !prefix.starts_with(root.as_str()) {
            return Err(EngineError::internal("an attached prefix must lie in its store"));
        }
        let store = config.build()?;
        let mut attached = self.attached.write().expect("not poisoned");
        attached.retain(|a| a.prefix != prefix);
        attached.push(Attached { prefix, root, store });
        Ok(())
    }

    pub(crate) fn detach(&self, prefix: &Url) {
        let prefix = as_prefix(prefix);
        self.attached.write().expect("not poisoned").retain(|a| a.prefix != prefix);
    }

    /// The store and its root for a location: `None` for local folders (delta-rs' own file
    /// store serves them); an object-store location no attached store serves is an error.
    pub(crate) fn for_location(&self, location: &Url) -> EngineResult<Option<(Arc<dyn ObjectStore>, Url)>> {
        if !OBJECT_STORE_SCHEMES.contains(&location.scheme()) {
            return Ok(None);
        }
        let text = location.as_str();
        let attached = self.attached.read().expect("not poisoned");
        attached
            .iter()
            .filter(|a| text.starts_with(&a.prefix) || as_prefix(location) == a.prefix)
            .max_by_key(|a| a.prefix.len())
            .map(|a| Some((a.store.clone(), a.root.clone())))
            .ok_or_else(|| EngineError::Storage("no storage connection serves this location".into()))
    }
}

fn as_prefix(url: &Url) -> String {
    let text = url.as_str();
    if text.ends_with('/') { text.to_owned() } else { format!("{text}/") }
}

/// delta-rs picks the log store (how commits are made atomic) by scheme; local folders get
/// the local store with their log listed by name (`local_log`). Every object store
/// Lakeward builds commits by put-if-absent (S3 through `If-None-Match`, Azure and GCS
/// natively), which is what delta-rs' default log store does; no lock service is needed.
pub(crate) fn register_log_stores() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let file = Url::parse("file://").expect("a scheme is a URL");
        deltalake::logstore::object_store_factories().insert(file.clone(), Arc::new(crate::local_log::LocalStores));
        deltalake::logstore::logstore_factories().insert(file, Arc::new(PutIfAbsent));
        for scheme in OBJECT_STORE_SCHEMES {
            let url = Url::parse(&format!("{scheme}://")).expect("a scheme is a URL");
            deltalake::logstore::logstore_factories().insert(url, Arc::new(PutIfAbsent));
        }
    });
}

/// delta-rs' default log store (commits are conditional puts, on local folders as on
/// object stores), announcing each commit it writes (`commits`).
struct PutIfAbsent;

impl LogStoreFactory for PutIfAbsent {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> deltalake::DeltaResult<Arc<dyn LogStore>> {
        let store = default_logstore(prefixed_store, root_store, location, options);
        Ok(Arc::new(crate::commits::Announcing(store)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> StoreConfig {
        StoreConfig::S3(S3Config {
            bucket: "lake".into(),
            region: "us-east-1".into(),
            access_key_id: Some("AKIA".into()),
            secret_key: Some(Secret("very-secret".into())),
            session_token: None,
            endpoint: Some("http://127.0.0.1:1".into()),
        })
    }

    #[test]
    fn credentials_never_show() {
        let config = s3();
        assert!(!format!("{config:?}").contains("very-secret"));
        let error = std::io::Error::other("denied for very-secret at https://x.blob.core.windows.net/c/p?sig=abc&se=1");
        assert_eq!(config.reason(&error), "denied for *** at https://x.blob.core.windows.net/c/p?…");
    }

    #[test]
    fn locations_are_served_by_the_longest_attached_prefix() {
        let stores = Stores::default();
        let local = Url::parse("file:///tmp/t/").unwrap();
        assert!(stores.for_location(&local).unwrap().is_none());
        let table = Url::parse("s3://lake/base/sales/orders/").unwrap();
        assert!(matches!(stores.for_location(&table), Err(EngineError::Storage(_))));
        stores.attach(&Url::parse("s3://lake/").unwrap(), &s3()).unwrap();
        stores.attach(&Url::parse("s3://lake/base").unwrap(), &s3()).unwrap();
        let (_, root) = stores.for_location(&table).unwrap().unwrap();
        assert_eq!(root.as_str(), "s3://lake/");
        assert_eq!(stores.attached.read().unwrap().len(), 2);
        // `s3://lake/basement/` is not under `s3://lake/base/`.
        stores.detach(&Url::parse("s3://lake/").unwrap());
        assert!(stores.for_location(&Url::parse("s3://lake/basement/t/").unwrap()).is_err());
        assert!(stores.for_location(&table).unwrap().is_some());
        // A prefix outside its store's bucket is a programming error.
        assert!(stores.attach(&Url::parse("s3://other/").unwrap(), &s3()).is_err());
    }

    #[test]
    fn gcs_configuration_is_checked_without_a_server() {
        let bad_key = StoreConfig::Gcs(GcsConfig {
            bucket: "lake".into(),
            service_account_key: Some(Secret("{not json".into())),
        });
        let err = bad_key.build().expect_err("a key that is not JSON is refused");
        assert!(matches!(err, EngineError::Invalid { .. }), "{err:?}");
        assert!(!err.to_string().contains("{not json"));
        let key = serde_json::json!({
            "type": "service_account", "private_key_id": "k", "client_email": "lw@p.iam.gserviceaccount.com",
            "private_key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        });
        let config =
            StoreConfig::Gcs(GcsConfig { bucket: "lake".into(), service_account_key: Some(Secret(key.to_string())) });
        assert_eq!(config.root().unwrap().as_str(), "gs://lake/");
    }
}
