//! An S3 trail bucket (`s3://bucket/prefix`) as a digest-validation store:
//! keys are full object keys, a digest's signature is its
//! `x-amz-meta-signature` metadata, and log files are streamed chunk by
//! chunk (never held whole) through the async runtime.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{Attribute, ObjectStore, ObjectStoreExt};
use tokio::runtime::Handle;
use trailwatch_core::digest::TrailStore;
use trailwatch_core::digest::validate::{DIGEST_BYTES, too_large};
use trailwatch_lake::store::{Location, S3Options, s3_store};

#[derive(Debug)]
pub struct S3Trail {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: String,
    handle: Handle,
    /// Signatures seen by `read` (one GET gives body and metadata), so
    /// `signature` does not fetch the digest a second time.
    signatures: std::sync::Mutex<std::collections::HashMap<String, Option<String>>>,
}

fn io_err(e: object_store::Error) -> io::Error {
    io::Error::other(e)
}

impl S3Trail {
    pub fn open(url: &str, s3: &S3Options, handle: Handle) -> anyhow::Result<S3Trail> {
        let Location::S3 { bucket, prefix } = Location::parse(url) else {
            anyhow::bail!("{url} is not an s3:// URL");
        };
        Ok(S3Trail {
            store: s3_store(&bucket, s3)?,
            bucket,
            prefix,
            handle,
            signatures: Default::default(),
        })
    }

    /// The object's bytes (at most `limit`: a larger object is an error
    /// before its body is read) and its `signature` metadata.
    fn get(&self, key: &str, limit: u64) -> io::Result<Option<(Bytes, Option<String>)>> {
        let path = Path::from(key);
        self.handle.block_on(async {
            match self.store.get(&path).await {
                Ok(r) => {
                    let signature = r
                        .attributes
                        .iter()
                        .find(|(k, _)| {
                            matches!(k, Attribute::Metadata(name) if name.eq_ignore_ascii_case("signature"))
                        })
                        .map(|(_, v)| v.to_string());
                    if r.meta.size > limit {
                        return Err(too_large(key, limit));
                    }
                    let bytes = r.bytes().await.map_err(io_err)?;
                    Ok(Some((bytes, signature)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(io_err(e)),
            }
        })
    }

    /// Every digest under the prefix with its signature, for
    /// `verify fetch-signatures`: (key relative to the prefix, signature).
    pub fn signatures(&self) -> io::Result<Vec<(String, Option<String>)>> {
        let mut out = Vec::new();
        for key in self.keys()? {
            if !key.contains("/CloudTrail-Digest/") {
                continue;
            }
            if let Some((_, sig)) = self.get(&key, DIGEST_BYTES)? {
                let rel = key
                    .strip_prefix(&self.prefix)
                    .unwrap_or(&key)
                    .trim_start_matches('/')
                    .to_string();
                out.push((rel, sig));
            }
        }
        Ok(out)
    }
}

impl TrailStore for S3Trail {
    fn bucket(&self) -> Option<&str> {
        Some(&self.bucket)
    }

    fn keys(&self) -> io::Result<Vec<String>> {
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        let metas: Vec<object_store::ObjectMeta> = self
            .handle
            .block_on(self.store.list(prefix.as_ref()).try_collect())
            .map_err(io_err)?;
        let mut keys: Vec<String> = metas.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        Ok(keys)
    }

    fn read(&self, key: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let Some((bytes, sig)) = self.get(key, limit)? else {
            return Ok(None);
        };
        if let Ok(mut cache) = self.signatures.lock() {
            cache.insert(key.to_string(), sig);
        }
        Ok(Some(bytes.to_vec()))
    }

    fn signature(&self, key: &str) -> io::Result<Option<String>> {
        let cached = self.signatures.lock().ok().and_then(|mut c| c.remove(key));
        match cached {
            Some(sig) => Ok(sig),
            None => Ok(self.get(key, DIGEST_BYTES)?.and_then(|(_, s)| s)),
        }
    }

    fn open(&self, key: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        let path = Path::from(key);
        let got = self.handle.block_on(self.store.get(&path));
        match got {
            Ok(r) => Ok(Some(Box::new(StreamReader {
                stream: r.into_stream(),
                chunk: Bytes::new(),
                handle: self.handle.clone(),
            }))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }
}

/// A blocking reader over an object's byte stream, a chunk at a time.
struct StreamReader {
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    chunk: Bytes,
    handle: Handle,
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                Some(Ok(c)) => self.chunk = c,
                Some(Err(e)) => return Err(io_err(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}
