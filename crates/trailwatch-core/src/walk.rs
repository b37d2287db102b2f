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

use walkdir::WalkDir;

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
    walk_skipping(root, |_| false)
}

/// [`walk`], not entering the folders (by path below the root, with `/`)
/// for which `skip` says so — a watcher skips trail days it has done.
pub fn walk_skipping(root: &Path, skip: impl Fn(&str) -> bool) -> Walk {
    let mut out = Walk::default();
    let entries = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            if e.file_name().to_string_lossy().starts_with('.') {
                return false;
            }
            !(e.file_type().is_dir()
                && skip(&slash_path(e.path().strip_prefix(root).unwrap_or(e.path()))))
        });
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
                let reason = match e.loop_ancestor() {
                    Some(a) => format!("a symlink loop back to {}", a.display()),
                    None => e
                        .io_error()
                        .map_or_else(|| e.to_string(), ToString::to_string),
                };
                out.unreadable.push(Unreadable { path, reason });
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        if !ft.is_file() {
            out.special += 1;
            continue;
        }
        let size = match entry.metadata() {
            Ok(m) => m.len(),
            Err(e) => {
                out.unreadable.push(Unreadable {
                    path: entry.path().to_path_buf(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let rel = slash_path(entry.path().strip_prefix(root).unwrap_or(entry.path()));
        out.files.push(Found {
            path: entry.path().to_path_buf(),
            rel,
            size,
        });
    }
    out
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
}
