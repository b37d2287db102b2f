//! Automatic response (`[respond] auto`): the alerts of the rules allowed
//! to act without a person are answered as they are raised — planned from
//! the evidence the [`EvidenceTap`] kept, applied within the hourly budget
//! — and each action is filed in the lake's `responses` table (mode
//! `auto`). Every other alert waits for a person (`respond`, the
//! dashboard's Apply). A failed response never stops the pipeline: it is
//! logged and filed as `failed`.
//!
//! [`EvidenceTap`]: trailwatch_core::respond::EvidenceTap

use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::runtime::Handle;
use trailwatch_core::alert::Alert;
use trailwatch_core::respond::{Filter, Recent};
use trailwatch_lake::store::Store;

use super::AlertOutput;
use crate::respond::{Responder, from_alerts, plan_from_recent, record, run_id};

pub struct AutoRespond {
    pub responder: Arc<Responder>,
    pub recent: Arc<Mutex<Recent>>,
    pub runtime: Handle,
    /// Where the actions are filed (none without a lake: logged only).
    pub store: Option<Store>,
}

impl std::fmt::Debug for AutoRespond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoRespond")
            .field("responder", &self.responder)
            .finish()
    }
}

impl AlertOutput for AutoRespond {
    fn name(&self) -> &str {
        "automatic response"
    }

    fn emit(&mut self, alerts: &[Alert]) -> Result<()> {
        let mine: Vec<_> = from_alerts(alerts)
            .into_iter()
            .filter(|a| self.responder.auto.contains(&a.rule_id))
            .collect();
        if mine.is_empty() {
            return Ok(());
        }
        let mut actions = {
            let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            plan_from_recent(&recent, &mine, &Filter::default())
        };
        self.runtime
            .block_on(self.responder.apply_auto(&mut actions));
        if let Some(store) = &self.store
            && let Err(e) = record(store, &actions, &run_id(), "auto")
        {
            tracing::error!("filing automatic responses in the lake: {e:#}");
        }
        Ok(())
    }
}

impl AutoRespond {
    /// When `[respond] auto` names rules: the evidence tap added to
    /// `detectors` and the output that answers their alerts.
    pub fn attach(
        responder: Arc<Responder>,
        detectors: &mut Vec<Box<dyn trailwatch_core::detect::Detector>>,
        runtime: Handle,
        store: Option<Store>,
    ) -> Option<AutoRespond> {
        if responder.auto.is_empty() {
            return None;
        }
        let tap = trailwatch_core::respond::EvidenceTap::default();
        let recent = tap.recent.clone();
        detectors.push(Box::new(tap));
        tracing::info!(
            rules = %responder.auto.join(","),
            "automatic response is on for these rules"
        );
        Some(AutoRespond {
            responder,
            recent,
            runtime,
            store,
        })
    }
}
