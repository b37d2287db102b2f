//! Where a lake lives: a local folder or `s3://bucket/prefix`, behind
//! `object_store`, with the few operations the lake needs as blocking calls
//! (the ingest pipeline runs on rayon threads, not on the async runtime).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use tokio::runtime::Handle;

use crate::error::LakeError;

/// How to reach S3 (or an S3-compatible server): `--profile`, `--region`
/// and `--endpoint-url`; the rest comes from the AWS SDK's chains.
pub type S3Options = crate::aws::AwsOptions;

/// A parsed location: local folder or S3 bucket and prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Location {
    pub fn parse(s: &str) -> Location {
        match s.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                Location::S3 {
                    bucket: bucket.to_string(),
                    prefix: prefix.trim_matches('/').to_string(),
                }
            }
            None => Location::Local(PathBuf::from(s)),
        }
    }
}

/// Build an S3 store for a bucket with the region, endpoint and
/// credentials the AWS SDK resolves (see [`crate::aws`]).
pub fn s3_store(bucket: &str, opts: &S3Options) -> Result<Arc<dyn ObjectStore>, LakeError> {
    let access = crate::aws::s3_access(opts)?;
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(&access.region)
        .with_credentials(access.credentials);
    if let Some(ep) = access.endpoint {
        b = b
            .with_allow_http(ep.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .with_endpoint(ep);
    }
    Ok(Arc::new(b.build()?))
}

/// An object store rooted at a location, with blocking helpers.
#[derive(Debug, Clone)]
pub struct Store {
    pub inner: Arc<dyn ObjectStore>,
    pub root: Path,
    /// How to show the location to users (`/data/lake`, `s3://b/p`).
    pub display: String,
    /// The folder, for a local lake.
    pub local_root: Option<PathBuf>,
    handle: Handle,
    /// This writer's name when several write the lake at once (`watch
    /// --shard`): it prefixes its transaction ids, and crash recovery
    /// touches only its own transactions (see [`crate::tx`]).
    writer: Option<String>,
}

/// A store on a fresh temporary folder, with the runtime it runs on, for
/// tests (keep all three alive while the store is used).
#[cfg(test)]
pub(crate) fn temp_store() -> (tokio::runtime::Runtime, tempfile::TempDir, Store) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open(
        &dir.path().display().to_string(),
        &S3Options::default(),
        rt.handle().clone(),
    )
    .expect("store");
    (rt, dir, store)
}

impl Store {
    /// Open a lake to read it: the location must hold one (a committed
    /// transaction in `_manifest/`). Nothing is created: a mistyped path
    /// is an error naming it, not an empty lake.
    pub fn open_existing(
        location: &str,
        s3: &S3Options,
        handle: Handle,
    ) -> Result<Store, LakeError> {
        let not_a_lake = |why| LakeError::NotALake {
            location: location.to_string(),
            why,
        };
        if let Location::Local(dir) = Location::parse(location)
            && !dir.is_dir()
        {
            return Err(not_a_lake("there is no such folder"));
        }
        let store = Store::open(location, s3, handle)?;
        if !store.holds_a_lake()? {
            return Err(not_a_lake("it holds no committed ingest (no _manifest/)"));
        }
        Ok(store)
    }

    /// Whether a transaction has been committed here.
    pub fn holds_a_lake(&self) -> Result<bool, LakeError> {
        let prefix = self.path(crate::manifest::MANIFEST_DIR);
        let mut listing = self.inner.list(Some(&prefix));
        let first = self.block_on(async { listing.next().await });
        match first {
            None => Ok(false),
            Some(found) => found.map(|_| true).map_err(LakeError::from),
        }
    }

    /// Open a location; a local folder is created if missing.
    pub fn open(location: &str, s3: &S3Options, handle: Handle) -> Result<Store, LakeError> {
        match Location::parse(location) {
            Location::Local(dir) => {
                std::fs::create_dir_all(&dir).map_err(|e| LakeError::Io {
                    what: format!("creating {}", dir.display()),
                    error: e,
                })?;
                let abs = std::fs::canonicalize(&dir).map_err(|e| LakeError::Io {
                    what: format!("resolving {}", dir.display()),
                    error: e,
                })?;
                Ok(Store {
                    inner: Arc::new(LocalFileSystem::new_with_prefix(&abs)?),
                    root: Path::default(),
                    display: abs.display().to_string(),
                    local_root: Some(abs),
                    handle,
                    writer: None,
                })
            }
            Location::S3 { bucket, prefix } => Ok(Store {
                inner: s3_store(&bucket, s3)?,
                root: Path::from(prefix.as_str()),
                display: format!("s3://{bucket}/{prefix}"),
                local_root: None,
                handle,
                writer: None,
            }),
        }
    }

    /// The same store, writing as `writer`, one of several writers of the
    /// lake (letters, digits and `-` only: it goes into file names).
    pub fn with_writer(mut self, writer: &str) -> Result<Store, LakeError> {
        let ok = !writer.is_empty()
            && writer.len() <= 32
            && writer
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(LakeError::BadWriter(writer.to_string()));
        }
        self.writer = Some(writer.to_string());
        Ok(self)
    }

    /// This writer's name, when the lake has several (see [`Store::with_writer`]).
    pub fn writer(&self) -> Option<&str> {
        self.writer.as_deref()
    }

    /// The full path of `rel` (a `/`-separated path under the root).
    pub fn path(&self, rel: &str) -> Path {
        let rel = rel.trim_matches('/');
        match (self.root.as_ref().is_empty(), rel.is_empty()) {
            (true, _) => Path::from(rel),
            (false, true) => self.root.clone(),
            (false, false) => Path::from(format!("{}/{rel}", self.root)),
        }
    }

    /// `rel` of a full path, when it is under the root.
    pub fn rel(&self, p: &Path) -> String {
        match p.prefix_match(&self.root) {
            Some(parts) => parts
                .map(|x| x.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/"),
            None => p.to_string(),
        }
    }

    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.handle.block_on(f)
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Atomic put: readers see the whole object or nothing.
    pub fn put(&self, rel: &str, bytes: Bytes) -> Result<(), LakeError> {
        let path = self.path(rel);
        self.block_on(self.inner.put(&path, PutPayload::from(bytes)))?;
        Ok(())
    }

    /// Put `rel` only if nothing is there yet (S3's conditional write,
    /// `If-None-Match: *`; an exclusive create on a local folder): two
    /// writers can never overwrite each other's object.
    pub fn put_new(&self, rel: &str, bytes: Bytes) -> Result<(), LakeError> {
        let path = self.path(rel);
        let opts = PutOptions::from(PutMode::Create);
        match self.block_on(self.inner.put_opts(&path, PutPayload::from(bytes), opts)) {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                Err(LakeError::Exists(format!("{}/{rel}", self.display)))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn get(&self, rel: &str) -> Result<Bytes, LakeError> {
        let path = self.path(rel);
        Ok(self.block_on(async { self.inner.get(&path).await?.bytes().await })?)
    }

    /// The bytes `range` of the object `rel`.
    pub fn get_range(&self, rel: &str, range: std::ops::Range<u64>) -> Result<Bytes, LakeError> {
        let path = self.path(rel);
        Ok(self.block_on(self.inner.get_range(&path, range))?)
    }

    /// The size of the object `rel`, in bytes.
    pub fn size(&self, rel: &str) -> Result<u64, LakeError> {
        let path = self.path(rel);
        Ok(self.block_on(self.inner.head(&path))?.size)
    }

    /// Every object under `rel` (paginated by the store), sorted by path.
    pub fn list(&self, rel: &str) -> Result<Vec<ObjectMeta>, LakeError> {
        let prefix = self.path(rel);
        let mut all: Vec<ObjectMeta> =
            self.block_on(self.inner.list(Some(&prefix)).try_collect())?;
        all.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(all)
    }

    /// Move an object; atomic on a local folder, copy-then-delete on S3.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), LakeError> {
        let (from, to) = (self.path(from), self.path(to));
        self.block_on(self.inner.rename(&from, &to))?;
        Ok(())
    }

    pub fn delete(&self, rel: &str) -> Result<(), LakeError> {
        let path = self.path(rel);
        match self.block_on(self.inner.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// On a local lake, remove the folder `rel` once its files are gone
    /// (object stores have no folders; local ones keep empty ones around).
    pub fn remove_local_dir(&self, rel: &str) {
        if let Some(root) = &self.local_root {
            let _ = std::fs::remove_dir_all(root.join(rel));
        }
    }

    pub fn exists(&self, rel: &str) -> Result<bool, LakeError> {
        let path = self.path(rel);
        match self.block_on(self.inner.head(&path)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
