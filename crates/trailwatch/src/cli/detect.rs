//! `trailwatch detect`: replay records through the rules and print the
//! alerts (or, with `--matches`, every match). Alarms are evaluated on event
//! time, so a replay gives the alerts live watching would have given.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use std::time::Duration;

use chrono::Utc;
use clap::{Args, ValueEnum};
use trailwatch_core::alert::{Alert, AlertKind};
use trailwatch_core::rules::{Engine, Match};
use trailwatch_core::sigma::detector::SigmaRules;
use trailwatch_core::terminal::escape_controls;

use super::aws_args::AwsArgs;
use super::lake_args::LakeArgs;
use super::rule_args::RuleArgs;
use super::{EXIT_FINDINGS, ReadArgs};
use crate::config::Config;
use crate::detectors::Detections;
use crate::pipeline::Pipeline;
use crate::pipeline::output::alert_spool::{AlertSpool, Rendered, SPILL_AT};
use crate::pipeline::replay::{
    LAKE_REPLAY_LATE_HORIZON_MINUTES, REPLAY_LATENESS_SECS, Replay, Step,
    TRAIL_REPLAY_LATE_HORIZON_MINUTES, Window, each_source_record,
};
use crate::timespec::parse_since;
use trailwatch_lake::alerts::{AlertTable, Appended};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DetectFormat {
    Table,
    Json,
    Ndjson,
    /// One OCSF 1.1.0 Detection Finding (class 2004) per line.
    Ocsf,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Files, folders (walked recursively), `-` for stdin, or
    /// `s3://bucket/prefix`.
    #[arg(
        value_name = "SOURCE",
        required_unless_present = "lake",
        conflicts_with = "lake"
    )]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Replay the events of this lake (a folder or s3://bucket/prefix)
    /// instead of SOURCE, and save the alerts in its `alerts` table.
    #[arg(long, value_name = "LAKE")]
    pub lake: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// With --lake: print the alerts but leave the `alerts` table alone.
    #[arg(long, requires = "lake")]
    pub no_save: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Only events at or after this time: today, 24h, 7d, or a date/time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// How to print the alerts: a table, one JSON document, one JSON
    /// object per line (what `notify send` reads), or one OCSF Detection
    /// Finding per line.
    #[arg(long, value_enum, default_value_t = DetectFormat::Table)]
    pub format: DetectFormat,
    /// List every match (rule_id, event_id, event_time, severity, …)
    /// instead of alerts, to audit a rule.
    #[arg(long)]
    pub matches: bool,
    /// Exit 1 when anything was found (alerts, or matches with --matches),
    /// for scripts and CI gates.
    #[arg(long)]
    pub fail_on_alerts: bool,
}

/// `--matches`: the rules themselves audited, every match of the pattern
/// rules and the Sigma rules (those a correlation names too), beside the
/// same time check the pipeline makes; the number of problems met. The
/// correlation detections judge many events together: they have no match
/// of one event to list, and say so.
fn list_matches(
    source: &Replay<'_>,
    detections: Detections,
    window: &mut Window,
    matches: &mut Vec<Match>,
) -> Result<u64> {
    if !detections.correlation.is_empty() {
        let ids: Vec<&str> = detections.correlation.iter().map(|c| c.id).collect();
        tracing::warn!(
            "--matches lists the matches of pattern and Sigma rules; the correlation detections ({}) have no per-event matches and are not listed",
            ids.join(", ")
        );
    }
    let mut engine = Engine::new(detections.rules);
    let sigma = (!detections.sigma.rules.is_empty()).then(|| SigmaRules::new(detections.sigma));
    // Pattern rules raise findings as they match; --matches prints none.
    let mut findings: Vec<Alert> = Vec::new();
    each_source_record(source, window, |step| {
        let Step::Record(_, r, bounds) = step else {
            return;
        };
        let in_time = bounds.check(r.time).is_none();
        engine.observe_timed(r, in_time, &mut findings, Some(&mut *matches));
        findings.clear();
        if let Some(s) = &sigma {
            s.matches(r, matches);
        }
    })
}

/// The replay proper: every record through the pipeline, alerts handed to
/// `output` as they pile up; the number of problems met. Event time moves
/// on as the replay learns that earlier events are all in (see [`Step`]);
/// what is left is evaluated at the end. Prefixes are never idle: a
/// replay knows when one ends.
fn replay_alerts(
    source: &Replay<'_>,
    detections: Detections,
    window: &mut Window,
    alerts: &mut Vec<Alert>,
    output: &mut AlertOutput<'_>,
) -> Result<u64> {
    let horizon = match source.lake {
        Some(_) => LAKE_REPLAY_LATE_HORIZON_MINUTES,
        None => TRAIL_REPLAY_LATE_HORIZON_MINUTES,
    };
    let detectors = detections.detectors(Some(horizon));
    let mut pipeline = Pipeline::new(detectors, REPLAY_LATENESS_SECS, Duration::MAX);
    let mut output_error: Option<anyhow::Error> = None;
    let problems = each_source_record(source, window, |step| {
        match step {
            Step::Record(input, r, bounds) => pipeline.observe(input, r, bounds, alerts),
            Step::Expect(input) => pipeline.expect(input),
            Step::PrefixRead(input) => pipeline.prefix_read(input),
            Step::InputRead => pipeline.advance(alerts),
            Step::ReadBefore(ms) => pipeline.advance_to(ms, alerts),
        }
        if alerts.len() >= SPILL_AT && output_error.is_none() {
            output_error = output.take(alerts).err();
        }
    })?;
    pipeline.finish(alerts);
    match output_error {
        Some(e) => Err(e),
        None => Ok(problems),
    }
}

pub fn run(args: &DetectArgs, cfg: &Config) -> Result<ExitCode> {
    if args.matches && matches!(args.format, DetectFormat::Ocsf) {
        anyhow::bail!(
            "--format ocsf writes alerts as Detection Findings; --matches lists matches (use --format ndjson)"
        );
    }
    let detections = args.rules.detections(cfg)?;
    let rule_problems = detections.problems.len();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, Utc::now()))
        .transpose()?;
    let rt = crate::runtime::for_storage()?;
    let lake = match &args.lake {
        Some(location) => {
            let lake = LakeArgs {
                lake: Some(location.clone()),
                aws: args.aws.clone(),
            };
            Some(lake.open_existing(cfg, rt.handle().clone())?)
        }
        None => None,
    };
    let mut alerts: Vec<Alert> = Vec::new();
    let mut matches: Vec<Match> = Vec::new();
    let table = match &lake {
        Some(store) if !args.no_save && !args.matches => {
            Some(AlertTable::open(store).context("opening the alerts table")?)
        }
        _ => None,
    };
    let mut output = AlertOutput::new(args.format, table);
    let s3 = args.aws.options(cfg);
    let mut window = Window::default();
    let source = Replay {
        sources: &args.sources,
        opts: args.read.decode_options(),
        include_insights: args.read.include_insights,
        s3: &s3,
        lake: lake.as_ref(),
        handle: rt.handle(),
        since,
        until: None,
        prefilter: None,
    };
    // Kept to say which rules OCSF sources left blind.
    let rules = detections.rules.clone();
    let problems = if args.matches {
        list_matches(&source, detections, &mut window, &mut matches)?
    } else {
        replay_alerts(&source, detections, &mut window, &mut alerts, &mut output)?
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let any = if args.matches {
        matches.sort_by(|a, b| {
            a.event_time
                .cmp(&b.event_time)
                .then(a.rule_id.cmp(&b.rule_id))
        });
        write_items(&mut out, &matches, args.format, match_row)?;
        !matches.is_empty()
    } else {
        output.take(&mut alerts)?;
        let (total, saved) = output.finish(&mut out)?;
        if let (Some(store), Some(saved)) = (&lake, saved) {
            tracing::info!(
                "{} new alerts saved to {}/alerts ({} were already there)",
                saved.written,
                store.display,
                saved.already_present
            );
        }
        total > 0
    };
    out.flush()?;
    if let Some(hint) = since.and_then(|s| window.hint(s, lake.is_some())) {
        eprintln!("{hint}");
    }
    say_blind_rules(&rules);
    Ok(exit_code(args, rule_problems, problems, any))
}

/// The rules that read a CloudTrail field some OCSF source of this run did
/// not hold: their matches there are not what CloudTrail would give.
fn say_blind_rules(rules: &[trailwatch_core::rules::Rule]) {
    let absent = crate::source::input::ocsf_absent_fields();
    for (rule, field) in trailwatch_core::ocsf::rules_reading(rules, &absent) {
        eprintln!(
            "rule {rule} reads {field}, which the OCSF sources do not hold: it cannot match there as it would on CloudTrail"
        );
    }
}

/// How a replay ends: 2 when rules could not be loaded or input could not
/// be read (unless --allow-bad), 1 when something was found and the user
/// asked to be told (--fail-on-alerts), else 0.
fn exit_code(args: &DetectArgs, rule_problems: usize, problems: u64, any: bool) -> ExitCode {
    if rule_problems > 0 {
        tracing::error!(
            "{rule_problems} rule files or rules could not be loaded (see above); the others ran (--strict stops at the first)"
        );
        return ExitCode::from(super::EXIT_INPUT);
    }
    if problems > 0 && !args.read.allow_bad {
        return ExitCode::from(super::EXIT_INPUT);
    }
    if any && args.fail_on_alerts {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Where a replay's alerts go as they come: saved to the lake (with
/// `--lake`), rendered once in the output format, and held sorted with
/// bounded memory ([`AlertSpool`]) until all are in.
struct AlertOutput<'s> {
    format: DetectFormat,
    table: Option<AlertTable<'s>>,
    saved: Appended,
    rendered: Vec<Rendered>,
    spool: AlertSpool,
    total: usize,
    /// Alerts the table leaves out (returns to OK).
    hidden: usize,
}

impl<'s> AlertOutput<'s> {
    fn new(format: DetectFormat, table: Option<AlertTable<'s>>) -> AlertOutput<'s> {
        AlertOutput {
            format,
            table,
            saved: Appended::default(),
            rendered: Vec::new(),
            spool: AlertSpool::default(),
            total: 0,
            hidden: 0,
        }
    }

    /// Take `alerts` (leaving it empty).
    fn take(&mut self, alerts: &mut Vec<Alert>) -> Result<()> {
        if let Some(t) = self.table.as_mut() {
            let done = t.append(alerts).context("saving alerts to the lake")?;
            self.saved.written += done.written;
            self.saved.already_present += done.already_present;
        }
        self.total += alerts.len();
        for a in alerts.drain(..) {
            match render(self.format, &a)? {
                Some(text) => self.rendered.push(Rendered::new(&a, text)),
                None => self.hidden += 1,
            }
        }
        if self.rendered.len() >= SPILL_AT {
            self.spool
                .spill(&mut self.rendered)
                .context("writing alerts to a temporary file")?;
        }
        Ok(())
    }

    /// Print every alert in order; how many there were, and what was
    /// saved to the lake.
    fn finish(self, out: &mut impl Write) -> Result<(usize, Option<Appended>)> {
        let mut shown = 0usize;
        if matches!(self.format, DetectFormat::Table) && self.total > self.hidden {
            writeln!(out, "{}", alert_header())?;
        }
        for r in self.spool.merge(self.rendered) {
            let r = r.context("reading back alerts from a temporary file")?;
            match self.format {
                // Elements of a pretty-printed array.
                DetectFormat::Json => {
                    out.write_all(if shown == 0 { b"[\n" } else { b",\n" })?;
                    out.write_all(r.text.as_bytes())?;
                }
                DetectFormat::Ndjson | DetectFormat::Ocsf | DetectFormat::Table => {
                    out.write_all(r.text.as_bytes())?;
                    out.write_all(b"\n")?;
                }
            }
            shown += 1;
        }
        match self.format {
            DetectFormat::Json if shown == 0 => writeln!(out, "[]")?,
            DetectFormat::Json => writeln!(out, "\n]")?,
            DetectFormat::Ndjson | DetectFormat::Ocsf => {}
            DetectFormat::Table if self.hidden > 0 => writeln!(
                out,
                "{shown} shown of {} alerts; {} returns to OK are not in the table (--format json lists every alert)",
                self.total, self.hidden
            )?,
            DetectFormat::Table => writeln!(out, "{shown} shown")?,
        }
        Ok((self.total, self.table.is_some().then_some(self.saved)))
    }
}

/// One alert as `--format` prints it (None: not shown in a table).
fn render(format: DetectFormat, a: &Alert) -> io::Result<Option<String>> {
    Ok(match format {
        DetectFormat::Json => {
            // As an element of serde_json's pretty array: indented once.
            let text = serde_json::to_string_pretty(a)?;
            let mut out = String::with_capacity(text.len() + text.len() / 16);
            for (i, line) in text.lines().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str("  ");
                out.push_str(line);
            }
            Some(out)
        }
        DetectFormat::Ndjson => Some(serde_json::to_string(a)?),
        DetectFormat::Ocsf => Some(serde_json::to_string(&trailwatch_core::ocsf::finding(a))?),
        DetectFormat::Table => {
            let line = alert_row(a);
            // Principals, IPs and event names come from records: no
            // escape sequence of theirs reaches the terminal.
            (!line.is_empty()).then(|| escape_controls(&line).into_owned())
        }
    })
}

fn write_items<T: serde::Serialize>(
    out: &mut impl Write,
    items: &[T],
    format: DetectFormat,
    row: fn(&T) -> String,
) -> io::Result<()> {
    match format {
        DetectFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, items)?;
            writeln!(out)
        }
        // Matches are records, not alerts: `run` refuses --format ocsf
        // with --matches.
        DetectFormat::Ndjson | DetectFormat::Ocsf => {
            for i in items {
                serde_json::to_writer(&mut *out, i)?;
                writeln!(out)?;
            }
            Ok(())
        }
        DetectFormat::Table => {
            let mut shown = 0;
            for i in items {
                let line = row(i);
                if !line.is_empty() {
                    // Principals, IPs and event names come from records:
                    // no escape sequence of theirs reaches the terminal.
                    writeln!(out, "{}", escape_controls(&line))?;
                    shown += 1;
                }
            }
            writeln!(out, "{shown} shown")
        }
    }
}

/// The width of the table's rule column: a longer rule id or title is cut
/// with an ellipsis, so the columns stay aligned.
const RULE_WIDTH: usize = 36;

/// The table's header row, in [`alert_row`]'s widths.
fn alert_header() -> String {
    format!(
        "{:<20} {:<3} {:<11} {:<RULE_WIDTH$} {:>13}  PRINCIPAL",
        "TIME", "SEV", "STATE", "RULE", "EVENTS"
    )
}

/// What the rule column shows: the rule id, or for a rule whose id is a
/// UUID (Sigma's) its title, which says more; cut to [`RULE_WIDTH`].
fn rule_label(a: &Alert) -> String {
    let uuid = a.rule_id.len() == 36
        && a.rule_id.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let label = if uuid && !a.title.trim().is_empty() {
        a.title.trim()
    } else {
        a.rule_id.as_str()
    };
    if label.chars().count() <= RULE_WIDTH {
        return label.to_string();
    }
    let mut cut: String = label.chars().take(RULE_WIDTH - 1).collect();
    cut.push('…');
    cut
}

/// One table line per alert; returns to OK are left to the JSON forms
/// (they matter to PagerDuty's resolve, not to a reader), and the footer
/// says how many.
fn alert_row(a: &Alert) -> String {
    if a.state == trailwatch_core::alarm::AlarmState::Ok {
        return String::new();
    }
    let state = match a.kind {
        AlertKind::Alarm => format!("{:?}", a.state).to_uppercase(),
        other => other.to_string(),
    };
    let who = a.principals.first().map(String::as_str).unwrap_or("-");
    let more = if a.principals.len() > 1 {
        format!(" +{}", a.principals.len() - 1)
    } else {
        String::new()
    };
    let rule = rule_label(a);
    // Padded by characters, not bytes: a title may hold any.
    let pad = RULE_WIDTH.saturating_sub(rule.chars().count());
    format!(
        "{:<20} {:<3} {:<11} {rule}{:pad$} {:>6} events  {}{}  from {}",
        a.time,
        a.severity.to_string(),
        state,
        "",
        a.event_count,
        who,
        more,
        if a.source_ips.is_empty() {
            "-".to_string()
        } else {
            a.source_ips.join(",")
        }
    )
}

fn match_row(m: &Match) -> String {
    format!(
        "{} {} {:<34} {} {} {}",
        m.event_time,
        m.severity,
        m.rule_id,
        m.event_id,
        m.event_name.as_deref().unwrap_or("-"),
        m.principal.as_deref().unwrap_or("-")
    )
}
