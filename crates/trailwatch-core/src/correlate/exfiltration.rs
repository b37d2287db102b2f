//! Data exfiltration.
//!
//! - **Volume.** For each principal, and each principal and bucket, a
//!   baseline of S3 `GetObject` calls and bytes out
//!   (`additionalEventData.bytesTransferredOut`, where present) per hour:
//!   an exponentially weighted mean and variance over
//!   `exfil_baseline_hours` hourly buckets, quiet hours counting as zero.
//!   The current hour alerts when it exceeds the mean by
//!   `exfil_deviations` standard deviations and the absolute floor
//!   (`exfil_min_calls`, `exfil_min_bytes`), once per principal and hour,
//!   after `exfil_warmup_hours` of history (a replay that starts cold does
//!   not flag every busy principal in its first hours).
//! - **Copies out.** `CopyObject` into a bucket of another account,
//!   `PutBucketReplication` towards another account.
//! - **Sharing.** An EBS snapshot, RDS snapshot or AMI shared with another
//!   account or with everyone.
//! - **Secrets in bulk.** `secrets_bulk` distinct secrets read by one
//!   principal within an hour.
//!
//! "Another account" is one other than the event's own and those in
//! `trusted_accounts`. Principals idle for `idle_days` are forgotten.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::identity::{Sessions, json_str};
use super::{Detection, S3_EXFILTRATION, Settings, correlation_id, iso, sql_text};
use crate::alarm::AlarmState;
use crate::alert::{Alert, AlertKind, Severity};
use crate::event::Record;

const HOUR_MS: i64 = 3_600_000;

/// What the detection keeps of a record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Fact {
    /// A successful `GetObject`.
    Get {
        who: Who,
        bucket: String,
        bytes: u64,
    },
    /// Data copied, replicated or shared to these accounts (`all`: anyone).
    Out {
        who: Who,
        what: String,
        to: Vec<String>,
    },
    /// A secret read.
    Secret { who: Who, secrets: Vec<String> },
}

/// Who did it, and the event that says so.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Who {
    identity: String,
    principal: String,
    account: String,
    ip: String,
    event_id: String,
    event_name: String,
}

/// What a `GetObject` record's `requestParameters` says that matters here.
#[derive(Deserialize)]
struct GetParams<'a> {
    #[serde(borrow, rename = "bucketName", default)]
    bucket_name: Option<std::borrow::Cow<'a, str>>,
}

/// What its `additionalEventData` says that matters here.
#[derive(Deserialize)]
struct GetData {
    #[serde(rename = "bytesTransferredOut", default)]
    bytes_transferred_out: Option<f64>,
}

/// One hourly baseline (calls and bytes).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Baseline {
    /// The hour being counted (epoch hours).
    hour: i64,
    calls: u64,
    bytes: u64,
    mean_calls: f64,
    var_calls: f64,
    mean_bytes: f64,
    var_bytes: f64,
    /// Hours folded into the baseline so far.
    hours: u32,
    /// When the principal (or principal and bucket) was first seen, ms.
    #[serde(default)]
    first_ms: i64,
    last_ms: i64,
    /// The first events of the current hour (evidence).
    evidence: Vec<String>,
}

/// The standard deviation to compare with: the learnt one, but never less
/// than counting noise (the square root of the mean) or a tenth of the
/// mean, so a perfectly steady principal does not alert on one call more.
fn spread(mean: f64, var: f64) -> f64 {
    var.sqrt().max(mean.sqrt()).max(mean / 10.0)
}

impl Baseline {
    /// Move to `hour`, folding the finished hour and the quiet ones
    /// between into the baseline.
    fn roll(&mut self, hour: i64, alpha: f64) {
        if hour <= self.hour {
            return;
        }
        let fold = |x_c: f64, x_b: f64, b: &mut Baseline| {
            if b.hours == 0 {
                // The first hour is the first estimate of the mean.
                b.mean_calls = x_c;
                b.mean_bytes = x_b;
                b.hours = 1;
                return;
            }
            let d_c = x_c - b.mean_calls;
            b.mean_calls += alpha * d_c;
            b.var_calls = (1.0 - alpha) * (b.var_calls + alpha * d_c * d_c);
            let d_b = x_b - b.mean_bytes;
            b.mean_bytes += alpha * d_b;
            b.var_bytes = (1.0 - alpha) * (b.var_bytes + alpha * d_b * d_b);
            b.hours = b.hours.saturating_add(1);
        };
        if self.hours > 0 || self.calls > 0 {
            let (c, b) = (self.calls as f64, self.bytes as f64);
            fold(c, b, self);
            // Quiet hours count as zero; after a few thousand the baseline
            // is as good as empty anyway.
            let quiet = (hour - self.hour - 1).clamp(0, 4096);
            for _ in 0..quiet {
                fold(0.0, 0.0, self);
            }
        }
        self.hour = hour;
        self.calls = 0;
        self.bytes = 0;
        self.evidence.clear();
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ExfilState {
    sessions: Sessions,
    /// Principal identity, or `identity\nbucket` → baseline.
    baselines: BTreeMap<String, Baseline>,
    /// (identity, hour) already alerted for volume.
    alerted: BTreeSet<(String, i64)>,
    /// Identity → secrets read: (time, secret).
    secrets: BTreeMap<String, Vec<(i64, String, String)>>,
    /// Identities alerted for secrets → when.
    secrets_alerted: BTreeMap<String, i64>,
}

#[derive(Debug)]
pub struct Exfiltration {
    deviations: f64,
    min_calls: u64,
    min_bytes: u64,
    alpha: f64,
    secrets_bulk: usize,
    warmup_ms: i64,
    trusted: Vec<String>,
    idle_ms: i64,
    state: ExfilState,
}

impl Exfiltration {
    pub fn new(s: &Settings) -> Exfiltration {
        Exfiltration {
            deviations: s.exfil_deviations,
            min_calls: s.exfil_min_calls,
            min_bytes: s.exfil_min_bytes,
            alpha: 2.0 / (f64::from(s.exfil_baseline_hours) + 1.0),
            secrets_bulk: s.secrets_bulk as usize,
            warmup_ms: i64::from(s.exfil_warmup_hours) * HOUR_MS,
            trusted: s.trusted_accounts.clone(),
            idle_ms: i64::from(s.idle_days) * 86_400_000,
            state: ExfilState::default(),
        }
    }

    fn foreign(&self, own: &str, accounts: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut out: Vec<String> = accounts
            .into_iter()
            .filter(|a| a != own && !self.trusted.contains(a))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Every string value under a key called `key`, at any depth.
fn values_of<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == key {
                    out.push(x);
                }
                values_of(x, key, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| values_of(x, key, out)),
        _ => {}
    }
}

fn texts(vals: &[&Value]) -> Vec<String> {
    let mut out = Vec::new();
    for v in vals {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => out.extend(a.iter().filter_map(Value::as_str).map(str::to_string)),
            _ => {}
        }
    }
    out
}

/// The account of an ARN (`arn:aws:s3:::bucket` has none).
fn arn_account(s: &str) -> Option<String> {
    let a = s.split(':').nth(4)?;
    (a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())).then(|| a.to_string())
}

/// A `GetObject`: its bucket and bytes out. The hot path (data events):
/// only the two fields it needs, without building a JSON tree.
fn get_fact(e: &crate::event::Event<'_>, who: Who) -> Fact {
    let bucket = e
        .request_parameters
        .and_then(|v| serde_json::from_str::<GetParams<'_>>(v.get()).ok())
        .and_then(|p| p.bucket_name)
        .map(|b| b.into_owned())
        .unwrap_or_default();
    let bytes = e
        .additional_event_data
        .and_then(|v| serde_json::from_str::<GetData>(v.get()).ok())
        .and_then(|d| d.bytes_transferred_out)
        .map_or(0, |b| b.max(0.0) as u64);
    Fact::Get { who, bucket, bytes }
}

/// `CopyObject`: what was copied where, and the accounts owning the
/// buckets it touched.
fn copied(e: &crate::event::Event<'_>, params: &Value) -> (String, Vec<String>) {
    let owners = e
        .resources
        .iter()
        .flatten()
        .filter(|res| res.kind.as_deref() == Some("AWS::S3::Bucket"))
        .filter_map(|res| res.account_id.as_deref().map(str::to_string))
        .collect();
    let what = format!(
        "copied {} into bucket {}",
        json_str(params, &["x-amz-copy-source"]).unwrap_or("an object"),
        json_str(params, &["bucketName"]).unwrap_or("?")
    );
    (what, owners)
}

/// `PutBucketReplication`: the destinations' accounts, named or in their
/// bucket ARNs.
fn replicated(params: &Value) -> (String, Vec<String>) {
    let mut found = Vec::new();
    values_of(params, "Account", &mut found);
    let mut accounts = texts(&found);
    let mut buckets = Vec::new();
    values_of(params, "Bucket", &mut buckets);
    accounts.extend(texts(&buckets).iter().filter_map(|b| arn_account(b)));
    let what = format!(
        "set replication of bucket {}",
        json_str(params, &["bucketName"]).unwrap_or("?")
    );
    (what, accounts)
}

/// An EBS snapshot's or AMI's launch permissions: the accounts (or `all`)
/// added.
fn shared_image(name: &str, params: &Value) -> (String, Vec<String>) {
    let mut adds = Vec::new();
    values_of(params, "add", &mut adds);
    let mut ids = Vec::new();
    for a in &adds {
        let mut u = Vec::new();
        values_of(a, "userId", &mut u);
        ids.extend(texts(&u));
        let mut g = Vec::new();
        values_of(a, "group", &mut g);
        ids.extend(texts(&g));
    }
    let thing = if name == "ModifyImageAttribute" {
        format!("AMI {}", json_str(params, &["imageId"]).unwrap_or("?"))
    } else {
        format!(
            "EBS snapshot {}",
            json_str(params, &["snapshotId"]).unwrap_or("?")
        )
    };
    (format!("shared {thing}"), ids)
}

/// An RDS snapshot's restore permissions: the accounts (or `all`) added.
fn shared_db_snapshot(params: &Value) -> (String, Vec<String>) {
    let mut adds = Vec::new();
    values_of(params, "valuesToAdd", &mut adds);
    let id = json_str(params, &["dBSnapshotIdentifier"])
        .or(json_str(params, &["dBClusterSnapshotIdentifier"]))
        .unwrap_or("?");
    (format!("shared RDS snapshot {id}"), texts(&adds))
}

/// The secrets a `GetSecretValue` or `BatchGetSecretValue` read.
fn secrets_read(params: &Value) -> Option<Vec<String>> {
    let mut secrets: Vec<String> = json_str(params, &["secretId"])
        .map(str::to_string)
        .into_iter()
        .collect();
    if let Some(Value::Array(list)) = params.get("secretIdList") {
        secrets.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
    }
    (!secrets.is_empty()).then_some(secrets)
}

impl Detection for Exfiltration {
    type Fact = Fact;
    type State = ExfilState;

    fn name(&self) -> &str {
        S3_EXFILTRATION.id
    }

    fn fact(&mut self, r: &Record<'_>) -> Option<Fact> {
        let e = &r.event;
        self.state.sessions.learn(e, r.time.timestamp_millis());
        let name = e.event_name.as_deref()?;
        if !matches!(
            name,
            "GetObject"
                | "CopyObject"
                | "PutBucketReplication"
                | "ModifySnapshotAttribute"
                | "ModifyDBSnapshotAttribute"
                | "ModifyDBClusterSnapshotAttribute"
                | "ModifyImageAttribute"
                | "GetSecretValue"
                | "BatchGetSecretValue"
        ) || e.error_code.is_some()
        {
            return None;
        }
        let own = e.account().unwrap_or_default().to_string();
        let who = Who {
            identity: self.state.sessions.identify(e)?.into_owned(),
            principal: e.principal().unwrap_or_default().to_string(),
            account: own.clone(),
            ip: e
                .source_ip_address
                .as_deref()
                .unwrap_or_default()
                .to_string(),
            event_id: e.event_id.to_string(),
            event_name: name.to_string(),
        };
        if name == "GetObject" {
            return Some(get_fact(e, who));
        }
        let params: Value = e
            .request_parameters
            .and_then(|v| serde_json::from_str(v.get()).ok())
            .unwrap_or(Value::Null);
        let (what, to) = match name {
            "CopyObject" => copied(e, &params),
            "PutBucketReplication" => replicated(&params),
            "ModifySnapshotAttribute" | "ModifyImageAttribute" => shared_image(name, &params),
            "ModifyDBSnapshotAttribute" | "ModifyDBClusterSnapshotAttribute" => {
                shared_db_snapshot(&params)
            }
            _ => return secrets_read(&params).map(|secrets| Fact::Secret { who, secrets }),
        };
        let to = self.foreign(&own, to);
        (!to.is_empty()).then_some(Fact::Out { who, what, to })
    }

    fn process(&mut self, at: i64, fact: Fact, out: &mut Vec<Alert>) {
        match fact {
            Fact::Get { who, bucket, bytes } => self.volume(at, &who, &bucket, bytes, out),
            Fact::Out { who, what, to } => {
                let anyone = to.iter().any(|a| a == "all" || a == "*");
                let whom = if anyone {
                    "everyone (public)".to_string()
                } else {
                    format!("account {}", to.join(", "))
                };
                let text = format!("{} {what} to {whom}", who.identity);
                out.push(self.alert(
                    at,
                    &who,
                    "copy-out",
                    Severity::P1,
                    text,
                    vec![who.event_id.clone()],
                    1,
                    at,
                ));
            }
            Fact::Secret { who, secrets } => {
                let read = self.state.secrets.entry(who.identity.clone()).or_default();
                read.retain(|(t, ..)| at.saturating_sub(*t) <= HOUR_MS);
                for s in secrets {
                    read.push((at, s, who.event_id.clone()));
                }
                let distinct: BTreeSet<&str> = read.iter().map(|(_, s, _)| s.as_str()).collect();
                let recent = self
                    .state
                    .secrets_alerted
                    .get(&who.identity)
                    .is_some_and(|t| at.saturating_sub(*t) <= HOUR_MS);
                if distinct.len() >= self.secrets_bulk && !recent {
                    let n = distinct.len();
                    let mut ids: Vec<String> = read.iter().map(|(.., id)| id.clone()).collect();
                    ids.dedup();
                    let start = read.first().map_or(at, |(t, ..)| *t);
                    self.state.secrets_alerted.insert(who.identity.clone(), at);
                    let text = format!(
                        "{} read {n} distinct secrets within an hour (limit {})",
                        who.identity, self.secrets_bulk
                    );
                    let count = ids.len();
                    out.push(self.alert(
                        at,
                        &who,
                        "secrets-bulk",
                        Severity::P1,
                        text,
                        ids,
                        count,
                        start,
                    ));
                }
            }
        }
    }

    fn expire(&mut self, now: i64, _out: &mut Vec<Alert>) {
        let idle = self.idle_ms;
        let st = &mut self.state;
        st.sessions.expire(now);
        st.baselines
            .retain(|_, b| now.saturating_sub(b.last_ms) <= idle);
        let hour = now / HOUR_MS;
        st.alerted.retain(|(_, h)| hour - *h <= 24);
        st.secrets.retain(|_, v| {
            v.last()
                .is_some_and(|(t, ..)| now.saturating_sub(*t) <= HOUR_MS)
        });
        st.secrets_alerted
            .retain(|_, t| now.saturating_sub(*t) <= HOUR_MS);
    }

    fn state(&self) -> &ExfilState {
        &self.state
    }

    fn state_mut(&mut self) -> &mut ExfilState {
        &mut self.state
    }
}

impl Exfiltration {
    fn volume(&mut self, at: i64, who: &Who, bucket: &str, bytes: u64, out: &mut Vec<Alert>) {
        let hour = at.div_euclid(HOUR_MS);
        let mut breach: Option<(String, Baseline)> = None;
        for key in [who.identity.clone(), format!("{}\n{bucket}", who.identity)] {
            let b = match self.state.baselines.get_mut(&key) {
                Some(b) => b,
                None => self.state.baselines.entry(key.clone()).or_default(),
            };
            if b.hours == 0 && b.calls == 0 && b.first_ms == 0 {
                b.hour = hour;
                b.first_ms = at;
            }
            if hour < b.hour {
                // A late fact for an hour already folded into the
                // baseline: counted in no hour rather than the wrong one.
                continue;
            }
            b.roll(hour, self.alpha);
            b.calls += 1;
            b.bytes = b.bytes.saturating_add(bytes);
            b.last_ms = at;
            if b.evidence.len() < crate::alert::EVIDENCE_IDS {
                b.evidence.push(who.event_id.clone());
            }
            // Until a day of history is learnt nothing is unusual yet.
            let learnt = at.saturating_sub(b.first_ms) >= self.warmup_ms;
            let over_calls = b.calls >= self.min_calls
                && b.calls as f64
                    > b.mean_calls + self.deviations * spread(b.mean_calls, b.var_calls);
            let over_bytes = b.bytes >= self.min_bytes
                && b.bytes as f64
                    > b.mean_bytes + self.deviations * spread(b.mean_bytes, b.var_bytes);
            if learnt && (over_calls || over_bytes) && breach.is_none() {
                breach = Some((key, b.clone()));
            }
        }
        let Some((key, b)) = breach else { return };
        if !self.state.alerted.insert((who.identity.clone(), hour)) {
            return;
        }
        let scope = if key.contains('\n') {
            format!("from bucket {bucket}")
        } else {
            "in all".to_string()
        };
        let text = format!(
            "{} made {} GetObject calls ({} bytes out) {scope} in the hour from {}; its baseline is {:.1} calls ± {:.1} ({:.0} bytes ± {:.0}) per hour over {} hours, limit {} deviations and at least {} calls or {} bytes",
            who.identity,
            b.calls,
            b.bytes,
            iso(hour * HOUR_MS),
            b.mean_calls,
            b.var_calls.sqrt(),
            b.mean_bytes,
            b.var_bytes.sqrt(),
            b.hours,
            self.deviations,
            self.min_calls,
            self.min_bytes,
        );
        let count = b.calls as usize;
        out.push(self.alert(
            at,
            who,
            "volume",
            Severity::P1,
            text,
            b.evidence.clone(),
            count,
            hour * HOUR_MS,
        ));
    }

    #[allow(clippy::too_many_arguments)]
    fn alert(
        &self,
        at: i64,
        who: &Who,
        path: &str,
        severity: Severity,
        text: String,
        event_ids: Vec<String>,
        event_count: usize,
        start: i64,
    ) -> Alert {
        let query = format!(
            "SELECT eventtime, eventname, sourceipaddress, requestparameters, additionaleventdata FROM cloudtrail_logs\nWHERE useridentity.arn = {} AND eventtime BETWEEN {} AND {}\nORDER BY eventtime",
            sql_text(&who.principal),
            sql_text(&iso(start - HOUR_MS)),
            sql_text(&iso(at + HOUR_MS)),
        );
        let dimensions = [
            ("identity", who.identity.clone()),
            ("path", path.to_string()),
            ("account", who.account.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let hour = (start.div_euclid(HOUR_MS)).to_string();
        let id_parts: [&str; 3] = if path == "volume" {
            [path, &who.identity, &hour]
        } else {
            [path, &who.identity, &who.event_id]
        };
        Alert {
            alert_id: correlation_id(&S3_EXFILTRATION, &id_parts),
            kind: AlertKind::Correlation,
            rule_id: S3_EXFILTRATION.id.to_string(),
            title: format!("Possible data exfiltration by {}", who.identity.rsplit('/').next().unwrap_or(&who.identity)),
            severity,
            state: AlarmState::Alarm,
            time: iso(at),
            window_start: Some(iso(start)),
            window_end: Some(iso(at)),
            threshold: None,
            datapoints: Vec::new(),
            dimensions,
            event_ids,
            event_count,
            principals: vec![who.principal.clone()],
            source_ips: if who.ip.is_empty() { vec![] } else { vec![who.ip.clone()] },
            actions: vec![
                "Confirm with the owner whether the transfer was expected; if not, revoke the principal's credentials and block the destination.".into(),
                "Run the query to see every object and byte involved.".into(),
            ],
            description: format!("{text}. From {}.", if who.ip.is_empty() { "an unknown address" } else { &who.ip }),
            query: Some(query),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::cases::{ACCOUNT, Case, call, check, denied, user, with};
    use super::super::{Ordered, Settings};
    use super::Exfiltration;
    use crate::detect::Detector;

    fn detector(s: &Settings) -> Box<dyn Detector> {
        Box::new(Ordered::new(Exfiltration::new(s)))
    }

    /// `n` GetObject calls by `who` in hour `h` after 2024-05-01T00:00Z.
    fn gets(who: &str, h: i64, n: i64) -> Vec<Value> {
        (0..n)
            .map(|i| {
                let t = chrono::DateTime::from_timestamp(
                    1_714_521_600 + h * 3600 + i * 3600 / n.max(1),
                    0,
                )
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
                let c = call(&t, "s3", "GetObject", user(who));
                let c = with(
                    c,
                    "requestParameters",
                    json!({"bucketName": "data", "key": format!("k{i}")}),
                );
                with(
                    c,
                    "additionalEventData",
                    json!({"bytesTransferredOut": 1000.0}),
                )
            })
            .collect()
    }

    /// A day and a half of `per_hour` reads, then `burst` reads in the
    /// next hour.
    fn history_then(per_hour: i64, burst: i64) -> Vec<Value> {
        let mut out: Vec<Value> = (0..36).flat_map(|h| gets("eve", h, per_hour)).collect();
        out.extend(gets("eve", 36, burst));
        out
    }

    fn s3(time: &str, name: &str, params: Value) -> Value {
        with(
            call(time, "s3", name, user("eve")),
            "requestParameters",
            params,
        )
    }

    fn copy_into(account: &str) -> Value {
        let c = s3(
            "2024-05-01T10:00:00Z",
            "CopyObject",
            json!({"bucketName": "drop", "x-amz-copy-source": "data/k1"}),
        );
        with(
            c,
            "resources",
            json!([{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::drop/k1"}, {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::drop", "accountId": account}]),
        )
    }

    fn snapshot_share(to: Value) -> Value {
        let c = call(
            "2024-05-01T10:00:00Z",
            "ec2",
            "ModifySnapshotAttribute",
            user("eve"),
        );
        with(
            c,
            "requestParameters",
            json!({"snapshotId": "snap-1", "createVolumePermission": {"add": {"items": [to]}}}),
        )
    }

    fn secrets(n: usize, minutes_apart: usize) -> Vec<Value> {
        (0..n)
            .map(|i| {
                let m = i * minutes_apart;
                let t = format!("2024-05-01T{:02}:{:02}:00Z", 10 + m / 60, m % 60);
                let c = call(&t, "secretsmanager", "GetSecretValue", user("eve"));
                with(
                    c,
                    "requestParameters",
                    json!({"secretId": format!("prod/db-{i}")}),
                )
            })
            .collect()
    }

    #[test]
    fn volume_copies_shares_and_secrets_in_bulk_fire() {
        let cases = [
            Case::fires(
                "a burst far above a learnt baseline",
                "made 100 GetObject calls",
                history_then(2, 150),
            ),
            Case::fires(
                "an object copied into another account's bucket",
                "copied data/k1 into bucket drop to account 444455556666",
                vec![copy_into("444455556666")],
            ),
            Case::fires(
                "replication towards another account",
                "set replication of bucket data to account 444455556666",
                vec![s3(
                    "2024-05-01T10:00:00Z",
                    "PutBucketReplication",
                    json!({"bucketName": "data", "ReplicationConfiguration": {"Rule": {"Destination": {"Bucket": "arn:aws:s3:::mirror", "Account": "444455556666"}}}}),
                )],
            ),
            Case::fires(
                "a snapshot shared with another account",
                "shared EBS snapshot snap-1 to account 444455556666",
                vec![snapshot_share(json!({"userId": "444455556666"}))],
            ),
            Case::fires(
                "a snapshot made public",
                "to everyone (public)",
                vec![snapshot_share(json!({"group": "all"}))],
            ),
            Case::fires(
                "ten secrets read within an hour",
                "read 10 distinct secrets within an hour (limit 10)",
                secrets(10, 5),
            ),
        ];
        check(&cases, || detector(&Settings::default()));
    }

    #[test]
    fn busy_steady_readers_new_principals_and_own_account_copies_stay_quiet() {
        let cases = [
            Case::quiet(
                "a steady heavy reader at its usual rate",
                history_then(120, 130),
            ),
            Case::quiet("a burst with no history learnt yet", gets("eve", 0, 300)),
            Case::quiet(
                "an unusual hour below the floor of calls and bytes",
                history_then(1, 60),
            ),
            Case::quiet("a copy within the account", vec![copy_into(ACCOUNT)]),
            Case::quiet(
                "a refused snapshot share",
                vec![denied(snapshot_share(json!({"userId": "444455556666"})))],
            ),
            Case::quiet(
                "one secret read over and over",
                (0..30)
                    .map(|i| {
                        let c = call(
                            &format!("2024-05-01T10:{i:02}:00Z"),
                            "secretsmanager",
                            "GetSecretValue",
                            user("eve"),
                        );
                        with(c, "requestParameters", json!({"secretId": "prod/db"}))
                    })
                    .collect(),
            ),
            Case::quiet("ten secrets read over ten hours", secrets(10, 61)),
        ];
        check(&cases, || detector(&Settings::default()));
        let ours = Settings {
            trusted_accounts: vec!["444455556666".into()],
            ..Settings::default()
        };
        check(
            &[Case::quiet(
                "a copy into a trusted account",
                vec![copy_into("444455556666")],
            )],
            || detector(&ours),
        );
    }
}
