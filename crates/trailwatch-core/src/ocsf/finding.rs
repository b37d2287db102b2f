//! An alert as an OCSF 1.1.0 Detection Finding (2004): the rule as the
//! finding's analytic, the evidence events as `related_events` (their
//! OCSF `metadata.uid` is the CloudTrail eventID), who and where from as
//! `evidences`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::VERSION;
use super::event::{Cloud, Uid};
use crate::alarm::AlarmState;
use crate::alert::{Alert, AlertKind, Severity};
use crate::event::parse_event_time;

/// An OCSF Detection Finding; absent values are left out.
#[derive(Debug, Serialize)]
pub struct DetectionFinding<'a> {
    /// trailwatch observes; it blocks nothing (0, Unknown).
    pub action_id: u8,
    pub activity_id: u8,
    pub activity_name: &'static str,
    pub category_name: &'static str,
    pub category_uid: u8,
    pub class_name: &'static str,
    pub class_uid: u32,
    pub cloud: Cloud<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidences: Vec<Evidence<'a>>,
    pub finding_info: FindingInfo<'a>,
    pub message: &'a str,
    pub metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    pub severity: &'static str,
    pub severity_id: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    pub status: &'static str,
    pub status_id: u8,
    pub time: i64,
    pub time_dt: String,
    pub type_name: String,
    pub type_uid: u32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unmapped: BTreeMap<String, String>,
}

/// One piece of evidence: who acted, or where from.
#[derive(Debug, Serialize)]
pub struct Evidence<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<EvidenceActor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<Ip<'a>>,
}

#[derive(Debug, Serialize)]
pub struct EvidenceActor<'a> {
    pub user: Uid<'a>,
}

#[derive(Debug, Serialize)]
pub struct Ip<'a> {
    pub ip: &'a str,
}

#[derive(Debug, Serialize)]
pub struct FindingInfo<'a> {
    pub analytic: Analytic<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_events: Vec<Uid<'a>>,
    pub title: &'a str,
    pub types: [&'static str; 1],
    pub uid: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Analytic<'a> {
    pub category: &'static str,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub type_id: u8,
    pub uid: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Metadata<'a> {
    pub product: Product,
    pub profiles: [&'static str; 2],
    pub uid: &'a str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Product {
    pub name: &'static str,
    pub vendor_name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Remediation {
    pub desc: String,
}

/// OCSF's severity for P1–P4: Critical, High, Medium, Low.
fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::P1 => (5, "Critical"),
        Severity::P2 => (4, "High"),
        Severity::P3 => (3, "Medium"),
        Severity::P4 => (2, "Low"),
    }
}

/// The analytic's type: a rule for single-event rules and digests,
/// statistical for alarms (a threshold over time), behavioral for
/// correlations.
fn analytic_type(k: AlertKind) -> (u8, &'static str) {
    match k {
        AlertKind::Alarm => (3, "Statistical"),
        AlertKind::Correlation => (2, "Behavioral"),
        AlertKind::Finding | AlertKind::LogTampering | AlertKind::DeliveryGap => (1, "Rule"),
    }
}

fn millis(t: Option<&str>) -> Option<i64> {
    t.and_then(parse_event_time).map(|t| t.timestamp_millis())
}

/// The Detection Finding of alert `a`. An alarm's return to OK closes its
/// finding (activity Close, status Resolved).
pub fn finding(a: &Alert) -> DetectionFinding<'_> {
    let (severity_id, severity) = severity(a.severity);
    let (type_id, kind) = analytic_type(a.kind);
    let closed = a.state == AlarmState::Ok;
    let (activity_id, activity_name) = if closed { (3, "Close") } else { (1, "Create") };
    let (status_id, status) = if closed { (4, "Resolved") } else { (1, "New") };
    let time = parse_event_time(&a.time);
    let dimension = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| a.dimensions.get(*k))
            .map(String::as_str)
    };
    let evidences = a
        .principals
        .iter()
        .map(|uid| Evidence {
            actor: Some(EvidenceActor { user: Uid { uid } }),
            src_endpoint: None,
        })
        .chain(a.source_ips.iter().map(|ip| Evidence {
            actor: None,
            src_endpoint: Some(Ip { ip }),
        }))
        .collect();
    DetectionFinding {
        action_id: 0,
        activity_id,
        activity_name,
        category_name: "Findings",
        category_uid: 2,
        class_name: "Detection Finding",
        class_uid: 2004,
        cloud: Cloud {
            account: dimension(&["account", "recipientAccountId", "accountId"])
                .map(|uid| Uid { uid }),
            provider: "AWS",
            // OCSF requires a region; an alert across regions names none.
            region: dimension(&["region", "awsRegion"]).unwrap_or("global"),
        },
        count: Some(a.event_count),
        end_time: millis(a.window_end.as_deref()),
        evidences,
        finding_info: FindingInfo {
            analytic: Analytic {
                category: a.kind.as_str(),
                name: &a.rule_id,
                kind,
                type_id,
                uid: &a.rule_id,
            },
            desc: (!a.description.is_empty()).then_some(a.description.as_str()),
            related_events: a.event_ids.iter().map(|uid| Uid { uid }).collect(),
            title: &a.title,
            types: [a.kind.as_str()],
            uid: &a.alert_id,
        },
        message: &a.title,
        metadata: Metadata {
            product: Product {
                name: "trailwatch",
                vendor_name: "trailwatch",
                version: env!("CARGO_PKG_VERSION"),
            },
            profiles: ["cloud", "datetime"],
            uid: &a.alert_id,
            version: VERSION,
        },
        remediation: (!a.actions.is_empty()).then(|| Remediation {
            desc: a.actions.join("\n"),
        }),
        severity,
        severity_id,
        start_time: millis(a.window_start.as_deref()),
        status,
        status_id,
        time: time.map_or(0, |t| t.timestamp_millis()),
        time_dt: time
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default(),
        type_name: format!("Detection Finding: {activity_name}"),
        type_uid: 2004 * 100 + u32::from(activity_id),
        unmapped: a
            .dimensions
            .iter()
            .map(|(k, v)| (format!("dimensions.{k}"), v.clone()))
            .collect(),
    }
}
