//! Durations in the config file, written as the flags take them (`"90s"`,
//! `"5m"`, `"24h"`, `"7d"`), so a value copied from a command line works
//! in the file; a bare number keeps the key's old unit (seconds, or
//! milliseconds for `poll`), so existing files still read the same.

use std::fmt;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use super::Config;
use crate::timespec::parse_duration;

/// A duration as written: a number in the key's unit, or text with a unit.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum DurationValue {
    Number(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DurationValue, D::Error> {
        struct Either;
        impl Visitor<'_> for Either {
            type Value = DurationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"90s\", \"5m\" or \"24h\", or a bare number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationValue, E> {
                Ok(DurationValue::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationValue, E> {
                i64::try_from(v)
                    .map(DurationValue::Number)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationValue, E> {
                Ok(DurationValue::Text(v.to_string()))
            }
        }
        d.deserialize_any(Either)
    }
}

impl Config {
    /// `file`'s duration as a whole number of `unit` (a bare number is
    /// already one); the error names the key and where it was written.
    /// Negative numbers pass through for the range check to refuse with
    /// the usual message.
    pub(super) fn duration_in(
        &self,
        key: &str,
        file: &Option<Spanned<DurationValue>>,
        unit: Duration,
    ) -> Result<Option<Spanned<i64>>> {
        let Some(v) = file else {
            return Ok(None);
        };
        let n = match v.get_ref() {
            DurationValue::Number(n) => *n,
            DurationValue::Text(t) => {
                let whole = |d: Duration| {
                    let (d, u) = (d.as_nanos(), unit.as_nanos());
                    (d % u == 0).then(|| (d / u) as i64)
                };
                match parse_duration(t, unit).map(whole) {
                    Ok(Some(n)) => n,
                    Ok(None) => bail!(
                        "{key} = {t:?} (from {}) is not a whole number of {}",
                        self.file_setting(v).from,
                        unit_name(unit)
                    ),
                    Err(why) => bail!("{key} (from {}): {why}", self.file_setting(v).from),
                }
            }
        };
        Ok(Some(Spanned::new(v.span(), n)))
    }
}

fn unit_name(unit: Duration) -> &'static str {
    if unit == Duration::from_millis(1) {
        "milliseconds"
    } else {
        "seconds"
    }
}

/// `n` of `unit` as the flags write it (`300s`, `1000ms`), for `config
/// check`.
pub(super) fn shown(n: i64, unit: Duration) -> String {
    if unit == Duration::from_millis(1) {
        format!("{n}ms")
    } else {
        format!("{n}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct One {
        d: Spanned<DurationValue>,
    }

    fn read(text: &str) -> Result<Option<Spanned<i64>>> {
        let one: One = toml::from_str(text)?;
        let cfg = Config::default();
        cfg.duration_in("watch.d", &Some(one.d), Duration::from_secs(1))
    }

    #[test]
    fn units_and_bare_numbers_both_read() {
        let n = |t: &str| read(t).unwrap().map(|s| s.into_inner());
        assert_eq!(n("d = \"5m\""), Some(300));
        assert_eq!(n("d = 300"), Some(300));
        assert_eq!(n("d = \"2h\""), Some(7200));
        assert_eq!(n("d = -5"), Some(-5));
    }

    #[test]
    fn bad_text_says_what_is_accepted() {
        let err = read("d = \"5 minutes\"").unwrap_err().to_string();
        assert!(
            err.contains("watch.d") && err.contains("use ms, s, m, h or d"),
            "{err}"
        );
        let err = read("d = \"1500ms\"").unwrap_err().to_string();
        assert!(err.contains("whole number of seconds"), "{err}");
        let err = match toml::from_str::<One>("d = true") {
            Ok(_) => panic!("a boolean is no duration"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("a duration such as"), "{err}");
    }
}
