//! `trailwatch query`: Athena-dialect SQL over the lake (tables
//! `cloudtrail_logs` and `alerts`), or over raw logs after Athena's
//! `CREATE EXTERNAL TABLE`; and `trailwatch top`, the quick answers.

mod session;
mod shell;

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use trailwatch_sql::guard::split_statements;
use trailwatch_sql::output::Format;
use trailwatch_sql::top::{
    Top, empty_window_hint, lake_span, query as top_query, saved_empty_hint,
};
use trailwatch_sql::{Engine, saved};

use super::lake_args::LakeArgs;
use crate::config::Config;
use crate::timespec::parse_since;
use session::{Output, engine, run_statement};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
    Ndjson,
    Parquet,
}

impl From<QueryFormat> for Format {
    fn from(f: QueryFormat) -> Format {
        match f {
            QueryFormat::Table => Format::Table,
            QueryFormat::Csv => Format::Csv,
            QueryFormat::Json => Format::Json,
            QueryFormat::Ndjson => Format::Ndjson,
            QueryFormat::Parquet => Format::Parquet,
        }
    }
}

/// Options shared by `query` and `top`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Output format; default table (parquet when --output ends in .parquet).
    #[arg(long, value_enum)]
    pub format: Option<QueryFormat>,
    /// Write the result here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// In table format, show at most this many rows, then how many more
    /// there are (0 shows all). Other formats write every row.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub max_rows: usize,
    /// Memory for execution (e.g. 512M, 2G); past it, sorts and
    /// aggregations spill to disk.
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Stop a statement after this long (30s, 5m; bare numbers are
    /// seconds).
    #[arg(long, value_name = "DURATION", value_parser = crate::timespec::positive_seconds_arg)]
    pub timeout: Option<u64>,
    /// Run on a Ballista cluster: its scheduler's df://HOST:PORT (see
    /// `trailwatch cluster`). Same SQL, rewrites and functions; the
    /// query is stopped after --timeout, 30 minutes when not given.
    #[cfg(feature = "cluster")]
    #[arg(long, value_name = "df://HOST:PORT", env = "TRAILWATCH_CLUSTER")]
    pub cluster: Option<String>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL (one or more statements separated by `;`).
    #[arg(value_name = "SQL", conflicts_with_all = ["file", "saved", "list"])]
    pub sql: Option<String>,
    /// Read the statements from a file.
    #[arg(short = 'f', long = "file", value_name = "FILE.sql")]
    pub file: Option<PathBuf>,
    /// Run a saved query by name (see --list).
    #[arg(long, value_name = "NAME")]
    pub saved: Option<String>,
    /// A saved query's parameter, NAME=VALUE (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// List the saved queries.
    #[arg(long)]
    pub list: bool,
    /// The interactive shell (the default when no SQL is given and stdin
    /// is a terminal); with this flag it also reads piped input.
    #[arg(long, conflicts_with_all = ["sql", "file", "saved", "list"])]
    pub shell: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TopWhat {
    Callers,
    Actions,
    Ips,
    Errors,
    Regions,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// What to rank.
    #[arg(value_enum)]
    pub what: TopWhat,
    /// today, 24h, 7d, a date or an RFC 3339 time.
    #[arg(long, default_value = "24h", value_name = "WHEN")]
    pub since: String,
    /// How many rows.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[command(flatten)]
    pub run: RunArgs,
}

fn parse_size(s: &str) -> Result<usize> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1usize << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num
        .parse()
        .with_context(|| format!("--memory-limit {s:?}: use bytes or 512M, 2G"))?;
    Ok((n * mult as f64) as usize)
}

/// Whether a session needs a lake: `top` reads the lake's events; SQL
/// may query tables over raw logs alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lake {
    Required,
    IfAny,
}

/// Open the engine over the lake and the output, run `work` with them,
/// and end: a statement stopped by --timeout may still hold a worker
/// thread until it next yields, so the runtime is not waited for.
fn in_session(
    run: &RunArgs,
    cfg: &Config,
    lake: Lake,
    work: impl FnOnce(&Engine, &tokio::runtime::Runtime, &mut Output) -> Result<ExitCode>,
) -> Result<ExitCode> {
    let rt = crate::runtime::for_queries("tw-query", 2)?;
    if lake == Lake::Required {
        run.lake.open_existing(cfg, rt.handle().clone())?;
    }
    let engine = engine(run, cfg, &rt)?;
    let mut out = Output::new(run)?;
    let result = work(&engine, &rt, &mut out);
    rt.shutdown_background();
    result
}

/// Run statements, writing each result; stops at the first error.
fn run_all(run: &RunArgs, cfg: &Config, statements: &[String]) -> Result<ExitCode> {
    in_session(run, cfg, Lake::IfAny, |engine, rt, out| {
        for sql in statements {
            run_statement(engine, rt, sql, out)?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The interactive shell over the same engine and output.
fn shell(run: &RunArgs, cfg: &Config) -> Result<ExitCode> {
    in_session(run, cfg, Lake::IfAny, shell::run)
}

pub fn run(args: &QueryArgs, cfg: &Config) -> Result<ExitCode> {
    if args.list {
        let mut out = io::stdout().lock();
        for s in saved::all() {
            let params = s.params();
            let p = if params.is_empty() {
                String::new()
            } else {
                format!(" [{}]", params.join(", "))
            };
            writeln!(out, "{:<26} {}{p}", s.name, s.about)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let statements = if let Some(name) = &args.saved {
        let mut params = BTreeMap::new();
        for p in &args.params {
            let Some((k, v)) = p.split_once('=') else {
                bail!("--param {p:?}: use NAME=VALUE");
            };
            params.insert(k.to_string(), v.to_string());
        }
        let sql = saved::find(name)?.render(&params)?;
        return in_session(&args.run, cfg, Lake::IfAny, |engine, rt, out| {
            if run_statement(engine, rt, &sql, out)? == 0 {
                let span = rt.block_on(lake_span(engine))?;
                let span = span.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
                let param = |k: &str| params.get(k).map(String::as_str);
                eprintln!("{}", saved_empty_hint(param("since"), param("until"), span));
            }
            Ok(ExitCode::SUCCESS)
        });
    } else if let Some(f) = &args.file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        split_statements(&text)
    } else if let Some(sql) = &args.sql {
        split_statements(sql)
    } else if args.shell || io::stdin().is_terminal() {
        return shell(&args.run, cfg);
    } else {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text)?;
        split_statements(&text)
    };
    if statements.is_empty() {
        bail!("no SQL statement given");
    }
    run_all(&args.run, cfg, &statements)
}

pub fn top(args: &TopArgs, cfg: &Config) -> Result<ExitCode> {
    let since = parse_since(&args.since, chrono::Utc::now())?;
    let what = match args.what {
        TopWhat::Callers => Top::Callers,
        TopWhat::Actions => Top::Actions,
        TopWhat::Ips => Top::Ips,
        TopWhat::Errors => Top::Errors,
        TopWhat::Regions => Top::Regions,
    };
    let since = since.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let sql = top_query(what, &since, args.limit);
    in_session(&args.run, cfg, Lake::Required, |engine, rt, out| {
        if run_statement(engine, rt, &sql, out)? == 0 {
            let span = rt.block_on(lake_span(engine))?;
            let span = span.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
            eprintln!("{}", empty_window_hint(&since, span));
        }
        Ok(ExitCode::SUCCESS)
    })
}
