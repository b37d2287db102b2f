//! Sigma rules as a [`Detector`]. Each record is tested only against the
//! rules that could match it: a rule that requires literal `eventName`s
//! is indexed by them, else one that requires literal `eventSource`s by
//! those, and only the rest see every record. Fields are read from the
//! decoded record's typed view where possible ([`RecordFields`]).
//!
//! A match of a rule that alerts on its own is a finding with the rule's
//! own id, title, level, tags and false positives; a match of a rule a
//! correlation names feeds that correlation's windows ([`Correlations`],
//! in event-time order).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::fields::RecordFields;
use super::link::RuleSet;
use super::rule::{Pin, SigmaRule};
use super::window::{Correlations, Hit};
use crate::alert::{About, Alert, AlertKind};
use crate::correlate::Ordered;
use crate::detect::{Detector, Seen, StateError};
use crate::event::Record;
use crate::rules::Match;

/// The loaded Sigma rules.
#[derive(Debug)]
pub struct SigmaRules {
    set: Arc<RuleSet>,
    /// Lower-cased eventName → detection rules pinned to it.
    by_name: HashMap<String, Vec<usize>>,
    /// Lower-cased eventSource → detection rules pinned to it.
    by_source: HashMap<String, Vec<usize>>,
    /// Detection rules any event may match.
    any: Vec<usize>,
    correlations: Ordered<Correlations>,
    /// Whether any correlation is loaded.
    correlating: bool,
    /// Each rule's alert dimensions (tags, false positives, file), made
    /// once.
    dimensions: Vec<BTreeMap<String, String>>,
}

fn lower<'x>(s: &'x str, buf: &'x mut String) -> &'x str {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        buf.clear();
        buf.extend(s.chars().map(|c| c.to_ascii_lowercase()));
        buf
    } else {
        s
    }
}

impl SigmaRules {
    /// The detector for a linked rule set (see [`super::link`]).
    pub fn new(set: RuleSet) -> SigmaRules {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_source: HashMap<String, Vec<usize>> = HashMap::new();
        let mut any = Vec::new();
        for (i, r) in set.rules.iter().enumerate() {
            let Some(d) = r.detection() else { continue };
            match &d.pin {
                Pin::Names(names) => {
                    for n in names {
                        by_name.entry(n.clone()).or_default().push(i);
                    }
                }
                Pin::Sources(sources) => {
                    for s in sources {
                        by_source.entry(s.clone()).or_default().push(i);
                    }
                }
                Pin::Any => any.push(i),
            }
        }
        let correlating = set.steps.iter().any(|s| !s.is_empty());
        let dimensions = set.rules.iter().map(Self::dimensions).collect();
        let set = Arc::new(set);
        SigmaRules {
            dimensions,
            correlations: Ordered::new(Correlations::new(set.clone())),
            set,
            by_name,
            by_source,
            any,
            correlating,
        }
    }

    fn dimensions(rule: &SigmaRule) -> BTreeMap<String, String> {
        let mut dimensions = BTreeMap::new();
        if !rule.tags.is_empty() {
            dimensions.insert("tags".to_string(), rule.tags.join(", "));
        }
        if !rule.falsepositives.is_empty() {
            dimensions.insert("falsepositives".to_string(), rule.falsepositives.join("; "));
        }
        dimensions.insert("sigma_file".to_string(), rule.origin.clone());
        dimensions
    }

    /// The detection rules `r` matches: only those indexed under its
    /// `eventName` or `eventSource`, and those any event may match. (No
    /// allocation unless one matches: matches are rare.)
    fn matched(&self, r: &Record<'_>, fields: &RecordFields<'_, '_>) -> Vec<usize> {
        let (mut b1, mut b2) = (String::new(), String::new());
        let by_name = r
            .event
            .event_name
            .as_deref()
            .and_then(|n| self.by_name.get(lower(n, &mut b1)));
        let by_source = r
            .event
            .event_source
            .as_deref()
            .and_then(|s| self.by_source.get(lower(s, &mut b2)));
        by_name
            .into_iter()
            .flatten()
            .chain(by_source.into_iter().flatten())
            .chain(self.any.iter())
            .copied()
            .filter(|&i| self.set.rules[i].matches(fields))
            .collect()
    }

    /// Every detection rule `r` matches (those a correlation names too),
    /// as `detect --matches` lists them.
    pub fn matches(&self, r: &Record<'_>, out: &mut Vec<Match>) {
        let fields = RecordFields::new(r);
        for i in self.matched(r, &fields) {
            let rule = &self.set.rules[i];
            let e = &r.event;
            out.push(Match {
                rule_id: rule.id.clone(),
                severity: rule.severity,
                event_id: e.event_id.to_string(),
                event_time: e.event_time.to_string(),
                event_name: e.event_name.as_deref().map(str::to_string),
                principal: e.principal().map(str::to_string),
                source_ip: e.source_ip_address.as_deref().map(str::to_string),
            });
        }
    }

    fn alert(rule: &SigmaRule, dimensions: &BTreeMap<String, String>, r: &Record<'_>) -> Alert {
        let dimensions = dimensions.clone();
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

    fn observe(&mut self, r: &Record<'_>, seen: &Seen, out: &mut Vec<Alert>) {
        let mut hits: Vec<Hit> = Vec::new();
        let fields = RecordFields::new(r);
        for i in self.matched(r, &fields) {
            let rule = &self.set.rules[i];
            if self.set.alerts[i] {
                out.push(Self::alert(rule, &self.dimensions[i], r));
            }
            if self.correlating && self.correlations.detection().wants(i) {
                self.correlations.detection().hits(i, r, &fields, &mut hits);
            }
        }
        if self.correlating {
            // Every record moves event time on, matched or not.
            let fact = (!hits.is_empty()).then_some(hits);
            self.correlations
                .offer(r.time.timestamp_millis(), fact, seen, out);
        }
    }

    fn advance(&mut self, minute: i64, out: &mut Vec<Alert>) {
        if self.correlating {
            self.correlations.advance(minute, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        if self.correlating {
            self.correlations.finish(out);
        }
    }

    /// Single-event rules keep no state; correlations keep their windows.
    fn save(&self) -> Result<Vec<u8>, StateError> {
        if self.correlating {
            self.correlations.save()
        } else {
            Ok(Vec::new())
        }
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), StateError> {
        if self.correlating && !state.is_empty() {
            self.correlations.restore(state)?;
        }
        Ok(())
    }
}
