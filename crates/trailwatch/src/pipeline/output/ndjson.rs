//! Alerts as NDJSON, appended to a file (synced before `emit` returns) or
//! written to stdout; an alert id already written is not written again.
//! Each line is the alert, or (`--format ocsf`) its OCSF Detection
//! Finding, whose `finding_info.uid` is the alert id.

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
    ocsf: bool,
}

/// The alert id of an output line: an alert's, or a finding's uid.
fn line_alert_id(line: &str) -> Option<String> {
    if let Ok(a) = serde_json::from_str::<Alert>(line) {
        return Some(a.alert_id);
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(v.pointer("/finding_info/uid")?.as_str()?.to_string())
}

impl Ndjson {
    /// Write to stdout.
    pub fn stdout(ocsf: bool) -> Ndjson {
        Ndjson {
            file: None,
            emitted: HashSet::new(),
            ocsf,
        }
    }

    /// Append to `path` (created 0600), learning which alert ids it holds
    /// from `from` on (the whole file when `None`: only alerts written after
    /// the watcher's saved state can be raised again); a torn last line (a
    /// kill mid-write) is cut off.
    pub fn open(path: &Path, from: Option<u64>, ocsf: bool) -> Result<Ndjson> {
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
                if let Some(id) = line_alert_id(&line) {
                    emitted.insert(id);
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
            ocsf,
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
                if self.ocsf {
                    serde_json::to_writer(&mut text, &trailwatch_core::ocsf::finding(a))?;
                } else {
                    serde_json::to_writer(&mut text, a)?;
                }
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
