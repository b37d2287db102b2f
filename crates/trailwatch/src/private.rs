//! Files and folders that only their owner may read: the watcher's state
//! and output, the notification outbox and dead letters. They hold
//! principals, IP addresses and alert details, so they are created 0600 in
//! 0700 folders whatever the umask.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Create a folder and its missing parents, each new one 0700.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Create or truncate a file for writing, 0600 when new.
pub fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Open a file for appending, created 0600 when new.
pub fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn new_files_and_folders_are_private_whatever_the_umask() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("a/b");
        create_dir_all(&sub).expect("mkdir");
        let f = sub.join("x");
        drop(create(&f).expect("create"));
        drop(append(&sub.join("y")).expect("append"));
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&f), 0o600);
        assert_eq!(mode(&sub.join("y")), 0o600);
    }
}
