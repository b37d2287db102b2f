//! Walking a local folder for the files to read: every command that takes
//! a folder (decode, ingest, verify, SQL over raw logs) lists it here.
//!
//! - Symlinks to files and folders are followed (a folder of links is how
//!   people stage a subset of a trail), with loop protection: a link back
//!   to one of its own ancestors is reported, not followed.
//! - Only regular files are listed: a FIFO, socket or device would block
//!   or never end.
//! - A file or folder that cannot be read is reported and the rest is
//!   still walked.
//! - Hidden files (`.name`) are left out; paths come sorted.

use std::path::{Path, PathBuf};

/// One regular file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    /// The path below the root, with `/` separators.
    pub rel: String,
    pub size: u64,
}

/// Something the walk could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub path: PathBuf,
    pub reason: String,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<Found>,
    pub unreadable: Vec<Unreadable>,
    /// Entries that are neither files nor folders (FIFOs, sockets, devices).
    pub special: u64,
}

/// `p` with `/` separators.
pub fn slash_path(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// Walk `root` (a folder) recursively.
pub fn walk(root: &Path) -> Walk {
    walk_skipping(root, &|_| false, &mut |_| {})
}

/// [`walk`], not entering the folders (by path below the root, with `/`)
/// for which `skip` says so — a watcher skips trail days it has done —
/// and calling `enter` with each folder just before reading it, so that a
/// watcher can watch it first: a file that lands there afterwards raises
/// an event, one that landed before is in the walk.
/// (Written out rather than with walkdir's `filter_entry`, which opens a
/// folder before asking whether to skip it: for a year of day folders,
/// that is a year of `opendir` calls at every start.)
pub fn walk_skipping(
    root: &Path,
    skip: &dyn Fn(&str) -> bool,
    enter: &mut dyn FnMut(&Path),
) -> Walk {
    let mut out = Walk::default();
    let ancestors = vec![std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())];
    let mut v = Visit {
        root,
        skip,
        enter,
        out: &mut out,
    };
    v.visit(root, &ancestors);
    out
}

/// One walk in progress.
struct Visit<'a> {
    root: &'a Path,
    skip: &'a dyn Fn(&str) -> bool,
    enter: &'a mut dyn FnMut(&Path),
    out: &'a mut Walk,
}

impl Visit<'_> {
    /// One folder: its entries in name order, files noted, folders entered
    /// where they stand in that order (the order walkdir's sorted walk
    /// gives).
    fn visit(&mut self, dir: &Path, ancestors: &[PathBuf]) {
        (self.enter)(dir);
        let root = self.root;
        let entries = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.out.unreadable.push(Unreadable {
                    path: dir.to_path_buf(),
                    reason: e.to_string(),
                });
                return;
            }
        };
        let mut names = Vec::new();
        for e in entries {
            match e {
                Ok(e) => names.push(e.file_name()),
                Err(e) => self.out.unreadable.push(Unreadable {
                    path: dir.to_path_buf(),
                    reason: e.to_string(),
                }),
            }
        }
        names.sort();
        for name in names {
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = dir.join(&name);
            // Links are followed: the target's kind decides.
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.out.unreadable.push(Unreadable {
                        path,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let rel = slash_path(path.strip_prefix(root).unwrap_or(&path));
            if meta.is_dir() {
                if (self.skip)(&rel) {
                    continue;
                }
                let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                if let Some(a) = ancestors.iter().find(|a| **a == canonical) {
                    self.out.unreadable.push(Unreadable {
                        path,
                        reason: format!("a symlink loop back to {}", a.display()),
                    });
                    continue;
                }
                let mut inner = ancestors.to_vec();
                inner.push(canonical);
                self.visit(&path, &inner);
            } else if meta.is_file() {
                self.out.files.push(Found {
                    path,
                    rel,
                    size: meta.len(),
                });
            } else {
                self.out.special += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(p: &Path) {
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, b"{}").expect("write");
    }

    #[test]
    fn links_are_followed_loops_reported_and_specials_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        write(&data.join("a/x.json"));
        write(&data.join("b/y.json"));
        let root = dir.path().join("staged");
        std::fs::create_dir_all(&root).expect("mkdir");
        symlink(data.join("a/x.json"), root.join("x.json")).expect("file link");
        symlink(data.join("b"), root.join("b")).expect("folder link");
        symlink(&root, root.join("loop")).expect("loop link");
        let fifo = root.join("pipe.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        let w = walk(&root);
        let rels: Vec<&str> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["b/y.json", "x.json"]);
        assert_eq!(w.unreadable.len(), 1, "{:?}", w.unreadable);
        assert!(
            w.unreadable[0].reason.contains("loop"),
            "{:?}",
            w.unreadable
        );
        assert_eq!(w.special, u64::from(made));
    }

    #[test]
    fn folders_are_entered_before_reading_and_skipped_ones_not_at_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(&root.join("old/a.json"));
        write(&root.join("new/deep/b.json"));
        let mut entered = Vec::new();
        let w = walk_skipping(root, &|rel| rel == "old", &mut |d| {
            // The folder is announced before its entries are listed.
            entered.push(slash_path(d.strip_prefix(root).expect("below root")));
        });
        assert_eq!(entered, ["", "new", "new/deep"]);
        let rels: Vec<&str> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["new/deep/b.json"]);
    }
}
