//! `from_iso8601_timestamp(s)`: an ISO-8601 date or date-time (optional
//! fraction, `Z` or `±hh:mm`; no zone means UTC, Athena's session zone) as
//! `timestamp(3) with time zone`. Text that is not ISO-8601 is an error.

use std::sync::Arc;

use arrow::array::{Array, TimestampMillisecondArray};
use arrow::datatypes::DataType;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{UTC, all_scalar, arrays, output, per_row, strings, text_type, ts_ms_utc};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FromIso8601Timestamp {
    signature: Signature,
}

impl FromIso8601Timestamp {
    pub fn new() -> FromIso8601Timestamp {
        FromIso8601Timestamp {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Parse ISO-8601 (the forms CloudTrail and people write).
pub(crate) fn parse_iso8601(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

impl ScalarUDFImpl for FromIso8601Timestamp {
    fn name(&self) -> &str {
        "from_iso8601_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 1 {
            return exec_err!("from_iso8601_timestamp(string) takes 1 argument");
        }
        Ok(vec![text_type("from_iso8601_timestamp", &t[0])?])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(ts_ms_utc())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let texts = strings(&a[0])?;
        let v = per_row(texts.len(), &[&texts], |i| {
            match parse_iso8601(texts.value(i)) {
                Some(t) => Ok(Some(t.timestamp_millis())),
                None => exec_err!("Invalid format: \"{}\" is not ISO 8601", texts.value(i)),
            }
        })?;
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
    fn parses_cloudtrail_times_dates_and_offsets() {
        let f = FromIso8601Timestamp::new();
        assert_eq!(
            call(&f, vec![s("2026-04-02T07:05:09Z")]).unwrap(),
            ms(1_775_113_509_000)
        );
        assert_eq!(
            call(&f, vec![s("2026-04-02T09:05:09.5+02:00")]).unwrap(),
            ms(1_775_113_509_500)
        );
        assert_eq!(
            call(&f, vec![s("2026-04-02")]).unwrap(),
            ms(1_775_088_000_000)
        );
        assert_eq!(
            call(&f, vec![s("2026-04-02T07:05:09")]).unwrap(),
            ms(1_775_113_509_000)
        );
        assert!(call(&f, vec![null()]).unwrap().is_null());
        assert!(call(&f, vec![s("04/02/2026")]).is_err());
    }
}
