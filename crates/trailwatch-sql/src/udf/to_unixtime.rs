//! `to_unixtime(ts)`: seconds since the epoch as a **double**, keeping the
//! fraction (DataFusion's namesake returns whole seconds as bigint).

use std::sync::Arc;

use arrow::array::{Array, Float64Array, TimestampNanosecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{all_scalar, arrays, output, time_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToUnixtime {
    signature: Signature,
}

impl ToUnixtime {
    pub fn new() -> ToUnixtime {
        ToUnixtime {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ToUnixtime {
    fn name(&self) -> &str {
        "to_unixtime"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 1 {
            return exec_err!("to_unixtime(timestamp) takes 1 argument");
        }
        Ok(vec![time_type("to_unixtime", &t[0])?])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let nanos = cast(&a[0], &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
        let Some(nanos) = nanos.as_any().downcast_ref::<TimestampNanosecondArray>() else {
            return exec_err!("to_unixtime: expected a timestamp");
        };
        let v: Float64Array = nanos
            .iter()
            // Whole seconds and the fraction apart: dividing the nanosecond
            // count as one f64 would round 0.25 s to 0.2499998.
            .map(|n| {
                n.map(|n| {
                    n.div_euclid(1_000_000_000) as f64 + n.rem_euclid(1_000_000_000) as f64 / 1e9
                })
            })
            .collect();
        output(Arc::new(v), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, ms, ts};
    use super::*;
    use datafusion::common::ScalarValue;

    #[test]
    fn keeps_the_fraction() {
        let f = ToUnixtime::new();
        assert_eq!(
            call(&f, vec![ms(1_775_000_000_250)]).unwrap(),
            ScalarValue::Float64(Some(1_775_000_000.25))
        );
        assert_eq!(
            call(&f, vec![ts("1970-01-01T00:01:00Z")]).unwrap(),
            ScalarValue::Float64(Some(60.0))
        );
        let null = ScalarValue::TimestampMillisecond(None, Some(super::super::UTC.into()));
        assert!(call(&f, vec![null]).unwrap().is_null());
    }
}
