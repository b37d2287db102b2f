//! Blind spots found in the data itself, whatever the configuration says:
//!
//! - **undelivered regions**: an account's events show activity in a region
//!   (as the event's region, or in the ARNs the events name) for which no
//!   CloudTrail log file was ever delivered: the trail does not cover it;
//! - **delivery gaps**: for one account and region, a stretch between two
//!   deliveries far longer than usual (more than three times the median
//!   interval, and more than the given minimum): logging stopped, or files
//!   were deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use regex::bytes::Regex;
use serde::Serialize;

use crate::event::Record;
use crate::layout::{ObjectKind, TrailKey};
use crate::rules::Severity;

static ARN_REGION: LazyLock<Regex> = LazyLock::new(|| {
    // A constant pattern; every test run would reveal a mistake.
    #[allow(clippy::expect_used)]
    Regex::new(r"arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d):")
        .expect("valid ARN regex")
});

/// One blind spot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlindSpot {
    /// `undelivered-region` or `delivery-gap`.
    pub kind: &'static str,
    pub severity: Severity,
    pub account: String,
    pub region: String,
    pub detail: String,
}

/// What the data shows, gathered file by file and record by record.
#[derive(Debug, Default)]
pub struct Coverage {
    /// (account, region) → delivery times of log files.
    delivered: BTreeMap<(String, String), BTreeSet<DateTime<Utc>>>,
    /// (account, region) → events showing activity there, and one example.
    active: BTreeMap<(String, String), (u64, String)>,
}

impl Coverage {
    /// Note a delivered log file.
    pub fn file(&mut self, key: &TrailKey) {
        if key.kind != ObjectKind::Log {
            return;
        }
        let Some(t) = key.delivered_at() else {
            return;
        };
        self.delivered
            .entry((key.account.clone(), key.region.clone()))
            .or_default()
            .insert(t);
    }

    /// Note the regions a record shows activity in. `fallback_account` is
    /// the delivering account, for records that name none.
    pub fn record(&mut self, r: &Record<'_>, fallback_account: Option<&str>) {
        let Some(account) = r.event.recipient_account_id.as_deref().or(fallback_account) else {
            return;
        };
        let mut regions: BTreeSet<&[u8]> = BTreeSet::new();
        regions.insert(r.event.aws_region.as_bytes());
        for c in ARN_REGION.captures_iter(r.raw) {
            if let Some(m) = c.get(1) {
                regions.insert(m.as_bytes());
            }
        }
        for region in regions {
            let region = String::from_utf8_lossy(region).into_owned();
            let e = self
                .active
                .entry((account.to_string(), region))
                .or_insert_with(|| (0, String::new()));
            e.0 += 1;
            if e.1.is_empty() {
                e.1 = format!(
                    "{} {}",
                    r.event.event_name.as_deref().unwrap_or("-"),
                    r.event.event_id
                );
            }
        }
    }

    /// The blind spots, with `min_gap` the shortest delivery gap reported.
    pub fn blind_spots(&self, min_gap: Duration) -> Vec<BlindSpot> {
        let mut out = Vec::new();
        let accounts: BTreeSet<&String> = self.delivered.keys().map(|(a, _)| a).collect();
        for ((account, region), (count, example)) in &self.active {
            if !accounts.contains(account)
                || self
                    .delivered
                    .contains_key(&(account.clone(), region.clone()))
            {
                continue;
            }
            out.push(BlindSpot {
                kind: "undelivered-region",
                severity: Severity::P2,
                account: account.clone(),
                region: region.clone(),
                detail: format!(
                    "{count} events show activity in {region} (first: {example}), but no CloudTrail log file was delivered for it: the trail does not record this region (single-region trail, or a region excluded)"
                ),
            });
        }
        for ((account, region), times) in &self.delivered {
            let times: Vec<&DateTime<Utc>> = times.iter().collect();
            if times.len() < 3 {
                continue;
            }
            let mut intervals: Vec<Duration> = times.windows(2).map(|w| *w[1] - *w[0]).collect();
            intervals.sort();
            let median = intervals[intervals.len() / 2];
            let threshold = (median * 3).max(min_gap);
            for w in times.windows(2) {
                let gap = *w[1] - *w[0];
                if gap > threshold {
                    out.push(BlindSpot {
                        kind: "delivery-gap",
                        severity: Severity::P3,
                        account: account.clone(),
                        region: region.clone(),
                        detail: format!(
                            "no log file delivered between {} and {} ({} h; usually every {} min): logging stopped, or files were removed",
                            w[0].format("%Y-%m-%dT%H:%MZ"),
                            w[1].format("%Y-%m-%dT%H:%MZ"),
                            gap.num_hours(),
                            median.num_minutes()
                        ),
                    });
                }
            }
        }
        out
    }
}
