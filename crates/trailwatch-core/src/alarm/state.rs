//! The CloudWatch alarm state machine (`metric-filter-syntax.md` §6): M of N
//! datapoints over an evaluation range of N + 2 periods, the four
//! `TreatMissingData` modes, and the premature-alarm rule.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    /// CloudWatch's name of the state, as in `DescribeAlarms`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TreatMissing {
    Missing,
    Ignore,
    Breaching,
    NotBreaching,
}

/// The next state, given the datapoints of the evaluation range (oldest
/// first, `None` = missing; its length is the range R ≥ N), M of N, and the
/// current state.
pub fn next_state(
    window: &[Option<bool>],
    n: usize,
    m: usize,
    treat: TreatMissing,
    current: AlarmState,
) -> AlarmState {
    let real: Vec<bool> = window.iter().flatten().copied().collect();
    let m_of_n = |breaching: usize| {
        if breaching >= m {
            AlarmState::Alarm
        } else {
            AlarmState::Ok
        }
    };
    if real.len() >= n {
        // The N newest real datapoints, reaching back over missing slots.
        let newest = &real[real.len() - n..];
        return m_of_n(newest.iter().filter(|b| **b).count());
    }
    let k = n - real.len();
    let breaching = real.iter().filter(|b| **b).count();
    match treat {
        TreatMissing::Breaching => m_of_n(breaching + k),
        TreatMissing::NotBreaching => m_of_n(breaching),
        TreatMissing::Missing | TreatMissing::Ignore => {
            if real.is_empty() {
                return if treat == TreatMissing::Missing {
                    AlarmState::InsufficientData
                } else {
                    current
                };
            }
            if treat == TreatMissing::Missing && breaching == real.len() {
                // Premature alarm: no real point is fine, and a breaching
                // point of age >= M sits among the newest N slots.
                let newest = &window[window.len().saturating_sub(n)..];
                let premature = newest
                    .iter()
                    .rev()
                    .enumerate()
                    .any(|(age0, p)| *p == Some(true) && age0 + 1 >= m);
                if premature {
                    return AlarmState::Alarm;
                }
            }
            if breaching >= m {
                AlarmState::Alarm
            } else if real.iter().any(|b| !b) {
                AlarmState::Ok
            } else {
                current
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(row: &str) -> Vec<Option<bool>> {
        row.split_whitespace()
            .map(|c| match c {
                "X" => Some(true),
                "0" => Some(false),
                _ => None,
            })
            .collect()
    }

    /// The AWS table reproduced in the spec, N = 3, R = 5.
    #[test]
    fn aws_missing_data_table() {
        use AlarmState::{Alarm as A, InsufficientData as I, Ok as O};
        let keep = AlarmState::Ok; // "keep" rows start from OK
        let rows: &[(&str, usize, [AlarmState; 4])] = &[
            ("0 - X - X", 3, [O, O, O, O]),
            ("0 - - - -", 3, [O, O, O, O]),
            ("- - - - -", 3, [I, keep, A, O]),
            ("0 X X - X", 3, [A, A, A, A]),
            ("- - X - -", 3, [A, keep, A, O]),
            ("0 - X - X", 2, [A, A, A, A]),
            ("0 0 X 0 X", 2, [A, A, A, A]),
            ("0 - X - -", 2, [O, O, A, O]),
            ("- - - - 0", 2, [O, O, A, O]),
            ("- - - X -", 2, [A, keep, A, O]),
        ];
        let modes = [
            TreatMissing::Missing,
            TreatMissing::Ignore,
            TreatMissing::Breaching,
            TreatMissing::NotBreaching,
        ];
        for (row, m, want) in rows {
            for (mode, w) in modes.iter().zip(want) {
                let got = next_state(&parse(row), 3, *m, *mode, AlarmState::Ok);
                assert_eq!(got, *w, "{row} M={m} {mode:?}");
            }
        }
    }

    #[test]
    fn ignore_keeps_the_state_when_everything_is_missing() {
        let all_missing = parse("- - - - -");
        assert_eq!(
            next_state(&all_missing, 3, 3, TreatMissing::Ignore, AlarmState::Alarm),
            AlarmState::Alarm
        );
    }

    #[test]
    fn prose_examples_keep_state_with_m_3() {
        for row in ["- - - - X", "- - - X -"] {
            assert_eq!(
                next_state(&parse(row), 3, 3, TreatMissing::Missing, AlarmState::Ok),
                AlarmState::Ok,
                "{row}"
            );
            assert_eq!(
                next_state(
                    &parse(row),
                    3,
                    3,
                    TreatMissing::Missing,
                    AlarmState::InsufficientData
                ),
                AlarmState::InsufficientData,
                "{row}"
            );
        }
    }
}
