//! `trailwatch cat`: decode records and print them, unfiltered.
//!
//! `ndjson` prints each record's own JSON text on one line (every field kept,
//! values byte-identical), `json` a JSON array of them, `table` one aligned
//! line per record for reading.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use trailwatch_core::event::{Record, compact_json};

use super::InputArgs;
use crate::source::{discover, each_record};
use trailwatch_core::terminal::escape_controls;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CatFormat {
    Ndjson,
    Json,
    Table,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CatFormat::Ndjson)]
    pub format: CatFormat,
}

pub fn run(args: &CatArgs) -> Result<ExitCode> {
    let found = discover(&args.input.sources, args.input.read.include_insights)?;
    let unreadable = found.report_unreadable();
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut problems = 0u64;
    let mut first = true;
    let mut line = Vec::with_capacity(8192);
    let result = (|| -> io::Result<()> {
        match args.format {
            CatFormat::Json => out.write_all(b"[")?,
            CatFormat::Table => writeln!(out, "{}", table_header())?,
            CatFormat::Ndjson => {}
        }
        problems = each_record(&found.inputs, args.input.decode_options(), |_, r| {
            line.clear();
            match args.format {
                CatFormat::Ndjson => {
                    compact_json(r.raw, &mut line);
                    line.push(b'\n');
                }
                CatFormat::Json => {
                    line.extend_from_slice(if first { b"\n" } else { b",\n" });
                    compact_json(r.raw, &mut line);
                }
                CatFormat::Table => {
                    line.extend_from_slice(table_row(r).as_bytes());
                    line.push(b'\n');
                }
            }
            first = false;
            out.write_all(&line)
        })?;
        if let CatFormat::Json = args.format {
            out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
        }
        out.flush()
    })();
    result?;
    Ok(args.input.exit_for(problems + unreadable))
}

const COLUMNS: &[(&str, usize)] = &[
    ("EVENT TIME", 20),
    ("ACCOUNT", 12),
    ("REGION", 14),
    ("SOURCE", 14),
    ("EVENT", 30),
    ("PRINCIPAL", 44),
    ("SOURCE IP", 15),
    ("ERROR", 20),
];

fn fit(text: &str, width: usize) -> String {
    // Record fields may hold terminal escape sequences: show them as text.
    let text = escape_controls(text);
    let text = text.as_ref();
    if text.chars().count() <= width {
        format!("{text:<width$}")
    } else {
        let cut: String = text.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

fn table_header() -> String {
    let cells: Vec<String> = COLUMNS.iter().map(|(h, w)| fit(h, *w)).collect();
    cells.join(" ").trim_end().to_string()
}

fn table_row(r: &Record<'_>) -> String {
    let e = &r.event;
    let source = e
        .event_source
        .as_deref()
        .map(|s| s.trim_end_matches(".amazonaws.com"))
        .unwrap_or("");
    let values = [
        e.event_time.as_str(),
        e.account().unwrap_or(""),
        e.aws_region.as_str(),
        source,
        e.event_name.as_deref().unwrap_or(""),
        e.principal().unwrap_or(""),
        e.source_ip_address.as_deref().unwrap_or(""),
        e.error_code.as_deref().unwrap_or(""),
    ];
    let cells: Vec<String> = values
        .iter()
        .zip(COLUMNS)
        .map(|(v, (_, w))| fit(v, *w))
        .collect();
    cells.join(" ").trim_end().to_string()
}
