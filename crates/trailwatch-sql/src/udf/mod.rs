//! Trino functions CloudTrail investigations use, as DataFusion UDFs: one
//! file per function, registered by [`register`]. Functions DataFusion has
//! with other semantics (`date_format`, `split_part`, `element_at`,
//! `contains`, `regexp_replace`, `substr`, `replace`, `to_unixtime`) are
//! replaced; the rest of the Athena dialect
//! (`regexp_like`, `cardinality`, `approx_distinct`, `array_agg(DISTINCT)`,
//! `try_cast`, `from_unixtime`) is native (`athena-sql-dialect.md` §2).

mod contains;
mod date_add;
mod date_diff;
mod date_format;
mod date_parse;
mod element_at;
mod from_iso8601_timestamp;
mod json_array_contains;
mod json_extract;
mod json_extract_scalar;
mod json_size;
mod jsonpath;
mod mysql_format;
mod parse_datetime;
mod regexp_extract;
mod regexp_replace;
mod replace;
mod split_part;
mod substr;
mod time_units;
mod to_iso8601;
mod to_unixtime;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF};
use datafusion::prelude::SessionContext;

/// Every function of this module.
pub fn all() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(date_add::DateAdd::new()),
        ScalarUDF::from(date_diff::DateDiff::new()),
        ScalarUDF::from(date_format::DateFormat::new()),
        ScalarUDF::from(date_parse::DateParse::new()),
        ScalarUDF::from(from_iso8601_timestamp::FromIso8601Timestamp::new()),
        ScalarUDF::from(to_iso8601::ToIso8601::new()),
        ScalarUDF::from(parse_datetime::ParseDatetime::new()),
        ScalarUDF::from(json_extract::JsonExtract::new()),
        ScalarUDF::from(json_extract_scalar::JsonExtractScalar::new()),
        ScalarUDF::from(json_array_contains::JsonArrayContains::new()),
        ScalarUDF::from(json_size::JsonSize::new()),
        ScalarUDF::from(regexp_extract::RegexpExtract::new()),
        ScalarUDF::from(split_part::SplitPart::new()),
        ScalarUDF::from(element_at::ElementAt::new()),
        ScalarUDF::from(contains::Contains::new()),
        ScalarUDF::from(regexp_replace::RegexpReplace::new()),
        ScalarUDF::from(substr::Substr::new()),
        ScalarUDF::from(replace::Replace::new()),
        ScalarUDF::from(to_unixtime::ToUnixtime::new()),
    ]
}

/// Register every function, replacing DataFusion's namesakes.
pub fn register(ctx: &SessionContext) -> Result<()> {
    for f in all() {
        ctx.register_udf(f);
    }
    Ok(())
}

/// The UTC time zone DataFusion uses for `now()`; Athena's session zone.
pub(crate) const UTC: &str = "+00:00";

/// `Timestamp(ms, UTC)`: Trino's `timestamp(3) with time zone`.
pub(crate) fn ts_ms_utc() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into()))
}

/// Whether every argument is a scalar (then the result is one too).
pub(crate) fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// The arguments as arrays of the batch's length.
pub(crate) fn arrays(args: &[ColumnarValue], rows: usize) -> Result<Vec<ArrayRef>> {
    args.iter().map(|a| a.to_array_of_size(rows)).collect()
}

/// Wrap a result column, as a scalar when every input was one.
pub(crate) fn output(array: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// A function's result column row by row: null where any of `inputs` is
/// null in that row (SQL's rule for these functions), else what `f`
/// makes of the row; the first error stops the call.
pub(crate) fn per_row<T>(
    rows: usize,
    inputs: &[&dyn Array],
    mut f: impl FnMut(usize) -> Result<Option<T>>,
) -> Result<Vec<Option<T>>> {
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        if inputs.iter().any(|a| a.is_null(i)) {
            out.push(None);
        } else {
            out.push(f(i)?);
        }
    }
    Ok(out)
}

/// A column as UTF-8 text (Utf8View and LargeUtf8 are cast).
pub(crate) fn strings(a: &ArrayRef) -> Result<StringArray> {
    let c = cast(a, &DataType::Utf8)?;
    Ok(c.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .unwrap_or_else(|| StringArray::new_null(a.len())))
}

/// A column as 64-bit integers.
pub(crate) fn ints(a: &ArrayRef) -> Result<Int64Array> {
    let c = cast(a, &DataType::Int64)?;
    Ok(c.as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
        .unwrap_or_else(|| Int64Array::new_null(a.len())))
}

/// An optional argument (`a[i]` when given) as UTF-8 text.
pub(crate) fn optional_strings(a: &[ArrayRef], i: usize) -> Result<Option<StringArray>> {
    a.get(i).map(strings).transpose()
}

/// An optional argument (`a[i]` when given) as 64-bit integers.
pub(crate) fn optional_ints(a: &[ArrayRef], i: usize) -> Result<Option<Int64Array>> {
    a.get(i).map(ints).transpose()
}

/// The compiled pattern of the row, compiled again only when it changes (a
/// pattern column is nearly always one constant).
#[derive(Default)]
pub(crate) struct RegexCache {
    last: Option<(String, regex::Regex)>,
}

impl RegexCache {
    pub fn get(&mut self, function: &str, pattern: &str) -> Result<&regex::Regex> {
        if self.last.as_ref().is_none_or(|(p, _)| p != pattern) {
            match regex::Regex::new(pattern) {
                Ok(r) => self.last = Some((pattern.to_string(), r)),
                Err(e) => return exec_err!("{function}: invalid pattern {pattern:?}: {e}"),
            }
        }
        match &self.last {
            Some((_, r)) => Ok(r),
            None => exec_err!("{function}: no pattern"),
        }
    }
}

/// Coerce text-like argument types to Utf8.
pub(crate) fn text_type(name: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null => {
            Ok(DataType::Utf8)
        }
        other => exec_err!("{name}: expected varchar, got {other}"),
    }
}

/// Coerce integer argument types to Int64.
pub(crate) fn int_type(name: &str, t: &DataType) -> Result<DataType> {
    if t.is_integer() || *t == DataType::Null {
        Ok(DataType::Int64)
    } else {
        exec_err!("{name}: expected an integer, got {t}")
    }
}

/// Coerce timestamp and date argument types: timestamps keep their zone
/// with nanosecond precision, dates stay dates.
pub(crate) fn time_type(name: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Timestamp(_, tz) => Ok(DataType::Timestamp(TimeUnit::Nanosecond, tz.clone())),
        DataType::Date32 | DataType::Date64 => Ok(DataType::Date32),
        DataType::Null => Ok(DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into()))),
        other => exec_err!("{name}: expected a timestamp or date, got {other}"),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Run a UDF on literal arguments, as a query would.
    use super::*;
    use arrow::datatypes::Field;
    use datafusion::logical_expr::ScalarFunctionArgs;
    use datafusion::logical_expr::ScalarUDFImpl;
    use std::sync::Arc;

    pub fn call(f: &dyn ScalarUDFImpl, args: Vec<ScalarValue>) -> Result<ScalarValue> {
        let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
        let coerced = f.coerce_types(&types).unwrap_or(types.clone());
        let args: Vec<ScalarValue> = args
            .into_iter()
            .zip(&coerced)
            .map(|(a, t)| a.cast_to(t))
            .collect::<Result<_>>()?;
        let ret = f.return_type(&coerced)?;
        let arg_fields = coerced
            .iter()
            .map(|t| Arc::new(Field::new("a", t.clone(), true)))
            .collect();
        let out = f.invoke_with_args(ScalarFunctionArgs {
            args: args.into_iter().map(ColumnarValue::Scalar).collect(),
            arg_fields,
            number_rows: 1,
            return_field: Arc::new(Field::new("r", ret, true)),
            config_options: Arc::new(Default::default()),
        })?;
        match out {
            ColumnarValue::Scalar(s) => Ok(s),
            ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0),
        }
    }

    pub fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.into()))
    }

    pub fn null() -> ScalarValue {
        ScalarValue::Utf8(None)
    }

    /// An RFC 3339 time as a UTC nanosecond timestamp (what now() gives).
    pub fn ts(s: &str) -> ScalarValue {
        let t = chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap();
        ScalarValue::TimestampNanosecond(Some(t), Some(UTC.into()))
    }

    /// Milliseconds as Trino's `timestamp(3) with time zone`.
    pub fn ms(v: i64) -> ScalarValue {
        ScalarValue::TimestampMillisecond(Some(v), Some(UTC.into()))
    }
}
