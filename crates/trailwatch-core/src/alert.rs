//! What every detector emits: an [`Alert`], its [`AlertKind`] and
//! [`Severity`], the evidence it cites (event ids, principals, source IPs)
//! and its stable id, so that re-running over the same data never
//! duplicates an alert downstream.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alarm::AlarmState;
use crate::event::Event;

/// Alert severity, P1 (critical) to P4 (low).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    P1,
    P2,
    P3,
    P4,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
            Severity::P4 => "P4",
        })
    }
}

/// What kind of detection raised an alert. Written in JSON, the lake and
/// routes as `finding`, `alarm`, `correlation`, `log-tampering`,
/// `delivery-gap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// One event matched a single-event rule.
    Finding,
    /// An alarm changed state (to ALARM, or back to OK).
    Alarm,
    /// A pattern across events (impossible travel, escalation, …).
    Correlation,
    /// A digest or log file failed validation.
    LogTampering,
    /// A digest chain has a gap: logging or validation was off.
    DeliveryGap,
}

impl AlertKind {
    pub const ALL: [AlertKind; 5] = [
        AlertKind::Finding,
        AlertKind::Alarm,
        AlertKind::Correlation,
        AlertKind::LogTampering,
        AlertKind::DeliveryGap,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Finding => "finding",
            AlertKind::Alarm => "alarm",
            AlertKind::Correlation => "correlation",
            AlertKind::LogTampering => "log-tampering",
            AlertKind::DeliveryGap => "delivery-gap",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is no alert kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown alert kind {0:?}: use {kinds}", kinds = AlertKind::ALL.map(AlertKind::as_str).join(", "))]
pub struct UnknownKind(pub String);

impl FromStr for AlertKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<AlertKind, UnknownKind> {
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// Something a person should look at.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// Stable: the same data gives the same id, so receivers can drop repeats.
    pub alert_id: String,
    pub kind: AlertKind,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    /// `ALARM` or `OK` for alarms; `ALARM` for everything else.
    pub state: AlarmState,
    /// Event time of the finding, or the evaluation minute of the transition.
    /// `alert_time` in JSON, as in the lake's `alerts` table (`time` is
    /// read too: spools and outboxes written before the rename).
    #[serde(rename = "alert_time", alias = "time")]
    pub time: String,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub threshold: Option<f64>,
    pub datapoints: Vec<Option<f64>>,
    pub dimensions: BTreeMap<String, String>,
    /// The evidence: the events' ids, the first [`EVIDENCE_IDS`] in full.
    pub event_ids: Vec<String>,
    pub event_count: usize,
    pub principals: Vec<String>,
    pub source_ips: Vec<String>,
    pub actions: Vec<String>,
    pub description: String,
    pub query: Option<String>,
}

/// How many eventIDs an alert lists in full.
pub const EVIDENCE_IDS: usize = 20;

/// A stable alert id: a hash of what identifies the alert, so the same data
/// always gives the same id.
pub fn stable_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    // Hex by hand: this runs once per alert, and a `format!` per byte
    // showed in profiles of rules that match millions of events.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for b in &d[..16] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// What a single-event alert says besides the event itself.
#[derive(Debug, Clone)]
pub struct About<'a> {
    pub kind: AlertKind,
    pub rule_id: &'a str,
    pub title: &'a str,
    pub severity: Severity,
    pub description: String,
    pub actions: Vec<String>,
    pub query: Option<String>,
    pub dimensions: BTreeMap<String, String>,
}

impl Alert {
    /// An alert about one event; its id is `parts` hashed.
    pub fn for_event(e: &Event<'_>, id_parts: &[&str], about: About<'_>) -> Alert {
        Alert {
            alert_id: stable_id(id_parts),
            kind: about.kind,
            rule_id: about.rule_id.to_string(),
            title: about.title.to_string(),
            severity: about.severity,
            state: AlarmState::Alarm,
            time: e.event_time.to_string(),
            window_start: None,
            window_end: None,
            threshold: None,
            datapoints: Vec::new(),
            dimensions: about.dimensions,
            event_ids: vec![e.event_id.to_string()],
            event_count: 1,
            principals: e.principal().map(str::to_string).into_iter().collect(),
            source_ips: e
                .source_ip_address
                .as_deref()
                .map(str::to_string)
                .into_iter()
                .collect(),
            actions: about.actions,
            description: about.description,
            query: about.query,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_are_32_hex_digits_of_the_parts_hash() {
        // SHA-256 of "a\0b\0", first 16 bytes.
        let mut h = Sha256::new();
        h.update(b"a\0b\0");
        let want: String = h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(stable_id(&["a", "b"]), want);
        assert_ne!(stable_id(&["ab"]), stable_id(&["a", "b"]));
    }

    #[test]
    fn kinds_keep_their_names_in_json_and_in_text() {
        for k in AlertKind::ALL {
            let json = serde_json::to_string(&k).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(k.as_str().parse::<AlertKind>(), Ok(k));
        }
        assert!("Finding".parse::<AlertKind>().is_err());
    }
}
