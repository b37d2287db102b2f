//! What reverses one evidence event: the narrowest change that undoes what
//! the call did, named by the ids the event itself records. Nothing here
//! deletes data or users: a public bucket is blocked (its policy kept for
//! review), a key is deactivated (never deleted), a rule is revoked only
//! for the world-open ranges the call added.

use serde_json::{Map, Value, json};

use super::ApiCall;
use super::evidence::{Evidence, text};
use super::history::{History, trail_name};

/// The kinds of action respond can take (`--only` names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    BlockPublicAccess,
    RevokeIngress,
    StartLogging,
    RestoreEventSelectors,
    CreateDetector,
    EnableDetector,
    DeactivateAccessKey,
    DetachUserPolicy,
    DetachRolePolicy,
    DeleteUserPolicy,
    DeleteRolePolicy,
    DeleteLoginProfile,
    RestoreDefaultPolicyVersion,
}

impl ActionKind {
    pub const ALL: [ActionKind; 13] = [
        ActionKind::BlockPublicAccess,
        ActionKind::RevokeIngress,
        ActionKind::StartLogging,
        ActionKind::RestoreEventSelectors,
        ActionKind::CreateDetector,
        ActionKind::EnableDetector,
        ActionKind::DeactivateAccessKey,
        ActionKind::DetachUserPolicy,
        ActionKind::DetachRolePolicy,
        ActionKind::DeleteUserPolicy,
        ActionKind::DeleteRolePolicy,
        ActionKind::DeleteLoginProfile,
        ActionKind::RestoreDefaultPolicyVersion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::BlockPublicAccess => "block-public-access",
            ActionKind::RevokeIngress => "revoke-ingress",
            ActionKind::StartLogging => "start-logging",
            ActionKind::RestoreEventSelectors => "restore-event-selectors",
            ActionKind::CreateDetector => "create-detector",
            ActionKind::EnableDetector => "enable-detector",
            ActionKind::DeactivateAccessKey => "deactivate-access-key",
            ActionKind::DetachUserPolicy => "detach-user-policy",
            ActionKind::DetachRolePolicy => "detach-role-policy",
            ActionKind::DeleteUserPolicy => "delete-user-policy",
            ActionKind::DeleteRolePolicy => "delete-role-policy",
            ActionKind::DeleteLoginProfile => "delete-login-profile",
            ActionKind::RestoreDefaultPolicyVersion => "restore-default-policy-version",
        }
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The calls [`reversal`] knows a reversal of (or says why there is none).
pub const REVERSIBLE_CALLS: [&str; 21] = [
    "PutBucketPolicy",
    "PutBucketAcl",
    "DeleteBucketPublicAccessBlock",
    "PutBucketPublicAccessBlock",
    "AuthorizeSecurityGroupIngress",
    "StopLogging",
    "PutEventSelectors",
    "DeleteDetector",
    "UpdateDetector",
    "CreateAccessKey",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "PutUserPolicy",
    "PutRolePolicy",
    "CreateLoginProfile",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateUser",
    "DeleteTrail",
    "UpdateTrail",
    "DeleteEventDataStore",
];

/// What one evidence event calls for.
#[derive(Debug, Clone, PartialEq)]
pub enum Reversal {
    /// This call reverses it.
    Act {
        kind: ActionKind,
        /// `None` for global services (IAM).
        region: Option<String>,
        target: String,
        call: ApiCall,
        reason: String,
    },
    /// A reversal is known, but the evidence does not name what it needs.
    Refuse { kind: ActionKind, reason: String },
    /// Nothing to reverse, or nothing respond reverses automatically.
    Nothing(String),
}

fn call(service: &str, operation: &str, parameters: Value) -> ApiCall {
    ApiCall {
        service: service.into(),
        operation: operation.into(),
        parameters,
    }
}

/// The reversal of `ev`; `history` holds earlier state the trail recorded
/// (event selectors, default policy versions).
pub fn reversal(ev: &Evidence, history: &History) -> Reversal {
    if let Some(code) = &ev.error_code {
        return Reversal::Nothing(format!(
            "{} failed ({code}): it changed nothing",
            ev.event_name
        ));
    }
    match ev.event_name.as_str() {
        "PutBucketPolicy"
        | "PutBucketAcl"
        | "DeleteBucketPublicAccessBlock"
        | "PutBucketPublicAccessBlock" => bucket(ev),
        "AuthorizeSecurityGroupIngress" => ingress(ev),
        "StopLogging" => start_logging(ev),
        "PutEventSelectors" => event_selectors(ev, history),
        "DeleteDetector" | "UpdateDetector" => detector(ev),
        "CreateAccessKey" => access_key(ev),
        "AttachUserPolicy" | "AttachRolePolicy" | "PutUserPolicy" | "PutRolePolicy" => policy(ev),
        "CreateLoginProfile" => login_profile(ev),
        "CreatePolicyVersion" | "SetDefaultPolicyVersion" => policy_version(ev, history),
        "CreateUser" => Reversal::Nothing(
            "users are never deleted: the keys, passwords and policies given to them are \
             reversed from their own evidence"
                .into(),
        ),
        "DeleteTrail" | "UpdateTrail" | "DeleteEventDataStore" => Reversal::Nothing(format!(
            "{}: recreating or reconfiguring a trail needs its bucket, key and settings, \
             which a person must choose",
            ev.event_name
        )),
        other => Reversal::Nothing(format!("{other}: no automatic reversal is known")),
    }
}

/// Does this bucket policy allow anyone (`Principal: "*"` or
/// `{"AWS": "*"}`) to do something?
fn policy_is_public(policy: &Value) -> bool {
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    statements.iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let anyone = |p: &Value| match p {
            Value::String(s) => s == "*",
            Value::Array(list) => list.iter().any(|v| v.as_str() == Some("*")),
            _ => false,
        };
        let principal = match s.get("Principal") {
            Some(Value::Object(m)) => m.get("AWS").is_some_and(anyone),
            Some(p) => anyone(p),
            None => false,
        };
        allow && principal
    })
}

/// Why the bucket event made the bucket public, or `None`.
fn bucket_exposure(ev: &Evidence) -> Option<String> {
    match ev.event_name.as_str() {
        "PutBucketPolicy" => {
            let policy = match ev.request.get("bucketPolicy") {
                Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
                Some(v) => v.clone(),
                None => Value::Null,
            };
            policy_is_public(&policy)
                .then(|| "its policy allows anyone (Principal \"*\")".to_string())
        }
        "PutBucketAcl" => {
            // The grant (or canned ACL) can sit in several places of the
            // request; any mention of the all-users groups or a public
            // canned ACL is a public grant.
            let text = ev.request.to_string();
            [
                "AllUsers",
                "AuthenticatedUsers",
                "public-read",
                "authenticated-read",
            ]
            .iter()
            .find(|w| text.contains(*w))
            .map(|w| format!("its ACL grants {w}"))
        }
        "DeleteBucketPublicAccessBlock" => Some("its public access block was deleted".into()),
        _ => {
            let conf = ev.request.get("PublicAccessBlockConfiguration")?;
            let off = [
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            ]
            .iter()
            .any(|k| conf.get(k).and_then(Value::as_bool) == Some(false));
            off.then(|| "its public access block was turned off".to_string())
        }
    }
}

fn bucket(ev: &Evidence) -> Reversal {
    let kind = ActionKind::BlockPublicAccess;
    let Some(why) = bucket_exposure(ev) else {
        return Reversal::Nothing(format!("{} made the bucket no more public", ev.event_name));
    };
    let Some(bucket) = ev.param("bucketName") else {
        return Reversal::Refuse {
            kind,
            reason: "the evidence does not name the bucket".into(),
        };
    };
    let kept = if ev.event_name == "PutBucketPolicy" {
        "; the policy stays for review"
    } else {
        ""
    };
    Reversal::Act {
        kind,
        region: Some(ev.region.clone()),
        target: format!("arn:aws:s3:::{bucket}"),
        call: call(
            "s3",
            "PutPublicAccessBlock",
            json!({
                "Bucket": bucket,
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true,
                    "IgnorePublicAcls": true,
                    "BlockPublicPolicy": true,
                    "RestrictPublicBuckets": true,
                }
            }),
        ),
        reason: format!(
            "{} made bucket {bucket} public ({why}): block all public access to it{kept}",
            ev.event_name
        ),
    }
}

fn is_world(cidr: &str) -> bool {
    cidr.ends_with("/0")
}

/// A port as the API takes it (events record numbers, sometimes text).
fn port(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `items` of a CloudTrail list (`{"items": [...]}`), or a bare list.
fn items(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Object(m)) => m
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        Some(Value::Array(list)) => list.clone(),
        _ => Vec::new(),
    }
}

/// One permission of the API's `IpPermissions`, keeping only `ranges`.
fn permission(
    protocol: &str,
    from: Option<i64>,
    to: Option<i64>,
    v4: Vec<Value>,
    v6: Vec<Value>,
) -> Value {
    let mut p = Map::new();
    p.insert("IpProtocol".into(), json!(protocol));
    if let Some(f) = from {
        p.insert("FromPort".into(), json!(f));
    }
    if let Some(t) = to {
        p.insert("ToPort".into(), json!(t));
    }
    if !v4.is_empty() {
        p.insert("IpRanges".into(), Value::Array(v4));
    }
    if !v6.is_empty() {
        p.insert("Ipv6Ranges".into(), Value::Array(v6));
    }
    Value::Object(p)
}

/// The permissions the event added that are open to the world, with only
/// their world-open ranges (a private range added in the same call stays).
pub(crate) fn world_permissions(request: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for p in items(request.get("ipPermissions")) {
        let v4: Vec<Value> = items(p.get("ipRanges"))
            .iter()
            .filter_map(|r| text(r, "cidrIp"))
            .filter(|c| is_world(c))
            .map(|c| json!({"CidrIp": c}))
            .collect();
        let v6: Vec<Value> = items(p.get("ipv6Ranges"))
            .iter()
            .filter_map(|r| text(r, "cidrIpv6"))
            .filter(|c| is_world(c))
            .map(|c| json!({"CidrIpv6": c}))
            .collect();
        if v4.is_empty() && v6.is_empty() {
            continue;
        }
        let protocol = text(&p, "ipProtocol").unwrap_or("-1");
        out.push(permission(
            protocol,
            port(p.get("fromPort")),
            port(p.get("toPort")),
            v4,
            v6,
        ));
    }
    // The single-rule form (`aws ec2 authorize-security-group-ingress
    // --cidr`): the rule is in the request's top level.
    if let Some(cidr) = text(request, "cidrIp").filter(|c| is_world(c)) {
        let protocol = text(request, "ipProtocol").unwrap_or("-1");
        out.push(permission(
            protocol,
            port(request.get("fromPort")),
            port(request.get("toPort")),
            vec![json!({"CidrIp": cidr})],
            Vec::new(),
        ));
    }
    out
}

fn ingress(ev: &Evidence) -> Reversal {
    let kind = ActionKind::RevokeIngress;
    let permissions = world_permissions(&ev.request);
    if permissions.is_empty() {
        return Reversal::Nothing("the rule added opens no port to the world".into());
    }
    let Some(group) = ev.param("groupId") else {
        return Reversal::Refuse {
            kind,
            reason: "the evidence names the security group by name only, not by id".into(),
        };
    };
    let ports: Vec<String> = permissions
        .iter()
        .map(|p| {
            let proto = p["IpProtocol"].as_str().unwrap_or("-1");
            match (p.get("FromPort"), p.get("ToPort")) {
                (Some(f), Some(t)) if f == t => format!("{proto}/{f}"),
                (Some(f), Some(t)) => format!("{proto}/{f}-{t}"),
                _ => proto.to_string(),
            }
        })
        .collect();
    Reversal::Act {
        kind,
        region: Some(ev.region.clone()),
        target: group.to_string(),
        call: call(
            "ec2",
            "RevokeSecurityGroupIngress",
            json!({"GroupId": group, "IpPermissions": permissions}),
        ),
        reason: format!(
            "the call opened {} of {group} to the world: revoke exactly that, the group's other rules stay",
            ports.join(", ")
        ),
    }
}

/// The region of a trail ARN, else the event's.
fn trail_region(name: &str, ev: &Evidence) -> String {
    name.strip_prefix("arn:")
        .and_then(|rest| rest.split(':').nth(2))
        .filter(|r| !r.is_empty())
        .unwrap_or(&ev.region)
        .to_string()
}

fn start_logging(ev: &Evidence) -> Reversal {
    let Some(name) = ev.param("name") else {
        return Reversal::Refuse {
            kind: ActionKind::StartLogging,
            reason: "the evidence does not name the trail".into(),
        };
    };
    Reversal::Act {
        kind: ActionKind::StartLogging,
        region: Some(trail_region(name, ev)),
        target: name.to_string(),
        call: call("cloudtrail", "StartLogging", json!({"Name": name})),
        reason: format!("trail {} was stopped: start it again", trail_name(name)),
    }
}

/// A CloudTrail record's camelCase structure as the API's PascalCase.
fn pascal(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let key = c
                        .next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default();
                    (key, pascal(v))
                })
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(pascal).collect()),
        other => other.clone(),
    }
}

fn event_selectors(ev: &Evidence, history: &History) -> Reversal {
    let kind = ActionKind::RestoreEventSelectors;
    let Some(trail) = ev.param("trailName") else {
        return Reversal::Refuse {
            kind,
            reason: "the evidence does not name the trail".into(),
        };
    };
    let (selectors, whence) = match history.selectors_before(
        ev.account.as_deref(),
        trail,
        &ev.event_time,
    ) {
        Some((selectors, at)) => (selectors.clone(), format!("as recorded at {at}")),
        None => (
            json!({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true}]}),
            "no earlier selectors are in the trail: CloudTrail's default, all management events"
                .to_string(),
        ),
    };
    let mut params = Map::new();
    params.insert("TrailName".into(), json!(trail));
    if let Value::Object(m) = pascal(&selectors) {
        params.extend(m);
    }
    Reversal::Act {
        kind,
        region: Some(trail_region(trail, ev)),
        target: trail.to_string(),
        call: call("cloudtrail", "PutEventSelectors", Value::Object(params)),
        reason: format!(
            "the event selectors of trail {} were replaced: put back the ones before ({whence})",
            trail_name(trail)
        ),
    }
}

fn detector(ev: &Evidence) -> Reversal {
    if ev.event_name == "DeleteDetector" {
        let old = ev.param("detectorId").unwrap_or("?");
        return Reversal::Act {
            kind: ActionKind::CreateDetector,
            region: Some(ev.region.clone()),
            target: format!("guardduty:{}", ev.region),
            call: call("guardduty", "CreateDetector", json!({"Enable": true})),
            reason: format!(
                "GuardDuty detector {old} was deleted in {}: create an enabled one (its findings are gone; \
                 a new detector watches from now on)",
                ev.region
            ),
        };
    }
    if ev.request.get("enable").and_then(Value::as_bool) != Some(false) {
        return Reversal::Nothing("the detector was not disabled".into());
    }
    let Some(id) = ev.param("detectorId") else {
        return Reversal::Refuse {
            kind: ActionKind::EnableDetector,
            reason: "the evidence does not name the detector".into(),
        };
    };
    Reversal::Act {
        kind: ActionKind::EnableDetector,
        region: Some(ev.region.clone()),
        target: id.to_string(),
        call: call(
            "guardduty",
            "UpdateDetector",
            json!({"DetectorId": id, "Enable": true}),
        ),
        reason: format!("GuardDuty detector {id} was disabled: enable it"),
    }
}

/// The IAM user a user-scoped call acted on: `userName`, else the caller
/// (an IAM user acting on itself).
fn user_of(ev: &Evidence) -> Option<&str> {
    ev.param("userName").or(match ev.caller_type.as_deref() {
        Some("IAMUser") => ev.caller_user.as_deref(),
        _ => None,
    })
}

fn access_key(ev: &Evidence) -> Reversal {
    let kind = ActionKind::DeactivateAccessKey;
    let key = ev.response_text(&["accessKey", "accessKeyId"]);
    if ev.caller_type.as_deref() == Some("Root") && ev.param("userName").is_none() {
        return Reversal::Nothing(format!(
            "a root user's access key can only be deactivated by the root user: signed in as root, \
             run `aws iam update-access-key --access-key-id {} --status Inactive`",
            key.unwrap_or("<key>")
        ));
    }
    let (Some(key), Some(user)) = (key, user_of(ev)) else {
        return Reversal::Refuse {
            kind,
            reason: "the evidence does not name the key and its user (no responseElements)".into(),
        };
    };
    Reversal::Act {
        kind,
        region: None,
        target: key.to_string(),
        call: call(
            "iam",
            "UpdateAccessKey",
            json!({"UserName": user, "AccessKeyId": key, "Status": "Inactive"}),
        ),
        reason: format!(
            "access key {key} was created for {user}: deactivate it (it is not deleted)"
        ),
    }
}

fn policy(ev: &Evidence) -> Reversal {
    let on_user = ev.event_name.contains("User");
    let (who_param, who_api) = if on_user {
        ("userName", "UserName")
    } else {
        ("roleName", "RoleName")
    };
    let attach = ev.event_name.starts_with("Attach");
    let kind = match (attach, on_user) {
        (true, true) => ActionKind::DetachUserPolicy,
        (true, false) => ActionKind::DetachRolePolicy,
        (false, true) => ActionKind::DeleteUserPolicy,
        (false, false) => ActionKind::DeleteRolePolicy,
    };
    let (policy_param, policy_api) = if attach {
        ("policyArn", "PolicyArn")
    } else {
        ("policyName", "PolicyName")
    };
    let (Some(who), Some(policy)) = (ev.param(who_param), ev.param(policy_param)) else {
        return Reversal::Refuse {
            kind,
            reason: format!("the evidence does not name the {who_param} and {policy_param}"),
        };
    };
    let operation = match kind {
        ActionKind::DetachUserPolicy => "DetachUserPolicy",
        ActionKind::DetachRolePolicy => "DetachRolePolicy",
        ActionKind::DeleteUserPolicy => "DeleteUserPolicy",
        _ => "DeleteRolePolicy",
    };
    let reason = if attach {
        format!("{policy} was attached to {who}: detach it (the policy itself stays)")
    } else {
        format!(
            "inline policy {policy} was put on {who}: delete it; its document is kept in evidence event {}",
            ev.event_id
        )
    };
    Reversal::Act {
        kind,
        region: None,
        target: who.to_string(),
        call: call("iam", operation, json!({who_api: who, policy_api: policy})),
        reason,
    }
}

fn login_profile(ev: &Evidence) -> Reversal {
    let Some(user) = ev.param("userName") else {
        return Reversal::Refuse {
            kind: ActionKind::DeleteLoginProfile,
            reason: "the evidence does not name the user".into(),
        };
    };
    Reversal::Act {
        kind: ActionKind::DeleteLoginProfile,
        region: None,
        target: user.to_string(),
        call: call("iam", "DeleteLoginProfile", json!({"UserName": user})),
        reason: format!(
            "a console password was created for {user}: remove it (the user and its other access stay)"
        ),
    }
}

fn policy_version(ev: &Evidence, history: &History) -> Reversal {
    let kind = ActionKind::RestoreDefaultPolicyVersion;
    if ev.event_name == "CreatePolicyVersion"
        && ev.request.get("setAsDefault").and_then(Value::as_bool) != Some(true)
    {
        return Reversal::Nothing("the new policy version was not made the default".into());
    }
    let Some(arn) = ev.param("policyArn") else {
        return Reversal::Refuse {
            kind,
            reason: "the evidence does not name the policy".into(),
        };
    };
    let Some((version, at)) = history.default_before(arn, &ev.event_time) else {
        return Reversal::Refuse {
            kind,
            reason: format!(
                "the trail does not record which version of {arn} was the default before: see \
                 `aws iam list-policy-versions --policy-arn {arn}` and set one with \
                 `aws iam set-default-policy-version`"
            ),
        };
    };
    Reversal::Act {
        kind,
        region: None,
        target: arn.to_string(),
        call: call(
            "iam",
            "SetDefaultPolicyVersion",
            json!({"PolicyArn": arn, "VersionId": version}),
        ),
        reason: format!(
            "a new default version of {arn} was set: make {version} (the default since {at}) the default again; \
             the new version stays for review"
        ),
    }
}
