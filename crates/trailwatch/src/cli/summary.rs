//! How commands print their results for scripts: `--format
//! table|json|ndjson` (with `--json` kept as another name for `json`), and
//! the two JSON writers every command uses, one for a whole report, one
//! for rows.

use clap::Args;

/// How a command prints its summary: an aligned table for people, JSON
/// (indented) or NDJSON (one object per line) for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    Table,
    Json,
    Ndjson,
}

/// A whole report as JSON: indented for `json`, on one line for `ndjson`
/// (so a run appends one line to a log); nothing for `table`, which each
/// command prints itself. False for `table`.
pub fn write_report<T: serde::Serialize>(
    out: &mut impl std::io::Write,
    report: &T,
    format: SummaryFormat,
) -> anyhow::Result<bool> {
    match format {
        SummaryFormat::Table => return Ok(false),
        SummaryFormat::Json => serde_json::to_writer_pretty(&mut *out, report)?,
        SummaryFormat::Ndjson => serde_json::to_writer(&mut *out, report)?,
    }
    writeln!(out)?;
    Ok(true)
}

/// `--format table|json|ndjson`, with `--json` kept as another name for
/// `--format json`.
#[derive(Debug, Clone, Args)]
pub struct SummaryFormatArgs {
    /// How to print the result.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

impl SummaryFormatArgs {
    pub fn get(&self) -> SummaryFormat {
        if self.json {
            SummaryFormat::Json
        } else {
            self.format
        }
    }
}

/// Rows as JSON (one indented array) or NDJSON (one row per line); false
/// for `table`, which each command prints itself.
pub fn write_rows<T: serde::Serialize>(
    out: &mut impl std::io::Write,
    rows: &[T],
    format: SummaryFormat,
) -> anyhow::Result<bool> {
    match format {
        SummaryFormat::Table => return Ok(false),
        SummaryFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, rows)?;
            writeln!(out)?;
        }
        SummaryFormat::Ndjson => {
            for r in rows {
                serde_json::to_writer(&mut *out, r)?;
                writeln!(out)?;
            }
        }
    }
    Ok(true)
}
