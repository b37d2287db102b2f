//! Trino's date/time units (`date_add`, `date_diff`): parsing, adding and
//! counting whole units, with months clamped to the month's end.

use chrono::{DateTime, Duration, Months, Utc};
use datafusion::common::{Result, exec_err};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    /// Case-insensitive, as Trino reads it.
    pub fn parse(s: &str) -> Result<Unit> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "millisecond" => Unit::Millisecond,
            "second" => Unit::Second,
            "minute" => Unit::Minute,
            "hour" => Unit::Hour,
            "day" => Unit::Day,
            "week" => Unit::Week,
            "month" => Unit::Month,
            "quarter" => Unit::Quarter,
            "year" => Unit::Year,
            _ => return exec_err!("'{s}' is not a valid time unit"),
        })
    }

    /// Units below a day, which dates cannot take.
    pub fn is_time_of_day(self) -> bool {
        matches!(
            self,
            Unit::Millisecond | Unit::Second | Unit::Minute | Unit::Hour
        )
    }

    fn months(self) -> Option<i64> {
        match self {
            Unit::Month => Some(1),
            Unit::Quarter => Some(3),
            Unit::Year => Some(12),
            _ => None,
        }
    }

    fn fixed(self) -> Duration {
        match self {
            Unit::Millisecond => Duration::milliseconds(1),
            Unit::Second => Duration::seconds(1),
            Unit::Minute => Duration::minutes(1),
            Unit::Hour => Duration::hours(1),
            Unit::Day => Duration::days(1),
            Unit::Week => Duration::weeks(1),
            // Month-based units never reach here.
            Unit::Month | Unit::Quarter | Unit::Year => Duration::zero(),
        }
    }
}

/// `t + n units`; `None` on overflow.
pub fn add(t: DateTime<Utc>, unit: Unit, n: i64) -> Option<DateTime<Utc>> {
    match unit.months() {
        Some(m) => {
            let total = n.checked_mul(m)?;
            let months = Months::new(u32::try_from(total.unsigned_abs()).ok()?);
            if total >= 0 {
                t.checked_add_months(months)
            } else {
                t.checked_sub_months(months)
            }
        }
        None => t.checked_add_signed(unit.fixed().checked_mul(i32::try_from(n).ok()?)?),
    }
}

/// Whole units from `a` to `b`, truncated toward zero.
pub fn diff(unit: Unit, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    match unit.months() {
        Some(m) => {
            use chrono::Datelike;
            let mut months = (i64::from(b.year()) - i64::from(a.year())) * 12
                + i64::from(b.month())
                - i64::from(a.month());
            // A month is whole only once the day and time are reached again.
            if months > 0 && add(a, Unit::Month, months).is_some_and(|x| x > b) {
                months -= 1;
            } else if months < 0 && add(a, Unit::Month, months).is_some_and(|x| x < b) {
                months += 1;
            }
            months / m
        }
        None => {
            let d = b - a;
            let unit_ns = unit.fixed().num_nanoseconds().unwrap_or(1).max(1);
            match d.num_nanoseconds() {
                Some(ns) => ns / unit_ns,
                None => d.num_milliseconds() / (unit_ns / 1_000_000).max(1),
            }
        }
    }
}
