//! `trailwatch state`: the security state of the accounts in the lake,
//! rebuilt from their events ([`trailwatch_core::posture`]): public
//! buckets, security groups open to the world, IAM users and MFA, access
//! keys, trails, KMS keys pending deletion, and resources created without
//! encryption; resources never seen created are marked partial.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use trailwatch_core::event::{DecodeOptions, Record};
use trailwatch_core::posture::{Posture, report, rows};
use trailwatch_core::terminal::escape_controls;
use trailwatch_lake::read::TableFilter;

use super::SummaryFormat;
use super::lake_args::LakeArgs;
use crate::config::Config;
use crate::progress::Progress;
use crate::source::lake::each_lake_record;

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// How to print the state.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
    /// Also save the state as the lake's `state_*` tables (for SQL here
    /// and in other engines), replacing what they held.
    #[arg(long)]
    pub save: bool,
}

fn yes(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn partial(p: bool) -> &'static str {
    if p {
        "  (partial: never seen created)"
    } else {
        ""
    }
}

fn table(p: &Posture, out: &mut impl Write) -> io::Result<()> {
    let mut lines: Vec<String> = Vec::new();
    let public: Vec<_> = p.buckets.iter().filter(|(_, b)| b.public()).collect();
    lines.push(format!(
        "public buckets: {} of {}",
        public.len(),
        p.buckets.len()
    ));
    for (k, b) in public {
        let how = match (b.policy_public, b.acl_public) {
            (true, true) => "policy and ACL",
            (true, false) => "policy",
            _ => "ACL",
        };
        lines.push(format!(
            "  {k}  by {how}, changed {}{}",
            b.changed,
            partial(b.partial)
        ));
    }
    let open: Vec<_> = p
        .security_groups
        .iter()
        .filter(|(_, g)| !g.open_to_world.is_empty())
        .collect();
    lines.push(format!(
        "security groups open to the world: {} of {}",
        open.len(),
        p.security_groups.len()
    ));
    for (k, g) in open {
        let rules: Vec<&str> = g.open_to_world.iter().map(String::as_str).collect();
        lines.push(format!("  {k}  {}{}", rules.join("; "), partial(g.partial)));
    }
    lines.push(format!("IAM users: {}", p.users.len()));
    for (k, u) in &p.users {
        lines.push(format!(
            "  {k}  MFA devices {}, console password {}{}",
            u.mfa_devices,
            yes(u.console_password),
            partial(u.partial)
        ));
    }
    lines.push(format!("access keys: {}", p.access_keys.len()));
    for (k, a) in &p.access_keys {
        lines.push(format!(
            "  {k}  user {}, created {}, last used {}, {}{}",
            a.user.as_deref().unwrap_or("?"),
            a.created.as_deref().unwrap_or("?"),
            a.last_used.as_deref().unwrap_or("never seen"),
            a.status.as_deref().unwrap_or("status unknown"),
            partial(a.partial)
        ));
    }
    lines.push(format!("trails: {}", p.trails.len()));
    for (k, t) in &p.trails {
        lines.push(format!(
            "  {k}  logging {}{}",
            yes(t.logging),
            partial(t.partial)
        ));
    }
    let pending: Vec<_> = p
        .kms_keys
        .iter()
        .filter(|(_, k)| k.pending_deletion.is_some())
        .collect();
    lines.push(format!("KMS keys pending deletion: {}", pending.len()));
    for (k, key) in pending {
        lines.push(format!(
            "  {k}  deletion {}{}",
            key.pending_deletion.as_deref().unwrap_or("?"),
            partial(key.partial)
        ));
    }
    let plain: Vec<_> = p
        .created
        .iter()
        .filter(|(_, c)| c.encrypted == Some(false))
        .collect();
    lines.push(format!(
        "resources created without encryption: {} of {}",
        plain.len(),
        p.created.len()
    ));
    for (k, c) in plain {
        lines.push(format!("  {k}  {} created {}", c.kind, c.created));
    }
    for l in lines {
        // Names come from records: no escape sequence reaches the terminal.
        writeln!(out, "{}", escape_controls(&l))?;
    }
    Ok(())
}

pub fn run(args: &StateArgs, cfg: &Config) -> Result<ExitCode> {
    let rt = crate::runtime::for_storage()?;
    let store = args.lake.open_existing(cfg, rt.handle().clone())?;
    let mut p = Posture::default();
    let progress = Progress::new(0, "lake files");
    each_lake_record(
        &store,
        &TableFilter::default(),
        DecodeOptions::default(),
        &mut |done, total| {
            progress.set_length(total as u64);
            progress.set_position(done as u64);
        },
        |r: &Record<'_>| p.apply(r),
    )?;
    progress.finish();
    if args.save {
        trailwatch_lake::state_tables::save(&store, |t| rows(&p, t))
            .context("saving the state tables")?;
        tracing::info!("the state tables are saved in {}/state", store.display);
    }
    let mut out = io::stdout().lock();
    if !super::write_report(&mut out, &report(&p), args.format)? {
        table(&p, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}
