//! Listing a local table's log by file name.
//!
//! delta-rs learns of new commits by listing `_delta_log/` from the version it knows (after
//! every commit, too). `object_store`'s `LocalFileSystem` lists a folder by walking it
//! with every entry's metadata read (symbolic links followed) and its name turned into a
//! path and compared, so each listing costs a `stat` per log file ever written: with 16
//! clients inserting single rows, commits slowed by half over 3,700 commits. [`LogListing`]
//! lists a flat `_delta_log/` folder from the names alone and reads the metadata only of
//! the files after the offset; every other call goes to the local store it wraps.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use url::Url;

/// delta-rs' store for `file:` locations, with [`LogListing`] around it.
#[derive(Debug, Default)]
pub(crate) struct LocalStores;

impl deltalake::logstore::ObjectStoreFactory for LocalStores {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &deltalake::logstore::StorageConfig,
    ) -> deltalake::DeltaResult<(deltalake::logstore::ObjectStoreRef, Path)> {
        let (store, path) = object_store::parse_url_opts(url, &config.raw)?;
        Ok((Arc::new(LogListing { inner: Arc::from(store) }), path))
    }
}

#[derive(Debug)]
pub(crate) struct LogListing {
    /// A local file system store rooted at `/` (as `object_store::parse_url_opts` builds
    /// one for a `file:` URL).
    inner: Arc<dyn ObjectStore>,
}

/// The objects of the flat folder `prefix` after `offset`, sorted; `None` when the folder
/// is not flat or a name is not plain (the wrapped store's listing answers then).
fn list_flat(prefix: &Path, offset: &Path) -> Option<Vec<Result<ObjectMeta>>> {
    let folder =
        Url::from_directory_path("/").ok()?.join(&format!("{}/", prefix.as_ref())).ok()?.to_file_path().ok()?;
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Vec::new()),
        Err(_) => return None,
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.ok()?;
        let name = entry.file_name().into_string().ok()?;
        // Names the local store would encode, or its staging files (`name#n`).
        if entry.file_type().ok()?.is_dir() || name.contains(['#', '%']) || name.starts_with('.') {
            return None;
        }
        let location = prefix.clone().join(name.as_str());
        if location.as_ref() != format!("{}/{name}", prefix.as_ref()) {
            return None;
        }
        if location <= *offset {
            continue;
        }
        found.push(match std::fs::metadata(entry.path()) {
            Ok(m) if m.is_file() => (location, m),
            Ok(_) => return None,
            // Removed since the folder was read (log cleanup): not there any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return None,
        });
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        found
            .into_iter()
            .map(|(location, m)| {
                let last_modified =
                    m.modified().map_err(|e| object_store::Error::Generic { store: "LogListing", source: e.into() })?;
                Ok(ObjectMeta {
                    location,
                    last_modified: last_modified.into(),
                    size: m.len(),
                    e_tag: None,
                    version: None,
                })
            })
            .collect(),
    )
}

impl fmt::Display for LogListing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogListing({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for LogListing {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    /// A log folder is listed by name (see the module); anything else by the local store.
    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        let Some(prefix) = prefix.filter(|p| p.filename() == Some("_delta_log")).cloned() else {
            return self.inner.list_with_offset(prefix, offset);
        };
        let (inner, offset) = (self.inner.clone(), offset.clone());
        stream::once(async move {
            let (p, o) = (prefix.clone(), offset.clone());
            match tokio::task::spawn_blocking(move || list_flat(&p, &o)).await.ok().flatten() {
                Some(listed) => stream::iter(listed).boxed(),
                None => inner.list_with_offset(Some(&prefix), &offset),
            }
        })
        .flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;
    use object_store::local::LocalFileSystem;

    use super::*;

    /// The listing by name answers what the local store's walk answers: the files after
    /// the offset, with their sizes.
    #[tokio::test]
    async fn a_log_folder_lists_as_the_local_store_lists_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("my table").join("_delta_log");
        std::fs::create_dir_all(&log).unwrap();
        for v in 0..12u64 {
            std::fs::write(log.join(format!("{v:020}.json")), vec![b'x'; v as usize + 1]).unwrap();
        }
        std::fs::write(log.join("00000000000000000010.checkpoint.parquet"), b"cp").unwrap();
        std::fs::write(log.join("_last_checkpoint"), b"{}").unwrap();
        let inner: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
        let ours = LogListing { inner: inner.clone() };
        let prefix = Path::from_filesystem_path(&log).unwrap();
        let offset = prefix.clone().join("00000000000000000009.json");
        let expected = listed(inner.as_ref(), &prefix, &offset).await;
        assert_eq!(listed(&ours, &prefix, &offset).await, expected);
        let names: Vec<&str> = expected.iter().map(|(l, _)| l.rsplit('/').next().unwrap()).collect();
        assert_eq!(
            names,
            [
                "00000000000000000010.checkpoint.parquet",
                "00000000000000000010.json",
                "00000000000000000011.json",
                "_last_checkpoint"
            ]
        );
        assert_eq!(expected[2].1, 12);
    }

    async fn listed(store: &dyn ObjectStore, prefix: &Path, offset: &Path) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = store
            .list_with_offset(Some(prefix), offset)
            .map_ok(|m| (m.location.to_string(), m.size))
            .try_collect()
            .await
            .unwrap();
        all.sort();
        all
    }

    /// A log folder that is not flat (a subfolder, as sidecar checkpoints make) is listed
    /// by the local store, subfolder included; a missing one lists as empty.
    #[tokio::test]
    async fn other_log_folders_are_listed_by_the_local_store() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("t").join("_delta_log");
        std::fs::create_dir_all(log.join("_sidecars")).unwrap();
        std::fs::write(log.join("00000000000000000001.json"), b"{}").unwrap();
        std::fs::write(log.join("_sidecars").join("a.parquet"), b"pq").unwrap();
        let inner: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
        let ours = LogListing { inner: inner.clone() };
        let prefix = Path::from_filesystem_path(&log).unwrap();
        let offset = prefix.clone().join("00000000000000000000.json");
        let answered = listed(&ours, &prefix, &offset).await;
        assert_eq!(answered, listed(inner.as_ref(), &prefix, &offset).await);
        assert_eq!(answered.len(), 2, "{answered:?}");
        assert!(answered.iter().any(|(l, _)| l.ends_with("_sidecars/a.parquet")));

        let missing = Path::from_filesystem_path(dir.path()).unwrap().join("gone").join("_delta_log");
        assert_eq!(listed(&ours, &missing, &missing.clone().join("0")).await, []);
    }
}
