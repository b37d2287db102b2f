//! Inputs that could not be read completely (still being written, a failed
//! GET, truncated gzip): retried with backoff, never taken as done, and
//! reported as an error once they have failed for longer than a bound.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Files that could not be read completely, retried with backoff.
#[derive(Debug, Default)]
pub struct Retries {
    files: HashMap<String, Retry>,
}

#[derive(Debug)]
struct Retry {
    since: Instant,
    next: Instant,
    delay: Duration,
    reported: bool,
}

impl Retries {
    pub fn waiting(&self, name: &str) -> bool {
        self.files
            .get(name)
            .is_some_and(|r| Instant::now() < r.next)
    }

    /// Note a failed attempt; past `stuck_after`, say so once as an error.
    pub fn failed(&mut self, name: &str, why: &str, stuck_after: Duration) {
        let now = Instant::now();
        let r = self.files.entry(name.to_string()).or_insert(Retry {
            since: now,
            next: now,
            delay: Duration::from_millis(250),
            reported: false,
        });
        r.delay = (r.delay * 2).min(Duration::from_secs(60));
        r.next = now + r.delay;
        let failing = r.since.elapsed();
        if failing >= stuck_after && !r.reported {
            r.reported = true;
            tracing::error!(
                "{name} has not been readable completely for {}s (still retrying, not marked done): {why}",
                failing.as_secs()
            );
        } else {
            tracing::debug!(
                "{name} is not complete yet, retrying in {:?}: {why}",
                r.delay
            );
        }
    }

    pub fn done(&mut self, name: &str) {
        if let Some(r) = self.files.remove(name)
            && r.reported
        {
            tracing::warn!("{name} is readable now and was taken");
        }
    }
}
