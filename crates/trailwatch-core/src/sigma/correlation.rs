//! Sigma correlation rules (the correlation specification, v2): the
//! `correlation` section of a rule ([`CorrelationSpec`]), and linking a
//! set of loaded rules ([`link`]) so each correlation knows the rules it
//! names, by `id` or `name`, whatever file they came from. The windows
//! that count and order their events are in [`super::window`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::rule::{Body, SigmaError, SigmaRule};

/// The four correlation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::EventCount => "event_count",
            Kind::ValueCount => "value_count",
            Kind::Temporal => "temporal",
            Kind::TemporalOrdered => "temporal_ordered",
        }
    }
}

/// A correlation's `condition`: every bound given must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Threshold {
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
    pub eq: Option<f64>,
}

impl Threshold {
    /// Whether a count meets it.
    pub fn holds(&self, n: f64) -> bool {
        self.gt.is_none_or(|v| n > v)
            && self.gte.is_none_or(|v| n >= v)
            && self.lt.is_none_or(|v| n < v)
            && self.lte.is_none_or(|v| n <= v)
            && self.eq.is_none_or(|v| n == v)
    }

    /// Whether it bounds the count from above: such a count can only be
    /// judged once its window has closed.
    pub fn upper_bounded(&self) -> bool {
        self.lt.is_some() || self.lte.is_some() || self.eq.is_some()
    }

    /// The bound an alert reports as its threshold.
    pub fn value(&self) -> Option<f64> {
        self.gte.or(self.gt).or(self.eq).or(self.lte).or(self.lt)
    }

    /// As the rule wrote it, e.g. `gte 10`.
    pub fn describe(&self) -> String {
        [
            ("gt", self.gt),
            ("gte", self.gte),
            ("lt", self.lt),
            ("lte", self.lte),
            ("eq", self.eq),
        ]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
        .collect::<Vec<_>>()
        .join(" and ")
    }
}

/// A correlation rule's `correlation` section, before linking.
#[derive(Debug, Clone)]
pub struct CorrelationSpec {
    pub kind: Kind,
    /// The rules it names (their `id` or `name`), in order.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_ms: i64,
    pub threshold: Threshold,
    /// `value_count`: the field whose distinct values are counted.
    pub field: Option<String>,
    /// Alias → (rule name → field in that rule's events).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// Whether the rules it names also alert on their own.
    pub generate: bool,
}

/// The longest timespan taken (a window holds its events that long).
const MAX_TIMESPAN_MS: i64 = 366 * 86_400_000;

/// `timespan`: a number and `s`, `m`, `h` or `d`, in milliseconds.
pub fn parse_timespan(s: &str) -> Result<i64, String> {
    let bad = || format!("timespan {s:?} is not a number and s, m, h or d (e.g. 5m, 1h, 7d)");
    let unit = s.chars().last().ok_or_else(bad)?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let per = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return Err(bad()),
    };
    let ms = n.checked_mul(per).ok_or_else(bad)?;
    if ms <= 0 || ms > MAX_TIMESPAN_MS {
        return Err(format!(
            "timespan {s:?} must be more than 0s and at most 366d"
        ));
    }
    Ok(ms)
}

fn string_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what} must be a list of names"))
            })
            .collect(),
        Some(_) => Err(format!("{what} must be a list of names")),
    }
}

impl CorrelationSpec {
    /// Parse a `correlation` section.
    pub fn parse(c: &Value) -> Result<CorrelationSpec, String> {
        let m = c
            .as_object()
            .ok_or("correlation must be a map of type, rules, group-by, timespan and condition")?;
        let kind = match m.get("type").and_then(Value::as_str) {
            Some("event_count") => Kind::EventCount,
            Some("value_count") => Kind::ValueCount,
            Some("temporal") => Kind::Temporal,
            Some("temporal_ordered") => Kind::TemporalOrdered,
            Some(other) => {
                return Err(format!(
                    "correlation type {other} is not supported (event_count, value_count, temporal, temporal_ordered)"
                ));
            }
            None => return Err("correlation has no type".into()),
        };
        let rules = string_list(m.get("rules"), "correlation rules")?;
        if rules.is_empty() {
            return Err("correlation names no rules".into());
        }
        let group_by = string_list(m.get("group-by"), "group-by")?;
        let timespan_ms = match m.get("timespan") {
            Some(Value::String(s)) => parse_timespan(s)?,
            Some(_) => return Err("timespan must be text such as 5m".into()),
            None => return Err("correlation has no timespan".into()),
        };
        let mut threshold = Threshold::default();
        let mut field = None;
        match m.get("condition") {
            None => {}
            Some(Value::Object(cond)) => {
                for (k, v) in cond {
                    if k == "field" {
                        field = Some(
                            v.as_str()
                                .ok_or("condition field must be a field name")?
                                .to_string(),
                        );
                        continue;
                    }
                    let n = v
                        .as_f64()
                        .ok_or_else(|| format!("condition {k} must be a number"))?;
                    let slot = match k.as_str() {
                        "gt" => &mut threshold.gt,
                        "gte" => &mut threshold.gte,
                        "lt" => &mut threshold.lt,
                        "lte" => &mut threshold.lte,
                        "eq" => &mut threshold.eq,
                        other => {
                            return Err(format!(
                                "condition {other} is not supported (gt, gte, lt, lte, eq, field)"
                            ));
                        }
                    };
                    *slot = Some(n);
                }
            }
            Some(_) => return Err("a correlation condition must be a map such as {gte: 10}".into()),
        }
        let counted = matches!(kind, Kind::EventCount | Kind::ValueCount);
        if counted && threshold == Threshold::default() {
            return Err(format!(
                "{} needs a condition such as gte: 10",
                kind.as_str()
            ));
        }
        match (kind, &field) {
            (Kind::ValueCount, None) => {
                return Err("value_count needs the field to count in its condition".into());
            }
            (Kind::ValueCount, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(format!("{} takes no condition field", kind.as_str()));
            }
        }
        if !counted {
            let n = rules.len() as f64;
            if threshold == Threshold::default() {
                threshold.gte = Some(n);
            }
            if threshold.upper_bounded() {
                return Err(format!(
                    "{} takes only gt or gte (how many of its rules must match)",
                    kind.as_str()
                ));
            }
            // Ordered chains take all their rules: the only condition
            // that fits holds for n rules and not for fewer.
            let all_only = threshold.holds(n) && !threshold.holds(n - 1.0);
            if kind == Kind::TemporalOrdered && !all_only {
                return Err("temporal_ordered needs all its rules, in order: its condition can only be gte: the number of rules".into());
            }
        }
        let mut aliases = BTreeMap::new();
        if let Some(a) = m.get("aliases") {
            let a = a.as_object().ok_or("aliases must be a map")?;
            for (alias, per_rule) in a {
                let per_rule = per_rule
                    .as_object()
                    .ok_or_else(|| format!("alias {alias} must map rule names to fields"))?;
                let mut fields = BTreeMap::new();
                for (rule, f) in per_rule {
                    let f = f
                        .as_str()
                        .ok_or_else(|| format!("alias {alias}: {rule} must name a field"))?;
                    fields.insert(rule.clone(), f.to_string());
                }
                aliases.insert(alias.clone(), fields);
            }
        }
        let generate = match m.get("generate") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("generate must be true or false".into()),
        };
        Ok(CorrelationSpec {
            kind,
            rules,
            group_by,
            timespan_ms,
            threshold,
            field,
            aliases,
            generate,
        })
    }
}

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
fn find(rules: &[SigmaRule], reference: &str) -> Result<usize, String> {
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
        [] => Err(format!(
            "it names rule {reference}, which is not loaded (give the file that holds it)"
        )),
        _ => Err(format!(
            "it names rule {reference}, and {} loaded rules have that name",
            named.len()
        )),
    }
}

/// Resolve one correlation's steps against the set.
fn resolve(rules: &[SigmaRule], spec: &CorrelationSpec) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for reference in &spec.rules {
        let i = find(rules, reference)?;
        let target = &rules[i];
        // A field of this step's events: an alias resolved for the rule
        // named, else the field itself.
        let field_name = |f: &str| -> Result<String, String> {
            match spec.aliases.get(f) {
                None => Ok(f.to_string()),
                Some(per_rule) => target
                    .name
                    .as_deref()
                    .and_then(|n| per_rule.get(n))
                    .or_else(|| per_rule.get(&target.id))
                    .cloned()
                    .ok_or_else(|| format!("alias {f} gives no field for rule {reference}")),
            }
        };
        let source_of = |f: &str| -> Result<FieldSource, String> {
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
                    .ok_or_else(|| {
                        format!(
                            "it uses {f} of correlation {reference}, which does not group by it"
                        )
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
        let mut failed: Option<(usize, String)> = None;
        for (i, r) in rules.iter().enumerate() {
            if let Body::Correlation(spec) = &r.body {
                if let Err(message) = resolve(&rules, spec) {
                    let message = match spec.rules.iter().find(|x| dropped.contains(x)) {
                        Some(x) => format!("it names rule {x}, which was skipped"),
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
            message,
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
fn cycle(rules: &[SigmaRule], start: usize) -> Option<String> {
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
                return Some(format!(
                    "it names itself through {}",
                    rules[i].name.as_deref().unwrap_or(&rules[i].id)
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

    #[test]
    fn timespans_take_s_m_h_d_and_nothing_else() {
        assert_eq!(parse_timespan("30s"), Ok(30_000));
        assert_eq!(parse_timespan("5m"), Ok(300_000));
        assert_eq!(parse_timespan("2h"), Ok(7_200_000));
        assert_eq!(parse_timespan("1d"), Ok(86_400_000));
        for bad in [
            "",
            "m",
            "5",
            "5y",
            "-5m",
            "0s",
            "99999999999999d",
            "1.5h",
            "367d",
        ] {
            assert!(parse_timespan(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn conditions_are_checked_per_type() {
        let spec = |body: &str| {
            let v: Value = yaml_serde::from_str(body).expect("yaml");
            CorrelationSpec::parse(&v)
        };
        let ok = spec("{type: event_count, rules: [a], group-by: [x], timespan: 1h, condition: {gt: 2, lte: 5}}")
            .expect("ok");
        assert!(ok.threshold.holds(3.0) && !ok.threshold.holds(6.0) && !ok.threshold.holds(2.0));
        assert!(ok.threshold.upper_bounded());
        let t = spec("{type: temporal, rules: [a, b, c], timespan: 5m}").expect("ok");
        assert_eq!(
            t.threshold.gte,
            Some(3.0),
            "temporal defaults to all its rules"
        );
        for (body, why) in [
            (
                "{type: event_count, rules: [a], timespan: 1h}",
                "needs a condition",
            ),
            (
                "{type: value_count, rules: [a], timespan: 1h, condition: {gte: 2}}",
                "field",
            ),
            (
                "{type: event_count, rules: [a], timespan: 1h, condition: {gte: 2, field: x}}",
                "no condition field",
            ),
            ("{type: near, rules: [a], timespan: 1h}", "not supported"),
            (
                "{type: temporal, rules: [a, b], timespan: 1h, condition: {lt: 2}}",
                "only gt or gte",
            ),
            (
                "{type: temporal_ordered, rules: [a, b], timespan: 1h, condition: {gte: 1}}",
                "in order",
            ),
            (
                "{type: event_count, rules: [], timespan: 1h, condition: {gte: 1}}",
                "no rules",
            ),
            (
                "{type: event_count, rules: [a], timespan: 1w, condition: {gte: 1}}",
                "timespan",
            ),
            (
                "{type: event_count, rules: [a], timespan: 1h, condition: {gte: many}}",
                "number",
            ),
        ] {
            let e = spec(body).unwrap_err();
            assert!(e.contains(why), "{body}: {e}");
        }
    }

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
