//! A local copy of a trail bucket as a [`TrailStore`]: keys are paths
//! relative to the copy's root, and a digest's signature is read from the
//! sidecar file `<digest file>.signature` beside it (the hex of its
//! `x-amz-meta-signature`, as `trailwatch verify fetch-signatures` saves it).

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use super::validate::{TrailStore, too_large};

/// The file name suffix of signature sidecars.
pub const SIGNATURE_SUFFIX: &str = ".signature";

#[derive(Debug, Clone)]
pub struct LocalTrail {
    root: PathBuf,
}

impl LocalTrail {
    pub fn new(root: impl Into<PathBuf>) -> LocalTrail {
        LocalTrail { root: root.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

fn missing_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl TrailStore for LocalTrail {
    fn bucket(&self) -> Option<&str> {
        None
    }

    fn keys(&self) -> io::Result<Vec<String>> {
        // Links are followed and only regular files listed; a file the
        // walk cannot read is left out, so a digest or log in it shows
        // as missing in the verdict.
        let meta = std::fs::metadata(&self.root)?;
        if !meta.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a folder",
                self.root.display()
            )));
        }
        let mut out: Vec<String> = crate::walk::walk(&self.root)
            .files
            .into_iter()
            .map(|f| f.rel)
            .collect();
        out.sort();
        Ok(out)
    }

    fn read(&self, key: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let Some(f) = missing_is_none(File::open(self.path(key)))? else {
            return Ok(None);
        };
        // Never more than the limit in memory, whatever the file's size.
        let mut out = Vec::new();
        f.take(limit.saturating_add(1)).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(too_large(key, limit));
        }
        Ok(Some(out))
    }

    fn signature(&self, key: &str) -> io::Result<Option<String>> {
        let sidecar = self.path(&format!("{key}{SIGNATURE_SUFFIX}"));
        Ok(missing_is_none(std::fs::read_to_string(sidecar))?.map(|s| s.trim().to_string()))
    }

    fn open(&self, key: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        Ok(missing_is_none(File::open(self.path(key)))?
            .map(|f| Box::new(f) as Box<dyn Read + Send>))
    }
}
