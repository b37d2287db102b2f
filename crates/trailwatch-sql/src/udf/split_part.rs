//! `split_part(s, delimiter, index)`: field `index` (1-based) of `s` split
//! on `delimiter`; NULL when there are fewer fields; an index of 0 or less
//! is an error (Trino's semantics; DataFusion returns '' and counts
//! negative indexes from the end). An empty delimiter splits characters.

use std::sync::Arc;

use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{all_scalar, arrays, int_type, ints, output, per_row, strings, text_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SplitPart {
    signature: Signature,
}

impl SplitPart {
    pub fn new() -> SplitPart {
        SplitPart {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SplitPart {
    fn name(&self) -> &str {
        "split_part"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 3 {
            return exec_err!("split_part(string, delimiter, index) takes 3 arguments");
        }
        Ok(vec![
            text_type("split_part", &t[0])?,
            text_type("split_part", &t[1])?,
            int_type("split_part", &t[2])?,
        ])
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let texts = strings(&a[0])?;
        let delims = strings(&a[1])?;
        let idx = ints(&a[2])?;
        let v = per_row(texts.len(), &[&texts, &delims, &idx], |i| {
            let n = idx.value(i);
            if n <= 0 {
                return exec_err!("split_part: index must be greater than zero, got {n}");
            }
            let pos = (n - 1) as usize;
            let (text, delim) = (texts.value(i), delims.value(i));
            let part = if delim.is_empty() {
                text.chars().nth(pos).map(|c| c.to_string())
            } else {
                text.split(delim).nth(pos).map(str::to_string)
            };
            Ok(part)
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
    fn trino_semantics() {
        let f = SplitPart::new();
        let arn = s("arn:aws:sts::111122223333:assumed-role/Admin/alice");
        let part = |d: &str, i: i64| {
            call(&f, vec![arn.clone(), s(d), ScalarValue::Int64(Some(i))]).unwrap()
        };
        assert_eq!(part(":", 5), s("111122223333"));
        assert_eq!(part("/", 3), s("alice"));
        assert!(part("/", 4).is_null());
        assert_eq!(part("", 2), s("r"));
        assert!(call(&f, vec![arn.clone(), s("/"), ScalarValue::Int64(Some(0))]).is_err());
        assert!(call(&f, vec![arn.clone(), s("/"), ScalarValue::Int64(Some(-1))]).is_err());
        assert!(
            call(&f, vec![null(), s("/"), ScalarValue::Int64(Some(1))])
                .unwrap()
                .is_null()
        );
    }
}
