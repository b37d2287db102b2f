//! `trailwatch export ocsf`: the lake's events as OCSF 1.1.0 Parquet, laid
//! out as an Amazon Security Lake custom source, for Security Lake and
//! the SIEMs that read OCSF.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use trailwatch_core::ocsf::Class;
use trailwatch_lake::ocsf::{ExportStats, Exporter, export_lake};
use trailwatch_lake::store::Store;

use super::SummaryFormat;
use super::lake_args::LakeArgs;
use crate::config::Config;
use crate::timespec::flag_time;

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write the lake's events as OCSF 1.1.0 Parquet in Security Lake's
    /// custom-source layout: OUT/ext/SOURCE/region=…/accountId=…/
    /// eventDay=YYYYMMDD/, one OCSF class per file, sorted by time.
    Ocsf(OcsfArgs),
}

#[derive(Debug, Args)]
pub struct OcsfArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Where to write: a local folder or s3://bucket/prefix (the same
    /// --profile, --region and --endpoint-url as the lake).
    #[arg(long, value_name = "DIR|S3")]
    pub out: String,
    /// Only events at or after this time (today, 24h, 7d, a date or an
    /// RFC 3339 time).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events before this time.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// The custom source's name in Security Lake (the folder under ext/).
    #[arg(long, value_name = "NAME", default_value = "trailwatch")]
    pub source: String,
    /// How to print what was written.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
}

pub fn run(cmd: &ExportCommand, cfg: &Config) -> Result<ExitCode> {
    match cmd {
        ExportCommand::Ocsf(args) => ocsf(args, cfg),
    }
}

fn ocsf(args: &OcsfArgs, cfg: &Config) -> Result<ExitCode> {
    let started = Instant::now();
    let (since, until) = (
        flag_time("--since", &args.since)?,
        flag_time("--until", &args.until)?,
    );
    let rt = crate::runtime::for_storage()?;
    let lake = args.lake.open_existing(cfg, rt.handle().clone())?;
    let s3 = args.lake.s3_options(cfg);
    let out = Store::open(&args.out, &s3, rt.handle().clone())
        .with_context(|| format!("opening {}", args.out))?;
    let mut exporter = Exporter::new(&out, &args.source)?;
    let progress = crate::progress::Progress::new(0, "lake files");
    let mut files_done = |done: usize, total: usize| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    };
    let millis = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
    let written = export_lake(
        &lake,
        &mut exporter,
        millis(since),
        millis(until),
        &mut files_done,
    );
    let stats = written
        .and_then(|()| exporter.finish())
        .with_context(|| format!("writing OCSF under {}", out.display))?;
    progress.finish();
    report(args, &out, &stats, started)?;
    if stats.events == 0 {
        eprintln!(
            "no events of the lake {} are in the window: nothing was written",
            lake.display
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Print what was written.
fn report(args: &OcsfArgs, out: &Store, stats: &ExportStats, started: Instant) -> Result<()> {
    let secs = started.elapsed().as_secs_f64();
    let mut stdout = std::io::stdout().lock();
    let classes: Vec<(&str, u64)> = Class::ALL
        .iter()
        .map(|c| (c.name(), stats.by_class.get(&c.uid()).copied().unwrap_or(0)))
        .collect();
    match args.format {
        SummaryFormat::Table => {
            let per_class: Vec<String> = classes.iter().map(|(n, k)| format!("{n} {k}")).collect();
            writeln!(
                stdout,
                "exported {} events as OCSF 1.1.0 ({}) in {} files under {}/ext/{} in {secs:.1}s",
                stats.events,
                per_class.join(", "),
                stats.files,
                out.display,
                args.source
            )?;
        }
        SummaryFormat::Json | SummaryFormat::Ndjson => {
            let by_class: serde_json::Map<String, serde_json::Value> = classes
                .iter()
                .map(|(n, k)| (n.to_string(), (*k).into()))
                .collect();
            let doc = serde_json::json!({
                "events": stats.events,
                "files": stats.files,
                "by_class": by_class,
                "location": format!("{}/ext/{}", out.display, args.source),
                "seconds": secs,
            });
            serde_json::to_writer(&mut stdout, &doc)?;
            writeln!(stdout)?;
        }
    }
    Ok(())
}
