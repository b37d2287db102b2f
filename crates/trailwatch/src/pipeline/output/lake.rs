//! Alerts into the lake's `alerts` table (idempotent by alert id).

use anyhow::{Context, Result};
use trailwatch_core::alert::Alert;
use trailwatch_lake::alerts::AlertTable;

use super::AlertOutput;

#[derive(Debug)]
pub struct LakeAlerts<'s>(pub AlertTable<'s>);

impl AlertOutput for LakeAlerts<'_> {
    fn name(&self) -> &str {
        "lake alerts"
    }

    fn emit(&mut self, alerts: &[Alert]) -> Result<()> {
        if !alerts.is_empty() {
            self.0.append(alerts).context("saving alerts to the lake")?;
        }
        Ok(())
    }
}
