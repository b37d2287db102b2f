//! Event-time progress per trail prefix (account and region): alarms are
//! evaluated up to the slowest prefix still delivering, so one region
//! running behind another, or a backlog copied account by account, is not
//! late. A prefix whose files are waiting to be read holds evaluation back
//! until it has been read ([`Watermarks::expect`]): without that, the first
//! files of one prefix would move event time past events that the first
//! files of another, delivered in the same batch, still hold, and an alarm
//! would be evaluated before its data was in. A prefix silent for the idle
//! time stops holding the others back.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// The newest believable event time of each prefix.
#[derive(Debug)]
pub struct Watermarks {
    prefixes: HashMap<(String, String), Progress>,
    idle: Duration,
}

#[derive(Debug)]
struct Progress {
    /// The newest believable event time seen (epoch ms); none while the
    /// prefix's files are known but not yet read.
    newest: Option<i64>,
    /// When a file of this prefix was last taken.
    heard: Instant,
}

impl Watermarks {
    pub fn new(idle: Duration) -> Watermarks {
        Watermarks {
            prefixes: HashMap::new(),
            idle,
        }
    }

    pub fn note(&mut self, prefix: (String, String), ms: i64) {
        let now = Instant::now();
        let p = self.prefixes.entry(prefix).or_insert(Progress {
            newest: Some(ms),
            heard: now,
        });
        p.newest = Some(p.newest.map_or(ms, |n| n.max(ms)));
        p.heard = now;
    }

    /// A file of `prefix` is waiting to be read: until one is, the prefix
    /// holds evaluation back (or until it has been idle that long).
    pub fn expect(&mut self, prefix: (String, String)) {
        self.prefixes.entry(prefix).or_insert(Progress {
            newest: None,
            heard: Instant::now(),
        });
    }

    /// A replay has read the last file of `prefix`: it no longer holds
    /// evaluation back (a live watcher waits for its idle time instead).
    pub fn retire(&mut self, prefix: &(String, String)) {
        self.prefixes.remove(prefix);
    }

    /// The newest event time of each prefix (`account/region` → epoch ms),
    /// to save.
    pub fn save(&self) -> BTreeMap<String, i64> {
        self.prefixes
            .iter()
            .filter_map(|((a, r), p)| Some((format!("{a}/{r}"), p.newest?)))
            .collect()
    }

    /// Take saved progress back; every prefix counts as just heard from.
    pub fn restore(&mut self, saved: &BTreeMap<String, i64>) {
        for (k, ms) in saved {
            let (a, r) = k.split_once('/').unwrap_or((k.as_str(), ""));
            self.note((a.to_string(), r.to_string()), *ms);
        }
    }

    /// The event time alarms may be evaluated to: the slowest prefix heard
    /// from lately, or the newest of all when every prefix is idle; none
    /// while an active prefix has files waiting and none read.
    pub fn watermark(&self) -> Option<i64> {
        let mut active = self
            .prefixes
            .values()
            .filter(|p| p.heard.elapsed() < self.idle)
            .peekable();
        if active.peek().is_some() {
            // `None` orders before every `Some`: one prefix not yet read
            // makes the minimum none.
            return active.map(|p| p.newest).min().flatten();
        }
        self.prefixes.values().filter_map(|p| p.newest).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(region: &str) -> (String, String) {
        ("111111111111".to_string(), region.to_string())
    }

    #[test]
    fn a_prefix_with_files_waiting_holds_evaluation_until_read() {
        let mut w = Watermarks::new(Duration::from_secs(900));
        w.note(prefix("us-east-1"), 10_000);
        assert_eq!(w.watermark(), Some(10_000));
        w.expect(prefix("eu-west-1"));
        assert_eq!(w.watermark(), None, "eu-west-1 has files not yet read");
        w.note(prefix("eu-west-1"), 4_000);
        assert_eq!(w.watermark(), Some(4_000), "the slowest prefix");
        // Expecting a prefix already read changes nothing.
        w.expect(prefix("us-east-1"));
        assert_eq!(w.watermark(), Some(4_000));
        assert_eq!(w.save().len(), 2);
    }

    #[test]
    fn a_retired_prefix_no_longer_holds_evaluation_back() {
        let mut w = Watermarks::new(Duration::MAX);
        w.note(prefix("us-east-1"), 10_000);
        w.note(prefix("eu-west-1"), 4_000);
        assert_eq!(w.watermark(), Some(4_000));
        w.retire(&prefix("eu-west-1"));
        assert_eq!(w.watermark(), Some(10_000));
        w.retire(&prefix("us-east-1"));
        assert_eq!(w.watermark(), None, "nothing left to say where time is");
    }

    #[test]
    fn an_idle_prefix_stops_holding_back_even_unread() {
        let mut w = Watermarks::new(Duration::ZERO);
        w.note(prefix("us-east-1"), 10_000);
        w.expect(prefix("eu-west-1"));
        // Every prefix idle: the newest event time of all.
        assert_eq!(w.watermark(), Some(10_000));
        assert_eq!(w.save().len(), 1, "an unread prefix has nothing to save");
    }
}
