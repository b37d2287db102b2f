//! The report's output formats. JSON is the report as it is (the API's
//! answer too); the others are written for a reader or a tool:
//! `table` for a terminal, `csv` for a spreadsheet (Suzaku's column
//! names), `timesketch` for Timesketch's JSONL import, `html` one
//! self-contained page to attach to a ticket. Record text is hostile in
//! every one: control characters are escaped on a terminal, cells that
//! a spreadsheet would run as a formula are defused, HTML is built from
//! text nodes only.

mod csv;
mod html;
mod table;
mod timesketch;

use std::io::Write;

use anyhow::Result;
use trailwatch_core::investigate::Report;

#[cfg(feature = "sql")]
pub use html::{REPORT_CSS, REPORT_JS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Timesketch,
    Html,
}

/// Write `report` to `out` as `format`.
pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Table => table::write(report, out)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)?;
        }
        Format::Csv => csv::write(report, out)?,
        Format::Timesketch => timesketch::write(report, out)?,
        Format::Html => html::write(report, out)?,
    }
    out.flush()?;
    Ok(())
}
