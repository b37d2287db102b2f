//! One query session's pieces, shared by statements given on the command
//! line, saved queries, `top` and the shell: the engine over the lake (or
//! a cluster), where results go and in what format, and running one
//! statement (stopped by Ctrl-C in the shell).

use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use trailwatch_sql::output::{Format, write};
use trailwatch_sql::{Engine, EngineOptions};

use super::{RunArgs, parse_size};
use crate::config::Config;
use crate::interrupt::{Cancelled, Interrupt};
use crate::progress::Progress;

/// The limit on a cluster query when --timeout is not given.
#[cfg(feature = "cluster")]
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub(super) fn engine(run: &RunArgs, cfg: &Config, rt: &tokio::runtime::Runtime) -> Result<Engine> {
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
    if let Some(location) = run.lake.readable(cfg, rt.handle().clone())? {
        rt.block_on(engine.register_lake(&location))
            .with_context(|| format!("opening the lake {location}"))?;
    }
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
    pub(super) fn new(run: &RunArgs) -> Result<Output> {
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

/// Run one statement and write its result (or log its message); returns
/// how many rows it gave.
pub(super) fn run_statement(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    sql: &str,
    out: &mut Output,
) -> Result<usize> {
    let spinner = Progress::spinner("running the statement");
    let result = rt.block_on(engine.run(sql));
    spinner.finish();
    write_result(result?, out)
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
    let spinner = Progress::spinner("running the statement (Ctrl-C stops it)");
    let result = rt.block_on(async {
        tokio::select! {
            r = &mut task => Some(r),
            () = interrupt.notified() => None,
        }
    });
    spinner.finish();
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
