//! `replace(s, search[, replacement])`: every occurrence of `search`
//! replaced; the two-argument form removes them (DataFusion requires three
//! arguments).

use std::sync::Arc;

use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{all_scalar, arrays, optional_strings, output, per_row, strings, text_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Replace {
    signature: Signature,
}

impl Replace {
    pub fn new() -> Replace {
        Replace {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Replace {
    fn name(&self) -> &str {
        "replace"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&t.len()) {
            return exec_err!("replace(string, search[, replacement]) takes 2 or 3 arguments");
        }
        t.iter().map(|t| text_type("replace", t)).collect()
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let texts = strings(&a[0])?;
        let search = strings(&a[1])?;
        let reps = optional_strings(&a, 2)?;
        let mut inputs: Vec<&dyn Array> = vec![&texts, &search];
        if let Some(r) = &reps {
            inputs.push(r);
        }
        let v = per_row(texts.len(), &inputs, |i| {
            let rep = reps.as_ref().map_or("", |r| r.value(i));
            Ok(Some(texts.value(i).replace(search.value(i), rep)))
        })?;
        output(Arc::new(StringArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;

    #[test]
    fn two_and_three_arguments() {
        let f = Replace::new();
        assert_eq!(call(&f, vec![s("a-b-c"), s("-")]).unwrap(), s("abc"));
        assert_eq!(
            call(&f, vec![s("a-b-c"), s("-"), s("+")]).unwrap(),
            s("a+b+c")
        );
        assert_eq!(
            call(&f, vec![s("abc"), s(""), s("-")]).unwrap(),
            s("-a-b-c-")
        );
        assert!(call(&f, vec![null(), s("-")]).unwrap().is_null());
        assert!(call(&f, vec![s("a"), s("-"), null()]).unwrap().is_null());
    }
}
