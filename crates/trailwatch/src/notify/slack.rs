//! The `slack` sink: an incoming-webhook message in Block Kit — a header
//! with the severity and title, fields for rule, who, from where, when
//! and how many events, the description, the next query to run, and the
//! alert id in the footer. A digest lists its alerts one line each.
//! Slack's limits are kept: header text 150 characters, section text
//! 3,000, at most 50 blocks.

use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use trailwatch_core::alert::{Alert, Severity};

use super::config::Secret;
use super::message::{Message, MessageKind, from_where, next_query, state_suffix, who};
use super::{SendError, Sink, http};

#[derive(Debug)]
pub struct Slack {
    url: Secret,
    client: reqwest::Client,
}

impl Slack {
    pub fn new(url: Secret, timeout: Duration) -> Result<Slack> {
        Ok(Slack {
            url,
            client: http::client(timeout)?,
        })
    }
}

/// Slack's mrkdwn needs only these three escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn mark(s: Severity) -> &'static str {
    match s {
        Severity::P1 => ":red_circle:",
        Severity::P2 => ":large_orange_circle:",
        Severity::P3 => ":large_yellow_circle:",
        Severity::P4 => ":white_circle:",
    }
}

fn field(label: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": cut(&format!("*{label}*\n{}", esc(value)), 2000)})
}

fn alert_blocks(a: &Alert) -> Vec<Value> {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "emoji": true,
            "text": cut(&format!("{} [{}] {}{}", mark(a.severity), a.severity, a.title, state_suffix(a)), 150)}}),
        json!({"type": "section", "fields": [
            field("Rule", &format!("{} ({})", a.rule_id, a.kind)),
            field("Who", &who(a)),
            field("From", &from_where(a)),
            field("When", &a.time),
            field("Events", &a.event_count.to_string()),
        ]}),
    ];
    if !a.description.is_empty() {
        blocks.push(json!({"type": "section",
            "text": {"type": "mrkdwn", "text": cut(&esc(&a.description), 3000)}}));
    }
    blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
        "text": cut(&format!("*Next query*\n```{}```", esc(&next_query(a))), 3000)}}));
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": format!("alert id `{}` · trailwatch", a.alert_id)}]}));
    blocks
}

/// The Slack payload of a message.
pub fn payload(message: &Message) -> Value {
    let blocks = match (message.kind, message.alerts.as_slice()) {
        (MessageKind::Digest, alerts) => {
            let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text",
                "text": cut(&message.subject(), 150)}})];
            // One line per alert, in sections of up to 3,000 characters.
            let mut section = String::new();
            for a in alerts {
                let line = format!(
                    "{} *[{}] {}{}* — {} from {} at {} (`{}`)\n",
                    mark(a.severity),
                    a.severity,
                    esc(&a.title),
                    state_suffix(a),
                    esc(&who(a)),
                    esc(&from_where(a)),
                    a.time,
                    a.alert_id
                );
                if section.len() + line.len() > 2900 {
                    blocks.push(
                        json!({"type": "section", "text": {"type": "mrkdwn", "text": section}}),
                    );
                    section = String::new();
                }
                section.push_str(&line);
            }
            if !section.is_empty() {
                blocks
                    .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": section}}));
            }
            if blocks.len() > 50 {
                let shown = blocks.len() - 1;
                blocks.truncate(49);
                blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
                    "text": format!("{shown} sections in all; run `trailwatch notify status` or query the alerts table for the rest")}]}));
            }
            blocks
        }
        (_, [a, ..]) => alert_blocks(a),
        (_, []) => Vec::new(),
    };
    json!({"text": message.subject(), "blocks": blocks})
}

#[async_trait]
impl Sink for Slack {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let body = serde_json::to_vec(&payload(message))
            .map_err(|e| SendError::permanent(e.to_string()))?;
        http::post_json(&self.client, self.url.expose(), body, HeaderMap::new()).await
    }
}
