//! Linking a set of loaded Sigma rules ([`link`]): each correlation is
//! given the rules it names, by `id` or `name`, whatever file they came
//! from, with the field each one groups by; broken references and cycles
//! are reported with the rule's file and id, and the rest of the set
//! stays usable.

use super::correlation::CorrelationSpec;
use super::problem::Problem;
use super::rule::{Body, SigmaError, SigmaRule};

/// Where one step of a correlation takes its events from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepSource {
    /// A detection rule (index into the set's rules).
    Rule(usize),
    /// Another correlation's matches (index into the set's rules).
    Correlation(usize),
}

/// How a step reads one group-by value (or the counted field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSource {
    /// A dotted path into the event.
    Path(Vec<String>),
    /// The value of the chained correlation's group-by field at this
    /// position.
    Group(usize),
}

/// One rule a correlation names, resolved.
#[derive(Debug, Clone)]
pub struct Step {
    pub source: StepSource,
    /// One per group-by field.
    pub group: Vec<FieldSource>,
    /// `value_count`'s field.
    pub value: Option<FieldSource>,
}

/// The loaded Sigma rules, every correlation linked to its steps.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<SigmaRule>,
    /// For each rule: its steps, if it is a correlation.
    pub steps: Vec<Vec<Step>>,
    /// For each rule: whether it alerts on its own (a rule a correlation
    /// names does not, unless that correlation says `generate: true`).
    pub alerts: Vec<bool>,
}

/// Which rule a reference names: its `id`, else its `name`.
fn find(rules: &[SigmaRule], reference: &str) -> Result<usize, Problem> {
    if let Some(i) = rules.iter().position(|r| r.id == reference) {
        return Ok(i);
    }
    let named: Vec<usize> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.name.as_deref() == Some(reference))
        .map(|(i, _)| i)
        .collect();
    match named.as_slice() {
        [i] => Ok(*i),
        [] => Err(Problem::NotLoaded(reference.to_string())),
        _ => Err(Problem::Ambiguous {
            reference: reference.to_string(),
            count: named.len(),
        }),
    }
}

/// Resolve one correlation's steps against the set.
fn resolve(rules: &[SigmaRule], spec: &CorrelationSpec) -> Result<Vec<Step>, Problem> {
    let mut steps = Vec::new();
    for reference in &spec.rules {
        let i = find(rules, reference)?;
        let target = &rules[i];
        // A field of this step's events: an alias resolved for the rule
        // named, else the field itself.
        let field_name = |f: &str| -> Result<String, Problem> {
            match spec.aliases.get(f) {
                None => Ok(f.to_string()),
                Some(per_rule) => target
                    .name
                    .as_deref()
                    .and_then(|n| per_rule.get(n))
                    .or_else(|| per_rule.get(&target.id))
                    .cloned()
                    .ok_or_else(|| Problem::AliasNoField {
                        alias: f.to_string(),
                        rule: reference.clone(),
                    }),
            }
        };
        let source_of = |f: &str| -> Result<FieldSource, Problem> {
            let f = field_name(f)?;
            match &target.body {
                Body::Detection(_) => Ok(FieldSource::Path(
                    f.split('.').map(str::to_string).collect(),
                )),
                Body::Correlation(child) => child
                    .group_by
                    .iter()
                    .position(|g| *g == f)
                    .map(FieldSource::Group)
                    .ok_or_else(|| Problem::NotGrouped {
                        field: f.clone(),
                        correlation: reference.clone(),
                    }),
            }
        };
        let group = spec
            .group_by
            .iter()
            .map(|g| source_of(g))
            .collect::<Result<_, _>>()?;
        let value = spec.field.as_deref().map(source_of).transpose()?;
        let source = match target.body {
            Body::Detection(_) => StepSource::Rule(i),
            Body::Correlation(_) => StepSource::Correlation(i),
        };
        steps.push(Step {
            source,
            group,
            value,
        });
    }
    Ok(steps)
}

/// Link the rules: each correlation to the rules it names. A correlation
/// that names a rule not loaded, names itself through a chain, or uses a
/// field its chained correlation does not group by is reported and
/// dropped (with any correlation built on it); the rest stay.
pub fn link(mut rules: Vec<SigmaRule>) -> (RuleSet, Vec<SigmaError>) {
    let mut errors = Vec::new();
    // The ids and names of rules dropped so far.
    let mut dropped: Vec<String> = Vec::new();
    loop {
        let mut failed: Option<(usize, Problem)> = None;
        for (i, r) in rules.iter().enumerate() {
            if let Body::Correlation(spec) = &r.body {
                if let Err(message) = resolve(&rules, spec) {
                    let message = match spec.rules.iter().find(|x| dropped.contains(x)) {
                        Some(x) => Problem::Skipped(x.clone()),
                        None => message,
                    };
                    failed = Some((i, message));
                    break;
                }
                if let Some(message) = cycle(&rules, i) {
                    failed = Some((i, message));
                    break;
                }
            }
        }
        let Some((i, message)) = failed else { break };
        let r = rules.remove(i);
        dropped.push(r.id.clone());
        dropped.extend(r.name.clone());
        errors.push(SigmaError {
            origin: r.origin,
            id: r.id,
            message: message.to_string(),
        });
    }
    let steps: Vec<Vec<Step>> = rules
        .iter()
        .map(|r| match &r.body {
            Body::Correlation(spec) => resolve(&rules, spec).unwrap_or_default(),
            Body::Detection(_) => Vec::new(),
        })
        .collect();
    let mut alerts = vec![true; rules.len()];
    for s in steps.iter().flatten() {
        let (StepSource::Rule(j) | StepSource::Correlation(j)) = s.source;
        alerts[j] = false;
    }
    // `generate: true` on any correlation naming a rule lets it alert.
    for (i, r) in rules.iter().enumerate() {
        if let Body::Correlation(spec) = &r.body
            && spec.generate
        {
            for s in &steps[i] {
                let (StepSource::Rule(j) | StepSource::Correlation(j)) = s.source;
                alerts[j] = true;
            }
        }
    }
    (
        RuleSet {
            rules,
            steps,
            alerts,
        },
        errors,
    )
}

/// Whether correlation `start` reaches itself through the rules it names.
fn cycle(rules: &[SigmaRule], start: usize) -> Option<Problem> {
    let mut stack = vec![start];
    let mut seen = vec![false; rules.len()];
    while let Some(i) = stack.pop() {
        let Body::Correlation(spec) = &rules[i].body else {
            continue;
        };
        for reference in &spec.rules {
            let Ok(j) = find(rules, reference) else {
                continue;
            };
            if j == start {
                return Some(Problem::Cycle(
                    rules[i].name.as_deref().unwrap_or(&rules[i].id).to_string(),
                ));
            }
            if !seen[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigma::rule::load;

    const CHAIN: &str = r#"
title: Brute force then success
id: corr-outer
correlation:
  type: temporal_ordered
  rules: [many_failed, success]
  group-by: [user]
  timespan: 10m
  aliases:
    user:
      many_failed: user
      success: userIdentity.arn
level: high
---
title: Many failed
id: corr-inner
name: many_failed
correlation:
  type: event_count
  rules: [failed]
  group-by: [user]
  aliases:
    user: {failed: userIdentity.arn}
  timespan: 10m
  condition: {gte: 3}
---
title: Failed
id: rule-failed
name: failed
detection:
  sel: {eventName: ConsoleLogin, errorMessage: Failed authentication}
  condition: sel
---
title: Success
id: rule-success
name: success
detection:
  sel: {eventName: ConsoleLogin, responseElements.ConsoleLogin: Success}
  condition: sel
"#;

    #[test]
    fn chains_link_by_name_with_aliases_and_named_rules_stay_quiet() {
        let (rules, errors) = load(CHAIN, "chain.yml");
        assert!(errors.is_empty(), "{errors:?}");
        let (set, errors) = link(rules);
        assert!(errors.is_empty(), "{errors:?}");
        let ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["corr-outer", "corr-inner", "rule-failed", "rule-success"]
        );
        assert_eq!(set.alerts, [true, false, false, false]);
        let outer = &set.steps[0];
        assert_eq!(outer[0].source, StepSource::Correlation(1));
        assert_eq!(outer[0].group, [FieldSource::Group(0)]);
        assert_eq!(outer[1].source, StepSource::Rule(3));
        assert_eq!(
            outer[1].group,
            [FieldSource::Path(vec!["userIdentity".into(), "arn".into()])]
        );
    }

    #[test]
    fn broken_links_are_reported_with_file_and_id_and_the_rest_stays() {
        let text = r#"
title: names nothing loaded
id: c-missing
correlation: {type: event_count, rules: [nope], group-by: [x], timespan: 1h, condition: {gte: 2}}
---
title: built on the broken one
id: c-on-top
correlation: {type: temporal, rules: [c-missing, d], group-by: [x], timespan: 1h}
---
title: groups by what its child lacks
id: c-field
correlation: {type: temporal, rules: [c-ok, d], group-by: [y], timespan: 1h}
---
title: fine
id: c-ok
correlation: {type: event_count, rules: [d], group-by: [x], timespan: 1h, condition: {gte: 2}}
---
title: loops
id: c-loop-a
correlation: {type: temporal, rules: [c-loop-b, d], timespan: 1h}
---
title: loops back
id: c-loop-b
correlation: {type: temporal, rules: [c-loop-a, d], timespan: 1h}
---
title: d
id: d
detection: {sel: {eventName: X}, condition: sel}
"#;
        let (rules, errors) = load(text, "links.yml");
        assert!(errors.is_empty(), "{errors:?}");
        let (set, errors) = link(rules);
        let kept: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(kept, ["c-ok", "d"]);
        let why: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let find = |id: &str| {
            why.iter()
                .find(|w| w.contains(&format!("rule {id}:")))
                .cloned()
                .unwrap_or_default()
        };
        assert!(
            find("c-missing").contains("nope, which is not loaded"),
            "{why:?}"
        );
        assert!(
            find("c-on-top").contains("c-missing, which was skipped"),
            "{why:?}"
        );
        assert!(find("c-field").contains("does not group by"), "{why:?}");
        assert!(find("c-loop-a").contains("itself"), "{why:?}");
        assert!(why.iter().all(|w| w.starts_with("links.yml: ")), "{why:?}");
        assert_eq!(why.len(), 5, "{why:?}");
    }
}
