//! `date_format(ts, fmt)`: format a timestamp (or date) in UTC with
//! MySQL-style specifiers, as Trino does (DataFusion's own `date_format` is
//! `to_char` with chrono specifiers, where `%i` fails and `%M` is minutes).

use std::sync::Arc;

use arrow::array::{AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use chrono::DateTime;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::mysql_format::to_chrono;
use super::{all_scalar, arrays, output, per_row, strings, text_type, time_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateFormat {
    signature: Signature,
}

impl DateFormat {
    pub fn new() -> DateFormat {
        DateFormat {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateFormat {
    fn name(&self) -> &str {
        "date_format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 2 {
            return exec_err!("date_format(timestamp, format) takes 2 arguments");
        }
        Ok(vec![
            time_type("date_format", &t[0])?,
            text_type("date_format", &t[1])?,
        ])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let ts = cast(&a[0], &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
        let ts = ts.as_primitive::<TimestampNanosecondType>();
        let fmts = strings(&a[1])?;
        let mut cached: Option<(String, String)> = None;
        let v = per_row(ts.len(), &[ts, &fmts], |i| {
            let f = fmts.value(i);
            let chrono_fmt = match &cached {
                Some((m, c)) if m == f => c.clone(),
                _ => {
                    let c = to_chrono(f, false)?;
                    cached = Some((f.to_string(), c.clone()));
                    c
                }
            };
            let t = DateTime::from_timestamp_nanos(ts.value(i));
            Ok(Some(t.format(&chrono_fmt).to_string()))
        })?;
        output(Arc::new(StringArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;
    use datafusion::common::ScalarValue;

    #[test]
    fn formats_like_trino() {
        let f = DateFormat::new();
        let t = DateTime::parse_from_rfc3339("2026-04-02T07:05:09.123Z").unwrap();
        let ts =
            ScalarValue::TimestampMillisecond(Some(t.timestamp_millis()), Some("+00:00".into()));
        assert_eq!(
            call(&f, vec![ts.clone(), s("%Y-%m-%dT%H:%i:%sZ")]).unwrap(),
            s("2026-04-02T07:05:09Z")
        );
        assert_eq!(
            call(&f, vec![ts.clone(), s("%M %e %f")]).unwrap(),
            s("April 2 123000")
        );
        assert!(call(&f, vec![ts.clone(), null()]).unwrap().is_null());
        assert!(
            call(&f, vec![ScalarValue::Null, s("%Y")])
                .unwrap()
                .is_null()
        );
        assert!(call(&f, vec![ts, s("%U")]).is_err());
    }
}
