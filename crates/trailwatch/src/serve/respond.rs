//! `POST /api/respond {"alert_id": "…", "apply": false|true}`: an alert's
//! response plan (nothing changed), or, with `apply`, the plan applied —
//! each change after reading the current state — and filed in the lake's
//! `responses` table. Behind the token (and, from the dashboard, its
//! session's CSRF token) like every route; the dashboard asks the person
//! to confirm before it sends `apply`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use trailwatch_core::respond::Filter;

use super::App;
use super::error::ApiError;
use crate::investigate::{Lake, Trail};
use crate::respond::{from_refs, plan_over, record, run_id};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespondBody {
    alert_id: String,
    #[serde(default)]
    apply: bool,
}

/// `POST /api/respond`.
pub async fn respond(State(app): State<Arc<App>>, Json(body): Json<RespondBody>) -> Response {
    let engine = (*app.engine).clone();
    let runtime = app.query_rt.clone();
    let store = app.lake.clone();
    let id = body.alert_id.clone();
    // The evidence is read with blocking waits on the query runtime.
    let planned = tokio::task::spawn_blocking(move || {
        let mut lake = Lake::new(engine, store, runtime);
        let refs = lake.alarming_alerts(std::slice::from_ref(&id), None)?;
        if refs.is_empty() {
            return Ok(None);
        }
        plan_over(&mut lake, &from_refs(&refs), &Filter::default()).map(Some)
    })
    .await;
    let mut actions = match planned {
        Ok(Ok(Some(a))) => a,
        Ok(Ok(None)) => {
            return ApiError::NotFound(format!("no alert {} in ALARM", body.alert_id))
                .into_response();
        }
        Ok(Err(e)) => return ApiError::Query(format!("{e:#}")).into_response(),
        Err(e) => return ApiError::Internal(format!("respond task: {e}")).into_response(),
    };
    if body.apply {
        app.responder.apply_all(&mut actions).await;
        for a in &actions {
            tracing::warn!(alert = %a.alert_id, action = %a.action, target = a.target.as_deref().unwrap_or("-"), status = %a.status, "response applied from the API");
        }
        let store = app.lake.clone();
        let filed = actions.clone();
        let done =
            tokio::task::spawn_blocking(move || record(&store, &filed, &run_id(), "apply")).await;
        match done {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return ApiError::Internal(format!("filing the responses: {e:#}")).into_response();
            }
            Err(e) => return ApiError::Internal(format!("respond task: {e}")).into_response(),
        }
    }
    Json(json!({"alert_id": body.alert_id, "applied": body.apply, "actions": actions}))
        .into_response()
}
