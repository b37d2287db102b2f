//! `/metrics` in Prometheus' text exposition format: counters kept in
//! atomics as the server works, and a histogram of query latency. (Small
//! enough to write out by hand; the format is a few lines per family.)

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use trailwatch_core::alert::Alert;

/// Upper bounds of the query latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

/// The server's figures.
#[derive(Debug, Default)]
pub struct Metrics {
    pub queries: AtomicU64,
    pub query_errors: AtomicU64,
    pub requests_refused: AtomicU64,
    /// Per bucket (and one for +Inf): queries at most that long.
    query_buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Total query time, in microseconds.
    query_micros: AtomicU64,
    /// Records pushed and stored in the spool.
    pub pushed_events: AtomicU64,
    /// Bytes of push requests.
    pub pushed_bytes: AtomicU64,
    /// Spool files written (one per accepted push request).
    pub pushed_files: AtomicU64,
    /// Pushed records the decoder could not read.
    pub push_bad_records: AtomicU64,
    /// Pushed records newly stored in the lake.
    pub lake_events: AtomicU64,
    /// Pushed records the lake already held.
    pub lake_duplicates: AtomicU64,
    /// Pushed records quarantined by the lake.
    pub quarantined: AtomicU64,
    /// Events detection skipped as copies of ones it had seen (pushed,
    /// then read from the trail; or pushed twice).
    pub detect_duplicates: AtomicU64,
    /// Trail files taken by `--watch`, and their bytes.
    pub watched_files: AtomicU64,
    pub watched_bytes: AtomicU64,
    /// Alerts raised from pushed records, by severity and rule.
    alerts: Mutex<BTreeMap<(String, String), u64>>,
    /// How the security state came up at start, once it has.
    pub state_startup: Mutex<Option<StateStartup>>,
}

/// How the security state came up at start.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StateStartup {
    /// Taken from the lake's snapshot (else rebuilt from every event).
    pub from_snapshot: bool,
    /// The lake's event files, and how many of them had to be read.
    pub files: u64,
    pub files_read: u64,
    pub seconds: f64,
}

impl Metrics {
    /// One query took `d`.
    pub fn observe_query(&self, d: Duration, ok: bool) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.query_errors.fetch_add(1, Ordering::Relaxed);
        }
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.query_buckets[i].fetch_add(1, Ordering::Relaxed);
        self.query_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Alerts raised.
    pub fn count_alerts(&self, alerts: &[Alert]) {
        let mut m = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
        for a in alerts {
            *m.entry((a.severity.to_string(), a.rule_id.clone()))
                .or_default() += 1;
        }
    }

    /// The counters: name, help, value.
    fn counters(&self) -> [(&'static str, &'static str, &AtomicU64); 13] {
        [
            (
                "trailwatch_queries_total",
                "SQL statements run through the API.",
                &self.queries,
            ),
            (
                "trailwatch_query_errors_total",
                "SQL statements that failed or were refused.",
                &self.query_errors,
            ),
            (
                "trailwatch_requests_refused_total",
                "Requests refused for want of a valid token or session.",
                &self.requests_refused,
            ),
            (
                "trailwatch_pushed_events_total",
                "Records pushed to /ingest and stored durably.",
                &self.pushed_events,
            ),
            (
                "trailwatch_pushed_bytes_total",
                "Bytes of push requests.",
                &self.pushed_bytes,
            ),
            (
                "trailwatch_pushed_files_total",
                "Push requests stored as spool files.",
                &self.pushed_files,
            ),
            (
                "trailwatch_pushed_bad_records_total",
                "Pushed records that could not be decoded.",
                &self.push_bad_records,
            ),
            (
                "trailwatch_lake_events_total",
                "Pushed records newly stored in the lake.",
                &self.lake_events,
            ),
            (
                "trailwatch_lake_duplicates_total",
                "Pushed records the lake already held.",
                &self.lake_duplicates,
            ),
            (
                "trailwatch_quarantined_records_total",
                "Pushed records quarantined by the lake.",
                &self.quarantined,
            ),
            (
                "trailwatch_detect_duplicates_total",
                "Events detection skipped as copies of events already seen.",
                &self.detect_duplicates,
            ),
            (
                "trailwatch_watched_files_total",
                "Trail log files taken by --watch.",
                &self.watched_files,
            ),
            (
                "trailwatch_watched_bytes_total",
                "Bytes of trail log files taken by --watch.",
                &self.watched_bytes,
            ),
        ]
    }

    /// The text format, with the notification outbox's pending count
    /// (when there is an outbox) and the spool's files waiting.
    pub fn render(
        &self,
        outbox_pending: Option<Vec<(String, usize)>>,
        spool_files: usize,
    ) -> String {
        let mut out = String::new();
        for (name, help, v) in self.counters() {
            let v = v.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        self.render_alerts(&mut out);
        let name = "trailwatch_spool_files";
        let _ = writeln!(
            out,
            "# HELP {name} Pushed files waiting for detection or for the lake (the ingest lag).\n# TYPE {name} gauge\n{name} {spool_files}"
        );
        if let Some(per_sink) = outbox_pending {
            let name = "trailwatch_outbox_pending";
            let _ = writeln!(
                out,
                "# HELP {name} Notifications waiting in the outbox, per sink.\n# TYPE {name} gauge"
            );
            for (sink, n) in per_sink {
                // Sink names come from the config: quotes escaped.
                let sink = sink.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "{name}{{sink=\"{sink}\"}} {n}");
            }
        }
        self.render_durations(&mut out);
        if let Some(st) = *self.state_startup.lock().unwrap_or_else(|e| e.into_inner()) {
            for (name, help, v) in [
                (
                    "trailwatch_state_startup_seconds",
                    "Time the security state took to come up at start.",
                    st.seconds,
                ),
                (
                    "trailwatch_state_startup_files_read",
                    "Lake files read to bring the security state up at start.",
                    st.files_read as f64,
                ),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
            }
        }
        out
    }

    /// Alerts raised, per severity and rule.
    fn render_alerts(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP trailwatch_alerts_total Alerts raised since the server started.\n# TYPE trailwatch_alerts_total counter"
        );
        for ((sev, rule), n) in self.alerts.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            // Rule ids come from rule files: quotes and backslashes escaped.
            let rule = rule
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = writeln!(
                out,
                "trailwatch_alerts_total{{severity=\"{sev}\",rule=\"{rule}\"}} {n}"
            );
        }
    }

    /// The query-duration histogram.
    fn render_durations(&self, out: &mut String) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let name = "trailwatch_query_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to run an SQL statement.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += get(&self.query_buckets[i]);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        cumulative += get(&self.query_buckets[BUCKETS.len()]);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum {}", get(&self.query_micros) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_counts_every_query() {
        let m = Metrics::default();
        m.observe_query(Duration::from_millis(3), true);
        m.observe_query(Duration::from_millis(70), false);
        m.observe_query(Duration::from_secs(60), true);
        let text = m.render(Some(vec![("hook".into(), 3), ("slack".into(), 0)]), 2);
        for line in [
            "trailwatch_queries_total 3",
            "trailwatch_query_errors_total 1",
            "trailwatch_query_duration_seconds_bucket{le=\"0.005\"} 1",
            "trailwatch_query_duration_seconds_bucket{le=\"0.05\"} 1",
            "trailwatch_query_duration_seconds_bucket{le=\"0.1\"} 2",
            "trailwatch_query_duration_seconds_bucket{le=\"30\"} 2",
            "trailwatch_query_duration_seconds_bucket{le=\"+Inf\"} 3",
            "trailwatch_query_duration_seconds_count 3",
            "trailwatch_outbox_pending{sink=\"hook\"} 3",
            "trailwatch_outbox_pending{sink=\"slack\"} 0",
            "trailwatch_spool_files 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
