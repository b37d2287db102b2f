//! Import CloudWatch metric filters and alarms from Terraform, verbatim:
//! `aws_cloudwatch_log_metric_filter` + `aws_cloudwatch_metric_alarm`
//! resources, joined on metric name and namespace, become rules; the SNS
//! topics named in `alarm_actions` become the rules' actions.

use std::collections::BTreeMap;

use hcl::Expression;

use crate::tf::{attr, resources, text};

use super::{RawAlarm, RawMetric, RawRule, Rule, RuleError, Severity};
use crate::alarm::{Comparison, TreatMissing};

/// Why a Terraform file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum TerraformError {
    #[error("{origin}: not valid HCL: {message}")]
    Hcl { origin: String, message: String },
    #[error("{origin}: resource {resource}: {message}")]
    Resource {
        origin: String,
        resource: String,
        message: String,
    },
    #[error(transparent)]
    Rule(#[from] RuleError),
}

fn number(e: Option<&Expression>) -> Option<f64> {
    text(e)?.trim().parse().ok()
}

/// `aws_sns_topic.NAME.arn` → NAME (the resource name).
fn topic_resource(e: &Expression) -> Option<String> {
    let s = e.to_string();
    let rest = s.trim().strip_prefix("aws_sns_topic.")?;
    Some(rest.split('.').next()?.to_string())
}

/// Severity from the alarm's wording: CloudWatch alarms carry none.
fn guess_severity(name: &str, description: &str) -> Severity {
    let t = format!("{name} {description}").to_lowercase();
    if [
        "root",
        "cloudtrail",
        "stoplogging",
        "immediately",
        "critical",
    ]
    .iter()
    .any(|w| t.contains(w))
    {
        Severity::P1
    } else {
        Severity::P2
    }
}

fn bad(origin: &str, resource: &str, message: &str) -> TerraformError {
    TerraformError::Resource {
        origin: origin.to_string(),
        resource: resource.to_string(),
        message: message.to_string(),
    }
}

/// A metric filter: its name and pattern, and the metric it makes.
type Filter = (String, String, RawMetric);

/// Import every metric filter that has an alarm on its metric.
pub fn import_terraform(source: &str, origin: &str) -> Result<Vec<Rule>, TerraformError> {
    crate::nesting::check_hcl(source).map_err(|e| TerraformError::Hcl {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    let body = hcl::parse(source).map_err(|e| TerraformError::Hcl {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    let topics: BTreeMap<String, String> = resources(&body, "aws_sns_topic")
        .into_iter()
        .map(|(name, b)| (name.clone(), text(attr(b, "name")).unwrap_or(name)))
        .collect();
    let mut filters: BTreeMap<(String, String), Filter> = BTreeMap::new();
    for (name, b) in resources(&body, "aws_cloudwatch_log_metric_filter") {
        let filter = metric_filter(name, b, origin)?;
        filters.insert((filter.2.name.clone(), filter.2.namespace.clone()), filter);
    }
    let mut rules = Vec::new();
    for (name, b) in resources(&body, "aws_cloudwatch_metric_alarm") {
        let res = format!("aws_cloudwatch_metric_alarm.{name}");
        let metric_name =
            text(attr(b, "metric_name")).ok_or_else(|| bad(origin, &res, "has no metric_name"))?;
        let namespace = text(attr(b, "namespace")).unwrap_or_default();
        // An alarm on a metric that no imported filter produces is left out.
        if let Some(filter) = filters.get(&(metric_name, namespace)) {
            rules.push(alarm_rule(name, b, filter, &topics, origin)?);
        }
    }
    Ok(rules)
}

/// An `aws_cloudwatch_log_metric_filter`: its name, pattern and metric.
fn metric_filter(name: String, b: &hcl::Block, origin: &str) -> Result<Filter, TerraformError> {
    let res = format!("aws_cloudwatch_log_metric_filter.{name}");
    let pattern = text(attr(b, "pattern")).ok_or_else(|| bad(origin, &res, "has no pattern"))?;
    let mt = b
        .body()
        .blocks()
        .find(|x| x.identifier() == "metric_transformation")
        .ok_or_else(|| bad(origin, &res, "has no metric_transformation"))?;
    let metric = RawMetric {
        name: text(attr(mt, "name"))
            .ok_or_else(|| bad(origin, &res, "metric_transformation has no name"))?,
        namespace: text(attr(mt, "namespace")).unwrap_or_default(),
        value: text(attr(mt, "value")).unwrap_or_else(|| "1".into()),
        default_value: number(attr(mt, "default_value")),
        dimensions: match attr(mt, "dimensions") {
            Some(Expression::Object(o)) => o
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string().trim_matches('"').to_string(),
                        text(Some(v)).unwrap_or_default(),
                    )
                })
                .collect(),
            _ => BTreeMap::new(),
        },
        unit: text(attr(mt, "unit")),
    };
    let filter_name = text(attr(b, "name")).unwrap_or(name);
    Ok((filter_name, pattern, metric))
}

/// An `aws_cloudwatch_metric_alarm` on `filter`'s metric, as a rule; its
/// `alarm_actions` (SNS topics) become the rule's actions.
fn alarm_rule(
    name: String,
    b: &hcl::Block,
    (filter_name, pattern, metric): &Filter,
    topics: &BTreeMap<String, String>,
    origin: &str,
) -> Result<Rule, TerraformError> {
    let res = format!("aws_cloudwatch_metric_alarm.{name}");
    let bad = |message: &str| bad(origin, &res, message);
    let alarm_name = text(attr(b, "alarm_name")).unwrap_or(name.clone());
    let description = text(attr(b, "alarm_description")).unwrap_or_default();
    let comparison: Comparison = serde_json::from_value(serde_json::Value::String(
        text(attr(b, "comparison_operator")).ok_or_else(|| bad("has no comparison_operator"))?,
    ))
    .map_err(|_| bad("unsupported comparison_operator (anomaly bands are out of scope)"))?;
    let treat: TreatMissing = match text(attr(b, "treat_missing_data")) {
        Some(t) => serde_json::from_value(serde_json::Value::String(t))
            .map_err(|_| bad("unknown treat_missing_data"))?,
        None => TreatMissing::Missing,
    };
    let statistic = text(attr(b, "statistic"))
        .or_else(|| text(attr(b, "extended_statistic")))
        .ok_or_else(|| bad("has no statistic"))?;
    let actions = match attr(b, "alarm_actions") {
        Some(Expression::Array(items)) => items
            .iter()
            .map(|e| match topic_resource(e) {
                Some(r) => topics.get(&r).cloned().unwrap_or(r),
                None => text(Some(e)).unwrap_or_default(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let alarm = RawAlarm {
        period: number(attr(b, "period")).ok_or_else(|| bad("has no period"))? as u32,
        evaluation_periods: number(attr(b, "evaluation_periods"))
            .ok_or_else(|| bad("has no evaluation_periods"))? as usize,
        datapoints_to_alarm: number(attr(b, "datapoints_to_alarm")).map(|v| v as usize),
        statistic,
        threshold: number(attr(b, "threshold")).ok_or_else(|| bad("has no threshold"))?,
        comparison,
        treat_missing_data: treat,
    };
    let raw = RawRule {
        id: alarm_name.clone(),
        title: if description.is_empty() {
            alarm_name.clone()
        } else {
            description.clone()
        },
        severity: guess_severity(&alarm_name, &description),
        description: format!(
            "Imported from Terraform {res} and metric filter {filter_name}. {description}"
        )
        .trim()
        .to_string(),
        pattern: pattern.clone(),
        metric: Some(metric.clone()),
        alarm: Some(alarm),
        findings: false,
        actions,
        query: None,
        techniques: Vec::new(),
        examples: Default::default(),
    };
    Ok(raw.compile(origin)?)
}
