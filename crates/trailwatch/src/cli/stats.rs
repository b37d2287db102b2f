//! `trailwatch stats`: how much is there, how much of it is readable, what
//! time it spans, and how fast it decodes. Files are decoded in parallel.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;
use trailwatch_core::event::DecodeOptions;

use super::{InputArgs, SummaryFormat};
use crate::progress::Progress;
use crate::source::{Input, discover};

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Counts for one or more inputs; merging two gives the counts of both.
#[derive(Debug, Default, Clone)]
struct Tally {
    files: u64,
    records: u64,
    bad_records: u64,
    zoneless_times: u64,
    failed_files: u64,
    bytes: u64,
    decompressed_bytes: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    accounts: BTreeSet<String>,
    regions: BTreeSet<String>,
}

impl Tally {
    fn merge(mut self, o: Tally) -> Tally {
        self.files += o.files;
        self.records += o.records;
        self.bad_records += o.bad_records;
        self.zoneless_times += o.zoneless_times;
        self.failed_files += o.failed_files;
        self.bytes += o.bytes;
        self.decompressed_bytes += o.decompressed_bytes;
        self.first = match (self.first, o.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, o.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.accounts.extend(o.accounts);
        self.regions.extend(o.regions);
        self
    }
}

fn tally_input(input: &Input, opts: DecodeOptions) -> Tally {
    let mut t = Tally {
        files: 1,
        ..Tally::default()
    };
    let mut dec = match input.open(opts) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("{e}");
            t.failed_files = 1;
            t.bytes = input.size().unwrap_or(0);
            return t;
        }
    };
    let mut bad_records = 0;
    let errors = dec
        .for_each(
            |r| {
                t.records += 1;
                t.zoneless_times += u64::from(r.zoneless_time);
                if t.first.is_none_or(|f| r.time < f) {
                    t.first = Some(r.time);
                }
                if t.last.is_none_or(|l| r.time > l) {
                    t.last = Some(r.time);
                }
                if let Some(a) = r.event.account()
                    && !t.accounts.contains(a)
                {
                    t.accounts.insert(a.to_string());
                }
                if !t.regions.contains(r.event.aws_region.as_str()) {
                    t.regions.insert(r.event.aws_region.to_string());
                }
                Ok::<(), std::convert::Infallible>(())
            },
            |e, _| {
                if e.record_index().is_some() {
                    bad_records += 1;
                }
                tracing::error!("{e}");
                Ok(())
            },
        )
        .unwrap_or_else(|never| match never {});
    t.bad_records += bad_records;
    if errors > 0 {
        t.failed_files = 1;
    }
    t.bytes = input.size().unwrap_or_else(|| dec.input_bytes());
    t.decompressed_bytes = dec.decompressed_bytes();
    t
}

/// The JSON form of the report; `files`, `events`, `bad_events` and
/// `bytes_read` are the stable keys scripts rely on, named as `ingest`'s
/// summary names them.
#[derive(Debug, Serialize)]
struct Report {
    files: u64,
    events: u64,
    bad_events: u64,
    /// Records whose eventTime had no zone (`YYYY-MM-DD HH:MM:SS`, as
    /// some tools export it) and was read as UTC.
    zoneless_event_times: u64,
    files_with_errors: u64,
    bytes_read: u64,
    decompressed_bytes: u64,
    first_event_time: Option<String>,
    last_event_time: Option<String>,
    accounts: usize,
    regions: usize,
    skipped_digest_files: u64,
    skipped_insight_files: u64,
    skipped_other_files: u64,
    seconds: f64,
    events_per_second: f64,
    input_mb_per_second: f64,
}

pub fn run(args: &StatsArgs) -> Result<ExitCode> {
    let found = discover(&args.input.sources, args.input.read.include_insights)?;
    let unreadable = found.report_unreadable();
    let opts = args.input.decode_options();
    let started = Instant::now();
    let progress = Progress::new(found.inputs.len() as u64, "files");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let tally = pool.install(|| {
        found
            .inputs
            .par_iter()
            .map(|input| {
                let t = tally_input(input, opts);
                progress.inc(1);
                t
            })
            .reduce(Tally::default, Tally::merge)
    });
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let rfc = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let report = Report {
        files: tally.files,
        events: tally.records,
        bad_events: tally.bad_records,
        zoneless_event_times: tally.zoneless_times,
        files_with_errors: tally.failed_files + unreadable,
        bytes_read: tally.bytes,
        decompressed_bytes: tally.decompressed_bytes,
        first_event_time: tally.first.map(rfc),
        last_event_time: tally.last.map(rfc),
        accounts: tally.accounts.len(),
        regions: tally.regions.len(),
        skipped_digest_files: found.skipped_digest,
        skipped_insight_files: found.skipped_insight,
        skipped_other_files: found.skipped_other,
        seconds,
        events_per_second: tally.records as f64 / seconds.max(1e-9),
        input_mb_per_second: tally.bytes as f64 / 1e6 / seconds.max(1e-9),
    };
    let mut out = io::stdout().lock();
    if !super::write_report(&mut out, &report, args.format)? {
        write_table(&mut out, &report)?;
    }
    Ok(args.input.exit_for(tally.failed_files + unreadable))
}

fn write_table(out: &mut impl Write, r: &Report) -> io::Result<()> {
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    let rows = [
        ("files", r.files.to_string()),
        ("events", r.events.to_string()),
        ("bad events", r.bad_events.to_string()),
        ("zone-less times", r.zoneless_event_times.to_string()),
        ("files with errors", r.files_with_errors.to_string()),
        ("bytes read", mb(r.bytes_read)),
        ("decompressed", mb(r.decompressed_bytes)),
        (
            "time span",
            match (&r.first_event_time, &r.last_event_time) {
                (Some(a), Some(b)) => format!("{a} .. {b}"),
                _ => "-".into(),
            },
        ),
        ("accounts", r.accounts.to_string()),
        ("regions", r.regions.to_string()),
        (
            "skipped",
            format!(
                "{} digest, {} insight, {} other files",
                r.skipped_digest_files, r.skipped_insight_files, r.skipped_other_files
            ),
        ),
        ("elapsed", format!("{:.2} s", r.seconds)),
        (
            "throughput",
            format!(
                "{:.0} events/s, {:.1} MB/s read",
                r.events_per_second, r.input_mb_per_second
            ),
        ),
    ];
    for (k, v) in rows {
        writeln!(out, "{k:<18} {v}")?;
    }
    Ok(())
}
