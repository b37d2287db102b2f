//! The interactive SQL shell of `trailwatch query`: line editing and a
//! history file (rustyline), statements that span lines until a `;`, and
//! a few backslash commands. An error reports and returns to the prompt.
//! `\timing` prints each statement's time, as psql's `\timing` and
//! DuckDB's `.timer on` do (the benchmarks read it for warm timings).
//! With piped input (`query --shell < file`) it reads the same way, so
//! scripts and tests drive it exactly as a person would.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use trailwatch_sql::Engine;
use trailwatch_sql::guard::{split_statements, strip_comments};

use super::session::{Output, run_statement, run_statement_cancellable};
use crate::interrupt::{Cancelled, Interrupt};

const PROMPT: &str = "trailwatch> ";
const MORE: &str = "         -> ";

const HELP: &str = "\
End a statement with ; (it may span lines). Tables: cloudtrail_logs, alerts.
  \\d          list tables
  \\d TABLE    describe a table
  \\q          quit (also exit, quit, Ctrl-D)
  Ctrl-C      stop the running statement, or discard the one being typed;
              twice in a row at the prompt: quit";

/// The history file: `$TRAILWATCH_HISTORY`, else in the state folder.
fn history_path() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("TRAILWATCH_HISTORY") {
        return Some(p.into());
    }
    crate::state_dir::state_path("query_history").ok()
}

/// What a typed line asks for, when it is a shell command.
enum Command {
    Quit,
    Help,
    /// Timing on (`Some(true)`), off, or toggled (`None`).
    Timing(Option<bool>),
    Sql(String),
}

fn command(line: &str) -> Option<Command> {
    let t = line.trim().trim_end_matches(';').trim();
    match t {
        "\\q" | "quit" | "exit" => Some(Command::Quit),
        "\\?" | "\\h" | "help" => Some(Command::Help),
        "\\d" => Some(Command::Sql("SHOW TABLES".into())),
        "\\timing" => Some(Command::Timing(None)),
        "\\timing on" => Some(Command::Timing(Some(true))),
        "\\timing off" => Some(Command::Timing(Some(false))),
        _ => t
            .strip_prefix("\\d ")
            .map(|table| Command::Sql(format!("DESCRIBE {}", table.trim()))),
    }
}

/// What runs the shell's statements, and what it remembers between them.
struct Session<'a> {
    engine: &'a Engine,
    rt: &'a tokio::runtime::Runtime,
    /// Ctrl-C's listener, at a terminal.
    interrupt: Option<Interrupt>,
    timing: bool,
    /// A statement failed.
    failed: bool,
}

impl Session<'_> {
    /// Run one statement, timed when asked.
    fn run(&mut self, sql: &str, out: &mut Output) {
        let started = std::time::Instant::now();
        let result = match &self.interrupt {
            Some(i) => run_statement_cancellable(self.engine, self.rt, sql, out, i),
            None => run_statement(self.engine, self.rt, sql, out),
        };
        if result.as_ref().is_err_and(|e| e.is::<Cancelled>()) {
            eprintln!("Cancelled.");
            return;
        }
        self.failed |= report(result.map(drop));
        if self.timing {
            eprintln!("Time: {:.3} ms", started.elapsed().as_secs_f64() * 1000.0);
        }
    }

    /// A backslash command (or its word): false to quit.
    fn command(
        &mut self,
        c: Command,
        line: &str,
        editor: &mut DefaultEditor,
        out: &mut Output,
    ) -> Result<bool> {
        match c {
            Command::Quit => return Ok(false),
            Command::Help => {
                writeln!(out.sink, "{HELP}")?;
                out.sink.flush()?;
            }
            Command::Timing(on) => {
                self.timing = on.unwrap_or(!self.timing);
                eprintln!("Timing is {}.", if self.timing { "on" } else { "off" });
            }
            Command::Sql(sql) => {
                let _ = editor.add_history_entry(line.trim());
                self.run(&sql, out);
            }
        }
        Ok(true)
    }
}

pub fn run(engine: &Engine, rt: &tokio::runtime::Runtime, out: &mut Output) -> Result<ExitCode> {
    let mut editor = DefaultEditor::new()?;
    let history = history_path();
    if let Some(h) = &history {
        // A first run has no history yet.
        let _ = editor.load_history(h);
    }
    let mut buffer = String::new();
    let mut interrupted = false;
    // At a terminal, Ctrl-C stops the running statement and returns to
    // the prompt. Otherwise (input from a pipe) Ctrl-C keeps ending the
    // process, as for any filter.
    let mut session = Session {
        engine,
        rt,
        interrupt: if io::stdin().is_terminal() {
            Some(Interrupt::listen()?)
        } else {
            None
        },
        timing: false,
        failed: false,
    };
    loop {
        let prompt = if buffer.is_empty() { PROMPT } else { MORE };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            // Ctrl-C at the prompt drops what was typed; a second one in
            // a row, with nothing typed, quits.
            Err(ReadlineError::Interrupted) => {
                if buffer.is_empty() && interrupted {
                    break;
                }
                buffer.clear();
                interrupted = true;
                eprintln!("(Ctrl-C again to quit)");
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        interrupted = false;
        if buffer.is_empty()
            && let Some(c) = command(&line)
        {
            if !session.command(c, &line, &mut editor, out)? {
                break;
            }
            continue;
        }
        if line.trim().is_empty() && buffer.is_empty() {
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !strip_comments(&buffer).trim_end().ends_with(';') {
            continue;
        }
        let _ = editor.add_history_entry(buffer.trim());
        for sql in split_statements(&buffer) {
            session.run(&sql, out);
        }
        buffer.clear();
    }
    if !buffer.trim().is_empty() {
        // Input ended in the middle of a statement: run what was typed.
        for sql in split_statements(&buffer) {
            session.run(&sql, out);
        }
    }
    if let Some(h) = &history {
        save_history(&mut editor, h);
    }
    // Like a script, the exit code says a statement failed: 2, an input
    // error (1 is kept for findings the user asked about).
    Ok(if session.failed {
        ExitCode::from(crate::cli::EXIT_INPUT)
    } else {
        ExitCode::SUCCESS
    })
}

fn save_history(editor: &mut DefaultEditor, h: &std::path::Path) {
    if let Some(dir) = h.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = editor.save_history(h) {
        tracing::warn!("could not save the shell history to {}: {e}", h.display());
    }
}

/// Print a statement's error and go on; true when it failed.
fn report(result: Result<()>) -> bool {
    match result {
        Ok(()) => false,
        Err(e) => {
            eprintln!("error: {}", crate::cli::error_text(&e));
            true
        }
    }
}
