//! The JSON API: `POST /api/query` (read-only SQL, with the timeout and
//! memory limit of `query`), `GET /api/rules`, `GET /api/session` (the
//! dashboard's CSRF token), and the sign-in form's `POST /login` and
//! `POST /logout`.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::Json;
use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use trailwatch_sql::QueryError;
use trailwatch_sql::guard::{Allowed, check, split_statements};
use trailwatch_sql::output::{Format, write};

use super::App;
use super::access::Caller;

/// An error as JSON with its status.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

#[derive(Debug, Deserialize)]
pub struct QueryBody {
    pub sql: String,
}

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
    let out = app.engine.run_on(sql, runtime).await?;
    tokio::task::spawn_blocking(move || {
        let mut rows = Vec::new();
        write(&mut rows, Format::Json, &out.schema, &out.batches, 0, 0)?;
        let columns: Vec<String> = out
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let rows: Value =
            serde_json::from_slice(&rows).map_err(|e| QueryError::Other(e.to_string()))?;
        Ok((columns, rows))
    })
    .await
    .unwrap_or_else(|e| Err(QueryError::Other(format!("rendering the rows: {e}"))))
}

/// `POST /api/query`: `{"columns": [...], "rows": [{...}, ...]}`, rows as
/// `query --format json` prints them.
pub async fn query(State(app): State<Arc<App>>, Json(body): Json<QueryBody>) -> Response {
    let started = Instant::now();
    if let Some(why) = refuse(&body.sql) {
        app.metrics.observe_query(started.elapsed(), false);
        return error(StatusCode::BAD_REQUEST, why);
    }
    let result = run_json(&app, &body.sql, &app.query_rt).await;
    app.metrics.observe_query(started.elapsed(), result.is_ok());
    match result {
        Ok((columns, rows)) => Json(json!({ "columns": columns, "rows": rows })).into_response(),
        Err(e @ (QueryError::Timeout(_) | QueryError::ClusterTimeout(_))) => {
            error(StatusCode::REQUEST_TIMEOUT, e.to_string())
        }
        Err(e @ (QueryError::Syntax(_) | QueryError::ReadOnly(_))) => {
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
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
        app.metrics
            .requests_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Redirect::to("/login?failed=1").into_response();
    }
    let id = match app.access.start_session() {
        Ok(id) => id,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
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
