//! Delivery from the outbox: one task per sink, so a slow or broken
//! receiver never holds up the others.
//!
//! - **Order and acknowledgement.** Entries go out oldest first; an entry
//!   leaves the outbox only after the sink acknowledged it.
//! - **Retries.** A failure pauses the sink with exponential backoff and
//!   jitter (a random delay between half and all of `retry_initial ·
//!   2^(failures-1)`, capped at `retry_max`), or for the receiver's
//!   `Retry-After`. An entry that has failed and is older than the sink's
//!   `max_age` goes to the dead letters with a warning. A permanent
//!   refusal (HTTP 4xx other than 429) dead-letters that message at once.
//! - **Rate limit.** At most `max_per_minute` messages per sink in any
//!   60 seconds. When more alerts are due than the budget left, the last
//!   message of the budget is a digest carrying all the rest: nothing is
//!   dropped, a storm just arrives grouped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::Notify;
use trailwatch_core::alert::Alert;

use super::config::{DeliveryPolicy, NotifyConfig};
use super::message::{Message, MessageKind};
use super::outbox::{Entry, Outbox};
use super::{SendError, Sink, SinkContext, build};

/// At most this many alerts in one digest; the rest wait for the next.
const MAX_DIGEST: usize = 500;
/// The longest an idle sink task sleeps before looking again.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// A safety net over each sink's own timeouts: a send that has not
/// finished by then counts as failed (and is retried).
const SEND_LIMIT: Duration = Duration::from_secs(120);

struct SinkEntry {
    sink: Arc<dyn Sink>,
    policy: DeliveryPolicy,
}

struct Shared {
    outbox: Mutex<Outbox>,
    config: NotifyConfig,
    sinks: BTreeMap<String, SinkEntry>,
    wake: Notify,
}

/// The outbox and the sinks of one config.
#[derive(Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("sinks", &self.shared.sinks.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The delay before retry number `failures` (1-based).
pub fn backoff(failures: u32, policy: &DeliveryPolicy) -> Duration {
    let exp = policy
        .retry_initial
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let full = exp.min(policy.retry_max);
    // Full jitter over the upper half: spreads retries of many senders
    // while keeping the growth.
    full.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}

/// Now plus `d`, or as far as the clock reaches.
fn later(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + super::config::MAX_DURATION)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Notifier {
    /// The config's notifier, or None when it configures no sink.
    pub fn for_config(config: NotifyConfig, ctx: &SinkContext) -> Result<Option<Notifier>> {
        if config.sinks.is_empty() {
            return Ok(None);
        }
        Notifier::open(config, ctx).map(Some)
    }

    /// Open the config's outbox and build its sinks.
    pub fn open(config: NotifyConfig, ctx: &SinkContext) -> Result<Notifier> {
        let dir = config.outbox_dir()?;
        let outbox = Outbox::open(&dir)?;
        let mut sinks = BTreeMap::new();
        for (name, sc) in &config.sinks {
            let state = dir.join(name);
            crate::private::create_dir_all(&state)
                .with_context(|| format!("creating {}", state.display()))?;
            let sink = build(name, sc, &state, ctx).with_context(|| format!("sink {name}"))?;
            let policy = sc.delivery.resolve(&config.defaults)?;
            sinks.insert(name.clone(), SinkEntry { sink, policy });
        }
        Ok(Notifier {
            shared: Arc::new(Shared {
                outbox: Mutex::new(outbox),
                config,
                sinks,
                wake: Notify::new(),
            }),
        })
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // A panic while holding the lock leaves the journal consistent
        // (each change is one append), so the data is still good.
        self.shared.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Route alerts to their sinks and put them in the outbox, durably,
    /// before returning. Returns how many (sink, alert) entries are new.
    pub fn enqueue(&self, alerts: &[Alert]) -> Result<usize> {
        let mut items = Vec::new();
        for a in alerts {
            for sink in self.shared.config.sinks_for(a) {
                items.push((sink, a.clone()));
            }
        }
        if items.is_empty() {
            return Ok(0);
        }
        let added = self.outbox().enqueue(&items)?;
        if added > 0 {
            self.shared.wake.notify_waiters();
        }
        Ok(added)
    }

    pub fn pending(&self) -> usize {
        self.outbox().total_pending()
    }

    /// Each sink's pending notifications.
    pub fn pending_per_sink(&self) -> Vec<(String, usize)> {
        let outbox = self.outbox();
        self.shared
            .sinks
            .keys()
            .map(|s| (s.clone(), outbox.pending_count(s)))
            .collect()
    }

    /// Deliver until every sink's queue is empty (`deadline` reached:
    /// returns false), or forever when `until_empty` is false.
    pub async fn deliver(&self, until_empty: bool, deadline: Option<Instant>) -> bool {
        let tasks: Vec<_> = self
            .shared
            .sinks
            .keys()
            .map(|name| {
                let me = self.clone();
                let name = name.clone();
                tokio::spawn(async move { me.supervise(&name, until_empty, deadline).await })
            })
            .collect();
        let mut all = true;
        for t in tasks {
            all &= t.await.unwrap_or(false);
        }
        all
    }

    /// Run a sink's delivery loop, starting it again if it fails (a bug
    /// must not silently stop one sink's deliveries while the others go
    /// on); each failure shows in `notify status`.
    async fn supervise(&self, name: &str, until_empty: bool, deadline: Option<Instant>) -> bool {
        let mut restarts: u32 = 0;
        loop {
            let me = self.clone();
            let owned = name.to_string();
            let task =
                tokio::spawn(async move { me.run_sink(&owned, until_empty, deadline).await });
            match task.await {
                Ok(done) => return done,
                Err(e) => {
                    restarts += 1;
                    let why = panic_text(e);
                    tracing::error!(
                        sink = name,
                        "the delivery task failed and is restarted: {why}"
                    );
                    self.outbox()
                        .note_error(name, &format!("delivery task failed: {why}"));
                    let policy = self.shared.sinks.get(name).map(|s| s.policy);
                    if let Some(p) = policy {
                        tokio::time::sleep(backoff(restarts, &p)).await;
                    }
                }
            }
        }
    }

    async fn sleep_or_wake(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.shared.wake.notified() => {}
        }
    }

    /// One sink's delivery loop; true when it ended with nothing pending.
    async fn run_sink(&self, name: &str, until_empty: bool, deadline: Option<Instant>) -> bool {
        let Some(entry) = self.shared.sinks.get(name) else {
            return true;
        };
        let policy = entry.policy;
        let mut sent: VecDeque<Instant> = VecDeque::new();
        let mut failures: u32 = 0;
        let mut paused_until: Option<Instant> = None;
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return self.outbox().pending_count(name) == 0;
            }
            if let Err(e) = self.expire(name, &policy, failures > 0) {
                tracing::error!(sink = name, "outbox: {e:#}");
            }
            if let Some(until) = paused_until {
                let now = Instant::now();
                if now < until {
                    self.sleep_or_wake_until(until, deadline).await;
                    continue;
                }
                paused_until = None;
            }
            if until_empty && self.outbox().pending_count(name) == 0 {
                return true;
            }
            while sent
                .front()
                .is_some_and(|t| t.elapsed() >= Duration::from_secs(60))
            {
                sent.pop_front();
            }
            let budget = (policy.max_per_minute as usize).saturating_sub(sent.len());
            if budget == 0 {
                let free_at = sent
                    .front()
                    .map_or(Instant::now(), |t| *t + Duration::from_secs(60));
                self.sleep_or_wake_until(free_at, deadline).await;
                continue;
            }
            // At most what this minute's budget can carry: budget - 1
            // single alerts and a digest.
            let due = self.outbox().due(name, now_ms(), budget - 1 + MAX_DIGEST);
            if due.is_empty() {
                self.sleep_or_wake(IDLE_POLL).await;
                continue;
            }
            for message in plan(due, budget) {
                paused_until = self.send_one(name, entry, &message, &mut failures).await;
                sent.push_back(Instant::now());
                if paused_until.is_some() {
                    break;
                }
            }
        }
    }

    /// Send one message and record the outcome in the outbox: delivered,
    /// refused for good (dead letters) or to retry. When the sink must
    /// pause (a failure, or an outcome the outbox could not record), until
    /// when.
    async fn send_one(
        &self,
        name: &str,
        entry: &SinkEntry,
        message: &Message,
        failures: &mut u32,
    ) -> Option<Instant> {
        let policy = entry.policy;
        let ids: Vec<String> = message.alerts.iter().map(|a| a.alert_id.clone()).collect();
        let result = tokio::time::timeout(SEND_LIMIT, entry.sink.send(message))
            .await
            .unwrap_or_else(|_| {
                Err(SendError::transient(format!(
                    "no answer within {SEND_LIMIT:?}"
                )))
            });
        let mut paused_until = None;
        let mut outbox = self.outbox();
        let recorded = match result {
            Ok(()) => {
                *failures = 0;
                tracing::debug!(sink = name, alerts = ids.len(), "delivered");
                outbox.ack(name, &ids)
            }
            Err(e) if e.permanent => {
                tracing::warn!(
                    sink = name,
                    alerts = ids.len(),
                    "the receiver refused the message; it goes to the dead letters: {e}"
                );
                outbox.dead_letter(name, &ids, &format!("refused: {e}"))
            }
            Err(e) => {
                *failures += 1;
                // A receiver's Retry-After is honoured up to the sink's
                // retry_max, never beyond.
                let wait = e
                    .retry_after
                    .map_or_else(|| backoff(*failures, &policy), |w| w.min(policy.retry_max));
                tracing::warn!(
                    sink = name,
                    retry_in_ms = wait.as_millis() as u64,
                    "delivery failed: {e}"
                );
                paused_until = Some(later(wait));
                let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                outbox.retry(name, &ids, now_ms().saturating_add(wait_ms), &e.message)
            }
        };
        drop(outbox);
        if let Err(e) = recorded {
            // The outbox could not record the outcome: the entry stays
            // pending and is sent again (at least once).
            tracing::error!(sink = name, "outbox: {e:#}");
            paused_until = Some(later(backoff((*failures).max(1), &policy)));
        }
        paused_until
    }

    async fn sleep_or_wake_until(&self, until: Instant, deadline: Option<Instant>) {
        let until = deadline.map_or(until, |d| until.min(d));
        let d = until.saturating_duration_since(Instant::now());
        self.sleep_or_wake(d.min(IDLE_POLL)).await;
    }

    /// Dead-letter entries past the sink's maximum age that have failed
    /// (or wait behind a failing receiver).
    fn expire(&self, name: &str, policy: &DeliveryPolicy, failing: bool) -> Result<()> {
        let age_ms = i64::try_from(policy.max_age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms().saturating_sub(age_ms);
        let mut outbox = self.outbox();
        let old = outbox.expired(name, cutoff, failing);
        if old.is_empty() {
            return Ok(());
        }
        let last = old
            .iter()
            .rev()
            .find_map(|(_, e)| e.clone())
            .unwrap_or_else(|| "the receiver was failing".into());
        let ids: Vec<String> = old.into_iter().map(|(id, _)| id).collect();
        tracing::warn!(
            sink = name,
            alerts = ids.len(),
            "undelivered after {:?}; moved to the dead letters (last error: {last})",
            policy.max_age
        );
        outbox.dead_letter(name, &ids, &format!("max age reached; last error: {last}"))
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into()),
        Err(e) => e.to_string(),
    }
}

/// The messages for `due` entries within `budget` messages: one per alert,
/// or, when there are more alerts than budget, the last message a digest
/// of the rest (up to [`MAX_DIGEST`] alerts).
fn plan(due: Vec<Entry>, budget: usize) -> Vec<Message> {
    if due.len() <= budget {
        return due.into_iter().map(|e| Message::single(e.alert)).collect();
    }
    let singles = budget - 1;
    let mut alerts = due.into_iter().map(|e| e.alert);
    let mut out: Vec<Message> = alerts.by_ref().take(singles).map(Message::single).collect();
    let mut rest: Vec<Alert> = alerts.take(MAX_DIGEST).collect();
    // More due than budget, so `rest` holds at least one alert.
    out.push(if rest.len() == 1 {
        Message::single(rest.remove(0))
    } else {
        Message {
            kind: MessageKind::Digest,
            alerts: rest,
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> DeliveryPolicy {
        DeliveryPolicy {
            max_age: Duration::from_secs(60),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            max_per_minute: 5,
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let p = policy();
        for (n, full) in [(1, 1), (2, 2), (3, 4), (5, 16), (6, 30), (40, 30)] {
            let d = backoff(n, &p);
            let full = Duration::from_secs(full);
            assert!(d >= full / 2 && d <= full, "failure {n}: {d:?}");
        }
    }

    fn entries(n: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| {
                let mut alert = Message::test().alerts.remove(0);
                alert.alert_id = format!("a{i}");
                Entry {
                    seq: i as u64,
                    enqueued_ms: 0,
                    attempts: 0,
                    next_attempt_ms: 0,
                    last_error: None,
                    alert,
                }
            })
            .collect()
    }

    #[test]
    fn storms_fold_into_one_digest_within_the_budget() {
        let m = plan(entries(3), 5);
        assert_eq!(m.len(), 3);
        assert!(m.iter().all(|m| m.kind == MessageKind::Alert));
        let m = plan(entries(50), 5);
        assert_eq!(m.len(), 5);
        assert_eq!(m[4].kind, MessageKind::Digest);
        assert_eq!(m[4].alerts.len(), 46);
        let ids: Vec<&str> = m.iter().flat_map(|m| m.ids()).collect();
        assert_eq!(ids.len(), 50);
        let m = plan(entries(2), 1);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].alerts.len(), 2);
    }
}
