//! The state before a change, as the trail recorded it: a trail's event
//! selectors (from its earlier `PutEventSelectors`, or `CreateTrail`'s
//! default) and a policy's default version (from `CreatePolicy`,
//! `CreatePolicyVersion` with `setAsDefault`, `SetDefaultPolicyVersion`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::evidence::Evidence;

/// The calls whose events make the history; the binary reads them from
/// the trail when the evidence needs a state before it.
pub const HISTORY_CALLS: [&str; 5] = [
    "PutEventSelectors",
    "CreateTrail",
    "CreatePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
];

/// A trail's name from its name or ARN (`…:trail/NAME`).
pub fn trail_name(name_or_arn: &str) -> &str {
    name_or_arn
        .rsplit_once(":trail/")
        .map_or(name_or_arn, |(_, n)| n)
}

#[derive(Debug, Clone, Default)]
pub struct History {
    /// (account, trail name) → (event time, selectors as the request put them).
    selectors: BTreeMap<(String, String), Vec<(String, Value)>>,
    /// policy ARN → (event time, default version id).
    defaults: BTreeMap<String, Vec<(String, String)>>,
}

impl History {
    /// Learn from these events (any order; others are ignored).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Evidence>) -> History {
        let mut h = History::default();
        for ev in events {
            h.learn(ev);
        }
        for list in h.selectors.values_mut() {
            list.sort_by(|a, b| a.0.cmp(&b.0));
        }
        for list in h.defaults.values_mut() {
            list.sort_by(|a, b| a.0.cmp(&b.0));
        }
        h
    }

    fn learn(&mut self, ev: &Evidence) {
        if ev.error_code.is_some() {
            return;
        }
        let account = ev.account.clone().unwrap_or_default();
        let time = ev.event_time.clone();
        match ev.event_name.as_str() {
            "PutEventSelectors" => {
                let Some(trail) = ev.param("trailName") else {
                    return;
                };
                let mut kept = serde_json::Map::new();
                for k in ["eventSelectors", "advancedEventSelectors"] {
                    if let Some(v) = ev.request.get(k).filter(|v| !v.is_null()) {
                        kept.insert(k.into(), v.clone());
                    }
                }
                self.selectors
                    .entry((account, trail_name(trail).to_string()))
                    .or_default()
                    .push((time, Value::Object(kept)));
            }
            "CreateTrail" => {
                let Some(name) = ev.param("name") else { return };
                self.selectors
                    .entry((account, trail_name(name).to_string()))
                    .or_default()
                    .push((
                        time,
                        json!({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true}]}),
                    ));
            }
            "CreatePolicy" => {
                let arn = ev
                    .response_text(&["policy", "arn"])
                    .map(str::to_string)
                    .or_else(|| {
                        let name = ev.param("policyName")?;
                        let path = ev.param("path").unwrap_or("/");
                        Some(format!("arn:aws:iam::{account}:policy{path}{name}"))
                    });
                if let Some(arn) = arn {
                    self.defaults
                        .entry(arn)
                        .or_default()
                        .push((time, "v1".into()));
                }
            }
            "CreatePolicyVersion" => {
                let default = ev.request.get("setAsDefault").and_then(Value::as_bool) == Some(true);
                let version = ev.response_text(&["policyVersion", "versionId"]);
                if let (true, Some(arn), Some(v)) = (default, ev.param("policyArn"), version) {
                    self.defaults
                        .entry(arn.into())
                        .or_default()
                        .push((time, v.into()));
                }
            }
            "SetDefaultPolicyVersion" => {
                if let (Some(arn), Some(v)) = (ev.param("policyArn"), ev.param("versionId")) {
                    self.defaults
                        .entry(arn.into())
                        .or_default()
                        .push((time, v.into()));
                }
            }
            _ => {}
        }
    }

    /// The selectors trail `name` had just before `time` (and when they
    /// were put).
    pub fn selectors_before(
        &self,
        account: Option<&str>,
        name: &str,
        time: &str,
    ) -> Option<(&Value, &str)> {
        let key = (
            account.unwrap_or_default().to_string(),
            trail_name(name).to_string(),
        );
        self.selectors
            .get(&key)?
            .iter()
            .rev()
            .find(|(t, _)| t.as_str() < time)
            .map(|(t, v)| (v, t.as_str()))
    }

    /// The default version policy `arn` had just before `time`.
    pub fn default_before(&self, arn: &str, time: &str) -> Option<(&str, &str)> {
        self.defaults
            .get(arn)?
            .iter()
            .rev()
            .find(|(t, _)| t.as_str() < time)
            .map(|(t, v)| (v.as_str(), t.as_str()))
    }
}
