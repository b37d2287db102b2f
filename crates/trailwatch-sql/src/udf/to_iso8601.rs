//! `to_iso8601(x)`: a date as `YYYY-MM-DD`; a timestamp as
//! `YYYY-MM-DDTHH:MM:SS.fff`, with `Z` when it carries the UTC zone (or
//! its `±hh:mm` offset for another zone). NULL in, NULL out.

use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{DataType, Date32Type, TimestampNanosecondType};
use chrono::{DateTime, FixedOffset, NaiveDate};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{all_scalar, arrays, output, time_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToIso8601 {
    signature: Signature,
}

impl ToIso8601 {
    pub fn new() -> ToIso8601 {
        ToIso8601 {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn offset_of(tz: &str) -> Option<FixedOffset> {
    if tz.eq_ignore_ascii_case("utc") || tz == "Z" {
        return FixedOffset::east_opt(0);
    }
    tz.parse::<FixedOffset>().ok()
}

impl ScalarUDFImpl for ToIso8601 {
    fn name(&self) -> &str {
        "to_iso8601"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 1 {
            return exec_err!("to_iso8601(x) takes 1 argument");
        }
        Ok(vec![time_type("to_iso8601", &t[0])?])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let out: Vec<Option<String>> = match a[0].data_type() {
            DataType::Date32 => {
                let d = a[0].as_primitive::<Date32Type>();
                (0..d.len())
                    .map(|i| {
                        (!d.is_null(i)).then(|| {
                            (NaiveDate::default() + chrono::Duration::days(i64::from(d.value(i))))
                                .format("%Y-%m-%d")
                                .to_string()
                        })
                    })
                    .collect()
            }
            DataType::Timestamp(_, tz) => {
                let x = a[0].as_primitive::<TimestampNanosecondType>();
                let offset = tz.as_deref().and_then(offset_of);
                (0..x.len())
                    .map(|i| {
                        (!x.is_null(i)).then(|| {
                            let t = DateTime::from_timestamp_nanos(x.value(i));
                            match offset {
                                Some(o) if o.local_minus_utc() == 0 => {
                                    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
                                }
                                Some(o) => t
                                    .with_timezone(&o)
                                    .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                                    .to_string(),
                                None => t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
                            }
                        })
                    })
                    .collect()
            }
            other => return exec_err!("to_iso8601: unsupported type {other}"),
        };
        output(Arc::new(StringArray::from(out)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, s};
    use super::*;
    use datafusion::common::ScalarValue;

    #[test]
    fn dates_and_timestamps_with_and_without_zone() {
        let f = ToIso8601::new();
        let utc = ScalarValue::TimestampMillisecond(Some(1_775_113_509_500), Some("+00:00".into()));
        assert_eq!(call(&f, vec![utc]).unwrap(), s("2026-04-02T07:05:09.500Z"));
        let naive = ScalarValue::TimestampMillisecond(Some(1_775_113_509_000), None);
        assert_eq!(call(&f, vec![naive]).unwrap(), s("2026-04-02T07:05:09.000"));
        let paris =
            ScalarValue::TimestampMillisecond(Some(1_775_113_509_000), Some("+02:00".into()));
        assert_eq!(
            call(&f, vec![paris]).unwrap(),
            s("2026-04-02T09:05:09.000+02:00")
        );
        assert_eq!(
            call(&f, vec![ScalarValue::Date32(Some(20_545))]).unwrap(),
            s("2026-04-02")
        );
        assert!(call(&f, vec![ScalarValue::Date32(None)]).unwrap().is_null());
        assert!(call(&f, vec![s("2026-04-02")]).is_err());
    }
}
