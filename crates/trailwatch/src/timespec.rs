//! Times given on the command line (`--since`, `--start-time`,
//! `--end-time`): `today`, `24h`, `7d`, `YYYY-MM-DD` or RFC 3339.
//!
//! Every result lies within years 0000–9999, so later arithmetic on it
//! (subtracting a lateness, formatting a partition date, comparing with
//! event times) cannot overflow; anything further out is a usage error.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// The earliest and latest times a flag may name.
fn range() -> (DateTime<Utc>, DateTime<Utc>) {
    // Both dates exist in chrono's calendar; the fallbacks are never taken.
    let lo = NaiveDate::from_ymd_opt(0, 1, 1).unwrap_or(NaiveDate::MIN);
    let hi = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
    (
        lo.and_time(chrono::NaiveTime::MIN).and_utc(),
        hi.and_hms_opt(23, 59, 59)
            .unwrap_or(NaiveDate::MAX.and_time(chrono::NaiveTime::MIN))
            .and_utc(),
    )
}

fn ago(now: DateTime<Utc>, n: &str, unit: fn(i64) -> Option<TimeDelta>) -> Option<DateTime<Utc>> {
    let n: i64 = n.parse().ok()?;
    now.checked_sub_signed(unit(n)?)
}

/// Parse a `--since`-style time relative to `now`; `flag` names the flag
/// in messages.
pub fn parse_time(flag: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = s.trim();
    let usage = || format!("{flag} {s:?}: use today, 24h, 7d, YYYY-MM-DD or an RFC 3339 time");
    let t = if s == "today" {
        now.date_naive()
            .and_hms_opt(0, 0, 0)
            .context("midnight")?
            .and_utc()
    } else if let Some(n) = s.strip_suffix('h').filter(|n| n.parse::<i64>().is_ok()) {
        ago(now, n, TimeDelta::try_hours)
            .with_context(|| format!("{flag} {s:?} is out of range"))?
    } else if let Some(n) = s.strip_suffix('d').filter(|n| n.parse::<i64>().is_ok()) {
        ago(now, n, TimeDelta::try_days).with_context(|| format!("{flag} {s:?} is out of range"))?
    } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).context("midnight")?.and_utc()
    } else {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .with_context(usage)?
    };
    let (lo, hi) = range();
    if t < lo || t > hi {
        bail!("{flag} {s:?} is out of range: times must fall in the years 0000 to 9999");
    }
    Ok(t)
}

/// `--since`.
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    parse_time("--since", s, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-04-02T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn relative_and_absolute_times_parse() {
        let n = now();
        assert_eq!(parse_since("24h", n).ok(), Some(n - TimeDelta::hours(24)));
        assert_eq!(parse_since("7d", n).ok(), Some(n - TimeDelta::days(7)));
        assert_eq!(
            parse_since("today", n).ok().map(|t| t.to_rfc3339()),
            Some("2026-04-02T00:00:00+00:00".into())
        );
        assert!(parse_since("2026-04-01", n).is_ok());
        assert!(parse_since("2026-04-01T10:00:00+02:00", n).is_ok());
    }

    #[test]
    fn huge_and_far_times_are_usage_errors_not_panics() {
        for s in [
            "9999999999999h",
            "-9999999999999h",
            "9223372036854775807h",
            "-9223372036854775808d",
            "99999999999d",
            "3000000d",
            "-3000000d",
            "+10000-01-01T00:00:00Z",
            "yesterday",
            "",
        ] {
            let e = parse_since(s, now()).expect_err(s);
            assert!(e.to_string().contains("--since"), "{s}: {e}");
        }
    }
}
