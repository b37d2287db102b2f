//! `json_size(json, path)`: how many members or elements the object or
//! array at `path` has (0 for a scalar); NULL when nothing is there or the
//! input is not JSON. An invalid path is an error.

use std::sync::Arc;

use arrow::array::Int64Array;
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use super::jsonpath::{doc_type, map_rows};
use super::{all_scalar, arrays, output, strings, text_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonSize {
    signature: Signature,
}

impl JsonSize {
    pub fn new() -> JsonSize {
        JsonSize {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JsonSize {
    fn name(&self) -> &str {
        "json_size"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 2 {
            return exec_err!("json_size(json, path) takes 2 arguments");
        }
        Ok(vec![
            doc_type("json_size", &t[0])?,
            text_type("json_size", &t[1])?,
        ])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let v = map_rows(&a[0], &strings(&a[1])?, |x| {
            Some(match x {
                Value::Object(m) => m.len() as i64,
                Value::Array(a) => a.len() as i64,
                _ => 0,
            })
        })?;
        output(Arc::new(Int64Array::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;
    use datafusion::common::ScalarValue;

    #[test]
    fn sizes_of_objects_arrays_and_scalars() {
        let f = JsonSize::new();
        let doc = s(r#"{"items":[1,2,3],"o":{"a":1,"b":2},"x":"s"}"#);
        let get = |p: &str| call(&f, vec![doc.clone(), s(p)]).unwrap();
        assert_eq!(get("$.items"), ScalarValue::Int64(Some(3)));
        assert_eq!(get("$.o"), ScalarValue::Int64(Some(2)));
        assert_eq!(get("$.x"), ScalarValue::Int64(Some(0)));
        assert_eq!(get("$"), ScalarValue::Int64(Some(3)));
        assert!(get("$.none").is_null());
        assert!(call(&f, vec![s("{"), s("$")]).unwrap().is_null());
        assert!(call(&f, vec![null(), s("$")]).unwrap().is_null());
        assert!(call(&f, vec![doc, s("$$")]).is_err());
    }
}
