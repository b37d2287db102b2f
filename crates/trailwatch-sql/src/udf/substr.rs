//! `substr(s, start[, length])` (also `substring`), registered as
//! `trino_substr` because DataFusion plans the `SUBSTR` syntax to its own
//! function before looking at registered ones; the rewriter maps Athena's
//! `substr`/`substring` calls here. 1-based on characters;
//! a negative `start` counts from the end (`substr('abcdef', -3)` is
//! `def`, where DataFusion returns the whole string); a start of 0 or past
//! either end gives ''. A negative length is an error, as in Trino.

use std::sync::Arc;

use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{all_scalar, arrays, int_type, ints, optional_ints, output, strings, text_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Substr {
    signature: Signature,
}

impl Substr {
    pub fn new() -> Substr {
        Substr {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Trino's substring of `text`, or None for a negative length.
fn substr(text: &str, start: i64, length: Option<i64>) -> Option<String> {
    if length.is_some_and(|l| l < 0) {
        return None;
    }
    let chars = text.chars().count() as i64;
    let begin = match start {
        0 => return Some(String::new()),
        s if s > 0 => s - 1,
        s => chars + s,
    };
    if begin < 0 || begin >= chars {
        return Some(String::new());
    }
    let take = length.unwrap_or(chars).min(chars - begin);
    Some(
        text.chars()
            .skip(begin as usize)
            .take(take as usize)
            .collect(),
    )
}

impl ScalarUDFImpl for Substr {
    fn name(&self) -> &str {
        "trino_substr"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&t.len()) {
            return exec_err!("substr(string, start[, length]) takes 2 or 3 arguments");
        }
        let mut out = vec![text_type("substr", &t[0])?];
        for t in &t[1..] {
            out.push(int_type("substr", t)?);
        }
        Ok(out)
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let texts = strings(&a[0])?;
        let starts = ints(&a[1])?;
        let lengths = optional_ints(&a, 2)?;
        let mut v = Vec::with_capacity(texts.len());
        for i in 0..texts.len() {
            let len_null = lengths.as_ref().is_some_and(|l| l.is_null(i));
            if texts.is_null(i) || starts.is_null(i) || len_null {
                v.push(None);
                continue;
            }
            let length = lengths.as_ref().map(|l| l.value(i));
            match substr(texts.value(i), starts.value(i), length) {
                Some(s) => v.push(Some(s)),
                None => return exec_err!("substr: length must not be negative"),
            }
        }
        output(Arc::new(StringArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;
    use datafusion::common::ScalarValue;

    fn i(v: i64) -> ScalarValue {
        ScalarValue::Int64(Some(v))
    }

    #[test]
    fn trino_semantics() {
        let f = Substr::new();
        assert_eq!(call(&f, vec![s("abcdef"), i(-3)]).unwrap(), s("def"));
        assert_eq!(call(&f, vec![s("abcdef"), i(2), i(3)]).unwrap(), s("bcd"));
        assert_eq!(call(&f, vec![s("abcdef"), i(-3), i(2)]).unwrap(), s("de"));
        assert_eq!(call(&f, vec![s("abcdef"), i(0)]).unwrap(), s(""));
        assert_eq!(call(&f, vec![s("abcdef"), i(9)]).unwrap(), s(""));
        assert_eq!(call(&f, vec![s("abcdef"), i(-9)]).unwrap(), s(""));
        assert_eq!(
            call(&f, vec![s("2026-04-01T10:00:00Z"), i(1), i(10)]).unwrap(),
            s("2026-04-01")
        );
        assert_eq!(call(&f, vec![s("żółw"), i(2), i(2)]).unwrap(), s("ół"));
        assert!(call(&f, vec![null(), i(1)]).unwrap().is_null());
        assert!(call(&f, vec![s("abc"), i(1), i(-1)]).is_err());
    }
}
