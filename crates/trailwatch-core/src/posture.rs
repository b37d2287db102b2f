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

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::event::Record;

/// One S3 bucket.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SecurityGroup {
    pub account: String,
    pub region: String,
    /// `tcp 22-22 from 0.0.0.0/0`, …
    pub open_to_world: BTreeSet<String>,
    pub partial: bool,
    pub changed: String,
}

/// One IAM user.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct User {
    pub account: String,
    pub mfa_devices: u32,
    pub console_password: Option<bool>,
    pub partial: bool,
    pub changed: String,
}

/// One long-term access key (`AKIA…`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Trail {
    pub account: String,
    pub region: String,
    pub logging: Option<bool>,
    pub partial: bool,
    pub changed: String,
}

/// One KMS key.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Created {
    pub kind: String,
    pub account: String,
    pub region: String,
    pub encrypted: Option<bool>,
    pub created: String,
}

/// The whole state. Keys are `account/name` (or id).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
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

/// The event names that change the state (besides key use).
const CHANGES: &[&str] = &[
    "CreateBucket",
    "DeleteBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
    "CreateUser",
    "DeleteUser",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "CreateLoginProfile",
    "DeleteLoginProfile",
    "CreateAccessKey",
    "DeleteAccessKey",
    "UpdateAccessKey",
    "CreateTrail",
    "DeleteTrail",
    "StartLogging",
    "StopLogging",
    "CreateKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DisableKey",
    "EnableKey",
    "CreateVolume",
    "CreateDBInstance",
];

/// Whether an event of this name may change the state.
pub fn relevant(event_name: &str) -> bool {
    CHANGES.contains(&event_name)
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

/// Whether a bucket policy lets anyone in: an Allow statement whose
/// principal is `*` (or `{"AWS": "*"}`) with no condition.
pub fn policy_allows_anyone(policy: &Value) -> bool {
    let doc = match policy {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => Vec::new(),
    };
    statements.iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let anyone = match s.get("Principal") {
            Some(Value::String(p)) => p == "*",
            Some(Value::Object(m)) => m.get("AWS").is_some_and(|a| match a {
                Value::String(p) => p == "*",
                Value::Array(ps) => ps.iter().any(|p| p.as_str() == Some("*")),
                _ => false,
            }),
            _ => false,
        };
        allow && anyone && s.get("Condition").is_none()
    })
}

/// Whether an ACL (as `PutBucketAcl` records it) grants everyone.
fn acl_grants_everyone(rp: &Value) -> bool {
    let text = rp.to_string();
    text.contains("acs.amazonaws.com/groups/global/AllUsers")
        || text.contains("acs.amazonaws.com/groups/global/AuthenticatedUsers")
        || rp
            .get("x-amz-acl")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("public-"))
}

impl Posture {
    /// Apply one record (failed calls and unrelated events change nothing,
    /// except that an access key's use is its last use).
    pub fn apply(&mut self, r: &Record<'_>) {
        let e = &r.event;
        let account = e.account().unwrap_or_default().to_string();
        let region = e.aws_region.to_string();
        let time = e.event_time.to_string();
        if let Some(key) = e
            .user_identity
            .as_ref()
            .and_then(|u| u.access_key_id.as_deref())
            .filter(|k| k.starts_with("AKIA"))
        {
            let k = self
                .access_keys
                .entry(key.to_string())
                .or_insert_with(|| AccessKey {
                    account: account.clone(),
                    // Whose key it is: the identity using it.
                    user: e
                        .user_identity
                        .as_ref()
                        .and_then(|u| u.user_name.as_deref().or(u.arn.as_deref()))
                        .map(str::to_string),
                    partial: true,
                    ..AccessKey::default()
                });
            if k.last_used.as_deref().is_none_or(|t| t < time.as_str()) {
                k.last_used = Some(time.clone());
            }
        }
        let Some(name) = e.event_name.as_deref() else {
            return;
        };
        if e.error_code.is_some() || !relevant(name) {
            return;
        }
        self.events += 1;
        let rp = parse(e.request_parameters);
        let re = parse(e.response_elements);
        let id = |n: &str| format!("{account}/{n}");
        match name {
            "CreateBucket"
            | "DeleteBucket"
            | "PutBucketPolicy"
            | "DeleteBucketPolicy"
            | "PutBucketAcl"
            | "PutBucketPublicAccessBlock"
            | "DeleteBucketPublicAccessBlock"
            | "PutBucketEncryption"
            | "DeleteBucketEncryption" => {
                let Some(bucket) = text(&rp, "bucketName") else {
                    return;
                };
                let key = id(&bucket);
                if name == "DeleteBucket" {
                    self.buckets.remove(&key);
                    return;
                }
                let b = self.buckets.entry(key).or_insert_with(|| Bucket {
                    account: account.clone(),
                    region: region.clone(),
                    partial: name != "CreateBucket",
                    ..Bucket::default()
                });
                b.changed = time;
                match name {
                    "PutBucketPolicy" => {
                        b.policy_public = rp.get("bucketPolicy").is_some_and(policy_allows_anyone);
                    }
                    "DeleteBucketPolicy" => b.policy_public = false,
                    "PutBucketAcl" => b.acl_public = acl_grants_everyone(&rp),
                    "PutBucketPublicAccessBlock" => {
                        let c = rp.get("PublicAccessBlockConfiguration");
                        let on = |k: &str| {
                            c.and_then(|c| c.get(k)).is_some_and(|v| {
                                v.as_bool() == Some(true) || v.as_str() == Some("true")
                            })
                        };
                        b.blocks_public_access = Some(
                            on("BlockPublicPolicy")
                                && on("RestrictPublicBuckets")
                                && on("BlockPublicAcls")
                                && on("IgnorePublicAcls"),
                        );
                    }
                    "DeleteBucketPublicAccessBlock" => b.blocks_public_access = Some(false),
                    "PutBucketEncryption" => b.encryption = Some(true),
                    "DeleteBucketEncryption" => b.encryption = Some(false),
                    _ => {}
                }
            }
            "CreateSecurityGroup"
            | "DeleteSecurityGroup"
            | "AuthorizeSecurityGroupIngress"
            | "RevokeSecurityGroupIngress" => {
                let group = text(&re, "groupId").or_else(|| text(&rp, "groupId"));
                let Some(group) = group else { return };
                let key = id(&group);
                if name == "DeleteSecurityGroup" {
                    self.security_groups.remove(&key);
                    return;
                }
                let g = self
                    .security_groups
                    .entry(key)
                    .or_insert_with(|| SecurityGroup {
                        account: account.clone(),
                        region: region.clone(),
                        partial: name != "CreateSecurityGroup",
                        ..SecurityGroup::default()
                    });
                g.changed = time;
                for p in items(rp.get("ipPermissions")) {
                    let proto = text(p, "ipProtocol").unwrap_or_else(|| "-1".into());
                    let ports = match (text(p, "fromPort"), text(p, "toPort")) {
                        (Some(f), Some(t)) => format!("{f}-{t}"),
                        _ => "all".into(),
                    };
                    let world: Vec<String> = items(p.get("ipRanges"))
                        .into_iter()
                        .filter_map(|r| text(r, "cidrIp"))
                        .chain(
                            items(p.get("ipv6Ranges"))
                                .into_iter()
                                .filter_map(|r| text(r, "cidrIpv6")),
                        )
                        .filter(|c| c == "0.0.0.0/0" || c == "::/0")
                        .collect();
                    for cidr in world {
                        let rule = format!("{proto} {ports} from {cidr}");
                        if name == "RevokeSecurityGroupIngress" {
                            g.open_to_world.remove(&rule);
                        } else if name == "AuthorizeSecurityGroupIngress" {
                            g.open_to_world.insert(rule);
                        }
                    }
                }
            }
            "CreateUser"
            | "DeleteUser"
            | "EnableMFADevice"
            | "DeactivateMFADevice"
            | "CreateLoginProfile"
            | "DeleteLoginProfile" => {
                let Some(user) = text(&rp, "userName") else {
                    return;
                };
                let key = id(&user);
                if name == "DeleteUser" {
                    self.users.remove(&key);
                    return;
                }
                let u = self.users.entry(key).or_insert_with(|| User {
                    account: account.clone(),
                    partial: name != "CreateUser",
                    ..User::default()
                });
                u.changed = time;
                match name {
                    "CreateUser" => u.console_password = Some(false),
                    "EnableMFADevice" => u.mfa_devices += 1,
                    "DeactivateMFADevice" => u.mfa_devices = u.mfa_devices.saturating_sub(1),
                    "CreateLoginProfile" => u.console_password = Some(true),
                    "DeleteLoginProfile" => u.console_password = Some(false),
                    _ => {}
                }
            }
            "CreateAccessKey" => {
                let k = re.get("accessKey").cloned().unwrap_or(Value::Null);
                let Some(key_id) = text(&k, "accessKeyId") else {
                    return;
                };
                let entry = self.access_keys.entry(key_id).or_default();
                entry.account = account;
                entry.user = text(&k, "userName").or_else(|| text(&rp, "userName"));
                entry.created = text(&k, "createDate").or(Some(time));
                entry.status = text(&k, "status").or(Some("Active".into()));
                entry.partial = false;
            }
            "DeleteAccessKey" => {
                if let Some(k) = text(&rp, "accessKeyId") {
                    self.access_keys.remove(&k);
                }
            }
            "UpdateAccessKey" => {
                if let Some(k) = text(&rp, "accessKeyId") {
                    let entry = self.access_keys.entry(k).or_insert_with(|| AccessKey {
                        account: account.clone(),
                        partial: true,
                        ..AccessKey::default()
                    });
                    entry.status = text(&rp, "status");
                }
            }
            "CreateTrail" | "DeleteTrail" | "StartLogging" | "StopLogging" => {
                let Some(trail) = text(&rp, "name") else {
                    return;
                };
                // A trail is named by its name or its ARN: keep the name.
                let short = trail.rsplit('/').next().unwrap_or(&trail).to_string();
                let key = id(&short);
                if name == "DeleteTrail" {
                    self.trails.remove(&key);
                    return;
                }
                let t = self.trails.entry(key).or_insert_with(|| Trail {
                    account: account.clone(),
                    region: region.clone(),
                    partial: name != "CreateTrail",
                    ..Trail::default()
                });
                t.changed = time;
                t.logging = Some(match name {
                    "StartLogging" => true,
                    "StopLogging" | "CreateTrail" => false,
                    _ => t.logging.unwrap_or(false),
                });
            }
            "CreateKey"
            | "ScheduleKeyDeletion"
            | "CancelKeyDeletion"
            | "DisableKey"
            | "EnableKey" => {
                let key_id = re
                    .get("keyMetadata")
                    .and_then(|m| text(m, "keyId"))
                    .or_else(|| text(&rp, "keyId"));
                let Some(key_id) = key_id else { return };
                let short = key_id.rsplit('/').next().unwrap_or(&key_id).to_string();
                let k = self.kms_keys.entry(id(&short)).or_insert_with(|| KmsKey {
                    account: account.clone(),
                    region: region.clone(),
                    partial: name != "CreateKey",
                    ..KmsKey::default()
                });
                k.changed = time;
                match name {
                    "ScheduleKeyDeletion" => {
                        k.pending_deletion =
                            Some(text(&re, "deletionDate").unwrap_or_else(|| "scheduled".into()));
                    }
                    "CancelKeyDeletion" => k.pending_deletion = None,
                    "DisableKey" => k.disabled = true,
                    "EnableKey" => k.disabled = false,
                    _ => {}
                }
            }
            "CreateVolume" => {
                let vol = text(&re, "volumeId").unwrap_or_else(|| e.event_id.to_string());
                let encrypted = re
                    .get("encrypted")
                    .or_else(|| rp.get("encrypted"))
                    .and_then(Value::as_bool);
                self.created.insert(
                    id(&vol),
                    Created {
                        kind: "ebs-volume".into(),
                        account,
                        region,
                        encrypted: Some(encrypted.unwrap_or(false)),
                        created: time,
                    },
                );
            }
            "CreateDBInstance" => {
                let Some(db) = text(&rp, "dBInstanceIdentifier") else {
                    return;
                };
                let encrypted = rp.get("storageEncrypted").and_then(Value::as_bool);
                self.created.insert(
                    id(&db),
                    Created {
                        kind: "rds-instance".into(),
                        account,
                        region,
                        encrypted: Some(encrypted.unwrap_or(false)),
                        created: time,
                    },
                );
            }
            _ => {}
        }
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

/// The state as a [`Detector`](crate::detect::Detector): it raises no
/// alerts, and keeps the shared state up to date with every record the
/// pipeline sees (the server's dashboard reads it).
#[derive(Debug, Clone, Default)]
pub struct PostureDetector(pub std::sync::Arc<std::sync::Mutex<Posture>>);

impl crate::detect::Detector for PostureDetector {
    fn name(&self) -> &str {
        "posture"
    }

    fn observe(
        &mut self,
        r: &Record<'_>,
        _seen: &crate::detect::Seen,
        _out: &mut Vec<crate::alert::Alert>,
    ) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).apply(r);
    }

    fn advance(&mut self, _minute: i64, _out: &mut Vec<crate::alert::Alert>) {}

    fn finish(&mut self, _out: &mut Vec<crate::alert::Alert>) {}

    /// Rebuilt from the lake when the server starts: nothing to keep.
    fn save(&self) -> Result<Vec<u8>, crate::detect::StateError> {
        Ok(Vec::new())
    }

    fn restore(&mut self, _state: &[u8]) -> Result<(), crate::detect::StateError> {
        Ok(())
    }
}
