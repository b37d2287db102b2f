//! Which language a rule file is written in, told by its content, not its
//! name: a Terraform module that defines metric filters and alarms, or a
//! CloudWatch-pattern rule file in YAML. Sigma rules, also YAML, are told
//! apart by their `logsource` and `detection` keys (or a top-level
//! `correlation`) and loaded by [`crate::sigma::rule::load`].

use super::{Rule, RuleError, TerraformError, import_terraform, parse_rules};

/// The languages of rule files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleFormat {
    /// trailwatch's YAML: CloudWatch filter patterns and alarms.
    CloudWatchYaml,
    /// Terraform: `aws_cloudwatch_log_metric_filter` and alarms.
    Terraform,
    /// A Sigma rule (YAML with `logsource` and `detection`, or a
    /// correlation rule).
    Sigma,
}

/// Why a rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Terraform(#[from] TerraformError),
    #[error(
        "{origin}: this is a Sigma rule file, not trailwatch rules (--rules loads it; `trailwatch rules check` checks it)"
    )]
    Sigma { origin: String },
}

/// Words that open a top-level Terraform block.
const TERRAFORM_BLOCKS: [&str; 8] = [
    "resource ",
    "data ",
    "variable ",
    "output ",
    "locals ",
    "module ",
    "provider ",
    "terraform ",
];

impl RuleFormat {
    /// Tell the language of a rule file from its text.
    pub fn sniff(text: &str) -> RuleFormat {
        // Sigma: a rule with `logsource` and `detection`, or a
        // correlation rule (`correlation` at the top level).
        let mut sigma_keys = (false, false, false);
        for line in text.lines() {
            let t = line.trim_start();
            if t.starts_with('#') || t.starts_with("//") || t.is_empty() {
                continue;
            }
            // Terraform blocks start at the left margin: `resource "x" "y" {`.
            if line == t
                && TERRAFORM_BLOCKS
                    .iter()
                    .any(|b| t.starts_with(b) || t == b.trim_end())
                && (t.contains('{') || t.contains('"'))
            {
                return RuleFormat::Terraform;
            }
            if line == t {
                sigma_keys.0 |= t.starts_with("logsource:");
                sigma_keys.1 |= t.starts_with("detection:");
                sigma_keys.2 |= t.starts_with("correlation:");
            }
        }
        if (sigma_keys.0 && sigma_keys.1) || sigma_keys.2 {
            RuleFormat::Sigma
        } else {
            RuleFormat::CloudWatchYaml
        }
    }
}

/// The rules of one file, in whichever language it is written.
pub fn load_rules(text: &str, origin: &str) -> Result<Vec<Rule>, LoadError> {
    match RuleFormat::sniff(text) {
        RuleFormat::Terraform => Ok(import_terraform(text, origin)?),
        RuleFormat::CloudWatchYaml => Ok(parse_rules(text, origin)?),
        RuleFormat::Sigma => Err(LoadError::Sigma {
            origin: origin.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_content() {
        let tf =
            "# alarms\nresource \"aws_cloudwatch_log_metric_filter\" \"x\" {\n  name = \"x\"\n}\n";
        assert_eq!(RuleFormat::sniff(tf), RuleFormat::Terraform);
        let yaml = "rules:\n  - id: resource-change\n    title: resource \"x\"\n";
        assert_eq!(RuleFormat::sniff(yaml), RuleFormat::CloudWatchYaml);
        let sigma = "title: x\nlogsource:\n  product: aws\ndetection:\n  sel:\n    eventName: x\n  condition: sel\n";
        assert_eq!(RuleFormat::sniff(sigma), RuleFormat::Sigma);
        let correlation =
            "title: x\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5m\n";
        assert_eq!(RuleFormat::sniff(correlation), RuleFormat::Sigma);
        assert!(matches!(
            load_rules(sigma, "s.yml"),
            Err(LoadError::Sigma { .. })
        ));
    }
}
