//! Sigma rules as a [`Detector`]: each record is tested against the rules
//! that could match it (indexed by `eventName` where a rule pins it), and
//! every match is a finding with the rule's own id, title, level, tags
//! and false positives.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::rule::SigmaRule;
use crate::alert::{About, Alert, AlertKind};
use crate::detect::{Detector, Seen, StateError};
use crate::event::Record;

/// The loaded Sigma rules.
#[derive(Debug)]
pub struct SigmaRules {
    rules: Vec<SigmaRule>,
    /// Lower-cased eventName → rules pinned to it.
    by_name: HashMap<String, Vec<usize>>,
    /// Rules any event may match.
    any: Vec<usize>,
}

impl SigmaRules {
    pub fn new(rules: Vec<SigmaRule>) -> SigmaRules {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut any = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            match &r.event_names {
                Some(names) => {
                    for n in names {
                        by_name.entry(n.clone()).or_default().push(i);
                    }
                }
                None => any.push(i),
            }
        }
        SigmaRules {
            rules,
            by_name,
            any,
        }
    }

    fn alert(rule: &SigmaRule, r: &Record<'_>) -> Alert {
        let mut dimensions = BTreeMap::new();
        if !rule.tags.is_empty() {
            dimensions.insert("tags".to_string(), rule.tags.join(", "));
        }
        if !rule.falsepositives.is_empty() {
            dimensions.insert("falsepositives".to_string(), rule.falsepositives.join("; "));
        }
        dimensions.insert("sigma_file".to_string(), rule.origin.clone());
        Alert::for_event(
            &r.event,
            &["sigma", &rule.id, r.event.event_id.as_str()],
            About {
                kind: AlertKind::Finding,
                rule_id: &rule.id,
                title: &rule.title,
                severity: rule.severity,
                description: rule.description.clone(),
                actions: Vec::new(),
                query: None,
                dimensions,
            },
        )
    }
}

impl Detector for SigmaRules {
    fn name(&self) -> &str {
        "sigma"
    }

    fn observe(&mut self, r: &Record<'_>, _seen: &Seen, out: &mut Vec<Alert>) {
        let pinned = r
            .event
            .event_name
            .as_deref()
            .and_then(|n| self.by_name.get(&n.to_ascii_lowercase()));
        if pinned.is_none() && self.any.is_empty() {
            return;
        }
        let Ok(text) = std::str::from_utf8(r.raw) else {
            return;
        };
        // The record as a JSON tree, once, for the rules that may match.
        let Ok(event) = serde_json::from_str::<Value>(text) else {
            return;
        };
        for &i in pinned.into_iter().flatten().chain(self.any.iter()) {
            let rule = &self.rules[i];
            if rule.matches(&event, text) {
                out.push(Self::alert(rule, r));
            }
        }
    }

    fn advance(&mut self, _minute: i64, _out: &mut Vec<Alert>) {}

    fn finish(&mut self, _out: &mut Vec<Alert>) {}

    /// Single-event rules keep no state.
    fn save(&self) -> Result<Vec<u8>, StateError> {
        Ok(Vec::new())
    }

    fn restore(&mut self, _state: &[u8]) -> Result<(), StateError> {
        Ok(())
    }
}
