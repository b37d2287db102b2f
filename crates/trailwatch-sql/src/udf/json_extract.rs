//! `json_extract(json, path)`: the JSON text at `path` (a JSON `null`
//! gives the text `null`); NULL when the path finds nothing or the input
//! is not JSON; an invalid path is an error.

use std::sync::Arc;

use arrow::array::StringArray;
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::jsonpath::{doc_type, map_rows};
use super::{all_scalar, arrays, output, strings, text_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonExtract {
    signature: Signature,
}

impl JsonExtract {
    pub fn new() -> JsonExtract {
        JsonExtract {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JsonExtract {
    fn name(&self) -> &str {
        "json_extract"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 2 {
            return exec_err!("json_extract(json, path) takes 2 arguments");
        }
        Ok(vec![
            doc_type("json_extract", &t[0])?,
            text_type("json_extract", &t[1])?,
        ])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let v = map_rows(&a[0], &strings(&a[1])?, |x| Some(x.to_string()))?;
        output(Arc::new(StringArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;

    #[test]
    fn extracts_json_text() {
        let f = JsonExtract::new();
        let doc = s(r#"{"policyDocument":{"Statement":[{"Effect":"Allow"}]},"n":null}"#);
        assert_eq!(
            call(&f, vec![doc.clone(), s("$.policyDocument.Statement[0]")]).unwrap(),
            s(r#"{"Effect":"Allow"}"#)
        );
        assert_eq!(call(&f, vec![doc.clone(), s("$.n")]).unwrap(), s("null"));
        assert!(
            call(&f, vec![doc.clone(), s("$.missing")])
                .unwrap()
                .is_null()
        );
        assert!(call(&f, vec![s("{not json"), s("$.a")]).unwrap().is_null());
        assert!(call(&f, vec![null(), s("$.a")]).unwrap().is_null());
        assert!(call(&f, vec![doc, s("$..x")]).is_err());
    }
}
