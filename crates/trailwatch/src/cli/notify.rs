//! `trailwatch notify`: send a test message to a sink, show the outbox,
//! deliver alerts from NDJSON (what `detect --format ndjson` prints), and
//! flush what is pending. `watch --config` delivers as it alerts.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use super::aws_args::AwsArgs;
use crate::config::Config;
use crate::notify::config::NotifyConfig;
use crate::notify::dispatch::Notifier;
use crate::notify::message::Message;
use crate::notify::outbox::read_status;
use crate::notify::{SinkContext, build};

use super::{EXIT_PENDING, SummaryFormatArgs};
use crate::timespec::seconds_arg;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl ConfigArgs {
    /// The `[notify]` config; an error when there is no config file.
    pub fn load(&self, cfg: &Config) -> Result<NotifyConfig> {
        if !cfg.has_file() {
            bail!(
                "no config: pass --config FILE, set TRAILWATCH_CONFIG, or create \
                 ~/.config/trailwatch/config.toml (see the README's Notifications section)"
            );
        }
        Ok(cfg.notify().clone())
    }

    /// The config's notifier, when it configures any sink.
    pub fn notifier(&self, cfg: &Config) -> Result<Option<Notifier>> {
        let ctx = SinkContext {
            aws: self.aws.sns_options(),
        };
        Notifier::for_config(self.load(cfg)?, &ctx)
    }
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test message to one sink, straight away (not via the outbox).
    Test {
        /// The sink's name in the config.
        sink: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Outbox depth, dead letters, and the last error per sink.
    Status {
        #[command(flatten)]
        format: SummaryFormatArgs,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Route alerts (NDJSON, as `detect --format ndjson` prints) to their
    /// sinks through the outbox, and deliver them.
    Send {
        /// The NDJSON file, or - for stdin.
        #[arg(default_value = "-")]
        input: String,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Deliver what is pending in the outbox.
    Flush {
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Give up after this long (90s, 5m; bare numbers are seconds); what
    /// is left stays in the outbox for the next run (exit code 3).
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = seconds_arg)]
    pub wait: u64,
}

fn deliver(notifier: &Notifier, wait: &WaitArgs) -> Result<ExitCode> {
    let rt = crate::runtime::for_storage()?;
    let deadline = Instant::now() + Duration::from_secs(wait.wait);
    let done = rt.block_on(notifier.deliver(true, Some(deadline)));
    if done {
        return Ok(ExitCode::SUCCESS);
    }
    tracing::warn!(
        pending = notifier.pending(),
        "--wait ran out; the rest stays in the outbox (trailwatch notify flush delivers it)"
    );
    Ok(ExitCode::from(EXIT_PENDING))
}

pub fn run(cmd: &NotifyCommand, cfg: &Config) -> Result<ExitCode> {
    match cmd {
        NotifyCommand::Test { sink, config } => {
            // Only this sink is built (the others' secrets need not be
            // set), and the outbox is not touched: a test can run while
            // `watch` delivers.
            let c = config.load(cfg)?;
            let Some(sc) = c.sinks.get(sink) else {
                bail!("no sink named {sink:?} in the config");
            };
            let state = c.outbox_dir()?.join(sink);
            std::fs::create_dir_all(&state)
                .with_context(|| format!("creating {}", state.display()))?;
            let ctx = SinkContext {
                aws: config.aws.sns_options(),
            };
            let target = build(sink, sc, &state, &ctx)?;
            let rt = crate::runtime::for_storage()?;
            rt.block_on(target.send(&Message::test()))
                .map_err(|e| anyhow::anyhow!("{sink}: {e}"))?;
            writeln!(io::stdout(), "{sink}: test message delivered")?;
            Ok(ExitCode::SUCCESS)
        }
        NotifyCommand::Status { format, config } => {
            let c = config.load(cfg)?;
            let names: Vec<String> = c.sinks.keys().cloned().collect();
            let rows = read_status(&c.outbox_dir()?, &names)?;
            let mut out = io::stdout().lock();
            if super::write_rows(&mut out, &rows, format.get())? {
                return Ok(ExitCode::SUCCESS);
            }
            writeln!(
                out,
                "{:<20} {:<10} {:>8} {:<21} {:>6}  LAST ERROR",
                "SINK", "TYPE", "PENDING", "OLDEST", "DEAD"
            )?;
            for r in rows {
                let kind = c.sinks.get(&r.sink).map_or("-", |s| s.kind.type_name());
                let err = match (&r.status.last_error, &r.status.last_error_at) {
                    (Some(e), Some(at)) => format!("{at} {e}"),
                    _ => "-".into(),
                };
                writeln!(
                    out,
                    "{:<20} {:<10} {:>8} {:<21} {:>6}  {}",
                    r.sink,
                    kind,
                    r.pending,
                    r.oldest_pending.as_deref().unwrap_or("-"),
                    r.dead_letters,
                    err
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        NotifyCommand::Send {
            input,
            wait,
            config,
        } => {
            let Some(notifier) = config.notifier(cfg)? else {
                bail!("the config has no [notify.sink.*]");
            };
            let (alerts, bad) = crate::alert_file::read_alerts(input)?;
            let added = notifier.enqueue(&alerts)?;
            tracing::info!(
                alerts = alerts.len(),
                queued = added,
                "alerts in the outbox"
            );
            let code = deliver(&notifier, wait)?;
            if bad > 0 && code == ExitCode::SUCCESS {
                tracing::error!("{bad} line(s) of {input} were not alerts");
                return Ok(ExitCode::from(super::EXIT_INPUT));
            }
            Ok(code)
        }
        NotifyCommand::Flush { wait, config } => {
            let Some(notifier) = config.notifier(cfg)? else {
                bail!("the config has no [notify.sink.*]");
            };
            deliver(&notifier, wait)
        }
    }
}
