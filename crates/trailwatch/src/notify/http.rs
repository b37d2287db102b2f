//! The HTTP client the webhook, Slack and PagerDuty sinks share (reqwest
//! on rustls with the system's root certificates), and how a response
//! becomes an acknowledgement or a [`SendError`]: 2xx is delivered; 429
//! and 5xx are retried (429 honouring `Retry-After`); any other 4xx is
//! permanent, since sending the same request again cannot succeed.
//!
//! Errors never carry the URL: Slack and PagerDuty URLs are secrets.

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::SendError;

pub fn client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        // A redirect would carry the body, the secret headers and (by
        // default) a Referer with the sink's URL to wherever the receiver
        // points: never follow one, and never send a Referer.
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .user_agent(concat!("trailwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// POST a JSON body with extra headers; Ok once the receiver answered 2xx.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    headers: HeaderMap,
) -> Result<(), SendError> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| SendError::transient(describe(e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    if status.is_redirection() {
        return Err(SendError::permanent(format!(
            "HTTP {status}: the receiver redirects, and redirects are not followed (they would carry the alert and the sink's secrets elsewhere); configure the final URL"
        )));
    }
    let retry_after = retry_after(response.headers());
    // A little of the receiver's answer helps whoever reads the status.
    let text = response.text().await.unwrap_or_default();
    let text: String = text.chars().take(200).collect();
    let message = format!("HTTP {status}: {}", text.trim());
    if status.as_u16() == 429 {
        return Err(SendError {
            message,
            permanent: false,
            retry_after,
        });
    }
    if status.is_client_error() {
        return Err(SendError::permanent(message));
    }
    Err(SendError {
        message,
        permanent: false,
        retry_after,
    })
}

/// A transport error with its causes ("error sending request: client
/// error (Connect): tcp connect error: Connection refused"), without the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        // Huge values are the receiver's to send; the dispatcher caps the
        // wait at the sink's retry_max.
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = when.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
