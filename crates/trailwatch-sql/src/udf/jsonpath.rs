//! Trino's JSONPath subset for `json_extract*` (`athena-sql-dialect.md`
//! §5): `$`, then `.key` or `["key"]` or `[key]` segments. Each token is
//! looked up as an object key, or as a 0-based index on an array. Any other
//! syntax is an "Invalid JSON path" error, not NULL.

use datafusion::common::{Result, exec_err};
use serde_json::Value;

/// A parsed path: its tokens, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(Vec<String>);

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == ':'
}

impl JsonPath {
    pub fn parse(path: &str) -> Result<JsonPath> {
        let bad = || exec_err!("Invalid JSON path: '{path}'");
        let chars: Vec<char> = path.chars().collect();
        if chars.first() != Some(&'$') {
            return bad();
        }
        let mut tokens = Vec::new();
        let mut i = 1;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && is_key_char(chars[j]) {
                        j += 1;
                    }
                    if j == start {
                        return bad();
                    }
                    tokens.push(chars[start..j].iter().collect());
                    i = j;
                }
                '[' => {
                    if chars.get(i + 1) == Some(&'"') {
                        let mut j = i + 2;
                        let mut key = String::new();
                        loop {
                            match chars.get(j) {
                                None => return bad(),
                                Some('\\') => match chars.get(j + 1) {
                                    Some(c @ ('"' | '\\')) => {
                                        key.push(*c);
                                        j += 2;
                                    }
                                    _ => return bad(),
                                },
                                Some('"') => break,
                                Some(c) => {
                                    key.push(*c);
                                    j += 1;
                                }
                            }
                        }
                        if chars.get(j + 1) != Some(&']') {
                            return bad();
                        }
                        tokens.push(key);
                        i = j + 2;
                    } else {
                        let start = i + 1;
                        let mut j = start;
                        while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                            j += 1;
                        }
                        if j == start || chars.get(j) != Some(&']') {
                            return bad();
                        }
                        tokens.push(chars[start..j].iter().collect());
                        i = j + 1;
                    }
                }
                _ => return bad(),
            }
        }
        Ok(JsonPath(tokens))
    }

    /// The value the path names in `v`, if any.
    pub fn find<'v>(&self, v: &'v Value) -> Option<&'v Value> {
        let mut cur = v;
        for t in &self.0 {
            cur = match cur {
                Value::Object(m) => m.get(t)?,
                Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }
}

/// A cache of the last parsed path: most queries pass one constant path.
#[derive(Debug, Default)]
pub struct PathCache(Option<(String, JsonPath)>);

impl PathCache {
    pub fn get(&mut self, path: &str) -> Result<&JsonPath> {
        let stale = self.0.as_ref().is_none_or(|(p, _)| p != path);
        if stale {
            self.0 = Some((path.to_string(), JsonPath::parse(path)?));
        }
        match &self.0 {
            Some((_, p)) => Ok(p),
            None => exec_err!("Invalid JSON path: '{path}'"),
        }
    }
}

/// Evaluate `f` on every row's parsed JSON document and parsed path: NULL
/// when either input is NULL or the document is not JSON; an invalid path
/// is an error. Shared by the `json_*` functions.
pub fn map_rows<T>(
    docs: &arrow::array::StringArray,
    paths: &arrow::array::StringArray,
    mut f: impl FnMut(&Value, &JsonPath) -> Option<T>,
) -> Result<Vec<Option<T>>> {
    use arrow::array::Array;
    let mut cache = PathCache::default();
    let mut out = Vec::with_capacity(docs.len());
    for i in 0..docs.len() {
        if docs.is_null(i) || paths.is_null(i) {
            out.push(None);
            continue;
        }
        let path = cache.get(paths.value(i))?;
        out.push(
            serde_json::from_str::<Value>(docs.value(i))
                .ok()
                .and_then(|doc| f(&doc, path)),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trino_paths_and_refuses_others() {
        assert_eq!(JsonPath::parse("$").unwrap().0, Vec::<String>::new());
        assert_eq!(
            JsonPath::parse("$.a.b[0][\"user-agent\"][c]").unwrap().0,
            ["a", "b", "0", "user-agent", "c"]
        );
        assert_eq!(JsonPath::parse(r#"$["q\"x"]"#).unwrap().0, ["q\"x"]);
        for bad in [
            "",
            "a",
            "$..a",
            "$.*",
            "$.a-b",
            "$[",
            "$[\"a\"",
            "$.a ",
            "$[?(@.a)]",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn finds_keys_and_indexes() {
        let v: Value = serde_json::from_str(r#"{"a":{"b":[10,{"c":true}]},"0":"zero"}"#).unwrap();
        let find = |p: &str| JsonPath::parse(p).unwrap().find(&v).cloned();
        assert_eq!(find("$.a.b[0]"), Some(Value::from(10)));
        assert_eq!(find("$.a.b[1].c"), Some(Value::Bool(true)));
        assert_eq!(find("$.a.b[2]"), None);
        assert_eq!(find("$[0]"), Some(Value::from("zero")));
        assert_eq!(find("$.a.b.c"), None);
    }
}
