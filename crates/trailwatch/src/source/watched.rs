//! The local folders a watcher watches for new files.
//!
//! Each folder gets a watch of its own (not one recursive watch over the
//! tree), and only folders that can still receive a file that counts are
//! watched: a trail's done days are left alone. So the number of watches,
//! and the cost of setting them up at a restart, stays flat however long
//! the trail grows, and within the kernel's per-user limit on inotify
//! watches (a recursive watch over a year of an organisation's trail would
//! need one per day folder of every account and region).
//!
//! A folder is watched just before it is read (the walk calls back), so a
//! file that lands in it is either in the listing or raises an event; a
//! folder that appears later raises an event in its watched parent and is
//! watched and read then.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use trailwatch_core::walk::slash_path;

/// The watches of one `watch` process.
#[derive(Debug)]
pub struct Watched {
    watcher: RecommendedWatcher,
    /// The local source folders, as given.
    roots: Vec<PathBuf>,
    /// Folders watched, each with its path below its source folder.
    folders: BTreeMap<PathBuf, String>,
    /// Whether a failure to watch was reported already (once is enough:
    /// the rescans still find what lands there).
    warned: bool,
}

impl Watched {
    /// A watcher sending its events to `tx`, for the local `sources`
    /// (folders or files). Files are watched at once; folders as the walk
    /// enters them ([`Watched::folder`]).
    pub fn new(sources: &[String], tx: impl notify::EventHandler) -> Result<Watched> {
        let mut watcher = notify::recommended_watcher(tx).context("starting the file watcher")?;
        let mut roots = Vec::new();
        for s in sources.iter().filter(|s| !s.starts_with("s3://")) {
            let path = PathBuf::from(s);
            if path.is_dir() {
                roots.push(path);
            } else {
                watcher
                    .watch(&path, RecursiveMode::NonRecursive)
                    .with_context(|| format!("watching {s}"))?;
            }
        }
        Ok(Watched {
            watcher,
            roots,
            folders: BTreeMap::new(),
            warned: false,
        })
    }

    /// Watch `dir` (a folder below a source folder, or one itself), as the
    /// walk is about to read it. A folder already watched is watched anew:
    /// it may have been removed and made again, which drops its watch.
    pub fn folder(&mut self, dir: &Path) {
        let Some(rel) = self
            .roots
            .iter()
            .filter_map(|r| dir.strip_prefix(r).ok())
            .min_by_key(|rel| rel.as_os_str().len())
            .map(slash_path)
        else {
            return;
        };
        match self.watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.folders.insert(dir.to_path_buf(), rel);
            }
            // Gone again before it could be watched: nothing to watch.
            Err(e) if matches!(&e.kind, notify::ErrorKind::PathNotFound) => {}
            Err(e) => {
                if !self.warned {
                    self.warned = true;
                    tracing::warn!(
                        "cannot watch {}: {e}; files landing there are found by the rescan \
                         every 5 minutes (raise fs.inotify.max_user_watches if the limit is reached)",
                        dir.display()
                    );
                }
            }
        }
    }

    /// Stop watching the folders `done` names (by path below their source
    /// folder): trail days whose files are all done.
    pub fn forget(&mut self, done: &dyn Fn(&str) -> bool) {
        let gone: Vec<PathBuf> = self
            .folders
            .iter()
            .filter(|(_, rel)| done(rel))
            .map(|(dir, _)| dir.clone())
            .collect();
        for dir in gone {
            // A folder removed since has lost its watch already.
            let _ = self.watcher.unwatch(&dir);
            self.folders.remove(&dir);
        }
    }

    /// How many folders are watched.
    pub fn count(&self) -> usize {
        self.folders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_watched_folder_reports_new_files_and_a_forgotten_one_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("trail");
        let old = root.join("old");
        let live = root.join("live");
        std::fs::create_dir_all(&old).expect("mkdir");
        std::fs::create_dir_all(&live).expect("mkdir");
        let (tx, rx) = mpsc::channel();
        let mut w = Watched::new(&[root.display().to_string()], tx).expect("watcher");
        w.folder(&root);
        w.folder(&old);
        w.folder(&live);
        assert_eq!(w.count(), 3);
        w.forget(&|rel| rel == "old");
        assert_eq!(w.count(), 2);
        std::fs::write(old.join("a.json"), b"{}").expect("write");
        std::fs::write(live.join("b.json"), b"{}").expect("write");
        let mut paths = Vec::new();
        while let Ok(Ok(e)) = rx.recv_timeout(Duration::from_millis(500)) {
            paths.extend(e.paths);
        }
        assert!(paths.contains(&live.join("b.json")), "{paths:?}");
        assert!(!paths.iter().any(|p| p.starts_with(&old)), "{paths:?}");
    }
}
