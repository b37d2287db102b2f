//! Whether a record's `eventTime` is believable for the file it came in.
//!
//! CloudTrail writes an event into a log file minutes after it happened, and
//! the file's name carries its delivery stamp, so an event time hours after
//! the delivery, or weeks before it, is not something CloudTrail writes: it
//! is a forged or corrupted record, or a source whose clock is wrong. Such a
//! record must not steer anything that runs on event time (alarm windows,
//! the watcher's watermark), and someone should see it.
//!
//! The window is CloudWatch Logs' own: it refuses log events more than two
//! hours in the future or fourteen days in the past, so such records never
//! become metric datapoints there either. A file without a delivery stamp
//! is bounded by the wall clock alone (nothing can have happened in the
//! future), and a stamp that itself lies in the future counts as now.

use chrono::{DateTime, TimeDelta, Utc};

/// How far past its reference time an event may lie.
pub const FUTURE_SLACK: TimeDelta = TimeDelta::hours(2);
/// How far before its file's delivery an event may lie.
pub const PAST_LIMIT: TimeDelta = TimeDelta::days(14);

/// The event times believable for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBounds {
    /// The delivery stamp (capped at now), or now when there is none.
    pub reference: DateTime<Utc>,
    /// Whether `reference` is a delivery stamp (so the past is bounded too).
    pub delivered: bool,
}

/// How a record's time falls outside its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skew {
    /// After the reference time by more than [`FUTURE_SLACK`].
    Future(TimeDelta),
    /// Before the delivery by more than [`PAST_LIMIT`].
    Past(TimeDelta),
}

impl TimeBounds {
    /// The bounds for a file delivered at `delivered_at` (from its name),
    /// read at `now`.
    pub fn for_file(delivered_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> TimeBounds {
        match delivered_at {
            Some(d) => TimeBounds {
                reference: d.min(now),
                delivered: true,
            },
            None => TimeBounds {
                reference: now,
                delivered: false,
            },
        }
    }

    /// None when `t` is believable, else how far off it is.
    pub fn check(&self, t: DateTime<Utc>) -> Option<Skew> {
        let ahead = t.signed_duration_since(self.reference);
        if ahead > FUTURE_SLACK {
            return Some(Skew::Future(ahead));
        }
        if self.delivered && -ahead > PAST_LIMIT {
            return Some(Skew::Past(-ahead));
        }
        None
    }
}

impl Skew {
    /// A phrase for messages: "3 days after its file was delivered".
    pub fn describe(&self, bounds: &TimeBounds) -> String {
        let (d, dir) = match self {
            Skew::Future(d) => (d, "after"),
            Skew::Past(d) => (d, "before"),
        };
        let what = if bounds.delivered {
            "its log file was delivered"
        } else {
            "it was read"
        };
        format!("{} {dir} {what}", human(*d))
    }
}

fn human(d: TimeDelta) -> String {
    let days = d.num_days();
    if days >= 2 {
        format!("{days} days")
    } else {
        format!("{} hours", d.num_hours())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn events_around_their_delivery_are_believable() {
        let b = TimeBounds::for_file(Some(t("2024-05-01T12:05:00Z")), t("2026-01-01T00:00:00Z"));
        assert_eq!(b.check(t("2024-05-01T12:00:00Z")), None);
        assert_eq!(b.check(t("2024-05-01T14:00:00Z")), None);
        assert_eq!(b.check(t("2024-04-20T12:00:00Z")), None);
        assert!(matches!(
            b.check(t("2099-01-01T00:00:00Z")),
            Some(Skew::Future(_))
        ));
        assert!(matches!(
            b.check(t("2024-04-01T00:00:00Z")),
            Some(Skew::Past(_))
        ));
    }

    #[test]
    fn without_a_stamp_only_the_future_is_bounded_and_a_future_stamp_counts_as_now() {
        let now = t("2026-01-01T00:00:00Z");
        let b = TimeBounds::for_file(None, now);
        assert_eq!(b.check(t("2001-01-01T00:00:00Z")), None);
        assert!(b.check(t("2026-01-01T03:00:00Z")).is_some());
        let b = TimeBounds::for_file(Some(t("2099-01-01T00:00:00Z")), now);
        assert!(b.check(t("2098-12-31T23:00:00Z")).is_some());
    }
}
