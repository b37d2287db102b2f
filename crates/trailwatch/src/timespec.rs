//! Times given on the command line (`--since`, `--start-time`,
//! `--end-time`): `today`, `24h`, `7d`, `YYYY-MM-DD` or RFC 3339; and
//! durations (`--lateness`, `--timeout`, `--wait`, `--poll`, …): `90s`,
//! `5m`, `24h`, `7d`, `500ms`, or a bare number in the flag's own unit.
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

/// An optional `--since`-style flag's time, relative to now.
pub fn flag_time(flag: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    v.as_deref()
        .map(|s| parse_time(flag, s, Utc::now()))
        .transpose()
}

/// Parse a `--since`-style time relative to `now`; `flag` names the flag
/// in messages.
pub fn parse_time(flag: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = s.trim();
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
        match DateTime::parse_from_rfc3339(s) {
            Ok(t) => t.with_timezone(&Utc),
            // The parser's own words ("premature end of input") would not
            // tell a person what to type instead.
            Err(_) => bail!("{}", usage(flag, s)),
        }
    };
    let (lo, hi) = range();
    if t < lo || t > hi {
        bail!("{flag} {s:?} is out of range: times must fall in the years 0000 to 9999");
    }
    Ok(t)
}

/// What was wrong with a time that is none of the accepted forms, and
/// what to type instead.
fn usage(flag: &str, s: &str) -> String {
    let date = s.get(..10).filter(|d| d.as_bytes().get(4) == Some(&b'-'));
    let why = match date {
        Some(d) if NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() => {
            format!(" is not a calendar date ({d})")
        }
        Some(_) if s.contains('T') && !s.ends_with(['Z', 'z']) && !s[10..].contains(['+', '-']) => {
            " has no time zone: add Z for UTC or an offset such as +02:00".to_string()
        }
        _ => String::new(),
    };
    format!(
        "{flag} {s:?}{why}: use today, 24h, 7d, YYYY-MM-DD or an RFC 3339 time such as 2026-04-04T12:00:00Z"
    )
}

/// `--since`.
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    parse_time("--since", s, now)
}

/// The largest duration a flag accepts (366 days): bounded so that adding
/// it to a time cannot overflow and timers accept it.
const MAX_DURATION_SECS: u64 = 366 * 86_400;

/// Parse a duration: a number and a unit (`ms`, `s`, `m`, `h`, `d`), or a
/// bare number in `bare` (the unit the flag took before units existed).
pub fn parse_duration(s: &str, bare: std::time::Duration) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 90s, 5m, 24h, 7d)"))?;
    let unit = match unit {
        "" => bare,
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        "d" => Duration::from_secs(86_400),
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (use ms, s, m, h or d: 90s, 5m, 24h, 7d)"
            ));
        }
    };
    let n32 = u32::try_from(n).map_err(|_| format!("{s:?} is too long"))?;
    unit.checked_mul(n32)
        .filter(|d| d.as_secs() <= MAX_DURATION_SECS)
        .ok_or_else(|| format!("{s:?} is too long (at most 366d)"))
}

/// A duration flag whose bare numbers are seconds, as whole seconds.
pub fn seconds_arg(s: &str) -> Result<u64, String> {
    let d = parse_duration(s, std::time::Duration::from_secs(1))?;
    if d.subsec_nanos() != 0 {
        return Err(format!("{s:?}: this flag counts whole seconds"));
    }
    Ok(d.as_secs())
}

/// [`seconds_arg`], but at least one second.
pub fn positive_seconds_arg(s: &str) -> Result<u64, String> {
    match seconds_arg(s)? {
        0 => Err(format!("{s:?}: must be at least 1s")),
        n => Ok(n),
    }
}

/// A duration flag whose bare numbers are milliseconds, in milliseconds.
pub fn millis_arg(s: &str) -> Result<u64, String> {
    parse_duration(s, std::time::Duration::from_millis(1)).map(|d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_of_no_accepted_form_says_what_to_type() {
        let err = |s: &str| parse_since(s, Utc::now()).unwrap_err().to_string();
        for bad in ["yesterday", "2026-13-01", "2026-04-04T12:00", "1714521600x"] {
            let e = err(bad);
            assert!(e.contains("use today, 24h, 7d, YYYY-MM-DD"), "{bad}: {e}");
            assert!(
                !e.contains("premature") && !e.contains("input contains"),
                "{bad}: {e}"
            );
        }
        assert!(err("2026-13-01").contains("not a calendar date"));
        assert!(err("2026-04-04T12:00").contains("no time zone"));
        assert!(parse_since("2026-04-04T12:00:00+02:00", Utc::now()).is_ok());
    }

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

    #[test]
    fn durations_take_units_and_bare_numbers_keep_the_flags_unit() {
        assert_eq!(seconds_arg("90"), Ok(90));
        assert_eq!(seconds_arg("90s"), Ok(90));
        assert_eq!(seconds_arg("5m"), Ok(300));
        assert_eq!(seconds_arg("24h"), Ok(86_400));
        assert_eq!(seconds_arg("7d"), Ok(604_800));
        assert_eq!(seconds_arg("2000ms"), Ok(2));
        assert!(seconds_arg("1500ms").is_err());
        assert_eq!(millis_arg("250"), Ok(250));
        assert_eq!(millis_arg("2s"), Ok(2000));
        assert_eq!(seconds_arg("1h"), Ok(3600));
        for bad in ["", "m", "5 x", "5w", "-5s", "1.5h", "99999999999999999999s"] {
            let e = seconds_arg(bad).expect_err(bad);
            assert!(e.contains(bad.trim()) || bad.is_empty(), "{bad}: {e}");
        }
        assert!(seconds_arg("366d").is_ok());
        assert!(seconds_arg("367d").is_err(), "past a year");
    }
}
