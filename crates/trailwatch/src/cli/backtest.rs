//! `trailwatch rules backtest`: what the rules in force would have done
//! over history — per rule its matches (per day, by principal and
//! address), the alerts it would have raised — with expectations for CI
//! (`--expect`, `--junit`, `--noise-budget`) and the difference from an
//! older version of the rules (`--baseline`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use serde_json::json;
use trailwatch_core::backtest::expect::{self, Checked};
use trailwatch_core::backtest::prefilter::Prefilter;
use trailwatch_core::backtest::{Diff, RuleResult, junit};
use trailwatch_core::terminal::escape_controls;

use super::aws_args::AwsArgs;
use super::lake_args::LakeArgs;
use super::rule_args::RuleArgs;
use super::{EXIT_FINDINGS, EXIT_INPUT, ReadArgs, SummaryFormat};
use crate::config::Config;
use crate::detectors::Detections;
use crate::pipeline::replay::Replay;
use crate::timespec::flag_time;

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Trail files or folders to replay instead of the lake.
    #[arg(value_name = "SOURCE", conflicts_with = "lake")]
    pub sources: Vec<String>,
    /// The lake to replay (default: the config's [lake]).
    #[arg(long, value_name = "LAKE")]
    pub lake: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Only events at or after this time (today, 24h, 7d, a date or an
    /// RFC 3339 time).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events before this time.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Expectations to check (YAML: `expect: [{rule, min, max,
    /// alerts_min, alerts_max, must_match, must_not_match}]`); exit 1 when
    /// any is unmet.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Write the expectations' results as JUnit XML (for CI).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Report a rule without expectations that matches more than this
    /// many events on any day as noisy.
    #[arg(long, value_name = "N")]
    pub noise_budget: Option<u64>,
    /// An older version of the rule files (files or folders), run over the
    /// same events: what each rule gains and loses.
    #[arg(long, value_name = "FILE|DIR")]
    pub baseline: Vec<PathBuf>,
    /// How to print the results.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
}

/// Everything a backtest says.
struct Findings {
    results: Vec<RuleResult>,
    checked: Vec<Checked>,
    noisy: Vec<(String, String)>,
    diffs: Vec<Diff>,
    events: u64,
    days: Vec<NaiveDate>,
}

/// The baseline's detections: the same packs, the older rule files.
fn baseline(args: &BacktestArgs, cfg: &Config) -> Result<Option<Detections>> {
    if args.baseline.is_empty() {
        return Ok(None);
    }
    let older = RuleArgs {
        rules: args.baseline.clone(),
        ..args.rules.clone()
    };
    Ok(Some(
        older
            .detections(cfg)
            .context("loading the baseline rules")?,
    ))
}

/// The `--expect` file's expectations (none without one), each naming a
/// rule in force.
fn expectations(args: &BacktestArgs, detections: &Detections) -> Result<Vec<expect::Expectation>> {
    let Some(path) = &args.expect else {
        return Ok(Vec::new());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let known = |id: &str| {
        detections.rules.iter().any(|r| r.id == id)
            || detections.sigma.rules.iter().any(|r| r.id == id)
            || detections.correlation.iter().any(|c| c.id == id)
    };
    Ok(expect::parse(&text, &path.display().to_string(), known)?)
}

/// Print what the backtest found in `--format`.
fn write_findings(args: &BacktestArgs, found: &Findings) -> Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    match args.format {
        SummaryFormat::Table => write_table(&mut out, found)?,
        SummaryFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &document(args, found))?;
            writeln!(out)?;
        }
        SummaryFormat::Ndjson => {
            for r in &found.results {
                serde_json::to_writer(&mut out, r)?;
                writeln!(out)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

pub fn run(args: &BacktestArgs, cfg: &Config) -> Result<ExitCode> {
    let started = Instant::now();
    let detections = args.rules.detections(cfg)?;
    let rule_problems = detections.problems.len();
    let expectations = expectations(args, &detections)?;
    let older = baseline(args, cfg)?;
    let (since, until) = (
        flag_time("--since", &args.since)?,
        flag_time("--until", &args.until)?,
    );
    let rt = crate::runtime::for_storage()?;
    let lake = match args.sources.is_empty() {
        true => {
            let lake = LakeArgs {
                lake: args.lake.clone(),
                aws: args.aws.clone(),
            };
            Some(lake.open_existing(cfg, rt.handle().clone())?)
        }
        false => None,
    };
    let s3 = args.aws.options(cfg);
    let prefilter = lake
        .as_ref()
        .and_then(|_| prefilter_of(&detections, older.as_ref()));
    let source = Replay {
        sources: &args.sources,
        opts: args.read.decode_options(),
        include_insights: args.read.include_insights,
        s3: &s3,
        lake: lake.as_ref(),
        handle: rt.handle(),
        since,
        until,
        prefilter: prefilter.as_ref(),
    };
    let keep_ids = expect::named_events(&expectations);
    let outcome = crate::backtest::run(&source, detections, older.as_ref(), keep_ids)?;
    let results = outcome.tally.results();
    let checked = expect::check(&expectations, &results, &outcome.tally);
    let noisy = noisy(&results, &checked, args.noise_budget);
    let diffs = outcome
        .baseline
        .as_ref()
        .map(|b| outcome.tally.diff(b))
        .unwrap_or_default();
    let days = days_of(since, until, outcome.window.oldest, outcome.window.newest);
    let found = Findings {
        results,
        checked,
        noisy,
        diffs,
        events: outcome.window.in_window,
        days,
    };
    if let Some(path) = &args.junit {
        let xml = junit::report(
            &found.checked,
            &found.noisy,
            started.elapsed().as_secs_f64(),
        );
        std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))?;
    }
    write_findings(args, &found)?;
    if found.events == 0 {
        eprintln!("{}", empty_window(&outcome.window, lake.as_ref())?);
    }
    if rule_problems > 0 || (outcome.problems > 0 && !args.read.allow_bad) {
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    if found.checked.iter().any(|c| !c.met()) {
        return Ok(ExitCode::from(EXIT_FINDINGS));
    }
    Ok(ExitCode::SUCCESS)
}

/// What every rule (new and baseline) needs of an event, when each can
/// say: pattern rules only — Sigma rules and the correlation detections
/// judge whole records (and the correlations every event).
fn prefilter_of(d: &Detections, baseline: Option<&Detections>) -> Option<Prefilter> {
    let mut rules = d.rules.clone();
    for set in std::iter::once(d).chain(baseline) {
        if !set.sigma.rules.is_empty() || !set.correlation.is_empty() {
            return None;
        }
    }
    if let Some(b) = baseline {
        rules.extend(b.rules.iter().cloned());
    }
    let p = Prefilter::of_rules(&rules)?;
    tracing::debug!(
        "backtest prefilter: {} conditions on {:?}",
        p.atoms.len(),
        p.fields()
    );
    Some(p)
}

/// What an empty window says: the days the lake holds (from its
/// listing: a replay reads only the days in the window), or the span of
/// the events read.
fn empty_window(
    w: &crate::pipeline::replay::Window,
    lake: Option<&trailwatch_lake::store::Store>,
) -> Result<String> {
    if let Some(store) = lake {
        let days: Vec<String> = trailwatch_lake::partition::partition_files(store)?
            .into_keys()
            .map(|k| k.date)
            .collect();
        return Ok(match (days.iter().min(), days.iter().max()) {
            (Some(a), Some(b)) => {
                format!("no events in the window; the lake holds the days {a} to {b}")
            }
            _ => "no events in the window; the lake holds none".to_string(),
        });
    }
    Ok(match (w.oldest, w.newest) {
        (Some(a), Some(b)) => format!(
            "no events in the window; the events read span {} to {}",
            a.format("%Y-%m-%dT%H:%M:%SZ"),
            b.format("%Y-%m-%dT%H:%M:%SZ")
        ),
        _ => "no events were read".to_string(),
    })
}

/// Rules without expectations that matched more than `budget` events on
/// some day: (rule, the busiest day and its count).
fn noisy(
    results: &[RuleResult],
    checked: &[Checked],
    budget: Option<u64>,
) -> Vec<(String, String)> {
    let Some(budget) = budget else {
        return Vec::new();
    };
    results
        .iter()
        .filter(|r| !checked.iter().any(|c| c.expectation.rule == r.rule_id))
        .filter_map(|r| {
            let (day, n) = r.by_day.iter().max_by_key(|(_, n)| **n)?;
            (*n > budget).then(|| {
                (
                    r.rule_id.clone(),
                    format!("{n} matches on {day}, over the budget of {budget} a day"),
                )
            })
        })
        .collect()
}

/// The UTC days of the window: from `since` (else the first event) to
/// `until` (else the last).
fn days_of(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    oldest: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
) -> Vec<NaiveDate> {
    let from = since.or(oldest).map(|t| t.date_naive());
    let to = until
        .map(|u| u - chrono::Duration::seconds(1))
        .or(newest)
        .map(|t| t.date_naive());
    let (Some(from), Some(to)) = (from, to) else {
        return Vec::new();
    };
    // At most ten years of days: a sparkline is not longer than that.
    from.iter_days()
        .take_while(|d| *d <= to)
        .take(3660)
        .collect()
}

fn document(args: &BacktestArgs, f: &Findings) -> serde_json::Value {
    json!({
        "window": {
            "since": args.since, "until": args.until,
            "first_day": f.days.first().map(|d| d.to_string()),
            "last_day": f.days.last().map(|d| d.to_string()),
        },
        "events": f.events,
        "rules": f.results,
        "expectations": f.checked.iter().map(|c| json!({
            "name": c.name(), "rule": c.expectation.rule, "met": c.met(), "failures": c.failures,
        })).collect::<Vec<_>>(),
        "noisy": f.noisy.iter().map(|(rule, why)| json!({"rule": rule, "why": why})).collect::<Vec<_>>(),
        "baseline": f.diffs,
    })
}

/// `▁▂▃▄▅▆▇█` for each day's matches, scaled to the busiest day; a day
/// without matches is a space.
fn sparkline(r: &RuleResult, days: &[NaiveDate]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = r.by_day.values().copied().max().unwrap_or(0).max(1);
    days.iter()
        .map(
            |d| match r.by_day.get(&d.to_string()).copied().unwrap_or(0) {
                0 => ' ',
                n => BARS[((n * 8).div_ceil(max) - 1).min(7) as usize],
            },
        )
        .collect()
}

fn write_table(out: &mut dyn Write, f: &Findings) -> Result<()> {
    let shown = |s: &str| escape_controls(s).into_owned();
    writeln!(
        out,
        "{} events, {} days, {} rules",
        f.events,
        f.days.len(),
        f.results.len()
    )?;
    let width = f
        .results
        .iter()
        .map(|r| r.rule_id.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        out,
        "{:<width$}  {:>8}  {:>6}  {:<days$}  TOP PRINCIPAL",
        "RULE",
        "MATCHES",
        "ALERTS",
        "DAYS",
        days = f.days.len().max(4)
    )?;
    for r in &f.results {
        let top = r.top_principals.first().map_or(String::new(), |c| {
            format!("{} ({})", shown(&c.value), c.matches)
        });
        writeln!(
            out,
            "{:<width$}  {:>8}  {:>6}  {:<days$}  {top}",
            shown(&r.rule_id),
            r.matches,
            r.alerts,
            sparkline(r, &f.days),
            days = f.days.len().max(4)
        )?;
    }
    if !f.checked.is_empty() {
        writeln!(
            out,
            "\nEXPECTATIONS ({} of {} met)",
            f.checked.iter().filter(|c| c.met()).count(),
            f.checked.len()
        )?;
        for c in &f.checked {
            let status = if c.met() { "ok  " } else { "FAIL" };
            writeln!(out, "  {status} {}", shown(&c.name()))?;
            for why in &c.failures {
                writeln!(out, "       {}", shown(why))?;
            }
        }
    }
    if !f.noisy.is_empty() {
        writeln!(out, "\nNOISY")?;
        for (rule, why) in &f.noisy {
            writeln!(out, "  {}: {why}", shown(rule))?;
        }
    }
    if !f.diffs.is_empty() {
        writeln!(out, "\nAGAINST THE BASELINE")?;
        for d in &f.diffs {
            writeln!(
                out,
                "  {}: +{} gained, -{} lost",
                shown(&d.rule_id),
                d.gained,
                d.lost
            )?;
            if !d.gained_ids.is_empty() {
                writeln!(out, "    gained: {}", shown(&d.gained_ids.join(", ")))?;
            }
            if !d.lost_ids.is_empty() {
                writeln!(out, "    lost:   {}", shown(&d.lost_ids.join(", ")))?;
            }
        }
    }
    Ok(())
}
