//! The security state of an account, rebuilt from its CloudTrail events
//! and kept up to date one event at a time: public buckets, security
//! groups open to the world, IAM users with or without MFA and console
//! passwords, access keys with their age and last use, trails and whether
//! they log, KMS keys pending deletion, and resources created with or
//! without encryption.
//!
//! Only successful calls change the state. A resource first seen in a call
//! other than its creation is marked `partial`: its history began before
//! the events read, so what the state says of it may be incomplete (a
//! bucket whose policy was set before the trail began may be public
//! without the state knowing).
//!
//! One module per service says which calls change its part of the state
//! and how; [`report`] gives the state as JSON and as the lake's
//! `state_*` tables.

mod cloudtrail;
mod created;
mod ec2;
mod iam;
mod kms;
mod report;
mod s3;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Record;

pub use report::{report, rows};
pub use s3::policy_allows_anyone;

/// One S3 bucket.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bucket {
    pub account: String,
    pub region: String,
    /// A bucket policy allows anyone (`Principal: "*"`, no condition).
    pub policy_public: bool,
    /// An ACL grants AllUsers or AuthenticatedUsers.
    pub acl_public: bool,
    /// The bucket's Block Public Access blocks public policies and ACLs.
    pub blocks_public_access: Option<bool>,
    /// Default encryption set (true) or removed (false).
    pub encryption: Option<bool>,
    pub partial: bool,
    pub changed: String,
}

impl Bucket {
    /// Open to anyone, as far as the events tell.
    pub fn public(&self) -> bool {
        (self.policy_public || self.acl_public) && self.blocks_public_access != Some(true)
    }
}

/// One security group's world-open ingress.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecurityGroup {
    pub account: String,
    pub region: String,
    /// `tcp 22-22 from 0.0.0.0/0`, …
    pub open_to_world: BTreeSet<String>,
    pub partial: bool,
    pub changed: String,
}

/// One IAM user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub account: String,
    pub mfa_devices: u32,
    pub console_password: Option<bool>,
    pub partial: bool,
    pub changed: String,
}

/// One long-term access key (`AKIA…`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKey {
    pub account: String,
    pub user: Option<String>,
    pub created: Option<String>,
    /// `Active` or `Inactive`, when known.
    pub status: Option<String>,
    pub last_used: Option<String>,
    pub partial: bool,
}

/// One trail.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Trail {
    pub account: String,
    pub region: String,
    pub logging: Option<bool>,
    pub partial: bool,
    pub changed: String,
}

/// One KMS key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KmsKey {
    pub account: String,
    pub region: String,
    /// When deletion was scheduled for, while it is pending.
    pub pending_deletion: Option<String>,
    pub disabled: bool,
    pub partial: bool,
    pub changed: String,
}

/// A resource made with or without encryption (EBS volumes, RDS
/// instances).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Created {
    pub kind: String,
    pub account: String,
    pub region: String,
    pub encrypted: Option<bool>,
    pub created: String,
}

/// The whole state. Keys are `account/name` (or id).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Posture {
    pub buckets: BTreeMap<String, Bucket>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub users: BTreeMap<String, User>,
    pub access_keys: BTreeMap<String, AccessKey>,
    pub trails: BTreeMap<String, Trail>,
    pub kms_keys: BTreeMap<String, KmsKey>,
    pub created: BTreeMap<String, Created>,
    /// Events applied.
    pub events: u64,
}

/// Whether an event of this name may change the state (besides key
/// use).
pub fn relevant(event_name: &str) -> bool {
    [
        s3::CHANGES,
        ec2::CHANGES,
        iam::CHANGES,
        cloudtrail::CHANGES,
        kms::CHANGES,
        created::CHANGES,
    ]
    .iter()
    .any(|names| names.contains(&event_name))
}

fn parse(raw: Option<&serde_json::value::RawValue>) -> Value {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The `items` of a CloudTrail EC2 list (`{"items": [...]}`), or the list.
fn items(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Object(m)) => m
            .get("items")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().collect(),
        _ => Vec::new(),
    }
}

/// One successful call that may change the state, its parameters and
/// response parsed once, for the service modules.
struct Call<'a> {
    name: &'a str,
    account: String,
    region: String,
    time: String,
    event_id: &'a str,
    /// `requestParameters`.
    rp: Value,
    /// `responseElements`.
    re: Value,
}

impl Call<'_> {
    /// A state key: `account/name`.
    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.account)
    }
}

impl Posture {
    /// Apply one record (failed calls and unrelated events change nothing,
    /// except that an access key's use is its last use).
    pub fn apply(&mut self, r: &Record<'_>) {
        let e = &r.event;
        let account = e.account().unwrap_or_default();
        let time = e.event_time.as_str();
        if let Some(key) = e
            .user_identity
            .as_ref()
            .and_then(|u| u.access_key_id.as_deref())
            .filter(|k| k.starts_with("AKIA"))
        {
            // Whose key it is: the identity using it.
            let user = e
                .user_identity
                .as_ref()
                .and_then(|u| u.user_name.as_deref().or(u.arn.as_deref()));
            iam::key_used(self, key, account, user, time);
        }
        let Some(name) = e.event_name.as_deref() else {
            return;
        };
        if e.error_code.is_some() || !relevant(name) {
            return;
        }
        self.events += 1;
        let call = Call {
            name,
            account: account.to_string(),
            region: e.aws_region.to_string(),
            time: time.to_string(),
            event_id: e.event_id.as_str(),
            rp: parse(e.request_parameters),
            re: parse(e.response_elements),
        };
        if s3::CHANGES.contains(&name) {
            s3::apply(self, &call);
        } else if ec2::CHANGES.contains(&name) {
            ec2::apply(self, &call);
        } else if iam::CHANGES.contains(&name) {
            iam::apply(self, &call);
        } else if cloudtrail::CHANGES.contains(&name) {
            cloudtrail::apply(self, &call);
        } else if kms::CHANGES.contains(&name) {
            kms::apply(self, &call);
        } else if created::CHANGES.contains(&name) {
            created::apply(self, &call);
        }
    }
}

/// The state kept up to date by a pipeline, as a
/// [`Shared`](crate::detect::shared::Shared) detector (the server's
/// dashboard reads it).
impl crate::detect::shared::Kept for Posture {
    const NAME: &'static str = "posture";

    fn take(&mut self, r: &Record<'_>) {
        self.apply(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_all(records: &[Value]) -> Posture {
        let text = serde_json::json!({ "Records": records }).to_string();
        let mut p = Posture::default();
        crate::event::each_test_record(&text, |r| p.apply(r));
        p
    }

    fn ev(i: u32, name: &str, rp: Value, re: Value) -> Value {
        serde_json::json!({
            "eventVersion": "1.08", "eventTime": format!("2026-04-01T10:{i:02}:00Z"),
            "eventID": format!("e{i}"), "eventType": "AwsApiCall", "awsRegion": "us-east-1",
            "recipientAccountId": "111122223333", "eventName": name,
            "userIdentity": {"type": "IAMUser", "accessKeyId": "AKIAEXAMPLE1", "userName": "alice"},
            "requestParameters": rp, "responseElements": re,
        })
    }

    #[test]
    fn buckets_go_public_and_back() {
        use serde_json::json;
        let anyone =
            json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]});
        let p = apply_all(&[
            ev(
                1,
                "CreateBucket",
                json!({"bucketName": "reports"}),
                Value::Null,
            ),
            ev(
                2,
                "PutBucketPolicy",
                json!({"bucketName": "reports", "bucketPolicy": anyone}),
                Value::Null,
            ),
            ev(
                3,
                "PutBucketAcl",
                json!({"bucketName": "old", "AccessControlPolicy": {"AccessControlList": {"Grant": [{"Grantee": {"URI": "http://acs.amazonaws.com/groups/global/AllUsers"}}]}}}),
                Value::Null,
            ),
            ev(
                4,
                "PutBucketPublicAccessBlock",
                json!({"bucketName": "old", "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}}),
                Value::Null,
            ),
        ]);
        let r = &p.buckets["111122223333/reports"];
        assert!(r.public() && !r.partial);
        let old = &p.buckets["111122223333/old"];
        assert!(old.acl_public && !old.public() && old.partial, "{old:?}");
        let conditioned = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}]});
        assert!(!policy_allows_anyone(&conditioned));
        assert!(policy_allows_anyone(&Value::String(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:GetObject"}}"#
                .into()
        )));
    }

    #[test]
    fn groups_users_keys_trails_kms_and_encryption() {
        use serde_json::json;
        let open = json!({"groupId": "sg-1", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]}},
            {"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}
        ]}});
        let revoke = json!({"groupId": "sg-1", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}
        ]}});
        let mut failed = ev(
            20,
            "CreateLoginProfile",
            json!({"userName": "bob"}),
            Value::Null,
        );
        failed["errorCode"] = json!("AccessDenied");
        let p = apply_all(&[
            ev(
                1,
                "CreateSecurityGroup",
                json!({"groupName": "web"}),
                json!({"groupId": "sg-1"}),
            ),
            ev(2, "AuthorizeSecurityGroupIngress", open, Value::Null),
            ev(3, "RevokeSecurityGroupIngress", revoke, Value::Null),
            ev(4, "CreateUser", json!({"userName": "bob"}), Value::Null),
            ev(
                5,
                "CreateLoginProfile",
                json!({"userName": "bob"}),
                Value::Null,
            ),
            ev(6, "CreateUser", json!({"userName": "carol"}), Value::Null),
            ev(
                7,
                "EnableMFADevice",
                json!({"userName": "carol"}),
                Value::Null,
            ),
            ev(
                8,
                "CreateAccessKey",
                json!({"userName": "bob"}),
                json!({"accessKey": {"accessKeyId": "AKIABOB", "userName": "bob", "status": "Active", "createDate": "Apr 1, 2026 10:08:00 AM"}}),
            ),
            ev(
                9,
                "StopLogging",
                json!({"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org"}),
                Value::Null,
            ),
            ev(
                10,
                "ScheduleKeyDeletion",
                json!({"keyId": "k-1", "pendingWindowInDays": 7}),
                json!({"keyId": "arn:aws:kms:us-east-1:111122223333:key/k-1", "deletionDate": "Apr 8, 2026"}),
            ),
            ev(
                11,
                "CreateVolume",
                json!({"size": 8}),
                json!({"volumeId": "vol-1", "encrypted": false}),
            ),
            ev(
                12,
                "CreateDBInstance",
                json!({"dBInstanceIdentifier": "db1", "storageEncrypted": true}),
                Value::Null,
            ),
            failed,
        ]);
        let g = &p.security_groups["111122223333/sg-1"];
        assert_eq!(
            g.open_to_world.iter().collect::<Vec<_>>(),
            ["tcp 22-22 from 0.0.0.0/0"]
        );
        assert!(!g.partial);
        let bob = &p.users["111122223333/bob"];
        assert_eq!((bob.console_password, bob.mfa_devices), (Some(true), 0));
        assert_eq!(p.users["111122223333/carol"].mfa_devices, 1);
        assert_eq!(p.access_keys["AKIABOB"].user.as_deref(), Some("bob"));
        // alice's key was only ever used: partial, with its last use.
        let alice = &p.access_keys["AKIAEXAMPLE1"];
        assert!(alice.partial && alice.last_used.as_deref() == Some("2026-04-01T10:20:00Z"));
        let trail = &p.trails["111122223333/org"];
        assert_eq!((trail.logging, trail.partial), (Some(false), true));
        assert_eq!(
            p.kms_keys["111122223333/k-1"].pending_deletion.as_deref(),
            Some("Apr 8, 2026")
        );
        assert_eq!(p.created["111122223333/vol-1"].encrypted, Some(false));
        assert_eq!(p.created["111122223333/db1"].encrypted, Some(true));
        assert_eq!(p.events, 12, "the failed call changes nothing");
    }
}
