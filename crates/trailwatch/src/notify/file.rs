//! The `file` sink: alerts appended as NDJSON lines, synced to disk before
//! the outbox lets go of them, and rotated by size: when the file would
//! pass `max_bytes`, FILE becomes FILE.1, FILE.1 becomes FILE.2, and so on
//! up to `keep` files (the oldest is removed).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::config::Payload;
use super::message::Message;
use super::stdout::ndjson;
use super::{SendError, Sink};
use crate::private;

#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    format: Payload,
    max_bytes: u64,
    keep: u32,
    /// One writer at a time (a digest and an alert never interleave).
    lock: Arc<Mutex<()>>,
}

impl FileSink {
    pub fn new(path: PathBuf, format: Payload, max_bytes: u64, keep: u32) -> FileSink {
        FileSink {
            path,
            format,
            max_bytes,
            keep,
            lock: Arc::new(Mutex::new(())),
        }
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Shift FILE.(n) to FILE.(n+1), dropping the oldest, and FILE to FILE.1.
fn rotate(path: &Path, keep: u32) -> std::io::Result<()> {
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    let _ = std::fs::remove_file(rotated(path, keep));
    for n in (1..keep).rev() {
        let from = rotated(path, n);
        if from.exists() {
            std::fs::rename(&from, rotated(path, n + 1))?;
        }
    }
    std::fs::rename(path, rotated(path, 1))
}

fn append(path: &Path, max_bytes: u64, keep: u32, text: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private::create_dir_all(dir)?;
    }
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > 0 && size + text.len() as u64 > max_bytes {
        rotate(path, keep)?;
    }
    let mut f = private::append(path)?;
    f.write_all(text)?;
    f.sync_data()
}

#[async_trait]
impl Sink for FileSink {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let text = match self.format {
            Payload::Trailwatch => ndjson(message)?,
            Payload::Ocsf => message.ocsf_json(true),
        };
        let (path, max, keep, lock) = (
            self.path.clone(),
            self.max_bytes,
            self.keep,
            self.lock.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            append(&path, max, keep, &text)
                .map_err(|e| SendError::transient(format!("writing {}: {e}", path.display())))
        })
        .await
        .map_err(|e| SendError::transient(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.ndjson");
        for i in 0..10 {
            append(&path, 25, 2, format!("line {i:02} 0123456789\n").as_bytes()).unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&path), "line 09 0123456789\n");
        assert_eq!(read(&rotated(&path, 1)), "line 08 0123456789\n");
        assert_eq!(read(&rotated(&path, 2)), "line 07 0123456789\n");
        assert!(!rotated(&path, 3).exists());
    }
}
