//! What one call did, as an investigator files it: the resources it
//! touched, what it created that outlives the incident (users, keys,
//! roles, passwords, policies, shared snapshots), and whether it turned
//! logging, monitoring or detection off.

use serde::Serialize;

use crate::correlate::identity::json_str;
use crate::event::Event;

/// Something a call created or granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Created {
    pub kind: &'static str,
    pub name: String,
    pub event_id: String,
}

/// Calls that turn off or delete logging, monitoring or detection.
pub const TAMPERING: &[&str] = &[
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "DeleteEventDataStore",
    "DeleteDetector",
    "UpdateDetector",
    "DisassociateFromMasterAccount",
    "DeleteMembers",
    "DeleteFlowLogs",
    "StopConfigurationRecorder",
    "DeleteConfigurationRecorder",
    "DeleteDeliveryChannel",
    "DisableSecurityHub",
    "DeleteAlarms",
    "DisableAlarmActions",
    "DeleteLogGroup",
    "DeleteLogStream",
    "DeleteMetricFilter",
    "DeleteAnalyzer",
    "DisableEbsEncryptionByDefault",
];

/// Whether the call turns logging, monitoring or detection off.
pub fn is_tampering(name: &str) -> bool {
    TAMPERING.contains(&name)
}

fn params(e: &Event<'_>) -> Option<serde_json::Value> {
    serde_json::from_str(e.request_parameters?.get()).ok()
}

/// What the call created or granted, if it is one of the calls that leave
/// something behind (persistence) and it succeeded.
pub fn created(e: &Event<'_>) -> Option<Created> {
    if e.error_code.is_some() {
        return None;
    }
    let name = e.event_name.as_deref()?;
    let p = params(e).unwrap_or(serde_json::Value::Null);
    let get = |k: &str| json_str(&p, &[k]).unwrap_or("?");
    let (kind, what) = match name {
        "CreateUser" => ("user", get("userName").to_string()),
        "CreateAccessKey" => {
            let r: serde_json::Value = e
                .response_elements
                .and_then(|r| serde_json::from_str(r.get()).ok())
                .unwrap_or_default();
            let key = json_str(&r, &["accessKey", "accessKeyId"]).unwrap_or("?");
            let user = json_str(&r, &["accessKey", "userName"]).unwrap_or(get("userName"));
            ("access-key", format!("{key} of {user}"))
        }
        "CreateLoginProfile" | "UpdateLoginProfile" => ("login-profile", get("userName").into()),
        "CreateRole" => ("role", get("roleName").into()),
        "UpdateAssumeRolePolicy" => ("role-trust-policy", get("roleName").into()),
        "CreatePolicy" => ("policy", get("policyName").into()),
        "CreatePolicyVersion" => ("policy-version", get("policyArn").into()),
        "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" => {
            let to = target(&p);
            ("policy-attachment", format!("{} to {to}", get("policyArn")))
        }
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" => {
            let to = target(&p);
            ("inline-policy", format!("{} on {to}", get("policyName")))
        }
        "ModifySnapshotAttribute" if shares(&p, "createVolumePermission") => {
            ("snapshot-shared", get("snapshotId").into())
        }
        "ModifyDBSnapshotAttribute" | "ModifyDBClusterSnapshotAttribute"
            if p.get("valuesToAdd").is_some() =>
        {
            let id = json_str(&p, &["dBSnapshotIdentifier"])
                .or_else(|| json_str(&p, &["dBClusterSnapshotIdentifier"]))
                .unwrap_or("?");
            ("db-snapshot-shared", id.into())
        }
        "ModifyImageAttribute" if shares(&p, "launchPermission") => {
            ("image-shared", get("imageId").into())
        }
        _ => return None,
    };
    Some(Created {
        kind,
        name: what,
        event_id: e.event_id.to_string(),
    })
}

/// `user X`, `role X` or `group X`: whom a policy call was about.
fn target(p: &serde_json::Value) -> String {
    for (key, kind) in [
        ("userName", "user"),
        ("roleName", "role"),
        ("groupName", "group"),
    ] {
        if let Some(v) = json_str(p, &[key]) {
            return format!("{kind} {v}");
        }
    }
    "?".into()
}

/// Whether an EC2 attribute change adds a permission (shares the snapshot
/// or image with another account or with everyone).
fn shares(p: &serde_json::Value, attribute: &str) -> bool {
    p.get(attribute)
        .and_then(|a| a.get("add"))
        .is_some_and(|add| !add.is_null() && add != &serde_json::json!({}))
}

/// The request parameters that name a resource when `resources` does not:
/// (parameter, how to name it). `{a}` is the event's account.
const NAMED_BY: &[(&str, &str)] = &[
    ("bucketName", "arn:aws:s3:::{v}"),
    ("roleArn", "{v}"),
    ("userName", "arn:aws:iam::{a}:user/{v}"),
    ("roleName", "arn:aws:iam::{a}:role/{v}"),
    ("groupName", "arn:aws:iam::{a}:group/{v}"),
    ("policyArn", "{v}"),
    ("secretId", "secret {v}"),
    ("snapshotId", "snapshot {v}"),
    ("dBSnapshotIdentifier", "db-snapshot {v}"),
    ("groupId", "security-group {v}"),
    ("instanceId", "instance {v}"),
    ("functionName", "lambda {v}"),
    ("keyId", "kms {v}"),
    ("detectorId", "guardduty-detector {v}"),
    ("configurationRecorderName", "config-recorder {v}"),
    ("logGroupName", "log-group {v}"),
    ("name", "{v}"),
];

/// The resources a call touched, each once: `resources[].ARN`, with S3
/// objects rolled up to their bucket, else the first request parameter
/// that names one.
pub fn resources(e: &Event<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in e.resources.iter().flatten() {
        if let Some(arn) = r.arn.as_deref() {
            let rolled = bucket_of(arn).unwrap_or(arn).to_string();
            if !out.contains(&rolled) {
                out.push(rolled);
            }
        }
    }
    if !out.is_empty() {
        return out;
    }
    let Some(p) = params(e) else { return out };
    let account = e.account().unwrap_or_default();
    for (key, form) in NAMED_BY {
        if let Some(v) = json_str(&p, &[key]).filter(|v| !v.is_empty()) {
            // A parameter that holds an ARN already names the resource.
            let form = if v.starts_with("arn:") { "{v}" } else { form };
            out.push(form.replace("{a}", account).replace("{v}", v));
            break;
        }
    }
    out
}

/// `arn:aws:s3:::BUCKET` for an S3 object's ARN.
fn bucket_of(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:s3:::")?;
    let slash = rest.find('/')?;
    Some(&arn[.."arn:aws:s3:::".len() + slash])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::tests_support::event;

    fn call(name: &str, params: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.08","eventTime":"2026-04-01T00:00:00Z","awsRegion":"us-east-1","eventID":"e1","eventType":"AwsApiCall","eventName":"{name}","recipientAccountId":"111111111111","requestParameters":{params}}}"#
        )
    }

    #[test]
    fn s3_objects_roll_up_to_their_bucket() {
        let raw = r#"{"eventVersion":"1.08","eventTime":"2026-04-01T00:00:00Z","awsRegion":"us-east-1","eventID":"e1","eventType":"AwsApiCall","eventName":"GetObject","resources":[{"ARN":"arn:aws:s3:::b/k/1.csv"},{"ARN":"arn:aws:s3:::b"}]}"#;
        assert_eq!(event(raw, resources), vec!["arn:aws:s3:::b"]);
    }

    #[test]
    fn a_request_parameter_names_the_resource_when_resources_is_absent() {
        let raw = call("GetSecretValue", r#"{"secretId":"prod/db"}"#);
        assert_eq!(event(&raw, resources), vec!["secret prod/db"]);
        let raw = call("CreateUser", r#"{"userName":"svc"}"#);
        assert_eq!(
            event(&raw, resources),
            vec!["arn:aws:iam::111111111111:user/svc"]
        );
    }

    #[test]
    fn sharing_a_snapshot_is_created_and_unsharing_is_not() {
        let raw = call(
            "ModifySnapshotAttribute",
            r#"{"snapshotId":"snap-1","createVolumePermission":{"add":{"items":[{"userId":"999999999999"}]}}}"#,
        );
        let c = event(&raw, created).unwrap();
        assert_eq!((c.kind, c.name.as_str()), ("snapshot-shared", "snap-1"));
        let raw = call(
            "ModifySnapshotAttribute",
            r#"{"snapshotId":"snap-1","createVolumePermission":{"remove":{"items":[{"userId":"999999999999"}]}}}"#,
        );
        assert_eq!(event(&raw, created), None);
    }

    #[test]
    fn a_policy_attachment_names_the_policy_and_its_target() {
        let raw = call(
            "AttachUserPolicy",
            r#"{"userName":"svc","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}"#,
        );
        let c = event(&raw, created).unwrap();
        assert_eq!(
            c.name,
            "arn:aws:iam::aws:policy/AdministratorAccess to user svc"
        );
    }
}
