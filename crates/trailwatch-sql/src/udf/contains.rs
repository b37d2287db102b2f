//! `contains(array, element)`: whether the array holds the element; NULL
//! when it does not but holds NULLs (Trino). On text, `contains(s, sub)`
//! keeps DataFusion's substring meaning.

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::compute::cast;
use arrow::compute::kernels::cmp::eq;
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{all_scalar, arrays, output, strings, text_type};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Contains {
    signature: Signature,
}

impl Contains {
    pub fn new() -> Contains {
        Contains {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Contains {
    fn name(&self) -> &str {
        "contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 2 {
            return exec_err!("contains(array, element) takes 2 arguments");
        }
        match &t[0] {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                Ok(vec![DataType::List(f.clone()), f.data_type().clone()])
            }
            x => Ok(vec![
                text_type("contains", x)?,
                text_type("contains", &t[1])?,
            ]),
        }
    }

    fn return_type(&self, _t: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let a = arrays(&args.args, args.number_rows)?;
        let mut v = Vec::with_capacity(a[0].len());
        match a[0].data_type() {
            DataType::List(_) => {
                let lists = a[0].as_list::<i32>();
                let needles = &a[1];
                for i in 0..lists.len() {
                    if lists.is_null(i) || needles.is_null(i) {
                        v.push(None);
                        continue;
                    }
                    let items = lists.value(i);
                    let needle = cast(&needles.slice(i, 1), items.data_type())?;
                    let mut found = false;
                    for k in 0..items.len() {
                        if !items.is_null(k) && eq(&items.slice(k, 1), &needle)?.value(0) {
                            found = true;
                            break;
                        }
                    }
                    v.push(if found {
                        Some(true)
                    } else if items.null_count() > 0 {
                        None
                    } else {
                        Some(false)
                    });
                }
            }
            _ => {
                let hay = strings(&a[0])?;
                let sub = strings(&a[1])?;
                for i in 0..hay.len() {
                    v.push(
                        (!hay.is_null(i) && !sub.is_null(i))
                            .then(|| hay.value(i).contains(sub.value(i))),
                    );
                }
            }
        }
        output(Arc::new(BooleanArray::from(v)), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{call, null, s};
    use super::*;
    use datafusion::common::ScalarValue;

    fn list(items: &[Option<&str>]) -> ScalarValue {
        let values: Vec<ScalarValue> = items
            .iter()
            .map(|i| ScalarValue::Utf8(i.map(str::to_string)))
            .collect();
        ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Utf8))
    }

    #[test]
    fn arrays_and_strings() {
        let f = Contains::new();
        let yes = ScalarValue::Boolean(Some(true));
        let no = ScalarValue::Boolean(Some(false));
        assert_eq!(
            call(&f, vec![list(&[Some("a"), Some("b")]), s("b")]).unwrap(),
            yes
        );
        assert_eq!(
            call(&f, vec![list(&[Some("a"), Some("b")]), s("z")]).unwrap(),
            no
        );
        assert!(
            call(&f, vec![list(&[Some("a"), None]), s("z")])
                .unwrap()
                .is_null()
        );
        assert_eq!(
            call(&f, vec![list(&[Some("a"), None]), s("a")]).unwrap(),
            yes
        );
        assert!(
            call(&f, vec![list(&[Some("a")]), null()])
                .unwrap()
                .is_null()
        );
        assert_eq!(call(&f, vec![s("GetObject"), s("Object")]).unwrap(), yes);
        assert!(call(&f, vec![null(), s("x")]).unwrap().is_null());
    }
}
