//! OCSF's `unmapped` object as Security Lake writes it: the record's
//! fields with no OCSF home, flattened to dotted keys with text values
//! (`"userIdentity.sessionContext.sessionIssuer.type": "Role"`), and the
//! way back to nested JSON.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Flatten `v` under `key` into `out`: objects by their keys, a string as
/// it is, anything else (numbers, booleans, arrays, empty objects) as its
/// JSON text.
pub(crate) fn flatten(out: &mut BTreeMap<String, String>, key: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::String(s) => {
            out.insert(key.to_string(), s.clone());
        }
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                flatten(out, &format!("{key}.{k}"), v);
            }
        }
        other => {
            out.insert(key.to_string(), other.to_string());
        }
    }
}

/// [`flatten`] of a free-form object kept as raw JSON; `skip` names keys
/// of its top level that the mapping placed elsewhere.
pub(crate) fn flatten_raw(
    out: &mut BTreeMap<String, String>,
    key: &str,
    raw: Option<&RawValue>,
    skip: &[&str],
) {
    flatten_text(out, key, raw.map(RawValue::get), skip);
}

/// [`flatten_raw`] of JSON text (as the lake keeps free-form objects).
pub fn flatten_text(
    out: &mut BTreeMap<String, String>,
    key: &str,
    text: Option<&str>,
    skip: &[&str],
) {
    let Some(text) = text else { return };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut m)) => {
            for k in skip {
                m.remove(*k);
            }
            if !m.is_empty() {
                flatten(out, key, &Value::Object(m));
            }
        }
        Ok(Value::Null) => {}
        Ok(v) => flatten(out, key, &v),
        // Text that is not JSON is kept as it is.
        Err(_) => {
            out.insert(key.to_string(), text.to_string());
        }
    }
}

/// The CloudTrail fields that are JSON booleans (the flattened text
/// `"true"` goes back as `true`).
const BOOLEANS: &[&str] = &[
    "readOnly",
    "managementEvent",
    "sessionCredentialFromConsole",
];

/// Put each dotted key of `unmapped` back into `record` as nested JSON.
/// A value that was flattened from a number or an array stays text: the
/// flattened form no longer says which it was.
pub(crate) fn unflatten_into(record: &mut Map<String, Value>, unmapped: &Map<String, Value>) {
    for (key, v) in unmapped {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        let value = if BOOLEANS.contains(&key.as_str()) && (text == "true" || text == "false") {
            Value::Bool(text == "true")
        } else if text.starts_with(['{', '[']) {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        } else {
            Value::String(text)
        };
        set_path(record, key, value);
    }
}

/// Set `path` (dotted) in `m`, making the objects on the way.
pub(crate) fn set_path(m: &mut Map<String, Value>, path: &str, value: Value) {
    let mut at = m;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            at.insert(part.to_string(), value);
            return;
        }
        let next = at
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(inner) = next else { return };
        at = inner;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattening_and_back_keeps_strings_objects_and_booleans() {
        let mut out = BTreeMap::new();
        flatten(
            &mut out,
            "additionalEventData",
            &json!({"MFAUsed": "No", "bytes": 12, "nested": {"a": "b"}, "list": [1, 2], "empty": {}}),
        );
        flatten(&mut out, "readOnly", &json!(true));
        assert_eq!(out["additionalEventData.MFAUsed"], "No");
        assert_eq!(out["additionalEventData.bytes"], "12");
        assert_eq!(out["additionalEventData.nested.a"], "b");
        assert_eq!(out["additionalEventData.list"], "[1,2]");
        assert_eq!(out["additionalEventData.empty"], "{}");
        assert_eq!(out["readOnly"], "true");

        let map: Map<String, Value> = out
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let mut record = Map::new();
        unflatten_into(&mut record, &map);
        assert_eq!(
            Value::Object(record),
            json!({
                "additionalEventData": {"MFAUsed": "No", "bytes": "12", "nested": {"a": "b"}, "list": [1, 2], "empty": {}},
                "readOnly": true,
            })
        );
    }

    #[test]
    fn raw_objects_flatten_without_the_keys_mapped_elsewhere() {
        let raw = RawValue::from_string(r#"{"LoginTo":"https://x","MobileVersion":"No"}"#.into())
            .unwrap();
        let mut out = BTreeMap::new();
        flatten_raw(&mut out, "additionalEventData", Some(&raw), &["LoginTo"]);
        assert_eq!(out.len(), 1);
        assert_eq!(out["additionalEventData.MobileVersion"], "No");
    }
}
