//! The windows behind Sigma correlation rules, run in event-time order by
//! the same [`Ordered`](crate::correlate::Ordered) driver as the built-in
//! correlations, so that `detect` over history and a live `watch` (whose
//! watermark moves event time) raise the same alerts, and the state is
//! saved with the watcher's checkpoint.
//!
//! Each correlation keeps one window per group (the values of its
//! `group-by` fields):
//! - `event_count` and `value_count` with a lower bound (`gt`, `gte`)
//!   slide: the events of the last `timespan` are counted at each new one,
//!   and the correlation fires as soon as the count reaches the bound;
//! - with an upper bound (`lt`, `lte`, `eq`) a count is only known once
//!   its window has closed, so the window opens at the group's first event
//!   and is judged when event time passes `timespan` after it;
//! - `temporal` fires when enough of its rules matched within `timespan`
//!   (all of them by default); `temporal_ordered` when all matched in the
//!   order given, the first at most `timespan` before the last.
//!
//! A window that fires starts again empty, so one burst is one alert. An
//! event missing a `group-by` field is not counted (as Splunk's
//! `stats … by` and Elastic's `by` leave such events out).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::correlation::Kind;
use super::fields::Fields;
use super::link::{FieldSource, RuleSet, Step, StepSource};
use super::rule::Body;
use crate::alarm::AlarmState;
use crate::alert::{Alert, AlertKind, EVIDENCE_IDS, stable_id};
use crate::correlate::{Detection, iso, sql_text};
use crate::event::Record;

/// One event (or one chained correlation's match) in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ev {
    pub at: i64,
    /// Its eventIDs (a chained match carries the events behind it, the
    /// first [`EVIDENCE_IDS`]).
    pub ids: Vec<String>,
    /// How many events it stands for.
    pub count: usize,
    pub principal: Option<String>,
    pub ip: Option<String>,
    /// `value_count`'s field.
    pub value: Option<String>,
}

/// A match a correlation takes: rule `corr`'s step `step` matched.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hit {
    pub corr: usize,
    pub step: usize,
    pub group: Vec<String>,
    pub ev: Ev,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Window {
    Count(VecDeque<Ev>),
    /// The latest match of each step.
    Temporal(Vec<Option<Ev>>),
    /// For each step, the latest-starting chain of matches of the steps
    /// up to it, in order.
    Ordered(Vec<Option<Vec<Ev>>>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Keyed {
    /// The correlation's rule id (windows of rules no longer loaded are
    /// dropped).
    rule: String,
    group: Vec<String>,
    window: Window,
}

/// Every open window, saved with the detector.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WindowState {
    windows: HashMap<String, Keyed>,
    /// Windows judged when they close: (closing time, key).
    closing: BTreeSet<(i64, String)>,
    /// The newest event time processed.
    latest: i64,
}

/// The correlations of a rule set, as a [`Detection`].
#[derive(Debug)]
pub struct Correlations {
    set: Arc<RuleSet>,
    /// For each rule: the (correlation, step) pairs its matches feed.
    consumers: Vec<Vec<(usize, usize)>>,
    state: WindowState,
}

/// Where a window lives in the state: the rule's id and the group,
/// JSON-encoded (so no two groups can share a key).
fn key(rule: &str, group: &[String]) -> String {
    serde_json::to_string(&(rule, group)).unwrap_or_default()
}

/// The first value at a path, as text.
fn first_text(event: &dyn Fields, path: &[String]) -> Option<String> {
    let mut out = None;
    event.any(path, &mut |v| {
        out = v.text();
        out.is_some()
    });
    out
}

fn distinct(items: impl Iterator<Item = String>, cap: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
            if out.len() == cap {
                break;
            }
        }
    }
    out
}

impl Correlations {
    pub fn new(set: Arc<RuleSet>) -> Correlations {
        let mut consumers = vec![Vec::new(); set.rules.len()];
        for (corr, steps) in set.steps.iter().enumerate() {
            for (step, s) in steps.iter().enumerate() {
                let (StepSource::Rule(j) | StepSource::Correlation(j)) = s.source;
                consumers[j].push((corr, step));
            }
        }
        Correlations {
            set,
            consumers,
            state: WindowState::default(),
        }
    }

    /// Whether any correlation takes rule `i`'s matches.
    pub fn wants(&self, i: usize) -> bool {
        !self.consumers[i].is_empty()
    }

    /// The hits a record matched by detection rule `i` gives.
    pub fn hits(&self, i: usize, r: &Record<'_>, event: &dyn Fields, out: &mut Vec<Hit>) {
        for &(corr, step) in &self.consumers[i] {
            let s: &Step = &self.set.steps[corr][step];
            let read = |f: &FieldSource| match f {
                FieldSource::Path(p) => first_text(event, p),
                FieldSource::Group(_) => None,
            };
            let Some(group) = s.group.iter().map(read).collect::<Option<Vec<String>>>() else {
                continue;
            };
            let value = s.value.as_ref().and_then(read);
            if s.value.is_some() && value.is_none() {
                continue;
            }
            out.push(Hit {
                corr,
                step,
                group,
                ev: Ev {
                    at: r.time.timestamp_millis(),
                    ids: vec![r.event.event_id.to_string()],
                    count: 1,
                    principal: r.event.principal().map(str::to_string),
                    ip: r.event.source_ip_address.as_deref().map(str::to_string),
                    value,
                },
            });
        }
    }

    fn spec(&self, corr: usize) -> &super::correlation::CorrelationSpec {
        match &self.set.rules[corr].body {
            Body::Correlation(c) => c,
            // Hits name correlations only (built from the set's steps).
            Body::Detection(_) => unreachable!("a hit for a detection rule"),
        }
    }

    /// Take one hit at `at`; what fires goes to `out` and to the
    /// correlations chained on it.
    ///
    /// Long for a reason: the four correlation types over one window, an
    /// arm each, with the chaining after them; kept together so the types'
    /// differences (counting, distinct values, all rules, in order) read
    /// side by side against the specification.
    fn apply(&mut self, at: i64, hit: Hit, out: &mut Vec<Alert>) {
        let spec = self.spec(hit.corr).clone();
        let span = spec.timespan_ms;
        let rule_id = self.set.rules[hit.corr].id.clone();
        let k = key(&rule_id, &hit.group);
        let steps = self.set.steps[hit.corr].len();
        let fresh = || match spec.kind {
            Kind::EventCount | Kind::ValueCount => Window::Count(VecDeque::new()),
            Kind::Temporal => Window::Temporal(vec![None; steps]),
            Kind::TemporalOrdered => Window::Ordered(vec![None; steps]),
        };
        let upper = spec.threshold.upper_bounded();
        // An upper-bounded window that has run its span is judged first.
        if upper
            && let Some(Keyed {
                window: Window::Count(evs),
                ..
            }) = self.state.windows.get(&k)
            && evs.front().is_some_and(|f| at > f.at.saturating_add(span))
        {
            self.close(&k, out);
        }
        let entry = self
            .state
            .windows
            .entry(k.clone())
            .or_insert_with(|| Keyed {
                rule: rule_id.clone(),
                group: hit.group.clone(),
                window: fresh(),
            });
        let matching = matches!(
            (&entry.window, spec.kind),
            (Window::Count(_), Kind::EventCount | Kind::ValueCount)
                | (Window::Temporal(_), Kind::Temporal)
                | (Window::Ordered(_), Kind::TemporalOrdered)
        );
        if !matching {
            // Saved state of a rule that changed type: start again.
            entry.window = fresh();
        }
        let fired: Option<(Vec<Ev>, f64)> = match &mut entry.window {
            Window::Count(evs) => {
                if evs.is_empty() && upper {
                    self.state
                        .closing
                        .insert((at.saturating_add(span), k.clone()));
                }
                evs.push_back(hit.ev);
                if upper {
                    None
                } else {
                    while evs.front().is_some_and(|f| f.at < at - span) {
                        evs.pop_front();
                    }
                    let n = measure(spec.kind, evs);
                    spec.threshold
                        .holds(n)
                        .then(|| (evs.iter().cloned().collect(), n))
                }
            }
            Window::Temporal(last) => {
                if let Some(slot) = last.get_mut(hit.step) {
                    *slot = Some(hit.ev);
                }
                for slot in last.iter_mut() {
                    if slot.as_ref().is_some_and(|e| e.at < at - span) {
                        *slot = None;
                    }
                }
                let n = last.iter().flatten().count() as f64;
                spec.threshold.holds(n).then(|| {
                    let mut evs: Vec<Ev> = last.iter().flatten().cloned().collect();
                    evs.sort_by_key(|e| e.at);
                    (evs, n)
                })
            }
            Window::Ordered(chains) => {
                let k_step = hit.step;
                let candidate = if k_step == 0 {
                    Some(vec![hit.ev])
                } else {
                    chains
                        .get(k_step - 1)
                        .and_then(Option::as_ref)
                        .filter(|prev| prev.first().is_some_and(|f| f.at >= at - span))
                        .map(|prev| {
                            let mut c = prev.clone();
                            c.push(hit.ev);
                            c
                        })
                };
                if let (Some(c), Some(slot)) = (candidate, chains.get_mut(k_step)) {
                    let start = |x: &Vec<Ev>| x.first().map_or(i64::MIN, |f| f.at);
                    if slot.as_ref().is_none_or(|old| start(old) <= start(&c)) {
                        *slot = Some(c);
                    }
                }
                chains
                    .last()
                    .and_then(Option::as_ref)
                    .map(|c| (c.clone(), c.len() as f64))
            }
        };
        if let Some((evs, n)) = fired {
            self.state.windows.remove(&k);
            self.fire(hit.corr, &hit.group, evs, n, at, out);
        }
        self.state.latest = self.state.latest.max(at);
    }

    /// Judge an upper-bounded window that has closed.
    fn close(&mut self, k: &str, out: &mut Vec<Alert>) {
        let Some(keyed) = self.state.windows.remove(k) else {
            return;
        };
        let Window::Count(evs) = keyed.window else {
            return;
        };
        let Some(corr) = self.set.rules.iter().position(|r| r.id == keyed.rule) else {
            return;
        };
        let spec = self.spec(corr).clone();
        let n = measure(spec.kind, &evs);
        if spec.threshold.holds(n) {
            let end = evs
                .front()
                .map_or(0, |f| f.at.saturating_add(spec.timespan_ms));
            self.fire(corr, &keyed.group, evs.into(), n, end, out);
        }
    }

    /// Judge every upper-bounded window closing before `upto`.
    fn close_due(&mut self, upto: i64, out: &mut Vec<Alert>) {
        while let Some((t, k)) = self.state.closing.first().cloned() {
            if t >= upto {
                break;
            }
            self.state.closing.pop_first();
            // The window may have been judged and opened again since.
            let current = match self.state.windows.get(&k) {
                Some(Keyed {
                    window: Window::Count(evs),
                    rule,
                    ..
                }) => evs.front().map(|f| (f.at, rule.clone())),
                _ => None,
            };
            let Some((first, rule)) = current else {
                continue;
            };
            let Some(corr) = self.set.rules.iter().position(|r| r.id == rule) else {
                continue;
            };
            if first.saturating_add(self.spec(corr).timespan_ms) == t {
                self.close(&k, out);
            }
        }
    }

    /// A correlation matched: alert (if it alerts on its own) and feed
    /// the correlations chained on it.
    fn fire(
        &mut self,
        corr: usize,
        group: &[String],
        evs: Vec<Ev>,
        n: f64,
        end: i64,
        out: &mut Vec<Alert>,
    ) {
        if self.set.alerts[corr] {
            out.push(self.alert(corr, group, &evs, n, end));
        }
        let merged = Ev {
            at: end,
            ids: distinct(evs.iter().flat_map(|e| e.ids.iter().cloned()), EVIDENCE_IDS),
            count: evs.iter().map(|e| e.count).sum(),
            principal: evs.iter().find_map(|e| e.principal.clone()),
            ip: evs.iter().find_map(|e| e.ip.clone()),
            value: None,
        };
        for (parent, step) in self.consumers[corr].clone() {
            let s = &self.set.steps[parent][step];
            let pick = |f: &FieldSource| match f {
                FieldSource::Group(i) => group.get(*i).cloned(),
                FieldSource::Path(_) => None,
            };
            let Some(g) = s.group.iter().map(pick).collect::<Option<Vec<String>>>() else {
                continue;
            };
            let value = s.value.as_ref().and_then(pick);
            if s.value.is_some() && value.is_none() {
                continue;
            }
            let hit = Hit {
                corr: parent,
                step,
                group: g,
                ev: Ev {
                    value,
                    ..merged.clone()
                },
            };
            self.apply(end, hit, out);
        }
    }

    fn alert(&self, corr: usize, group: &[String], evs: &[Ev], n: f64, end: i64) -> Alert {
        let rule = &self.set.rules[corr];
        let spec = self.spec(corr);
        let mut dimensions: std::collections::BTreeMap<String, String> = spec
            .group_by
            .iter()
            .cloned()
            .zip(group.iter().cloned())
            .collect();
        dimensions.insert("correlation".into(), spec.kind.as_str().into());
        dimensions.insert("condition".into(), spec.threshold.describe());
        if let Some(f) = &spec.field {
            dimensions.insert("field".into(), f.clone());
        }
        if !rule.tags.is_empty() {
            dimensions.insert("tags".into(), rule.tags.join(", "));
        }
        if !rule.falsepositives.is_empty() {
            dimensions.insert("falsepositives".into(), rule.falsepositives.join("; "));
        }
        dimensions.insert("sigma_file".into(), rule.origin.clone());
        let ids = distinct(evs.iter().flat_map(|e| e.ids.iter().cloned()), EVIDENCE_IDS);
        let start = evs.first().map_or(end, |e| e.at);
        let mut id_parts: Vec<&str> = vec!["sigma-correlation", &rule.id];
        id_parts.extend(group.iter().map(String::as_str));
        let (first, last) = (iso(start), iso(end));
        id_parts.extend([first.as_str(), last.as_str()]);
        id_parts.extend(ids.iter().map(String::as_str));
        let query = (!ids.is_empty()).then(|| {
            format!(
                "SELECT eventtime, eventname, useridentity.arn, sourceipaddress FROM cloudtrail_logs\nWHERE eventid IN ({})\nORDER BY eventtime",
                ids.iter().map(|i| sql_text(i)).collect::<Vec<_>>().join(", ")
            )
        });
        Alert {
            alert_id: stable_id(&id_parts),
            kind: AlertKind::Correlation,
            rule_id: rule.id.clone(),
            title: rule.title.clone(),
            severity: rule.severity,
            state: AlarmState::Alarm,
            time: last.clone(),
            window_start: Some(first),
            window_end: Some(last),
            threshold: spec.threshold.value(),
            datapoints: vec![Some(n)],
            dimensions,
            event_ids: ids,
            event_count: evs.iter().map(|e| e.count).sum(),
            principals: distinct(evs.iter().filter_map(|e| e.principal.clone()), 20),
            source_ips: distinct(evs.iter().filter_map(|e| e.ip.clone()), 20),
            actions: Vec::new(),
            description: rule.description.clone(),
            query,
        }
    }
}

/// What a count window measures: its events, or their distinct values.
fn measure(kind: Kind, evs: &VecDeque<Ev>) -> f64 {
    match kind {
        Kind::ValueCount => {
            let mut seen: Vec<&str> = evs.iter().filter_map(|e| e.value.as_deref()).collect();
            seen.sort_unstable();
            seen.dedup();
            seen.len() as f64
        }
        _ => evs.len() as f64,
    }
}

impl Detection for Correlations {
    /// Facts come from [`super::detector::SigmaRules`], which matches the
    /// rules once for both single-event alerts and correlations.
    type Fact = Vec<Hit>;
    type State = WindowState;

    fn name(&self) -> &str {
        "sigma-correlation"
    }

    fn fact(&mut self, _r: &Record<'_>) -> Option<Vec<Hit>> {
        None
    }

    fn process(&mut self, at_ms: i64, mut fact: Vec<Hit>, out: &mut Vec<Alert>) {
        self.close_due(at_ms, out);
        // One event takes at most one step of an ordered chain: its later
        // steps first, so its earlier step cannot feed them.
        fact.sort_by(|a, b| a.corr.cmp(&b.corr).then(b.step.cmp(&a.step)));
        for hit in fact {
            self.apply(at_ms, hit, out);
        }
    }

    fn expire(&mut self, now_ms: i64, out: &mut Vec<Alert>) {
        // At the end of the data (`now_ms` is then the end of time),
        // windows still open are judged only if the data covers them to
        // their end.
        let now = now_ms.min(self.state.latest);
        self.close_due(now, out);
        let loaded: Vec<(&str, i64)> = self
            .set
            .rules
            .iter()
            .filter_map(|r| match &r.body {
                Body::Correlation(c) => Some((r.id.as_str(), c.timespan_ms)),
                Body::Detection(_) => None,
            })
            .collect();
        self.state.windows.retain(|_, w| {
            let Some(&(_, span)) = loaded.iter().find(|(id, _)| *id == w.rule) else {
                return false;
            };
            let newest = match &w.window {
                Window::Count(evs) => evs.back().map(|e| e.at),
                Window::Temporal(last) => last.iter().flatten().map(|e| e.at).max(),
                Window::Ordered(chains) => chains
                    .iter()
                    .flatten()
                    .filter_map(|c| c.last())
                    .map(|e| e.at)
                    .max(),
            };
            newest.is_some_and(|t| t >= now.saturating_sub(span))
        });
    }

    fn state(&self) -> &WindowState {
        &self.state
    }

    fn state_mut(&mut self) -> &mut WindowState {
        &mut self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detector;
    use crate::sigma::detector::SigmaRules;
    use crate::sigma::link;
    use crate::sigma::rule::load;

    /// A record: `name` by `user` from `ip` at minute:second `t` of
    /// 2024-05-01T10:MM:SS.
    fn rec(id: &str, t: &str, name: &str, user: &str, ip: &str) -> String {
        let who = if user.is_empty() {
            r#"{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}"#.to_string()
        } else {
            format!(
                r#"{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}","userName":"{user}"}}"#
            )
        };
        format!(
            r#"{{"eventVersion":"1.08","eventTime":"2024-05-01T10:{t}Z","eventID":"{id}","eventType":"AwsApiCall","awsRegion":"us-east-1","eventSource":"iam.amazonaws.com","eventName":"{name}","sourceIPAddress":"{ip}","userIdentity":{who}}}"#
        )
    }

    fn detector(rules: &str) -> SigmaRules {
        let (rules, errors) = load(rules, "test.yml");
        assert!(errors.is_empty(), "{errors:?}");
        let (set, errors) = link(rules);
        assert!(errors.is_empty(), "{errors:?}");
        SigmaRules::new(set)
    }

    fn feed(d: &mut dyn Detector, records: &[String]) -> Vec<Alert> {
        crate::detect::feed(d, &records.join("\n"))
    }

    fn run(rules: &str, records: &[String]) -> Vec<Alert> {
        let mut d = detector(rules);
        let mut out = feed(&mut d, records);
        d.finish(&mut out);
        out
    }

    const BASE: &str = r#"
title: Create user
id: r-create-user
name: create_user
detection: {sel: {eventName: CreateUser}, condition: sel}
---
title: Create key
id: r-create-key
name: create_key
detection: {sel: {eventName: CreateAccessKey}, condition: sel}
---
title: Attach policy
id: r-attach
name: attach
detection: {sel: {eventName: AttachUserPolicy}, condition: sel}
"#;

    fn with(corr: &str) -> String {
        format!("{corr}\n---\n{BASE}")
    }

    #[test]
    fn event_count_slides_over_window_boundaries_and_fires_once_per_burst() {
        let rules = with(
            "title: Many keys\nid: c-count\ncorrelation: {type: event_count, rules: [create_key], group-by: [userIdentity.arn], timespan: 5m, condition: {gte: 3}}\nlevel: high",
        );
        let recs = [
            rec("k1", "00:00", "CreateAccessKey", "bob", "1.1.1.1"),
            rec("k2", "02:00", "CreateAccessKey", "bob", "1.1.1.1"),
            // k1 and k2 are more than 5 minutes before these:
            rec("k3", "08:00", "CreateAccessKey", "bob", "1.1.1.1"),
            rec("k4", "09:00", "CreateAccessKey", "bob", "1.1.1.1"),
            // Three within 5 minutes, across the 10:10 boundary a fixed
            // 5-minute bucket would split them on.
            rec("k5", "10:30", "CreateAccessKey", "bob", "1.1.1.1"),
            rec("k6", "11:00", "CreateAccessKey", "bob", "1.1.1.1"),
            rec("a1", "00:30", "CreateAccessKey", "alice", "1.1.1.1"),
            rec("a2", "01:00", "CreateAccessKey", "alice", "1.1.1.1"),
            // No group: not counted.
            rec("s1", "01:00", "CreateAccessKey", "", "1.1.1.1"),
        ];
        let alerts = run(&rules, &recs);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        let a = &alerts[0];
        assert_eq!(a.rule_id, "c-count");
        assert_eq!(a.kind, AlertKind::Correlation);
        assert_eq!(a.severity, crate::alert::Severity::P2);
        assert_eq!(a.event_ids, ["k3", "k4", "k5"]);
        assert_eq!(a.event_count, 3);
        assert_eq!(a.datapoints, [Some(3.0)]);
        assert_eq!(a.threshold, Some(3.0));
        assert_eq!(a.time, "2024-05-01T10:10:30Z");
        assert_eq!(a.window_start.as_deref(), Some("2024-05-01T10:08:00Z"));
        assert_eq!(
            a.dimensions.get("userIdentity.arn").map(String::as_str),
            Some("arn:aws:iam::111122223333:user/bob")
        );
        // The rule it names raises nothing of its own, unless generate.
        assert!(alerts.iter().all(|a| a.rule_id != "r-create-key"));
        let loud = run(
            &rules.replace(
                "condition: {gte: 3}}",
                "condition: {gte: 3}, generate: true}",
            ),
            &recs,
        );
        assert_eq!(
            loud.iter().filter(|a| a.rule_id == "r-create-key").count(),
            9
        );
    }

    #[test]
    fn value_count_counts_distinct_values_per_group() {
        let rules = with(
            "title: Keys from many places\nid: c-values\ncorrelation: {type: value_count, rules: [create_key, create_user], group-by: [userIdentity.userName], timespan: 1h, condition: {field: sourceIPAddress, gte: 3}}",
        );
        let recs = [
            rec("v1", "00:00", "CreateAccessKey", "bob", "10.0.0.1"),
            rec("v2", "01:00", "CreateUser", "bob", "10.0.0.1"),
            rec("v3", "02:00", "CreateAccessKey", "bob", "10.0.0.2"),
            rec("v4", "03:00", "CreateAccessKey", "alice", "10.0.0.3"),
            rec("v5", "04:00", "CreateAccessKey", "bob", "10.0.0.3"),
        ];
        let alerts = run(&rules, &recs);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].datapoints, [Some(3.0)]);
        assert_eq!(alerts[0].event_ids, ["v1", "v2", "v3", "v5"]);
        assert_eq!(alerts[0].source_ips, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        assert_eq!(
            alerts[0].dimensions.get("field").map(String::as_str),
            Some("sourceIPAddress")
        );
    }

    #[test]
    fn temporal_takes_any_order_within_the_timespan() {
        let rules = with(
            "title: Backdoor user\nid: c-temporal\ncorrelation: {type: temporal, rules: [create_user, create_key, attach], group-by: [userIdentity.arn], timespan: 10m}",
        );
        let in_time = [
            rec("t1", "00:00", "AttachUserPolicy", "bob", "1.1.1.1"),
            rec("t2", "03:00", "CreateUser", "bob", "1.1.1.1"),
            rec("t3", "05:00", "CreateUser", "alice", "1.1.1.1"),
            rec("t4", "09:00", "CreateAccessKey", "bob", "1.1.1.1"),
        ];
        let alerts = run(&rules, &in_time);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].event_ids, ["t1", "t2", "t4"]);
        let spread = [
            rec("t1", "00:00", "AttachUserPolicy", "bob", "1.1.1.1"),
            rec("t2", "03:00", "CreateUser", "bob", "1.1.1.1"),
            rec("t4", "10:01", "CreateAccessKey", "bob", "1.1.1.1"),
        ];
        assert!(run(&rules, &spread).is_empty());
        // Two of three is enough when the condition says so.
        let two = rules.replace("timespan: 10m}", "timespan: 10m, condition: {gte: 2}}");
        assert_eq!(run(&two, &spread).len(), 1);
    }

    #[test]
    fn temporal_ordered_needs_the_order_given() {
        let rules = with(
            "title: User then key\nid: c-ordered\ncorrelation: {type: temporal_ordered, rules: [create_user, create_key], group-by: [userIdentity.arn], timespan: 10m}",
        );
        let wrong = [
            rec("o1", "00:00", "CreateAccessKey", "bob", "1.1.1.1"),
            rec("o2", "01:00", "CreateUser", "bob", "1.1.1.1"),
        ];
        assert!(run(&rules, &wrong).is_empty());
        let right = [
            rec("o1", "00:00", "CreateAccessKey", "bob", "1.1.1.1"),
            rec("o2", "01:00", "CreateUser", "bob", "1.1.1.1"),
            rec("o3", "02:00", "CreateAccessKey", "bob", "1.1.1.1"),
        ];
        let alerts = run(&rules, &right);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].event_ids, ["o2", "o3"]);
        // Records arriving out of order are taken in event-time order.
        let shuffled = [right[2].clone(), right[0].clone(), right[1].clone()];
        assert_eq!(run(&rules, &shuffled), alerts);
    }

    #[test]
    fn an_upper_bound_is_judged_when_the_window_closes() {
        let rules = with(
            "title: Few keys\nid: c-few\ncorrelation: {type: event_count, rules: [create_key], group-by: [userIdentity.arn], timespan: 10m, condition: {lte: 2}}",
        );
        let recs = [
            rec("f1", "00:00", "CreateAccessKey", "bob", "1.1.1.1"),
            rec("f2", "01:00", "CreateAccessKey", "alice", "1.1.1.1"),
            rec("f3", "02:00", "CreateAccessKey", "alice", "1.1.1.1"),
            rec("f4", "03:00", "CreateAccessKey", "alice", "1.1.1.1"),
            // Event time passes the first two windows' ends.
            rec("x1", "20:00", "CreateUser", "carol", "1.1.1.1"),
            // carol's window is not covered by the data to its end.
            rec("f5", "20:00", "CreateAccessKey", "carol", "1.1.1.1"),
        ];
        let all = run(&rules, &recs);
        // create_user is named by no correlation: it alerts on its own.
        assert_eq!(
            all.iter().filter(|a| a.rule_id == "r-create-user").count(),
            1
        );
        let alerts: Vec<&Alert> = all.iter().filter(|a| a.rule_id == "c-few").collect();
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].event_ids, ["f1"]);
        assert_eq!(alerts[0].time, "2024-05-01T10:10:00Z", "the window's end");
    }

    const CHAIN: &str = r#"
title: Brute force then success
id: c-outer
correlation:
  type: temporal_ordered
  rules: [many_failed, success]
  group-by: [user]
  timespan: 10m
  aliases:
    user: {many_failed: user, success: userIdentity.userName}
level: critical
---
title: Many failed
id: c-inner
name: many_failed
correlation:
  type: event_count
  rules: [failed]
  group-by: [user]
  aliases: {user: {failed: userIdentity.userName}}
  timespan: 10m
  condition: {gte: 3}
---
title: Failed
id: r-failed
name: failed
detection: {sel: {eventName: CreateUser, sourceIPAddress: 6.6.6.6}, condition: sel}
---
title: Success
id: r-success
name: success
detection: {sel: {eventName: CreateAccessKey}, condition: sel}
"#;

    #[test]
    fn chained_correlations_feed_their_matches_on() {
        let recs = [
            rec("s0", "00:00", "CreateAccessKey", "bob", "1.1.1.1"),
            rec("f1", "01:00", "CreateUser", "bob", "6.6.6.6"),
            rec("f2", "02:00", "CreateUser", "bob", "6.6.6.6"),
            rec("f3", "03:00", "CreateUser", "bob", "6.6.6.6"),
            rec("s1", "04:00", "CreateAccessKey", "alice", "1.1.1.1"),
            rec("s2", "05:00", "CreateAccessKey", "bob", "1.1.1.1"),
        ];
        let alerts = run(CHAIN, &recs);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        let a = &alerts[0];
        assert_eq!(a.rule_id, "c-outer");
        assert_eq!(a.severity, crate::alert::Severity::P1);
        assert_eq!(a.event_ids, ["f1", "f2", "f3", "s2"]);
        assert_eq!(a.event_count, 4);
        assert_eq!(a.dimensions.get("user").map(String::as_str), Some("bob"));
    }

    /// State saved part-way and restored into a new detector gives what
    /// one detector that never stopped gives.
    #[test]
    fn windows_survive_a_restart() {
        let recs = [
            rec("f1", "01:00", "CreateUser", "bob", "6.6.6.6"),
            rec("f2", "02:00", "CreateUser", "bob", "6.6.6.6"),
            rec("f3", "03:00", "CreateUser", "bob", "6.6.6.6"),
            rec("s2", "05:00", "CreateAccessKey", "bob", "1.1.1.1"),
        ];
        let expected = run(CHAIN, &recs);
        assert_eq!(expected.len(), 1);
        let mut first = detector(CHAIN);
        assert!(feed(&mut first, &recs[..2]).is_empty());
        // A watcher's watermark passes the first events.
        let minute = chrono::DateTime::parse_from_rfc3339("2024-05-01T10:02:30Z")
            .expect("time")
            .timestamp()
            / 60;
        first.advance(minute, &mut Vec::new());
        let saved = first.save().expect("saves");
        let mut second = detector(CHAIN);
        second.restore(&saved).expect("restores");
        let mut got = feed(&mut second, &recs[2..]);
        second.finish(&mut got);
        assert_eq!(got, expected);
        let err = detector(CHAIN).restore(b"{").unwrap_err().to_string();
        assert!(err.contains("sigma-correlation"), "{err}");
    }
}
