//! The evidence automatic response needs, kept as events go by: `watch`
//! and `serve` detect before they ingest, so when an alert is raised its
//! evidence is not in the lake yet. [`EvidenceTap`] is a detector that
//! raises nothing and keeps the recent events of the calls respond can
//! reverse (and of those its history reads), bounded, in [`Recent`],
//! which the automatic response reads. Its state is saved with the
//! checkpoint, so a restart keeps it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::evidence::Evidence;
use super::history::HISTORY_CALLS;
use super::reversal::REVERSIBLE_CALLS;
use crate::alert::Alert;
use crate::detect::{Detector, Seen, StateError};
use crate::event::Record;

/// How many events are kept (the oldest go first): an alert is answered
/// as it is raised, so the recent ones are what is asked for.
pub const KEPT: usize = 20_000;

/// Recent evidence by event id, oldest first.
#[derive(Debug, Default)]
pub struct Recent {
    order: VecDeque<String>,
    by_id: HashMap<String, Evidence>,
}

impl Recent {
    fn keep(&mut self, ev: Evidence) {
        if self.by_id.contains_key(&ev.event_id) {
            return;
        }
        if self.order.len() >= KEPT
            && let Some(old) = self.order.pop_front()
        {
            self.by_id.remove(&old);
        }
        self.order.push_back(ev.event_id.clone());
        self.by_id.insert(ev.event_id.clone(), ev);
    }

    /// The evidence by id.
    pub fn get(&self, id: &str) -> Option<&Evidence> {
        self.by_id.get(id)
    }

    /// The kept events of the calls respond's history reads.
    pub fn history_events(&self) -> Vec<&Evidence> {
        self.by_id
            .values()
            .filter(|e| HISTORY_CALLS.contains(&e.event_name.as_str()))
            .collect()
    }
}

/// The detector that fills a shared [`Recent`].
#[derive(Debug, Clone, Default)]
pub struct EvidenceTap {
    pub recent: Arc<Mutex<Recent>>,
}

impl EvidenceTap {
    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Detector for EvidenceTap {
    fn name(&self) -> &str {
        "respond-evidence"
    }

    fn observe(&mut self, r: &Record<'_>, _seen: &Seen, _out: &mut Vec<Alert>) {
        let Some(name) = r.event.event_name.as_deref() else {
            return;
        };
        if REVERSIBLE_CALLS.contains(&name) || HISTORY_CALLS.contains(&name) {
            self.recent().keep(Evidence::from_event(&r.event));
        }
    }

    fn advance(&mut self, _minute: i64, _out: &mut Vec<Alert>) {}

    fn finish(&mut self, _out: &mut Vec<Alert>) {}

    fn save(&self) -> Result<Vec<u8>, StateError> {
        let recent = self.recent();
        let list: Vec<&Evidence> = recent
            .order
            .iter()
            .filter_map(|id| recent.by_id.get(id))
            .collect();
        serde_json::to_vec(&list).map_err(|e| StateError::Encode {
            detector: self.name().into(),
            message: e.to_string(),
        })
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), StateError> {
        let list: Vec<Evidence> =
            serde_json::from_slice(state).map_err(|e| StateError::Corrupt {
                detector: self.name().into(),
                message: e.to_string(),
            })?;
        let mut recent = self.recent();
        for ev in list {
            recent.keep(ev);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{"Records":[
        {"eventVersion":"1.08","eventTime":"2026-04-04T02:00:00Z","eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","awsRegion":"us-east-1","eventID":"e1","eventType":"AwsApiCall","requestParameters":{"name":"t"}},
        {"eventVersion":"1.08","eventTime":"2026-04-04T02:00:01Z","eventName":"GetObject","eventSource":"s3.amazonaws.com","awsRegion":"us-east-1","eventID":"e2","eventType":"AwsApiCall"},
        {"eventVersion":"1.08","eventTime":"2026-04-04T02:00:02Z","eventName":"CreatePolicy","eventSource":"iam.amazonaws.com","awsRegion":"us-east-1","eventID":"e3","eventType":"AwsApiCall"}
    ]}"#;

    #[test]
    fn the_tap_keeps_reversible_and_history_calls_and_survives_a_restart() {
        let mut tap = EvidenceTap::default();
        assert!(
            crate::detect::feed(&mut tap, TEXT).is_empty(),
            "it raises nothing"
        );
        {
            let recent = tap.recent();
            assert!(recent.get("e1").is_some());
            assert!(recent.get("e2").is_none(), "reads are not kept");
            assert_eq!(recent.history_events().len(), 1);
        }
        let saved = tap.save().expect("save");
        let mut again = EvidenceTap::default();
        again.restore(&saved).expect("restore");
        assert_eq!(again.recent().get("e1"), tap.recent().get("e1"));
    }

    #[test]
    fn only_so_many_events_are_kept_oldest_first_out() {
        let mut recent = Recent::default();
        let base = Evidence {
            event_id: String::new(),
            event_time: String::new(),
            event_source: String::new(),
            event_name: "StopLogging".into(),
            region: String::new(),
            account: None,
            caller_user: None,
            caller_type: None,
            error_code: None,
            request: serde_json::Value::Null,
            response: serde_json::Value::Null,
        };
        for i in 0..=KEPT {
            recent.keep(Evidence {
                event_id: format!("e{i}"),
                ..base.clone()
            });
        }
        assert!(recent.get("e0").is_none());
        assert!(recent.get(&format!("e{KEPT}")).is_some());
        assert_eq!(recent.order.len(), KEPT);
    }
}
