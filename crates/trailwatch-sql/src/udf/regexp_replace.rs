//! `regexp_replace(s, pattern[, replacement])`: replaces **every** match
//! (DataFusion replaces only the first unless given the `'g'` flag); the
//! two-argument form deletes the matches. In the replacement, `$n` is
//! group n and `\$` a literal dollar, as in Trino.

use std::sync::Arc;

use super::{RegexCache, all_scalar, arrays, optional_strings, output, strings, text_type};
use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RegexpReplace {
    signature: Signature,
}

impl RegexpReplace {
    pub fn new() -> RegexpReplace {
        RegexpReplace {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// A Trino replacement string in the `regex` crate's syntax: `$1` becomes
/// `${1}` (so `$1a` stays group 1 followed by `a`), `\$` a literal `$$`,
/// `\\` a backslash.
fn translate_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len() + 4);
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

impl ScalarUDFImpl for RegexpReplace {
    fn name(&self) -> &str {
        "regexp_replace"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&t.len()) {
            return exec_err!(
                "regexp_replace(string, pattern[, replacement]) takes 2 or 3 arguments"
            );
        }
        t.iter().map(|t| text_type("regexp_replace", t)).collect()
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let texts = strings(&a[0])?;
        let pats = strings(&a[1])?;
        let reps = optional_strings(&a, 2)?;
        let mut cache = RegexCache::default();
        let mut v = Vec::with_capacity(texts.len());
        for i in 0..texts.len() {
            let rep_null = reps.as_ref().is_some_and(|r| r.is_null(i));
            if texts.is_null(i) || pats.is_null(i) || rep_null {
                v.push(None);
                continue;
            }
            let re = cache.get("regexp_replace", pats.value(i))?;
            let rep = reps
                .as_ref()
                .map(|r| translate_replacement(r.value(i)))
                .unwrap_or_default();
            v.push(Some(
                re.replace_all(texts.value(i), rep.as_str()).into_owned(),
            ));
        }
        output(Arc::new(StringArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;

    #[test]
    fn replaces_every_match_with_trino_group_syntax() {
        let f = RegexpReplace::new();
        assert_eq!(
            call(&f, vec![s("1a 2b 14m"), s(r"\d+")]).unwrap(),
            s("a b m")
        );
        assert_eq!(
            call(&f, vec![s("1a 2b 14m"), s(r"(\d+)([ab])"), s("$2$1x")]).unwrap(),
            s("a1x b2x 14m")
        );
        assert_eq!(
            call(&f, vec![s("cost 5"), s(r"(\d)"), s(r"\$$1")]).unwrap(),
            s("cost $5")
        );
        assert!(call(&f, vec![null(), s("a")]).unwrap().is_null());
        assert!(call(&f, vec![s("a"), s("a"), null()]).unwrap().is_null());
        assert!(call(&f, vec![s("a"), s("(")]).is_err());
    }
}
