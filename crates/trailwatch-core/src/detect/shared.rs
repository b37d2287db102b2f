//! State a pipeline keeps up to date for others to read, as a
//! [`Detector`]: it raises no alerts, and applies every record the pipeline
//! sees to a value shared behind a lock (the server's security state and
//! its overview's counters, which its pages read). Such state is saved
//! with the lake's snapshot by its owner, not in the pipeline's checkpoint.

use std::sync::{Arc, Mutex};

use super::{Detector, Seen, StateError};
use crate::alert::Alert;
use crate::event::Record;

/// What a [`Shared`] detector keeps up to date.
pub trait Kept: Send + std::fmt::Debug {
    /// The detector's name.
    const NAME: &'static str;

    /// Apply one record.
    fn take(&mut self, r: &Record<'_>);
}

/// A [`Kept`] value shared with its readers, as a detector.
#[derive(Debug, Default)]
pub struct Shared<T>(pub Arc<Mutex<T>>);

impl<T: Kept> Detector for Shared<T> {
    fn name(&self) -> &str {
        T::NAME
    }

    fn observe(&mut self, r: &Record<'_>, _seen: &Seen, _out: &mut Vec<Alert>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take(r);
    }

    fn advance(&mut self, _minute: i64, _out: &mut Vec<Alert>) {}

    fn finish(&mut self, _out: &mut Vec<Alert>) {}

    /// Saved by its owner with the lake's snapshot: nothing to keep here.
    fn save(&self) -> Result<Vec<u8>, StateError> {
        Ok(Vec::new())
    }

    fn restore(&mut self, _state: &[u8]) -> Result<(), StateError> {
        Ok(())
    }
}
