//! `trailwatch respond`, `POST /api/respond` and automatic response: the
//! plan from the core ([`trailwatch_core::respond`]) over a trail's
//! evidence, applied through AWS's APIs (`client.rs`) after reading the
//! current state (`state.rs`), and filed in the lake's `responses` table.

mod client;
mod state;
mod xml;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use anyhow::Result;
use trailwatch_core::alert::Alert;
use trailwatch_core::investigate::AlertRef;
use trailwatch_core::respond::{
    Action, ActionKind, AlertToRespond, Evidence, Filter, HISTORY_CALLS, History, Recent, Status,
    aws_cli, needs_history, plan,
};
use trailwatch_lake::responses::{Run, append};
use trailwatch_lake::store::Store;

use crate::investigate::{Lookup, Trail, Window};

pub use client::{Aws, CallError};
use state::Now;

/// The alerts respond answers: those in ALARM (an alarm back to OK has
/// nothing to reverse).
pub fn from_alerts(alerts: &[Alert]) -> Vec<AlertToRespond> {
    alerts
        .iter()
        .filter(|a| a.state == trailwatch_core::alarm::AlarmState::Alarm)
        .map(|a| AlertToRespond {
            alert_id: a.alert_id.clone(),
            rule_id: a.rule_id.clone(),
            event_ids: a.event_ids.clone(),
        })
        .collect()
}

pub fn from_refs(refs: &[AlertRef]) -> Vec<AlertToRespond> {
    refs.iter()
        .map(|r| AlertToRespond {
            alert_id: r.alert_id.clone(),
            rule_id: r.rule_id.clone(),
            event_ids: r.event_ids.clone(),
        })
        .collect()
}

/// The plan for `alerts`, their evidence read from `trail` (and, when a
/// reversal needs the state before, the trail's history of those calls).
pub fn plan_over(
    trail: &mut dyn Trail,
    alerts: &[AlertToRespond],
    filter: &Filter,
) -> Result<Vec<Action>> {
    let mut ids: Vec<String> = alerts
        .iter()
        .flat_map(|a| a.event_ids.iter().cloned())
        .collect();
    ids.sort();
    ids.dedup();
    let mut evidence: HashMap<String, Evidence> = HashMap::new();
    if !ids.is_empty() {
        trail.events(Lookup::EventIds(&ids), &Window::default(), &mut |e| {
            evidence.insert(e.event_id.to_string(), Evidence::from_event(e));
        })?;
    }
    let history = if needs_history(evidence.values()) {
        let mut past = Vec::new();
        trail.events(
            Lookup::Calls(&HISTORY_CALLS),
            &Window::default(),
            &mut |e| {
                past.push(Evidence::from_event(e));
            },
        )?;
        History::from_events(&past)
    } else {
        History::default()
    };
    Ok(plan(alerts, &evidence, &history, filter))
}

/// The plan for `alerts` from the evidence kept as events went by
/// (automatic response: the evidence is not in the lake yet).
pub fn plan_from_recent(
    recent: &Recent,
    alerts: &[AlertToRespond],
    filter: &Filter,
) -> Vec<Action> {
    let evidence: HashMap<String, Evidence> = alerts
        .iter()
        .flat_map(|a| a.event_ids.iter())
        .filter_map(|id| recent.get(id).map(|e| (id.clone(), e.clone())))
        .collect();
    let history = if needs_history(evidence.values()) {
        History::from_events(recent.history_events())
    } else {
        History::default()
    };
    plan(alerts, &evidence, &history, filter)
}

/// Apply one planned action: read the current state, skip what is already
/// so, make the change; the outcome is written into the action. Actions
/// not `planned` (refused, no response) are left as they are.
pub async fn apply(aws: &Aws, action: &mut Action) {
    if action.status != Status::Planned {
        return;
    }
    let Some(kind) = ActionKind::parse(&action.action) else {
        return;
    };
    let outcome = match state::current(aws, action, kind).await {
        Ok(Now::Done(why)) => {
            action.status = Status::AlreadyDone;
            action.reason = format!("{}; already so: {why}", action.reason);
            return;
        }
        Ok(Now::ToDo(call)) => {
            if action.api_calls.first() != Some(&call) {
                action.reason =
                    format!("{}; narrowed to what the resource still has", action.reason);
                action.aws_cli = Some(aws_cli(&call, action.region.as_deref()));
                action.api_calls = vec![call.clone()];
            }
            state::perform(aws, action, &call).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => action.status = Status::Applied,
        Err(e) => {
            action.status = Status::Failed;
            let gone = if e.is_gone() {
                " (the resource is gone)"
            } else {
                ""
            };
            action.error = Some(format!("{e}{gone}"));
        }
    }
}

/// A fresh id for one run of respond (its rows in `responses`).
pub fn run_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// File a run's actions in the lake's `responses` table.
pub fn record(store: &Store, actions: &[Action], run_id: &str, mode: &str) -> Result<u64> {
    let run = Run {
        run_id,
        mode,
        at: chrono::Utc::now(),
    };
    Ok(append(store, actions, &run)?)
}

/// Automatic response's budget: at most `per_hour` changes in any hour.
#[derive(Debug)]
pub struct Budget {
    per_hour: u32,
    spent: VecDeque<Instant>,
}

impl Budget {
    pub fn new(per_hour: u32) -> Budget {
        Budget {
            per_hour,
            spent: VecDeque::new(),
        }
    }

    /// Take one change from the budget, if the last hour left room.
    pub fn take(&mut self, now: Instant) -> bool {
        while self
            .spent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
        {
            self.spent.pop_front();
        }
        if self.spent.len() >= self.per_hour as usize {
            return false;
        }
        self.spent.push_back(now);
        true
    }
}

/// What `serve` and `watch` respond with: the AWS client (made on first
/// use), the rules allowed to act alone and their hourly budget.
pub struct Responder {
    opts: trailwatch_lake::aws::AwsOptions,
    role_arn: Option<String>,
    aws: tokio::sync::OnceCell<Result<Aws, CallError>>,
    /// `[respond] auto`.
    pub auto: Vec<String>,
    budget: std::sync::Mutex<Budget>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("opts", &self.opts)
            .field("role_arn", &self.role_arn)
            .field("auto", &self.auto)
            .finish()
    }
}

impl Responder {
    pub fn new(
        opts: trailwatch_lake::aws::AwsOptions,
        settings: &crate::config::RespondSettings,
    ) -> Responder {
        Responder {
            opts,
            role_arn: settings.role_arn.as_ref().map(|r| r.value.clone()),
            aws: tokio::sync::OnceCell::new(),
            auto: settings.auto.value.clone(),
            budget: std::sync::Mutex::new(Budget::new(settings.max_actions_per_hour.value)),
        }
    }

    /// The AWS client, made on first use (loading the chain may call STS
    /// or instance metadata).
    pub async fn aws(&self) -> Result<&Aws, CallError> {
        self.aws
            .get_or_init(|| Aws::new(self.opts.clone(), self.role_arn.clone()))
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Apply the planned actions a person approved (`POST /api/respond`).
    pub async fn apply_all(&self, actions: &mut [Action]) {
        let aws = match self.aws().await {
            Ok(a) => a,
            Err(e) => {
                fail_all(actions, &e);
                return;
            }
        };
        for a in actions.iter_mut() {
            apply(aws, a).await;
        }
    }

    /// Apply, without a person, the planned actions of the `auto` rules,
    /// within the hourly budget; the others stay planned.
    pub async fn apply_auto(&self, actions: &mut [Action]) {
        let allowed = |a: &Action| a.status == Status::Planned && self.auto.contains(&a.rule_id);
        if !actions.iter().any(allowed) {
            return;
        }
        let aws = match self.aws().await {
            Ok(a) => a,
            Err(e) => {
                fail_all(actions, &e);
                return;
            }
        };
        for a in actions.iter_mut().filter(|a| allowed(a)) {
            let took = self
                .budget
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(Instant::now());
            if !took {
                a.status = Status::Refused;
                a.reason = format!(
                    "{}; not applied automatically: [respond] max_actions_per_hour was reached (apply it by hand)",
                    a.reason
                );
                continue;
            }
            apply(aws, a).await;
            tracing::warn!(action = %a.action, target = a.target.as_deref().unwrap_or("-"), rule = %a.rule_id, status = %a.status, "automatic response");
        }
    }
}

fn fail_all(actions: &mut [Action], e: &CallError) {
    for a in actions.iter_mut().filter(|a| a.status == Status::Planned) {
        a.status = Status::Failed;
        a.error = Some(format!("reaching AWS: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_so_many_changes_in_any_hour() {
        let mut b = Budget::new(2);
        let t0 = Instant::now();
        assert!(b.take(t0));
        assert!(b.take(t0 + Duration::from_secs(10)));
        assert!(!b.take(t0 + Duration::from_secs(20)));
        assert!(b.take(t0 + Duration::from_secs(3601)));
        assert!(!b.take(t0 + Duration::from_secs(3602)));
        assert!(!Budget::new(0).take(t0));
    }
}
