//! The server's one error type: every refusal and failure a route answers
//! with, mapped to its status code here and nowhere else, as
//! `{"error": "…"}`. A failure of the server itself is logged in full and
//! answered in general terms: its detail (paths, causes) is not the
//! caller's to see. (Firehose's endpoint answers in Firehose's own format,
//! `push::firehose_reply`.)

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use trailwatch_sql::QueryError;

/// Why a request was not answered.
#[derive(Debug)]
pub enum ApiError {
    /// The request is wrong: a bad parameter, a statement refused (400).
    BadRequest(String),
    /// No such route or alert (404).
    NotFound(String),
    /// A statement ran past its time and was stopped (408).
    Timeout(String),
    /// A statement that failed as it ran (422).
    Query(String),
    /// A body over `--max-body` (413).
    TooLarge(String),
    /// Too many failed sign-ins from this client: try again after the
    /// given time (429, with `Retry-After`).
    Throttled(std::time::Duration),
    /// Pushed records could not be stored now; the sender retries (503).
    Unavailable(String),
    /// The server failed (500): logged, not shown.
    Internal(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Timeout(m)
            | ApiError::Query(m)
            | ApiError::TooLarge(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => f.write_str(m),
            ApiError::Throttled(wait) => write!(
                f,
                "too many failed sign-ins from this address: try again in {}s",
                wait.as_secs().max(1)
            ),
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Query(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            ApiError::Throttled(wait) => Some(wait.as_secs().max(1).to_string()),
            _ => None,
        };
        let message = match self {
            ApiError::Internal(detail) => {
                tracing::error!("answering {status}: {detail}");
                "the server could not answer (its log says why)".to_string()
            }
            other => other.to_string(),
        };
        let mut res = (status, Json(json!({ "error": message }))).into_response();
        if let Some(secs) = retry_after.and_then(|s| s.parse().ok()) {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs);
        }
        res
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        match e {
            QueryError::Timeout(_) | QueryError::ClusterTimeout(_) => {
                ApiError::Timeout(e.to_string())
            }
            QueryError::Syntax(_) | QueryError::ReadOnly(_) | QueryError::TooComplex(_) => {
                ApiError::BadRequest(e.to_string())
            }
            e => ApiError::Query(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_status_and_internals_stay_in_the_log() {
        let r = ApiError::Internal("/var/lib/secret/path: disk full".into()).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let r = ApiError::from(QueryError::Timeout(std::time::Duration::from_secs(5)));
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
        let r = ApiError::from(QueryError::Syntax("near FROM".into()));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = ApiError::from(QueryError::NoSavedQuery("x".into()));
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
