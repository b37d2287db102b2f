//! Detection rules: the YAML rule format, validation into compiled rules,
//! the built-in packs, Terraform import, and rules written back as YAML.
//!
//! A rule is a filter pattern plus either a CloudWatch metric and alarm
//! (alerts on ALARM transitions) or nothing more (every match is a finding),
//! or both (`findings: true` with an alarm). Each rule carries example events
//! that must fire and must not.

mod engine;
mod examples;
mod format;
mod terraform;
mod yaml;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alarm::{AlarmSpec, Comparison, Statistic, TreatMissing};
use crate::pattern::{Pattern, PatternError, Step};

pub use crate::alert::Severity;
pub use engine::{Engine, LATE_HORIZON, Match};
pub use examples::{ExampleError, check_examples, example_record, matches_record};
pub use format::{LoadError, RuleFormat, load_rules};
pub use terraform::{TerraformError, import_terraform};
pub use yaml::to_yaml;

/// A metric transformation, as in `PutMetricFilter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    /// `"1"` (count matches) or `$.selector`.
    #[serde(default = "one")]
    pub value: String,
    #[serde(default)]
    pub default_value: Option<f64>,
    /// Dimension name → `$.selector` (at most 3).
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    #[serde(default)]
    pub unit: Option<String>,
}

fn one() -> String {
    "1".into()
}

/// Alarm settings, as in `PutMetricAlarm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlarm {
    /// Seconds: 60 or a multiple of 60.
    pub period: u32,
    pub evaluation_periods: usize,
    #[serde(default)]
    pub datapoints_to_alarm: Option<usize>,
    /// `Sum`, `Average`, `SampleCount`, `Minimum`, `Maximum` or `pNN`.
    pub statistic: String,
    pub threshold: f64,
    pub comparison: Comparison,
    #[serde(default = "missing")]
    pub treat_missing_data: TreatMissing,
}

fn missing() -> TreatMissing {
    TreatMissing::Missing
}

/// Example events of a rule: partial records merged over a base record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(default)]
    pub fire: Vec<serde_json::Value>,
    #[serde(default)]
    pub quiet: Vec<serde_json::Value>,
}

/// A rule as written in YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(default)]
    pub description: String,
    pub pattern: String,
    #[serde(default)]
    pub metric: Option<RawMetric>,
    #[serde(default)]
    pub alarm: Option<RawAlarm>,
    /// With an alarm: also report every match as a finding.
    #[serde(default)]
    pub findings: bool,
    /// Where alerts go (sink names, or SNS topic names from Terraform).
    #[serde(default)]
    pub actions: Vec<String>,
    /// The investigation query to run next (Athena SQL over `cloudtrail_logs`).
    #[serde(default)]
    pub query: Option<String>,
    /// The MITRE ATT&CK techniques it detects (`T1562.008`), for `rules
    /// coverage`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub techniques: Vec<String>,
    #[serde(default)]
    pub examples: Examples,
}

/// A rule file: a pack of rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub pack: Option<String>,
    pub rules: Vec<RawRule>,
}

/// How a metric's value is taken from a match.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Constant(f64),
    Selector(Vec<Step>),
}

/// A validated metric + alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricAlarm {
    pub metric_name: String,
    pub namespace: String,
    pub value: MetricValue,
    pub default_value: Option<f64>,
    pub dimensions: Vec<(String, Vec<Step>)>,
    pub spec: AlarmSpec,
}

/// A validated, compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub description: String,
    pub pattern: Pattern,
    pub pattern_text: String,
    pub alarm: Option<MetricAlarm>,
    pub findings: bool,
    pub actions: Vec<String>,
    pub query: Option<String>,
    /// MITRE ATT&CK technique ids (`T1562.008`).
    pub techniques: Vec<String>,
    pub examples: Examples,
    /// The pack or file the rule came from.
    pub origin: String,
}

/// Why a rule is invalid.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{origin}: cannot read rules: {message}")]
    Yaml { origin: String, message: String },
    #[error("{origin}: rule {id}: pattern {pattern:?}: {error}")]
    Pattern {
        origin: String,
        id: String,
        pattern: String,
        error: PatternError,
    },
    #[error("{origin}: rule {id}: {message}")]
    Invalid {
        origin: String,
        id: String,
        message: String,
    },
    #[error("duplicate rule id {id} (in {first} and {second})")]
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
}

fn selector(s: &str) -> Option<Vec<Step>> {
    // Reuse the pattern parser: `{ <selector> NOT EXISTS }` parses a selector.
    match Pattern::parse(&format!("{{ {s} NOT EXISTS }}")).ok()? {
        Pattern::Json(crate::pattern::Expr::Cond(c)) => Some(c.selector),
        _ => None,
    }
}

/// Why a metric or its alarm is not one CloudWatch would take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlarmProblem {
    #[error("period {0} is not a multiple of 60 seconds")]
    Period(u32),
    #[error("evaluation_periods × period must be between 1 period and 1 day")]
    EvaluationRange,
    #[error("datapoints_to_alarm must be between 1 and evaluation_periods")]
    DatapointsRange,
    #[error("unknown statistic {0:?}")]
    Statistic(String),
    #[error("bad metric value selector {0:?}")]
    ValueSelector(String),
    #[error("metric value {0:?} is neither a number nor $.selector")]
    Value(String),
    #[error("at most 3 dimensions")]
    TooManyDimensions,
    #[error("default_value is not allowed with dimensions")]
    DefaultWithDimensions,
    #[error("bad dimension selector {0:?}")]
    DimensionSelector(String),
}

/// A metric and its alarm, checked as `PutMetricFilter` and
/// `PutMetricAlarm` check them.
fn metric_alarm(m: &RawMetric, a: &RawAlarm) -> Result<MetricAlarm, AlarmProblem> {
    if a.period < 60 || !a.period.is_multiple_of(60) {
        return Err(AlarmProblem::Period(a.period));
    }
    if a.evaluation_periods == 0 || a.evaluation_periods as u64 * u64::from(a.period) > 86_400 {
        return Err(AlarmProblem::EvaluationRange);
    }
    let m_of_n = a.datapoints_to_alarm.unwrap_or(a.evaluation_periods);
    if m_of_n == 0 || m_of_n > a.evaluation_periods {
        return Err(AlarmProblem::DatapointsRange);
    }
    let statistic = Statistic::parse(&a.statistic)
        .ok_or_else(|| AlarmProblem::Statistic(a.statistic.clone()))?;
    let value = match m.value.trim() {
        v if v.starts_with('$') => MetricValue::Selector(
            selector(v).ok_or_else(|| AlarmProblem::ValueSelector(v.to_string()))?,
        ),
        v => MetricValue::Constant(v.parse().map_err(|_| AlarmProblem::Value(v.to_string()))?),
    };
    if m.dimensions.len() > 3 {
        return Err(AlarmProblem::TooManyDimensions);
    }
    if !m.dimensions.is_empty() && m.default_value.is_some() {
        return Err(AlarmProblem::DefaultWithDimensions);
    }
    let mut dimensions = Vec::new();
    for (name, sel) in &m.dimensions {
        let steps =
            selector(sel).ok_or_else(|| AlarmProblem::DimensionSelector(sel.to_string()))?;
        dimensions.push((name.clone(), steps));
    }
    Ok(MetricAlarm {
        metric_name: m.name.clone(),
        namespace: m.namespace.clone(),
        value,
        default_value: m.default_value,
        dimensions,
        spec: AlarmSpec {
            period_minutes: i64::from(a.period / 60),
            evaluation_periods: a.evaluation_periods,
            datapoints_to_alarm: m_of_n,
            statistic,
            threshold: a.threshold,
            comparison: a.comparison,
            treat_missing: a.treat_missing_data,
        },
    })
}

impl RawRule {
    /// Validate and compile.
    pub fn compile(self, origin: &str) -> Result<Rule, RuleError> {
        let invalid = |message: String| RuleError::Invalid {
            origin: origin.to_string(),
            id: self.id.clone(),
            message,
        };
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(invalid("ids use letters, digits, '-', '_' and '.'".into()));
        }
        let pattern = Pattern::parse(&self.pattern).map_err(|error| RuleError::Pattern {
            origin: origin.to_string(),
            id: self.id.clone(),
            pattern: self.pattern.clone(),
            error,
        })?;
        if let Some(t) = self
            .techniques
            .iter()
            .find(|t| !crate::attack::is_technique_id(t))
        {
            return Err(invalid(format!(
                "technique {t:?}: an ATT&CK id is T and four digits, with a sub-technique .NNN (T1562.008)"
            )));
        }
        let alarm = match (&self.metric, &self.alarm) {
            (None, None) => None,
            (Some(_), None) => return Err(invalid("a metric needs an alarm".into())),
            (None, Some(_)) => return Err(invalid("an alarm needs a metric".into())),
            (Some(m), Some(a)) => Some(metric_alarm(m, a).map_err(|p| invalid(p.to_string()))?),
        };
        Ok(Rule {
            findings: self.findings || alarm.is_none(),
            id: self.id,
            title: self.title,
            severity: self.severity,
            description: self.description,
            pattern,
            pattern_text: self.pattern,
            alarm,
            actions: self.actions,
            query: self.query,
            techniques: self.techniques,
            examples: self.examples,
            origin: origin.to_string(),
        })
    }
}

/// Parse a YAML rule file (a `rules:` list, or a single rule).
pub fn parse_rules(yaml: &str, origin: &str) -> Result<Vec<Rule>, RuleError> {
    let yaml_err = |e: yaml_serde::Error| RuleError::Yaml {
        origin: origin.to_string(),
        message: e.to_string(),
    };
    crate::nesting::check_yaml(yaml).map_err(|e| RuleError::Yaml {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    let raw: Vec<RawRule> = match yaml_serde::from_str::<RuleFile>(yaml) {
        Ok(f) => f.rules,
        Err(file_err) => match yaml_serde::from_str::<RawRule>(yaml) {
            Ok(r) => vec![r],
            Err(_) => return Err(yaml_err(file_err)),
        },
    };
    raw.into_iter().map(|r| r.compile(origin)).collect()
}

/// The packs in force unless told otherwise: what needs a look, without
/// the CIS monitoring alarms (`cis`), which are compliance controls that
/// fire on routine activity (75 of the sample's 133 alerts were `cis-4.1`
/// alone) and are there for who wants them (`--pack all` or `cis`).
pub const DEFAULT_PACK: &str = "essential,responder,correlation";

/// The built-in packs, by name.
pub const PACKS: &[(&str, &str)] = &[
    ("essential", include_str!("packs/essential.yaml")),
    ("cis", include_str!("packs/cis.yaml")),
    ("responder", include_str!("packs/responder.yaml")),
];

/// Rules of built-in packs: `essential`, `cis`, `responder`, `all` or
/// `none`, or a comma-separated list of them (`correlation` is accepted
/// and adds no rule: its detections come from `crate::correlate`).
pub fn pack(names: &str) -> Result<Vec<Rule>, RuleError> {
    let wanted: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    for w in &wanted {
        // `correlation` is a pack of detectors, not of rules (see
        // `crate::correlate`): known here, it adds no rule.
        if !matches!(*w, "all" | "none" | crate::correlate::PACK)
            && !PACKS.iter().any(|(n, _)| n == w)
        {
            return Err(RuleError::Yaml {
                origin: format!("pack {w}"),
                message: "unknown pack (essential, cis, responder, correlation, all, none)".into(),
            });
        }
    }
    let mut out = Vec::new();
    for (n, yaml) in PACKS {
        if wanted.iter().any(|w| *w == "all" || w == n) {
            out.extend(parse_rules(yaml, &format!("pack {n}"))?);
        }
    }
    Ok(out)
}

/// Refuse two rules with one id.
pub fn check_unique(rules: &[Rule]) -> Result<(), RuleError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for r in rules {
        if let Some(first) = seen.insert(&r.id, &r.origin) {
            return Err(RuleError::Duplicate {
                id: r.id.clone(),
                first: first.to_string(),
                second: r.origin.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_packs_compile_with_the_documented_ids() {
        let essential = pack("essential").expect("essential");
        let ids: Vec<&str> = essential.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "root-account-usage",
                "iam-policy-changes",
                "security-group-open-to-world",
                "cloudtrail-stopped",
                "console-login-without-mfa",
                "console-login-failures",
                "s3-bucket-policy-change"
            ]
        );
        let sev: Vec<Severity> = essential.iter().map(|r| r.severity).collect();
        use Severity::*;
        assert_eq!(sev, [P1, P2, P1, P1, P2, P3, P2]);
        let cis = pack("cis").expect("cis");
        let cis_ids: Vec<String> = cis.iter().map(|r| r.id.clone()).collect();
        let want: Vec<String> = (1..=15).map(|i| format!("cis-4.{i}")).collect();
        assert_eq!(cis_ids, want);
        let all = pack("all").expect("all");
        check_unique(&all).expect("unique ids");
        assert!(pack("none").expect("none").is_empty());
        assert_eq!(pack("essential,responder").expect("two").len(), 7 + 6);
        assert!(pack("nope").is_err());
    }

    #[test]
    fn invalid_rules_are_refused_with_the_reason() {
        let bad = "id: x\ntitle: t\nseverity: P2\npattern: '{ $.a IS NOT NULL }'\n";
        let e = parse_rules(bad, "f.yaml").expect_err("bad pattern");
        assert!(e.to_string().starts_with("f.yaml: rule x: pattern"), "{e}");
        assert!(e.to_string().contains("column 10"), "{e}");
        let typo = "id: x\ntitle: t\nseverity: P2\npatern: '{ $.a = 1 }'\n";
        assert!(
            parse_rules(typo, "f.yaml").is_err(),
            "unknown keys are errors"
        );
        let period = "id: x\ntitle: t\nseverity: P2\npattern: '{ $.a = 1 }'\nmetric: {name: m}\nalarm: {period: 90, evaluation_periods: 1, statistic: Sum, threshold: 1, comparison: GreaterThanThreshold}\n";
        let e = parse_rules(period, "f.yaml").expect_err("period");
        assert!(e.to_string().contains("period 90"), "{e}");
    }
}
