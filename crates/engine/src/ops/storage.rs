//! Object stores: attaching a connection's store, testing a connection, browsing objects
//! (list, read with ranges, streamed write, delete), and discovering the tables under a path.
//!
//! Objects are named by locations (`s3://bucket/base/path`); callers build them from a
//! connection's base and a path they have checked stays inside it.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt as _, PutPayload, WriteMultipart};
use serde::Serialize;
use url::Url;
use uuid::Uuid;

use super::{Forwarder, Operation, Timeout};
use crate::error::{EngineError, EngineResult};
use crate::output::ByteStream;
use crate::state::EngineState;
use crate::storage::StoreConfig;

/// Serves every location under `prefix` with the store `config` describes (replacing what
/// served that prefix before).
pub struct AttachStore {
    pub prefix: Url,
    pub config: StoreConfig,
}

impl Operation for AttachStore {
    type Output = ();
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<()> {
        state.stores.attach(&self.prefix, &self.config)
    }
}

/// Stops serving `prefix`; the tables' cached state goes with it.
pub struct DetachStore {
    pub prefix: Url,
}

impl Operation for DetachStore {
    type Output = ();
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<()> {
        state.stores.detach(&self.prefix);
        state.forget_under(&self.prefix);
        Ok(())
    }
}

/// Whether the warehouse answers: its folder exists, or one listing of its root on an
/// object store succeeds (what a load balancer's readiness check asks).
pub struct CheckWarehouse {
    pub root: Url,
}

impl Operation for CheckWarehouse {
    type Output = ();
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<()> {
        if self.root.scheme() == "file" {
            let folder = self.root.to_file_path().map_err(|_| EngineError::internal("the warehouse is not a path"))?;
            return match tokio::fs::metadata(&folder).await {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => Err(EngineError::Storage("the warehouse is not a folder".into())),
                Err(e) => Err(EngineError::Storage(format!("the warehouse folder cannot be read: {e}"))),
            };
        }
        let (store, _) = state
            .stores
            .for_location(&self.root)?
            .ok_or_else(|| EngineError::Storage("no store serves the warehouse".into()))?;
        let prefix = Path::from_url_path(self.root.path()).map_err(|e| EngineError::internal(e.to_string()))?;
        store.list_with_delimiter(Some(&prefix)).await.map_err(|e| EngineError::Storage(e.to_string()))?;
        Ok(())
    }
}

/// One named check of a connection test.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StoreCheck {
    pub name: &'static str,
    pub ok: bool,
    /// The store's reason when the check failed (no credential in it); `skipped` checks
    /// were not run because an earlier one failed or the connection is read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub skipped: bool,
}

/// Tests a connection before it is saved: `reachable` (the store answers at all), `list`
/// (under the base path), then, unless read-only, `write`, `read` and `delete` of a probe
/// object.
pub struct CheckStore {
    pub config: StoreConfig,
    pub base_path: String,
    pub read_only: bool,
}

impl CheckStore {
    pub const CHECKS: [&'static str; 5] = ["reachable", "list", "write", "read", "delete"];
}

impl Operation for CheckStore {
    type Output = Vec<StoreCheck>;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, _state: Arc<EngineState>) -> EngineResult<Vec<StoreCheck>> {
        let mut checks = Vec::new();
        let mut failed = false;
        let mut record = |name: &'static str, outcome: Option<Result<(), String>>, failed: &mut bool| {
            let check = match outcome {
                None => StoreCheck { name, ok: false, reason: None, skipped: true },
                Some(Ok(())) => StoreCheck { name, ok: true, reason: None, skipped: false },
                Some(Err(reason)) => {
                    *failed = true;
                    StoreCheck { name, ok: false, reason: Some(reason), skipped: false }
                }
            };
            checks.push(check);
        };
        let store = match self.config.build() {
            Ok(store) => store,
            Err(e) => {
                record("reachable", Some(Err(e.to_string())), &mut failed);
                for name in &Self::CHECKS[1..] {
                    record(name, None, &mut failed);
                }
                return Ok(checks);
            }
        };
        let base = object_path(&self.base_path)?;
        let listed = store.list_with_delimiter(base.as_ref()).await;
        match &listed {
            Err(e) if unreachable(e) => {
                record("reachable", Some(Err(self.config.reason(e))), &mut failed);
                record("list", None, &mut failed);
            }
            Err(e) => {
                record("reachable", Some(Ok(())), &mut failed);
                record("list", Some(Err(self.config.reason(e))), &mut failed);
            }
            Ok(_) => {
                record("reachable", Some(Ok(())), &mut failed);
                record("list", Some(Ok(())), &mut failed);
            }
        }
        if failed || self.read_only {
            for name in &Self::CHECKS[2..] {
                record(name, None, &mut failed);
            }
            return Ok(checks);
        }
        let probe = child(base.as_ref(), &format!(".lakeward-probe-{}", Uuid::new_v4()));
        let content = Bytes::from_static(b"lakeward connection test\n");
        let wrote = store.put(&probe, PutPayload::from(content.clone())).await;
        record("write", Some(wrote.as_ref().map(|_| ()).map_err(|e| self.config.reason(e))), &mut failed);
        if wrote.is_err() {
            record("read", None, &mut failed);
            record("delete", None, &mut failed);
            return Ok(checks);
        }
        let read = match store.get(&probe).await {
            Ok(got) => match got.bytes().await {
                Ok(bytes) if bytes == content => Ok(()),
                Ok(_) => Err("the probe object read back differs from what was written".to_owned()),
                Err(e) => Err(self.config.reason(&e)),
            },
            Err(e) => Err(self.config.reason(&e)),
        };
        record("read", Some(read), &mut failed);
        let deleted = store.delete(&probe).await.map_err(|e| self.config.reason(&e));
        record("delete", Some(deleted), &mut failed);
        Ok(checks)
    }
}

/// Whether a store's failure is "no answer at all" (no route, refused, DNS, timeout)
/// rather than an answer that refuses.
fn unreachable(error: &object_store::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        let text = e.to_string().to_ascii_lowercase();
        if ["error sending request", "connection refused", "dns error", "timed out", "connect error"]
            .iter()
            .any(|needle| text.contains(needle))
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// An object or a folder (a common prefix) in a listing.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectEntry {
    /// Relative to the listed base, folders end with `/`.
    pub path: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub is_directory: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectListing {
    pub objects: Vec<ObjectEntry>,
    /// Pass back as the continuation token for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

/// Lists objects under `base` + `path`, in key order, a page at a time. With `delimiter`,
/// only the level below (folders as common prefixes).
pub struct ListObjects {
    /// The connection's base location (ends with `/`).
    pub base: Url,
    /// Relative to `base`; empty for the base itself.
    pub path: String,
    pub delimiter: bool,
    /// Lower-case extensions without the dot; empty means all. Folders are always listed.
    pub extensions: Vec<String>,
    pub limit: usize,
    /// The last path of the previous page (relative to `base`).
    pub after: Option<String>,
}

impl Operation for ListObjects {
    type Output = ObjectListing;
    const TIMEOUT: Timeout = Timeout::Whole;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<ObjectListing> {
        let store = store_for(&state, &self.base)?;
        let base = object_path(self.base.path())?;
        let prefix = child_folder(base.as_ref(), &self.path);
        let after = self.after.as_deref().map(|a| join(base.as_ref(), a));
        let wanted = |meta: &ObjectMeta| {
            self.extensions.is_empty()
                || meta.location.extension().is_some_and(|e| self.extensions.contains(&e.to_ascii_lowercase()))
        };
        let mut entries: Vec<ObjectEntry> = Vec::new();
        let mut more = false;
        if self.delimiter {
            let listed = store.list_with_delimiter(prefix.as_ref()).await.map_err(storage)?;
            let mut all: Vec<(String, Option<ObjectMeta>)> = listed
                .common_prefixes
                .into_iter()
                .map(|p| (format!("{p}/"), None))
                .chain(listed.objects.into_iter().filter(|m| wanted(m)).map(|m| (m.location.to_string(), Some(m))))
                .collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, meta) in all {
                if after.as_ref().is_some_and(|a| key.as_str() <= a.as_str()) {
                    continue;
                }
                if entries.len() == self.limit {
                    more = true;
                    break;
                }
                entries.push(entry(base.as_ref(), &key, meta.as_ref()));
            }
        } else {
            let offset = after.map(Path::from);
            let mut listing = match &offset {
                Some(offset) => store.list_with_offset(prefix.as_ref(), offset),
                None => store.list(prefix.as_ref()),
            };
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(storage)?;
                if !wanted(&meta) {
                    continue;
                }
                if entries.len() == self.limit {
                    more = true;
                    break;
                }
                entries.push(entry(base.as_ref(), meta.location.as_ref(), Some(&meta)));
            }
        }
        let continuation_token = more.then(|| entries.last().map(|e| e.path.clone())).flatten();
        Ok(ObjectListing { objects: entries, continuation_token })
    }
}

fn entry(base: Option<&Path>, key: &str, meta: Option<&ObjectMeta>) -> ObjectEntry {
    let relative = match base {
        Some(base) => key.strip_prefix(base.as_ref()).map(|k| k.trim_start_matches('/')).unwrap_or(key),
        None => key,
    }
    .to_owned();
    let is_directory = meta.is_none();
    let name = relative.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned();
    let extension = (!is_directory).then(|| name.rsplit_once('.').map(|(_, e)| e.to_owned())).flatten();
    ObjectEntry {
        path: relative,
        name,
        extension,
        size: meta.map_or(0, |m| m.size),
        last_modified: meta.map(|m| m.last_modified),
        etag: meta.and_then(|m| m.e_tag.clone()),
        is_directory,
    }
}

/// An object being read: its metadata, the byte range sent, and the bytes as a stream.
pub struct ObjectRead {
    pub size: u64,
    pub range: Range<u64>,
    pub last_modified: DateTime<Utc>,
    pub etag: Option<String>,
    pub body: ByteStream,
}

/// A byte range of an object, as `Range: bytes=` names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRange {
    /// `start-end`, the end excluded here.
    Bounded(Range<u64>),
    /// `start-`: from `start` to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Last(u64),
}

/// Reads an object, whole or a byte range of it, as a stream (never held whole).
pub struct ReadObject {
    pub location: Url,
    pub range: Option<ByteRange>,
}

impl Operation for ReadObject {
    type Output = ObjectRead;
    const TIMEOUT: Timeout = Timeout::UntilAnswer;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<ObjectRead> {
        let store = store_for(&state, &self.location)?;
        let path = object_path(self.location.path())?.ok_or_else(|| EngineError::NotFound("object".into()))?;
        let range = self.range.map(|r| match r {
            ByteRange::Bounded(r) => GetRange::Bounded(r),
            ByteRange::From(start) => GetRange::Offset(start),
            ByteRange::Last(n) => GetRange::Suffix(n),
        });
        let options = GetOptions { range, ..GetOptions::default() };
        let got = store.get_opts(&path, options).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => EngineError::NotFound("object".into()),
            e if e.to_string().contains("Range") || e.to_string().contains("range") => {
                EngineError::invalid("range", "the range is outside the object")
            }
            e => storage(e),
        })?;
        let (size, range, last_modified, etag) =
            (got.meta.size, got.range.clone(), got.meta.last_modified, got.meta.e_tag.clone());
        let body = got.into_stream().map_err(storage).boxed();
        Ok(ObjectRead { size, range, last_modified, etag, body })
    }

    fn forward(read: ObjectRead, streams: &Forwarder<'_>) -> ObjectRead {
        ObjectRead { body: streams.stream(read.body), ..read }
    }
}

/// What a write stored.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectWritten {
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// Writes an object from chunks sent through a bounded channel, as a multipart upload (a
/// few parts in flight at most, so memory stays bounded whatever the size). An `Err`
/// chunk or a closed channel before `finish` aborts the upload: nothing is stored.
pub struct WriteObject {
    pub location: Url,
    pub chunks: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
}

/// The size of each part of an upload; S3's minimum is 5 MiB.
const PART_SIZE: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;

impl Operation for WriteObject {
    type Output = ObjectWritten;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(mut self, state: Arc<EngineState>) -> EngineResult<ObjectWritten> {
        let store = store_for(&state, &self.location)?;
        let path = object_path(self.location.path())?.ok_or_else(|| EngineError::invalid("path", "names no object"))?;
        let upload = store.put_multipart(&path).await.map_err(storage)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut size = 0u64;
        while let Some(chunk) = self.chunks.recv().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(reason) => {
                    let _ = writer.abort().await;
                    return Err(EngineError::invalid("files", reason));
                }
            };
            size += chunk.len() as u64;
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(storage(e));
            }
            writer.put(chunk);
        }
        let written = writer.finish().await.map_err(storage)?;
        Ok(ObjectWritten { size, etag: written.e_tag })
    }
}

/// Deletes one object (a missing object is a 404).
pub struct DeleteObject {
    pub location: Url,
}

impl Operation for DeleteObject {
    type Output = ();
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<()> {
        let store = store_for(&state, &self.location)?;
        let path = object_path(self.location.path())?.ok_or_else(|| EngineError::NotFound("object".into()))?;
        // Object stores delete missing keys silently: a 404 needs a look first.
        store.head(&path).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => EngineError::NotFound("object".into()),
            e => storage(e),
        })?;
        store.delete(&path).await.map_err(storage)
    }
}

/// A table found by discovery.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FoundTable {
    /// Folders from the base to the table root.
    pub path: Vec<String>,
    pub location: Url,
    pub format: TableFormat,
    /// Iceberg only: the columns of the current schema, read from its metadata file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<FoundColumn>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    Delta,
    Iceberg,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FoundColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
    pub nullable: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    pub tables: Vec<FoundTable>,
    /// LIST requests made at each directory level (level 0 is the base), and folders visited.
    pub lists_per_level: Vec<u64>,
    pub folders_per_level: Vec<u64>,
}

/// What a running discovery has done, for progress, and its cancellation.
#[derive(Debug, Default)]
pub struct DiscoveryProgress {
    pub folders_listed: AtomicU64,
    pub tables_found: AtomicU64,
    cancelled: AtomicBool,
}

impl DiscoveryProgress {
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// Walks the folders under `base` one level at a time (one LIST per folder, several in
/// flight), stops descending at a table root (a `_delta_log/` folder, or an Iceberg
/// `metadata/` folder holding `*.metadata.json`), and skips hidden (`.`) and `_` folders.
pub struct Discover {
    pub base: Url,
    pub delta: bool,
    pub iceberg: bool,
    /// How deep to look below the base.
    pub max_depth: usize,
    pub progress: Arc<DiscoveryProgress>,
}

const LISTS_IN_FLIGHT: usize = 16;

impl Operation for Discover {
    type Output = Discovery;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<Discovery> {
        let store = store_for(&state, &self.base)?;
        let base = object_path(self.base.path())?;
        let root = self.base.clone();
        let mut level: Vec<(Vec<String>, Option<Path>)> = vec![(Vec::new(), base)];
        let mut found = Vec::new();
        let (mut lists_per_level, mut folders_per_level) = (Vec::new(), Vec::new());
        for depth in 0..=self.max_depth {
            if level.is_empty() {
                break;
            }
            if self.progress.cancelled.load(Ordering::Relaxed) {
                return Err(EngineError::Cancelled);
            }
            folders_per_level.push(level.len() as u64);
            lists_per_level.push(level.len() as u64);
            let listings: Vec<_> = futures::stream::iter(level.into_iter().map(|(names, folder)| {
                let store = store.clone();
                async move {
                    let listed = store.list_with_delimiter(folder.as_ref()).await;
                    (names, folder, listed)
                }
            }))
            .buffer_unordered(LISTS_IN_FLIGHT)
            .collect()
            .await;
            let mut next = Vec::new();
            for (names, folder, listed) in listings {
                let listed = listed.map_err(storage)?;
                self.progress.folders_listed.fetch_add(1, Ordering::Relaxed);
                let children: BTreeSet<String> =
                    listed.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_owned)).collect();
                let location = |names: &[String]| {
                    let mut url = root.clone();
                    for n in names {
                        url = url.join(&format!("{}/", percent(n))).expect("a folder name is a URL segment");
                    }
                    url
                };
                if !names.is_empty() && children.contains("_delta_log") {
                    if self.delta {
                        found.push(FoundTable {
                            location: location(&names),
                            path: names,
                            format: TableFormat::Delta,
                            columns: Vec::new(),
                        });
                        self.progress.tables_found.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                if !names.is_empty() && children.contains("metadata") {
                    let metadata = child(folder.as_ref(), "metadata");
                    if let Some(columns) = iceberg_columns(store.as_ref(), &metadata).await? {
                        if self.iceberg {
                            found.push(FoundTable {
                                location: location(&names),
                                path: names,
                                format: TableFormat::Iceberg,
                                columns,
                            });
                            self.progress.tables_found.fetch_add(1, Ordering::Relaxed);
                        }
                        continue;
                    }
                }
                if depth == self.max_depth {
                    continue;
                }
                for name in children {
                    if name.starts_with('.') || name.starts_with('_') {
                        continue;
                    }
                    let mut child_names = names.clone();
                    child_names.push(name.clone());
                    next.push((child_names, Some(child(folder.as_ref(), &name))));
                }
            }
            level = next;
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Discovery { tables: found, lists_per_level, folders_per_level })
    }
}

/// The current schema of an Iceberg table whose `metadata/` folder is at `metadata`, or
/// `None` when the folder holds no `*.metadata.json`.
async fn iceberg_columns(store: &dyn ObjectStore, metadata: &Path) -> EngineResult<Option<Vec<FoundColumn>>> {
    let listed = store.list_with_delimiter(Some(metadata)).await.map_err(storage)?;
    let latest = listed
        .objects
        .iter()
        .filter(|m| m.location.filename().is_some_and(|f| f.ends_with(".metadata.json")))
        .max_by_key(|m| (m.last_modified, m.location.to_string()));
    let Some(latest) = latest else { return Ok(None) };
    let bytes = store.get(&latest.location).await.map_err(storage)?.bytes().await.map_err(storage)?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let current = doc.get("current-schema-id").and_then(|v| v.as_i64());
    let schema = doc
        .get("schemas")
        .and_then(|s| s.as_array())
        .and_then(|schemas| {
            schemas.iter().find(|s| s.get("schema-id").and_then(|v| v.as_i64()) == current).or(schemas.last())
        })
        .or_else(|| doc.get("schema"));
    let columns = schema
        .and_then(|s| s.get("fields"))
        .and_then(|f| f.as_array())
        .map(|fields| {
            fields
                .iter()
                .map(|f| FoundColumn {
                    name: f.get("name").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
                    column_type: match f.get("type") {
                        Some(serde_json::Value::String(t)) => t.clone(),
                        Some(other) => other.get("type").and_then(|t| t.as_str()).unwrap_or("struct").to_owned(),
                        None => String::new(),
                    },
                    nullable: !f.get("required").and_then(|v| v.as_bool()).unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(columns))
}

fn store_for(state: &EngineState, location: &Url) -> EngineResult<Arc<dyn ObjectStore>> {
    match state.stores.for_location(location)? {
        Some((store, _)) => Ok(store),
        None => Err(EngineError::internal("objects are browsed on object stores only")),
    }
}

fn storage(e: object_store::Error) -> EngineError {
    EngineError::Storage(crate::storage::scrub_urls(&e.to_string()))
}

/// An object path from a URL path or a base path (percent-decoded, no empty parts);
/// `None` for the root.
fn object_path(path: &str) -> EngineResult<Option<Path>> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(None);
    }
    Path::from_url_path(trimmed)
        .map(Some)
        .map_err(|e| EngineError::invalid("path", format!("not a valid object path: {e}")))
}

fn child(folder: Option<&Path>, name: &str) -> Path {
    match folder {
        Some(folder) => folder.clone().join(name),
        None => Path::from(name),
    }
}

/// `base` + a relative path the caller has checked (`a/b/`), as a folder prefix.
fn child_folder(base: Option<&Path>, relative: &str) -> Option<Path> {
    let relative = relative.trim_matches('/');
    if relative.is_empty() {
        return base.cloned();
    }
    Some(relative.split('/').fold(base.cloned().unwrap_or_default(), |p, part| p.join(part)))
}

fn join(base: Option<&Path>, relative: &str) -> String {
    match base {
        Some(base) => format!("{base}/{relative}"),
        None => relative.to_owned(),
    }
}

fn percent(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}
