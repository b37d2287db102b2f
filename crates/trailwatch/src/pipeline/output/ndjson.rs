//! Alerts as NDJSON, appended to a file (synced before `emit` returns) or
//! written to stdout; an alert id already written is not written again.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result};
use trailwatch_core::alert::Alert;

use super::AlertOutput;
use crate::private;

#[derive(Debug)]
pub struct Ndjson {
    file: Option<File>,
    emitted: HashSet<String>,
}

impl Ndjson {
    /// Write to stdout.
    pub fn stdout() -> Ndjson {
        Ndjson {
            file: None,
            emitted: HashSet::new(),
        }
    }

    /// Append to `path` (created 0600), learning which alert ids it holds
    /// from `from` on (the whole file when `None`: only alerts written after
    /// the watcher's saved state can be raised again); a torn last line (a
    /// kill mid-write) is cut off.
    pub fn open(path: &Path, from: Option<u64>) -> Result<Ndjson> {
        let mut emitted = HashSet::new();
        if path.exists() {
            let mut f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
            let start = from.unwrap_or(0).min(f.metadata()?.len());
            f.seek(SeekFrom::Start(start))?;
            let mut text = Vec::new();
            f.read_to_end(&mut text)
                .with_context(|| format!("reading {}", path.display()))?;
            let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            for line in BufReader::new(&text[..complete]).lines() {
                let line = line?;
                if let Ok(a) = serde_json::from_str::<Alert>(&line) {
                    emitted.insert(a.alert_id);
                }
            }
            if complete < text.len() {
                let f = OpenOptions::new().write(true).open(path)?;
                f.set_len(start + complete as u64)?;
            }
        }
        let file = private::append(path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Ndjson {
            file: Some(file),
            emitted,
        })
    }
}

impl AlertOutput for Ndjson {
    fn name(&self) -> &str {
        "output"
    }

    fn emit(&mut self, alerts: &[Alert]) -> Result<()> {
        let mut text = Vec::new();
        for a in alerts {
            if self.emitted.insert(a.alert_id.clone()) {
                serde_json::to_writer(&mut text, a)?;
                text.push(b'\n');
            }
        }
        if text.is_empty() {
            return Ok(());
        }
        match &mut self.file {
            Some(f) => {
                f.write_all(&text)?;
                f.sync_data()?;
            }
            None => {
                let mut out = io::stdout().lock();
                out.write_all(&text)?;
                out.flush()?;
            }
        }
        Ok(())
    }
}
