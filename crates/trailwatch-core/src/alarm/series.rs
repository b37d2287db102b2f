//! One metric time series under one alarm: samples aggregated per minute,
//! datapoints per period (aligned to multiples of the period), the alarm
//! evaluated every minute of **event time**, so replaying history gives the
//! alerts that live watching gave.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::state::{AlarmState, Comparison, TreatMissing, next_state};
use crate::alert::EVIDENCE_IDS;

/// `Statistic` or `ExtendedStatistic` (pNN).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Statistic {
    Sum,
    Average,
    SampleCount,
    Minimum,
    Maximum,
    /// `p0.0`–`p100`.
    Percentile(f64),
}

impl Statistic {
    pub fn parse(s: &str) -> Option<Statistic> {
        Some(match s {
            "Sum" => Statistic::Sum,
            "Average" => Statistic::Average,
            "SampleCount" => Statistic::SampleCount,
            "Minimum" => Statistic::Minimum,
            "Maximum" => Statistic::Maximum,
            p if p.starts_with('p') => {
                let v: f64 = p[1..].parse().ok()?;
                if !(0.0..=100.0).contains(&v) {
                    return None;
                }
                Statistic::Percentile(v)
            }
            _ => return None,
        })
    }
}

/// An alarm's evaluation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmSpec {
    /// Period in whole minutes (CloudWatch periods of 60 s and multiples;
    /// 10 s and 30 s high-resolution periods are not modelled).
    pub period_minutes: i64,
    pub evaluation_periods: usize,
    pub datapoints_to_alarm: usize,
    pub statistic: Statistic,
    pub threshold: f64,
    pub comparison: Comparison,
    pub treat_missing: TreatMissing,
}

impl AlarmSpec {
    /// The evaluation range R = N + 2 periods.
    pub fn range(&self) -> usize {
        self.evaluation_periods + 2
    }
}

/// What ties a sample to the event behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub event_id: String,
    pub event_time: String,
    pub principal: Option<String>,
    pub source_ip: Option<String>,
}

/// The evidence of a minute's (or a window's) samples, kept in a size that
/// does not grow with them: how many there were, the first
/// [`EVIDENCE_IDS`] event ids in the order they came, and each distinct
/// principal and source address. An alert reports no more than that, so
/// keeping every sample's evidence (about 200 bytes each) only cost memory:
/// a replay holds its whole history's samples until the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceSummary {
    pub count: usize,
    pub event_ids: Vec<String>,
    pub principals: BTreeSet<String>,
    pub source_ips: BTreeSet<String>,
}

impl EvidenceSummary {
    fn add(&mut self, e: Evidence) {
        self.count += 1;
        if self.event_ids.len() < EVIDENCE_IDS {
            self.event_ids.push(e.event_id);
        }
        self.principals.extend(e.principal);
        self.source_ips.extend(e.source_ip);
    }

    /// `other`'s samples after this one's.
    fn merge(&mut self, other: &EvidenceSummary) {
        self.count += other.count;
        let room = EVIDENCE_IDS.saturating_sub(self.event_ids.len());
        self.event_ids
            .extend(other.event_ids.iter().take(room).cloned());
        self.principals.extend(other.principals.iter().cloned());
        self.source_ips.extend(other.source_ips.iter().cloned());
    }
}

/// A minute's evidence as saved: a summary, or (in state saved before
/// summaries) every sample's [`Evidence`], summarised when read.
#[derive(Deserialize)]
#[serde(untagged)]
enum SavedEvidence {
    Summary(EvidenceSummary),
    Each(Vec<Evidence>),
}

fn read_evidence<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<i64, EvidenceSummary>, D::Error> {
    let saved = BTreeMap::<i64, SavedEvidence>::deserialize(d)?;
    Ok(saved
        .into_iter()
        .map(|(m, e)| {
            let summary = match e {
                SavedEvidence::Summary(s) => s,
                SavedEvidence::Each(all) => {
                    let mut s = EvidenceSummary::default();
                    for one in all {
                        s.add(one);
                    }
                    s
                }
            };
            (m, summary)
        })
        .collect())
}

/// One minute's samples, as runs of equal values: a metric filter's value
/// is nearly always the same (`1`, or a field's few values), so a minute
/// with thousands of matches keeps a run or two, not a number per match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Bucket {
    /// Each sample, in state saved before runs (read, never written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    values: Vec<f64>,
    /// `(value, how many times in a row)`.
    #[serde(default)]
    runs: Vec<(f64, u64)>,
}

impl Bucket {
    fn add(&mut self, value: f64) {
        match self.runs.last_mut() {
            Some((v, n)) if v.to_bits() == value.to_bits() => *n += 1,
            _ => self.runs.push((value, 1)),
        }
    }

    /// Every sample as `(value, count)`.
    fn samples(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.values
            .iter()
            .map(|v| (*v, 1))
            .chain(self.runs.iter().copied())
    }
}

/// A state change of the alarm at an evaluation minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The minute (epoch minutes) whose evaluation changed the state.
    pub minute: i64,
    pub from: AlarmState,
    pub to: AlarmState,
    /// The datapoints of the evaluation range, oldest first (None = missing).
    pub datapoints: Vec<Option<f64>>,
    /// First and last minute of the evaluation range.
    pub window: (i64, i64),
    pub evidence: EvidenceSummary,
}

/// One series (one dimension set) of one alarm. Serializable, so a
/// detector can save it and resume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Series {
    buckets: BTreeMap<i64, Bucket>,
    #[serde(deserialize_with = "read_evidence")]
    evidence: BTreeMap<i64, EvidenceSummary>,
    pub state: AlarmState,
    evaluated_until: Option<i64>,
    /// The first minute ever evaluated.
    first_evaluated: Option<i64>,
    /// The state each transition entered, by minute: where a rewind finds
    /// the state a late sample's minute started from.
    history: BTreeMap<i64, AlarmState>,
    /// The earliest already-evaluated minute that a late sample changed;
    /// the next evaluation starts again from there.
    rewind: Option<i64>,
    /// Transitions already returned (minute → state entered), so that
    /// evaluating again after a rewind returns only what is new.
    #[serde(default)]
    emitted: BTreeMap<i64, AlarmState>,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            buckets: BTreeMap::new(),
            evidence: BTreeMap::new(),
            state: AlarmState::InsufficientData,
            evaluated_until: None,
            first_evaluated: None,
            history: BTreeMap::new(),
            rewind: None,
            emitted: BTreeMap::new(),
        }
    }
}

/// The statistic of samples given as `(value, count)`.
fn aggregate(samples: &[(f64, u64)], stat: Statistic) -> Option<f64> {
    let total: u64 = samples.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let n = total as f64;
    let sum = || samples.iter().map(|(v, k)| v * *k as f64).sum::<f64>();
    let values = samples.iter().map(|(v, _)| *v);
    Some(match stat {
        Statistic::Sum => sum(),
        Statistic::Average => sum() / n,
        Statistic::SampleCount => n,
        Statistic::Minimum => values.fold(f64::INFINITY, f64::min),
        Statistic::Maximum => values.fold(f64::NEG_INFINITY, f64::max),
        Statistic::Percentile(p) => {
            let mut v = samples.to_vec();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Nearest rank.
            let rank = ((p / 100.0) * n).ceil().max(1.0) as u64;
            let rank = rank.min(total);
            let mut seen = 0;
            v.into_iter()
                .find(|(_, k)| {
                    seen += k;
                    seen >= rank
                })
                .map_or(f64::NAN, |(x, _)| x)
        }
    })
}

/// Minutes since the epoch, for epoch milliseconds.
pub fn minute_of(ms: i64) -> i64 {
    ms.div_euclid(60_000)
}

impl Series {
    /// Add one sample at `minute`.
    /// A sample for a minute already evaluated (a late file, a prefix that
    /// lands after another) makes the next evaluation start again from
    /// that minute, so the alarm ends where a replay in event order ends.
    pub fn add(&mut self, minute: i64, value: f64, evidence: Option<Evidence>) {
        if self.evaluated_until.is_some_and(|e| minute <= e) {
            self.rewind(minute);
        }
        self.buckets.entry(minute).or_default().add(value);
        if let Some(e) = evidence {
            self.evidence.entry(minute).or_default().add(e);
        }
    }

    fn datapoint(
        &self,
        spec: &AlarmSpec,
        first: i64,
        last: i64,
        activity: &BTreeSet<i64>,
        default_value: Option<f64>,
    ) -> Option<f64> {
        let mut samples: Vec<(f64, u64)> = Vec::new();
        for (_, b) in self.buckets.range(first..=last) {
            samples.extend(b.samples());
        }
        if let Some(d) = default_value {
            // Minutes with log events but no match report the default value.
            for m in activity.range(first..=last) {
                if !self.buckets.contains_key(m) {
                    samples.push((d, 1));
                }
            }
        }
        aggregate(&samples, spec.statistic)
    }

    fn evaluate_at(
        &mut self,
        spec: &AlarmSpec,
        t: i64,
        activity: &BTreeSet<i64>,
        default_value: Option<f64>,
    ) -> Option<Transition> {
        let r = spec.range() as i64;
        let p = spec.period_minutes;
        // Periods are aligned to multiples of the period, as CloudWatch's
        // datapoint timestamps are; the newest one is the period holding t,
        // seen up to t. (Sliding, unaligned periods would let an old burst
        // re-enter an older slot and re-alarm on the same events.)
        let newest = t.div_euclid(p) * p;
        let datapoints: Vec<Option<f64>> = (0..r)
            .map(|j| {
                let first = newest - (r - 1 - j) * p;
                self.datapoint(spec, first, (first + p - 1).min(t), activity, default_value)
            })
            .collect();
        let breaches: Vec<Option<bool>> = datapoints
            .iter()
            .map(|d| d.map(|v| spec.comparison.breaches(v, spec.threshold)))
            .collect();
        let next = next_state(
            &breaches,
            spec.evaluation_periods,
            spec.datapoints_to_alarm,
            spec.treat_missing,
            self.state,
        );
        if next == self.state {
            return None;
        }
        let window = (newest - (r - 1) * p, t);
        let mut evidence = EvidenceSummary::default();
        for (_, e) in self.evidence.range(window.0..=window.1) {
            evidence.merge(e);
        }
        let from = self.state;
        self.state = next;
        self.history.insert(t, next);
        Some(Transition {
            minute: t,
            from,
            to: next,
            datapoints,
            window,
            evidence,
        })
    }

    /// Evaluate again from `minute` at the next [`Series::evaluate_until`]
    /// (something the evaluation of that minute read has changed).
    pub fn rewind(&mut self, minute: i64) {
        if self.evaluated_until.is_some_and(|e| minute <= e) {
            self.rewind = Some(self.rewind.map_or(minute, |r| r.min(minute)));
        }
    }

    /// Go back to the state the alarm had before `minute` was evaluated.
    fn apply_rewind(&mut self) {
        let Some(minute) = self.rewind.take() else {
            return;
        };
        self.history.retain(|m, _| *m < minute);
        self.state = self
            .history
            .last_key_value()
            .map_or(AlarmState::InsufficientData, |(_, s)| *s);
        self.evaluated_until = match self.first_evaluated {
            Some(first) if first < minute => Some(minute - 1),
            _ => {
                self.first_evaluated = None;
                None
            }
        };
    }

    /// Evaluate every minute up to and including `until`; returns the state
    /// changes in order. Minutes far from any sample are skipped: there the
    /// window is all missing, and one evaluation settles the state.
    pub fn evaluate_until(
        &mut self,
        spec: &AlarmSpec,
        until: i64,
        activity: &BTreeSet<i64>,
        default_value: Option<f64>,
    ) -> Vec<Transition> {
        self.apply_rewind();
        let reach = spec.range() as i64 * spec.period_minutes;
        let mut out = Vec::new();
        let mut minutes_with_data: BTreeSet<i64> = self.buckets.keys().copied().collect();
        if default_value.is_some() {
            minutes_with_data.extend(activity.iter().copied());
        }
        let mut t = match self.evaluated_until {
            Some(e) => e + 1,
            None => match minutes_with_data.first() {
                Some(first) => *first,
                None => return out,
            },
        };
        if t <= until && self.first_evaluated.is_none() {
            self.first_evaluated = Some(t);
        }
        while t <= until {
            // Is any data within reach of minute t?
            let near = minutes_with_data.range(t - reach + 1..=t).next().is_some();
            if near {
                out.extend(self.evaluate_at(spec, t, activity, default_value));
                t += 1;
                continue;
            }
            // An all-missing window: evaluate once, then jump to the next data.
            out.extend(self.evaluate_at(spec, t, activity, default_value));
            match minutes_with_data.range(t + 1..).next() {
                Some(next) => t = (*next).min(until + 1),
                None => t = until + 1,
            }
        }
        self.evaluated_until = Some(until.max(self.evaluated_until.unwrap_or(i64::MIN)));
        out.retain(|t| {
            let new = self.emitted.get(&t.minute) != Some(&t.to);
            self.emitted.insert(t.minute, t.to);
            new
        });
        out
    }

    /// Forget what lies before minute `before` (samples, evidence, state
    /// history): late data older than that no longer counts, so memory and
    /// saved state stay bounded however long the series lives.
    pub fn prune(&mut self, before: i64) {
        self.buckets = self.buckets.split_off(&before);
        self.evidence = self.evidence.split_off(&before);
        self.emitted = self.emitted.split_off(&before);
        // The last state entered before the cut is where a rewind to the
        // cut starts from: keep it.
        let kept = self.history.split_off(&before);
        let last_before = self.history.pop_last();
        self.history = kept;
        if let Some((m, s)) = last_before {
            self.history.insert(m, s);
        }
        if self.rewind.is_some_and(|r| r < before) {
            self.rewind = Some(before);
        }
    }

    /// Whether nothing is left that matters: no samples, and not in ALARM
    /// (a fresh series behaves the same from here on).
    pub fn is_spent(&self) -> bool {
        self.buckets.is_empty() && self.rewind.is_none() && self.state != AlarmState::Alarm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n: usize, m: usize, treat: TreatMissing) -> AlarmSpec {
        AlarmSpec {
            period_minutes: 5,
            evaluation_periods: n,
            datapoints_to_alarm: m,
            statistic: Statistic::Sum,
            threshold: 1.0,
            comparison: Comparison::GreaterThanOrEqualToThreshold,
            treat_missing: treat,
        }
    }

    #[test]
    fn a_single_match_alarms_then_recovers_when_not_breaching() {
        let s = spec(1, 1, TreatMissing::NotBreaching);
        let mut series = Series::default();
        series.add(1000, 1.0, None);
        let tr = series.evaluate_until(&s, 1100, &BTreeSet::new(), None);
        let states: Vec<(i64, AlarmState)> = tr.iter().map(|t| (t.minute, t.to)).collect();
        // ALARM at the match minute. With N = 1 the newest real datapoint is
        // used even when older (CloudWatch reaches back over missing slots in
        // the evaluation range of N + 2 periods), so OK comes only once the
        // sample has left the whole 15-minute range.
        assert_eq!(
            states,
            vec![(1000, AlarmState::Alarm), (1015, AlarmState::Ok)]
        );
    }

    #[test]
    fn three_in_five_minutes_is_needed_for_a_threshold_of_three() {
        let mut s = spec(1, 1, TreatMissing::NotBreaching);
        s.threshold = 3.0;
        let mut series = Series::default();
        series.add(10, 1.0, None);
        series.add(12, 1.0, None);
        series.add(30, 1.0, None);
        assert!(
            series
                .evaluate_until(&s, 100, &BTreeSet::new(), None)
                .iter()
                .all(|t| t.to != AlarmState::Alarm)
        );
        let mut series = Series::default();
        for m in [10, 12, 14] {
            series.add(m, 1.0, None);
        }
        let tr = series.evaluate_until(&s, 100, &BTreeSet::new(), None);
        let alarm = tr
            .iter()
            .find(|t| t.to == AlarmState::Alarm)
            .expect("alarms");
        assert_eq!(alarm.minute, 14);
        assert_eq!(alarm.datapoints.last(), Some(&Some(3.0)));
    }

    #[test]
    fn evaluation_is_the_same_whether_done_at_once_or_minute_by_minute() {
        let s = spec(3, 2, TreatMissing::Missing);
        let samples = [(5, 1.0), (9, 0.0), (17, 2.0), (40, 1.0)];
        let mut once = Series::default();
        let mut live = Series::default();
        let mut live_tr = Vec::new();
        for (m, v) in samples {
            once.add(m, v, None);
        }
        let once_tr = once.evaluate_until(&s, 200, &BTreeSet::new(), None);
        let mut pending = samples.iter().peekable();
        for t in 0..=200 {
            while pending.peek().is_some_and(|(m, _)| *m <= t) {
                if let Some((m, v)) = pending.next() {
                    live.add(*m, *v, None);
                }
            }
            live_tr.extend(live.evaluate_until(&s, t, &BTreeSet::new(), None));
        }
        assert_eq!(once_tr, live_tr);
    }

    #[test]
    fn statistics_aggregate_as_cloudwatch_does() {
        let v = [(1.0, 1), (5.0, 1), (2.0, 1), (8.0, 1)];
        assert_eq!(aggregate(&v, Statistic::Sum), Some(16.0));
        assert_eq!(aggregate(&v, Statistic::Average), Some(4.0));
        assert_eq!(aggregate(&v, Statistic::SampleCount), Some(4.0));
        assert_eq!(aggregate(&v, Statistic::Minimum), Some(1.0));
        assert_eq!(aggregate(&v, Statistic::Maximum), Some(8.0));
        assert_eq!(aggregate(&v, Statistic::Percentile(50.0)), Some(2.0));
        assert_eq!(aggregate(&[], Statistic::Sum), None);
        assert_eq!(Statistic::parse("p99.9"), Some(Statistic::Percentile(99.9)));
        assert_eq!(Statistic::parse("p101"), None);
    }

    #[test]
    fn default_value_turns_quiet_active_minutes_into_zero_datapoints() {
        let s = spec(1, 1, TreatMissing::Missing);
        let activity: BTreeSet<i64> = (0..20).collect();
        let mut series = Series::default();
        let tr = series.evaluate_until(&s, 20, &activity, Some(0.0));
        assert_eq!(
            tr.first().map(|t| t.to),
            Some(AlarmState::Ok),
            "0 is a datapoint, not missing"
        );
    }

    #[test]
    fn late_samples_rewind_to_what_an_in_order_replay_gives() {
        let mut s = spec(1, 1, TreatMissing::NotBreaching);
        s.threshold = 3.0;
        let samples = [10, 11, 12, 40, 41, 42, 43, 90];
        let mut in_order = Series::default();
        for m in samples {
            in_order.add(m, 1.0, None);
        }
        let expected = in_order.evaluate_until(&s, 200, &BTreeSet::new(), None);
        assert!(expected.iter().any(|t| t.to == AlarmState::Alarm));
        // The same samples, the early ones arriving after the series was
        // evaluated well past them.
        let mut late = Series::default();
        let mut seen = Vec::new();
        for m in [40, 41, 90] {
            late.add(m, 1.0, None);
        }
        seen.extend(late.evaluate_until(&s, 150, &BTreeSet::new(), None));
        for m in [10, 11, 12, 42, 43] {
            late.add(m, 1.0, None);
        }
        seen.extend(late.evaluate_until(&s, 200, &BTreeSet::new(), None));
        let got: BTreeSet<(i64, String)> = seen
            .iter()
            .map(|t| (t.minute, t.to.as_str().to_string()))
            .collect();
        for t in &expected {
            assert!(
                got.contains(&(t.minute, t.to.as_str().to_string())),
                "{t:?} missing from {got:?}"
            );
        }
        assert_eq!(late.state, in_order.state);
    }

    fn evidence(i: usize) -> Evidence {
        Evidence {
            event_id: format!("e{i}"),
            event_time: "2026-04-01T00:00:00Z".into(),
            principal: Some(format!("p{}", i % 3)),
            source_ip: i.is_multiple_of(2).then(|| format!("10.0.0.{}", i % 5)),
        }
    }

    #[test]
    fn a_window_reports_every_sample_while_keeping_twenty_ids_a_minute() {
        let s = spec(1, 1, TreatMissing::NotBreaching);
        let mut series = Series::default();
        // 30 samples in each of two minutes: 60 in the window.
        for i in 0..60 {
            series.add(1000 + (i / 30) as i64, 1.0, Some(evidence(i)));
        }
        let tr = series.evaluate_until(&s, 1001, &BTreeSet::new(), None);
        let alarm = tr
            .iter()
            .find(|t| t.to == AlarmState::Alarm)
            .expect("alarm");
        // The minute 1000 evaluation sees the first minute's 30.
        assert_eq!(alarm.evidence.count, 30);
        let ids: Vec<String> = (0..EVIDENCE_IDS).map(|i| format!("e{i}")).collect();
        assert_eq!(alarm.evidence.event_ids, ids, "the first ids, in order");
        assert_eq!(alarm.evidence.principals.len(), 3);
        assert_eq!(alarm.evidence.source_ips.len(), 5);
        // Kept per minute: at most EVIDENCE_IDS ids, whatever the samples.
        assert!(
            series
                .evidence
                .values()
                .all(|e| e.event_ids.len() <= EVIDENCE_IDS)
        );
        let mut window = EvidenceSummary::default();
        for e in series.evidence.values() {
            window.merge(e);
        }
        assert_eq!(window.count, 60);
        assert_eq!(window.event_ids, ids, "merged minutes keep the first ids");
    }

    #[test]
    fn state_saved_with_every_samples_evidence_still_reads() {
        let old = serde_json::json!({
            "buckets": {"1000": {"values": [1.0, 1.0]}},
            "evidence": {"1000": [
                {"event_id": "a", "event_time": "t", "principal": "p", "source_ip": null},
                {"event_id": "b", "event_time": "t", "principal": "p", "source_ip": "10.0.0.1"}
            ]},
            "state": "INSUFFICIENT_DATA",
            "evaluated_until": null,
            "first_evaluated": null,
            "history": {},
            "rewind": null
        });
        let series: Series = serde_json::from_value(old).expect("old state reads");
        let e = &series.evidence[&1000];
        assert_eq!(
            (e.count, e.event_ids.clone()),
            (2, vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(e.source_ips.len(), 1);
        // And what it saves now reads back the same.
        let again: Series =
            serde_json::from_slice(&serde_json::to_vec(&series).expect("save")).expect("read");
        assert_eq!(again.evidence, series.evidence);
        let samples = |s: &Series| s.buckets[&1000].samples().collect::<Vec<_>>();
        assert_eq!(samples(&again), vec![(1.0, 1), (1.0, 1)]);
        assert_eq!(samples(&series), samples(&again));
    }

    /// A minute keeps runs of equal values, not a number per sample, and
    /// every statistic over runs is the statistic over the samples.
    #[test]
    fn a_minute_keeps_runs_of_equal_values_and_its_statistics_are_exact() {
        let mut series = Series::default();
        let values = [1.0, 1.0, 1.0, 5.0, 5.0, 1.0, 2.5];
        for _ in 0..1000 {
            for v in values {
                series.add(7, v, None);
            }
        }
        assert!(series.buckets[&7].runs.len() <= 4 * 1000);
        let mut one = Series::default();
        for _ in 0..10_000 {
            one.add(8, 1.0, None);
        }
        assert_eq!(one.buckets[&8].runs, vec![(1.0, 10_000)]);
        let samples: Vec<(f64, u64)> = series.buckets[&7].samples().collect();
        let mut flat: Vec<f64> = Vec::new();
        for (v, n) in &samples {
            flat.extend(std::iter::repeat_n(*v, *n as usize));
        }
        let n = flat.len() as f64;
        assert_eq!(aggregate(&samples, Statistic::Sum), Some(flat.iter().sum()));
        assert_eq!(aggregate(&samples, Statistic::SampleCount), Some(n));
        assert_eq!(
            aggregate(&samples, Statistic::Average),
            Some(flat.iter().sum::<f64>() / n)
        );
        assert_eq!(aggregate(&samples, Statistic::Minimum), Some(1.0));
        assert_eq!(aggregate(&samples, Statistic::Maximum), Some(5.0));
        flat.sort_by(f64::total_cmp);
        for p in [1.0, 50.0, 57.2, 90.0, 100.0] {
            let rank = ((p / 100.0) * n).ceil().max(1.0) as usize;
            assert_eq!(
                aggregate(&samples, Statistic::Percentile(p)),
                Some(flat[rank - 1]),
                "p{p}"
            );
        }
        assert_eq!(aggregate(&[], Statistic::Sum), None);
    }
}
