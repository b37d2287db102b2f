//! `trailwatch lake`: maintenance and interoperability of the lake —
//! compaction, and table DDL for Athena, Trino, Spark and DuckDB.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use trailwatch_lake::alerts::ALERTS_DIR;
use trailwatch_lake::compact::compact;
use trailwatch_lake::ddl::{Engine, LakeFacts, ddl};
use trailwatch_lake::partition::partition_files;
use trailwatch_lake::responses::RESPONSES_DIR;

use super::SummaryFormatArgs;
use super::lake_args::LakeArgs;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct LakeCommand {
    #[command(subcommand)]
    pub action: LakeAction,
}

#[derive(Debug, Subcommand)]
pub enum LakeAction {
    /// Merge each partition's small files into one (same events, crash-safe).
    Compact {
        #[command(flatten)]
        lake: LakeArgs,
        #[command(flatten)]
        format: SummaryFormatArgs,
    },
    /// Print the table DDL for another engine, pointed at this lake.
    Ddl {
        #[command(flatten)]
        lake: LakeArgs,
        /// The engine whose dialect to print.
        #[arg(long, value_enum)]
        engine: EngineArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EngineArg {
    Athena,
    Trino,
    Spark,
    Duckdb,
}

pub fn run(cmd: &LakeCommand, cfg: &Config) -> Result<ExitCode> {
    let rt = crate::runtime::for_storage()?;
    match &cmd.action {
        LakeAction::Compact { lake, format } => {
            let store = lake.open_existing(cfg, rt.handle().clone())?;
            let s = compact(&store).with_context(|| format!("compacting {}", store.display))?;
            let mut out = io::stdout().lock();
            if !super::write_report(&mut out, &s, format.get())? {
                writeln!(
                    out,
                    "compacted {} partitions: {} files -> {} files ({} rows rewritten) in {:.2} s",
                    s.partitions_compacted, s.files_before, s.files_after, s.rows, s.seconds
                )?;
            }
        }
        LakeAction::Ddl { lake, engine } => {
            let store = lake.open_existing(cfg, rt.handle().clone())?;
            let parts = partition_files(&store)?;
            let facts = LakeFacts {
                location: store.display.clone(),
                accounts: parts.keys().map(|k| k.account.clone()).collect(),
                regions: parts.keys().map(|k| k.region.clone()).collect(),
                first_date: parts.keys().map(|k| k.date.clone()).min(),
                has_alerts: !store.list(ALERTS_DIR)?.is_empty(),
                has_responses: !store.list(RESPONSES_DIR)?.is_empty(),
            };
            let engine = match engine {
                EngineArg::Athena => Engine::Athena,
                EngineArg::Trino => Engine::Trino,
                EngineArg::Spark => Engine::Spark,
                EngineArg::Duckdb => Engine::DuckDb,
            };
            io::stdout()
                .lock()
                .write_all(ddl(engine, &facts).as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
