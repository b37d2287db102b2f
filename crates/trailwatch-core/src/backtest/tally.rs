//! Per-rule tallies of a backtest.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::alarm::AlarmState;
use crate::alert::Alert;
use crate::event::parse_event_time;
use crate::rules::Match;

/// How many top principals and addresses a result lists.
const TOP: usize = 10;
/// How many event ids a before-and-after difference lists each way.
const DIFF_IDS: usize = 20;

#[derive(Debug, Default)]
struct Counts {
    title: String,
    matches: u64,
    alerts: u64,
    by_day: BTreeMap<String, u64>,
    principals: HashMap<String, u64>,
    ips: HashMap<String, u64>,
    first: Option<(i64, String)>,
    last: Option<(i64, String)>,
    /// Matched event ids, kept when asked (expectations, a baseline).
    ids: HashSet<Box<str>>,
}

/// A value and how many matches it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub value: String,
    pub matches: u64,
}

/// One rule's backtest.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    pub rule_id: String,
    pub title: String,
    /// Events the rule matched.
    pub matches: u64,
    /// Alerts it would have raised (alarms past their periods and
    /// thresholds, correlations), returns to OK not counted.
    pub alerts: u64,
    /// Matches per UTC day.
    pub by_day: BTreeMap<String, u64>,
    pub top_principals: Vec<Count>,
    pub top_ips: Vec<Count>,
    pub first_match: Option<String>,
    pub last_match: Option<String>,
}

/// What a changed rule gains and loses against its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub rule_id: String,
    pub gained: u64,
    pub lost: u64,
    /// Up to 20 of each, sorted.
    pub gained_ids: Vec<String>,
    pub lost_ids: Vec<String>,
}

/// The tallies of a backtest in progress, per rule.
#[derive(Debug, Default)]
pub struct Tally {
    rules: BTreeMap<String, Counts>,
    keep_ids: bool,
}

fn top(counts: HashMap<String, u64>) -> Vec<Count> {
    let mut v: Vec<Count> = counts
        .into_iter()
        .map(|(value, matches)| Count { value, matches })
        .collect();
    v.sort_by(|a, b| {
        b.matches
            .cmp(&a.matches)
            .then_with(|| a.value.cmp(&b.value))
    });
    v.truncate(TOP);
    v
}

impl Tally {
    /// Tallies of the rules `rules` (id, title): every rule is in the
    /// result, matched or not. `keep_ids` keeps each match's event id (for
    /// expectations naming events and for a baseline).
    pub fn new<'a>(rules: impl IntoIterator<Item = (&'a str, &'a str)>, keep_ids: bool) -> Tally {
        let rules = rules
            .into_iter()
            .map(|(id, title)| {
                let counts = Counts {
                    title: title.to_string(),
                    ..Counts::default()
                };
                (id.to_string(), counts)
            })
            .collect();
        Tally { rules, keep_ids }
    }

    /// One match of one rule.
    pub fn matched(&mut self, m: &Match) {
        let c = self.rules.entry(m.rule_id.clone()).or_default();
        c.matches += 1;
        let at = parse_event_time(&m.event_time);
        let day = at.map_or_else(
            || m.event_time.get(..10).unwrap_or_default().to_string(),
            |t| t.format("%Y-%m-%d").to_string(),
        );
        *c.by_day.entry(day).or_default() += 1;
        let ms = at.map_or(0, |t| t.timestamp_millis());
        if c.first.as_ref().is_none_or(|(t, _)| ms < *t) {
            c.first = Some((ms, m.event_time.clone()));
        }
        if c.last.as_ref().is_none_or(|(t, _)| ms >= *t) {
            c.last = Some((ms, m.event_time.clone()));
        }
        if let Some(p) = &m.principal {
            *c.principals.entry(p.clone()).or_default() += 1;
        }
        if let Some(ip) = &m.source_ip {
            *c.ips.entry(ip.clone()).or_default() += 1;
        }
        if self.keep_ids {
            c.ids.insert(m.event_id.as_str().into());
        }
    }

    /// One alert; a return to OK is not one.
    pub fn alerted(&mut self, a: &Alert) {
        if a.state != AlarmState::Ok {
            self.rules.entry(a.rule_id.clone()).or_default().alerts += 1;
        }
    }

    /// Whether `rule` matched event `id` (ids are kept only when asked).
    pub fn matched_event(&self, rule: &str, id: &str) -> bool {
        self.rules.get(rule).is_some_and(|c| c.ids.contains(id))
    }

    /// What this tally (the new rules) gains and loses against
    /// `baseline`, for every rule either has matches for that differ.
    pub fn diff(&self, baseline: &Tally) -> Vec<Diff> {
        let empty = HashSet::new();
        let ids: std::collections::BTreeSet<&String> =
            self.rules.keys().chain(baseline.rules.keys()).collect();
        let mut out = Vec::new();
        for id in ids {
            let new = self.rules.get(id).map_or(&empty, |c| &c.ids);
            let old = baseline.rules.get(id).map_or(&empty, |c| &c.ids);
            let mut gained: Vec<String> = new.difference(old).map(|s| s.to_string()).collect();
            let mut lost: Vec<String> = old.difference(new).map(|s| s.to_string()).collect();
            if gained.is_empty() && lost.is_empty() {
                continue;
            }
            let (g, l) = (gained.len() as u64, lost.len() as u64);
            gained.sort();
            lost.sort();
            gained.truncate(DIFF_IDS);
            lost.truncate(DIFF_IDS);
            out.push(Diff {
                rule_id: id.clone(),
                gained: g,
                lost: l,
                gained_ids: gained,
                lost_ids: lost,
            });
        }
        out
    }

    /// The results, by rule id.
    pub fn results(&self) -> Vec<RuleResult> {
        self.rules
            .iter()
            .map(|(id, c)| RuleResult {
                rule_id: id.clone(),
                title: c.title.clone(),
                matches: c.matches,
                alerts: c.alerts,
                by_day: c.by_day.clone(),
                top_principals: top(c.principals.clone()),
                top_ips: top(c.ips.clone()),
                first_match: c.first.as_ref().map(|(_, s)| s.clone()),
                last_match: c.last.as_ref().map(|(_, s)| s.clone()),
            })
            .collect()
    }
}
