//! `trailwatch ingest`: sources (local, stdin, S3) into the lake (local or
//! S3), crash-safe and idempotent.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use trailwatch_lake::ingest::{IngestOptions, IngestSummary, SourceLocation, SourceObject, ingest};

use super::SummaryFormatArgs;
use super::lake_args::LakeArgs;
use crate::config::Config;
use crate::progress::Progress;
use crate::source::{discover, s3};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files, folders, `-` (stdin) or `s3://bucket/prefix`.
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Exit 0 even when records were quarantined.
    #[arg(long)]
    pub allow_bad: bool,
    #[command(flatten)]
    pub format: SummaryFormatArgs,
    /// Source bytes per transaction: how much work a crash can cost.
    #[arg(long, default_value_t = IngestOptions::default().tx_bytes, value_name = "BYTES")]
    pub tx_bytes: u64,
    /// Largest accepted record in bytes; larger ones are quarantined.
    #[arg(long, default_value_t = IngestOptions::default().decode.max_record_bytes, value_name = "BYTES")]
    pub max_record_bytes: usize,
    /// Also read CloudTrail-Insight files found in folders.
    #[arg(long)]
    pub include_insights: bool,
}

pub fn run(args: &IngestArgs, cfg: &Config) -> Result<ExitCode> {
    let rt = crate::runtime::for_storage()?;
    let store = args.lake.open(cfg, rt.handle().clone())?;
    let mut objects = Vec::new();
    let mut locals = Vec::new();
    let mut skipped = s3::Skipped::default();
    for src in &args.sources {
        if src.starts_with("s3://") {
            objects.extend(s3::list(
                src,
                &args.lake.s3_options(cfg),
                rt.handle(),
                &mut skipped,
            )?);
        } else {
            locals.push(src.clone());
        }
    }
    if !locals.is_empty() {
        let found = discover(&locals, args.include_insights)?;
        skipped.digest += found.skipped_digest;
        skipped.insight += found.skipped_insight;
        skipped.other += found.skipped_other;
        for input in &found.inputs {
            objects.push(input.source_object()?);
        }
        // What could not be read goes to the quarantine with its reason
        // (and is read by a later run that can).
        for u in &found.unreadable {
            objects.push(SourceObject {
                key: u.path.display().to_string(),
                size: 0,
                version: String::new(),
                location: SourceLocation::Local(u.path.clone()),
                fallback_account: None,
            });
        }
    }
    tracing::debug!(
        sources = objects.len(),
        skipped_digest = skipped.digest,
        skipped_insight = skipped.insight,
        skipped_other = skipped.other,
        "ingesting into {}",
        store.display
    );
    let total_bytes: u64 = objects.iter().map(|o| o.size).sum();
    let progress = Progress::new(objects.len() as u64, "files");
    let started = Instant::now();
    let last = std::sync::atomic::AtomicU64::new(0);
    let mut opts = IngestOptions {
        tx_bytes: args.tx_bytes,
        ..IngestOptions::default()
    };
    opts.decode.max_record_bytes = args.max_record_bytes;
    let summary = ingest(&store, objects, &opts, &|p| {
        let prev = last.swap(p.files, std::sync::atomic::Ordering::Relaxed);
        progress.inc(p.files.saturating_sub(prev));
        let mbs = p.bytes as f64 / 1e6 / started.elapsed().as_secs_f64().max(1e-9);
        progress.set_message(format!(
            "{} events, {mbs:.1} MB/s of {:.0} MB",
            p.events,
            total_bytes as f64 / 1e6
        ));
    })
    .with_context(|| format!("ingesting into {}", store.display))?;
    progress.finish();
    let mut out = io::stdout().lock();
    if !super::write_report(&mut out, &summary, args.format.get())? {
        write_summary(&mut out, &summary, &store.display)?;
    }
    if summary.quarantined > 0 {
        tracing::warn!(
            "{} undecodable records or files quarantined under {}/_quarantine/",
            summary.quarantined,
            store.display
        );
    }
    Ok(if summary.quarantined > 0 && !args.allow_bad {
        ExitCode::from(super::EXIT_INPUT)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_summary(out: &mut impl Write, s: &IngestSummary, lake: &str) -> io::Result<()> {
    writeln!(out, "lake                 {lake}")?;
    writeln!(out, "files read           {}", s.files)?;
    writeln!(out, "files already in     {}", s.files_already_ingested)?;
    writeln!(out, "events stored        {}", s.events)?;
    writeln!(out, "duplicates skipped   {}", s.duplicates)?;
    writeln!(out, "quarantined          {}", s.quarantined)?;
    writeln!(
        out,
        "bytes read           {:.1} MB",
        s.bytes_read as f64 / 1e6
    )?;
    writeln!(
        out,
        "parquet written      {:.1} MB in {} files",
        s.parquet_bytes as f64 / 1e6,
        s.parquet_files
    )?;
    writeln!(out, "seconds              {:.2}", s.seconds)
}
