//! `rules backtest`: one replay of history (the lake, or trail files)
//! through the rules in force, tallying per rule what it matched and what
//! it would have raised; with a baseline, an older version of the rules
//! is run over the same records in the same pass. Matches come from the
//! same code as `detect --matches`, alerts from the same pipeline as
//! `detect`.

use std::time::Duration;

use anyhow::Result;
use trailwatch_core::alert::Alert;
use trailwatch_core::backtest::Tally;
use trailwatch_core::rules::{Engine, Match};
use trailwatch_core::sigma::detector::SigmaRules;

use crate::detectors::Detections;
use crate::pipeline::Pipeline;
use crate::pipeline::replay::{
    LAKE_REPLAY_LATE_HORIZON_MINUTES, REPLAY_LATENESS_SECS, Replay, Step,
    TRAIL_REPLAY_LATE_HORIZON_MINUTES, Window, each_source_record,
};

/// What a backtest found.
#[derive(Debug)]
pub struct Outcome {
    pub tally: Tally,
    pub baseline: Option<Tally>,
    /// The events in the window, and what the replay read.
    pub window: Window,
    /// Unreadable files and records.
    pub problems: u64,
}

/// The rules' matchers, as `detect --matches` runs them.
struct Matchers {
    engine: Engine,
    sigma: Option<SigmaRules>,
    tally: Tally,
    findings: Vec<Alert>,
    matches: Vec<Match>,
}

impl Matchers {
    fn new(d: &Detections, keep_ids: bool) -> Matchers {
        let names = d
            .rules
            .iter()
            .map(|r| (r.id.as_str(), r.title.as_str()))
            .chain(
                d.sigma
                    .rules
                    .iter()
                    .map(|r| (r.id.as_str(), r.title.as_str())),
            )
            .chain(d.correlation.iter().map(|c| (c.id, c.title)));
        Matchers {
            tally: Tally::new(names, keep_ids),
            engine: Engine::new(d.rules.clone()),
            sigma: (!d.sigma.rules.is_empty()).then(|| SigmaRules::new(d.sigma.clone())),
            findings: Vec::new(),
            matches: Vec::new(),
        }
    }

    fn observe(&mut self, r: &trailwatch_core::event::Record<'_>, in_time: bool) {
        self.engine
            .observe_timed(r, in_time, &mut self.findings, Some(&mut self.matches));
        self.findings.clear();
        if let Some(s) = &self.sigma {
            s.matches(r, &mut self.matches);
        }
        for m in self.matches.drain(..) {
            self.tally.matched(&m);
        }
    }
}

/// Backtest `detections` (and `baseline`, when given) over `source`.
/// `keep_ids` keeps each match's event id (expectations naming events; a
/// baseline keeps them always).
pub fn run(
    source: &Replay<'_>,
    detections: Detections,
    baseline: Option<&Detections>,
    keep_ids: bool,
) -> Result<Outcome> {
    let keep_ids = keep_ids || baseline.is_some();
    let mut new = Matchers::new(&detections, keep_ids);
    let mut old = baseline.map(|b| Matchers::new(b, true));
    let horizon = match source.lake {
        Some(_) => LAKE_REPLAY_LATE_HORIZON_MINUTES,
        None => TRAIL_REPLAY_LATE_HORIZON_MINUTES,
    };
    let mut pipeline = Pipeline::new(
        detections.detectors(Some(horizon)),
        REPLAY_LATENESS_SECS,
        Duration::MAX,
    );
    let mut alerts: Vec<Alert> = Vec::new();
    let mut window = Window::default();
    let problems = each_source_record(source, &mut window, |step| {
        match step {
            Step::Record(input, r, bounds) => {
                let in_time = bounds.check(r.time).is_none();
                new.observe(r, in_time);
                if let Some(old) = &mut old {
                    old.observe(r, in_time);
                }
                pipeline.observe(input, r, bounds, &mut alerts);
            }
            Step::Expect(input) => pipeline.expect(input),
            Step::PrefixRead(input) => pipeline.prefix_read(input),
            Step::InputRead => pipeline.advance(&mut alerts),
            Step::ReadBefore(ms) => pipeline.advance_to(ms, &mut alerts),
        }
        for a in alerts.drain(..) {
            new.tally.alerted(&a);
        }
    })?;
    pipeline.finish(&mut alerts);
    for a in alerts.drain(..) {
        new.tally.alerted(&a);
    }
    Ok(Outcome {
        tally: new.tally,
        baseline: old.map(|o| o.tally),
        window,
        problems,
    })
}
