//! Correlation: detections that see attacks unfolding across events,
//! identities and time, which single-event rules cannot. Four, one file
//! each, in the built-in pack `correlation`:
//!
//! - [`impossible_travel`]: one identity in two places too far apart for
//!   the time between;
//! - [`privilege_escalation`]: a principal granting itself more power,
//!   directly or through one hop, or probing the escalation APIs;
//! - [`exfiltration`]: S3 downloads far above a principal's baseline, data
//!   copied or shared to another account, secrets read in bulk;
//! - [`persistence`]: users, keys, passwords and trusted roles created
//!   outside the normal provisioning workflow.
//!
//! Each is a [`Detector`]. Facts are taken from records as they come and
//! processed in event-time order ([`Ordered`]), so a replay (`detect`)
//! and a live watcher, which see files in the same delivery order, reach
//! the same state and raise the same alerts. State is bounded (idle
//! identities expire) and saved with the detector.

#[cfg(test)]
mod cases;
mod event_id;
pub mod exfiltration;
pub mod geo;
pub mod identity;
pub mod impossible_travel;
pub mod persistence;
pub mod policy;
pub mod privilege_escalation;
pub mod settings;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::alert::{Severity, stable_id};
use crate::detect::{Detector, Seen, StateError};
use crate::event::Record;
pub use geo::GeoIp;
pub use settings::Settings;

/// The pack's name, for `--pack`.
pub const PACK: &str = "correlation";

/// One correlation rule as `rules list` shows it.
#[derive(Debug, Clone, Copy)]
pub struct CorrelationRule {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub description: &'static str,
    /// The MITRE ATT&CK techniques it detects.
    pub techniques: &'static [&'static str],
}

pub const IMPOSSIBLE_TRAVEL: CorrelationRule = CorrelationRule {
    id: "impossible-travel",
    title: "Impossible travel",
    severity: Severity::P2,
    description: "One identity acted from two places farther apart than a plausible speed allows in the time between: stolen credentials or a session used from elsewhere.",
    techniques: &["T1078.004"],
};
pub const PRIVILEGE_ESCALATION: CorrelationRule = CorrelationRule {
    id: "privilege-escalation",
    title: "Privilege escalation",
    severity: Severity::P1,
    description: "A principal granted itself more power, directly or through one hop (an admin policy on itself, its group or a role it assumes; a new default policy version; a password or key for a more privileged user; a trust policy opened and the role assumed), or probed the known escalation APIs.",
    techniques: &["T1098.003", "T1548"],
};
pub const S3_EXFILTRATION: CorrelationRule = CorrelationRule {
    id: "s3-exfiltration",
    title: "Data exfiltration",
    severity: Severity::P1,
    description: "S3 downloads far above the principal's learned baseline, data copied or replicated to another account, a snapshot shared outside the account, or secrets read in bulk.",
    techniques: &["T1530", "T1537"],
};
pub const IAM_PERSISTENCE: CorrelationRule = CorrelationRule {
    id: "iam-persistence",
    title: "IAM persistence outside the normal workflow",
    severity: Severity::P2,
    description: "A user, access key or console password was created, or a role made to trust another account, by a principal outside the provisioning allow-list, outside business hours, or with no IAM writes in its recent history.",
    techniques: &["T1136.003", "T1098.001"],
};

/// Every correlation rule, in pack order.
pub const RULES: [CorrelationRule; 4] = [
    IMPOSSIBLE_TRAVEL,
    PRIVILEGE_ESCALATION,
    S3_EXFILTRATION,
    IAM_PERSISTENCE,
];

/// The correlation rules a `--pack` value selects (`all`, or a list
/// naming `correlation`).
pub fn selected(packs: &str) -> Vec<CorrelationRule> {
    let wanted = packs
        .split(',')
        .map(str::trim)
        .any(|p| p == "all" || p == PACK);
    if wanted { RULES.to_vec() } else { Vec::new() }
}

/// The detectors for `rules`. Impossible travel needs a GeoIP database:
/// without one it is left out, and the caller says so (see
/// [`disabled_reason`]).
pub fn detectors(
    rules: &[CorrelationRule],
    settings: &Settings,
    geo: Option<Arc<GeoIp>>,
) -> Vec<Box<dyn Detector>> {
    let mut out: Vec<Box<dyn Detector>> = Vec::new();
    for r in rules {
        match r.id {
            "impossible-travel" => {
                if let Some(g) = &geo {
                    out.push(Box::new(Ordered::new(impossible_travel::Travel::new(
                        settings,
                        g.clone(),
                    ))));
                }
            }
            "privilege-escalation" => out.push(Box::new(Ordered::new(
                privilege_escalation::Escalation::new(settings),
            ))),
            "s3-exfiltration" => out.push(Box::new(Ordered::new(exfiltration::Exfiltration::new(
                settings,
            )))),
            "iam-persistence" => out.push(Box::new(Ordered::new(persistence::Persistence::new(
                settings,
            )))),
            _ => {}
        }
    }
    out
}

/// Why a selected rule does not run, if it does not.
pub fn disabled_reason(rule: &CorrelationRule, geo: Option<&GeoIp>) -> Option<&'static str> {
    (rule.id == IMPOSSIBLE_TRAVEL.id && geo.is_none()).then_some(
        "disabled: no GeoIP database (give --geoip FILE, or geoip in [correlate]; see README, Correlation)",
    )
}

/// One detection's logic, driven by [`Ordered`] in event-time order.
pub trait Detection: Send + std::fmt::Debug {
    /// What the detection keeps of a record.
    type Fact: Serialize + DeserializeOwned + Send + std::fmt::Debug;
    /// What it learns, saved and restored with the detector.
    type State: Serialize + DeserializeOwned + Default;

    /// The detector's name (its rule id, for the built-in detections).
    fn name(&self) -> &str;

    /// The fact a record gives, if any (cheap: most records give none).
    fn fact(&mut self, r: &Record<'_>) -> Option<Self::Fact>;

    /// Take one fact at `at_ms`, in event-time order.
    fn process(&mut self, at_ms: i64, fact: Self::Fact, out: &mut Vec<crate::alert::Alert>);

    /// Event time has reached `now_ms`: forget what has gone idle, and
    /// judge what waited for that time to pass.
    fn expire(&mut self, now_ms: i64, out: &mut Vec<crate::alert::Alert>);

    fn state(&self) -> &Self::State;
    fn state_mut(&mut self) -> &mut Self::State;
}

/// How far behind the newest record a fact may arrive and still be taken
/// in order, when nothing else advances event time (a replay). Files come
/// in delivery order, minutes after their events; the lake is read a day
/// at a time, one account and region after another, so a fact can be up
/// to a day behind the newest. A fact later than this is taken at once,
/// out of order. (A watcher advances event time by its watermark, which
/// releases facts long before this.)
const REORDER_MS: i64 = 26 * 3_600_000;

/// A [`Detection`] as a [`Detector`]: facts wait in event-time order
/// until event time (the pipeline's watermark, or the newest record seen
/// minus [`REORDER_MS`], or the end of the data) passes them.
#[derive(Debug)]
pub struct Ordered<D: Detection> {
    detection: D,
    /// Boxed: facts are a few hundred bytes, and a B-tree filled in time
    /// order keeps its nodes about half full, so inline facts would cost
    /// twice their size (the buffer holds the lateness's worth of facts:
    /// tens of thousands on a busy trail).
    pending: BTreeMap<(i64, u64), Box<D::Fact>>,
    seq: u64,
    /// The newest believable event time seen (ms).
    newest: i64,
    /// Facts before this time have been processed (ms).
    done_to: i64,
    /// The whole hour of event time idle state was last forgotten at (ms;
    /// not saved: a restart forgets at its first release, at the same hour).
    expired_to: i64,
}

/// How often, in event time, idle state is looked for (at whole
/// multiples of it).
const EXPIRE_EVERY_MS: i64 = 3_600_000;

#[derive(Serialize, Deserialize)]
struct Saved<F, S> {
    pending: Vec<(i64, u64, F)>,
    seq: u64,
    newest: i64,
    done_to: i64,
    state: S,
}

impl<D: Detection> Ordered<D> {
    pub fn new(detection: D) -> Self {
        Ordered {
            detection,
            pending: BTreeMap::new(),
            seq: 0,
            newest: i64::MIN,
            done_to: i64::MIN,
            expired_to: i64::MIN,
        }
    }

    /// A record at `at_ms` has been seen, giving `fact` (or none): the
    /// fact waits its turn, and event time moves on.
    pub fn offer(
        &mut self,
        at: i64,
        fact: Option<D::Fact>,
        seen: &Seen,
        out: &mut Vec<crate::alert::Alert>,
    ) {
        if let Some(fact) = fact {
            if at < self.done_to {
                // Later than the reorder window: taken now, out of order.
                self.detection.process(at, fact, out);
            } else {
                self.seq += 1;
                self.pending.insert((at, self.seq), Box::new(fact));
            }
        }
        if seen.in_time && at > self.newest {
            self.newest = at;
            self.release(at.saturating_sub(REORDER_MS), out);
        }
    }

    /// The detection, for callers that build its facts themselves.
    pub fn detection(&self) -> &D {
        &self.detection
    }

    fn release(&mut self, upto: i64, out: &mut Vec<crate::alert::Alert>) {
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 >= upto {
                break;
            }
            let ((at, _), fact) = entry.remove_entry();
            self.expire_to_the_hour(at, out);
            self.detection.process(at, *fact, out);
        }
        if upto > self.done_to {
            self.done_to = upto;
        }
        if upto == i64::MAX {
            self.detection.expire(upto, out);
        } else {
            self.expire_to_the_hour(upto, out);
        }
    }

    /// Forget idle state as of the last whole hour of event time up to
    /// `t`, unless already done: state is forgotten at fixed hours, before
    /// the first fact after each, so what a fact sees does not depend on
    /// the steps event time moved on in (a watcher's polls, a replay's
    /// files or days).
    fn expire_to_the_hour(&mut self, t: i64, out: &mut Vec<crate::alert::Alert>) {
        let hour = t.div_euclid(EXPIRE_EVERY_MS) * EXPIRE_EVERY_MS;
        if hour > self.expired_to {
            self.expired_to = hour;
            self.detection.expire(hour, out);
        }
    }
}

impl<D: Detection> Detector for Ordered<D> {
    fn name(&self) -> &str {
        self.detection.name()
    }

    fn observe(&mut self, r: &Record<'_>, seen: &Seen, out: &mut Vec<crate::alert::Alert>) {
        let fact = self.detection.fact(r);
        self.offer(r.time.timestamp_millis(), fact, seen, out);
    }

    fn advance(&mut self, minute: i64, out: &mut Vec<crate::alert::Alert>) {
        self.release(minute.saturating_mul(60_000), out);
    }

    fn finish(&mut self, out: &mut Vec<crate::alert::Alert>) {
        self.release(i64::MAX, out);
    }

    fn save(&self) -> Result<Vec<u8>, StateError> {
        let saved = Saved {
            pending: self
                .pending
                .iter()
                .map(|((t, s), f)| (*t, *s, f.as_ref()))
                .collect(),
            seq: self.seq,
            newest: self.newest,
            done_to: self.done_to,
            state: self.detection.state(),
        };
        serde_json::to_vec(&saved).map_err(|e| StateError::Encode {
            detector: self.name().to_string(),
            message: e.to_string(),
        })
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), StateError> {
        let saved: Saved<D::Fact, D::State> =
            serde_json::from_slice(state).map_err(|e| StateError::Corrupt {
                detector: self.name().to_string(),
                message: e.to_string(),
            })?;
        self.pending = saved
            .pending
            .into_iter()
            .map(|(t, s, f)| ((t, s), Box::new(f)))
            .collect();
        self.seq = saved.seq;
        self.newest = saved.newest;
        self.done_to = saved.done_to;
        *self.detection.state_mut() = saved.state;
        Ok(())
    }
}

/// A string as an SQL literal (quotes doubled): alert queries name values
/// taken from records, which are hostile.
pub fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An alert id for a correlation alert: the rule and what identifies it.
pub fn correlation_id(rule: &CorrelationRule, parts: &[&str]) -> String {
    let mut all = vec![rule.id];
    all.extend_from_slice(parts);
    stable_id(&all)
}

/// RFC 3339 text of an epoch-millisecond time.
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::detect::feed;

    const OPEN: &str = r#"{"eventVersion":"1.08","eventTime":"2024-05-01T11:00:00Z","eventID":"e1","eventType":"AwsApiCall","awsRegion":"us-east-1","eventSource":"iam.amazonaws.com","eventName":"UpdateAssumeRolePolicy","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/trent","userName":"trent"},"requestParameters":{"roleName":"ops","policyDocument":"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"111122223333\"},\"Action\":\"sts:AssumeRole\"}]}"}}"#;
    const ASSUME: &str = r#"{"eventVersion":"1.08","eventTime":"2024-05-01T11:05:00Z","eventID":"e2","eventType":"AwsApiCall","awsRegion":"us-east-1","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/trent","userName":"trent"},"requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/ops"},"responseElements":{"credentials":{"accessKeyId":"ASIA1"}}}"#;

    fn escalation() -> Ordered<privilege_escalation::Escalation> {
        Ordered::new(privilege_escalation::Escalation::new(&Settings::default()))
    }

    /// A chain that spans a restart: the first half's state is saved and
    /// restored into a new detector, which completes the chain as one
    /// detector that never stopped does.
    #[test]
    fn state_saved_mid_chain_is_restored_and_the_chain_completes() {
        let mut whole = escalation();
        feed(&mut whole, &format!("{OPEN}\n{ASSUME}\n"));
        let mut expected = Vec::new();
        whole.finish(&mut expected);
        assert_eq!(expected.len(), 1, "{expected:#?}");

        let mut first = escalation();
        assert!(feed(&mut first, &format!("{OPEN}\n")).is_empty());
        // Event time moves past the first event (a watcher's watermark).
        let minute = chrono::DateTime::parse_from_rfc3339("2024-05-01T11:01:00Z")
            .expect("time")
            .timestamp()
            / 60;
        first.advance(minute, &mut Vec::new());
        let saved = first.save().expect("saves");
        let mut second = escalation();
        second.restore(&saved).expect("restores");
        let mut got = feed(&mut second, &format!("{ASSUME}\n"));
        second.finish(&mut got);
        assert_eq!(got, expected);
        // A detector restored from garbage says which one it is.
        let err = escalation().restore(b"{").unwrap_err().to_string();
        assert!(err.contains("privilege-escalation"), "{err}");
    }

    /// Facts are taken in event time order whatever order they arrive in
    /// (within the reorder window).
    #[test]
    fn facts_arriving_out_of_order_are_taken_in_event_time_order() {
        let mut d = escalation();
        let mut out = feed(&mut d, &format!("{ASSUME}\n{OPEN}\n"));
        d.finish(&mut out);
        // The assume came first in event time after all: no chain.
        let mut reversed = escalation();
        let mut rev = feed(
            &mut reversed,
            &format!(
                "{}\n{OPEN}\n",
                ASSUME.replace("2024-05-01T11:05:00Z", "2024-05-01T10:55:00Z")
            ),
        );
        reversed.finish(&mut rev);
        assert_eq!(out.len(), 1);
        assert!(rev.is_empty(), "{rev:#?}");
    }
}
