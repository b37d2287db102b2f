//! `[respond]`: who `respond` acts as in each account, and which rules may
//! act without a person (`auto`), within how many changes an hour.
//!
//! ```toml
//! [respond]
//! role_arn = "arn:aws:iam::{account}:role/trailwatch-responder"
//! auto = ["cloudtrail-stopped", "security-group-open-to-world"]
//! max_actions_per_hour = 10
//! ```

use anyhow::{Result, bail};
use serde::Deserialize;
use toml::Spanned;
use trailwatch_core::respond::{RESPONDING_RULES, rule_responds};

use super::{Config, Row, Setting, Source};

/// Automatic changes per hour unless the file says otherwise: enough for
/// an incident's few reversals, too few for a runaway rule to do much.
pub const DEFAULT_MAX_ACTIONS_PER_HOUR: u32 = 10;

/// `[respond]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RespondSection {
    /// The role to assume in the account of each action; `{account}` is
    /// replaced by the account id. Without it, the credential chain's own
    /// identity acts.
    role_arn: Option<Spanned<String>>,
    /// The rules whose alerts `watch` and `serve` answer without a person.
    auto: Option<Spanned<Vec<String>>>,
    max_actions_per_hour: Option<Spanned<u32>>,
}

/// What the command line says.
#[derive(Debug, Clone, Default)]
pub struct RespondFlags {
    pub role_arn: Option<String>,
}

/// `[respond]` in force.
#[derive(Debug, Clone)]
pub struct RespondSettings {
    pub role_arn: Option<Setting<String>>,
    pub auto: Setting<Vec<String>>,
    pub max_actions_per_hour: Setting<u32>,
}

impl RespondSettings {
    pub fn resolve(flags: &RespondFlags, cfg: &Config) -> Result<RespondSettings> {
        let s = &cfg.raw.respond;
        let auto = cfg.pick(None, &s.auto, Vec::new());
        for rule in &auto.value {
            if !rule_responds(rule) {
                bail!(
                    "respond.auto (from {}) names rule {rule:?}, which has no automatic response: use some of {}",
                    auto.from,
                    RESPONDING_RULES.join(", ")
                );
            }
        }
        let role_arn = cfg.pick_opt(flags.role_arn.clone(), &s.role_arn);
        if let Some(r) = &role_arn
            && !r.value.starts_with("arn:")
        {
            bail!(
                "respond.role_arn (from {}) is not an ARN: {}",
                r.from,
                r.value
            );
        }
        Ok(RespondSettings {
            role_arn,
            auto,
            max_actions_per_hour: cfg.pick_in(
                "respond.max_actions_per_hour",
                None,
                &s.max_actions_per_hour,
                DEFAULT_MAX_ACTIONS_PER_HOUR,
                0..=10_000,
            )?,
        })
    }

    pub fn rows(&self) -> Vec<Row> {
        vec![
            match &self.role_arn {
                Some(r) => Row::new("respond.role_arn", r.value.clone(), r.from.clone()),
                None => Row::new(
                    "respond.role_arn",
                    "- (the credential chain's identity)",
                    Source::Default,
                ),
            },
            Row::new(
                "respond.auto",
                if self.auto.value.is_empty() {
                    "- (off: every response waits for a person)".to_string()
                } else {
                    self.auto.value.join(", ")
                },
                self.auto.from.clone(),
            ),
            Row::new(
                "respond.max_actions_per_hour",
                self.max_actions_per_hour.value.to_string(),
                self.max_actions_per_hour.from.clone(),
            ),
        ]
    }
}
