//! A Sigma rule file: one rule, several YAML documents, or a collection
//! whose `action: global` document is merged into each rule after it.
//! Each rule's `detection` compiles into selections (a map is AND of its
//! field tests, a list of maps OR of them, a list of strings keywords over
//! the whole record) and a condition.

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::condition::Condition;
use super::value::FieldTest;
use crate::alert::Severity;

/// Why a rule could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: rule {id}: {message}")]
pub struct SigmaError {
    pub origin: String,
    /// The rule's `id`, or `(document N)` when it has none.
    pub id: String,
    pub message: String,
}

/// One selection of a rule's `detection`.
#[derive(Debug, Clone)]
enum Selection {
    /// OR of ANDs of field tests.
    Fields(Vec<Vec<FieldTest>>),
    /// Any of these matches the record's text.
    Keywords(Vec<Regex>),
}

/// A compiled Sigma rule.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    /// The rule's `id` (a UUID), its `rule_id` in alerts.
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    /// The file it came from.
    pub origin: String,
    selections: Vec<(String, Selection)>,
    condition: Vec<Condition>,
    /// Lower-cased `eventName` values a match requires, when the rule
    /// pins them (for indexing); None: any event may match.
    pub event_names: Option<Vec<String>>,
}

/// `level` to severity: critical P1, high P2, medium P3, low and
/// informational P4.
fn severity(level: Option<&str>) -> Severity {
    match level.unwrap_or("medium") {
        "critical" => Severity::P1,
        "high" => Severity::P2,
        "medium" => Severity::P3,
        _ => Severity::P4,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `a` with `b`'s keys merged in, recursively (for `action: global`).
fn merge(a: &mut Value, b: &Value) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in y {
                match x.get_mut(k) {
                    Some(e) => merge(e, v),
                    None => {
                        x.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (a, b) => *a = b.clone(),
    }
}

fn compile_map(m: &Map<String, Value>) -> Result<Vec<FieldTest>, String> {
    m.iter()
        .map(|(k, v)| FieldTest::compile(k, v).map_err(|e| e.to_string()))
        .collect()
}

fn keyword(s: &str) -> Result<Regex, String> {
    let body: String = s
        .split('*')
        .map(|p| {
            p.split('?')
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect::<Vec<_>>()
        .join(".*");
    RegexBuilder::new(&body)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

fn selection(v: &Value) -> Result<Selection, String> {
    match v {
        Value::Object(m) => Ok(Selection::Fields(vec![compile_map(m)?])),
        Value::Array(items) if items.iter().all(Value::is_object) => Ok(Selection::Fields(
            items
                .iter()
                .filter_map(Value::as_object)
                .map(compile_map)
                .collect::<Result<_, _>>()?,
        )),
        Value::Array(items) => Ok(Selection::Keywords(
            items
                .iter()
                .map(|k| match k {
                    Value::String(s) => keyword(s),
                    Value::Number(n) => keyword(&n.to_string()),
                    _ => Err("a keyword list mixes maps and values".to_string()),
                })
                .collect::<Result<_, _>>()?,
        )),
        Value::String(s) => Ok(Selection::Keywords(vec![keyword(s)?])),
        _ => Err("a selection must be a map, a list of maps or a list of keywords".into()),
    }
}

/// The literal `eventName` values a selection requires in every branch.
fn pinned_names(doc: &Value, sel: &str) -> Option<Vec<String>> {
    let v = doc.get("detection")?.get(sel)?;
    let branches: Vec<&Map<String, Value>> = match v {
        Value::Object(m) => vec![m],
        Value::Array(a) => a.iter().map(Value::as_object).collect::<Option<_>>()?,
        _ => return None,
    };
    let mut names = Vec::new();
    for b in branches {
        let vals = match b.get("eventName")? {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(Value::as_str).collect::<Option<_>>()?,
            _ => return None,
        };
        for n in vals {
            if n.contains(['*', '?', '\\']) {
                return None;
            }
            names.push(n.to_ascii_lowercase());
        }
    }
    Some(names)
}

impl SigmaRule {
    /// Compile one rule document.
    fn compile(doc: &Value, origin: &str, index: usize) -> Result<SigmaRule, SigmaError> {
        let id = doc
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("(document {})", index + 1), str::to_string);
        let fail = |m: String| SigmaError {
            origin: origin.to_string(),
            id: id.clone(),
            message: m,
        };
        if doc.get("correlation").is_some() {
            return Err(fail("correlation rules are not supported yet".into()));
        }
        let detection = doc
            .get("detection")
            .and_then(Value::as_object)
            .ok_or_else(|| fail("no detection".into()))?;
        let conditions = match detection.get("condition") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect(),
            _ => return Err(fail("detection has no condition".into())),
        };
        let condition: Vec<Condition> = conditions
            .iter()
            .map(|c| Condition::parse(c).map_err(|e| fail(e.to_string())))
            .collect::<Result<_, _>>()?;
        let mut selections = Vec::new();
        for (name, v) in detection {
            if name == "condition" || name == "timeframe" {
                continue;
            }
            selections.push((
                name.clone(),
                selection(v).map_err(|m| fail(format!("{name}: {m}")))?,
            ));
        }
        for c in &condition {
            for n in c.names() {
                if !selections.iter().any(|(s, _)| s == n) {
                    return Err(fail(format!(
                        "the condition names {n}, which is no selection"
                    )));
                }
            }
        }
        // Indexing: a single condition that is a selection, or an AND
        // that includes one, pinning eventName literally.
        let event_names = match condition.as_slice() {
            [Condition::Selection(s)] => pinned_names(doc, s),
            [Condition::And(parts)] => parts.iter().find_map(|p| match p {
                Condition::Selection(s) => pinned_names(doc, s),
                _ => None,
            }),
            _ => None,
        };
        Ok(SigmaRule {
            title: doc
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_string(),
            description: doc
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            severity: severity(doc.get("level").and_then(Value::as_str)),
            tags: strings(doc.get("tags")),
            falsepositives: strings(doc.get("falsepositives")),
            origin: origin.to_string(),
            selections,
            condition,
            event_names,
            id,
        })
    }

    /// Whether `event` (the record as JSON, and its text) matches.
    pub fn matches(&self, event: &Value, text: &str) -> bool {
        let results: Vec<(&str, bool)> = self
            .selections
            .iter()
            .map(|(name, sel)| {
                let hit = match sel {
                    Selection::Fields(branches) => branches
                        .iter()
                        .any(|tests| tests.iter().all(|t| t.matches(event))),
                    Selection::Keywords(words) => words.iter().any(|w| w.is_match(text)),
                };
                (name.as_str(), hit)
            })
            .collect();
        self.condition.iter().any(|c| c.eval(&results))
    }
}

/// Every rule of a Sigma file (multi-document and `action: global`
/// collections included). A document that cannot be compiled is an error
/// of its own; the others still load.
pub fn load(text: &str, origin: &str) -> (Vec<SigmaRule>, Vec<SigmaError>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    // Rule files are hostile: nesting is bounded before the YAML parser
    // recurses into it (the same check as trailwatch's own rule files).
    if let Err(message) = crate::nesting::check_yaml(text) {
        errors.push(SigmaError {
            origin: origin.to_string(),
            id: "(file)".to_string(),
            message,
        });
        return (rules, errors);
    }
    let mut global: Option<Value> = None;
    for (i, de) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let doc: Value = match serde::Deserialize::deserialize(de) {
            Ok(v) => v,
            Err(e) => {
                errors.push(SigmaError {
                    origin: origin.to_string(),
                    id: format!("(document {})", i + 1),
                    message: format!("not valid YAML: {e}"),
                });
                continue;
            }
        };
        if doc.is_null() {
            continue;
        }
        match doc.get("action").and_then(Value::as_str) {
            Some("global") => {
                global = Some(doc);
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") | None => {}
            Some(other) => {
                errors.push(SigmaError {
                    origin: origin.to_string(),
                    id: format!("(document {})", i + 1),
                    message: format!("action {other} is not a Sigma collection action"),
                });
                continue;
            }
        }
        let mut full = global.clone().unwrap_or(Value::Object(Map::new()));
        merge(&mut full, &doc);
        match SigmaRule::compile(&full, origin, i) {
            Ok(r) => rules.push(r),
            Err(e) => errors.push(e),
        }
    }
    (rules, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULE: &str = r#"
title: Trail stopped
id: 11111111-2222-3333-4444-555555555555
description: x
tags: [attack.t1562.008]
falsepositives: [maintenance]
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: cloudtrail.amazonaws.com
    eventName: [StopLogging, DeleteTrail]
  filter:
    userIdentity.arn|endswith: ':role/terraform'
  condition: selection and not filter
level: high
"#;

    #[test]
    fn a_rule_compiles_matches_and_is_indexed_by_event_name() {
        let (rules, errors) = load(RULE, "r.yml");
        assert!(errors.is_empty(), "{errors:?}");
        let r = &rules[0];
        assert_eq!(r.severity, Severity::P2);
        assert_eq!(r.tags, ["attack.t1562.008"]);
        assert_eq!(
            r.event_names.as_deref(),
            Some(&["stoplogging".to_string(), "deletetrail".to_string()][..])
        );
        let e = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                       "userIdentity": {"arn": "arn:aws:iam::1:user/bob"}});
        assert!(r.matches(&e, ""));
        let tf = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                        "userIdentity": {"arn": "arn:aws:iam::1:role/terraform"}});
        assert!(!r.matches(&tf, ""));
    }

    #[test]
    fn collections_keywords_and_errors_per_document() {
        let text = r#"
action: global
title: shared
logsource: {product: aws, service: cloudtrail}
level: low
---
id: a
detection:
  sel: {eventName: GetObject}
  condition: sel
---
id: b
detection:
  words: ['*mimikatz*', 'evil?tool']
  condition: words
---
id: c
detection:
  sel: {eventName|nosuch: x}
  condition: sel
---
id: d
detection:
  sel: {eventName: x}
  condition: sel and other
"#;
        let (rules, errors) = load(text, "c.yml");
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(
            rules
                .iter()
                .all(|r| r.title == "shared" && r.severity == Severity::P4)
        );
        assert!(rules[1].matches(&json!({}), r#"{"userAgent":"Mimikatz 2"}"#));
        assert!(rules[1].matches(&json!({}), "evil-tool"));
        assert!(!rules[1].matches(&json!({}), "nothing"));
        let why: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            why[0].contains("rule c") && why[0].contains("not supported"),
            "{why:?}"
        );
        assert!(
            why[1].contains("rule d") && why[1].contains("no selection"),
            "{why:?}"
        );
    }

    #[test]
    fn a_file_nested_too_deeply_is_refused_before_parsing() {
        let deep = format!(
            "title: x\nid: deep\nlogsource: {{product: aws}}\ndetection:\n  sel: {{eventName: {}x{}}}\n  condition: sel\n",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        let (rules, errors) = load(&deep, "deep.yml");
        assert!(rules.is_empty());
        assert!(errors[0].to_string().contains("deep.yml"), "{errors:?}");
    }
}
