//! Event-time progress per trail prefix (account and region): alarms are
//! evaluated up to the slowest prefix still delivering, so one region
//! running behind another, or a backlog copied account by account, is not
//! late. A prefix silent for the idle time stops holding the others back.

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
    /// The newest believable event time seen (epoch ms).
    newest: i64,
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
            newest: ms,
            heard: now,
        });
        p.newest = p.newest.max(ms);
        p.heard = now;
    }

    /// The newest event time of each prefix (`account/region` → epoch ms),
    /// to save.
    pub fn save(&self) -> BTreeMap<String, i64> {
        self.prefixes
            .iter()
            .map(|((a, r), p)| (format!("{a}/{r}"), p.newest))
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
    /// from lately, or the newest of all when every prefix is idle.
    pub fn watermark(&self) -> Option<i64> {
        let active = self
            .prefixes
            .values()
            .filter(|p| p.heard.elapsed() < self.idle)
            .map(|p| p.newest)
            .min();
        active.or_else(|| self.prefixes.values().map(|p| p.newest).max())
    }
}
