//! `date_add(unit, n, x)`: `x` plus `n` units (`millisecond` … `year`,
//! case-insensitive); months clamp to the month's end; dates take only
//! day units and larger. Returns `x`'s type; NULL in, NULL out.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Date32Array, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Date32Type, TimestampNanosecondType};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::time_units::{Unit, add};
use super::{all_scalar, arrays, int_type, ints, output, strings, text_type, time_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateAdd {
    signature: Signature,
}

impl DateAdd {
    pub fn new() -> DateAdd {
        DateAdd {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::default()
}

impl ScalarUDFImpl for DateAdd {
    fn name(&self) -> &str {
        "date_add"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 3 {
            return exec_err!("date_add(unit, value, timestamp) takes 3 arguments");
        }
        Ok(vec![
            text_type("date_add", &t[0])?,
            int_type("date_add", &t[1])?,
            time_type("date_add", &t[2])?,
        ])
    }

    fn return_type(&self, t: &[DataType]) -> Result<DataType> {
        Ok(t[2].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let units = strings(&a[0])?;
        let ns = ints(&a[1])?;
        let parse = |i: usize| -> Result<Option<(Unit, i64)>> {
            if units.is_null(i) || ns.is_null(i) {
                return Ok(None);
            }
            Ok(Some((Unit::parse(units.value(i))?, ns.value(i))))
        };
        let out: Arc<dyn Array> = match a[2].data_type() {
            DataType::Date32 => {
                let d = a[2].as_primitive::<Date32Type>();
                let mut v = Vec::with_capacity(d.len());
                for i in 0..d.len() {
                    let (Some((unit, n)), false) = (parse(i)?, d.is_null(i)) else {
                        v.push(None);
                        continue;
                    };
                    if unit.is_time_of_day() {
                        return exec_err!("date_add: a date cannot take {unit:?} units");
                    }
                    let day = epoch() + chrono::Duration::days(i64::from(d.value(i)));
                    let t = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
                    let r = t.and_then(|t| add(t, unit, n));
                    v.push(r.map(|r| (r.date_naive() - epoch()).num_days() as i32));
                }
                Arc::new(Date32Array::from(v))
            }
            DataType::Timestamp(_, tz) => {
                let x = a[2].as_primitive::<TimestampNanosecondType>();
                let mut v = Vec::with_capacity(x.len());
                for i in 0..x.len() {
                    let (Some((unit, n)), false) = (parse(i)?, x.is_null(i)) else {
                        v.push(None);
                        continue;
                    };
                    let t: DateTime<Utc> = DateTime::from_timestamp_nanos(x.value(i));
                    match add(t, unit, n).and_then(|r| r.timestamp_nanos_opt()) {
                        Some(r) => v.push(Some(r)),
                        None => return exec_err!("date_add: result out of range"),
                    }
                }
                Arc::new(TimestampNanosecondArray::from(v).with_timezone_opt(tz.clone()))
            }
            other => return exec_err!("date_add: unsupported type {other}"),
        };
        output(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, s, ts};
    use super::*;
    use datafusion::common::ScalarValue;

    #[test]
    fn adds_units_and_clamps_months() {
        let f = DateAdd::new();
        let r = call(
            &f,
            vec![
                s("hour"),
                ScalarValue::Int64(Some(-24)),
                ts("2026-04-02T10:00:00Z"),
            ],
        );
        assert_eq!(r.unwrap(), ts("2026-04-01T10:00:00Z"));
        let r = call(
            &f,
            vec![
                s("MONTH"),
                ScalarValue::Int64(Some(1)),
                ts("2012-10-31T00:00:00Z"),
            ],
        );
        assert_eq!(r.unwrap(), ts("2012-11-30T00:00:00Z"));
        let r = call(
            &f,
            vec![
                s("quarter"),
                ScalarValue::Int32(Some(-1)),
                ts("2024-05-31T12:00:00Z"),
            ],
        );
        assert_eq!(r.unwrap(), ts("2024-02-29T12:00:00Z"));
        let d = call(
            &f,
            vec![
                s("day"),
                ScalarValue::Int64(Some(3)),
                ScalarValue::Date32(Some(0)),
            ],
        );
        assert_eq!(d.unwrap(), ScalarValue::Date32(Some(3)));
    }

    #[test]
    fn nulls_give_null_and_bad_units_are_errors() {
        let f = DateAdd::new();
        let r = call(
            &f,
            vec![
                s("day"),
                ScalarValue::Int64(None),
                ts("2026-04-02T10:00:00Z"),
            ],
        )
        .unwrap();
        assert!(r.is_null());
        let r = call(
            &f,
            vec![s("day"), ScalarValue::Int64(Some(1)), ScalarValue::Null],
        )
        .unwrap();
        assert!(r.is_null());
        assert!(
            call(
                &f,
                vec![
                    s("fortnight"),
                    ScalarValue::Int64(Some(1)),
                    ts("2026-04-02T10:00:00Z")
                ]
            )
            .is_err()
        );
        assert!(
            call(
                &f,
                vec![
                    s("hour"),
                    ScalarValue::Int64(Some(1)),
                    ScalarValue::Date32(Some(0))
                ]
            )
            .is_err()
        );
    }
}
