//! A local copy of a trail bucket as a [`TrailStore`]: keys are paths
//! relative to the copy's root, and a digest's signature is read from the
//! sidecar file `<digest file>.signature` beside it (the hex of its
//! `x-amz-meta-signature`, as `trailwatch verify fetch-signatures` saves it).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::validate::TrailStore;

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

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

impl TrailStore for LocalTrail {
    fn bucket(&self) -> Option<&str> {
        None
    }

    fn keys(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out)?;
        out.sort();
        Ok(out)
    }

    fn read(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        missing_is_none(std::fs::read(self.path(key)))
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
