//! A Sigma rule file: one rule, several YAML documents, or a collection
//! whose `action: global` document is merged into each rule after it.
//! Each rule's `detection` compiles into selections (a map is AND of its
//! field tests, a list of maps OR of them, a list of strings keywords over
//! the whole record) and a condition; a `correlation` document compiles
//! into a [`CorrelationSpec`], linked to the rules it names later (they
//! may live in other files).

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::condition::{Condition, Resolved};
use super::correlation::CorrelationSpec;
use super::fields::{Fields, path_cost};
use super::problem::Problem;
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

/// A compiled Sigma rule: a detection, or a correlation of other rules.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    /// The rule's `id` (a UUID), its `rule_id` in alerts.
    pub id: String,
    /// The rule's `name`, by which correlations may refer to it.
    pub name: Option<String>,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    /// The file it came from.
    pub origin: String,
    pub body: Body,
}

/// What a rule tests.
#[derive(Debug, Clone)]
pub enum Body {
    /// Single events.
    Detection(Detection),
    /// Events matched by other rules, over time.
    Correlation(CorrelationSpec),
}

/// The fields a rule index keys on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// A match needs one of these `eventName`s (lower-cased).
    Names(Vec<String>),
    /// A match needs one of these `eventSource`s (lower-cased).
    Sources(Vec<String>),
    /// Any event may match.
    Any,
}

/// A compiled `detection`.
#[derive(Debug, Clone)]
pub struct Detection {
    selections: Vec<Selection>,
    /// Any of these (a `condition` list is OR of its items).
    condition: Vec<Resolved>,
    /// What the index keys on.
    pub pin: Pin,
}

/// The most selections a rule may have (a hostile rule could name
/// thousands; real ones use a handful).
pub(crate) const MAX_SELECTIONS: usize = 64;

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

/// A map's field tests, the cheap ones (typed fields of the record)
/// first, so a failing one spares parsing the rest of the record.
fn compile_map(m: &Map<String, Value>) -> Result<Vec<FieldTest>, Problem> {
    let mut tests: Vec<FieldTest> = m
        .iter()
        .map(|(k, v)| FieldTest::compile(k, v))
        .collect::<Result<_, _>>()?;
    tests.sort_by_key(|t| path_cost(t.path()));
    Ok(tests)
}

fn keyword(s: &str) -> Result<Regex, Problem> {
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
        .map_err(|e| Problem::BadKeyword(e.to_string()))
}

fn selection(v: &Value) -> Result<Selection, Problem> {
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
                    _ => Err(Problem::MixedKeywords),
                })
                .collect::<Result<_, _>>()?,
        )),
        Value::String(s) => Ok(Selection::Keywords(vec![keyword(s)?])),
        _ => Err(Problem::BadSelection),
    }
}

/// The literal values of `field` a selection requires in every branch,
/// lower-cased; None when some branch lets other values through.
fn pinned(sel: &Selection, field: &str) -> Option<Vec<String>> {
    let Selection::Fields(branches) = sel else {
        return None;
    };
    let mut out = Vec::new();
    for tests in branches {
        let lits = tests
            .iter()
            .filter(|t| t.path().len() == 1 && t.path()[0] == field)
            .find_map(FieldTest::literals)?;
        out.extend(lits);
    }
    out.sort();
    out.dedup();
    Some(out)
}

impl Detection {
    fn compile(detection: &Map<String, Value>) -> Result<Detection, Problem> {
        let conditions = match detection.get("condition") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|c| {
                    c.as_str()
                        .map(str::to_string)
                        .ok_or(Problem::ConditionNotText)
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(Problem::NoCondition),
        };
        let parsed: Vec<Condition> = conditions
            .iter()
            .map(|c| Condition::parse(c).map_err(Problem::from))
            .collect::<Result<_, _>>()?;
        let mut names = Vec::new();
        let mut selections = Vec::new();
        for (name, v) in detection {
            if name == "condition" || name == "timeframe" {
                continue;
            }
            names.push(name.clone());
            selections.push(selection(v).map_err(|p| Problem::InSelection {
                name: name.clone(),
                problem: Box::new(p),
            })?);
        }
        if selections.len() > MAX_SELECTIONS {
            return Err(Problem::TooManySelections(selections.len()));
        }
        for c in &parsed {
            for n in c.names() {
                if !names.iter().any(|s| s == n) {
                    return Err(Problem::UnknownSelection(n.to_string()));
                }
            }
        }
        let condition: Vec<Resolved> = parsed.iter().map(|c| c.resolve(&names)).collect();
        // Indexing: a selection the (single) condition requires, pinning
        // eventName literally, else one pinning eventSource.
        let required = match condition.as_slice() {
            [c] => c.required(),
            _ => Vec::new(),
        };
        let pin = required
            .iter()
            .find_map(|&i| pinned(&selections[i], "eventName").map(Pin::Names))
            .or_else(|| {
                required
                    .iter()
                    .find_map(|&i| pinned(&selections[i], "eventSource").map(Pin::Sources))
            })
            .unwrap_or(Pin::Any);
        Ok(Detection {
            selections,
            condition,
            pin,
        })
    }

    /// Whether the event matches. Selections are tested lazily, each at
    /// most once.
    pub fn matches(&self, event: &dyn Fields) -> bool {
        let (mut known, mut value) = (0u64, 0u64);
        let mut hit = |i: usize| {
            let bit = 1u64 << i;
            if known & bit == 0 {
                known |= bit;
                let m = match &self.selections[i] {
                    Selection::Fields(branches) => branches
                        .iter()
                        .any(|tests| tests.iter().all(|t| t.matches(event))),
                    Selection::Keywords(words) => words.iter().any(|w| w.is_match(event.text())),
                };
                if m {
                    value |= bit;
                }
            }
            value & bit != 0
        };
        self.condition.iter().any(|c| c.eval(&mut hit))
    }
}

impl SigmaRule {
    /// Compile one rule document.
    fn compile(doc: &Value, origin: &str, index: usize) -> Result<SigmaRule, SigmaError> {
        let id = doc
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("(document {})", index + 1), str::to_string);
        let fail = |p: Problem| SigmaError {
            origin: origin.to_string(),
            id: id.clone(),
            message: p.to_string(),
        };
        let body = if let Some(c) = doc.get("correlation") {
            Body::Correlation(CorrelationSpec::parse(c).map_err(fail)?)
        } else {
            let detection = doc
                .get("detection")
                .and_then(Value::as_object)
                .ok_or_else(|| fail(Problem::NoDetection))?;
            Body::Detection(Detection::compile(detection).map_err(fail)?)
        };
        Ok(SigmaRule {
            name: doc.get("name").and_then(Value::as_str).map(str::to_string),
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
            body,
            id,
        })
    }

    /// Whether a single event matches (never, for a correlation).
    pub fn matches(&self, event: &dyn Fields) -> bool {
        match &self.body {
            Body::Detection(d) => d.matches(event),
            Body::Correlation(_) => false,
        }
    }

    /// The detection, for a detection rule.
    pub fn detection(&self) -> Option<&Detection> {
        match &self.body {
            Body::Detection(d) => Some(d),
            Body::Correlation(_) => None,
        }
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
    if let Err(e) = crate::nesting::check_yaml(text) {
        errors.push(SigmaError {
            origin: origin.to_string(),
            id: "(file)".to_string(),
            message: e.to_string(),
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
    use crate::sigma::fields::JsonFields;
    use serde_json::json;

    fn json_fields<'a>(value: &'a Value, text: &'a str) -> JsonFields<'a> {
        JsonFields { value, text }
    }

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
            r.detection().map(|d| d.pin.clone()),
            Some(Pin::Names(vec!["deletetrail".into(), "stoplogging".into()]))
        );
        let e = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                       "userIdentity": {"arn": "arn:aws:iam::1:user/bob"}});
        assert!(r.matches(&json_fields(&e, "")));
        let tf = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                        "userIdentity": {"arn": "arn:aws:iam::1:role/terraform"}});
        assert!(!r.matches(&json_fields(&tf, "")));
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
        assert!(rules[1].matches(&json_fields(&json!({}), r#"{"userAgent":"Mimikatz 2"}"#)));
        assert!(rules[1].matches(&json_fields(&json!({}), "evil-tool")));
        assert!(!rules[1].matches(&json_fields(&json!({}), "nothing")));
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
