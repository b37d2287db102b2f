//! Respond: from an alert to the narrowest reversal of what its evidence
//! shows, as a plan of AWS API calls a person can read, approve and run
//! (`trailwatch respond`, `POST /api/respond`, automatic response in
//! `watch` and `serve`).
//!
//! Pure logic, no I/O: [`plan`] turns alerts and their evidence events into
//! [`Action`]s (`reversal.rs` says what reverses each call, `history.rs`
//! finds the state before it in the trail, `aws_cli.rs` writes the command
//! a person could run instead). Reading the current state and calling AWS
//! belong to the binary.

mod aws_cli;
mod evidence;
mod history;
mod plan;
mod recent;
mod reversal;

use serde::{Deserialize, Serialize};

pub use aws_cli::aws_cli;
pub use evidence::Evidence;
pub use history::{HISTORY_CALLS, History};
pub use plan::{AlertToRespond, Filter, RESPONDING_RULES, needs_history, plan, rule_responds};
pub use recent::{EvidenceTap, Recent};
pub use reversal::{ActionKind, REVERSIBLE_CALLS, reversal};

/// One AWS API call of an action, in the API's own names (the operation
/// and parameter names of the AWS API reference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiCall {
    /// The service's endpoint prefix: `s3`, `ec2`, `iam`, `cloudtrail`,
    /// `guardduty`.
    pub service: String,
    pub operation: String,
    pub parameters: serde_json::Value,
}

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Planned, nothing changed (a dry run, or not applied yet).
    Planned,
    /// Applied now.
    Applied,
    /// The current state already is what the action would make it.
    AlreadyDone,
    /// The call failed (denied, throttled past retries, resource gone).
    Failed,
    /// A person said no at the confirmation.
    Declined,
    /// Not run: the evidence does not name the resource, or a limit
    /// (auto-response's hourly budget) was reached.
    Refused,
    /// The alert's rule has no automatic response, or its evidence shows
    /// nothing to reverse.
    NoResponse,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Applied => "applied",
            Status::AlreadyDone => "already-done",
            Status::Failed => "failed",
            Status::Declined => "declined",
            Status::Refused => "refused",
            Status::NoResponse => "no-response",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One response to one alert: what to change, where, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub alert_id: String,
    /// Other alerts whose evidence calls for the same action (it is
    /// planned and applied once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_alerts: Vec<String>,
    pub rule_id: String,
    /// What is done (`block-public-access`, `revoke-ingress`, …), `none`
    /// for an alert without a response.
    pub action: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// The resource changed: an ARN, or the id AWS uses for it.
    pub target: Option<String>,
    /// The evidence event the action reverses.
    pub event_id: Option<String>,
    pub api_calls: Vec<ApiCall>,
    /// The same change as an `aws` CLI command a person could run.
    pub aws_cli: Option<String>,
    pub status: Status,
    /// Why this action (or none), and what is kept for review.
    pub reason: String,
    /// What went wrong, for `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Action {
    /// The alert ids this action answers.
    pub fn alert_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.alert_id.as_str()).chain(self.also_alerts.iter().map(String::as_str))
    }
}
