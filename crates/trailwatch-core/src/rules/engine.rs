//! Runs rules over decoded records: findings for single-event rules,
//! metric samples and alarm evaluation (on event time) for alarm rules, and
//! the alerts both produce, each with a stable id so re-running over the
//! same data never duplicates alerts downstream.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{MetricValue, Rule};
use crate::alarm::{AlarmState, Evidence, Series, Transition, minute_of};
use crate::alert::{About, Alert, AlertKind, Severity, stable_id};
use crate::detect::{Detector, Seen, StateError};
use crate::event::Record;
use crate::pattern::{Document, Expr, Found, Operand, Pattern, RecordDoc, Step, Test};

/// One rule matching one event (`detect --matches`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Match {
    pub rule_id: String,
    pub severity: Severity,
    pub event_id: String,
    pub event_time: String,
    pub event_name: Option<String>,
    pub principal: Option<String>,
    pub source_ip: Option<String>,
}

fn minute_iso(minute: i64) -> String {
    chrono::DateTime::from_timestamp(minute * 60, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn scalar(f: Option<Found<'_>>) -> Option<String> {
    match f? {
        Found::Str(s) | Found::Num(s) => Some(s.into_owned()),
        Found::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(f: Option<Found<'_>>) -> Option<f64> {
    match f? {
        Found::Num(s) | Found::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The `eventName` values a JSON pattern requires, when it requires one of
/// a finite set of literal names (most CloudTrail rules do): such a rule
/// need only be evaluated for events with those names.
fn required_names(e: &Expr) -> Option<BTreeSet<String>> {
    match e {
        Expr::Cond(c)
            if c.selector.len() == 1 && c.selector[0] == Step::Key("eventName".into()) =>
        {
            match &c.test {
                Test::Eq(Operand::Text { text, .. }) if !text.contains('*') => {
                    Some([text.clone()].into())
                }
                _ => None,
            }
        }
        Expr::Or(items) => {
            let mut all = BTreeSet::new();
            for i in items {
                all.extend(required_names(i)?);
            }
            Some(all)
        }
        // Any conjunct's requirement is a requirement of the whole.
        Expr::And(items) => items.iter().find_map(required_names),
        Expr::Cond(_) => None,
    }
}

/// The rule engine, holding alarm state between records.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    /// Rules to try for an event name, and rules to try for every event.
    by_name: HashMap<String, Vec<usize>>,
    always: Vec<usize>,
    series: HashMap<(usize, Vec<String>), Series>,
    /// Minutes in which any event was seen (for metric default values).
    activity: BTreeSet<i64>,
    last_minute: Option<i64>,
    /// The furthest minute alarms were evaluated to.
    evaluated: Option<i64>,
    /// Samples before this minute no longer count (see [`LATE_HORIZON`]).
    floor: Option<i64>,
    /// The late horizon in force, in minutes.
    late_horizon: i64,
}

/// How late (in minutes of event time behind the evaluation) a sample may
/// arrive and still re-open an alarm's evaluation, unless set otherwise
/// ([`Engine::with_late_horizon`]): 14 days, CloudWatch Logs' own limit for
/// old log events. Older state is forgotten, so memory and saved state stay
/// bounded however long a watcher runs.
pub const LATE_HORIZON: i64 = 14 * 24 * 60;

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Engine {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut always = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            match &r.pattern {
                Pattern::Json(e) => match required_names(e) {
                    Some(names) => {
                        for n in names {
                            by_name.entry(n).or_default().push(i);
                        }
                    }
                    None => always.push(i),
                },
                _ => always.push(i),
            }
        }
        Engine {
            rules,
            by_name,
            always,
            series: HashMap::new(),
            activity: BTreeSet::new(),
            last_minute: None,
            evaluated: None,
            floor: None,
            late_horizon: LATE_HORIZON,
        }
    }

    /// Keep alarm state for `minutes` of event time behind the evaluation
    /// (a watcher whose files land in order needs far less than the
    /// default, and keeps its state that much smaller).
    pub fn with_late_horizon(mut self, minutes: i64) -> Engine {
        self.late_horizon = minutes.max(1);
        self
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Apply every rule to one record. Findings are returned at once; alarm
    /// samples wait for [`Engine::advance`]. With `matches`, every match is
    /// also listed.
    pub fn observe(
        &mut self,
        r: &Record<'_>,
        alerts: &mut Vec<Alert>,
        matches: Option<&mut Vec<Match>>,
    ) {
        self.observe_timed(r, true, alerts, matches);
    }

    /// A sample-bearing record at `minute`: the minute has activity.
    fn note_activity(&mut self, minute: i64) {
        let new_minute = self.activity.insert(minute);
        self.last_minute = Some(self.last_minute.map_or(minute, |m| m.max(minute)));
        if new_minute && self.evaluated.is_some_and(|e| minute <= e) {
            // A minute with activity appeared in the past: alarms that
            // report a default value for such minutes read it again.
            for ((i, _), series) in self.series.iter_mut() {
                if self.rules[*i]
                    .alarm
                    .as_ref()
                    .is_some_and(|a| a.default_value.is_some())
                {
                    series.rewind(minute);
                }
            }
        }
    }

    /// [`Engine::observe`] for a record whose time may not be believable
    /// (see [`crate::detect::clock`]): one that is not (`in_time` false)
    /// still meets the single-event rules but is kept out of the alarms'
    /// metrics — CloudWatch Logs refuses such events, and one record dated
    /// 2099 must not move event time for everything else.
    pub fn observe_timed(
        &mut self,
        r: &Record<'_>,
        in_time: bool,
        alerts: &mut Vec<Alert>,
        mut matches: Option<&mut Vec<Match>>,
    ) {
        let doc = RecordDoc::new(r);
        let e = &r.event;
        let minute = minute_of(r.time.timestamp_millis());
        // Older than the horizon: still a finding, no longer a sample.
        let in_time = in_time && self.floor.is_none_or(|f| minute >= f);
        if in_time {
            self.note_activity(minute);
        }
        let named = e
            .event_name
            .as_deref()
            .and_then(|n| self.by_name.get(n))
            .map_or(&[][..], Vec::as_slice);
        for &i in self.always.iter().chain(named) {
            let rule = &self.rules[i];
            if !rule.pattern.matches(&doc) {
                continue;
            }
            let principal = e.principal().map(str::to_string);
            let ip = e.source_ip_address.as_deref().map(str::to_string);
            if let Some(list) = matches.as_deref_mut() {
                list.push(Match {
                    rule_id: rule.id.clone(),
                    severity: rule.severity,
                    event_id: e.event_id.to_string(),
                    event_time: e.event_time.to_string(),
                    event_name: e.event_name.as_deref().map(str::to_string),
                    principal: principal.clone(),
                    source_ip: ip.clone(),
                });
            }
            if rule.findings {
                alerts.push(Alert::for_event(
                    e,
                    &["finding", &rule.id, &e.event_id],
                    About {
                        kind: AlertKind::Finding,
                        rule_id: &rule.id,
                        title: &rule.title,
                        severity: rule.severity,
                        description: rule.description.clone(),
                        actions: rule.actions.clone(),
                        query: rule.query.clone(),
                        dimensions: BTreeMap::new(),
                    },
                ));
            }
            let Some(alarm) = &rule.alarm else { continue };
            if !in_time {
                continue;
            }
            let value = match &alarm.value {
                MetricValue::Constant(v) => Some(*v),
                MetricValue::Selector(s) => number(doc.lookup(s)),
            };
            let Some(value) = value else { continue };
            let mut dims = Vec::with_capacity(alarm.dimensions.len());
            let mut complete = true;
            for (_, sel) in &alarm.dimensions {
                match scalar(doc.lookup(sel)) {
                    Some(v) => dims.push(v),
                    None => complete = false,
                }
            }
            if !complete {
                // CloudWatch publishes nothing when a dimension is missing.
                continue;
            }
            self.series.entry((i, dims)).or_default().add(
                minute,
                value,
                Some(Evidence {
                    event_id: e.event_id.to_string(),
                    event_time: e.event_time.to_string(),
                    principal,
                    source_ip: ip,
                }),
            );
        }
    }

    /// Evaluate alarms through minute `until` (event time) and return the
    /// alerts of their state changes into ALARM, and back to OK from ALARM.
    pub fn advance(&mut self, until: i64) -> Vec<Alert> {
        self.evaluated = Some(self.evaluated.map_or(until, |e| e.max(until)));
        let mut out = Vec::new();
        let mut keys: Vec<(usize, Vec<String>)> = self.series.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let rule = &self.rules[key.0];
            let Some(alarm) = &rule.alarm else { continue };
            let Some(series) = self.series.get_mut(&key) else {
                continue;
            };
            let transitions =
                series.evaluate_until(&alarm.spec, until, &self.activity, alarm.default_value);
            let mut was_alarm = false;
            for t in transitions {
                let into_ok_from_alarm =
                    t.to == AlarmState::Ok && (t.from == AlarmState::Alarm || was_alarm);
                was_alarm = t.to == AlarmState::Alarm;
                if t.to == AlarmState::Alarm || into_ok_from_alarm {
                    out.push(alarm_alert(rule, &key.1, &t));
                }
            }
        }
        out.sort_by(|a, b| a.time.cmp(&b.time).then(a.rule_id.cmp(&b.rule_id)));
        self.prune(until);
        out
    }

    /// How far back (in minutes) any alarm's evaluation range reaches.
    fn reach(&self) -> i64 {
        self.rules
            .iter()
            .filter_map(|r| r.alarm.as_ref())
            .map(|a| a.spec.range() as i64 * a.spec.period_minutes)
            .max()
            .unwrap_or(0)
    }

    /// Forget alarm state older than the late horizon behind `until`.
    fn prune(&mut self, until: i64) {
        let reach = self.reach();
        let floor = until.saturating_sub(self.late_horizon.saturating_add(reach));
        if self.floor.is_some_and(|f| f >= floor) {
            return;
        }
        // Pruning costs a pass over every series: do it an hour at a time.
        if self.floor.is_some_and(|f| floor - f < 60) {
            return;
        }
        self.floor = Some(floor);
        self.activity = self.activity.split_off(&floor);
        self.series.retain(|_, s| {
            s.prune(floor);
            !s.is_spent()
        });
    }

    /// Evaluate every alarm to the end of the data (until every sample has
    /// left every window), for batch replays.
    pub fn finish(&mut self) -> Vec<Alert> {
        let reach = self.reach();
        match self.last_minute {
            Some(m) => self.advance(m + reach + 1),
            None => Vec::new(),
        }
    }
}

/// The engine's state as saved: alarm series by rule id (not position, so
/// a restart with rules added or removed keeps the rest).
#[derive(Serialize, Deserialize)]
struct SavedState {
    version: u32,
    series: Vec<(String, Vec<String>, Series)>,
    activity: Vec<i64>,
    last_minute: Option<i64>,
    evaluated: Option<i64>,
    #[serde(default)]
    floor: Option<i64>,
}

const STATE_VERSION: u32 = 1;

impl Detector for Engine {
    fn name(&self) -> &str {
        "rules"
    }

    fn observe(&mut self, r: &Record<'_>, seen: &Seen, out: &mut Vec<Alert>) {
        self.observe_timed(r, seen.in_time, out, None);
    }

    fn advance(&mut self, minute: i64, out: &mut Vec<Alert>) {
        out.extend(Engine::advance(self, minute));
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        out.extend(Engine::finish(self));
    }

    fn save(&self) -> Result<Vec<u8>, StateError> {
        let mut series: Vec<(String, Vec<String>, Series)> = self
            .series
            .iter()
            .map(|((i, dims), s)| (self.rules[*i].id.clone(), dims.clone(), s.clone()))
            .collect();
        series.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let state = SavedState {
            version: STATE_VERSION,
            series,
            activity: self.activity.iter().copied().collect(),
            last_minute: self.last_minute,
            evaluated: self.evaluated,
            floor: self.floor,
        };
        serde_json::to_vec(&state).map_err(|e| StateError::Encode {
            detector: "rules".into(),
            message: e.to_string(),
        })
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let corrupt = |message: String| StateError::Corrupt {
            detector: "rules".into(),
            message,
        };
        let state: SavedState =
            serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if state.version != STATE_VERSION {
            return Err(corrupt(format!("unknown state version {}", state.version)));
        }
        let index: HashMap<&str, usize> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        self.series = state
            .series
            .into_iter()
            .filter_map(|(id, dims, s)| Some(((*index.get(id.as_str())?, dims), s)))
            .collect();
        self.activity = state.activity.into_iter().collect();
        self.last_minute = state.last_minute;
        self.evaluated = state.evaluated;
        self.floor = state.floor;
        Ok(())
    }
}

fn alarm_alert(rule: &Rule, dims: &[String], t: &Transition) -> Alert {
    let alarm = rule.alarm.as_ref();
    let dimensions: BTreeMap<String, String> = alarm
        .map(|a| {
            a.dimensions
                .iter()
                .map(|(n, _)| n.clone())
                .zip(dims.iter().cloned())
                .collect()
        })
        .unwrap_or_default();
    let state = t.to.as_str();
    let dims_text = dims.join("\u{1f}");
    Alert {
        alert_id: stable_id(&["alarm", &rule.id, &dims_text, &t.minute.to_string(), state]),
        kind: AlertKind::Alarm,
        rule_id: rule.id.clone(),
        title: rule.title.clone(),
        severity: rule.severity,
        state: t.to,
        time: minute_iso(t.minute),
        window_start: Some(minute_iso(t.window.0)),
        window_end: Some(minute_iso(t.window.1 + 1)),
        threshold: alarm.map(|a| a.spec.threshold),
        datapoints: t.datapoints.clone(),
        dimensions,
        event_ids: t.evidence.event_ids.clone(),
        event_count: t.evidence.count,
        principals: t.evidence.principals.iter().cloned().collect(),
        source_ips: t.evidence.source_ips.iter().cloned().collect(),
        actions: rule.actions.clone(),
        description: rule.description.clone(),
        query: rule.query.clone(),
    }
}
