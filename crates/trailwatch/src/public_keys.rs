//! The trail's public keys, as `aws cloudtrail list-public-keys` prints
//! them, read from a file or a folder of them, for validating digest
//! files (`verify`, and `watch --public-keys` as digests land).

use std::path::Path;

use anyhow::{Context, Result, bail};
use trailwatch_core::digest::KeyRing;

/// Load public keys from one file or every `.json` file of a folder.
pub fn load_keys(path: &Path) -> Result<KeyRing> {
    let mut files = Vec::new();
    if path.is_dir() {
        for e in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut ring = KeyRing::default();
    for f in &files {
        let text = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let rejected = ring
            .add_json(&text)
            .with_context(|| format!("public keys in {}", f.display()))?;
        for r in rejected {
            tracing::warn!("{}: {r}", f.display());
        }
    }
    if ring.is_empty() {
        bail!("no usable public key in {}", path.display());
    }
    Ok(ring)
}
