//! `trailwatch query`: Athena-dialect SQL over the lake (tables
//! `cloudtrail_logs` and `alerts`), or over raw logs after Athena's
//! `CREATE EXTERNAL TABLE`; and `trailwatch top`, the quick answers.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use trailwatch_sql::guard::split_statements;
use trailwatch_sql::output::{Format, write};
use trailwatch_sql::top::{
    Top, empty_window_hint, lake_span, query as top_query, saved_empty_hint,
};
use trailwatch_sql::{Engine, EngineOptions, saved};

use super::lake_args::LakeArgs;
use crate::config::Config;
use crate::timespec::parse_since;

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

/// The limit on a cluster query when --timeout is not given.
#[cfg(feature = "cluster")]
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn engine(run: &RunArgs, cfg: &Config, rt: &tokio::runtime::Runtime) -> Result<Engine> {
    let opts = EngineOptions {
        memory_limit: run.memory_limit.as_deref().map(parse_size).transpose()?,
        timeout: run.timeout.map(Duration::from_secs),
        s3: run.lake.s3_options(cfg),
        ..EngineOptions::default()
    };
    #[cfg(feature = "cluster")]
    let engine = match &run.cluster {
        Some(url) => rt
            .block_on(Engine::remote(
                url,
                EngineOptions {
                    // Ballista can leave a job unfinished when an executor
                    // is lost early in it, and the client cannot tell a
                    // stuck job from a long one: a cluster query always
                    // has a limit.
                    timeout: opts.timeout.or(Some(CLUSTER_TIMEOUT)),
                    ..opts
                },
            ))
            .with_context(|| format!("connecting to the cluster {url}"))?,
        None => Engine::new(opts)?,
    };
    #[cfg(not(feature = "cluster"))]
    let engine = Engine::new(opts)?;
    let location = run.lake.location(cfg)?;
    rt.block_on(engine.register_lake(&location))
        .with_context(|| format!("opening the lake {location}"))?;
    Ok(engine)
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(if io::stdout().is_terminal() { 160 } else { 200 })
}

/// Where results go, and in what format.
pub(super) struct Output {
    pub format: Format,
    pub max_rows: usize,
    pub sink: PipeAware,
}

/// A writer that remembers whether its reader went away (`| head`): the
/// CSV writer reports I/O failures as text, which loses the error kind
/// `main` needs to end quietly on a closed pipe.
pub(super) struct PipeAware {
    inner: Box<dyn Write + Send>,
    closed: bool,
}

impl Write for PipeAware {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.closed |= r
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe);
        r
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.closed |= r
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe);
        r
    }
}

impl Output {
    fn new(run: &RunArgs) -> Result<Output> {
        let format: Format = match (run.format, &run.output) {
            (Some(f), _) => f.into(),
            (None, Some(p)) if p.extension().is_some_and(|e| e == "parquet") => Format::Parquet,
            (None, _) => Format::Table,
        };
        if format == Format::Parquet && run.output.is_none() {
            bail!("--format parquet needs --output FILE.parquet");
        }
        let sink: Box<dyn Write + Send> = match &run.output {
            Some(p) => Box::new(BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            )),
            None => Box::new(BufWriter::new(io::stdout())),
        };
        Ok(Output {
            format,
            max_rows: run.max_rows,
            sink: PipeAware {
                inner: sink,
                closed: false,
            },
        })
    }
}

/// Ctrl-C (SIGINT) as a notification, delivered by a thread of its own
/// with its own small runtime: the query runtime's workers may all be
/// busy with a CPU-bound plan and not drive its signal handling.
#[derive(Debug, Clone)]
pub(super) struct Interrupt(std::sync::Arc<tokio::sync::Notify>);

impl Interrupt {
    /// Start listening; from here on Ctrl-C no longer ends the process.
    /// The handler is installed before this returns, so no Ctrl-C falls
    /// between (an uninstalled handler would let SIGINT kill the shell).
    pub(super) fn listen() -> Result<Interrupt> {
        let notify = std::sync::Arc::new(tokio::sync::Notify::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the Ctrl-C listener")?;
        #[cfg(unix)]
        let mut signal = rt
            .block_on(async {
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            })
            .context("listening for Ctrl-C")?;
        let tell = std::sync::Arc::clone(&notify);
        std::thread::Builder::new()
            .name("ctrl-c".into())
            .spawn(move || {
                rt.block_on(async {
                    #[cfg(unix)]
                    while signal.recv().await.is_some() {
                        tell.notify_one();
                    }
                    #[cfg(not(unix))]
                    while tokio::signal::ctrl_c().await.is_ok() {
                        tell.notify_one();
                    }
                });
            })
            .context("starting the Ctrl-C listener")?;
        Ok(Interrupt(notify))
    }

    /// Forget a Ctrl-C that came between statements (while a result was
    /// printed), so it does not stop the next one. One that comes while a
    /// statement starts up is kept (`notify_one` stores it) and stops it.
    fn clear(&self) {
        use futures::FutureExt;
        let _ = self.0.notified().now_or_never();
    }
}

/// A statement stopped by Ctrl-C in the shell.
#[derive(Debug)]
pub(super) struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Run one statement and write its result (or log its message); returns
/// how many rows it gave.
pub(super) fn run_statement(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    sql: &str,
    out: &mut Output,
) -> Result<usize> {
    let result = rt.block_on(engine.run(sql))?;
    write_result(result, out)
}

/// [`run_statement`], stopped by Ctrl-C (SIGINT): [`Cancelled`] comes
/// back at once and the statement's task is aborted, which drops its
/// execution at its next yield. The statement runs on a task of its own
/// because a CPU-bound plan can go a long while without yielding, and
/// Ctrl-C must not wait for it. Only for the interactive shell: the
/// handler, once installed, keeps Ctrl-C from ending the process.
pub(super) fn run_statement_cancellable(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    sql: &str,
    out: &mut Output,
    interrupt: &Interrupt,
) -> Result<usize> {
    interrupt.clear();
    let (engine, owned) = (engine.clone(), sql.to_string());
    let mut task = rt.spawn(async move { engine.run(&owned).await });
    let result = rt.block_on(async {
        tokio::select! {
            r = &mut task => Some(r),
            () = interrupt.0.notified() => None,
        }
    });
    match result {
        Some(r) => write_result(r.context("the statement's task failed")??, out),
        None => {
            task.abort();
            Err(Cancelled.into())
        }
    }
}

fn write_result(result: trailwatch_sql::engine::QueryOutput, out: &mut Output) -> Result<usize> {
    if let Some(m) = &result.message {
        tracing::info!("{m}");
        return Ok(0);
    }
    let rows = result.batches.iter().map(|b| b.num_rows()).sum();
    let written = write(
        &mut out.sink,
        out.format,
        &result.schema,
        &result.batches,
        terminal_width(),
        out.max_rows,
    )
    .map_err(anyhow::Error::from)
    .and_then(|()| out.sink.flush().map_err(anyhow::Error::from));
    if written.is_err() && out.sink.closed {
        return Err(io::Error::from(io::ErrorKind::BrokenPipe).into());
    }
    written.map(|()| rows)
}

/// Open the engine over the lake and the output, run `work` with them,
/// and end: a statement stopped by --timeout may still hold a worker
/// thread until it next yields, so the runtime is not waited for.
fn in_session(
    run: &RunArgs,
    cfg: &Config,
    work: impl FnOnce(&Engine, &tokio::runtime::Runtime, &mut Output) -> Result<ExitCode>,
) -> Result<ExitCode> {
    let rt = super::lake_args::runtime()?;
    let engine = engine(run, cfg, &rt)?;
    let mut out = Output::new(run)?;
    let result = work(&engine, &rt, &mut out);
    rt.shutdown_background();
    result
}

/// Run statements, writing each result; stops at the first error.
fn run_all(run: &RunArgs, cfg: &Config, statements: &[String]) -> Result<ExitCode> {
    in_session(run, cfg, |engine, rt, out| {
        for sql in statements {
            run_statement(engine, rt, sql, out)?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The interactive shell over the same engine and output.
fn shell(run: &RunArgs, cfg: &Config) -> Result<ExitCode> {
    in_session(run, cfg, super::query_shell::run)
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
        return in_session(&args.run, cfg, |engine, rt, out| {
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
    in_session(&args.run, cfg, |engine, rt, out| {
        if run_statement(engine, rt, &sql, out)? == 0 {
            let span = rt.block_on(lake_span(engine))?;
            let span = span.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
            eprintln!("{}", empty_window_hint(&since, span));
        }
        Ok(ExitCode::SUCCESS)
    })
}
