//! Alerts into the durable notification outbox (which skips ids it has);
//! delivery to the sinks runs beside the pipeline.

use anyhow::{Context, Result};
use trailwatch_core::alert::Alert;

use super::AlertOutput;
use crate::notify::dispatch::Notifier;

#[derive(Debug)]
pub struct Outbox(pub Notifier);

impl AlertOutput for Outbox {
    fn name(&self) -> &str {
        "notifications"
    }

    fn emit(&mut self, alerts: &[Alert]) -> Result<()> {
        if !alerts.is_empty() {
            self.0.enqueue(alerts).context("queueing notifications")?;
        }
        Ok(())
    }
}
