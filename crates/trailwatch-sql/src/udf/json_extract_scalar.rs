//! `json_extract_scalar(json, path)`: the scalar at `path` as text (string
//! contents unquoted, numbers as written, `true`/`false`); NULL for an
//! object, an array, a JSON `null`, nothing found, or input that is not
//! JSON. An invalid path is an error.

use std::sync::Arc;

use arrow::array::StringArray;
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use super::jsonpath::{doc_type, map_rows};
use super::{all_scalar, arrays, output, strings, text_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonExtractScalar {
    signature: Signature,
}

impl JsonExtractScalar {
    pub fn new() -> JsonExtractScalar {
        JsonExtractScalar {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// A JSON scalar as Trino prints it; `None` for non-scalars and null.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl ScalarUDFImpl for JsonExtractScalar {
    fn name(&self) -> &str {
        "json_extract_scalar"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 2 {
            return exec_err!("json_extract_scalar(json, path) takes 2 arguments");
        }
        Ok(vec![
            doc_type("json_extract_scalar", &t[0])?,
            text_type("json_extract_scalar", &t[1])?,
        ])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let v = map_rows(&a[0], &strings(&a[1])?, scalar_text)?;
        output(Arc::new(StringArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;

    #[test]
    fn extracts_scalars_only() {
        let f = JsonExtractScalar::new();
        let doc = s(r#"{"bucketName":"logs","n":12.5,"ok":true,"o":{"a":1},"l":[1],"z":null}"#);
        let get = |p: &str| call(&f, vec![doc.clone(), s(p)]).unwrap();
        assert_eq!(get("$.bucketName"), s("logs"));
        assert_eq!(get("$.n"), s("12.5"));
        assert_eq!(get("$.ok"), s("true"));
        for p in ["$.o", "$.l", "$.z", "$.missing"] {
            assert!(get(p).is_null(), "{p}");
        }
        assert!(call(&f, vec![s("nope"), s("$.a")]).unwrap().is_null());
        assert!(call(&f, vec![null(), s("$.a")]).unwrap().is_null());
        assert!(call(&f, vec![doc, s("$.a b")]).is_err());
    }
}
