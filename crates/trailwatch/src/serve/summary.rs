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
//! own last day. They are computed by SQL over the lake (2–3 seconds
//! on 5M events, see docs/benchmarks.md), so a page view never waits for
//! them: they are computed when the server starts, and a view that finds
//! them older than [`FRESH_FOR`] gets them as they are and starts one
//! computation in the background (stale-while-revalidate). That
//! computation runs on a runtime of one thread, so it takes at most one
//! core: the alert list, an alert's evidence and the SQL console keep the
//! other (on 2 cores they took up to six times as long beside it). The
//! answer says when its figures were computed; the security state in it is
//! always the current one (kept in memory, see [`crate::cli::state`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use trailwatch_core::correlate::sql_text;

use super::App;
use super::alerts::rows_on;

/// How long a computed summary is served before it is computed again.
pub const FRESH_FOR: Duration = Duration::from_secs(30);

/// The API calls that change security posture, shown as recent changes.
const CHANGES: &[&str] = &[
    // IAM
    "CreateUser",
    "DeleteUser",
    "CreateAccessKey",
    "DeleteAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "PutUserPolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePolicy",
    "AttachGroupPolicy",
    "PutGroupPolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateRole",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "AddUserToGroup",
    "DeactivateMFADevice",
    // Security groups and network
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "CreateNetworkAcl",
    "CreateNetworkAclEntry",
    "DeleteNetworkAcl",
    "CreateRoute",
    "ReplaceRoute",
    "CreateInternetGateway",
    "AttachInternetGateway",
    "CreateVpc",
    "DeleteVpc",
    "CreateVpcPeeringConnection",
    // Trails, monitoring and keys
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "DeleteDetector",
    "StopConfigurationRecorder",
    "DeleteConfigurationRecorder",
    "DisableKey",
    "ScheduleKeyDeletion",
    "PutBucketPolicy",
    "DeletePublicAccessBlock",
    "PutBucketAcl",
];

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
            Ok(v) => app.summary.put(v),
            Err(e) => tracing::warn!("computing the dashboard's summary: {e}"),
        }
    });
}

/// A time as CloudTrail writes `eventTime`.
pub(super) fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `Vec<Value>` rows, or the reason as an error.
async fn q(app: &Arc<App>, sql: String) -> Result<Vec<Value>, String> {
    rows_on(app, sql, &app.summary_rt)
        .await
        .map_err(|r| format!("a summary query failed ({})", r.status()))
}

async fn compute(app: &Arc<App>) -> Result<Value, String> {
    let started = Instant::now();
    let newest = q(
        app,
        "SELECT (SELECT max(eventtimestamp) FROM cloudtrail_logs) AS e, (SELECT max(alert_time) FROM alerts) AS a".into(),
    )
    .await?;
    let parse = |v: &Value| {
        v.as_str().and_then(|s| {
            DateTime::parse_from_rfc3339(s)
                .or_else(|_| DateTime::parse_from_rfc3339(&format!("{s}Z")))
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
    };
    let row = newest.first().cloned().unwrap_or(Value::Null);
    let as_of = [parse(&row["e"]), parse(&row["a"])]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or_else(Utc::now)
        .min(Utc::now());
    let day = sql_text(&iso(as_of - chrono::Duration::hours(24)));
    let week = sql_text(&iso(as_of - chrono::Duration::days(7)));
    let month = sql_text(&iso(as_of - chrono::Duration::days(30)));
    let alert_day = format!("alert_time >= from_iso8601_timestamp({day}) AND state = 'ALARM'");
    let by_severity = q(
        app,
        format!(
            "SELECT severity, count(*) AS alerts FROM alerts WHERE {alert_day} GROUP BY severity ORDER BY severity"
        ),
    );
    let timeline = q(
        app,
        format!(
            "SELECT date_format(date_trunc('hour', alert_time), '%Y-%m-%dT%H:00Z') AS hour, severity, count(*) AS alerts \
             FROM alerts WHERE {alert_day} GROUP BY 1, 2 ORDER BY 1, 2"
        ),
    );
    let top_rules = q(
        app,
        format!(
            "SELECT rule_id, max(title) AS title, min(severity) AS severity, count(*) AS alerts, \
             date_format(max(alert_time), '%Y-%m-%dT%H:%i:%sZ') AS last \
             FROM alerts WHERE alert_time >= from_iso8601_timestamp({week}) AND state = 'ALARM' \
             GROUP BY rule_id ORDER BY alerts DESC, rule_id LIMIT 10"
        ),
    );
    // The top anomalies: what the correlation detections found.
    let anomalies = q(
        app,
        format!(
            "SELECT alert_id, title, severity, date_format(alert_time, '%Y-%m-%dT%H:%i:%sZ') AS time, \
             element_at(principals, 1) AS who FROM alerts \
             WHERE kind = 'correlation' AND alert_time >= from_iso8601_timestamp({week}) \
             ORDER BY severity, alert_time DESC LIMIT 10"
        ),
    );
    let names: Vec<String> = CHANGES.iter().map(|n| sql_text(n)).collect();
    let changes = q(
        app,
        format!(
            "SELECT eventtime AS time, eventsource AS source, eventname AS action, \
             coalesce(useridentity.arn, useridentity.principalid, useridentity.type) AS who, \
             sourceipaddress AS ip, awsregion AS region, recipientaccountid AS account \
             FROM cloudtrail_logs WHERE eventtime >= {week} AND errorcode IS NULL \
             AND eventname IN ({}) ORDER BY eventtime DESC LIMIT 50",
            names.join(", ")
        ),
    );
    let mfa = q(
        app,
        format!(
            "SELECT count(*) AS logins, \
             count(CASE WHEN json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'Yes' THEN 1 END) AS with_mfa \
             FROM cloudtrail_logs WHERE eventname = 'ConsoleLogin' AND eventtime >= {month} \
             AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'"
        ),
    );
    let without_mfa = q(
        app,
        format!(
            "SELECT useridentity.arn AS who, count(*) AS logins FROM cloudtrail_logs \
             WHERE eventname = 'ConsoleLogin' AND eventtime >= {month} \
             AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success' \
             AND coalesce(json_extract_scalar(additionaleventdata, '$.MFAUsed'), 'No') <> 'Yes' \
             GROUP BY 1 ORDER BY logins DESC, who LIMIT 20"
        ),
    );
    let events_per_hour = q(
        app,
        format!(
            "SELECT date_format(date_trunc('hour', eventtimestamp), '%Y-%m-%dT%H:00Z') AS hour, count(*) AS events \
             FROM cloudtrail_logs WHERE eventtime >= {day} GROUP BY 1 ORDER BY 1"
        ),
    );
    let top_callers = q(
        app,
        format!(
            "SELECT coalesce(useridentity.arn, useridentity.invokedby, useridentity.type) AS who, count(*) AS events \
             FROM cloudtrail_logs WHERE eventtime >= {day} GROUP BY 1 ORDER BY events DESC, who LIMIT 10"
        ),
    );
    // The statements are independent and run together (on 2 cores this
    // gains little, as each already uses both; more cores share them).
    let (
        by_severity,
        timeline,
        top_rules,
        anomalies,
        mut changes,
        mfa,
        without_mfa,
        events_per_hour,
        top_callers,
    ) = futures::try_join!(
        by_severity,
        timeline,
        top_rules,
        anomalies,
        changes,
        mfa,
        without_mfa,
        events_per_hour,
        top_callers
    )?;
    for c in &mut changes {
        let a = area(c["source"].as_str().unwrap_or(""));
        c["area"] = json!(a);
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
    Ok(json!({
        "as_of": iso(as_of),
        "computed_at": iso(Utc::now()),
        "fresh_for_seconds": FRESH_FOR.as_secs(),
        "compute_ms": started.elapsed().as_millis() as u64,
        "attack": {
            "alerts_by_severity": by_severity,
            "timeline": timeline,
            "top_rules": top_rules,
            "anomalies": anomalies,
        },
        "changes": changes,
        "compliance": {
            "console_logins": mfa.first().cloned().unwrap_or(Value::Null),
            "signing_in_without_mfa": without_mfa,
            // CIS AWS Foundations, section 4 (Monitoring): 4.1 to 4.15.
            "cis_monitoring": { "controls_with_a_rule": cis.len(), "of": 15, "rules": cis },
            // The security state: filled in as the answer is sent.
            "state": Value::Null,
        },
        "activity": { "events_per_hour": events_per_hour, "top_callers": top_callers },
    }))
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
                    Ok(v) => {
                        app.summary.put(v.clone());
                        v
                    }
                    Err(e) => {
                        return super::api::error(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e);
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
        v["compliance"]["state"] = crate::cli::state::report(&p)["summary"].clone();
    }
    Json(v).into_response()
}

/// `GET /api/state`: the security state, as `trailwatch state --format
/// json` prints it, with `ready` false while it is rebuilt at start.
pub async fn state(State(app): State<Arc<App>>) -> Response {
    let ready = app.posture_ready.load(std::sync::atomic::Ordering::Acquire);
    let p = app
        .posture
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut v = crate::cli::state::report(&p);
    v["ready"] = json!(ready);
    Json(v).into_response()
}
