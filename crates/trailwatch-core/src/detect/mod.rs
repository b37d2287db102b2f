//! The [`Detector`] trait: what every kind of detection implements, so the
//! pipeline drives them all alike. A detector observes decoded records,
//! advances to an event-time watermark (evaluating what waits on time),
//! finishes when the data ends, and saves and restores its state as bytes
//! so a watcher resumes at its checkpoint instead of replaying history.
//!
//! The rules engine (CloudWatch patterns and alarms) is one detector;
//! correlation detections and Sigma rules are others.

pub mod clock;
pub mod shared;

use crate::alert::Alert;
use crate::event::Record;

/// What the pipeline knows about a record besides its content.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// Whether the record's time is believable for its file (see
    /// [`clock`]); a record that is not must not steer event time.
    pub in_time: bool,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen { in_time: true }
    }
}

/// Why a detector's state could not be saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("detector {detector}: state cannot be read: {message}")]
    Corrupt { detector: String, message: String },
    #[error("detector {detector}: state cannot be written: {message}")]
    Encode { detector: String, message: String },
}

/// One kind of detection.
pub trait Detector: Send + std::fmt::Debug {
    /// A short, stable name (for logs and the saved state's file name).
    fn name(&self) -> &str;

    /// Look at one decoded record; alerts it raises at once go to `out`.
    fn observe(&mut self, r: &Record<'_>, seen: &Seen, out: &mut Vec<Alert>);

    /// Event time has reached `minute` (epoch minutes, with lateness
    /// already taken off): evaluate whatever waits on time.
    fn advance(&mut self, minute: i64, out: &mut Vec<Alert>);

    /// The data has ended: evaluate everything still pending.
    fn finish(&mut self, out: &mut Vec<Alert>);

    /// The state, as bytes to keep beside a checkpoint.
    fn save(&self) -> Result<Vec<u8>, StateError>;

    /// Continue from saved state (from [`Detector::save`] of a detector
    /// with the same configuration; state of rules no longer loaded is
    /// dropped).
    fn restore(&mut self, state: &[u8]) -> Result<(), StateError>;
}

/// Every record of `text` through `d`; the alerts it raised at once. For
/// unit tests of detectors.
#[cfg(test)]
pub(crate) fn feed(d: &mut dyn Detector, text: &str) -> Vec<Alert> {
    let mut out = Vec::new();
    crate::event::each_test_record(text, |r| d.observe(r, &Seen::default(), &mut out));
    out
}
