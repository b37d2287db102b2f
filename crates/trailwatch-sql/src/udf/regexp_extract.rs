//! `regexp_extract(s, pattern[, group])`: the first match of `pattern` in
//! `s` (group 0, the whole match, by default); NULL when nothing matches.
//! A group the pattern does not have, or a bad pattern, is an error.

use std::sync::Arc;

use super::{RegexCache, all_scalar, arrays, int_type, optional_ints, output, strings, text_type};
use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RegexpExtract {
    signature: Signature,
}

impl RegexpExtract {
    pub fn new() -> RegexpExtract {
        RegexpExtract {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for RegexpExtract {
    fn name(&self) -> &str {
        "regexp_extract"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        match t.len() {
            2 => Ok(vec![
                text_type("regexp_extract", &t[0])?,
                text_type("regexp_extract", &t[1])?,
            ]),
            3 => Ok(vec![
                text_type("regexp_extract", &t[0])?,
                text_type("regexp_extract", &t[1])?,
                int_type("regexp_extract", &t[2])?,
            ]),
            _ => exec_err!("regexp_extract(string, pattern[, group]) takes 2 or 3 arguments"),
        }
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let texts = strings(&a[0])?;
        let pats = strings(&a[1])?;
        let groups = optional_ints(&a, 2)?;
        let mut cache = RegexCache::default();
        let mut v = Vec::with_capacity(texts.len());
        for i in 0..texts.len() {
            let group_null = groups.as_ref().is_some_and(|g| g.is_null(i));
            if texts.is_null(i) || pats.is_null(i) || group_null {
                v.push(None);
                continue;
            }
            let re = cache.get("regexp_extract", pats.value(i))?;
            let g = groups.as_ref().map_or(0, |g| g.value(i));
            let Ok(g) = usize::try_from(g) else {
                return exec_err!("regexp_extract: group {g} is negative");
            };
            if g >= re.captures_len() {
                return exec_err!(
                    "Pattern has {} groups. Cannot access group {g}",
                    re.captures_len() - 1
                );
            }
            v.push(
                re.captures(texts.value(i))
                    .and_then(|c| c.get(g))
                    .map(|m| m.as_str().to_string()),
            );
        }
        output(Arc::new(StringArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;
    use datafusion::common::ScalarValue;

    #[test]
    fn first_match_and_groups() {
        let f = RegexpExtract::new();
        let arn = s("arn:aws:iam::111122223333:user/alice");
        assert_eq!(
            call(&f, vec![arn.clone(), s(r"\d{12}")]).unwrap(),
            s("111122223333")
        );
        assert_eq!(
            call(
                &f,
                vec![arn.clone(), s(r"user/(\w+)"), ScalarValue::Int64(Some(1))]
            )
            .unwrap(),
            s("alice")
        );
        assert!(call(&f, vec![arn.clone(), s("role/")]).unwrap().is_null());
        assert!(call(&f, vec![null(), s("a")]).unwrap().is_null());
        assert!(call(&f, vec![arn.clone(), s("(a)"), ScalarValue::Int64(Some(2))]).is_err());
        assert!(call(&f, vec![arn, s("(")]).is_err());
    }
}
