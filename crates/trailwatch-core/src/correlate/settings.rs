//! `[correlate]`: the correlation detections' thresholds and allow-lists.
//! Every default is documented here with the reasoning behind it (and in
//! the README's Correlation section).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The correlation settings, as written in the config's `[correlate]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// MaxMind-format `.mmdb` files (an IPv4 and an IPv6 one, say).
    pub geoip: Vec<PathBuf>,

    /// Impossible travel: the fastest plausible speed, km/h. 900 is a
    /// airliner's cruising speed; anything faster between two sightings
    /// is not one person travelling.
    pub max_speed_kmh: f64,
    /// Impossible travel: places closer than this are never compared.
    /// City-level GeoIP is often tens of kilometres off, and a mobile
    /// carrier's egress can sit in a neighbouring city.
    pub min_distance_km: f64,
    /// Impossible travel: source ranges never located (VPN egress, proxy,
    /// office NAT), as CIDRs.
    pub travel_allow: Vec<String>,

    /// Privilege escalation: the window of the broad signal, hours.
    pub escalation_window_hours: u32,
    /// Privilege escalation: the share of the known escalation APIs a
    /// principal may call within the window before it is flagged. A
    /// quarter (5 of the 20) is more than any one provisioning task uses.
    pub escalation_share: f64,
    /// Privilege escalation: what one AccessDenied call counts for (a run
    /// of refusals before a success is how probing looks).
    pub escalation_denied_weight: f64,

    /// Exfiltration: standard deviations above the baseline that alert.
    pub exfil_deviations: f64,
    /// Exfiltration: GetObject calls in an hour below which nothing
    /// alerts, however unusual (a quiet principal reading 30 objects is
    /// not a breach).
    pub exfil_min_calls: u64,
    /// Exfiltration: bytes out in an hour below which the byte volume
    /// never alerts (1 GiB).
    pub exfil_min_bytes: u64,
    /// Exfiltration: the baseline's memory, hours (an EWMA over about a
    /// week of hourly buckets, so a weekly rhythm is learnt).
    pub exfil_baseline_hours: u32,
    /// Exfiltration: hours of history a principal needs before its volume
    /// can be unusual (a day: one cycle of the daily rhythm).
    pub exfil_warmup_hours: u32,
    /// Exfiltration: distinct secrets read by one principal within an
    /// hour that count as bulk (an application reads its few secrets over
    /// and over; a thief reads them all once).
    pub secrets_bulk: u32,

    /// Persistence: identities whose IAM writes are the normal workflow
    /// (ARNs, `*` wildcards allowed: the Terraform role, the IdP's
    /// provisioning role). Empty: nobody is exempt by name.
    pub provisioners: Vec<String>,
    /// Persistence: business hours, `HH:MM-HH:MM` in UTC (unset: any hour
    /// is business hours).
    pub business_hours: Option<String>,
    /// Persistence: business days, e.g. `mon-fri` (unset: every day).
    pub business_days: Option<String>,
    /// Persistence: a principal with no IAM write in this many days is
    /// doing something new.
    pub first_seen_days: u32,

    /// Accounts that are ours: copies, replication, snapshot shares and
    /// role trust towards them are not "another account". The account
    /// the event happens in always counts as ours.
    pub trusted_accounts: Vec<String>,

    /// State of an identity idle this long is forgotten, days.
    pub idle_days: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            geoip: Vec::new(),
            max_speed_kmh: 900.0,
            min_distance_km: 100.0,
            travel_allow: Vec::new(),
            escalation_window_hours: 24,
            escalation_share: 0.25,
            escalation_denied_weight: 2.0,
            exfil_deviations: 4.0,
            exfil_min_calls: 100,
            exfil_min_bytes: 1 << 30,
            exfil_baseline_hours: 168,
            exfil_warmup_hours: 24,
            secrets_bulk: 10,
            provisioners: Vec::new(),
            business_hours: None,
            business_days: None,
            first_seen_days: 30,
            trusted_accounts: Vec::new(),
            idle_days: 30,
        }
    }
}

/// A setting that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("[correlate] {key}: {message}")]
pub struct SettingsError {
    pub key: &'static str,
    pub message: String,
}

fn bad(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        key,
        message: message.into(),
    }
}

/// Business hours and days, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    /// Minutes after midnight UTC, start inclusive, end exclusive.
    pub start: u32,
    pub end: u32,
    /// Bit `n` set: weekday `n` (Monday 0) is a business day.
    pub days: u8,
}

impl Hours {
    /// Whether `t` falls in business hours.
    pub fn contains(&self, t: chrono::DateTime<chrono::Utc>) -> bool {
        use chrono::{Datelike, Timelike};
        let day = t.weekday().num_days_from_monday();
        let minute = t.hour() * 60 + t.minute();
        let in_day = if self.start <= self.end {
            (self.start..self.end).contains(&minute)
        } else {
            // Overnight, e.g. 22:00-06:00.
            minute >= self.start || minute < self.end
        };
        self.days & (1 << day) != 0 && in_day
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

impl Settings {
    /// Check every value; business hours parsed (None: unrestricted).
    pub fn validate(&self) -> Result<Option<Hours>, SettingsError> {
        let positive = |key, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(bad(key, format!("must be a positive number, not {v}")))
            }
        };
        positive("max_speed_kmh", self.max_speed_kmh)?;
        positive("exfil_deviations", self.exfil_deviations)?;
        positive("escalation_denied_weight", self.escalation_denied_weight)?;
        if !(self.min_distance_km.is_finite() && self.min_distance_km >= 0.0) {
            return Err(bad("min_distance_km", "must be 0 or more"));
        }
        if !(self.escalation_share > 0.0 && self.escalation_share <= 1.0) {
            return Err(bad("escalation_share", "must be more than 0 and at most 1"));
        }
        for (key, v, max) in [
            (
                "escalation_window_hours",
                self.escalation_window_hours,
                24 * 30,
            ),
            ("exfil_baseline_hours", self.exfil_baseline_hours, 24 * 365),
            ("exfil_warmup_hours", self.exfil_warmup_hours, 24 * 365),
            ("first_seen_days", self.first_seen_days, 365),
            ("idle_days", self.idle_days, 365),
            ("secrets_bulk", self.secrets_bulk, 100_000),
        ] {
            if v == 0 || v > max {
                return Err(bad(key, format!("must be 1 to {max}, not {v}")));
            }
        }
        for c in &self.travel_allow {
            c.parse::<ipnet::IpNet>()
                .map_err(|e| bad("travel_allow", format!("{c:?} is not a CIDR range: {e}")))?;
        }
        for a in &self.trusted_accounts {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(
                    "trusted_accounts",
                    format!("{a:?} is not a 12-digit account id"),
                ));
            }
        }
        let days = match &self.business_days {
            None => 0x7f,
            Some(spec) => parse_days(spec).ok_or_else(|| {
                bad(
                    "business_days",
                    format!("{spec:?}: use e.g. mon-fri or mon,wed,fri"),
                )
            })?,
        };
        match &self.business_hours {
            None if self.business_days.is_none() => Ok(None),
            None => Ok(Some(Hours {
                start: 0,
                end: 1440,
                days,
            })),
            Some(spec) => {
                let (a, b) = spec
                    .split_once('-')
                    .ok_or_else(|| bad("business_hours", format!("{spec:?}: use HH:MM-HH:MM")))?;
                match (hhmm(a), hhmm(b)) {
                    (Some(start), Some(end)) if start != end => {
                        Ok(Some(Hours { start, end, days }))
                    }
                    _ => Err(bad(
                        "business_hours",
                        format!("{spec:?}: use HH:MM-HH:MM (UTC)"),
                    )),
                }
            }
        }
    }

    /// The allow-listed travel ranges (after [`Settings::validate`]).
    pub fn travel_ranges(&self) -> Vec<ipnet::IpNet> {
        self.travel_allow
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect()
    }
}

/// `mon-fri`, `sat,sun`, `mon-wed,fri` as a weekday bit set.
fn parse_days(spec: &str) -> Option<u8> {
    let idx = |d: &str| DAYS.iter().position(|x| x.eq_ignore_ascii_case(d.trim()));
    let mut bits = 0u8;
    for part in spec.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (idx(a)?, idx(b)?);
                let mut d = a;
                loop {
                    bits |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => bits |= 1 << idx(part)?,
        }
    }
    (bits != 0).then_some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn business_hours_and_days_parse_and_apply_in_utc() {
        let s = Settings {
            business_hours: Some("08:00-18:00".into()),
            business_days: Some("mon-fri".into()),
            ..Settings::default()
        };
        let h = s.validate().expect("valid").expect("hours");
        // 2024-05-01 is a Wednesday.
        let at = |d, h, m| chrono::Utc.with_ymd_and_hms(2024, 5, d, h, m, 0).unwrap();
        assert!(h.contains(at(1, 9, 30)));
        assert!(!h.contains(at(1, 18, 0)));
        assert!(!h.contains(at(1, 3, 0)));
        assert!(!h.contains(at(4, 10, 0)), "a Saturday");
        let bad = Settings {
            business_hours: Some("8-18".into()),
            ..Settings::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("business_hours")
        );
        assert_eq!(parse_days("fri-mon"), Some(0b111_0001));
    }

    #[test]
    fn wildcards_match_arns() {
        assert!(crate::pattern::glob(
            "arn:aws:iam::*:role/terraform*",
            "arn:aws:iam::111122223333:role/terraform-ci"
        ));
        assert!(!crate::pattern::glob(
            "arn:aws:iam::*:role/terraform*",
            "arn:aws:iam::111122223333:user/terraform"
        ));
        assert!(crate::pattern::glob(
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:user/alice"
        ));
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_key() {
        for (s, key) in [
            (
                Settings {
                    max_speed_kmh: 0.0,
                    ..Settings::default()
                },
                "max_speed_kmh",
            ),
            (
                Settings {
                    escalation_share: 1.5,
                    ..Settings::default()
                },
                "escalation_share",
            ),
            (
                Settings {
                    travel_allow: vec!["10.0.0.0/33".into()],
                    ..Settings::default()
                },
                "travel_allow",
            ),
            (
                Settings {
                    idle_days: 0,
                    ..Settings::default()
                },
                "idle_days",
            ),
        ] {
            assert!(s.validate().unwrap_err().to_string().contains(key), "{key}");
        }
    }
}
