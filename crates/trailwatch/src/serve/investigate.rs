//! `GET /api/investigate?access_key=…|principal=…|session=…|ip=…|alert=…`
//! (with `since`, `until`, `depth`): the investigation report as JSON,
//! the same as `trailwatch investigate --format json`, run over the lake
//! on the query runtime. The timeline is capped so one busy principal
//! cannot make an answer of gigabytes.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use trailwatch_core::investigate::{DEFAULT_DEPTH, Subject};

use super::App;
use super::error::ApiError;
use crate::investigate::{Lake, Request, Window, investigate as run_investigation};
use crate::timespec::parse_time;

/// The most hops an API caller may ask for.
const MAX_DEPTH: u32 = 10;
/// The most timeline events an answer carries.
pub const MAX_EVENTS: usize = 20_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvestigateQuery {
    access_key: Option<String>,
    principal: Option<String>,
    session: Option<String>,
    ip: Option<String>,
    alert: Option<String>,
    since: Option<String>,
    until: Option<String>,
    depth: Option<u32>,
}

impl InvestigateQuery {
    fn request(self) -> Result<Request, ApiError> {
        let subjects: Vec<Subject> = [
            self.access_key.map(Subject::AccessKey),
            self.principal.map(Subject::Principal),
            self.session.map(Subject::Session),
            self.ip.map(Subject::Ip),
            self.alert.map(Subject::Alert),
        ]
        .into_iter()
        .flatten()
        .collect();
        let [subject] = <[Subject; 1]>::try_from(subjects).map_err(|_| {
            ApiError::BadRequest(
                "give exactly one of access_key, principal, session, ip, alert".into(),
            )
        })?;
        let depth = self.depth.unwrap_or(DEFAULT_DEPTH);
        if depth > MAX_DEPTH {
            return Err(ApiError::BadRequest(format!("depth: at most {MAX_DEPTH}")));
        }
        let now = Utc::now();
        let time = |flag: &str, v: Option<String>| {
            v.map(|v| parse_time(flag, &v, now))
                .transpose()
                .map_err(|e| ApiError::BadRequest(format!("{e:#}")))
        };
        Ok(Request {
            subject,
            window: Window {
                since: time("since", self.since)?,
                until: time("until", self.until)?,
            },
            depth,
        })
    }
}

/// `GET /api/investigate`.
pub async fn investigate(
    State(app): State<Arc<App>>,
    Query(q): Query<InvestigateQuery>,
) -> Response {
    let req = match q.request() {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let engine = (*app.engine).clone();
    let runtime = app.query_rt.clone();
    let geo = app.geo.clone();
    let store = app.lake.clone();
    // The trail is read with blocking waits on the query runtime: off the
    // threads that answer requests.
    let done = tokio::task::spawn_blocking(move || {
        let mut lake = Lake::new(engine, store, runtime);
        run_investigation(&mut lake, &req, geo.as_deref())
    })
    .await;
    match done {
        Ok(Ok(mut report)) => {
            if report.events.len() > MAX_EVENTS {
                report.notes.push(format!(
                    "the timeline has {} events; this answer carries the first {MAX_EVENTS} (the command line has them all)",
                    report.events.len()
                ));
                report.events.truncate(MAX_EVENTS);
            }
            Json(report).into_response()
        }
        Ok(Err(e)) => ApiError::Query(format!("{e:#}")).into_response(),
        Err(e) => ApiError::Internal(format!("investigation task: {e}")).into_response(),
    }
}
