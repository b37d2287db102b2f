//! A progress bar on stderr that appears only on a terminal and only once
//! the work has taken more than a moment, so quick runs and pipes stay quiet.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const DELAY: Duration = Duration::from_millis(700);

#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: AtomicBool,
    terminal: bool,
}

impl Progress {
    /// `total` units of work (files, events); `unit` names them.
    pub fn new(total: u64, unit: &str) -> Progress {
        Progress::hidden(
            Some(total),
            &format!(
                "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}}) {{msg}}"
            ),
        )
    }

    /// A bar drawn nowhere yet, in `template`'s style.
    fn hidden(total: Option<u64>, template: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress {
            bar,
            started: Instant::now(),
            shown: AtomicBool::new(false),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// A spinner with the elapsed time, for work of unknown size (a query):
    /// drawn by a ticker thread once the work has taken more than a moment.
    pub fn spinner(what: &str) -> Progress {
        let p = Progress::hidden(None, "{spinner} [{elapsed_precise}] {msg}");
        p.bar.set_message(what.to_string());
        if p.terminal {
            // A clone shares the bar; the thread only reveals it, and a bar
            // finished meanwhile stays hidden.
            let bar = p.bar.clone();
            std::thread::spawn(move || {
                std::thread::sleep(DELAY);
                if !bar.is_finished() {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
            });
        }
        p
    }

    /// The work turned out to be `total` units (known only once listed).
    pub fn set_length(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// `done` units of work are done.
    pub fn set_position(&self, done: u64) {
        let before = self.bar.position();
        self.inc(done.saturating_sub(before));
    }

    /// Safe to call from worker threads.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if self.terminal
            && !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() > DELAY
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    pub fn set_message(&self, msg: String) {
        self.bar.set_message(msg);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
