//! The activity the dashboard's overview shows, kept as events arrive:
//! events and callers per hour, console sign-ins with and without MFA, and
//! the newest changes to security posture. A server keeps it beside the
//! security state (and saves it in the same snapshot), so the overview is
//! answered from a few thousand counters instead of scans over the lake,
//! however much history the lake holds.
//!
//! Windows are whole hours: "the last 24 hours" as of a time is the hour
//! holding it and the 23 before, as the dashboard's charts draw them. What
//! a window can ask for is kept, and no more: callers for the hours of a
//! day, sign-ins for the hours of 30 days, and the [`MAX_CHANGES`] newest
//! changes (a window's newest changes are among the newest of all, as a
//! window always reaches to the newest events).
//!
//! A record dated more than [`FUTURE_SLACK`] after the clock is not
//! counted: it is a forged or broken record (see [`crate::event::timing`]),
//! and would otherwise hold an hour of its own for years.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::event::FUTURE_SLACK;
use crate::event::Record;

/// The API calls that change security posture, shown as recent changes.
pub const CHANGES: &[&str] = &[
    // IAM
    "CreateUser",
    "DeleteUser",
    "CreateAccessKey",
    "DeleteAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "PutUserPolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePolicy",
    "AttachGroupPolicy",
    "PutGroupPolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateRole",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "AddUserToGroup",
    "DeactivateMFADevice",
    // Security groups and network
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "CreateNetworkAcl",
    "CreateNetworkAclEntry",
    "DeleteNetworkAcl",
    "CreateRoute",
    "ReplaceRoute",
    "CreateInternetGateway",
    "AttachInternetGateway",
    "CreateVpc",
    "DeleteVpc",
    "CreateVpcPeeringConnection",
    // Trails, monitoring and keys
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "DeleteDetector",
    "StopConfigurationRecorder",
    "DeleteConfigurationRecorder",
    "DisableKey",
    "ScheduleKeyDeletion",
    "PutBucketPolicy",
    "DeletePublicAccessBlock",
    "PutBucketAcl",
];

/// How many changes are kept (and shown).
pub const MAX_CHANGES: usize = 50;
/// The windows, in hours: callers and events over a day, changes over a
/// week, sign-ins over 30 days.
pub const DAY_HOURS: i64 = 24;
pub const WEEK_HOURS: i64 = 7 * 24;
pub const MONTH_HOURS: i64 = 30 * 24;
/// How many of the top callers and of the identities signing in without
/// MFA are shown.
const TOP_CALLERS: usize = 10;
const TOP_WITHOUT_MFA: usize = 20;
/// Hours kept beyond a window: a window ends at the time its figures are
/// "as of", which may be up to [`FUTURE_SLACK`] before the newest event
/// (clamped to the clock), so two more hours keep every hour it can ask
/// for.
const MARGIN_HOURS: i64 = 2;

/// One hour's counts. Identities with no ARN (and callers with none of
/// ARN, invoking service and type) are kept under "" and shown as null.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Hour {
    events: u64,
    /// Events per caller; emptied once the hour is out of every day window.
    callers: BTreeMap<String, u64>,
    /// Successful console sign-ins, and those with MFA.
    logins: u64,
    logins_with_mfa: u64,
    /// Successful console sign-ins without MFA, per identity.
    without_mfa: BTreeMap<String, u64>,
}

/// One change to security posture, as the overview lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Change {
    pub time: String,
    pub source: Option<String>,
    pub action: String,
    pub who: Option<String>,
    pub ip: Option<String>,
    pub region: String,
    pub account: Option<String>,
}

/// The activity kept (see the module doc).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Activity {
    /// Per hour, by its start in seconds since the epoch.
    hours: BTreeMap<i64, Hour>,
    /// The newest changes, newest first.
    changes: Vec<Change>,
    /// The newest event counted.
    pub newest: Option<DateTime<Utc>>,
    /// Events counted.
    pub events: u64,
}

fn hour_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(3600) * 3600
}

fn text(t: Option<&crate::event::Text<'_>>) -> Option<String> {
    t.map(|t| t.as_str().to_string())
}

/// A top-level string member of a JSON object's text.
fn member(raw: Option<&serde_json::value::RawValue>, key: &str) -> Option<String> {
    let v: Value = serde_json::from_str(raw?.get()).ok()?;
    v.get(key)?.as_str().map(str::to_string)
}

fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

impl Activity {
    /// Count one record, read at `now` (for the clock check).
    pub fn apply(&mut self, r: &Record<'_>, now: DateTime<Utc>) {
        if r.time > now + FUTURE_SLACK {
            return;
        }
        let e = &r.event;
        self.events += 1;
        let hour = hour_of(r.time);
        if self.newest.is_none_or(|n| r.time > n) {
            let moved_on = self.newest.is_none_or(|n| hour_of(n) != hour);
            self.newest = Some(r.time);
            if moved_on {
                self.forget_before(hour);
            }
        }
        let newest_hour = self.newest.map_or(hour, hour_of);
        if hour < newest_hour - (MONTH_HOURS + MARGIN_HOURS) * 3600 {
            return;
        }
        let id = e.user_identity.as_ref();
        let h = self.hours.entry(hour).or_default();
        h.events += 1;
        if hour >= newest_hour - (DAY_HOURS + MARGIN_HOURS) * 3600 {
            let who = id.and_then(|u| u.arn.as_ref().or(u.invoked_by.as_ref()).or(u.kind.as_ref()));
            bump(&mut h.callers, who.map_or("", |t| t.as_str()));
        }
        let Some(name) = e.event_name.as_ref().map(|n| n.as_str()) else {
            return;
        };
        if name == "ConsoleLogin"
            && member(e.response_elements, "ConsoleLogin").as_deref() == Some("Success")
        {
            h.logins += 1;
            if member(e.additional_event_data, "MFAUsed").as_deref() == Some("Yes") {
                h.logins_with_mfa += 1;
            } else {
                let arn = id.and_then(|u| u.arn.as_ref());
                bump(&mut h.without_mfa, arn.map_or("", |t| t.as_str()));
            }
        }
        if e.error_code.is_none() && CHANGES.contains(&name) {
            self.keep_change(Change {
                time: e.event_time.as_str().to_string(),
                source: text(e.event_source.as_ref()),
                action: name.to_string(),
                who: id.and_then(|u| {
                    text(
                        u.arn
                            .as_ref()
                            .or(u.principal_id.as_ref())
                            .or(u.kind.as_ref()),
                    )
                }),
                ip: text(e.source_ip_address.as_ref()),
                region: e.aws_region.as_str().to_string(),
                account: text(e.recipient_account_id.as_ref()),
            });
        }
    }

    /// Keep `c` if it is among the newest [`MAX_CHANGES`].
    fn keep_change(&mut self, c: Change) {
        // Newest first; among equal times, the one seen first stays first.
        let at = self.changes.partition_point(|k| k.time >= c.time);
        if at < MAX_CHANGES {
            self.changes.insert(at, c);
            self.changes.truncate(MAX_CHANGES);
        }
    }

    /// Forget what no window as of `newest_hour` (or later) asks for.
    fn forget_before(&mut self, newest_hour: i64) {
        let month = newest_hour - (MONTH_HOURS + MARGIN_HOURS) * 3600;
        let day = newest_hour - (DAY_HOURS + MARGIN_HOURS) * 3600;
        self.hours = self.hours.split_off(&month);
        for (_, h) in self.hours.range_mut(..day) {
            h.callers.clear();
        }
    }

    /// The hours of the last `n` as of `as_of`.
    fn last_hours(&self, as_of: DateTime<Utc>, n: i64) -> impl Iterator<Item = (&i64, &Hour)> {
        self.hours.range(hour_of(as_of) - (n - 1) * 3600..)
    }

    /// The overview's figures as of `as_of`: `changes` (7 days),
    /// `console_logins` and `signing_in_without_mfa` (30 days),
    /// `events_per_hour` and `top_callers` (24 hours). Rows are as the
    /// lake's SQL would give them (see the server's summary).
    pub fn figures(&self, as_of: DateTime<Utc>) -> Value {
        let per_hour: Vec<Value> = self
            .last_hours(as_of, DAY_HOURS)
            .filter(|(_, h)| h.events > 0)
            .map(|(t, h)| {
                let t = Utc.timestamp_opt(*t, 0).single().unwrap_or_default();
                json!({"hour": t.format("%Y-%m-%dT%H:00Z").to_string(), "events": h.events})
            })
            .collect();
        let mut callers: BTreeMap<&str, u64> = BTreeMap::new();
        for (_, h) in self.last_hours(as_of, DAY_HOURS) {
            for (who, n) in &h.callers {
                *callers.entry(who).or_default() += n;
            }
        }
        let (mut logins, mut with_mfa) = (0, 0);
        let mut without: BTreeMap<&str, u64> = BTreeMap::new();
        for (_, h) in self.last_hours(as_of, MONTH_HOURS) {
            logins += h.logins;
            with_mfa += h.logins_with_mfa;
            for (who, n) in &h.without_mfa {
                *without.entry(who).or_default() += n;
            }
        }
        let week = hour_of(as_of) - (WEEK_HOURS - 1) * 3600;
        let changes: Vec<&Change> = self
            .changes
            .iter()
            .filter(|c| {
                crate::event::parse_event_time(&c.time).is_some_and(|t| t.timestamp() >= week)
            })
            .collect();
        json!({
            "changes": changes,
            "console_logins": {"logins": logins, "with_mfa": with_mfa},
            "signing_in_without_mfa": top(without, TOP_WITHOUT_MFA, "logins"),
            "events_per_hour": per_hour,
            "top_callers": top(callers, TOP_CALLERS, "events"),
        })
    }
}

/// The `n` largest counts, largest first, then by name (unnamed last), as
/// `{"who", <what>}` rows.
fn top(counts: BTreeMap<&str, u64>, n: usize, what: &str) -> Vec<Value> {
    let mut rows: Vec<(&str, u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.is_empty().cmp(&b.0.is_empty()))
            .then_with(|| a.0.cmp(b.0))
    });
    rows.into_iter()
        .take(n)
        .map(|(who, count)| {
            let who = (!who.is_empty()).then_some(who);
            json!({"who": who, what: count})
        })
        .collect()
}

/// A window of `hours` ending with the hour holding `as_of`: its first
/// instant, as the lake's SQL compares `eventtime` against.
pub fn window_start(as_of: DateTime<Utc>, hours: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(hour_of(as_of) - (hours - 1) * 3600, 0)
        .single()
        .unwrap_or(as_of)
}

/// The activity kept up to date by a pipeline, as a
/// [`Shared`](crate::detect::shared::Shared) detector (the server's
/// overview reads it); records are checked against the clock as they come.
impl crate::detect::shared::Kept for Activity {
    const NAME: &'static str = "activity";

    fn take(&mut self, r: &Record<'_>) {
        self.apply(r, Utc::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> DateTime<Utc> {
        crate::event::parse_event_time(t).expect("a time")
    }

    fn ev(id: &str, time: &str, name: &str, arn: Option<&str>) -> Value {
        let mut who = json!({"type": "IAMUser", "principalId": "AIDA1"});
        if let Some(a) = arn {
            who["arn"] = json!(a);
        }
        json!({
            "eventVersion": "1.08", "eventTime": time, "eventID": id, "eventType": "AwsApiCall",
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "eventName": name,
            "eventSource": "iam.amazonaws.com", "sourceIPAddress": "198.51.100.7", "userIdentity": who,
        })
    }

    fn login(id: &str, time: &str, arn: &str, ok: bool, mfa: &str) -> Value {
        let mut e = ev(id, time, "ConsoleLogin", Some(arn));
        e["responseElements"] = json!({"ConsoleLogin": if ok { "Success" } else { "Failure" }});
        e["additionalEventData"] = json!({"MFAUsed": mfa});
        e
    }

    fn apply_all(records: &[Value], now: &str) -> Activity {
        let text = json!({ "Records": records }).to_string();
        let mut a = Activity::default();
        crate::event::each_test_record(&text, |r| a.apply(r, at(now)));
        a
    }

    #[test]
    fn figures_count_whole_hours_back_from_the_time_they_are_as_of() {
        let a = apply_all(
            &[
                ev("1", "2026-04-01T08:59:59Z", "GetUser", Some("arn:u/old")),
                ev("2", "2026-04-02T08:00:00Z", "GetUser", Some("arn:u/bob")),
                ev("3", "2026-04-02T08:30:00Z", "GetUser", Some("arn:u/bob")),
                ev("4", "2026-04-02T09:10:00Z", "GetUser", Some("arn:u/amy")),
                ev("5", "2026-04-02T09:20:00Z", "GetUser", None),
                login("6", "2026-04-02T09:30:00Z", "arn:u/amy", true, "Yes"),
                login("7", "2026-04-02T09:31:00Z", "arn:u/bob", true, "No"),
                login("8", "2026-04-02T09:32:00Z", "arn:u/bob", false, "No"),
            ],
            "2026-12-07T00:00:00Z",
        );
        let f = a.figures(at("2026-04-02T09:45:00Z"));
        // 24 whole hours: 2026-04-01T10:00 to 2026-04-02T09:59.
        assert_eq!(
            f["events_per_hour"],
            json!([{"hour": "2026-04-02T08:00Z", "events": 2}, {"hour": "2026-04-02T09:00Z", "events": 5}])
        );
        assert_eq!(
            f["top_callers"][0],
            json!({"who": "arn:u/bob", "events": 4})
        );
        assert_eq!(
            f["top_callers"][1],
            json!({"who": "arn:u/amy", "events": 2})
        );
        // No ARN: the type stands in, as coalesce() does.
        assert_eq!(f["top_callers"][2], json!({"who": "IAMUser", "events": 1}));
        assert_eq!(f["console_logins"], json!({"logins": 2, "with_mfa": 1}));
        assert_eq!(
            f["signing_in_without_mfa"],
            json!([{"who": "arn:u/bob", "logins": 1}])
        );
        assert_eq!(a.newest, Some(at("2026-04-02T09:32:00Z")));
        // A day later, only the older hour has left the day's window.
        let f = a.figures(at("2026-04-03T08:10:00Z"));
        assert_eq!(f["events_per_hour"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn the_newest_changes_are_kept_and_old_hours_forgotten() {
        let mut records = Vec::new();
        for i in 0..(MAX_CHANGES + 10) {
            let t = format!("2026-04-02T{:02}:{:02}:00Z", i / 60, i % 60);
            records.push(ev(&format!("c{i}"), &t, "CreateUser", Some("arn:u/admin")));
        }
        let mut failed = ev("x", "2026-04-02T23:00:00Z", "CreateUser", None);
        failed["errorCode"] = json!("AccessDenied");
        records.push(failed);
        // A month and more later: the April hours are forgotten, the
        // changes kept (still the newest).
        records.push(ev("late", "2026-05-20T00:00:00Z", "GetUser", None));
        // From the future: not counted.
        records.push(ev("2099", "2099-01-01T00:00:00Z", "CreateUser", None));
        let a = apply_all(&records, "2026-12-07T00:00:00Z");
        assert_eq!(a.events, records.len() as u64 - 1);
        assert_eq!(a.changes.len(), MAX_CHANGES);
        assert_eq!(a.changes[0].time, "2026-04-02T00:59:00Z");
        assert_eq!(a.changes[0].who.as_deref(), Some("arn:u/admin"));
        assert_eq!(a.hours.len(), 1, "{:?}", a.hours.keys());
        // As of the week of the changes, all 50 newest; not a week later.
        let f = a.figures(at("2026-04-03T00:00:00Z"));
        assert_eq!(f["changes"].as_array().map(Vec::len), Some(MAX_CHANGES));
        let f = a.figures(at("2026-04-10T00:00:00Z"));
        assert_eq!(f["changes"], json!([]));
        // Saved and taken back, the same.
        let back: Activity =
            serde_json::from_str(&serde_json::to_string(&a).expect("json")).expect("back");
        assert_eq!(back, a);
    }
}
