//! Alerts from integrity checks, for `watch`: anything not valid about a
//! digest or a log file is a P1 `log-tampering` alert; a gap in a digest
//! chain (logging or validation turned off, or digests deleted) is a P2
//! `log-delivery-gap` alert. Ids are stable, so a re-check never repeats one.

use std::collections::BTreeMap;

use super::validate::{DigestStatus, LogStatus, Report};
use crate::alarm::AlarmState;
use crate::alert::{Alert, AlertKind, Severity, stable_id};

pub const TAMPERING_RULE: &str = "log-tampering";
pub const GAP_RULE: &str = "log-delivery-gap";

fn alert(
    rule: &str,
    severity: Severity,
    title: &str,
    time: &str,
    what: &str,
    why: String,
) -> Alert {
    Alert {
        alert_id: stable_id(&[rule, what, &why]),
        kind: if rule == GAP_RULE {
            AlertKind::DeliveryGap
        } else {
            AlertKind::LogTampering
        },
        rule_id: rule.into(),
        title: title.into(),
        severity,
        state: AlarmState::Alarm,
        time: time.into(),
        window_start: None,
        window_end: None,
        threshold: None,
        datapoints: Vec::new(),
        dimensions: BTreeMap::from([("object".to_string(), what.to_string())]),
        event_ids: Vec::new(),
        event_count: 0,
        principals: Vec::new(),
        source_ips: Vec::new(),
        actions: Vec::new(),
        description: format!(
            "{what}: {why}. Run `trailwatch verify` over the trail for the full picture; \
             look for DeleteObject/PutObject on the trail bucket and StopLogging/UpdateTrail."
        ),
        query: Some(
            "SELECT eventTime, userIdentity.arn, eventName, sourceIPAddress, requestParameters \
             FROM cloudtrail_logs WHERE eventSource IN ('s3.amazonaws.com', 'cloudtrail.amazonaws.com') \
             AND eventName IN ('DeleteObject', 'DeleteObjects', 'PutObject', 'StopLogging', \
             'DeleteTrail', 'UpdateTrail', 'PutBucketLifecycle') ORDER BY eventTime DESC"
                .into(),
        ),
    }
}

/// The alerts a report calls for; `now` stands in for unknown times.
pub fn alerts_of(report: &Report, now: &str) -> Vec<Alert> {
    let mut out = Vec::new();
    let title = "CloudTrail log files tampered with";
    for d in &report.digests {
        if d.status == DigestStatus::Valid {
            continue;
        }
        let why = format!("digest {:?}", d.status);
        let time = d.end.as_deref().unwrap_or(now);
        out.push(alert(
            TAMPERING_RULE,
            Severity::P1,
            title,
            time,
            &d.key,
            why,
        ));
    }
    for l in &report.logs {
        if l.status == LogStatus::Valid {
            continue;
        }
        let why = format!("log file {:?}", l.status);
        out.push(alert(TAMPERING_RULE, Severity::P1, title, now, &l.key, why));
    }
    for g in &report.gaps {
        let what = format!("{} {} {}", g.account, g.region, g.trail);
        let why = format!("no digests between {} and {}: {}", g.from, g.to, g.reason);
        out.push(alert(
            GAP_RULE,
            Severity::P2,
            "Gap in CloudTrail log delivery",
            &g.to,
            &what,
            why,
        ));
    }
    out
}
