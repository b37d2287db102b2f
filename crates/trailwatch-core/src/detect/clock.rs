//! The check every pipeline applies before the detectors see a record:
//! is its `eventTime` believable for the file it came in (see
//! [`TimeBounds`])? A record that is not raises one P2
//! `event-time-out-of-range` finding — a forged or corrupted record, or a
//! source with a wrong clock — and is marked so detectors keep it out of
//! event time.

use std::collections::BTreeMap;

use crate::alert::{About, Alert, AlertKind, Severity};
use crate::event::{Record, TimeBounds};

/// The rule id of the alert for a record whose time is not believable.
pub const EVENT_TIME_RULE: &str = "event-time-out-of-range";

/// None when `r`'s time is believable within `bounds`, else its alert.
pub fn check(r: &Record<'_>, bounds: &TimeBounds) -> Option<Alert> {
    let skew = bounds.check(r.time)?;
    let how = skew.describe(bounds);
    let e = &r.event;
    let mut dimensions = BTreeMap::new();
    dimensions.insert("eventTime".to_string(), e.event_time.to_string());
    if let Some(a) = e.account() {
        dimensions.insert("account".to_string(), a.to_string());
    }
    dimensions.insert("region".to_string(), e.aws_region.to_string());
    Some(Alert::for_event(
        e,
        &["event-time", &e.event_id],
        About {
            kind: AlertKind::Finding,
            rule_id: EVENT_TIME_RULE,
            title: "Event time far outside its log file's time",
            severity: Severity::P2,
            description: format!(
                "The record's eventTime {} lies {how}. CloudTrail does not write such records: \
                 this is a forged or corrupted log, or a source with a wrong clock. The record \
                 is kept, but not counted in alarm metrics.",
                e.event_time
            ),
            actions: Vec::new(),
            query: Some(format!(
                "SELECT * FROM cloudtrail_logs WHERE eventid = '{}'",
                e.event_id.replace('\'', "''")
            )),
            dimensions,
        },
    ))
}
