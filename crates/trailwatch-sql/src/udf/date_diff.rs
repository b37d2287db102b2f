//! `date_diff(unit, a, b)`: whole units from `a` to `b` (`b - a`),
//! truncated toward zero, as bigint. NULL in, NULL out.

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use chrono::DateTime;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::time_units::{Unit, diff};
use super::{all_scalar, arrays, output, per_row, strings, text_type, time_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateDiff {
    signature: Signature,
}

impl DateDiff {
    pub fn new() -> DateDiff {
        DateDiff {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        "date_diff"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 3 {
            return exec_err!("date_diff(unit, a, b) takes 3 arguments");
        }
        // Both sides as UTC nanosecond timestamps (dates at midnight).
        let ts = |x: &DataType| -> Result<DataType> {
            time_type("date_diff", x)?;
            Ok(DataType::Timestamp(
                TimeUnit::Nanosecond,
                Some(super::UTC.into()),
            ))
        };
        Ok(vec![text_type("date_diff", &t[0])?, ts(&t[1])?, ts(&t[2])?])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let units = strings(&a[0])?;
        let target = DataType::Timestamp(TimeUnit::Nanosecond, Some(super::UTC.into()));
        let x = cast(&a[1], &target)?;
        let y = cast(&a[2], &target)?;
        let x = x.as_primitive::<TimestampNanosecondType>();
        let y = y.as_primitive::<TimestampNanosecondType>();
        let v = per_row(x.len(), &[&units, x, y], |i| {
            let unit = Unit::parse(units.value(i))?;
            Ok(Some(diff(
                unit,
                DateTime::from_timestamp_nanos(x.value(i)),
                DateTime::from_timestamp_nanos(y.value(i)),
            )))
        })?;
        output(Arc::new(Int64Array::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, s, ts};
    use super::*;
    use datafusion::common::ScalarValue;

    #[test]
    fn counts_whole_units_toward_zero() {
        let f = DateDiff::new();
        let d = |u: &str, a: &str, b: &str| call(&f, vec![s(u), ts(a), ts(b)]).unwrap();
        assert_eq!(
            d("hour", "2026-04-01T00:00:00Z", "2026-04-01T05:59:59Z"),
            ScalarValue::Int64(Some(5))
        );
        assert_eq!(
            d("hour", "2026-04-01T05:59:59Z", "2026-04-01T00:00:00Z"),
            ScalarValue::Int64(Some(-5))
        );
        // As Joda does: Jan 31 plus one month is Feb 28 (clamped), so a whole month.
        assert_eq!(
            d("month", "2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"),
            ScalarValue::Int64(Some(1))
        );
        assert_eq!(
            d("month", "2026-01-31T00:00:00Z", "2026-02-27T00:00:00Z"),
            ScalarValue::Int64(Some(0))
        );
        assert_eq!(
            d("month", "2026-01-15T00:00:00Z", "2026-03-15T00:00:00Z"),
            ScalarValue::Int64(Some(2))
        );
        assert_eq!(
            d("year", "2020-06-01T00:00:00Z", "2026-05-31T00:00:00Z"),
            ScalarValue::Int64(Some(5))
        );
        assert_eq!(
            d("day", "2026-04-01T00:00:00Z", "2026-04-08T00:00:00Z"),
            ScalarValue::Int64(Some(7))
        );
    }

    #[test]
    fn null_and_bad_unit() {
        let f = DateDiff::new();
        let r = call(
            &f,
            vec![s("day"), ScalarValue::Null, ts("2026-04-01T00:00:00Z")],
        )
        .unwrap();
        assert!(r.is_null());
        assert!(
            call(
                &f,
                vec![
                    s("eon"),
                    ts("2026-04-01T00:00:00Z"),
                    ts("2026-04-01T00:00:00Z")
                ]
            )
            .is_err()
        );
    }
}
