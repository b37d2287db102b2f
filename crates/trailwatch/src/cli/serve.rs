//! `trailwatch serve`: its flags, resolved with `[serve]`, `[watch]`,
//! `[detect]`, `[lake]` and `[notify]` into the server's options
//! ([`crate::serve::run`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use super::lake_args::LakeArgs;
use super::rule_args::RuleArgs;
use crate::config::{Config, ServeFlags, ServeSettings, WatchFlags, WatchSettings};
use crate::serve::Options;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Address to listen on (also `[serve] listen`). Default 127.0.0.1:8080:
    /// give another address only behind TLS or a trusted proxy.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The server's state folder, where a generated token is kept (also
    /// `[serve] state`). Default: $XDG_STATE_HOME/trailwatch/serve
    /// (~/.local/state/trailwatch/serve), or the platform's local data
    /// folder where there is no state folder (macOS: ~/Library/Application
    /// Support/trailwatch/serve).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// A PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The largest request body taken, in bytes (larger: 413).
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    pub max_body: usize,
    /// The most connections open at once; past it, new ones wait in the
    /// kernel's queue until one closes.
    #[arg(long, default_value_t = 256, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_connections: u32,
    /// How long a client may take to send a request's headers; an idle
    /// kept-alive connection is closed after the same time (bare numbers
    /// are seconds).
    #[arg(long, default_value = "15s", value_name = "DURATION", value_parser = crate::timespec::positive_seconds_arg)]
    pub header_timeout: u64,
    /// How long a client may take to send a request's body (408 past it).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = crate::timespec::positive_seconds_arg)]
    pub body_timeout: u64,
    /// How long one SQL statement may run (bare numbers are seconds).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = crate::timespec::positive_seconds_arg)]
    pub timeout: u64,
    /// Memory for one statement's execution, in bytes (past it, sorts and
    /// aggregations spill to disk).
    #[arg(long, default_value_t = 1 << 30, value_name = "BYTES")]
    pub memory_limit: usize,
    /// Time between ingests of pushed events (and, with --watch, of the
    /// trail files taken) into the lake; both go through detection at once
    /// (bare numbers are seconds).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = crate::timespec::positive_seconds_arg)]
    pub ingest_interval: u64,
    /// Also follow these trail folders or `s3://bucket/prefix`es, as
    /// `watch` does (its `[watch]` settings apply: lateness, polling,
    /// public keys for digests), through the same pipeline as pushed
    /// events: an event both pushed and read from the trail is stored and
    /// alerted once.
    #[arg(long, value_name = "DIR|S3URL", num_args = 1..)]
    pub watch: Vec<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
}

pub fn run(args: &ServeArgs, cfg: &Config) -> Result<ExitCode> {
    let set = ServeSettings::resolve(
        &ServeFlags {
            listen: args.listen.clone(),
            state: args.state.clone(),
        },
        cfg,
    )?;
    let listen = &set.listen.value;
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?}: use HOST:PORT, e.g. 127.0.0.1:8080"))?;
    let opts = Options {
        listen: addr,
        state: set.state_dir()?,
        config_token: set.config_token(),
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        max_body: args.max_body,
        connections: crate::serve::connections::Limits {
            max_connections: args.max_connections as usize,
            header_timeout: Duration::from_secs(args.header_timeout),
            body_timeout: Duration::from_secs(args.body_timeout),
        },
        timeout: Duration::from_secs(args.timeout),
        memory_limit: args.memory_limit,
        ingest_interval: Duration::from_secs(args.ingest_interval),
        lake: args.lake.location(cfg)?,
        s3: args.lake.s3_options(cfg),
        sns: args.lake.aws.sns_options(),
        watch: args.watch.clone(),
        // The watcher's settings (`[watch]`), for late records and, with
        // --watch, for following the trail.
        watch_settings: WatchSettings::resolve(&WatchFlags::default(), cfg)?,
        notify: cfg.notify().clone(),
        respond: crate::config::RespondSettings::resolve(&Default::default(), cfg)?,
    };
    crate::serve::run(opts, args.rules.detections(cfg)?)
}
