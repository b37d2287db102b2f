//! The JSON API: `POST /api/query` (read-only SQL, with the timeout and
//! memory limit of `query`), `GET /api/rules`, `GET /api/session` (the
//! dashboard's CSRF token), and the sign-in form's `POST /login` and
//! `POST /logout`.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::Json;
use axum::extract::{Form, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use trailwatch_sql::guard::{Allowed, check, split_statements};
use trailwatch_sql::output::{Format, write};
use trailwatch_sql::{Cap, QueryError};

use super::App;
use super::access::Caller;
use super::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    pub sql: String,
    /// The most rows wanted (default [`DEFAULT_ROWS`], at most
    /// [`MAX_ROWS`]).
    pub limit: Option<usize>,
}

/// Rows an answer holds unless the caller asks for another limit.
pub const DEFAULT_ROWS: usize = 10_000;
/// The most rows a caller may ask for.
pub const MAX_ROWS: usize = 100_000;
/// The most Arrow data one answer keeps (its JSON is of the same order),
/// whatever the row limit: wide rows stop sooner.
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Why a statement may not run here, if it may not: it must be one
/// read-only query. (Athena's CREATE EXTERNAL TABLE, allowed in `query`,
/// is refused too: its LOCATION would let a caller read the server's
/// files.)
fn refuse(sql: &str) -> Option<String> {
    let statements = split_statements(sql);
    if statements.len() != 1 {
        return Some(format!(
            "send one statement per request ({} given)",
            statements.len()
        ));
    }
    match check(&statements[0]) {
        Ok(Allowed::Query(_)) => None,
        Ok(Allowed::ExternalTable(_)) => Some(
            "CREATE EXTERNAL TABLE is not allowed over the API (its LOCATION reads the server's files); query the lake's tables".into(),
        ),
        Err(e) => Some(e.to_string()),
    }
}

/// Run one statement on `runtime` (the query runtime, or the summary's);
/// its column names and its rows as `query --format json` prints them.
/// Rendering the rows is CPU work too, kept off the threads that answer
/// HTTP.
pub(super) async fn run_json(
    app: &App,
    sql: &str,
    runtime: &tokio::runtime::Handle,
) -> Result<(Vec<String>, Value), QueryError> {
    run_json_capped(app, sql, runtime, Cap::default())
        .await
        .map(|(columns, rows, _)| (columns, rows))
}

/// [`run_json`] keeping at most `cap` of the answer; whether it was cut.
async fn run_json_capped(
    app: &App,
    sql: &str,
    runtime: &tokio::runtime::Handle,
    cap: Cap,
) -> Result<(Vec<String>, Value, bool), QueryError> {
    let out = app.engine.run_capped(sql, runtime, cap).await?;
    let truncated = out.truncated;
    tokio::task::spawn_blocking(move || {
        let mut rows = Vec::new();
        write(&mut rows, Format::Json, &out.schema, &out.batches, 0, 0)?;
        let columns: Vec<String> = out
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let rows: Value = serde_json::from_slice(&rows)?;
        Ok((columns, rows, truncated))
    })
    .await
    .unwrap_or_else(|error| {
        Err(QueryError::Task {
            what: "rendering the rows",
            error,
        })
    })
}

/// `POST /api/query` (`{"sql": "…", "limit": N}`): `{"columns": [...],
/// "rows": [{...}, ...], "truncated": bool, "limit": N}`, rows as `query
/// --format json` prints them. The answer holds at most `limit` rows and
/// [`MAX_ANSWER_BYTES`] of data (`truncated` says there were more), and
/// the timeout covers all of it, rendering included.
pub async fn query(State(app): State<Arc<App>>, Json(body): Json<QueryBody>) -> Response {
    let started = Instant::now();
    let limit = body.limit.unwrap_or(DEFAULT_ROWS);
    let why = if !(1..=MAX_ROWS).contains(&limit) {
        Some(format!(
            "limit must be 1 to {MAX_ROWS} rows ({limit} given)"
        ))
    } else {
        refuse(&body.sql)
    };
    if let Some(why) = why {
        app.metrics.observe_query(started.elapsed(), false);
        return ApiError::BadRequest(why).into_response();
    }
    let cap = Cap {
        rows: Some(limit),
        bytes: Some(MAX_ANSWER_BYTES),
    };
    let answer = run_json_capped(&app, &body.sql, &app.query_rt, cap);
    let result = match app.engine.timeout() {
        Some(t) => match tokio::time::timeout(t, answer).await {
            Ok(r) => r,
            Err(_) => Err(QueryError::Timeout(t)),
        },
        None => answer.await,
    };
    app.metrics.observe_query(started.elapsed(), result.is_ok());
    match result {
        Ok((columns, rows, truncated)) => Json(json!({
            "columns": columns,
            "rows": rows,
            "truncated": truncated,
            "limit": limit,
        }))
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /api/rules`: every rule in force.
pub async fn rules(State(app): State<Arc<App>>) -> Response {
    Json(app.rules.clone()).into_response()
}

/// `GET /api/session`: the dashboard session's CSRF token.
pub async fn session(Extension(caller): Extension<Caller>) -> Response {
    match caller {
        Caller::Session { csrf, .. } => Json(json!({ "csrf": csrf })).into_response(),
        Caller::Bearer => Json(json!({ "csrf": null })).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub token: String,
}

/// `POST /login`: the token, from the sign-in form, starts a session.
pub async fn login(State(app): State<Arc<App>>, Form(form): Form<LoginForm>) -> Response {
    if !app.access.is_token(form.token.trim()) {
        // Counted and throttled by the router's guard.
        let mut res = Redirect::to("/login?failed=1").into_response();
        res.extensions_mut().insert(super::access::FailedSignIn);
        return res;
    }
    let id = match app.access.start_session() {
        Ok(id) => id,
        Err(e) => return ApiError::Internal(format!("starting a session: {e:#}")).into_response(),
    };
    (
        [(header::SET_COOKIE, app.access.cookie_header(&id))],
        Redirect::to("/"),
    )
        .into_response()
}

/// `POST /logout`: end the session.
pub async fn logout(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Response {
    if let Caller::Session { id, .. } = caller {
        app.access.end_session(&id);
    }
    (
        [(header::SET_COOKIE, app.access.cookie_header(""))],
        Json(json!({ "signed_out": true })),
    )
        .into_response()
}

/// Run SQL on the query runtime; the rows as JSON objects.
pub(super) async fn rows(app: &Arc<App>, sql: String) -> Result<Vec<Value>, ApiError> {
    rows_on(app, sql, &app.query_rt).await
}

/// [`rows`] with the statement on `runtime`.
pub(super) async fn rows_on(
    app: &Arc<App>,
    sql: String,
    runtime: &tokio::runtime::Handle,
) -> Result<Vec<Value>, ApiError> {
    match run_json(app, &sql, runtime).await {
        Ok((_, Value::Array(rows))) => Ok(rows),
        Ok(_) => Ok(Vec::new()),
        Err(e) => Err(ApiError::Query(e.to_string())),
    }
}

/// A time as CloudTrail writes `eventTime`.
pub(super) fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_read_only_query_runs() {
        assert_eq!(refuse("SELECT 1"), None);
        assert_eq!(refuse("WITH a AS (SELECT 1) SELECT * FROM a;"), None);
        for (sql, why) in [
            ("DROP TABLE alerts", "read-only"),
            ("INSERT INTO alerts VALUES (1)", "read-only"),
            ("COPY alerts TO '/tmp/x'", "read-only"),
            ("SELECT 1; SELECT 2", "one statement"),
            (
                "CREATE EXTERNAL TABLE t (a string) LOCATION '/etc/'",
                "not allowed over the api",
            ),
        ] {
            let got = refuse(sql).unwrap_or_default();
            assert!(got.to_lowercase().contains(why), "{sql}: {got}");
        }
    }
}
