//! `parse_datetime(s, pattern)`: parse text with a Joda-Time pattern (as
//! Trino does) into `timestamp(3) with time zone`; a pattern without a zone
//! means UTC. Unsupported pattern letters and text that does not match are
//! errors (`athena-sql-dialect.md` §4).

use std::sync::Arc;

use arrow::array::{Array, TimestampMillisecondArray};
use arrow::datatypes::DataType;
use chrono::DateTime;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::date_parse::parse_naive;
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

/// Translate a Joda pattern to chrono; returns it and whether it has a zone.
pub(crate) fn joda_to_chrono(pattern: &str) -> Result<(String, bool)> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut zoned = false;
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
                if chars[i] == '%' {
                    out.push_str("%%");
                } else {
                    out.push(chars[i]);
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if c == '%' {
                out.push_str("%%");
            } else {
                out.push(c);
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let t = match (c, n) {
            ('y' | 'Y' | 'x', 2) => "%y",
            ('y' | 'Y', _) => "%Y",
            ('x', _) => "%G",
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
            ('k', _) => "%H",
            ('K', _) => "%-I",
            ('h', 1) => "%-I",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', _) => "%.f",
            ('Z', 1) => {
                zoned = true;
                "%z"
            }
            ('Z', 2) => {
                zoned = true;
                "%:z"
            }
            _ => return exec_err!("parse_datetime: pattern letter '{c}' is not supported"),
        };
        // chrono reads "%.f" with its leading dot; Joda's S follows a
        // literal dot already written, so take that dot back.
        if t == "%.f" && out.ends_with('.') {
            out.pop();
        }
        out.push_str(t);
        i += n;
    }
    Ok((out, zoned))
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
        for i in 0..texts.len() {
            if texts.is_null(i) || pats.is_null(i) {
                v.push(None);
                continue;
            }
            let (fmt, zoned) = joda_to_chrono(pats.value(i))?;
            let text = texts.value(i);
            let parsed = if zoned {
                DateTime::parse_from_str(text, &fmt)
                    .ok()
                    .map(|t| t.timestamp_millis())
            } else {
                parse_naive(text, &fmt).map(|t| t.and_utc().timestamp_millis())
            };
            match parsed {
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

    #[test]
    fn joda_patterns_translate() {
        assert_eq!(
            joda_to_chrono("yyyy-MM-dd'T'HH:mm:ss.SSSZZ").unwrap(),
            ("%Y-%m-%dT%H:%M:%S%.f%:z".to_string(), true)
        );
        assert_eq!(joda_to_chrono("yyyy/MM/dd").unwrap().0, "%Y/%m/%d");
        assert!(joda_to_chrono("GGGG").is_err());
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
