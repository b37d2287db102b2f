//! `trailwatch respond`: the plan for alerts (nothing changed), or with
//! `--apply` the changes, one confirmation per action on a terminal, each
//! filed in the lake's `responses` table.

use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Args};
use trailwatch_core::respond::{Action, ActionKind, AlertToRespond, Filter, Status};
use trailwatch_core::terminal::escape_controls;

use super::lake_args::LakeArgs;
use super::{EXIT_FINDINGS, ReadArgs, SummaryFormat};
use crate::config::{Config, RespondFlags, RespondSettings};
use crate::investigate::{Files, Trail};
use crate::respond::{Aws, apply, from_alerts, from_refs, plan_over, record, run_id};
use crate::timespec::parse_time;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["alert", "alerts", "since"])))]
pub struct RespondArgs {
    /// Respond to these alerts of the lake's alerts table (repeat, or
    /// separate with commas).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub alert: Vec<String>,
    /// Respond to the alerts in an NDJSON file (`-` for stdin), as
    /// `detect --format ndjson` prints them. Their evidence is read from
    /// the lake, or from SOURCE files.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<String>,
    /// Respond to every alert the lake's alerts table holds from this time
    /// on (today, 24h, 7d, a date or an RFC 3339 time).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Raw CloudTrail files or folders holding the evidence of `--alerts`
    /// (instead of the lake).
    #[arg(value_name = "SOURCE")]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Make the changes (default: plan only, nothing changed). On a
    /// terminal each action is confirmed first.
    #[arg(long)]
    pub apply: bool,
    /// Apply without asking (for scripts; --apply without a terminal needs it).
    #[arg(long, requires = "apply")]
    pub yes: bool,
    /// Only these actions (repeat, or separate with commas): block-public-access,
    /// revoke-ingress, start-logging, restore-event-selectors, create-detector,
    /// enable-detector, deactivate-access-key, detach-user-policy,
    /// detach-role-policy, delete-user-policy, delete-role-policy,
    /// delete-login-profile, restore-default-policy-version.
    #[arg(long, value_name = "ACTION", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Only actions in these accounts (repeat, or separate with commas).
    #[arg(long, value_name = "ACCOUNT", value_delimiter = ',')]
    pub account: Vec<String>,
    /// The role to act as in each account; `{account}` is replaced by the
    /// action's account (default: `[respond] role_arn`, else the
    /// credential chain's own identity).
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
    #[command(flatten)]
    pub read: ReadArgs,
}

impl RespondArgs {
    fn filter(&self) -> Result<Filter> {
        let only = self
            .only
            .iter()
            .map(|o| {
                ActionKind::parse(o.trim()).with_context(|| {
                    format!(
                        "--only {o:?} is no action: use {}",
                        ActionKind::ALL.map(ActionKind::as_str).join(", ")
                    )
                })
            })
            .collect::<Result<_>>()?;
        Ok(Filter {
            only,
            accounts: self.account.iter().map(|a| a.trim().to_string()).collect(),
        })
    }
}

/// The trail evidence is read from, and the runtime its statements run on
/// (dropped after it).
struct EvidenceTrail {
    trail: Box<dyn Trail>,
    _runtime: tokio::runtime::Runtime,
}

/// The alerts asked for, and the trail their evidence is read from.
fn alerts_and_trail(
    args: &RespondArgs,
    cfg: &Config,
) -> Result<(Vec<AlertToRespond>, EvidenceTrail, usize)> {
    let mut reader = if args.sources.is_empty() {
        lake_trail(args, cfg)?
    } else {
        if args.alerts.is_none() {
            bail!("SOURCE files hold no alerts: give --alerts FILE with them, or use --lake");
        }
        let rt = crate::runtime::for_storage()?;
        let found = crate::source::discover_any(
            &args.sources,
            args.read.include_insights,
            &args.lake.s3_options(cfg),
            rt.handle(),
        )?;
        found.report_unreadable();
        EvidenceTrail {
            trail: Box::new(Files::new(found.inputs, args.read.decode_options())?),
            _runtime: rt,
        }
    };
    let mut bad = 0;
    let alerts = if let Some(file) = &args.alerts {
        let (alerts, skipped) = crate::alert_file::read_alerts(file)?;
        bad = skipped;
        from_alerts(&alerts)
    } else {
        let since = args
            .since
            .as_deref()
            .map(|s| parse_time("--since", s, chrono::Utc::now()))
            .transpose()?;
        let refs = reader.trail.alarming_alerts(&args.alert, since)?;
        for id in &args.alert {
            if !refs.iter().any(|r| &r.alert_id == id) {
                tracing::error!("no alert {id} in ALARM in the lake's alerts table");
                bad += 1;
            }
        }
        from_refs(&refs)
    };
    Ok((alerts, reader, bad))
}

#[cfg(feature = "sql")]
fn lake_trail(args: &RespondArgs, cfg: &Config) -> Result<EvidenceTrail> {
    let rt = crate::runtime::for_queries("tw-respond", 2)?;
    Ok(EvidenceTrail {
        trail: Box::new(args.lake.trail(cfg, &rt)?),
        _runtime: rt,
    })
}

#[cfg(not(feature = "sql"))]
fn lake_trail(_args: &RespondArgs, _cfg: &Config) -> Result<EvidenceTrail> {
    bail!("this build has no query engine (feature `sql`): give --alerts FILE and SOURCE files")
}

/// Ask on the terminal whether to apply `a`.
fn confirmed(a: &Action) -> Result<bool> {
    let mut err = io::stderr().lock();
    writeln!(
        err,
        "\n{} on {} ({}, {})\n  {}\n  {}",
        a.action,
        escape_controls(a.target.as_deref().unwrap_or("-")),
        a.account.as_deref().unwrap_or("-"),
        a.region.as_deref().unwrap_or("global"),
        escape_controls(&a.reason),
        escape_controls(a.aws_cli.as_deref().unwrap_or(""))
    )?;
    write!(err, "Apply? [y/N] ")?;
    err.flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub fn run(args: &RespondArgs, cfg: &Config) -> Result<ExitCode> {
    let filter = args.filter()?;
    let settings = RespondSettings::resolve(
        &RespondFlags {
            role_arn: args.role_arn.clone(),
        },
        cfg,
    )?;
    let interactive = args.apply && !args.yes;
    if interactive && (!io::stdin().is_terminal() || args.alerts.as_deref() == Some("-")) {
        bail!("--apply asks before each change on a terminal: without one, add --yes");
    }
    let (alerts, mut evidence, bad) = alerts_and_trail(args, cfg)?;
    let mut actions = plan_over(evidence.trail.as_mut(), &alerts, &filter)?;
    let mode = if args.apply { "apply" } else { "plan" };
    if args.apply {
        let rt = crate::runtime::for_storage()?;
        let aws = rt
            .block_on(Aws::new(
                args.lake.aws.service_options(),
                settings.role_arn.map(|r| r.value),
            ))
            .context("reaching AWS")?;
        for a in actions.iter_mut().filter(|a| a.status == Status::Planned) {
            if interactive && !confirmed(a)? {
                a.status = Status::Declined;
                continue;
            }
            rt.block_on(apply(&aws, a));
            tracing::info!(action = %a.action, target = a.target.as_deref().unwrap_or("-"), status = %a.status, "respond");
        }
    }
    let mut out = BufWriter::new(io::stdout().lock());
    match args.format {
        SummaryFormat::Table => write_table(&mut out, &actions, args.apply)?,
        SummaryFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &actions)?;
            writeln!(out)?;
        }
        SummaryFormat::Ndjson => {
            for a in &actions {
                serde_json::to_writer(&mut out, a)?;
                writeln!(out)?;
            }
        }
    }
    out.flush()?;
    // The lake files what was planned and done, once it is shown (not for
    // --alerts with raw SOURCE files: then there is no lake to write to).
    if args.sources.is_empty() && !actions.is_empty() {
        let rt = crate::runtime::for_storage()?;
        let store = args.lake.open_existing(cfg, rt.handle().clone())?;
        record(&store, &actions, &run_id(), mode).context("filing the responses in the lake")?;
    }
    if actions.iter().any(|a| a.status == Status::Failed) {
        return Ok(ExitCode::from(EXIT_FINDINGS));
    }
    Ok(args.read.exit_for(bad as u64))
}

/// Each action: its status, what, where, why, and the `aws` command a
/// person could run instead; then a count per status.
fn write_table(out: &mut impl Write, actions: &[Action], applied: bool) -> Result<()> {
    for a in actions.iter().filter(|a| a.status != Status::NoResponse) {
        writeln!(
            out,
            "{:<13} {:<30} {:<12} {:<10} {}",
            a.status.as_str(),
            a.action,
            a.account.as_deref().unwrap_or("-"),
            a.region.as_deref().unwrap_or("global"),
            escape_controls(a.target.as_deref().unwrap_or("-"))
        )?;
        writeln!(
            out,
            "  alert {} ({})",
            a.alert_id,
            escape_controls(&a.rule_id)
        )?;
        writeln!(out, "  why   {}", escape_controls(&a.reason))?;
        if let Some(cli) = &a.aws_cli {
            writeln!(out, "  run   {}", escape_controls(cli))?;
        }
        if let Some(e) = &a.error {
            writeln!(out, "  error {}", escape_controls(e))?;
        }
    }
    // Alerts without a response, one line per rule and reason (a busy rule
    // has many alerts of one reason), with the first alert's id.
    let mut none: Vec<(&str, &str, &str, usize)> = Vec::new();
    for a in actions.iter().filter(|a| a.status == Status::NoResponse) {
        match none
            .iter_mut()
            .find(|(r, why, _, _)| *r == a.rule_id && *why == a.reason)
        {
            Some((_, _, _, n)) => *n += 1,
            None => none.push((&a.rule_id, &a.reason, &a.alert_id, 1)),
        }
    }
    if !none.is_empty() {
        let alerts: usize = none.iter().map(|(_, _, _, n)| n).sum();
        writeln!(out, "\nNo response for {alerts} alert(s):")?;
        for (rule, why, first, n) in none {
            let which = if n == 1 {
                format!("alert {first}")
            } else {
                format!("{n} alerts, e.g. {first}")
            };
            writeln!(
                out,
                "  {} ({which}): {}",
                escape_controls(rule),
                escape_controls(why)
            )?;
        }
    }
    let mut counts: Vec<(Status, usize)> = Vec::new();
    for a in actions {
        match counts.iter_mut().find(|(s, _)| *s == a.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((a.status, 1)),
        }
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    writeln!(
        out,
        "\n{}",
        if summary.is_empty() {
            "no alerts".to_string()
        } else {
            summary.join(", ")
        }
    )?;
    if !applied && actions.iter().any(|a| a.status == Status::Planned) {
        writeln!(
            out,
            "Nothing was changed: add --apply to make these changes."
        )?;
    }
    Ok(())
}
