//! `element_at(array, index)`: element `index` (1-based; negative counts
//! from the end; out of range gives NULL; 0 is an error), and
//! `element_at(map, key)`: the value for `key` or NULL. DataFusion's own
//! `element_at` is a map-only alias that returns a list.

use arrow::array::{Array, ArrayRef, AsArray, new_null_array};
use arrow::compute::kernels::cmp::eq;
use arrow::compute::{cast, concat};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{all_scalar, arrays, ints, output};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ElementAt {
    signature: Signature,
}

impl ElementAt {
    pub fn new() -> ElementAt {
        ElementAt {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ElementAt {
    fn name(&self) -> &str {
        "element_at"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        if t.len() != 2 {
            return exec_err!("element_at(array|map, index|key) takes 2 arguments");
        }
        match &t[0] {
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => {
                Ok(vec![t[0].clone(), super::int_type("element_at", &t[1])?])
            }
            DataType::Map(f, _) => match f.data_type() {
                DataType::Struct(kv) if !kv.is_empty() => {
                    Ok(vec![t[0].clone(), kv[0].data_type().clone()])
                }
                _ => exec_err!("element_at: malformed map type"),
            },
            other => exec_err!("element_at: expected an array or a map, got {other}"),
        }
    }

    fn return_type(&self, t: &[DataType]) -> Result<DataType> {
        match &t[0] {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                Ok(f.data_type().clone())
            }
            DataType::Map(f, _) => match f.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => Ok(kv[1].data_type().clone()),
                _ => exec_err!("element_at: malformed map type"),
            },
            other => exec_err!("element_at: expected an array or a map, got {other}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let ret = args.return_type().clone();
        let a = arrays(&args.args, args.number_rows)?;
        let mut parts: Vec<ArrayRef> = Vec::with_capacity(a[0].len());
        let null = new_null_array(&ret, 1);
        if let DataType::Map(_, _) = a[0].data_type() {
            let maps = a[0].as_map();
            for i in 0..maps.len() {
                if maps.is_null(i) || a[1].is_null(i) {
                    parts.push(null.clone());
                    continue;
                }
                let entry = maps.value(i);
                let keys = entry.column(0);
                let needle = a[1].slice(i, 1);
                let hit = (0..keys.len())
                    .find(|&k| eq(&keys.slice(k, 1), &needle).is_ok_and(|m| m.value(0)));
                parts.push(match hit {
                    Some(k) => entry.column(1).slice(k, 1),
                    None => null.clone(),
                });
            }
        } else {
            let lists = cast(
                &a[0],
                &DataType::List(match a[0].data_type() {
                    DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                        f.clone()
                    }
                    other => return exec_err!("element_at: unsupported type {other}"),
                }),
            )?;
            let lists = lists.as_list::<i32>();
            let idx = ints(&a[1])?;
            for i in 0..lists.len() {
                if lists.is_null(i) || idx.is_null(i) {
                    parts.push(null.clone());
                    continue;
                }
                let items = lists.value(i);
                let n = idx.value(i);
                let len = items.len() as i64;
                let pos = match n {
                    0 => return exec_err!("SQL array indices start at 1"),
                    n if n > 0 => n - 1,
                    n => len + n,
                };
                parts.push(if (0..len).contains(&pos) {
                    items.slice(pos as usize, 1)
                } else {
                    null.clone()
                });
            }
        }
        let refs: Vec<&dyn Array> = parts.iter().map(|p| p.as_ref()).collect();
        let out = if refs.is_empty() {
            new_null_array(&ret, 0)
        } else {
            concat(&refs)?
        };
        output(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::call;
    use super::*;
    use datafusion::common::ScalarValue;

    fn list() -> ScalarValue {
        ScalarValue::List(ScalarValue::new_list_nullable(
            &[
                ScalarValue::from("a"),
                ScalarValue::from("b"),
                ScalarValue::from("c"),
            ],
            &DataType::Utf8,
        ))
    }

    #[test]
    fn one_based_negative_and_out_of_range() {
        let f = ElementAt::new();
        let at = |i: i64| call(&f, vec![list(), ScalarValue::Int64(Some(i))]);
        assert_eq!(at(1).unwrap(), ScalarValue::from("a"));
        assert_eq!(at(-1).unwrap(), ScalarValue::from("c"));
        assert!(at(4).unwrap().is_null());
        assert!(at(-4).unwrap().is_null());
        assert!(at(0).is_err());
        assert!(
            call(&f, vec![list(), ScalarValue::Int64(None)])
                .unwrap()
                .is_null()
        );
        assert!(
            call(
                &f,
                vec![ScalarValue::from("abc"), ScalarValue::Int64(Some(1))]
            )
            .is_err()
        );
    }
}
