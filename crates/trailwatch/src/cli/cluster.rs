//! `trailwatch cluster scheduler|executor`: a Ballista cluster made of
//! this one binary, with trailwatch's functions and S3 access in every
//! process; `trailwatch query --cluster df://HOST:PORT` sends it SQL.
//! See docs/scale-out.md.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use trailwatch_sql::cluster::{
    DEFAULT_SCHEDULER_PORT, ExecutorOptions, SchedulerOptions, parse_cluster_url, run_executor,
    run_scheduler,
};

use super::aws_args::AwsArgs;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Run a Ballista scheduler: it plans the statements clients send and
    /// hands their tasks to executors.
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor: it registers with the scheduler and runs
    /// tasks over the lake.
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Where to listen. The Ballista protocol has no authentication:
    /// bind another address only inside a private network.
    #[arg(long, value_name = "ADDR:PORT", default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_SCHEDULER_PORT)))]
    pub bind: SocketAddr,
    /// The host name clients and executors reach this scheduler by, when
    /// it is not the bind address.
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// How long an executor may go without a heartbeat before it counts as
    /// lost and its tasks run elsewhere (30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::timespec::positive_seconds_arg)]
    pub executor_timeout: u64,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler: df://HOST:PORT or HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Where to serve shuffle data to other executors and clients (Arrow
    /// Flight). Unauthenticated, like the scheduler.
    #[arg(long, value_name = "ADDR:PORT", default_value_t = SocketAddr::from(([127, 0, 0, 1], 50051)))]
    pub bind: SocketAddr,
    /// The port for the scheduler's calls (gRPC), on the same address.
    #[arg(long, value_name = "PORT", default_value_t = 50052)]
    pub grpc_port: u16,
    /// The host name others reach this executor by, when it is not the
    /// bind address.
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Tasks run at once (0: one per CPU).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub concurrency: usize,
    /// Folder for shuffle files and spills (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<String>,
    /// How often to tell the scheduler this executor is alive (keep it
    /// well under the scheduler's --executor-timeout).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::timespec::positive_seconds_arg)]
    pub heartbeat: u64,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Scheduler and executor plans can be deeply nested (a long `OR` chain):
/// the same stack as the local engine's query threads.
const STACK: usize = trailwatch_sql::guard::QUERY_STACK_BYTES;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK)
        .build()
        .context("starting the async runtime")
}

pub fn run(cmd: &ClusterCommand, cfg: &Config) -> Result<ExitCode> {
    let rt = runtime()?;
    match cmd {
        ClusterCommand::Scheduler(args) => {
            let opts = SchedulerOptions {
                bind: args.bind,
                external_host: args.external_host.clone(),
                executor_timeout: Duration::from_secs(args.executor_timeout),
                s3: args.aws.options(cfg),
            };
            eprintln!(
                "trailwatch cluster scheduler listening on {} (clients: --cluster df://{})",
                args.bind,
                args.external_host.as_ref().map_or_else(
                    || args.bind.to_string(),
                    |h| format!("{h}:{}", args.bind.port())
                )
            );
            rt.block_on(run_scheduler(opts))
                .with_context(|| format!("running the scheduler on {}", args.bind))?;
        }
        ClusterCommand::Executor(args) => {
            let (scheduler_host, scheduler_port) = parse_cluster_url(&args.scheduler)?;
            let opts = ExecutorOptions {
                scheduler_host,
                scheduler_port,
                bind: args.bind,
                grpc_port: args.grpc_port,
                external_host: args.external_host.clone(),
                concurrency: args.concurrency,
                work_dir: args.work_dir.clone(),
                heartbeat: Duration::from_secs(args.heartbeat),
                s3: args.aws.options(cfg),
            };
            eprintln!(
                "trailwatch cluster executor on {} (gRPC port {}), scheduler {}",
                args.bind, args.grpc_port, args.scheduler
            );
            rt.block_on(run_executor(opts))
                .with_context(|| format!("running the executor on {}", args.bind))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
