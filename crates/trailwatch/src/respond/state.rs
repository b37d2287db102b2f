//! Before each change, the current state: an action whose end state is
//! already there is `already-done` (so a second `--apply` changes
//! nothing), a resource that is gone is a failure, and a security group
//! that lost some of the world-open ranges since the plan is revoked only
//! for those it still has.

use serde_json::{Value, json};
use trailwatch_core::respond::{Action, ActionKind, ApiCall};

use super::client::{Aws, CallError, Reply};

/// What the current state says about an action.
#[derive(Debug, PartialEq)]
pub enum Now {
    /// Already as the action would leave it (why).
    Done(String),
    /// To do, with this call (the planned one, or a narrowed one).
    ToDo(ApiCall),
}

fn param<'a>(call: &'a ApiCall, name: &str) -> Result<&'a str, CallError> {
    call.parameters
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| CallError {
            code: "BadPlan".into(),
            message: format!("the plan's {} has no {name}", call.operation),
        })
}

/// Texts of every `name` element below the XML answer's `within` elements.
fn texts(reply: &Reply, within: &str, name: &str) -> Vec<String> {
    let mut nodes = Vec::new();
    if let Some(x) = reply.xml() {
        x.find_all(within, &mut nodes);
    }
    nodes
        .iter()
        .flat_map(|n| {
            let mut found = Vec::new();
            n.find_all(name, &mut found);
            found
                .into_iter()
                .map(|f| f.text.clone())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Where an action acts: the account (for its role) and the region.
struct At<'a> {
    account: Option<&'a str>,
    region: &'a str,
}

/// What a state read says: `Some(why)` when the action is already in
/// effect, `None` when it is still to do.
type Already = Result<Option<String>, CallError>;

/// Read the current state for `action`.
pub async fn current(aws: &Aws, action: &Action, kind: ActionKind) -> Result<Now, CallError> {
    let call = action.api_calls.first().ok_or_else(|| CallError {
        code: "BadPlan".into(),
        message: "the action has no API call".into(),
    })?;
    if kind == ActionKind::RevokeIngress {
        return revoke_ingress(aws, action, call).await;
    }
    let at = At {
        account: action.account.as_deref(),
        region: action.region.as_deref().unwrap_or("us-east-1"),
    };
    let already = match kind {
        ActionKind::BlockPublicAccess => public_access_blocked(aws, &at, call).await,
        ActionKind::StartLogging | ActionKind::RestoreEventSelectors => {
            trail_state(aws, &at, call, kind).await
        }
        ActionKind::CreateDetector | ActionKind::EnableDetector => {
            detector_state(aws, &at, call, kind).await
        }
        ActionKind::DeactivateAccessKey => key_state(aws, &at, call).await,
        ActionKind::DetachUserPolicy
        | ActionKind::DetachRolePolicy
        | ActionKind::DeleteUserPolicy
        | ActionKind::DeleteRolePolicy => policy_state(aws, &at, call, kind).await,
        ActionKind::DeleteLoginProfile => login_profile_state(aws, &at, call).await,
        ActionKind::RestoreDefaultPolicyVersion => default_version_state(aws, &at, call).await,
        ActionKind::RevokeIngress => Ok(None),
    }?;
    Ok(match already {
        Some(why) => Now::Done(why),
        None => Now::ToDo(call.clone()),
    })
}

async fn public_access_blocked(aws: &Aws, at: &At<'_>, call: &ApiCall) -> Already {
    let bucket = param(call, "Bucket")?;
    let answer = aws
        .s3_bucket(
            at.region,
            at.account,
            "GET",
            bucket,
            "publicAccessBlock",
            None,
        )
        .await;
    match answer {
        Ok(r) => {
            let on = [
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            ]
            .iter()
            .all(|k| r.xml().and_then(|x| x.text_of(k)) == Some("true"));
            Ok(on.then(|| format!("all public access to {bucket} is already blocked")))
        }
        Err(e) if e.code == "NoSuchPublicAccessBlockConfiguration" => Ok(None),
        Err(e) => Err(e),
    }
}

async fn trail_state(aws: &Aws, at: &At<'_>, call: &ApiCall, kind: ActionKind) -> Already {
    if kind == ActionKind::StartLogging {
        let name = json!({"Name": param(call, "Name")?});
        let r = aws
            .cloudtrail(at.region, at.account, "GetTrailStatus", &name)
            .await?;
        let logging = r.json().get("IsLogging").and_then(Value::as_bool) == Some(true);
        return Ok(logging.then(|| "the trail is logging".to_string()));
    }
    let name = json!({"TrailName": param(call, "TrailName")?});
    let r = aws
        .cloudtrail(at.region, at.account, "GetEventSelectors", &name)
        .await?;
    let same = ["EventSelectors", "AdvancedEventSelectors"]
        .iter()
        .all(|k| selectors(call.parameters.get(*k)) == selectors(r.json().get(*k)));
    Ok(same.then(|| "the trail already has these event selectors".to_string()))
}

async fn detector_state(aws: &Aws, at: &At<'_>, call: &ApiCall, kind: ActionKind) -> Already {
    if kind == ActionKind::CreateDetector {
        let r = aws
            .guardduty(at.region, at.account, "GET", "/detector", None)
            .await?;
        let ids: Vec<&str> = r
            .json()
            .get("detectorIds")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        return Ok(
            (!ids.is_empty()).then(|| format!("{} has a detector ({})", at.region, ids.join(", ")))
        );
    }
    let id = param(call, "DetectorId")?;
    let r = aws
        .guardduty(
            at.region,
            at.account,
            "GET",
            &format!("/detector/{id}"),
            None,
        )
        .await?;
    let enabled = r.json().get("status").and_then(Value::as_str) == Some("ENABLED");
    Ok(enabled.then(|| format!("detector {id} is enabled")))
}

async fn key_state(aws: &Aws, at: &At<'_>, call: &ApiCall) -> Already {
    let (user, key) = (param(call, "UserName")?, param(call, "AccessKeyId")?);
    let r = aws
        .query(
            "iam",
            None,
            at.account,
            "ListAccessKeys",
            &json!({"UserName": user}),
        )
        .await?;
    let mut members = Vec::new();
    if let Some(x) = r.xml() {
        x.find_all("member", &mut members);
    }
    match members
        .iter()
        .find(|m| m.text_of("AccessKeyId") == Some(key))
    {
        None => Err(CallError {
            code: "NoSuchEntity".into(),
            message: format!("user {user} has no access key {key} any more"),
        }),
        Some(m) => Ok((m.text_of("Status") == Some("Inactive"))
            .then(|| format!("access key {key} is inactive"))),
    }
}

/// Attached and inline policies of users and roles.
async fn policy_state(aws: &Aws, at: &At<'_>, call: &ApiCall, kind: ActionKind) -> Already {
    let (who_key, list, within, field, policy_key) = match kind {
        ActionKind::DetachUserPolicy => (
            "UserName",
            "ListAttachedUserPolicies",
            "AttachedPolicies",
            "PolicyArn",
            "PolicyArn",
        ),
        ActionKind::DetachRolePolicy => (
            "RoleName",
            "ListAttachedRolePolicies",
            "AttachedPolicies",
            "PolicyArn",
            "PolicyArn",
        ),
        ActionKind::DeleteUserPolicy => (
            "UserName",
            "ListUserPolicies",
            "PolicyNames",
            "member",
            "PolicyName",
        ),
        _ => (
            "RoleName",
            "ListRolePolicies",
            "PolicyNames",
            "member",
            "PolicyName",
        ),
    };
    let who = param(call, who_key)?;
    let policy = param(call, policy_key)?;
    let r = aws
        .query("iam", None, at.account, list, &json!({who_key: who}))
        .await?;
    let has = texts(&r, within, field).iter().any(|p| p == policy);
    Ok((!has).then(|| format!("{who} does not have {policy}")))
}

async fn login_profile_state(aws: &Aws, at: &At<'_>, call: &ApiCall) -> Already {
    let name = param(call, "UserName")?;
    let user = json!({"UserName": name});
    // A user that is gone is a failure; a user without a password is done.
    aws.query("iam", None, at.account, "GetUser", &user).await?;
    match aws
        .query("iam", None, at.account, "GetLoginProfile", &user)
        .await
    {
        Ok(_) => Ok(None),
        Err(e) if e.code == "NoSuchEntity" => Ok(Some(format!("{name} has no console password"))),
        Err(e) => Err(e),
    }
}

async fn default_version_state(aws: &Aws, at: &At<'_>, call: &ApiCall) -> Already {
    let (arn, version) = (param(call, "PolicyArn")?, param(call, "VersionId")?);
    let r = aws
        .query(
            "iam",
            None,
            at.account,
            "GetPolicy",
            &json!({"PolicyArn": arn}),
        )
        .await?;
    let is_default = r.xml().and_then(|x| x.text_of("DefaultVersionId")) == Some(version);
    Ok(is_default.then(|| format!("{version} is the default version")))
}

/// Event selectors in a comparable form: the API's answer spells out
/// defaults (empty lists) that a plan leaves out.
fn selectors(v: Option<&Value>) -> Vec<Value> {
    let Some(Value::Array(list)) = v else {
        return Vec::new();
    };
    list.iter()
        .map(|s| {
            let mut m = s.as_object().cloned().unwrap_or_default();
            m.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()) && !v.is_null());
            m.entry("IncludeManagementEvents").or_insert(json!(true));
            m.entry("ReadWriteType").or_insert(json!("All"));
            Value::Object(m)
        })
        .collect()
}

/// The planned permissions the group still has, each narrowed to the
/// ranges it still has.
async fn revoke_ingress(aws: &Aws, action: &Action, call: &ApiCall) -> Result<Now, CallError> {
    let group = param(call, "GroupId")?;
    let region = action.region.as_deref().unwrap_or("us-east-1");
    let r = aws
        .query(
            "ec2",
            Some(region),
            action.account.as_deref(),
            "DescribeSecurityGroups",
            &json!({"GroupId": [group]}),
        )
        .await?;
    let mut perms = Vec::new();
    if let Some(x) = r.xml() {
        // Ingress only: the group's `ipPermissions`, not `ipPermissionsEgress`.
        if let Some(ingress) = x.find("ipPermissions") {
            perms.extend(ingress.children("item"));
        }
    }
    let has = |p: &Value, range_key: &str, cidr: &str| {
        let proto = p["IpProtocol"].as_str().unwrap_or("-1");
        let port = |k: &str| p.get(k).map(|v| v.to_string());
        perms.iter().any(|item| {
            let same_proto = item.text_of("ipProtocol") == Some(proto);
            let same_ports = port("FromPort").as_deref()
                == item.child("fromPort").map(|n| n.text.as_str())
                && port("ToPort").as_deref() == item.child("toPort").map(|n| n.text.as_str());
            let (list, field) = if range_key == "IpRanges" {
                ("ipRanges", "cidrIp")
            } else {
                ("ipv6Ranges", "cidrIpv6")
            };
            let mut ranges = Vec::new();
            if let Some(l) = item.child(list) {
                l.find_all(field, &mut ranges);
            }
            same_proto && same_ports && ranges.iter().any(|c| c.text == cidr)
        })
    };
    let planned = call.parameters["IpPermissions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut left = Vec::new();
    for p in &planned {
        let mut kept = p.clone();
        let mut any = false;
        for (range_key, field) in [("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")] {
            let Some(Value::Array(ranges)) = p.get(range_key) else {
                continue;
            };
            let still: Vec<Value> = ranges
                .iter()
                .filter(|r| r[field].as_str().is_some_and(|c| has(p, range_key, c)))
                .cloned()
                .collect();
            any |= !still.is_empty();
            if still.is_empty() {
                kept.as_object_mut().map(|m| m.remove(range_key));
            } else {
                kept[range_key] = Value::Array(still);
            }
        }
        if any {
            left.push(kept);
        }
    }
    if left.is_empty() {
        return Ok(Now::Done(format!(
            "{group} no longer has these world-open rules"
        )));
    }
    let mut narrowed = call.clone();
    narrowed.parameters["IpPermissions"] = Value::Array(left);
    Ok(Now::ToDo(narrowed))
}

/// Make the change.
pub async fn perform(aws: &Aws, action: &Action, call: &ApiCall) -> Result<(), CallError> {
    let acct = action.account.as_deref();
    let region = action.region.as_deref().unwrap_or("us-east-1");
    let p = &call.parameters;
    match call.service.as_str() {
        "ec2" | "iam" => {
            aws.query(
                &call.service,
                action.region.as_deref(),
                acct,
                &call.operation,
                p,
            )
            .await?;
        }
        "cloudtrail" => {
            aws.cloudtrail(region, acct, &call.operation, p).await?;
        }
        "guardduty" if call.operation == "CreateDetector" => {
            aws.guardduty(
                region,
                acct,
                "POST",
                "/detector",
                Some(&json!({"enable": true})),
            )
            .await?;
        }
        "guardduty" => {
            let id = param(call, "DetectorId")?;
            aws.guardduty(
                region,
                acct,
                "POST",
                &format!("/detector/{id}"),
                Some(&json!({"enable": true})),
            )
            .await?;
        }
        "s3" => {
            let bucket = param(call, "Bucket")?;
            let conf = &p["PublicAccessBlockConfiguration"];
            let flag = |k: &str| conf.get(k).and_then(Value::as_bool).unwrap_or(true);
            let body = format!(
                "<PublicAccessBlockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <BlockPublicAcls>{}</BlockPublicAcls><IgnorePublicAcls>{}</IgnorePublicAcls>\
                 <BlockPublicPolicy>{}</BlockPublicPolicy><RestrictPublicBuckets>{}</RestrictPublicBuckets>\
                 </PublicAccessBlockConfiguration>",
                flag("BlockPublicAcls"),
                flag("IgnorePublicAcls"),
                flag("BlockPublicPolicy"),
                flag("RestrictPublicBuckets")
            );
            aws.s3_bucket(region, acct, "PUT", bucket, "publicAccessBlock", Some(body))
                .await?;
        }
        other => {
            return Err(CallError {
                code: "BadPlan".into(),
                message: format!("respond does not call {other}"),
            });
        }
    }
    Ok(())
}
