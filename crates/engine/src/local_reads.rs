//! Reading byte ranges of local files on the calling thread.
//!
//! `object_store`'s `LocalFileSystem` hands every read to tokio's blocking pool, so each
//! column chunk a scan reads costs two thread hand-offs (there and back). A group-by over
//! a 5M-row table reads some 350 chunks of a few KiB each, almost always from the page
//! cache, and on a 2-core machine the hand-offs (the scheduler's work, the wake-ups) were
//! about a quarter of the query's CPU. [`InlineReads`] serves the range reads a Parquet scan makes
//! with positioned reads on the task's own thread; every other call goes to the store it
//! wraps.

use std::fmt;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream};
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use url::Url;

/// A store over a local folder (the one the store `inner` serves) that reads byte ranges
/// inline.
#[derive(Debug)]
pub(crate) struct InlineReads {
    /// The folder, as a `file:` URL ending in `/`.
    root: Url,
    inner: Arc<dyn ObjectStore>,
}

impl InlineReads {
    /// `None` unless `root` is a local folder.
    pub(crate) fn new(root: &Url, inner: Arc<dyn ObjectStore>) -> Option<Self> {
        let root = Url::from_directory_path(root.to_file_path().ok()?).ok()?;
        Some(Self { root, inner })
    }

    /// Reads the ranges `ranges` asks for, given the file's size; answers them and the
    /// file's metadata.
    fn read(
        &self,
        location: &Path,
        ranges: impl FnOnce(u64) -> Result<Vec<Range<u64>>>,
    ) -> Result<(Vec<Bytes>, ObjectMeta)> {
        let fail = |source: std::io::Error| match source.kind() {
            std::io::ErrorKind::NotFound => {
                object_store::Error::NotFound { path: location.to_string(), source: source.into() }
            }
            _ => object_store::Error::Generic { store: "InlineReads", source: source.into() },
        };
        // A path's segments are percent-encoded, as in a URL: decode them as the local store does.
        let path = self.root.join(location.as_ref()).ok();
        // `..`, even percent-encoded, never leads out of the folder.
        let path = path.filter(|url| url.as_str().starts_with(self.root.as_str()));
        let path = path.and_then(|url| url.to_file_path().ok()).ok_or_else(|| {
            let message = format!("{location} is not a path under {}", self.root);
            object_store::Error::Generic { store: "InlineReads", source: message.into() }
        })?;
        let file = std::fs::File::open(path).map_err(fail)?;
        let metadata = file.metadata().map_err(fail)?;
        let size = metadata.len();
        let mut read = Vec::new();
        for range in ranges(size)? {
            if range.start > range.end || range.end > size {
                let message = format!("range {range:?} is outside {location} ({size} bytes)");
                return Err(object_store::Error::Generic { store: "InlineReads", source: message.into() });
            }
            let mut buffer = vec![0; (range.end - range.start) as usize];
            file.read_exact_at(&mut buffer, range.start).map_err(fail)?;
            read.push(Bytes::from(buffer));
        }
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: metadata.modified().map_err(fail)?.into(),
            size,
            e_tag: None,
            version: None,
        };
        Ok((read, meta))
    }
}

impl fmt::Display for InlineReads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InlineReads({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for InlineReads {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    /// A plain ranged read is served inline; anything with conditions goes to `inner`.
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let plain = options.if_match.is_none()
            && options.if_none_match.is_none()
            && options.if_modified_since.is_none()
            && options.if_unmodified_since.is_none()
            && options.version.is_none()
            && !options.head;
        let Some(range) = options.range.clone().filter(|_| plain) else {
            return self.inner.get_opts(location, options).await;
        };
        let mut answered = None;
        let (mut read, meta) = self.read(location, |size| {
            let range = range
                .as_range(size)
                .map_err(|e| object_store::Error::Generic { store: "InlineReads", source: e.into() })?;
            answered = Some(range.clone());
            Ok(vec![range])
        })?;
        let range = answered.expect("the range was read");
        let bytes = read.pop().expect("one range read");
        Ok(GetResult {
            payload: GetResultPayload::Stream(Box::pin(stream::once(async move { Ok(bytes) }))),
            meta,
            range,
            attributes: Attributes::default(),
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        Ok(self.read(location, |_| Ok(ranges.to_vec()))?.0)
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
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
    use object_store::local::LocalFileSystem;
    use object_store::{GetRange, ObjectStoreExt};

    use super::*;

    fn store(dir: &std::path::Path) -> InlineReads {
        let inner: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
        InlineReads::new(&Url::from_directory_path(dir).unwrap(), inner).expect("a local folder")
    }

    #[tokio::test]
    async fn reads_ranges_of_local_files_and_refuses_what_is_not_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a b")).unwrap();
        std::fs::write(dir.path().join("a b/file.parquet"), b"0123456789").unwrap();
        let store = store(dir.path());
        let file = Path::from("a b/file.parquet");

        let ranges = store.get_ranges(&file, &[0..3, 5..10, 4..4]).await.unwrap();
        assert_eq!(ranges, vec![Bytes::from("012"), Bytes::from("56789"), Bytes::new()]);
        assert_eq!(store.get_range(&file, 2..6).await.unwrap(), Bytes::from("2345"));
        let suffix = GetOptions { range: Some(GetRange::Suffix(4)), ..Default::default() };
        let got = store.get_opts(&file, suffix).await.unwrap();
        assert_eq!((got.range.clone(), got.meta.size), (6..10, 10));
        let modified: chrono::DateTime<chrono::Utc> =
            std::fs::metadata(dir.path().join("a b/file.parquet")).unwrap().modified().unwrap().into();
        assert_eq!(got.meta.last_modified, modified);
        assert_eq!(got.bytes().await.unwrap(), Bytes::from("6789"));
        // A whole-object read goes to the wrapped store, and reads the same bytes.
        assert_eq!(store.get(&file).await.unwrap().bytes().await.unwrap(), Bytes::from("0123456789"));

        let missing = store.get_ranges(&Path::from("a b/gone.parquet"), &[0..1, 2..3]).await.unwrap_err();
        assert!(matches!(missing, object_store::Error::NotFound { .. }), "{missing}");
        let beyond = store.get_ranges(&file, &[0..1, 8..12]).await.unwrap_err();
        assert!(beyond.to_string().contains("outside"), "{beyond}");
        // A ranged get ends at the end of the file, as object_store's contract says, but may
        // not start beyond it.
        assert_eq!(store.get_range(&file, 8..12).await.unwrap(), Bytes::from("89"));
        let beyond = store.get_range(&file, 12..14).await.unwrap_err();
        assert!(beyond.to_string().contains("12"), "{beyond}");
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        let inner = store.root.join("a%20b/").unwrap();
        let below = InlineReads { root: inner, inner: store.inner.clone() };
        let escape = below.get_range(&Path::parse("%2E%2E/secret").unwrap(), 0..1).await.unwrap_err();
        assert!(escape.to_string().contains("is not a path under"), "{escape}");
    }
}
