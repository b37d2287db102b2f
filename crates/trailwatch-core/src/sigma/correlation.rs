//! Sigma correlation rules (the correlation specification, v2): the
//! `correlation` section of a rule ([`CorrelationSpec`]). Linking loaded
//! rules so each correlation knows the rules it names is
//! [`super::link`]'s; the windows that count and order their events are
//! [`super::window`]'s.

use std::collections::BTreeMap;

use serde_json::Value;

use super::problem::Problem;

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
pub fn parse_timespan(s: &str) -> Result<i64, Problem> {
    let bad = || Problem::BadTimespan(s.to_string());
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
        return Err(Problem::TimespanRange(s.to_string()));
    }
    Ok(ms)
}

fn string_list(v: Option<&Value>, what: &'static str) -> Result<Vec<String>, Problem> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or(Problem::NotNames(what))
            })
            .collect(),
        Some(_) => Err(Problem::NotNames(what)),
    }
}

/// `type`.
fn kind_of(m: &serde_json::Map<String, Value>) -> Result<Kind, Problem> {
    match m.get("type").and_then(Value::as_str) {
        Some("event_count") => Ok(Kind::EventCount),
        Some("value_count") => Ok(Kind::ValueCount),
        Some("temporal") => Ok(Kind::Temporal),
        Some("temporal_ordered") => Ok(Kind::TemporalOrdered),
        Some(other) => Err(Problem::UnknownType(other.to_string())),
        None => Err(Problem::NoType),
    }
}

/// `condition`: the bounds, and the field `value_count` counts.
fn condition(c: Option<&Value>) -> Result<(Threshold, Option<String>), Problem> {
    let mut threshold = Threshold::default();
    let mut field = None;
    match c {
        None => {}
        Some(Value::Object(cond)) => {
            for (k, v) in cond {
                if k == "field" {
                    field = Some(
                        v.as_str()
                            .ok_or(Problem::ConditionFieldNotName)?
                            .to_string(),
                    );
                    continue;
                }
                let n = v
                    .as_f64()
                    .ok_or_else(|| Problem::ConditionNotNumber(k.clone()))?;
                let slot = match k.as_str() {
                    "gt" => &mut threshold.gt,
                    "gte" => &mut threshold.gte,
                    "lt" => &mut threshold.lt,
                    "lte" => &mut threshold.lte,
                    "eq" => &mut threshold.eq,
                    other => return Err(Problem::UnknownCondition(other.to_string())),
                };
                *slot = Some(n);
            }
        }
        Some(_) => return Err(Problem::ConditionNotMap),
    }
    Ok((threshold, field))
}

/// The condition checked against the type: counting types need bounds
/// (and `value_count` its field); temporal types default to all their
/// `rules` and take only lower bounds, `temporal_ordered` only all.
fn check_condition(
    kind: Kind,
    rules: usize,
    mut threshold: Threshold,
    field: &Option<String>,
) -> Result<Threshold, Problem> {
    let counted = matches!(kind, Kind::EventCount | Kind::ValueCount);
    if counted && threshold == Threshold::default() {
        return Err(Problem::NeedsCondition(kind.as_str()));
    }
    match (kind, field) {
        (Kind::ValueCount, None) => return Err(Problem::ValueCountNeedsField),
        (Kind::ValueCount, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(Problem::NoConditionField(kind.as_str())),
    }
    if !counted {
        let n = rules as f64;
        if threshold == Threshold::default() {
            threshold.gte = Some(n);
        }
        if threshold.upper_bounded() {
            return Err(Problem::OnlyLowerBounds(kind.as_str()));
        }
        // Ordered chains take all their rules: the only condition that
        // fits holds for n rules and not for fewer.
        let all_only = threshold.holds(n) && !threshold.holds(n - 1.0);
        if kind == Kind::TemporalOrdered && !all_only {
            return Err(Problem::OrderedNeedsAll);
        }
    }
    Ok(threshold)
}

/// `aliases`: alias → (rule name → field in that rule's events).
fn aliases(a: Option<&Value>) -> Result<BTreeMap<String, BTreeMap<String, String>>, Problem> {
    let mut aliases = BTreeMap::new();
    let Some(a) = a else {
        return Ok(aliases);
    };
    let a = a.as_object().ok_or(Problem::AliasesNotMap)?;
    for (alias, per_rule) in a {
        let per_rule = per_rule
            .as_object()
            .ok_or_else(|| Problem::AliasNotMap(alias.clone()))?;
        let mut fields = BTreeMap::new();
        for (rule, f) in per_rule {
            let f = f.as_str().ok_or_else(|| Problem::AliasFieldNotName {
                alias: alias.clone(),
                rule: rule.clone(),
            })?;
            fields.insert(rule.clone(), f.to_string());
        }
        aliases.insert(alias.clone(), fields);
    }
    Ok(aliases)
}

impl CorrelationSpec {
    /// Parse a `correlation` section.
    pub fn parse(c: &Value) -> Result<CorrelationSpec, Problem> {
        let m = c.as_object().ok_or(Problem::CorrelationNotMap)?;
        let kind = kind_of(m)?;
        let rules = string_list(m.get("rules"), "correlation rules")?;
        if rules.is_empty() {
            return Err(Problem::NoRules);
        }
        let group_by = string_list(m.get("group-by"), "group-by")?;
        let timespan_ms = match m.get("timespan") {
            Some(Value::String(s)) => parse_timespan(s)?,
            Some(_) => return Err(Problem::TimespanNotText),
            None => return Err(Problem::NoTimespan),
        };
        let (threshold, field) = condition(m.get("condition"))?;
        let threshold = check_condition(kind, rules.len(), threshold, &field)?;
        let aliases = aliases(m.get("aliases"))?;
        let generate = match m.get("generate") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Problem::GenerateNotBool),
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

#[cfg(test)]
mod tests {
    use super::*;

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
            let e = spec(body).unwrap_err().to_string();
            assert!(e.contains(why), "{body}: {e}");
        }
    }
}
