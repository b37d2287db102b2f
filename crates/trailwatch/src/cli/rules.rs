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
    /// What the rules would have done over history: per rule its matches
    /// (per day, by principal and address) and alerts; expectations for
    /// CI (--expect, --junit), the difference from older rules
    /// (--baseline).
    Backtest(Box<super::backtest::BacktestArgs>),
    /// Which MITRE ATT&CK techniques the rules in force detect (Sigma
    /// `attack.tNNNN` tags, the packs' and correlations' techniques);
    /// `navigator` writes an ATT&CK Navigator layer.
    Coverage {
        #[command(flatten)]
        rules: RuleArgs,
        /// A table, JSON, or an ATT&CK Navigator layer (format 4.5).
        #[arg(long, value_enum, default_value_t = CoverageFormat::Table)]
        format: CoverageFormat,
    },
    /// One line per rule: id, severity, kind, title.
    List {
        #[command(flatten)]
        rules: RuleArgs,
        /// How to print the list (json: one array; ndjson: a rule a line).
        #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
        format: SummaryFormat,
    },
    /// A rule in full: pattern, metric and alarm, query to run next.
    Show {
        /// The rule's id (see `rules list`).
        id: String,
        #[command(flatten)]
        rules: RuleArgs,
        /// How to print the rule (json or ndjson: one object).
        #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
        format: SummaryFormat,
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
        /// How to print the result (json: one array of rules, each with
        /// its problems; ndjson: a rule a line).
        #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
        format: SummaryFormat,
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
        RulesAction::Backtest(args) => super::backtest::run(args, cfg),
        RulesAction::Coverage { rules, format } => coverage(&rules.detections(cfg)?, *format),
        RulesAction::List { rules, format } => list(&rules.detections(cfg)?, *format),
        RulesAction::Show { id, rules, format } => show(id, &rules.detections(cfg)?, *format),
        RulesAction::Test {
            files,
            pack,
            format,
        } => test(files, pack, *format),
        RulesAction::Check { paths, format } => check(paths, *format),
        RulesAction::ImportTerraform { file } => {
            let text = crate::detectors::read_rule_file(file)?;
            let rules = import_terraform(&text, &file.display().to_string())?;
            io::stdout().lock().write_all(to_yaml(&rules).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CoverageFormat {
    Table,
    Json,
    Navigator,
}

/// `rules coverage`: every rule in force with the techniques it names.
fn coverage(d: &Detections, format: CoverageFormat) -> Result<ExitCode> {
    use trailwatch_core::attack;
    let rules: Vec<(&str, Vec<String>)> = d
        .rules
        .iter()
        .map(|r| (r.id.as_str(), r.techniques.clone()))
        .chain(d.sigma.rules.iter().map(|r| {
            (
                r.id.as_str(),
                r.tags
                    .iter()
                    .filter_map(|t| attack::technique_of_tag(t))
                    .collect(),
            )
        }))
        .chain(
            d.correlation
                .iter()
                .map(|c| (c.id, c.techniques.iter().map(|t| t.to_string()).collect())),
        )
        .collect();
    let without: Vec<&str> = rules
        .iter()
        .filter(|(_, t)| t.is_empty())
        .map(|(id, _)| *id)
        .collect();
    let covered = attack::coverage(rules.iter().map(|(id, t)| (*id, t.clone())));
    let mut out = io::stdout().lock();
    match format {
        CoverageFormat::Navigator => {
            serde_json::to_writer_pretty(
                &mut out,
                &attack::navigator_layer("trailwatch coverage", &covered),
            )?;
            writeln!(out)?;
        }
        CoverageFormat::Json => {
            let doc = serde_json::json!({
                "rules": rules.len(), "techniques": covered, "rules_without_techniques": without,
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        CoverageFormat::Table => {
            writeln!(
                out,
                "{} techniques covered by {} of {} rules",
                covered.len(),
                rules.len() - without.len(),
                rules.len()
            )?;
            writeln!(out, "{:<11}  {:>5}  RULES", "TECHNIQUE", "RULES")?;
            for c in &covered {
                let names = escape_controls(&c.rules.join(", ")).into_owned();
                writeln!(out, "{:<11}  {:>5}  {names}", c.technique, c.rules.len())?;
            }
            if !without.is_empty() {
                let names = escape_controls(&without.join(", ")).into_owned();
                writeln!(out, "\nwithout a technique: {names}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One rule of `rules list`.
#[derive(Debug, serde::Serialize)]
struct Listed {
    id: String,
    severity: String,
    kind: &'static str,
    title: String,
    /// Why the rule raises nothing (a correlation without what it needs,
    /// a Sigma rule that only feeds a correlation); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

fn listed(d: &Detections) -> Vec<Listed> {
    let mut rows: Vec<Listed> = d
        .rules
        .iter()
        .map(|r| Listed {
            id: r.id.clone(),
            severity: r.severity.to_string(),
            kind: kind(r),
            title: r.title.clone(),
            note: None,
        })
        .collect();
    for (i, r) in d.sigma.rules.iter().enumerate() {
        rows.push(Listed {
            id: r.id.clone(),
            severity: r.severity.to_string(),
            kind: match r.body {
                Body::Detection(_) => "sigma",
                Body::Correlation(_) => "sigma-corr",
            },
            title: r.title.clone(),
            note: (!d.sigma.alerts[i])
                .then(|| "feeds a correlation, no alerts of its own".to_string()),
        });
    }
    for c in &d.correlation {
        rows.push(Listed {
            id: c.id.to_string(),
            severity: c.severity.to_string(),
            kind: "correlation",
            title: c.title.to_string(),
            note: correlate::disabled_reason(c, d.geo.as_deref()).map(|why| why.to_string()),
        });
    }
    rows
}

/// `rules list`: one line per rule. Rule files are hostile: everything
/// they say is printed escaped (JSON escapes it itself).
fn list(d: &Detections, format: SummaryFormat) -> Result<ExitCode> {
    let rows = listed(d);
    if super::write_rows(&mut io::stdout().lock(), &rows, format)? {
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = Vec::<u8>::new();
    for r in &rows {
        let note = r
            .note
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<38} {} {:<15} {}{note}",
            r.id, r.severity, r.kind, r.title
        )?;
    }
    print_escaped(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// A rule in full, as `rules show` prints it: the fields a kind of rule
/// does not have are left out.
#[derive(Debug, Default, serde::Serialize)]
struct Shown {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    title: String,
    severity: String,
    kind: String,
    from: String,
    description: String,
    /// Why a correlation detection is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    /// Where impossible travel's locations come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    locations: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metric: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alarm: Option<ShownAlarm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_query: Option<String>,
    /// A Sigma correlation's definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation: Option<ShownCorrelation>,
    /// False for a Sigma rule that only feeds a correlation.
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts_on_its_own: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    false_positives: Option<Vec<String>>,
}

#[derive(Debug, serde::Serialize)]
struct ShownAlarm {
    statistic: String,
    comparison: String,
    threshold: f64,
    datapoints_to_alarm: usize,
    evaluation_periods: usize,
    period_minutes: i64,
    treat_missing_data: String,
}

#[derive(Debug, serde::Serialize)]
struct ShownCorrelation {
    kind: String,
    rules: Vec<String>,
    group_by: Vec<String>,
    timespan_seconds: i64,
    condition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

fn shown_correlation(c: &CorrelationRule, d: &Detections) -> Shown {
    let status = correlate::disabled_reason(c, d.geo.as_deref()).map(|w| w.to_string());
    let locations = match d.geo.as_deref() {
        Some(g) if status.is_none() && c.id == "impossible-travel" => Some(g.attribution()),
        _ => None,
    };
    Shown {
        id: c.id.to_string(),
        title: c.title.to_string(),
        severity: c.severity.to_string(),
        kind: "correlation".into(),
        from: format!("pack {}", correlate::PACK),
        description: c.description.to_string(),
        status,
        locations,
        ..Shown::default()
    }
}

fn shown_sigma(r: &SigmaRule, alerts: bool) -> Shown {
    let (kind, correlation) = match &r.body {
        Body::Detection(_) => ("sigma".to_string(), None),
        Body::Correlation(c) => (
            format!("sigma correlation ({})", c.kind.as_str()),
            Some(ShownCorrelation {
                kind: c.kind.as_str().to_string(),
                rules: c.rules.clone(),
                group_by: c.group_by.clone(),
                timespan_seconds: c.timespan_ms / 1000,
                condition: c.threshold.describe(),
                field: c.field.clone(),
            }),
        ),
    };
    Shown {
        id: r.id.clone(),
        name: r.name.clone(),
        title: r.title.clone(),
        severity: r.severity.to_string(),
        kind,
        from: r.origin.clone(),
        description: r.description.clone(),
        correlation,
        alerts_on_its_own: Some(alerts),
        tags: Some(r.tags.clone()),
        false_positives: Some(r.falsepositives.clone()),
        ..Shown::default()
    }
}

fn shown_rule(r: &Rule) -> Shown {
    Shown {
        id: r.id.clone(),
        title: r.title.clone(),
        severity: r.severity.to_string(),
        kind: kind(r).into(),
        from: r.origin.clone(),
        description: r.description.clone(),
        pattern: Some(r.pattern_text.clone()),
        metric: r
            .alarm
            .as_ref()
            .map(|a| format!("{}/{}", a.namespace, a.metric_name)),
        alarm: r.alarm.as_ref().map(|a| {
            let s = &a.spec;
            ShownAlarm {
                statistic: format!("{:?}", s.statistic),
                comparison: format!("{:?}", s.comparison),
                threshold: s.threshold,
                datapoints_to_alarm: s.datapoints_to_alarm,
                evaluation_periods: s.evaluation_periods,
                period_minutes: s.period_minutes,
                treat_missing_data: format!("{:?}", s.treat_missing),
            }
        }),
        actions: r.actions.clone(),
        next_query: r.query.as_ref().map(|q| q.trim_end().to_string()),
        ..Shown::default()
    }
}

/// `rules show ID`: a correlation detection, a Sigma rule or a pattern
/// rule in full, escaped.
fn show(id: &str, d: &Detections, format: SummaryFormat) -> Result<ExitCode> {
    let shown = if let Some(c) = d.correlation.iter().find(|c| c.id == id) {
        shown_correlation(c, d)
    } else if let Some(i) = d.sigma.rules.iter().position(|r| r.id == id) {
        shown_sigma(&d.sigma.rules[i], d.sigma.alerts[i])
    } else if let Some(r) = d.rules.iter().find(|r| r.id == id) {
        shown_rule(r)
    } else {
        bail!("no rule {id} (see `trailwatch rules list`)");
    };
    if !super::write_report(&mut io::stdout().lock(), &shown, format)? {
        let mut out = Vec::<u8>::new();
        write_shown(&mut out, &shown)?;
        print_escaped(&out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `rules show`'s table: one `key: value` line per field the rule has.
fn write_shown(out: &mut Vec<u8>, s: &Shown) -> io::Result<()> {
    writeln!(out, "id:          {}", s.id)?;
    if let Some(n) = &s.name {
        writeln!(out, "name:        {n}")?;
    }
    writeln!(out, "title:       {}", s.title)?;
    writeln!(out, "severity:    {}", s.severity)?;
    writeln!(out, "kind:        {}", s.kind)?;
    if let Some(c) = &s.correlation {
        writeln!(out, "rules:       {}", c.rules.join(", "))?;
        writeln!(out, "group-by:    {}", c.group_by.join(", "))?;
        writeln!(out, "timespan:    {} s", c.timespan_seconds)?;
        writeln!(out, "condition:   {}", c.condition)?;
        if let Some(f) = &c.field {
            writeln!(out, "field:       {f}")?;
        }
    }
    if s.alerts_on_its_own == Some(false) {
        writeln!(out, "alerts:      none of its own (a correlation names it)")?;
    }
    writeln!(out, "from:        {}", s.from)?;
    if let Some(why) = &s.status {
        writeln!(out, "status:      {why}")?;
    }
    if let Some(l) = &s.locations {
        writeln!(out, "locations:   {l}")?;
    }
    writeln!(out, "description: {}", s.description)?;
    if let Some(t) = &s.tags {
        writeln!(out, "tags:        {}", t.join(", "))?;
    }
    if let Some(f) = &s.false_positives {
        writeln!(out, "false positives: {}", f.join("; "))?;
    }
    if let Some(p) = &s.pattern {
        writeln!(out, "pattern:     {p}")?;
    }
    if let (Some(m), Some(a)) = (&s.metric, &s.alarm) {
        writeln!(out, "metric:      {m}")?;
        writeln!(
            out,
            "alarm:       {} {} {} over {} of {} periods of {} min, missing data: {}",
            a.statistic,
            a.comparison,
            a.threshold,
            a.datapoints_to_alarm,
            a.evaluation_periods,
            a.period_minutes,
            a.treat_missing_data
        )?;
    }
    if !s.actions.is_empty() {
        writeln!(out, "actions:     {}", s.actions.join(", "))?;
    }
    if let Some(q) = &s.next_query {
        writeln!(out, "next query:\n{q}")?;
    }
    Ok(())
}

/// One rule of `rules test`.
#[derive(Debug, serde::Serialize)]
struct Tested {
    id: String,
    /// `ok` or `fail`.
    status: &'static str,
    fire: usize,
    quiet: usize,
    problems: Vec<String>,
}

/// `rules test`: every rule's examples fire or stay quiet as declared.
fn test(files: &[PathBuf], pack: &str, format: SummaryFormat) -> Result<ExitCode> {
    let mut rules = trailwatch_core::rules::pack(pack)?;
    for f in files {
        let text = crate::detectors::read_rule_file(f)?;
        let origin = f.display().to_string();
        rules.extend(load_rules(&text, &origin)?);
    }
    let rows: Vec<Tested> = rules
        .iter()
        .map(|r| {
            let problems = check_examples(r);
            Tested {
                id: r.id.clone(),
                status: if problems.is_empty() { "ok" } else { "fail" },
                fire: r.examples.fire.len(),
                quiet: r.examples.quiet.len(),
                problems,
            }
        })
        .collect();
    let failed = rows.iter().filter(|r| !r.problems.is_empty()).count();
    let mut out = io::stdout().lock();
    if !super::write_rows(&mut out, &rows, format)? {
        for r in &rows {
            if r.problems.is_empty() {
                let line = format!("ok    {} ({} fire, {} quiet)", r.id, r.fire, r.quiet);
                writeln!(out, "{}", escape_controls(&line))?;
            }
            for p in &r.problems {
                writeln!(out, "FAIL  {}", escape_controls(p))?;
            }
        }
        writeln!(out, "{} passed, {} failed", rows.len() - failed, failed)?;
    }
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
