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

/// Read the current state for `action`.
pub async fn current(aws: &Aws, action: &Action, kind: ActionKind) -> Result<Now, CallError> {
    let call = action.api_calls.first().ok_or_else(|| CallError {
        code: "BadPlan".into(),
        message: "the action has no API call".into(),
    })?;
    let acct = action.account.as_deref();
    let region = action.region.as_deref().unwrap_or("us-east-1");
    let todo = || Ok(Now::ToDo(call.clone()));
    match kind {
        ActionKind::BlockPublicAccess => {
            let bucket = param(call, "Bucket")?;
            match aws
                .s3_bucket(region, acct, "GET", bucket, "publicAccessBlock", None)
                .await
            {
                Ok(r) => {
                    let on = [
                        "BlockPublicAcls",
                        "IgnorePublicAcls",
                        "BlockPublicPolicy",
                        "RestrictPublicBuckets",
                    ]
                    .iter()
                    .all(|k| r.xml().and_then(|x| x.text_of(k)) == Some("true"));
                    if on {
                        Ok(Now::Done(format!(
                            "all public access to {bucket} is already blocked"
                        )))
                    } else {
                        todo()
                    }
                }
                Err(e) if e.code == "NoSuchPublicAccessBlockConfiguration" => todo(),
                Err(e) => Err(e),
            }
        }
        ActionKind::RevokeIngress => revoke_ingress(aws, action, call).await,
        ActionKind::StartLogging => {
            let r = aws
                .cloudtrail(
                    region,
                    acct,
                    "GetTrailStatus",
                    &json!({"Name": param(call, "Name")?}),
                )
                .await?;
            if r.json().get("IsLogging").and_then(Value::as_bool) == Some(true) {
                Ok(Now::Done("the trail is logging".into()))
            } else {
                todo()
            }
        }
        ActionKind::RestoreEventSelectors => {
            let r = aws
                .cloudtrail(
                    region,
                    acct,
                    "GetEventSelectors",
                    &json!({"TrailName": param(call, "TrailName")?}),
                )
                .await?;
            let same = ["EventSelectors", "AdvancedEventSelectors"]
                .iter()
                .all(|k| selectors(call.parameters.get(*k)) == selectors(r.json().get(*k)));
            if same {
                Ok(Now::Done(
                    "the trail already has these event selectors".into(),
                ))
            } else {
                todo()
            }
        }
        ActionKind::CreateDetector => {
            let r = aws
                .guardduty(region, acct, "GET", "/detector", None)
                .await?;
            match r.json().get("detectorIds").and_then(Value::as_array) {
                Some(ids) if !ids.is_empty() => Ok(Now::Done(format!(
                    "{region} has a detector ({})",
                    ids.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
                _ => todo(),
            }
        }
        ActionKind::EnableDetector => {
            let id = param(call, "DetectorId")?;
            let r = aws
                .guardduty(region, acct, "GET", &format!("/detector/{id}"), None)
                .await?;
            if r.json().get("status").and_then(Value::as_str) == Some("ENABLED") {
                Ok(Now::Done(format!("detector {id} is enabled")))
            } else {
                todo()
            }
        }
        ActionKind::DeactivateAccessKey => {
            let (user, key) = (param(call, "UserName")?, param(call, "AccessKeyId")?);
            let r = aws
                .query(
                    "iam",
                    None,
                    acct,
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
                Some(m) if m.text_of("Status") == Some("Inactive") => {
                    Ok(Now::Done(format!("access key {key} is inactive")))
                }
                Some(_) => todo(),
            }
        }
        ActionKind::DetachUserPolicy | ActionKind::DetachRolePolicy => {
            let (who_key, list) = if kind == ActionKind::DetachUserPolicy {
                ("UserName", "ListAttachedUserPolicies")
            } else {
                ("RoleName", "ListAttachedRolePolicies")
            };
            let who = param(call, who_key)?;
            let policy = param(call, "PolicyArn")?;
            let r = aws
                .query("iam", None, acct, list, &json!({who_key: who}))
                .await?;
            if texts(&r, "AttachedPolicies", "PolicyArn")
                .iter()
                .any(|a| a == policy)
            {
                todo()
            } else {
                Ok(Now::Done(format!("{policy} is not attached to {who}")))
            }
        }
        ActionKind::DeleteUserPolicy | ActionKind::DeleteRolePolicy => {
            let (who_key, list) = if kind == ActionKind::DeleteUserPolicy {
                ("UserName", "ListUserPolicies")
            } else {
                ("RoleName", "ListRolePolicies")
            };
            let who = param(call, who_key)?;
            let name = param(call, "PolicyName")?;
            let r = aws
                .query("iam", None, acct, list, &json!({who_key: who}))
                .await?;
            if texts(&r, "PolicyNames", "member").iter().any(|n| n == name) {
                todo()
            } else {
                Ok(Now::Done(format!("{who} has no inline policy {name}")))
            }
        }
        ActionKind::DeleteLoginProfile => {
            let user = param(call, "UserName")?;
            // A user that is gone is a failure; a user without a password
            // is done.
            aws.query("iam", None, acct, "GetUser", &json!({"UserName": user}))
                .await?;
            match aws
                .query(
                    "iam",
                    None,
                    acct,
                    "GetLoginProfile",
                    &json!({"UserName": user}),
                )
                .await
            {
                Ok(_) => todo(),
                Err(e) if e.code == "NoSuchEntity" => {
                    Ok(Now::Done(format!("{user} has no console password")))
                }
                Err(e) => Err(e),
            }
        }
        ActionKind::RestoreDefaultPolicyVersion => {
            let (arn, version) = (param(call, "PolicyArn")?, param(call, "VersionId")?);
            let r = aws
                .query("iam", None, acct, "GetPolicy", &json!({"PolicyArn": arn}))
                .await?;
            if r.xml().and_then(|x| x.text_of("DefaultVersionId")) == Some(version) {
                Ok(Now::Done(format!("{version} is the default version")))
            } else {
                todo()
            }
        }
    }
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
