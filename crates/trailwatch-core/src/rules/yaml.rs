//! Rules written back in the YAML rule format, as `rules import-terraform`
//! prints them: a rule file that `--rules` and [`super::load_rules`] read
//! back into the same rules. Text that came from the rule (titles,
//! patterns, metric names, actions) is written as JSON strings, which YAML
//! reads as double-quoted scalars, so nothing in it can break the
//! document's structure.

use std::fmt::Write;

use super::Rule;
use crate::alarm::{Statistic, TreatMissing};

/// A JSON (so also YAML double-quoted) string.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `treat_missing_data` as the rule format spells it.
fn treat_missing(t: TreatMissing) -> &'static str {
    match t {
        TreatMissing::Missing => "missing",
        TreatMissing::Ignore => "ignore",
        TreatMissing::Breaching => "breaching",
        TreatMissing::NotBreaching => "notBreaching",
    }
}

/// The rules as one rule file (`rules:`, an entry per rule).
pub fn to_yaml(rules: &[Rule]) -> String {
    let mut out = String::from("rules:\n");
    for r in rules {
        // Writing to a String cannot fail.
        let _ = write_rule(&mut out, r);
    }
    out
}

fn write_rule(out: &mut String, r: &Rule) -> std::fmt::Result {
    writeln!(out, "  - id: {}", r.id)?;
    writeln!(out, "    title: {}", quoted(&r.title))?;
    writeln!(out, "    severity: {}", r.severity)?;
    writeln!(out, "    description: {}", quoted(&r.description))?;
    writeln!(out, "    pattern: {}", quoted(&r.pattern_text))?;
    if !r.techniques.is_empty() {
        let list: Vec<String> = r.techniques.iter().map(|t| quoted(t)).collect();
        writeln!(out, "    techniques: [{}]", list.join(", "))?;
    }
    if let Some(a) = &r.alarm {
        let s = &a.spec;
        writeln!(
            out,
            "    metric: {{name: {}, namespace: {}}}",
            quoted(&a.metric_name),
            quoted(&a.namespace)
        )?;
        let statistic = match s.statistic {
            Statistic::Percentile(p) => format!("p{p}"),
            other => format!("{other:?}"),
        };
        writeln!(
            out,
            "    alarm: {{period: {}, evaluation_periods: {}, datapoints_to_alarm: {}, statistic: {statistic}, threshold: {}, comparison: {:?}, treat_missing_data: {}}}",
            s.period_minutes * 60,
            s.evaluation_periods,
            s.datapoints_to_alarm,
            s.threshold,
            s.comparison,
            treat_missing(s.treat_missing),
        )?;
    }
    let actions: Vec<serde_json::Value> = r
        .actions
        .iter()
        .map(|a| serde_json::Value::String(a.clone()))
        .collect();
    writeln!(out, "    actions: {}", serde_json::Value::Array(actions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{import_terraform, load_rules};

    const TF: &str = r#"
resource "aws_cloudwatch_log_metric_filter" "root" {
  name           = "root-account-usage"
  log_group_name = "CloudTrail/logs"
  pattern        = "{ $.userIdentity.type = \"Root\" && $.userIdentity.invokedBy NOT EXISTS }"
  metric_transformation {
    name      = "RootAccountUsageCount"
    namespace = "SecurityMetrics"
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "root" {
  alarm_name          = "root-account-usage"
  metric_name         = "RootAccountUsageCount"
  namespace           = "SecurityMetrics"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = ["arn:aws:sns:us-east-1:111122223333:security_alerts"]
}
"#;

    #[test]
    fn imported_rules_written_as_yaml_load_back_the_same() {
        let rules = import_terraform(TF, "main.tf").unwrap();
        assert_eq!(rules.len(), 1);
        let text = to_yaml(&rules);
        assert!(text.contains("treat_missing_data: notBreaching"), "{text}");
        let back = load_rules(&text, "out.yaml").unwrap();
        assert_eq!(back.len(), 1);
        let (a, b) = (&rules[0], &back[0]);
        assert_eq!(
            (&a.id, &a.title, &a.pattern_text),
            (&b.id, &b.title, &b.pattern_text)
        );
        assert_eq!(a.actions, b.actions);
        let (x, y) = (a.alarm.as_ref().unwrap(), b.alarm.as_ref().unwrap());
        assert_eq!(x.spec, y.spec);
        assert_eq!(
            (&x.metric_name, &x.namespace),
            (&y.metric_name, &y.namespace)
        );
    }

    #[test]
    fn hostile_titles_stay_inside_their_string() {
        let mut rules = import_terraform(TF, "main.tf").unwrap();
        rules[0].title = "x\"\n- id: injected\n  title: y".into();
        let back = load_rules(&to_yaml(&rules), "out.yaml").unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].title, rules[0].title);
    }
}
