//! `trailwatch rules`: list and show rules, test a rule file against its
//! examples, and import CloudWatch metric filters and alarms from Terraform.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use trailwatch_core::correlate::{self, CorrelationRule};
use trailwatch_core::rules::{Rule, check_examples, import_terraform, load_rules, to_yaml};
use trailwatch_core::sigma::rule::{Body, SigmaRule};
use trailwatch_core::terminal::escape_controls;

use super::rule_args::RuleArgs;
use super::{EXIT_FINDINGS, SummaryFormat};
use crate::config::Config;
use crate::detectors::{Detections, parse_file, rule_files};

#[derive(Debug, Args)]
pub struct RulesCommand {
    #[command(subcommand)]
    pub action: RulesAction,
}

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// One line per rule: id, severity, kind, title.
    List {
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// A rule in full: pattern, metric and alarm, query to run next.
    Show {
        /// The rule's id (see `rules list`).
        id: String,
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// Check a rule file (or the built-in packs, with `--pack`) against the
    /// rules' example events: each must fire or stay quiet as declared.
    Test {
        /// Rule files (.yaml) or Terraform (.tf); none: the selected pack.
        files: Vec<PathBuf>,
        /// Built-in packs to check, comma-separated: essential, cis,
        /// responder, all or none.
        #[arg(long, default_value = "none")]
        pack: String,
    },
    /// Print the rules a Terraform file's metric filters and alarms make,
    /// as trailwatch YAML.
    ImportTerraform {
        /// The Terraform file with aws_cloudwatch_log_metric_filter and
        /// aws_cloudwatch_metric_alarm resources.
        file: PathBuf,
    },
    /// Load rule files (Sigma, trailwatch YAML, Terraform) and list every
    /// rule: file, id, title, status (loaded or skipped) and the reason;
    /// exit 1 if any was skipped.
    Check {
        /// Files or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How to print the result.
        #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
        format: SummaryFormat,
    },
}

/// One row of `rules check`.
#[derive(Debug, serde::Serialize)]
struct Checked {
    file: String,
    id: String,
    title: String,
    status: &'static str,
    reason: String,
}

/// Every rule of one file, loaded or with the reason it was not, and
/// the file's Sigma rules (to link with the other files').
fn check_file(path: &Path) -> (Vec<Checked>, Vec<SigmaRule>) {
    let file = path.display().to_string();
    let row = |id: String, title: String, reason: Option<String>| Checked {
        file: file.clone(),
        id,
        title,
        status: if reason.is_some() {
            "skipped"
        } else {
            "loaded"
        },
        reason: reason.unwrap_or_default(),
    };
    match parse_file(path) {
        Ok((loaded, errors)) => (
            loaded
                .rules
                .into_iter()
                .map(|r| row(r.id, r.title, None))
                .chain(
                    loaded
                        .sigma
                        .iter()
                        .map(|r| row(r.id.clone(), r.title.clone(), None)),
                )
                .chain(
                    errors
                        .into_iter()
                        .map(|e| row(e.id, "-".into(), Some(e.message))),
                )
                .collect(),
            loaded.sigma,
        ),
        Err(e) => (
            vec![row("-".into(), "-".into(), Some(format!("{e:#}")))],
            Vec::new(),
        ),
    }
}

/// Every rule of the files, with correlations linked across them: a
/// correlation whose rules cannot be found is skipped with the reason.
fn check_files(files: &[PathBuf]) -> Vec<Checked> {
    let mut rows = Vec::new();
    let mut sigma_rules = Vec::new();
    for f in files {
        let (r, s) = check_file(f);
        rows.extend(r);
        sigma_rules.extend(s);
    }
    let (_, errors) = trailwatch_core::sigma::link(sigma_rules);
    for e in errors {
        if let Some(row) = rows
            .iter_mut()
            .find(|r| r.file == e.origin && r.id == e.id && r.status == "loaded")
        {
            row.status = "skipped";
            row.reason = e.message;
        }
    }
    rows
}

fn kind(r: &Rule) -> &'static str {
    match (&r.alarm, r.findings) {
        (Some(_), true) => "alarm+findings",
        (Some(_), false) => "alarm",
        (None, _) => "finding",
    }
}

/// Print text line by line with control characters shown as escapes.
fn print_escaped(text: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    for line in String::from_utf8_lossy(text).lines() {
        writeln!(out, "{}", escape_controls(line))?;
    }
    Ok(())
}

pub fn run(cmd: &RulesCommand, cfg: &Config) -> Result<ExitCode> {
    match &cmd.action {
        RulesAction::List { rules } => list(&rules.detections(cfg)?),
        RulesAction::Show { id, rules } => show(id, &rules.detections(cfg)?),
        RulesAction::Test { files, pack } => test(files, pack),
        RulesAction::Check { paths, format } => check(paths, *format),
        RulesAction::ImportTerraform { file } => {
            let text = crate::detectors::read_rule_file(file)?;
            let rules = import_terraform(&text, &file.display().to_string())?;
            io::stdout().lock().write_all(to_yaml(&rules).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `rules list`: one line per rule. Rule files are hostile: everything
/// they say is printed escaped.
fn list(d: &Detections) -> Result<ExitCode> {
    let mut out = Vec::<u8>::new();
    for r in &d.rules {
        writeln!(
            out,
            "{:<38} {} {:<15} {}",
            r.id,
            r.severity,
            kind(r),
            r.title
        )?;
    }
    for (i, r) in d.sigma.rules.iter().enumerate() {
        let kind = match r.body {
            Body::Detection(_) => "sigma",
            Body::Correlation(_) => "sigma-corr",
        };
        let note = if d.sigma.alerts[i] {
            ""
        } else {
            " (feeds a correlation, no alerts of its own)"
        };
        writeln!(
            out,
            "{:<38} {} {:<15} {}{note}",
            r.id, r.severity, kind, r.title
        )?;
    }
    for c in &d.correlation {
        let note = correlate::disabled_reason(c, d.geo.as_deref())
            .map(|why| format!(" ({why})"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<38} {} {:<15} {}{note}",
            c.id, c.severity, "correlation", c.title
        )?;
    }
    print_escaped(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `rules show ID`: a correlation detection, a Sigma rule or a pattern
/// rule in full, escaped.
fn show(id: &str, d: &Detections) -> Result<ExitCode> {
    let mut out = Vec::<u8>::new();
    if let Some(c) = d.correlation.iter().find(|c| c.id == id) {
        show_correlation(&mut out, c, d)?;
    } else if let Some(i) = d.sigma.rules.iter().position(|r| r.id == id) {
        show_sigma(&mut out, &d.sigma.rules[i], d.sigma.alerts[i])?;
    } else if let Some(r) = d.rules.iter().find(|r| r.id == id) {
        show_rule(&mut out, r)?;
    } else {
        bail!("no rule {id} (see `trailwatch rules list`)");
    }
    print_escaped(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn show_correlation(out: &mut Vec<u8>, c: &CorrelationRule, d: &Detections) -> io::Result<()> {
    writeln!(out, "id:          {}", c.id)?;
    writeln!(out, "title:       {}", c.title)?;
    writeln!(out, "severity:    {}", c.severity)?;
    writeln!(out, "kind:        correlation")?;
    writeln!(out, "from:        pack {}", correlate::PACK)?;
    writeln!(out, "description: {}", c.description)?;
    if let Some(why) = correlate::disabled_reason(c, d.geo.as_deref()) {
        writeln!(out, "status:      {why}")?;
    } else if let Some(g) = d.geo.as_deref().filter(|_| c.id == "impossible-travel") {
        writeln!(out, "locations:   {}", g.attribution())?;
    }
    Ok(())
}

fn show_sigma(out: &mut Vec<u8>, r: &SigmaRule, alerts: bool) -> io::Result<()> {
    writeln!(out, "id:          {}", r.id)?;
    if let Some(n) = &r.name {
        writeln!(out, "name:        {n}")?;
    }
    writeln!(out, "title:       {}", r.title)?;
    writeln!(out, "severity:    {}", r.severity)?;
    match &r.body {
        Body::Detection(_) => writeln!(out, "kind:        sigma")?,
        Body::Correlation(c) => {
            writeln!(out, "kind:        sigma correlation ({})", c.kind.as_str())?;
            writeln!(out, "rules:       {}", c.rules.join(", "))?;
            writeln!(out, "group-by:    {}", c.group_by.join(", "))?;
            writeln!(out, "timespan:    {} s", c.timespan_ms / 1000)?;
            writeln!(out, "condition:   {}", c.threshold.describe())?;
            if let Some(f) = &c.field {
                writeln!(out, "field:       {f}")?;
            }
        }
    }
    if !alerts {
        writeln!(out, "alerts:      none of its own (a correlation names it)")?;
    }
    writeln!(out, "from:        {}", r.origin)?;
    writeln!(out, "description: {}", r.description)?;
    writeln!(out, "tags:        {}", r.tags.join(", "))?;
    writeln!(out, "false positives: {}", r.falsepositives.join("; "))
}

fn show_rule(out: &mut Vec<u8>, r: &Rule) -> io::Result<()> {
    writeln!(out, "id:          {}", r.id)?;
    writeln!(out, "title:       {}", r.title)?;
    writeln!(out, "severity:    {}", r.severity)?;
    writeln!(out, "kind:        {}", kind(r))?;
    writeln!(out, "from:        {}", r.origin)?;
    writeln!(out, "description: {}", r.description)?;
    writeln!(out, "pattern:     {}", r.pattern_text)?;
    if let Some(a) = &r.alarm {
        let s = &a.spec;
        writeln!(out, "metric:      {}/{}", a.namespace, a.metric_name)?;
        writeln!(
            out,
            "alarm:       {:?} {:?} {} over {} of {} periods of {} min, missing data: {:?}",
            s.statistic,
            s.comparison,
            s.threshold,
            s.datapoints_to_alarm,
            s.evaluation_periods,
            s.period_minutes,
            s.treat_missing
        )?;
    }
    if !r.actions.is_empty() {
        writeln!(out, "actions:     {}", r.actions.join(", "))?;
    }
    if let Some(q) = &r.query {
        writeln!(out, "next query:\n{}", q.trim_end())?;
    }
    Ok(())
}

/// `rules test`: every rule's examples fire or stay quiet as declared.
fn test(files: &[PathBuf], pack: &str) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    let mut rules = trailwatch_core::rules::pack(pack)?;
    for f in files {
        let text = crate::detectors::read_rule_file(f)?;
        let origin = f.display().to_string();
        rules.extend(load_rules(&text, &origin)?);
    }
    let mut failed = 0;
    for r in &rules {
        let problems = check_examples(r);
        if problems.is_empty() {
            writeln!(
                out,
                "ok    {} ({} fire, {} quiet)",
                r.id,
                r.examples.fire.len(),
                r.examples.quiet.len()
            )?;
        } else {
            failed += 1;
            for p in problems {
                writeln!(out, "FAIL  {p}")?;
            }
        }
    }
    writeln!(out, "{} passed, {} failed", rules.len() - failed, failed)?;
    Ok(if failed > 0 {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

/// `rules check`: every rule of the files, loaded or skipped with why.
fn check(paths: &[PathBuf], format: SummaryFormat) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    let files = rule_files(paths)?;
    let rows = check_files(&files);
    if !super::write_rows(&mut out, &rows, format)? {
        for r in &rows {
            writeln!(
                out,
                "{:<8} {:<38} {} {}{}",
                r.status,
                escape_controls(&r.id),
                escape_controls(&r.file),
                escape_controls(&r.title),
                if r.reason.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", escape_controls(&r.reason))
                }
            )?;
        }
        let skipped = rows.iter().filter(|r| r.status == "skipped").count();
        writeln!(out, "{} loaded, {skipped} skipped", rows.len() - skipped)?;
    }
    Ok(if rows.iter().any(|r| r.status == "skipped") {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}
