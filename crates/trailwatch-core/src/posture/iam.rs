//! IAM users (MFA devices, console passwords) and long-term access keys
//! (created, deactivated, deleted, and when each was last used).

use serde_json::Value;

use super::{AccessKey, Call, Posture, User, text};

pub(super) const CHANGES: &[&str] = &[
    "CreateUser",
    "DeleteUser",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "CreateLoginProfile",
    "DeleteLoginProfile",
    "CreateAccessKey",
    "DeleteAccessKey",
    "UpdateAccessKey",
];

/// A long-term key (`AKIA…`) was used at `time` by `user`: its last use,
/// and a partial entry for a key never seen created.
pub(super) fn key_used(p: &mut Posture, key: &str, account: &str, user: Option<&str>, time: &str) {
    let k = p
        .access_keys
        .entry(key.to_string())
        .or_insert_with(|| AccessKey {
            account: account.to_string(),
            user: user.map(str::to_string),
            partial: true,
            ..AccessKey::default()
        });
    if k.last_used.as_deref().is_none_or(|t| t < time) {
        k.last_used = Some(time.to_string());
    }
}

pub(super) fn apply(p: &mut Posture, c: &Call<'_>) {
    match c.name {
        "CreateAccessKey" => {
            let k = c.re.get("accessKey").cloned().unwrap_or(Value::Null);
            let Some(key_id) = text(&k, "accessKeyId") else {
                return;
            };
            let entry = p.access_keys.entry(key_id).or_default();
            entry.account = c.account.clone();
            entry.user = text(&k, "userName").or_else(|| text(&c.rp, "userName"));
            entry.created = text(&k, "createDate").or(Some(c.time.clone()));
            entry.status = text(&k, "status").or(Some("Active".into()));
            entry.partial = false;
        }
        "DeleteAccessKey" => {
            if let Some(k) = text(&c.rp, "accessKeyId") {
                p.access_keys.remove(&k);
            }
        }
        "UpdateAccessKey" => {
            if let Some(k) = text(&c.rp, "accessKeyId") {
                let entry = p.access_keys.entry(k).or_insert_with(|| AccessKey {
                    account: c.account.clone(),
                    partial: true,
                    ..AccessKey::default()
                });
                entry.status = text(&c.rp, "status");
            }
        }
        _ => user(p, c),
    }
}

fn user(p: &mut Posture, c: &Call<'_>) {
    let Some(user) = text(&c.rp, "userName") else {
        return;
    };
    let key = c.key(&user);
    if c.name == "DeleteUser" {
        p.users.remove(&key);
        return;
    }
    let u = p.users.entry(key).or_insert_with(|| User {
        account: c.account.clone(),
        partial: c.name != "CreateUser",
        ..User::default()
    });
    u.changed = c.time.clone();
    match c.name {
        "CreateUser" => u.console_password = Some(false),
        "EnableMFADevice" => u.mfa_devices += 1,
        "DeactivateMFADevice" => u.mfa_devices = u.mfa_devices.saturating_sub(1),
        "CreateLoginProfile" => u.console_password = Some(true),
        "DeleteLoginProfile" => u.console_password = Some(false),
        _ => {}
    }
}
