//! The command line: argument definitions, logging set-up, and dispatch to
//! one module per subcommand. Each subcommand's module parses its flags,
//! resolves them with the config into settings ([`crate::config`]) and
//! calls the layer that does the work (the pipeline, the server, the
//! library crates). This folder is a leaf: nothing outside it imports it,
//! and only it prints to stdout.

mod audit;
mod aws_args;
mod backtest;
mod cat;
#[cfg(feature = "cluster")]
mod cluster;
mod completions;
mod config;
mod detect;
mod exit;
mod export;
mod generate;
mod ingest;
mod investigate;
mod lake;
mod lake_args;
mod notify;
#[cfg(feature = "sql")]
mod query;
mod respond;
mod rule_args;
mod rules;
#[cfg(feature = "sql")]
mod serve;
mod state;
mod stats;
mod summary;
mod verify;
mod watch;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use trailwatch_core::event::DecodeOptions;

pub use exit::{EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, EXIT_PENDING};
pub use summary::{SummaryFormat, SummaryFormatArgs, write_report, write_rows};

/// Security observability for AWS CloudTrail.
#[derive(Debug, Parser)]
#[command(name = "trailwatch", version, about, after_help = exit::TABLE)]
pub struct Cli {
    /// More logging on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// The TOML config (default: ~/.config/trailwatch/config.toml when it
    /// exists). Flags override it.
    #[arg(long, global = true, value_name = "FILE", env = "TRAILWATCH_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Log lines as text, or as JSON objects (one per line) for log
    /// shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "TRAILWATCH_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    /// Whether log lines carry the time: for the long-running commands,
    /// whose logs are read later.
    pub fn log_times(&self) -> bool {
        match self.command {
            Command::Watch(_) => true,
            #[cfg(feature = "sql")]
            Command::Serve(_) => true,
            #[cfg(feature = "cluster")]
            Command::Cluster(_) => true,
            _ => false,
        }
    }
}

/// Colour on stderr: only on a terminal, and not when `NO_COLOR` is set
/// to anything but the empty string (no-color.org).
fn colour_wanted(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode records and print them (a filter-free dump, e.g. for jq).
    Cat(cat::CatArgs),
    /// Count files, records and bad records; time span and throughput.
    Stats(stats::StatsArgs),
    /// Write a realistic sample trail with planted incidents.
    Generate(generate::GenerateArgs),
    /// Ingest sources into the Parquet lake (crash-safe, idempotent, deduplicated).
    Ingest(ingest::IngestArgs),
    /// Write the lake's events in another schema (OCSF for Amazon
    /// Security Lake and SIEMs).
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// From one key, principal, session, address or alert to the whole
    /// story: credentials minted, events, resources, what was created.
    Investigate(investigate::InvestigateArgs),
    /// Lake maintenance: compact, and DDL for Athena, Trino, Spark, DuckDB.
    Lake(lake::LakeCommand),
    /// From alerts to the fix: plan the narrowest reversal of what each
    /// alert's evidence shows, and apply it on approval (--apply).
    Respond(respond::RespondArgs),
    /// Replay records through the detection rules and print the alerts.
    Detect(detect::DetectArgs),
    /// List, show and test rules; import Terraform metric filters and alarms.
    Rules(rules::RulesCommand),
    /// Follow trail folders or S3 prefixes and alert as new log files land (restart-safe).
    Watch(watch::WatchArgs),
    /// Validate digest files and log files offline: tampered, deleted, inserted logs, gaps.
    Verify(verify::VerifyArgs),
    /// Audit a trail's configuration (Terraform or AWS CLI JSON) and its data's coverage.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Athena-dialect SQL over the lake, or over raw logs (CREATE EXTERNAL TABLE).
    #[cfg(feature = "sql")]
    Query(query::QueryArgs),
    /// Quick answers over the lake: top callers, actions, IPs, errors, regions.
    #[cfg(feature = "sql")]
    Top(query::TopArgs),
    /// Notifications: test a sink, outbox status, send and flush alerts.
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// The config file: check it and show the settings in force.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Serve the dashboard and the JSON API over the lake (token required).
    #[cfg(feature = "sql")]
    Serve(serve::ServeArgs),
    /// Run a Ballista scheduler or executor for distributed queries
    /// (`query --cluster`).
    #[cfg(feature = "cluster")]
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// The security state rebuilt from the lake's events: public buckets,
    /// open security groups, users and MFA, keys, trails, KMS, encryption.
    State(state::StateArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
    /// Print the man page, or write one page per command to a folder.
    Man(completions::ManArgs),
}

/// Options shared by every command that reads CloudTrail records.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Files, folders (walked recursively) or `-` for stdin. Gzip is
    /// detected by content; `{"Records":[…]}`, NDJSON, JSON arrays and
    /// single records are all accepted.
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub read: ReadArgs,
}

impl InputArgs {
    pub fn decode_options(&self) -> DecodeOptions {
        self.read.decode_options()
    }

    /// The exit code for a run that met `problems` decode errors.
    pub fn exit_for(&self, problems: u64) -> ExitCode {
        self.read.exit_for(problems)
    }
}

/// How records are read, whatever the sources.
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    /// Largest accepted record in bytes; larger ones are reported and skipped.
    #[arg(long, default_value_t = DecodeOptions::default().max_record_bytes, value_name = "BYTES")]
    pub max_record_bytes: usize,
    /// Largest accepted decompressed size of one file (guards against gzip bombs).
    #[arg(long = "max-decompressed", default_value_t = DecodeOptions::default().max_decompressed_bytes, value_name = "BYTES")]
    pub max_decompressed_bytes: u64,
    /// Also read CloudTrail-Insight files found in folders.
    #[arg(long)]
    pub include_insights: bool,
    /// Exit 0 even when some records or files could not be decoded.
    #[arg(long)]
    pub allow_bad: bool,
}

impl ReadArgs {
    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            max_record_bytes: self.max_record_bytes,
            max_decompressed_bytes: self.max_decompressed_bytes,
        }
    }

    /// The exit code for a run that met `problems` decode errors.
    pub fn exit_for(&self, problems: u64) -> ExitCode {
        if problems > 0 && !self.allow_bad {
            ExitCode::from(EXIT_INPUT)
        } else {
            ExitCode::from(EXIT_OK)
        }
    }
}

/// An error and its causes on one line, each said once
/// (`trailwatch_core::terminal::error_line`).
pub fn error_text(e: &anyhow::Error) -> String {
    trailwatch_core::terminal::error_line(e.as_ref())
}

pub fn init_logging(verbose: u8, quiet: bool, times: bool, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    // Ballista's own lines ("connecting to the scheduler", each job's
    // stages) are for the cluster's processes, which log with times; a
    // client (`query --cluster`) shows only its warnings unless -v.
    let mut filter = level.to_string();
    if !times && verbose == 0 {
        filter.push_str(
            ",ballista=warn,ballista_core=warn,ballista_scheduler=warn,ballista_executor=warn",
        );
    }
    // Off AWS, the SDK's instance-metadata probe warns with its whole HTTP
    // response each time it looks for a region or credentials; the error
    // trailwatch gives says where it looked. -v shows them.
    if verbose == 0 {
        filter.push_str(",aws_config::imds=error");
    }
    let filter =
        EnvFilter::try_from_env("TRAILWATCH_LOG").unwrap_or_else(|_| EnvFilter::new(filter));
    let colour = colour_wanted(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var_os("NO_COLOR"),
    );
    let lines = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false);
    // The arms build differently typed subscribers, hence an `init` each.
    // JSON lines always carry the time and never colour.
    match (format, times) {
        (LogFormat::Json, _) => lines.json().with_ansi(false).init(),
        (LogFormat::Text, true) => lines.with_ansi(colour).init(),
        (LogFormat::Text, false) => lines.with_ansi(colour).without_time().init(),
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Only the commands with settings in the file read it.
    let config = || crate::config::Config::load(cli.config.as_deref());
    match &cli.command {
        Command::Cat(args) => cat::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Ingest(args) => ingest::run(args, &config()?),
        Command::Export(cmd) => export::run(cmd, &config()?),
        Command::Investigate(args) => investigate::run(args, &config()?),
        Command::Lake(cmd) => lake::run(cmd, &config()?),
        Command::Respond(args) => respond::run(args, &config()?),
        Command::Detect(args) => detect::run(args, &config()?),
        Command::Rules(cmd) => rules::run(cmd, &config()?),
        Command::Watch(args) => watch::run(args, &config()?),
        Command::Verify(args) => verify::run(args, &config()?),
        Command::Audit(cmd) => audit::run(cmd, &config()?),
        #[cfg(feature = "sql")]
        Command::Query(args) => query::run(args, &config()?),
        #[cfg(feature = "sql")]
        Command::Top(args) => query::top(args, &config()?),
        Command::Notify(cmd) => notify::run(cmd, &config()?),
        Command::Config(cmd) => config::run(cmd, &config()?),
        #[cfg(feature = "sql")]
        Command::Serve(args) => serve::run(args, &config()?),
        #[cfg(feature = "cluster")]
        Command::Cluster(cmd) => cluster::run(cmd, &config()?),
        Command::State(args) => state::run(args, &config()?),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    }
}

#[cfg(test)]
mod log_tests {
    use super::colour_wanted;

    #[test]
    fn no_color_turns_colour_off_unless_empty() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some("".into())));
        assert!(!colour_wanted(true, Some("1".into())));
        assert!(!colour_wanted(false, None));
    }
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    /// Every command and subcommand, with its full name.
    fn all(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            all(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_flag_has_help_shows_its_env_and_lists_closed_values() {
        let mut cmds = Vec::new();
        all(&super::Cli::command(), "trailwatch".into(), &mut cmds);
        assert!(cmds.len() > 25, "{} commands", cmds.len());
        let globals: Vec<String> = super::Cli::command()
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.get_id().to_string())
            .collect();
        let mut missing = Vec::new();
        for (path, cmd) in &cmds {
            // A command's own argument named like a global one (`config`)
            // would take the global flag's value.
            for arg in cmd.get_arguments().filter(|a| !a.is_global_set()) {
                if globals.iter().any(|g| g == arg.get_id().as_str()) {
                    missing.push(format!("{path}: {} shadows a global flag", arg.get_id()));
                }
            }
            if cmd.get_about().is_none() && !path.ends_with(" help") {
                missing.push(format!("{path}: no about"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg
                    .get_help()
                    .is_none_or(|h| h.to_string().trim().is_empty())
                {
                    missing.push(format!("{path}: --{id} has no help text"));
                }
                if arg.is_hide_env_set() {
                    missing.push(format!("{path}: --{id} hides its env"));
                }
                if !arg.get_possible_values().is_empty() && arg.is_hide_possible_values_set() {
                    missing.push(format!("{path}: --{id} hides its values"));
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
        // The rendered help says it, for one of each kind.
        let mut cli = super::Cli::command();
        let help = cli
            .find_subcommand_mut("ingest")
            .expect("ingest")
            .render_long_help()
            .to_string();
        for want in [
            "[env: AWS_PROFILE",
            "[env: AWS_REGION",
            "[env: TRAILWATCH_LAKE",
            "ndjson",
        ] {
            assert!(help.contains(want), "ingest --help lacks {want}:\n{help}");
        }
    }
}
