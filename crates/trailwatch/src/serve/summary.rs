//! `GET /api/summary`: the figures the dashboard shows, for its three
//! questions — are we being attacked right now (open alerts by severity,
//! alerts per hour over a day, the rules firing most, the correlation
//! detections' anomalies), what changed
//! recently (IAM, security group, network, trail and KMS changes: who,
//! what, when, from where), are we compliant (console sign-ins with MFA,
//! users signing in without it, CIS monitoring coverage) — and the
//! activity behind them (events per hour, top callers).
//!
//! Figures are "as of" the newer of the lake's newest event and alert, not
//! the wall clock, so a trail read after the fact (the sample) shows its
//! own last day, and their windows are whole hours (the last 24 hours: the
//! hour holding that time and the 23 before it, as the charts draw them).
//! The events' figures come from the activity the server keeps in memory
//! beside the security state ([`trailwatch_core::activity`]: counters per
//! hour, brought up from the lake's snapshot at start and kept up to date
//! by every event it takes), so they never scan the lake, however long its
//! history; the alerts' come from the lake's `alerts` table, which holds
//! alerts, not events. Both are computed once and served for
//! [`FRESH_FOR`]; a view that finds them older gets them as they are and
//! starts one computation in the background (stale-while-revalidate) on a
//! runtime of one thread, so it takes at most one core from the alert
//! list, an alert's evidence and the SQL console. Until the state and
//! activity are up at start, the answer is empty with `ready: false`. The
//! security state in it is always the current one (see
//! [`trailwatch_core::posture::report`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use trailwatch_core::activity;
use trailwatch_core::correlate::sql_text;

use super::App;
use super::api::{iso, rows_on};
use super::error::ApiError;

/// How long a computed summary is served before it is computed again.
pub const FRESH_FOR: Duration = Duration::from_secs(5);

/// What a change is about, for grouping.
fn area(source: &str) -> &'static str {
    match source {
        "iam.amazonaws.com" => "IAM",
        "ec2.amazonaws.com" => "network",
        "cloudtrail.amazonaws.com" | "guardduty.amazonaws.com" | "config.amazonaws.com" => {
            "monitoring"
        }
        "kms.amazonaws.com" => "keys",
        "s3.amazonaws.com" => "storage",
        "rds.amazonaws.com" | "lambda.amazonaws.com" => "resources",
        _ => "other",
    }
}

/// The last summary computed, and the lock whoever computes the next one
/// holds (one computation at a time).
#[derive(Debug, Default)]
pub struct Cache {
    last: std::sync::Mutex<Option<(Instant, Value)>>,
    computing: tokio::sync::Mutex<()>,
}

impl Cache {
    fn get(&self) -> Option<(Instant, Value)> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn put(&self, v: Value) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), v));
    }
}

/// Compute the summary in the background unless a computation is under
/// way (at start, and when a view finds it stale).
pub fn refresh(app: &Arc<App>) {
    let app = app.clone();
    tokio::spawn(async move {
        let Ok(_computing) = app.summary.computing.try_lock() else {
            return;
        };
        match compute(&app).await {
            Ok(Some(v)) => app.summary.put(v),
            Ok(None) => {}
            Err(e) => tracing::warn!("computing the dashboard's summary: {e}"),
        }
    });
}

/// `Vec<Value>` rows, or why not (the summary's statements are ours: one
/// that fails is the server's failure).
async fn q(app: &Arc<App>, sql: String) -> Result<Vec<Value>, ApiError> {
    rows_on(app, sql, &app.summary_rt)
        .await
        .map_err(|e| ApiError::Internal(format!("a summary query failed: {e}")))
}

/// The windows the figures look back over from the newest data, as SQL
/// literals.
struct Windows {
    day: String,
    week: String,
}

impl Windows {
    /// The last day's alarms.
    fn alert_day(&self) -> String {
        format!(
            "alert_time >= from_iso8601_timestamp({}) AND state = 'ALARM'",
            self.day
        )
    }
}

/// One figure of the summary: where its rows go in the answer (a JSON
/// pointer into [`skeleton`]), and its statement.
struct Figure {
    at: &'static str,
    sql: fn(&Windows) -> String,
}

/// Every figure, each one statement; they are independent and run
/// together (on 2 cores this gains little, as each already uses both;
/// more cores share them).
const FIGURES: &[Figure] = &[
    Figure {
        at: "/attack/alerts_by_severity",
        sql: |w| {
            format!(
                "SELECT severity, count(*) AS alerts FROM alerts WHERE {} GROUP BY severity ORDER BY severity",
                w.alert_day()
            )
        },
    },
    Figure {
        at: "/attack/timeline",
        sql: |w| {
            format!(
                "SELECT date_format(date_trunc('hour', alert_time), '%Y-%m-%dT%H:00Z') AS hour, severity, count(*) AS alerts \
                 FROM alerts WHERE {} GROUP BY 1, 2 ORDER BY 1, 2",
                w.alert_day()
            )
        },
    },
    Figure {
        at: "/attack/top_rules",
        sql: |w| {
            format!(
                "SELECT rule_id, max(title) AS title, min(severity) AS severity, count(*) AS alerts, \
                 date_format(max(alert_time), '%Y-%m-%dT%H:%i:%sZ') AS last \
                 FROM alerts WHERE alert_time >= from_iso8601_timestamp({}) AND state = 'ALARM' \
                 GROUP BY rule_id ORDER BY alerts DESC, rule_id LIMIT 10",
                w.week
            )
        },
    },
    // The top anomalies: what the correlation detections found.
    Figure {
        at: "/attack/anomalies",
        sql: |w| {
            format!(
                "SELECT alert_id, title, severity, date_format(alert_time, '%Y-%m-%dT%H:%i:%sZ') AS alert_time, \
                 element_at(principals, 1) AS who FROM alerts \
                 WHERE kind = 'correlation' AND alert_time >= from_iso8601_timestamp({}) \
                 ORDER BY severity, alert_time DESC LIMIT 10",
                w.week
            )
        },
    },
];

/// The answer's shape, every figure still empty.
fn skeleton(as_of: DateTime<Utc>) -> Value {
    json!({
        "as_of": iso(as_of),
        "ready": true,
        "computed_at": Value::Null,
        "fresh_for_seconds": FRESH_FOR.as_secs(),
        "compute_ms": Value::Null,
        "attack": {
            "alerts_by_severity": [],
            "timeline": [],
            "top_rules": [],
            "anomalies": [],
        },
        "changes": [],
        "compliance": {
            "console_logins": Value::Null,
            "signing_in_without_mfa": [],
            // CIS AWS Foundations, section 4 (Monitoring): 4.1 to 4.15.
            "cis_monitoring": Value::Null,
            // The security state: filled in as the answer is sent.
            "state": Value::Null,
        },
        "activity": { "events_per_hour": [], "top_callers": [] },
    })
}

/// The time the figures are as of: the newest event or alert, never
/// later than now (an empty lake: now).
async fn as_of(app: &Arc<App>) -> Result<DateTime<Utc>, ApiError> {
    let newest = q(app, "SELECT max(alert_time) AS a FROM alerts".into()).await?;
    let alert = newest.first().and_then(|row| {
        let s = row["a"].as_str()?;
        DateTime::parse_from_rfc3339(s)
            .or_else(|_| DateTime::parse_from_rfc3339(&format!("{s}Z")))
            .ok()
            .map(|t| t.with_timezone(&Utc))
    });
    let event = app
        .activity
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .newest;
    Ok([event, alert]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or_else(Utc::now)
        .min(Utc::now()))
}

/// The figures: the alerts' from the lake's `alerts` table, the events'
/// from the activity the server keeps ([`trailwatch_core::activity`]).
/// `None` while the activity is still being brought up at start.
async fn compute(app: &Arc<App>) -> Result<Option<Value>, ApiError> {
    if !app.posture_ready.load(std::sync::atomic::Ordering::Acquire) {
        return Ok(None);
    }
    let started = Instant::now();
    let as_of = as_of(app).await?;
    let since = |hours| sql_text(&iso(activity::window_start(as_of, hours)));
    let windows = Windows {
        day: since(activity::DAY_HOURS),
        week: since(activity::WEEK_HOURS),
    };
    let results =
        futures::future::try_join_all(FIGURES.iter().map(|f| q(app, (f.sql)(&windows)))).await?;
    let mut v = skeleton(as_of);
    for (figure, rows) in FIGURES.iter().zip(results) {
        if let Some(slot) = v.pointer_mut(figure.at) {
            *slot = Value::Array(rows);
        }
    }
    let mut events = app
        .activity
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .figures(as_of);
    v["changes"] = events["changes"].take();
    v["compliance"]["console_logins"] = events["console_logins"].take();
    v["compliance"]["signing_in_without_mfa"] = events["signing_in_without_mfa"].take();
    v["activity"]["events_per_hour"] = events["events_per_hour"].take();
    v["activity"]["top_callers"] = events["top_callers"].take();
    if let Some(changes) = v["changes"].as_array_mut() {
        for c in changes {
            let a = area(c["source"].as_str().unwrap_or(""));
            c["area"] = json!(a);
        }
    }
    // CIS monitoring coverage: which CIS 4.x controls have a rule loaded.
    let cis: Vec<Value> = app
        .rules
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["id"].as_str().is_some_and(|id| id.starts_with("cis-")))
        .map(|r| json!({"control": r["id"], "title": r["title"]}))
        .collect();
    v["compliance"]["cis_monitoring"] =
        json!({ "controls_with_a_rule": cis.len(), "of": 15, "rules": cis });
    v["computed_at"] = json!(iso(Utc::now()));
    v["compute_ms"] = json!(started.elapsed().as_millis() as u64);
    Ok(Some(v))
}

/// `GET /api/summary`: the last figures computed (a stale answer starts
/// the next computation); computed now only when there are none yet.
pub async fn summary(State(app): State<Arc<App>>) -> Response {
    let mut v = match app.summary.get() {
        Some((at, v)) => {
            if at.elapsed() >= FRESH_FOR {
                refresh(&app);
            }
            v
        }
        None => {
            let _computing = app.summary.computing.lock().await;
            match app.summary.get() {
                // Computed while this view waited.
                Some((_, v)) => v,
                None => match compute(&app).await {
                    Ok(Some(v)) => {
                        app.summary.put(v.clone());
                        v
                    }
                    // Still coming up: the answer's shape, empty, says so.
                    Ok(None) => {
                        let mut v = skeleton(Utc::now());
                        v["ready"] = json!(false);
                        v
                    }
                    Err(e) => {
                        return e.into_response();
                    }
                },
            }
        }
    };
    // The security state as it is now (null while it is rebuilt at start).
    if app.posture_ready.load(std::sync::atomic::Ordering::Acquire) {
        let p = app
            .posture
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        v["compliance"]["state"] = trailwatch_core::posture::report(&p)["summary"].clone();
    }
    Json(v).into_response()
}

/// `GET /api/state`: the security state, as `trailwatch state --format
/// json` prints it, with `ready` false while it comes up at start, and
/// `startup` saying how it came up (from the lake's snapshot or every
/// event, how many files it read, how long it took).
pub async fn state(State(app): State<Arc<App>>) -> Response {
    let ready = app.posture_ready.load(std::sync::atomic::Ordering::Acquire);
    let p = app
        .posture
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut v = trailwatch_core::posture::report(&p);
    v["ready"] = json!(ready);
    let startup = *app
        .metrics
        .state_startup
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    v["startup"] = json!(startup);
    Json(v).into_response()
}
