//! `json_array_contains(json, value)`: whether the JSON array holds the
//! value (a string, number or boolean, compared by JSON value). NULL when
//! the input is not a JSON array, or either side is NULL.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use super::{all_scalar, arrays, output, per_row, strings, text_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonArrayContains {
    signature: Signature,
}

impl JsonArrayContains {
    pub fn new() -> JsonArrayContains {
        JsonArrayContains {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// What the needle is, by its SQL type.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Number,
    Boolean,
}

impl ScalarUDFImpl for JsonArrayContains {
    fn name(&self) -> &str {
        "json_array_contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 2 {
            return exec_err!("json_array_contains(json, value) takes 2 arguments");
        }
        let needle = match &t[1] {
            DataType::Boolean => DataType::Boolean,
            x if x.is_numeric() => DataType::Float64,
            x => text_type("json_array_contains", x)?,
        };
        Ok(vec![text_type("json_array_contains", &t[0])?, needle])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let kind = match args.args[1].data_type() {
            DataType::Boolean => Kind::Boolean,
            DataType::Float64 => Kind::Number,
            _ => Kind::Text,
        };
        let a = arrays(&args.args, args.number_rows)?;
        let docs = strings(&a[0])?;
        // Every needle as text, compared according to its kind.
        let needles = cast(&a[1], &DataType::Utf8)?;
        let needles = needles
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
            .unwrap_or_else(|| StringArray::new_null(docs.len()));
        let v = per_row(docs.len(), &[&docs, &needles], |i| {
            let Ok(Value::Array(items)) = serde_json::from_str::<Value>(docs.value(i)) else {
                return Ok(None);
            };
            let needle = needles.value(i);
            let hit = items.iter().any(|item| match (kind, item) {
                (Kind::Text, Value::String(s)) => s == needle,
                (Kind::Boolean, Value::Bool(b)) => b.to_string() == needle,
                (Kind::Number, Value::Number(n)) => n
                    .as_f64()
                    .is_some_and(|x| Some(x) == needle.parse::<f64>().ok()),
                _ => false,
            });
            Ok(Some(hit))
        })?;
        output(Arc::new(BooleanArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;
    use datafusion::common::ScalarValue;

    #[test]
    fn membership_by_json_value() {
        let f = JsonArrayContains::new();
        let arr = s(r#"["s3:GetObject", 3, true]"#);
        let yes = ScalarValue::Boolean(Some(true));
        let no = ScalarValue::Boolean(Some(false));
        assert_eq!(call(&f, vec![arr.clone(), s("s3:GetObject")]).unwrap(), yes);
        assert_eq!(call(&f, vec![arr.clone(), s("3")]).unwrap(), no);
        assert_eq!(
            call(&f, vec![arr.clone(), ScalarValue::Int64(Some(3))]).unwrap(),
            yes
        );
        assert_eq!(
            call(&f, vec![arr.clone(), ScalarValue::Boolean(Some(true))]).unwrap(),
            yes
        );
        assert!(call(&f, vec![s(r#"{"a":1}"#), s("a")]).unwrap().is_null());
        assert!(call(&f, vec![s("[oops"), s("a")]).unwrap().is_null());
        assert!(call(&f, vec![null(), s("a")]).unwrap().is_null());
        assert!(call(&f, vec![arr, null()]).unwrap().is_null());
    }
}
