//! Expectations of a backtest, for CI: a YAML file of
//! `expect: [{rule, min, max, alerts_min, alerts_max, must_match,
//! must_not_match}]`, each checked against the results. An expectation
//! naming a rule not in force is an error naming the file and line.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::tally::{RuleResult, Tally};

#[derive(Debug, Error)]
pub enum ExpectError {
    #[error("{origin}: {message}")]
    Yaml { origin: String, message: String },
    #[error(
        "{origin}:{line}: no rule {rule} is in force (see `rules list` with the same --pack and --rules)"
    )]
    UnknownRule {
        origin: String,
        line: usize,
        rule: String,
    },
}

/// One expectation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub rule: String,
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub alerts_min: Option<u64>,
    pub alerts_max: Option<u64>,
    #[serde(default)]
    pub must_match: Vec<String>,
    #[serde(default)]
    pub must_not_match: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    expect: Vec<Expectation>,
}

/// An expectation checked: what it said, and what was wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub expectation: Expectation,
    /// Each unmet part, said with how far off it was; empty when met.
    pub failures: Vec<String>,
}

impl Checked {
    pub fn met(&self) -> bool {
        self.failures.is_empty()
    }

    /// `rule-id: 3 ≤ matches ≤ 40`, a name for a test case.
    pub fn name(&self) -> String {
        let e = &self.expectation;
        let mut parts = Vec::new();
        match (e.min, e.max) {
            (Some(a), Some(b)) => parts.push(format!("{a} <= matches <= {b}")),
            (Some(a), None) => parts.push(format!("matches >= {a}")),
            (None, Some(b)) => parts.push(format!("matches <= {b}")),
            (None, None) => {}
        }
        match (e.alerts_min, e.alerts_max) {
            (Some(a), Some(b)) => parts.push(format!("{a} <= alerts <= {b}")),
            (Some(a), None) => parts.push(format!("alerts >= {a}")),
            (None, Some(b)) => parts.push(format!("alerts <= {b}")),
            (None, None) => {}
        }
        if !e.must_match.is_empty() {
            parts.push(format!("matches {} named events", e.must_match.len()));
        }
        if !e.must_not_match.is_empty() {
            parts.push(format!("misses {} named events", e.must_not_match.len()));
        }
        format!("{}: {}", e.rule, parts.join(", "))
    }
}

/// Read an expectations file. `known` says whether a rule id is in force.
pub fn parse(
    yaml: &str,
    origin: &str,
    known: impl Fn(&str) -> bool,
) -> Result<Vec<Expectation>, ExpectError> {
    let yaml_err = |message: String| ExpectError::Yaml {
        origin: origin.to_string(),
        message,
    };
    crate::nesting::check_yaml(yaml).map_err(|e| yaml_err(e.to_string()))?;
    let file: File = yaml_serde::from_str(yaml).map_err(|e| yaml_err(e.to_string()))?;
    for e in &file.expect {
        if !known(&e.rule) {
            return Err(ExpectError::UnknownRule {
                origin: origin.to_string(),
                line: line_of(yaml, &e.rule),
                rule: e.rule.clone(),
            });
        }
    }
    Ok(file.expect)
}

/// The 1-based line where `rule: ID` is written (the first line naming
/// the id after `rule:`), or 1.
fn line_of(yaml: &str, rule: &str) -> usize {
    yaml.lines()
        .position(|l| {
            l.split_once("rule:")
                .is_some_and(|(_, v)| v.trim().trim_matches(['"', '\'']) == rule)
        })
        .map_or(1, |i| i + 1)
}

/// The event ids expectations name (a backtest keeps those matches).
pub fn named_events(expect: &[Expectation]) -> bool {
    expect
        .iter()
        .any(|e| !e.must_match.is_empty() || !e.must_not_match.is_empty())
}

/// Check each expectation against the results.
pub fn check(expect: &[Expectation], results: &[RuleResult], tally: &Tally) -> Vec<Checked> {
    expect
        .iter()
        .map(|e| {
            let r = results.iter().find(|r| r.rule_id == e.rule);
            let (matches, alerts) = r.map_or((0, 0), |r| (r.matches, r.alerts));
            let mut failures = Vec::new();
            let mut bound = |what: &str, got: u64, min: Option<u64>, max: Option<u64>| {
                if let Some(min) = min.filter(|m| got < *m) {
                    failures.push(format!(
                        "{what}: {got}, {} fewer than the minimum {min}",
                        min - got
                    ));
                }
                if let Some(max) = max.filter(|m| got > *m) {
                    failures.push(format!(
                        "{what}: {got}, {} more than the maximum {max}",
                        got - max
                    ));
                }
            };
            bound("matches", matches, e.min, e.max);
            bound("alerts", alerts, e.alerts_min, e.alerts_max);
            let missed: Vec<&str> = e
                .must_match
                .iter()
                .filter(|id| !tally.matched_event(&e.rule, id))
                .map(String::as_str)
                .collect();
            if !missed.is_empty() {
                failures.push(format!("did not match {}", missed.join(", ")));
            }
            let hit: Vec<&str> = e
                .must_not_match
                .iter()
                .filter(|id| tally.matched_event(&e.rule, id))
                .map(String::as_str)
                .collect();
            if !hit.is_empty() {
                failures.push(format!("matched {}, which it must not", hit.join(", ")));
            }
            Checked {
                expectation: e.clone(),
                failures,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_rule_is_named_with_its_line() {
        let yaml = "expect:\n  - rule: a\n    min: 1\n  - rule: nope\n    max: 2\n";
        let err = parse(yaml, "x.yaml", |r| r == "a").unwrap_err().to_string();
        assert_eq!(
            err,
            "x.yaml:4: no rule nope is in force (see `rules list` with the same --pack and --rules)"
        );
    }

    #[test]
    fn an_unknown_key_is_an_error() {
        let yaml = "expect:\n  - rule: a\n    minimum: 1\n";
        assert!(parse(yaml, "x.yaml", |_| true).is_err());
    }

    #[test]
    fn bounds_say_how_far_off_they_are() {
        let yaml = "expect:\n  - rule: a\n    min: 5\n    alerts_max: 0\n";
        let expect = parse(yaml, "x.yaml", |_| true).unwrap();
        let tally = Tally::new([("a", "A")], false);
        let results = vec![RuleResult {
            rule_id: "a".into(),
            title: "A".into(),
            matches: 2,
            alerts: 1,
            by_day: Default::default(),
            top_principals: vec![],
            top_ips: vec![],
            first_match: None,
            last_match: None,
        }];
        let checked = check(&expect, &results, &tally);
        assert_eq!(
            checked[0].failures,
            [
                "matches: 2, 3 fewer than the minimum 5",
                "alerts: 1, 1 more than the maximum 0"
            ]
        );
        assert_eq!(checked[0].name(), "a: matches >= 5, alerts <= 0");
    }
}
