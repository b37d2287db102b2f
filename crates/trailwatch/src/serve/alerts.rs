//! `GET /api/alerts?since=&severity=&rule=&limit=` and
//! `GET /api/alerts/{id}`: the lake's `alerts` table (what `detect --lake`
//! and `watch --lake` file), each alert as `detect --format json` prints
//! it; one alert comes with its evidence events. The filters become SQL
//! literals only after they are checked or quoted: they come from the
//! request.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use trailwatch_core::alert::Alert;
use trailwatch_core::correlate::sql_text;

use super::App;
use super::api::{iso, rows};
use super::error::ApiError;

/// The most alerts one request returns.
const MAX_LIMIT: usize = 10_000;

const COLUMNS: &str = "alert_id, kind, rule_id, title, severity, state, \
     date_format(alert_time, '%Y-%m-%dT%H:%i:%sZ') AS alert_time, \
     date_format(window_start, '%Y-%m-%dT%H:%i:%sZ') AS window_start, \
     date_format(window_end, '%Y-%m-%dT%H:%i:%sZ') AS window_end, \
     threshold, datapoints, dimensions, event_ids, event_count, principals, \
     source_ips, actions, description, query";

#[derive(Debug, Deserialize)]
pub struct AlertFilter {
    /// today, 24h, 7d, a date or an RFC 3339 time.
    pub since: Option<String>,
    /// P1 … P4.
    pub severity: Option<String>,
    pub rule: Option<String>,
    pub limit: Option<usize>,
}

/// A row of the alerts table as the alert `detect` printed.
fn alert(mut row: Value) -> Option<Alert> {
    let obj = row.as_object_mut()?;
    // The table keeps dimensions as JSON text and lists as lists.
    let dims = match obj.remove("dimensions") {
        Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::Object(Map::new())),
        _ => Value::Object(Map::new()),
    };
    obj.insert("dimensions".into(), dims);
    for list in [
        "datapoints",
        "event_ids",
        "principals",
        "source_ips",
        "actions",
    ] {
        if obj.get(list).is_none_or(Value::is_null) {
            obj.insert(list.into(), json!([]));
        }
    }
    if obj.get("description").is_none_or(Value::is_null) {
        obj.insert("description".into(), json!(""));
    }
    serde_json::from_value(row).ok()
}

/// `GET /api/alerts`.
pub async fn list(State(app): State<Arc<App>>, Query(f): Query<AlertFilter>) -> Response {
    let mut wheres = Vec::new();
    if let Some(since) = &f.since {
        match crate::timespec::parse_since(since, Utc::now()) {
            Ok(t) => wheres.push(format!(
                "alert_time >= from_iso8601_timestamp({})",
                sql_text(&t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            )),
            Err(e) => return ApiError::BadRequest(format!("since: {e:#}")).into_response(),
        }
    }
    if let Some(sev) = &f.severity {
        if !matches!(sev.as_str(), "P1" | "P2" | "P3" | "P4") {
            return ApiError::BadRequest("severity: P1, P2, P3 or P4".into()).into_response();
        }
        wheres.push(format!("severity = {}", sql_text(sev)));
    }
    if let Some(rule) = &f.rule {
        wheres.push(format!("rule_id = {}", sql_text(rule)));
    }
    let limit = f.limit.unwrap_or(1000).min(MAX_LIMIT);
    let filter = if wheres.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wheres.join(" AND "))
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM alerts {filter} ORDER BY alert_time, rule_id, alert_id LIMIT {limit}"
    );
    match rows(&app, sql).await {
        Ok(rows) => Json(rows.into_iter().filter_map(alert).collect::<Vec<_>>()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The event times an alert's evidence is looked for in first: its window
/// (or its time), widened by a day either way, as text comparable with
/// `eventtime`.
fn evidence_window(time: &str, start: Option<&str>, end: Option<&str>) -> Option<(String, String)> {
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let start = parse(start.unwrap_or(time))?;
    let end = parse(end.unwrap_or(time))?.max(start);
    let day = chrono::Duration::days(1);
    Some((iso(start - day), iso(end + day)))
}

/// `GET /api/alerts/{id}`: the alert and its evidence events.
pub async fn one(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let sql = format!(
        "SELECT {COLUMNS} FROM alerts WHERE alert_id = {} LIMIT 1",
        sql_text(&id)
    );
    let found = match rows(&app, sql).await {
        Ok(rows) => rows.into_iter().find_map(alert),
        Err(e) => return e.into_response(),
    };
    let Some(a) = found else {
        return ApiError::NotFound(format!("no alert {id}")).into_response();
    };
    let events = if a.event_ids.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<String> = a.event_ids.iter().map(|i| sql_text(i)).collect();
        let by_id = format!(
            "SELECT * FROM cloudtrail_logs WHERE eventid IN ({})",
            ids.join(", ")
        );
        // Within the alert's window first: the event-time filter lets the
        // scan skip every day outside it. Evidence the window misses (an
        // event stored late, a window narrower than its events) is then
        // looked for in the whole lake.
        let window = evidence_window(&a.time, a.window_start.as_deref(), a.window_end.as_deref());
        let searches = window
            .map(|(from, to)| {
                format!(
                    "{by_id} AND eventtime BETWEEN {} AND {}",
                    sql_text(&from),
                    sql_text(&to)
                )
            })
            .into_iter()
            .chain([by_id]);
        let mut found = Vec::new();
        for sql in searches {
            found = match rows(&app, format!("{sql} ORDER BY eventtime")).await {
                Ok(r) => r,
                Err(e) => return e.into_response(),
            };
            if found.len() >= a.event_ids.len() {
                break;
            }
        }
        found
    };
    Json(json!({ "alert": a, "events": events })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_looked_for_a_day_either_side_of_the_window() {
        let w = |t, s, e| evidence_window(t, s, e);
        assert_eq!(
            w(
                "2026-04-02T10:00:00Z",
                Some("2026-04-02T09:55:00Z"),
                Some("2026-04-02T10:00:00Z")
            ),
            Some(("2026-04-01T09:55:00Z".into(), "2026-04-03T10:00:00Z".into()))
        );
        // No window: the alert's time.
        assert_eq!(
            w("2026-04-02T10:00:00Z", None, None),
            Some(("2026-04-01T10:00:00Z".into(), "2026-04-03T10:00:00Z".into()))
        );
        // A time that does not parse: the whole lake.
        assert_eq!(w("yesterday", None, None), None);
    }
}
