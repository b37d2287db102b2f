//! The `pagerduty` sink: PagerDuty Events API v2. An alarm entering ALARM
//! (and any finding) sends `trigger` with the alert id as `dedup_key`; the
//! same alarm returning to OK sends `resolve` with the dedup key of the
//! trigger it ends. Which alarm incidents are open (rule and dimensions →
//! dedup key) is kept in `incidents.json` in the sink's outbox folder, so
//! a resolve after a restart still finds its trigger.
//!
//! A digest (rate limit reached) is one trigger whose dedup key is the
//! digest's key, listing its alerts; resolves in a digest are still sent
//! one by one, since they close incidents already open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use trailwatch_core::alarm::AlarmState;
use trailwatch_core::alert::{Alert, AlertKind, Severity};

use super::config::Secret;
use super::message::{Message, MessageKind, from_where, next_query, who};
use super::{SendError, Sink, http};

pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// What sending an event does to the open alarm incidents (by key).
enum Incident {
    Opens(String),
    Closes(String),
    Neither,
}

/// One Events API call.
struct Event {
    body: Value,
    incident: Incident,
}

#[derive(Debug)]
pub struct PagerDuty {
    routing_key: Secret,
    url: String,
    client: reqwest::Client,
    incidents_path: PathBuf,
    /// Open alarm incidents: incident key → the trigger's dedup key.
    incidents: Mutex<BTreeMap<String, String>>,
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::P1 => "critical",
        Severity::P2 => "error",
        Severity::P3 => "warning",
        Severity::P4 => "info",
    }
}

/// What identifies one alarm's incident across its ALARM and OK alerts.
fn incident_key(a: &Alert) -> String {
    let dims: Vec<String> = a
        .dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{}|{}", a.rule_id, dims.join(","))
}

impl PagerDuty {
    pub fn new(
        routing_key: Secret,
        url: Option<String>,
        timeout: Duration,
        state: &Path,
    ) -> Result<PagerDuty> {
        let incidents_path = state.join("incidents.json");
        let incidents = match std::fs::read(&incidents_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", incidents_path.display()))?,
            Err(_) => BTreeMap::new(),
        };
        Ok(PagerDuty {
            routing_key,
            url: url.unwrap_or_else(|| EVENTS_URL.to_string()),
            client: http::client(timeout)?,
            incidents_path,
            incidents: Mutex::new(incidents),
        })
    }

    fn save_incidents(&self, incidents: &BTreeMap<String, String>) -> Result<(), SendError> {
        let tmp = self.incidents_path.with_extension("json.tmp");
        let json =
            serde_json::to_vec(incidents).map_err(|e| SendError::transient(e.to_string()))?;
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, &self.incidents_path))
            .map_err(|e| SendError::transient(format!("saving PagerDuty incidents: {e}")))
    }

    fn trigger(&self, dedup_key: &str, summary: &str, a: &Alert, details: Value) -> Value {
        json!({
            "routing_key": self.routing_key.expose(),
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": summary.chars().take(1024).collect::<String>(),
                "source": "trailwatch",
                "severity": severity(a.severity),
                "timestamp": a.time,
                "component": a.rule_id,
                "group": a.kind,
                "class": a.rule_id,
                "custom_details": details,
            },
        })
    }

    async fn post(&self, event: &Value) -> Result<(), SendError> {
        let body = serde_json::to_vec(event).map_err(|e| SendError::permanent(e.to_string()))?;
        http::post_json(&self.client, &self.url, body, HeaderMap::new()).await
    }

    /// The events a message becomes, in order.
    fn events(&self, message: &Message) -> Vec<Event> {
        let mut events = Vec::new();
        let incidents = self
            .incidents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut triggers: Vec<&Alert> = Vec::new();
        for a in &message.alerts {
            if a.kind == AlertKind::Alarm && a.state == AlarmState::Ok {
                let key = incident_key(a);
                // A resolve without an open trigger has nothing to close.
                if let Some(dedup) = incidents.get(&key) {
                    let event = json!({
                        "routing_key": self.routing_key.expose(),
                        "event_action": "resolve",
                        "dedup_key": dedup,
                    });
                    events.push(Event {
                        body: event,
                        incident: Incident::Closes(key),
                    });
                }
            } else {
                triggers.push(a);
            }
        }
        match (message.kind, triggers.as_slice()) {
            (_, []) => {}
            (MessageKind::Digest, all) if all.len() > 1 => {
                let details: Vec<Value> = all
                    .iter()
                    .map(|a| {
                        json!({"alert_id": a.alert_id, "severity": a.severity, "title": a.title,
                        "who": who(a), "from": from_where(a), "when": a.time})
                    })
                    .collect();
                let top = all.iter().map(|a| a.severity).min().unwrap_or(Severity::P4);
                let first = all
                    .iter()
                    .find(|a| a.severity == top)
                    .copied()
                    .unwrap_or(all[0]);
                let summary = format!("{} alerts (digest): {}", all.len(), message.subject());
                let event =
                    self.trigger(&message.key(), &summary, first, json!({"alerts": details}));
                events.push(Event {
                    body: event,
                    incident: Incident::Neither,
                });
            }
            (_, alerts) => {
                for a in alerts {
                    let details = json!({
                        "alert_id": a.alert_id, "who": who(a), "from": from_where(a),
                        "events": a.event_count, "description": a.description,
                        "next_query": next_query(a),
                    });
                    let summary = format!("[{}] {}", a.severity, a.title);
                    let event = self.trigger(&a.alert_id, &summary, a, details);
                    let incident = if a.kind == AlertKind::Alarm {
                        Incident::Opens(incident_key(a))
                    } else {
                        Incident::Neither
                    };
                    events.push(Event {
                        body: event,
                        incident,
                    });
                }
            }
        }
        events
    }
}

#[async_trait]
impl Sink for PagerDuty {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        for event in self.events(message) {
            // An incident is recorded before its trigger is sent (a retry
            // sends the same dedup key), and forgotten after its resolve.
            if let Incident::Opens(key) = &event.incident {
                let mut map = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
                let dedup = event.body["dedup_key"].as_str().unwrap_or_default();
                map.insert(key.clone(), dedup.to_string());
                self.save_incidents(&map)?;
            }
            self.post(&event.body).await?;
            if let Incident::Closes(key) = &event.incident {
                let mut map = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
                map.remove(key);
                self.save_incidents(&map)?;
            }
        }
        Ok(())
    }
}
