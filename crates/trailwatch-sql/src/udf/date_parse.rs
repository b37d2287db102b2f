//! `date_parse(s, fmt)`: parse text with MySQL-style specifiers into a
//! `timestamp(3)`; text that does not match is an error, as in Trino.

use std::sync::Arc;

use arrow::array::{Array, TimestampMillisecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::mysql_format::to_chrono;
use super::{all_scalar, arrays, output, strings, text_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateParse {
    signature: Signature,
}

impl DateParse {
    pub fn new() -> DateParse {
        DateParse {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Parse with a chrono format; a format without a time parses as midnight.
pub(crate) fn parse_naive(text: &str, chrono_fmt: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, chrono_fmt)
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, chrono_fmt)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

impl ScalarUDFImpl for DateParse {
    fn name(&self) -> &str {
        "date_parse"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 2 {
            return exec_err!("date_parse(string, format) takes 2 arguments");
        }
        Ok(vec![
            text_type("date_parse", &t[0])?,
            text_type("date_parse", &t[1])?,
        ])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Millisecond, None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let texts = strings(&a[0])?;
        let fmts = strings(&a[1])?;
        let mut v = Vec::with_capacity(texts.len());
        // The format is translated once (it is a constant in practice; a
        // column of formats is translated when it changes).
        let mut translated: Option<(&str, String)> = None;
        for i in 0..texts.len() {
            if texts.is_null(i) || fmts.is_null(i) {
                v.push(None);
                continue;
            }
            let given = fmts.value(i);
            if translated.as_ref().is_none_or(|(f, _)| *f != given) {
                translated = Some((given, to_chrono(given, true)?));
            }
            let Some((_, fmt)) = &translated else {
                unreachable!("translated just above")
            };
            match parse_naive(texts.value(i), fmt) {
                Some(t) => v.push(Some(t.and_utc().timestamp_millis())),
                None => {
                    return exec_err!(
                        "Invalid format: \"{}\" does not match \"{}\"",
                        texts.value(i),
                        fmts.value(i)
                    );
                }
            }
        }
        output(Arc::new(TimestampMillisecondArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;
    use datafusion::common::ScalarValue;

    #[test]
    fn parses_mysql_formats_and_refuses_mismatches() {
        let f = DateParse::new();
        let r = call(&f, vec![s("2026-04-02 07:05:09"), s("%Y-%m-%d %H:%i:%s")]).unwrap();
        assert_eq!(
            r,
            ScalarValue::TimestampMillisecond(Some(1_775_113_509_000), None)
        );
        let r = call(&f, vec![s("2026/04/02"), s("%Y/%m/%d")]).unwrap();
        assert_eq!(
            r,
            ScalarValue::TimestampMillisecond(Some(1_775_088_000_000), None)
        );
        assert!(call(&f, vec![null(), s("%Y")]).unwrap().is_null());
        assert!(call(&f, vec![s("yesterday"), s("%Y-%m-%d")]).is_err());
    }
}
