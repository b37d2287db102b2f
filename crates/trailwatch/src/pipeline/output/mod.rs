//! Where alerts go once detectors raised them, all behind one trait: the
//! deduplicating NDJSON file (or stdout), the lake's `alerts` table and the
//! notification outbox. An output takes alerts durably before `emit`
//! returns, because the caller moves its checkpoint on afterwards. Also
//! here: the spool that sorts a replay's alerts with bounded memory before
//! `detect` prints them ([`alert_spool`]).

pub mod alert_spool;
mod auto_respond;
mod lake;
mod ndjson;
mod outbox;

use anyhow::Result;
use trailwatch_core::alert::Alert;

pub use auto_respond::AutoRespond;
pub use lake::LakeAlerts;
pub use ndjson::Ndjson;
pub use outbox::Outbox;

/// A destination for alerts.
pub trait AlertOutput {
    /// A name for messages.
    fn name(&self) -> &str;
    /// Take these alerts, durably; an alert seen before may come again
    /// (after a restart) and must not be delivered twice.
    fn emit(&mut self, alerts: &[Alert]) -> Result<()>;
}
