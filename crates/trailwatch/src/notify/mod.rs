//! Notifications that are never lost. An alert is written to a durable
//! on-disk [`outbox`] before any sink is told, and leaves it only when the
//! sink acknowledged it (or, after the sink's maximum age, for the dead
//! letters). [`dispatch`] delivers with retries, backoff and jitter, and
//! folds storms into digests past a sink's rate limit.
//!
//! One sink per file: [`stdout`], [`file`], [`webhook`], [`slack`],
//! [`pagerduty`], [`email`], [`sns`]; [`config`] reads the `[notify]` part
//! of the TOML config, [`message`] renders what they send, [`http`] is the
//! HTTP client the web sinks share.

pub mod config;
pub mod dispatch;
pub mod email;
pub mod file;
pub mod http;
pub mod message;
pub mod outbox;
pub mod pagerduty;
pub mod redact;
pub mod slack;
pub mod sns;
pub mod stdout;
pub mod webhook;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;

use config::{Secret, SinkConfig, SinkKind, Text};
use message::Message;

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug, Clone)]
pub struct SendError {
    /// What went wrong (never a secret: URLs are stripped).
    pub message: String,
    /// The receiver refused the message itself (an HTTP 4xx other than
    /// 429, an SMTP 5xx): retrying cannot help.
    pub permanent: bool,
    /// The receiver asked us to wait this long (HTTP 429 `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: false,
            retry_after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: true,
            retry_after: None,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A place alerts are delivered to.
#[async_trait]
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// Deliver the message; Ok only once the receiver acknowledged it.
    async fn send(&self, message: &Message) -> Result<(), SendError>;
}

/// What building sinks needs besides their config.
#[derive(Debug, Clone, Default)]
pub struct SinkContext {
    /// `--profile`, `--region`, and `--endpoint-url`, which overrides
    /// every SNS sink's endpoint.
    pub aws: trailwatch_lake::aws::AwsOptions,
}

/// Build the sink `name` from its config; `state` is its folder in the
/// outbox (PagerDuty keeps its open incidents there).
pub fn build(
    name: &str,
    config: &SinkConfig,
    state: &Path,
    ctx: &SinkContext,
) -> Result<Arc<dyn Sink>> {
    let sink: Arc<dyn Sink> = match &config.kind {
        SinkKind::Stdout => Arc::new(stdout::Stdout),
        SinkKind::File {
            path,
            format,
            max_bytes,
            keep,
        } => Arc::new(file::FileSink::new(
            path.clone(),
            *format,
            max_bytes.unwrap_or(100 << 20),
            keep.unwrap_or(5),
        )),
        SinkKind::Webhook {
            url,
            format,
            headers,
            secret,
            timeout,
        } => {
            let headers = headers
                .iter()
                .map(|(k, v)| Ok((k.clone(), v.resolve()?)))
                .collect::<Result<_>>()?;
            Arc::new(webhook::Webhook::new(
                url.resolve()?,
                *format,
                headers,
                secret.as_ref().map(Secret::resolve).transpose()?,
                timeout_of(*timeout),
            )?)
        }
        SinkKind::Slack { url, timeout } => {
            Arc::new(slack::Slack::new(url.resolve()?, timeout_of(*timeout))?)
        }
        SinkKind::Pagerduty {
            routing_key,
            url,
            timeout,
        } => Arc::new(pagerduty::PagerDuty::new(
            routing_key.resolve()?,
            url.as_ref().map(Text::resolve).transpose()?,
            timeout_of(*timeout),
            state,
        )?),
        SinkKind::Email {
            host,
            port,
            tls,
            username,
            password,
            from,
            to,
            timeout,
            ca_file,
        } => Arc::new(email::Email::new(email::EmailSettings {
            host: host.resolve()?,
            port: *port,
            tls: *tls,
            username: username.as_ref().map(Secret::resolve).transpose()?,
            password: password.as_ref().map(Secret::resolve).transpose()?,
            from: from.resolve()?,
            to: to.iter().map(Text::resolve).collect::<Result<_>>()?,
            timeout: timeout_of(*timeout),
            ca_file: ca_file.clone(),
        })?),
        SinkKind::Sns {
            topic_arn,
            region,
            endpoint_url,
        } => {
            let mut aws = ctx.aws.clone();
            if aws.endpoint.is_none() {
                aws.endpoint = endpoint_url.as_ref().map(Text::resolve).transpose()?;
            }
            Arc::new(sns::Sns::new(
                topic_arn.resolve()?,
                region.as_ref().map(Text::resolve).transpose()?,
                aws,
            )?)
        }
    };
    tracing::debug!(sink = name, kind = config.kind.type_name(), "sink ready");
    let mut pieces = Vec::new();
    for s in config.kind.secrets() {
        pieces.extend(redact::pieces(s.resolve()?.expose()));
    }
    Ok(Arc::new(redact::Redacting {
        inner: sink,
        pieces,
    }))
}

/// Now, as CloudTrail writes times (`2026-04-01T10:00:00Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn timeout_of(secs: Option<u64>) -> Duration {
    // The config check refuses more than MAX_DURATION; the cap keeps any caller
    // that skipped it from building an unrepresentable deadline.
    Duration::from_secs(secs.unwrap_or(10).min(config::MAX_DURATION.as_secs()))
}
