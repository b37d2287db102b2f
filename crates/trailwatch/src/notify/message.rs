//! What a sink delivers: one alert, a digest of several (when a sink's
//! rate limit is reached), or a test message; and the renderings the sinks
//! share — the JSON envelope, a subject line, plain text and HTML.
//!
//! Every rendering carries the alert ids, so a receiver can drop a repeat.

use serde::Serialize;
use trailwatch_core::alert::Alert;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Alert,
    Digest,
    Test,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub kind: MessageKind,
    pub alerts: Vec<Alert>,
}

/// The JSON body of webhook and SNS messages.
#[derive(Serialize)]
struct Envelope<'a> {
    version: u32,
    kind: MessageKind,
    alert_ids: Vec<&'a str>,
    alerts: &'a [Alert],
}

impl Message {
    pub fn single(alert: Alert) -> Message {
        Message {
            kind: MessageKind::Alert,
            alerts: vec![alert],
        }
    }

    /// A harmless alert for `notify test`, with a fresh id.
    pub fn test() -> Message {
        let id: u64 = rand::random();
        let alert = Alert {
            alert_id: format!("test-{id:016x}"),
            kind: trailwatch_core::alert::AlertKind::Finding,
            rule_id: "trailwatch-test".into(),
            title: "trailwatch test message".into(),
            severity: trailwatch_core::alert::Severity::P4,
            state: trailwatch_core::alarm::AlarmState::Alarm,
            time: super::now_rfc3339(),
            window_start: None,
            window_end: None,
            threshold: None,
            datapoints: Vec::new(),
            dimensions: Default::default(),
            event_ids: Vec::new(),
            event_count: 0,
            principals: Vec::new(),
            source_ips: Vec::new(),
            actions: Vec::new(),
            description: "If you can read this, trailwatch can reach this sink.".into(),
            query: None,
        };
        Message {
            kind: MessageKind::Test,
            alerts: vec![alert],
        }
    }

    pub fn ids(&self) -> Vec<&str> {
        self.alerts.iter().map(|a| a.alert_id.as_str()).collect()
    }

    /// A key naming this message: the alert id, or a hash of a digest's ids.
    pub fn key(&self) -> String {
        match self.alerts.as_slice() {
            [one] => one.alert_id.clone(),
            many => {
                let ids: Vec<&str> = many.iter().map(|a| a.alert_id.as_str()).collect();
                format!("digest-{}", trailwatch_core::alert::stable_id(&ids))
            }
        }
    }

    pub fn envelope_json(&self) -> Vec<u8> {
        let env = Envelope {
            version: 1,
            kind: self.kind,
            alert_ids: self.ids(),
            alerts: &self.alerts,
        };
        // Serialising plain data to memory cannot fail.
        serde_json::to_vec(&env).unwrap_or_default()
    }

    /// The alerts as OCSF Detection Findings: a JSON array (`lines`
    /// false) or one finding per line.
    pub fn ocsf_json(&self, lines: bool) -> Vec<u8> {
        let findings: Vec<_> = self
            .alerts
            .iter()
            .map(trailwatch_core::ocsf::finding)
            .collect();
        // Serialising plain data to memory cannot fail.
        if !lines {
            return serde_json::to_vec(&findings).unwrap_or_default();
        }
        let mut out = Vec::new();
        for f in &findings {
            let _ = serde_json::to_writer(&mut out, f);
            out.push(b'\n');
        }
        out
    }

    /// One line: `[P1] Root account used` or `[trailwatch] 12 alerts: …`.
    pub fn subject(&self) -> String {
        match (self.kind, self.alerts.as_slice()) {
            (MessageKind::Digest, alerts) => {
                let mut counts = std::collections::BTreeMap::new();
                for a in alerts {
                    *counts.entry(a.severity.to_string()).or_insert(0usize) += 1;
                }
                let by: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
                format!(
                    "[trailwatch] {} alerts in one digest ({})",
                    alerts.len(),
                    by.join(", ")
                )
            }
            (_, [a, ..]) => format!("[{}] {}{}", a.severity, a.title, state_suffix(a)),
            (_, []) => "[trailwatch] no alerts".into(),
        }
    }

    /// The plain-text body (email, SNS subscribers reading mail).
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.kind == MessageKind::Digest {
            out.push_str(&format!(
                "{} alerts were folded into this digest because the sink's rate limit was reached.\n\n",
                self.alerts.len()
            ));
        }
        for a in &self.alerts {
            out.push_str(&format!(
                "[{}] {}{}\n",
                a.severity,
                a.title,
                state_suffix(a)
            ));
            out.push_str(&format!("  rule:  {} ({})\n", a.rule_id, a.kind));
            out.push_str(&format!("  who:   {}\n", who(a)));
            out.push_str(&format!("  from:  {}\n", from_where(a)));
            out.push_str(&format!("  when:  {}\n", a.time));
            if !a.description.is_empty() {
                out.push_str(&format!("  what:  {}\n", a.description));
            }
            out.push_str(&format!("  next:  {}\n", next_query(a)));
            out.push_str(&format!("  alert id: {}\n\n", a.alert_id));
        }
        out
    }

    /// The HTML alternative of [`Message::text`].
    pub fn html(&self) -> String {
        let mut out = String::from("<html><body style=\"font-family:sans-serif\">");
        if self.kind == MessageKind::Digest {
            out.push_str(&format!(
                "<p>{} alerts were folded into this digest because the sink's rate limit was reached.</p>",
                self.alerts.len()
            ));
        }
        for a in &self.alerts {
            out.push_str(&format!(
                "<h3>[{}] {}{}</h3><table>\
                 <tr><th align=left>Rule</th><td>{} ({})</td></tr>\
                 <tr><th align=left>Who</th><td>{}</td></tr>\
                 <tr><th align=left>From</th><td>{}</td></tr>\
                 <tr><th align=left>When</th><td>{}</td></tr>\
                 <tr><th align=left>What</th><td>{}</td></tr></table>\
                 <p>Next query:</p><pre>{}</pre><p style=\"color:#666\">alert id {}</p>",
                a.severity,
                escape(&a.title),
                state_suffix(a),
                escape(&a.rule_id),
                a.kind,
                escape(&who(a)),
                escape(&from_where(a)),
                escape(&a.time),
                escape(&a.description),
                escape(&next_query(a)),
                escape(&a.alert_id),
            ));
        }
        out.push_str("</body></html>");
        out
    }
}

/// ` (resolved)` for an alarm back to OK.
pub fn state_suffix(a: &Alert) -> &'static str {
    match a.state {
        trailwatch_core::alarm::AlarmState::Ok => " (resolved)",
        _ => "",
    }
}

pub fn who(a: &Alert) -> String {
    if a.principals.is_empty() {
        "unknown".into()
    } else {
        a.principals.join(", ")
    }
}

pub fn from_where(a: &Alert) -> String {
    if a.source_ips.is_empty() {
        "unknown".into()
    } else {
        a.source_ips.join(", ")
    }
}

/// The command to run next: the rule's investigation query, or the
/// evidence events by id.
pub fn next_query(a: &Alert) -> String {
    if let Some(q) = &a.query {
        return format!("trailwatch query \"{}\"", q.replace('"', "\\\""));
    }
    if a.event_ids.is_empty() {
        return format!(
            "trailwatch query \"SELECT * FROM alerts WHERE alert_id = '{}'\"",
            a.alert_id
        );
    }
    let ids: Vec<String> = a
        .event_ids
        .iter()
        .take(10)
        .map(|i| format!("'{i}'"))
        .collect();
    format!(
        "trailwatch query \"SELECT eventtime, eventname, useridentity.arn, sourceipaddress \
         FROM cloudtrail_logs WHERE eventid IN ({})\"",
        ids.join(", ")
    )
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
