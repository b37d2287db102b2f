//! `trailwatch config check`: read the config file, refuse what is wrong
//! in it (unknown keys at any level, out-of-range numbers, routes naming
//! no sink), and print every effective setting with where it came from:
//! a flag, the environment, a line of the file, or the default.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::rule_args::RuleArgs;
use super::watch::{Settings, WatchArgs};
use crate::config::{Config, Source};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print the effective settings.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {}

pub fn run(cmd: &ConfigCommand, cfg: &Config) -> Result<ExitCode> {
    let ConfigCommand::Check(_) = cmd;
    let mut rows: Vec<(&'static str, String, Source)> = Vec::new();
    let lake = cfg.lake_location(None)?;
    rows.push(("lake.location", lake.value, lake.from));
    match cfg.endpoint_url(None) {
        Some(e) => rows.push(("lake.endpoint_url", e.value, e.from)),
        None => rows.push(("lake.endpoint_url", "-".into(), Source::Default)),
    }
    let rules = RuleArgs {
        pack: None,
        rules: Vec::new(),
        geoip: Vec::new(),
    };
    let (pack, files) = rules.settings(cfg);
    rows.push(("detect.pack", pack.value, pack.from));
    let files_text = if files.value.is_empty() {
        "-".to_string()
    } else {
        files
            .value
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    rows.push(("detect.rules", files_text, files.from));
    // [correlate]: every key, from the section or the defaults.
    let corr = cfg.correlate();
    let mut corr_rows: Vec<(String, String, Source)> = Vec::new();
    if let Ok(serde_json::Value::Object(keys)) = serde_json::to_value(&corr.value) {
        for (k, v) in keys {
            let text = match v {
                serde_json::Value::Null => "-".to_string(),
                serde_json::Value::Array(a) if a.is_empty() => "-".to_string(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            corr_rows.push((format!("correlate.{k}"), text, corr.from.clone()));
        }
    }
    let watch = WatchArgs::empty();
    Settings::resolve(&watch, cfg, Some(&mut rows))?;
    // [serve]: the token is a secret — only whether and where it is set.
    let sv = &cfg.raw.serve;
    let listen = cfg.pick(None, &sv.listen, "127.0.0.1:8080".to_string());
    rows.push(("serve.listen", listen.value, listen.from));
    match cfg.pick_opt(None, &sv.state) {
        Some(st) => rows.push(("serve.state", st.value.display().to_string(), st.from)),
        None => rows.push((
            "serve.state",
            crate::config::state_path("serve")
                .map_or_else(|_| "-".to_string(), |p| p.display().to_string()),
            Source::Default,
        )),
    }
    if std::env::var("TRAILWATCH_TOKEN").is_ok_and(|t| !t.is_empty()) {
        rows.push((
            "serve.token",
            "(set, hidden)".into(),
            Source::Env("TRAILWATCH_TOKEN"),
        ));
    } else if let Some(t) = cfg.pick_opt(None, &sv.token) {
        rows.push(("serve.token", "(set, hidden)".into(), t.from));
    } else {
        rows.push((
            "serve.token",
            "(generated on first start, kept in the state folder)".into(),
            Source::Default,
        ));
    }
    let n = &cfg.raw.notify;
    let outbox = n
        .outbox_dir()
        .map_or_else(|_| "-".to_string(), |p| p.display().to_string());
    let from = if n.outbox.is_some() {
        cfg.path.as_ref().map_or(Source::Default, |p| Source::File {
            path: p.clone(),
            line: 0,
        })
    } else {
        Source::Default
    };
    rows.push(("notify.outbox", outbox, from));
    let sinks: Vec<String> = n
        .sinks
        .iter()
        .map(|(name, s)| format!("{name} ({})", s.kind.type_name()))
        .collect();
    let mut out = io::stdout().lock();
    match &cfg.path {
        Some(p) => writeln!(out, "config {}: valid", p.display())?,
        None => writeln!(out, "no config file: flags and defaults only")?,
    }
    let rows: Vec<(String, String, Source)> = rows
        .into_iter()
        .map(|(k, v, f)| (k.to_string(), v, f))
        .chain(corr_rows)
        .collect();
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (key, value, from) in &rows {
        writeln!(out, "{key:<width$}  {value}  ({from})")?;
    }
    writeln!(
        out,
        "{:<width$}  {}",
        "notify.sinks",
        if sinks.is_empty() {
            "-".to_string()
        } else {
            sinks.join(", ")
        }
    )?;
    writeln!(out, "{:<width$}  {}", "notify.routes", n.routes.len())?;
    Ok(ExitCode::SUCCESS)
}
