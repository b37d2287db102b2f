//! Trino's JSONPath subset for `json_extract*` (`athena-sql-dialect.md`
//! §5): `$`, then `.key` or `["key"]` or `[key]` segments. Each token is
//! looked up as an object key, or as a 0-based index on an array. Any other
//! syntax is an "Invalid JSON path" error, not NULL.
//!
//! A document is not parsed into a tree: the path is followed through the
//! text, values off the path are skipped without being built, and only the
//! value found is parsed (no allocation for the rest of the document). The
//! whole text is still read, so a document that is not JSON anywhere gives
//! NULL as before.

use std::fmt;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

    /// The value the path names in the JSON text `doc`: `None` when the
    /// document has no such value or is not JSON (also after the value).
    pub fn lookup(&self, doc: &str) -> Option<Value> {
        let mut de = serde_json::Deserializer::from_str(doc);
        let found = Walk(&self.0).deserialize(&mut de).ok()?;
        de.end().ok()?;
        found
    }
}

/// Follows the remaining tokens through a document; values off the path
/// are skipped (`IgnoredAny` checks their syntax, builds nothing).
struct Walk<'p>(&'p [String]);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        match self.0 {
            [] => serde::Deserialize::deserialize(d).map(Some),
            _ => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let (first, rest) = (&self.0[0], &self.0[1..]);
        let mut found = None;
        while let Some(hit) = map.next_key_seed(KeyIs(first))? {
            if hit {
                // A repeated key replaces the earlier value, as in a parsed
                // object.
                found = map.next_value_seed(Walk(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        let (first, rest) = (&self.0[0], &self.0[1..]);
        let at = first.parse::<usize>().ok();
        let mut found = None;
        let mut i = 0;
        loop {
            if Some(i) == at {
                match seq.next_element_seed(Walk(rest))? {
                    Some(v) => found = v,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }
    // Scalars have nothing under them.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }
}

/// Whether an object key equals the token (compared in place; a key with
/// escapes is unescaped into the parser's scratch space first).
struct KeyIs<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
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

/// The argument type a `json_*` function takes its documents as: string
/// views stay views (read in place, not copied into a new array).
pub fn doc_type(name: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Utf8View => Ok(DataType::Utf8View),
        other => super::text_type(name, other),
    }
}

/// Evaluate `f` on the value each row's path names in its document: NULL
/// when either input is NULL, the document is not JSON or has no such
/// value; an invalid path is an error. Shared by the `json_*` functions.
pub fn map_rows<T>(
    docs: &ArrayRef,
    paths: &StringArray,
    mut f: impl FnMut(&Value) -> Option<T>,
) -> Result<Vec<Option<T>>> {
    let plain;
    let docs: Box<dyn Iterator<Item = Option<&str>>> = match docs.data_type() {
        DataType::Utf8View => Box::new(docs.as_string_view().iter()),
        _ => {
            plain = super::strings(docs)?;
            Box::new(plain.iter())
        }
    };
    let mut cache = PathCache::default();
    let mut out = Vec::with_capacity(paths.len());
    for (i, doc) in docs.enumerate() {
        let (Some(doc), false) = (doc, paths.is_null(i)) else {
            out.push(None);
            continue;
        };
        let path = cache.get(paths.value(i))?;
        out.push(path.lookup(doc).and_then(|v| f(&v)));
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
        let doc = r#"{"a":{"b":[10,{"c":true}]},"0":"zero"}"#;
        let find = |p: &str| JsonPath::parse(p).unwrap().lookup(doc);
        assert_eq!(find("$.a.b[0]"), Some(Value::from(10)));
        assert_eq!(find("$.a.b[1].c"), Some(Value::Bool(true)));
        assert_eq!(find("$.a.b[2]"), None);
        assert_eq!(find("$[0]"), Some(Value::from("zero")));
        assert_eq!(find("$.a.b.c"), None);
        assert_eq!(
            find("$.a.b"),
            serde_json::from_str(r#"[10,{"c":true}]"#).ok()
        );
    }

    /// Following the path through the text gives what looking it up in the
    /// parsed document gives, on the documents where the two could differ.
    #[test]
    fn the_walk_agrees_with_the_parsed_document() {
        fn in_tree(doc: &str, path: &JsonPath) -> Option<Value> {
            let mut cur = &serde_json::from_str::<Value>(doc).ok()?;
            for t in &path.0 {
                cur = match cur {
                    Value::Object(m) => m.get(t)?,
                    Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
            Some(cur.clone())
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        let docs = [
            r#"{"a":1,"a":{"b":2}}"#,
            r#"{"a":{"b":2},"a":1}"#,
            r#"{"a":[5,{"b":[7]}]}"#,
            r#"{"a\u0062":3}"#,
            r#"{"a":1} x"#,
            r#"{"a":1,"b":[}"#,
            r#"{"a":1,}"#,
            "[1,2,3]",
            "3",
            "\"s\"",
            r#"{"a":{"b":null}}"#,
            r#"{"a":"s","b":{"c":[1,{"d":"e"}]}}"#,
            r#"{"0":"z"}"#,
            r#"{"a":1.5e400}"#,
            r#"{"a":12345678901234567890123}"#,
            "",
            &deep,
        ];
        let paths = [
            "$",
            "$.a",
            "$.a.b",
            "$.ab",
            "$.a[1].b[0]",
            "$.b.c[1].d",
            "$[1]",
            "$[0]",
            "$[0][0]",
        ];
        for doc in docs {
            for p in paths {
                let path = JsonPath::parse(p).unwrap();
                assert_eq!(path.lookup(doc), in_tree(doc, &path), "{p} in {doc:.60}");
            }
        }
    }

    /// Documents read as string views are read in place, with the same
    /// answers as plain strings; NULL documents and paths give NULL.
    #[test]
    fn views_and_plain_strings_give_the_same_rows() {
        use std::sync::Arc;

        use arrow::array::StringViewArray;
        let docs = [
            Some(r#"{"key":"a/b.csv"}"#),
            None,
            Some("not json"),
            Some(r#"{"k":1}"#),
        ];
        let paths = StringArray::from(vec![Some("$.key"), Some("$.key"), Some("$.key"), None]);
        let plain: ArrayRef = Arc::new(StringArray::from(docs.to_vec()));
        let views: ArrayRef = Arc::new(StringViewArray::from(docs.to_vec()));
        let want = vec![Some(Value::from("a/b.csv")), None, None, None];
        for a in [plain, views] {
            assert_eq!(map_rows(&a, &paths, |v| Some(v.clone())).unwrap(), want);
        }
        assert_eq!(
            doc_type("f", &DataType::Utf8View).unwrap(),
            DataType::Utf8View
        );
        assert_eq!(doc_type("f", &DataType::LargeUtf8).unwrap(), DataType::Utf8);
    }
}
