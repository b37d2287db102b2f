//! From alerts to actions: which rules respond, one action per evidence
//! event that calls for one (the same change asked by several alerts is
//! planned once), and a `no-response` line for every alert without one,
//! so the plan accounts for each alert it was given.

use std::collections::HashMap;

use super::aws_cli::aws_cli;
use super::evidence::Evidence;
use super::history::History;
use super::reversal::{ActionKind, Reversal, reversal};
use super::{Action, Status};

/// The rules whose alerts respond: their evidence names what was changed
/// and the change has a narrow reversal. Every other rule's alert gets
/// "no automatic response".
pub const RESPONDING_RULES: [&str; 14] = [
    "s3-bucket-policy-change",
    "cis-4.8",
    "security-group-open-to-world",
    "cis-4.10",
    "cloudtrail-stopped",
    "cloudtrail-tampering",
    "cis-4.5",
    "guardduty-disabled",
    "iam-policy-changes",
    "cis-4.4",
    "login-profile-created-for-other-user",
    "root-access-key-created",
    "iam-persistence",
    "privilege-escalation",
];

pub fn rule_responds(rule_id: &str) -> bool {
    RESPONDING_RULES.contains(&rule_id)
}

/// An alert as respond needs it: which rule, and its evidence events.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertToRespond {
    pub alert_id: String,
    pub rule_id: String,
    pub event_ids: Vec<String>,
}

/// `--only` and `--account`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub only: Vec<ActionKind>,
    pub accounts: Vec<String>,
}

impl Filter {
    fn keeps(&self, a: &Action) -> bool {
        let kind_ok = self.only.is_empty()
            || ActionKind::parse(&a.action).is_some_and(|k| self.only.contains(&k));
        let account_ok = self.accounts.is_empty()
            || a.account
                .as_ref()
                .is_some_and(|acct| self.accounts.contains(acct));
        kind_ok && account_ok
    }
}

/// Does this evidence need the trail's history (the state before it)?
pub fn needs_history<'a>(evidence: impl IntoIterator<Item = &'a Evidence>) -> bool {
    evidence.into_iter().any(|e| {
        matches!(
            e.event_name.as_str(),
            "PutEventSelectors" | "CreatePolicyVersion" | "SetDefaultPolicyVersion"
        )
    })
}

fn no_response(alert: &AlertToRespond, account: Option<String>, reason: String) -> Action {
    Action {
        alert_id: alert.alert_id.clone(),
        also_alerts: Vec::new(),
        rule_id: alert.rule_id.clone(),
        action: "none".into(),
        account,
        region: None,
        target: None,
        event_id: None,
        api_calls: Vec::new(),
        aws_cli: None,
        status: Status::NoResponse,
        reason,
        error: None,
    }
}

/// The plan for `alerts`: `evidence` holds the events found by id (an id
/// not found is said in the alert's line), `history` the state before.
pub fn plan(
    alerts: &[AlertToRespond],
    evidence: &HashMap<String, Evidence>,
    history: &History,
    filter: &Filter,
) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    // (kind, account, region, call) → index in `out`: one action per change.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for alert in alerts {
        if !rule_responds(&alert.rule_id) {
            out.push(no_response(
                alert,
                None,
                format!("no automatic response for rule {}", alert.rule_id),
            ));
            continue;
        }
        let mut acted = false;
        let mut reasons = Vec::new();
        let mut account = None;
        for id in &alert.event_ids {
            let Some(ev) = evidence.get(id) else {
                reasons.push(format!("evidence event {id} is not in the trail read"));
                continue;
            };
            account = account.or(ev.account.clone());
            let (kind, region, target, call, status, reason) = match reversal(ev, history) {
                Reversal::Nothing(why) => {
                    reasons.push(format!("{}: {why}", ev.event_name));
                    continue;
                }
                Reversal::Refuse { kind, reason } => {
                    // IAM is global: its actions have no region.
                    let region =
                        (ev.event_source != "iam.amazonaws.com").then(|| ev.region.clone());
                    (kind, region, None, None, Status::Refused, reason)
                }
                Reversal::Act {
                    kind,
                    region,
                    target,
                    call,
                    reason,
                } => (
                    kind,
                    region,
                    Some(target),
                    Some(call),
                    Status::Planned,
                    reason,
                ),
            };
            acted = true;
            let key = format!(
                "{}|{:?}|{:?}|{}",
                kind.as_str(),
                ev.account,
                region,
                call.as_ref()
                    .map(|c| c.parameters.to_string())
                    .unwrap_or_else(|| ev.event_id.clone())
            );
            if let Some(&i) = seen.get(&key) {
                let a: &mut Action = &mut out[i];
                if a.alert_id != alert.alert_id && !a.also_alerts.contains(&alert.alert_id) {
                    a.also_alerts.push(alert.alert_id.clone());
                }
                continue;
            }
            seen.insert(key, out.len());
            out.push(Action {
                alert_id: alert.alert_id.clone(),
                also_alerts: Vec::new(),
                rule_id: alert.rule_id.clone(),
                action: kind.as_str().into(),
                account: ev.account.clone(),
                aws_cli: call.as_ref().map(|c| aws_cli(c, region.as_deref())),
                region,
                target,
                event_id: Some(ev.event_id.clone()),
                api_calls: call.into_iter().collect(),
                status,
                reason,
                error: None,
            });
        }
        if !acted {
            let why = if reasons.is_empty() {
                "the alert cites no evidence events".to_string()
            } else {
                reasons.join("; ")
            };
            out.push(no_response(alert, account, why));
        }
    }
    out.retain(|a| filter.keeps(a));
    out
}

#[cfg(test)]
mod tests;
