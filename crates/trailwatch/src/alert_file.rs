//! Alerts read from NDJSON, as `detect --format ndjson` prints them and
//! `notify send` and `respond --alerts` read them.

use std::io::{self, BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use trailwatch_core::alert::Alert;

/// The alerts in an NDJSON file (or stdin), and how many lines were not
/// alerts: each is reported with its file and line, and skipped; the good
/// ones are kept.
pub fn read_alerts(input: &str) -> Result<(Vec<Alert>, usize)> {
    let reader: Box<dyn BufRead> = if input == "-" {
        Box::new(BufReader::new(io::stdin()))
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(Path::new(input)).with_context(|| format!("opening {input}"))?,
        ))
    };
    let name = if input == "-" { "stdin" } else { input };
    let mut alerts = Vec::new();
    let mut bad = 0;
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("reading {name}"))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Alert>(&line) {
            Ok(a) => alerts.push(a),
            Err(e) => {
                bad += 1;
                tracing::error!("{name}:{}: not an alert, skipped: {e}", i + 1);
            }
        }
    }
    Ok((alerts, bad))
}
