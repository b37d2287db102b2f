//! Each event once, however it arrives. `serve --watch` hears most events
//! twice: pushed (EventBridge, Firehose) within seconds, and again minutes
//! later in the trail's log file. Detection must count the second copy as
//! nothing, or an alarm's threshold would be reached at half the events.
//!
//! The `eventID`s seen within [`EventDedup::window_ms`] of event time behind
//! the newest event are kept; older ones are dropped in amortised passes
//! (when the set has doubled since the last pass), so memory follows the
//! event rate times the window, not the history. A copy arriving later than
//! the window is taken again (its alerts still carry stable ids, so outputs
//! file them once).

use std::collections::HashMap;

use anyhow::{Context, Result};

/// The event ids seen lately, with their event times (epoch ms).
#[derive(Debug)]
pub struct EventDedup {
    /// How far behind the newest event a copy is still recognised.
    pub window_ms: i64,
    seen: HashMap<Box<str>, i64>,
    newest: i64,
    /// Prune when the set reaches this size.
    prune_at: usize,
    /// Copies skipped so far (for the server's metrics).
    pub skipped: u64,
}

/// The least the set grows to before its first pruning pass.
const MIN_PRUNE: usize = 4096;

impl EventDedup {
    pub fn new(window_ms: i64) -> EventDedup {
        EventDedup {
            window_ms,
            seen: HashMap::new(),
            newest: i64::MIN,
            prune_at: MIN_PRUNE,
            skipped: 0,
        }
    }

    /// Whether this is the first time `id` is seen (an event at `ms`);
    /// a copy is counted in [`EventDedup::skipped`].
    pub fn first(&mut self, id: &str, ms: i64) -> bool {
        if self.seen.contains_key(id) {
            self.skipped += 1;
            return false;
        }
        self.newest = self.newest.max(ms);
        self.seen.insert(id.into(), ms);
        if self.seen.len() >= self.prune_at {
            self.prune();
        }
        true
    }

    /// Drop the ids fallen out of the window; the next pass comes when the
    /// set has doubled again.
    fn prune(&mut self) {
        let oldest = self.newest.saturating_sub(self.window_ms);
        self.seen.retain(|_, ms| *ms >= oldest);
        self.prune_at = (self.seen.len() * 2).max(MIN_PRUNE);
    }

    /// The ids within the window, to save with the pipeline's state.
    pub fn save(&self) -> Result<Vec<u8>> {
        let oldest = self.newest.saturating_sub(self.window_ms);
        let kept: Vec<(&str, i64)> = self
            .seen
            .iter()
            .filter(|(_, ms)| **ms >= oldest)
            .map(|(id, ms)| (&**id, *ms))
            .collect();
        Ok(serde_json::to_vec(&kept)?)
    }

    pub fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let kept: Vec<(String, i64)> =
            serde_json::from_slice(bytes).context("the saved event ids")?;
        for (id, ms) in kept {
            self.newest = self.newest.max(ms);
            self.seen.insert(id.into_boxed_str(), ms);
        }
        self.prune_at = (self.seen.len() * 2).max(MIN_PRUNE);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_within_the_window_is_skipped_and_one_past_it_is_taken() {
        let mut d = EventDedup::new(60_000);
        assert!(d.first("a", 0));
        assert!(!d.first("a", 0));
        assert_eq!(d.skipped, 1);
        // Enough newer events to force pruning passes: "a" falls out.
        for i in 0..10_000 {
            assert!(d.first(&format!("e{i}"), 120_000 + i));
        }
        assert!(d.seen.len() < 10_001, "old ids are dropped");
        assert!(d.first("a", 0), "past the window a copy is taken again");
        // Recent ids are still known.
        assert!(!d.first("e9999", 129_999));
    }

    #[test]
    fn saved_ids_are_known_after_a_restore() {
        let mut d = EventDedup::new(60_000);
        d.first("a", 1_000);
        d.first("b", 2_000);
        let bytes = d.save().expect("saves");
        let mut back = EventDedup::new(60_000);
        back.restore(&bytes).expect("restores");
        assert!(!back.first("a", 1_000));
        assert!(!back.first("b", 2_000));
        assert!(back.first("c", 3_000));
        assert!(back.restore(b"not json").is_err());
    }
}
