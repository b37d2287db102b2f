//! `parse_datetime(s, pattern)`: parse text with a Joda-Time pattern (as
//! Trino does) into `timestamp(3) with time zone`; a pattern without a zone
//! means UTC. Unsupported pattern letters and text that does not match are
//! errors (`athena-sql-dialect.md` §4).

use std::sync::Arc;

use arrow::array::{Array, TimestampMillisecondArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{UTC, all_scalar, arrays, output, strings, text_type, ts_ms_utc};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ParseDatetime {
    signature: Signature,
}

impl ParseDatetime {
    pub fn new() -> ParseDatetime {
        ParseDatetime {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// One piece of a compiled Joda pattern.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// What chrono parses: a strftime format.
    Chrono(String),
    /// `k`: the hour of the day counted 1–24 (24 is midnight).
    ClockHour,
    /// `K`: the hour of the half day, 0–11.
    HalfDayHour,
    /// `S`: the fraction of the second, one to nine digits, whatever
    /// precedes it (chrono's `%.f` wants a dot before it).
    Fraction,
}

/// A Joda pattern, compiled once per statement: pieces chrono parses and
/// the fields it has no format for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JodaPattern {
    pieces: Vec<Piece>,
    /// It has a zone (`Z`, `ZZ`).
    zoned: bool,
    /// It has a halfday (`a`).
    ampm: bool,
    /// It names a week-based year (`x`): month and day are not defaulted.
    week_based: bool,
}

impl JodaPattern {
    /// Compile `pattern`; an unsupported letter is an error.
    ///
    /// Long for a reason: one match over Joda-Time's pattern letters, an
    /// arm each, as Joda's own table lists them.
    pub(crate) fn compile(pattern: &str) -> Result<JodaPattern> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pieces = Vec::new();
        let mut out = String::new();
        let mut p = JodaPattern {
            pieces: Vec::new(),
            zoned: false,
            ampm: false,
            week_based: false,
        };
        let literal = |out: &mut String, c: char| {
            if c == '%' {
                out.push_str("%%");
            } else {
                out.push(c);
            }
        };
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // Quoted literal; '' is a quote.
                if chars.get(i + 1) == Some(&'\'') {
                    out.push('\'');
                    i += 2;
                    continue;
                }
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            out.push('\'');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    literal(&mut out, chars[i]);
                    i += 1;
                }
                i += 1;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                literal(&mut out, c);
                i += 1;
                continue;
            }
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            i += n;
            let special = match c {
                'k' => Some(Piece::ClockHour),
                'K' => Some(Piece::HalfDayHour),
                'S' => Some(Piece::Fraction),
                _ => None,
            };
            if let Some(piece) = special {
                if !out.is_empty() {
                    pieces.push(Piece::Chrono(std::mem::take(&mut out)));
                }
                pieces.push(piece);
                continue;
            }
            let t = match (c, n) {
                ('y' | 'Y', 2) => "%y",
                ('y' | 'Y', _) => "%Y",
                // The week-based year (ISO 8601), two digits or whole.
                ('x', 2) => "%g",
                ('x', _) => "%G",
                ('w', 1) => "%-V",
                ('w', _) => "%V",
                ('M', 1) => "%-m",
                ('M', 2) => "%m",
                ('M', 3) => "%b",
                ('M', _) => "%B",
                ('d', 1) => "%-d",
                ('d', _) => "%d",
                ('D', _) => "%j",
                ('e', _) => "%u",
                ('E', 1..=3) => "%a",
                ('E', _) => "%A",
                ('a', _) => "%p",
                ('H', 1) => "%-H",
                ('H', _) => "%H",
                ('h', 1) => "%-I",
                ('h', _) => "%I",
                ('m', 1) => "%-M",
                ('m', _) => "%M",
                ('s', 1) => "%-S",
                ('s', _) => "%S",
                ('Z', 1) => "%z",
                ('Z', 2) => "%:z",
                _ => return exec_err!("parse_datetime: pattern letter '{c}' is not supported"),
            };
            p.zoned |= c == 'Z';
            p.ampm |= c == 'a';
            p.week_based |= c == 'x';
            out.push_str(t);
        }
        if !out.is_empty() {
            pieces.push(Piece::Chrono(out));
        }
        p.pieces = pieces;
        Ok(p)
    }

    /// Parse `text` as a whole; epoch milliseconds (UTC when the pattern
    /// has no zone). Fields the pattern lacks take Joda's defaults (1970,
    /// January, the 1st, midnight).
    pub(crate) fn parse(&self, text: &str) -> Option<i64> {
        use chrono::format::{Parsed, StrftimeItems, parse_and_remainder};
        let mut parsed = Parsed::new();
        let mut rest = text;
        for piece in &self.pieces {
            rest = match piece {
                Piece::Chrono(f) => {
                    parse_and_remainder(&mut parsed, rest, StrftimeItems::new(f)).ok()?
                }
                Piece::ClockHour => {
                    let (v, r) = digits(rest, 2)?;
                    if !(1..=24).contains(&v) {
                        return None;
                    }
                    parsed.set_hour(v % 24).ok()?;
                    r
                }
                Piece::HalfDayHour => {
                    let (v, r) = digits(rest, 2)?;
                    if v > 11 {
                        return None;
                    }
                    // chrono counts the half day's hours 1–12 (12 is 0).
                    parsed.set_hour12(if v == 0 { 12 } else { v }).ok()?;
                    r
                }
                Piece::Fraction => {
                    let (v, r) = digits(rest, 9)?;
                    let len = rest.len() - r.len();
                    parsed.set_nanosecond(v * 10_i64.pow(9 - len as u32)).ok()?;
                    r
                }
            };
        }
        if !rest.is_empty() {
            return None;
        }
        // Joda's defaults for what the pattern does not give.
        if parsed.hour_div_12().is_none() {
            if self.ampm {
                return None;
            }
            if parsed.hour_mod_12().is_some() {
                // `K` or `h` without `a`: the morning.
                parsed.set_ampm(false).ok()?;
            } else {
                parsed.set_hour(0).ok()?;
            }
        }
        if parsed.minute().is_none() {
            parsed.set_minute(0).ok()?;
        }
        if !self.week_based {
            if parsed.year().is_none() && parsed.year_mod_100().is_none() {
                parsed.set_year(1970).ok()?;
            }
            if parsed.month().is_none() && parsed.ordinal().is_none() {
                parsed.set_month(1).ok()?;
            }
            if parsed.day().is_none() && parsed.ordinal().is_none() {
                parsed.set_day(1).ok()?;
            }
        }
        if self.zoned {
            parsed.to_datetime().ok().map(|t| t.timestamp_millis())
        } else {
            let date = parsed.to_naive_date().ok()?;
            let time = parsed.to_naive_time().ok()?;
            Some(date.and_time(time).and_utc().timestamp_millis())
        }
    }
}

/// A run of one to `max` ASCII digits at the start of `s`, and the rest.
fn digits(s: &str, max: usize) -> Option<(i64, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

impl ScalarUDFImpl for ParseDatetime {
    fn name(&self) -> &str {
        "parse_datetime"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 2 {
            return exec_err!("parse_datetime(string, pattern) takes 2 arguments");
        }
        Ok(vec![
            text_type("parse_datetime", &t[0])?,
            text_type("parse_datetime", &t[1])?,
        ])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(ts_ms_utc())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let texts = strings(&a[0])?;
        let pats = strings(&a[1])?;
        let mut v = Vec::with_capacity(texts.len());
        // The pattern is compiled once (it is a constant in practice; a
        // column of patterns is compiled when it changes).
        let mut compiled: Option<(&str, JodaPattern)> = None;
        for i in 0..texts.len() {
            if texts.is_null(i) || pats.is_null(i) {
                v.push(None);
                continue;
            }
            let pat = pats.value(i);
            if compiled.as_ref().is_none_or(|(p, _)| *p != pat) {
                compiled = Some((pat, JodaPattern::compile(pat)?));
            }
            let Some((_, joda)) = &compiled else {
                unreachable!("compiled just above")
            };
            let text = texts.value(i);
            match joda.parse(text) {
                Some(ms) => v.push(Some(ms)),
                None => {
                    return exec_err!(
                        "Invalid format: \"{text}\" does not match \"{}\"",
                        pats.value(i)
                    );
                }
            }
        }
        output(
            Arc::new(TimestampMillisecondArray::from(v).with_timezone(UTC)),
            scalar,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, ms, null, s};
    use super::*;

    /// Joda-Time's letters as Trino documents them (its parse_datetime
    /// takes Joda patterns): each row a text, a pattern and the instant
    /// (UTC), or None where Trino refuses the text.
    #[test]
    fn joda_letters_parse_as_trino_documents_them() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "2026-04-02 07:05:09",
                "yyyy-MM-dd HH:mm:ss",
                Some("2026-04-02T07:05:09.000"),
            ),
            (
                "2026-04-02T09:05:09.5+02:00",
                "yyyy-MM-dd'T'HH:mm:ss.SSSZZ",
                Some("2026-04-02T07:05:09.500"),
            ),
            (
                "2026-04-02 07:05:09 +0200",
                "yyyy-MM-dd HH:mm:ss Z",
                Some("2026-04-02T05:05:09.000"),
            ),
            // k: clock hour 1-24, 24 being midnight of the same day.
            (
                "2026-04-02 24:15",
                "yyyy-MM-dd kk:mm",
                Some("2026-04-02T00:15:00.000"),
            ),
            (
                "2026-04-02 13:15",
                "yyyy-MM-dd kk:mm",
                Some("2026-04-02T13:15:00.000"),
            ),
            ("2026-04-02 00:15", "yyyy-MM-dd kk:mm", None),
            // K: hour of the half day 0-11, with the halfday.
            (
                "2026-04-02 00:30 PM",
                "yyyy-MM-dd KK:mm a",
                Some("2026-04-02T12:30:00.000"),
            ),
            (
                "2026-04-02 11:30 PM",
                "yyyy-MM-dd KK:mm a",
                Some("2026-04-02T23:30:00.000"),
            ),
            (
                "2026-04-02 00:30 AM",
                "yyyy-MM-dd KK:mm a",
                Some("2026-04-02T00:30:00.000"),
            ),
            ("2026-04-02 12:30 AM", "yyyy-MM-dd KK:mm a", None),
            // h: clock hour of the half day 1-12.
            (
                "2026-04-02 12:30 AM",
                "yyyy-MM-dd hh:mm a",
                Some("2026-04-02T00:30:00.000"),
            ),
            // xx, ww, e: the week-based year, its week and the day of week.
            ("26-14-4", "xx-ww-e", Some("2026-04-02T00:00:00.000")),
            (
                "2026-W14-4",
                "xxxx-'W'ww-e",
                Some("2026-04-02T00:00:00.000"),
            ),
            // S after any separator, or none.
            (
                "2026-04-02 07:05:09,250",
                "yyyy-MM-dd HH:mm:ss,SSS",
                Some("2026-04-02T07:05:09.250"),
            ),
            (
                "20260402070509123",
                "yyyyMMddHHmmssSSS",
                Some("2026-04-02T07:05:09.123"),
            ),
            ("07:05:09:7", "HH:mm:ss:S", Some("1970-01-01T07:05:09.700")),
            // Names, day of year, literals with '' and %.
            (
                "Thu, 02 Apr 2026",
                "EEE, dd MMM yyyy",
                Some("2026-04-02T00:00:00.000"),
            ),
            ("2026.092", "yyyy.DDD", Some("2026-04-02T00:00:00.000")),
            (
                "7 o'clock, 100%",
                "H 'o''clock', '100%'",
                Some("1970-01-01T07:00:00.000"),
            ),
            ("2026-04-02 extra", "yyyy-MM-dd", None),
            ("2026-02-30", "yyyy-MM-dd", None),
        ];
        for (text, pattern, want) in cases {
            let got = JodaPattern::compile(pattern)
                .unwrap_or_else(|e| panic!("{pattern}: {e}"))
                .parse(text)
                .map(|ms| {
                    chrono::DateTime::from_timestamp_millis(ms)
                        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string())
                        .unwrap_or_default()
                });
            assert_eq!(
                got.as_deref(),
                *want,
                "parse_datetime('{text}', '{pattern}')"
            );
        }
        assert!(JodaPattern::compile("GGGG").is_err());
    }

    #[test]
    fn parses_with_and_without_zone() {
        let f = ParseDatetime::new();
        let r = call(&f, vec![s("2026-04-02 07:05:09"), s("yyyy-MM-dd HH:mm:ss")]).unwrap();
        assert_eq!(r, ms(1_775_113_509_000));
        let r = call(
            &f,
            vec![
                s("2026-04-02T09:05:09.500+02:00"),
                s("yyyy-MM-dd'T'HH:mm:ss.SSSZZ"),
            ],
        )
        .unwrap();
        assert_eq!(r, ms(1_775_113_509_500));
        assert!(call(&f, vec![null(), s("yyyy")]).unwrap().is_null());
        assert!(call(&f, vec![s("not a date"), s("yyyy-MM-dd")]).is_err());
    }
}
