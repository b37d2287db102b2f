//! An OCSF event (as trailwatch exports it, or as Security Lake writes
//! CloudTrail) turned back into a CloudTrail record for the rules. What
//! the OCSF form did not keep stays absent; [`LOST_IN_OCSF`] says what.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::unmapped::{set_path, unflatten_into};

/// CloudTrail fields an OCSF event may not give back, and why; rules that
/// read them can only fire where the OCSF writer kept them.
pub const LOST_IN_OCSF: &[(&str, &str)] = &[
    (
        "requestParameters, responseElements",
        "kept as api.request.data and api.response.data by trailwatch; a writer that leaves those out loses every rule on request fields (security groups, bucket policies, IAM policies)",
    ),
    (
        "additionalEventData, serviceEventDetails and other free-form objects",
        "kept in `unmapped` as dotted text: a number or boolean inside them comes back as text",
    ),
    (
        "userIdentity.accessKeyId vs credentialId",
        "both are actor.user.credential_uid; trailwatch keeps a credentialId in `unmapped` too, other writers may not",
    ),
    (
        "eventTime below the millisecond",
        "OCSF time is epoch milliseconds",
    ),
];

/// CloudTrail fields copied from an OCSF attribute's text as they are.
const TEXT_FIELDS: &[(&str, &str)] = &[
    ("eventSource", "api.service.name"),
    ("eventName", "api.operation"),
    ("awsRegion", "cloud.region"),
    ("userAgent", "http_request.user_agent"),
    ("errorCode", "api.response.error"),
    ("errorMessage", "api.response.message"),
    ("eventID", "metadata.uid"),
    ("eventType", "metadata.event_code"),
    ("apiVersion", "api.version"),
    ("vpcEndpointId", "src_endpoint.uid"),
    ("eventCategory", "metadata.product.feature.name"),
];

/// The attribute at dotted `path` of `o`, unless null.
fn at<'v>(o: &'v Value, path: &str) -> Option<&'v Value> {
    let v = path.split('.').try_fold(o, |v, k| v.get(k))?;
    (!v.is_null()).then_some(v)
}

/// The text at `path`, as a JSON string.
fn text(o: &Value, path: &str) -> Option<Value> {
    at(o, path)?.as_str().map(|s| Value::String(s.to_string()))
}

/// The event's time: `time` (epoch ms), else `time_dt`.
fn time_of(o: &Value) -> Option<DateTime<Utc>> {
    o.get("time")
        .and_then(Value::as_i64)
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .or_else(|| {
            let dt = o.get("time_dt")?.as_str()?;
            DateTime::parse_from_rfc3339(&dt.replace(' ', "T"))
                .ok()
                .map(|t| t.to_utc())
        })
}

/// The CloudTrail record of OCSF event `o`, or why it is none (not one of
/// the CloudTrail classes, or no time).
pub fn to_cloudtrail(o: &Value) -> Result<Value, String> {
    let class = o.get("class_uid").and_then(Value::as_i64).unwrap_or(0);
    if super::Class::from_uid(class).is_none() {
        return Err(format!(
            "class_uid {class} is not a CloudTrail class (3001, 3002, 6003)"
        ));
    }
    let time = time_of(o).ok_or("the event has no time")?;
    let mut r = Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            set_path(&mut r, key, v);
        }
    };
    let version = text(o, "metadata.product.version").unwrap_or_else(|| "1.08".into());
    put("eventVersion", Some(version));
    put("userIdentity", user_identity(o));
    put(
        "eventTime",
        Some(time.format("%Y-%m-%dT%H:%M:%SZ").to_string().into()),
    );
    for (field, path) in TEXT_FIELDS {
        put(field, text(o, path));
    }
    let source = text(o, "src_endpoint.ip").or_else(|| text(o, "src_endpoint.domain"));
    put("sourceIPAddress", source);
    put("requestParameters", at(o, "api.request.data").map(json_of));
    put("responseElements", at(o, "api.response.data").map(json_of));
    // An empty uid stands for a record without requestID (OCSF requires one).
    put("requestID", text(o, "api.request.uid").filter(|v| v != ""));
    let resources = at(o, "resources")
        .and_then(Value::as_array)
        .map(|rs| resources(rs));
    put("resources", resources);
    if class == 3002 {
        put(
            "additionalEventData.LoginTo",
            text(o, "dst_endpoint.svc_name"),
        );
        let mfa = at(o, "is_mfa").and_then(Value::as_bool);
        put(
            "additionalEventData.MFAUsed",
            mfa.map(|m| (if m { "Yes" } else { "No" }).into()),
        );
    }
    restore_unmapped(o, &mut r);
    if !r.contains_key("recipientAccountId")
        && let Some(account) = text(o, "cloud.account.uid")
    {
        r.insert("recipientAccountId".into(), account);
    }
    Ok(Value::Object(r))
}

/// Put `unmapped`'s dotted keys back into record `r`. A credentialId
/// (kept there beside `credential_uid`) was no access key id.
fn restore_unmapped(o: &Value, r: &mut Map<String, Value>) {
    match at(o, "unmapped") {
        Some(Value::Object(unmapped)) => unflatten_into(r, unmapped),
        Some(Value::Array(pairs)) => {
            // A map read from Parquet by a writer that lists its entries.
            let m: Map<String, Value> = pairs
                .iter()
                .filter_map(|p| {
                    Some((p.get("key")?.as_str()?.to_string(), p.get("value")?.clone()))
                })
                .collect();
            unflatten_into(r, &m);
        }
        _ => {}
    }
    if let Some(Value::Object(ui)) = r.get_mut("userIdentity")
        && ui.contains_key("credentialId")
        && ui.get("credentialId") == ui.get("accessKeyId")
    {
        ui.remove("accessKeyId");
    }
}

/// JSON text (as trailwatch and Security Lake write `json_t`) parsed;
/// anything else as it is.
fn json_of(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

fn user_identity(o: &Value) -> Option<Value> {
    let actor = o.get("actor")?;
    let user = actor.get("user");
    let mut ui = Map::new();
    let copy = |ui: &mut Map<String, Value>, to: &str, from: Option<&Value>| {
        if let Some(Value::String(s)) = from {
            set_path(ui, to, Value::String(s.clone()));
        }
    };
    let field = |k: &str| user.and_then(|u| u.get(k));
    copy(&mut ui, "type", field("type"));
    copy(&mut ui, "principalId", field("uid_alt"));
    copy(&mut ui, "arn", field("uid"));
    copy(
        &mut ui,
        "accountId",
        field("account").and_then(|a| a.get("uid")),
    );
    copy(&mut ui, "accessKeyId", field("credential_uid"));
    copy(&mut ui, "userName", field("name"));
    copy(&mut ui, "invokedBy", actor.get("invoked_by"));
    let session = actor.get("session");
    copy(
        &mut ui,
        "sessionContext.sessionIssuer.arn",
        session.and_then(|s| s.get("issuer")),
    );
    if let Some(created) = session
        .and_then(|s| s.get("created_time_dt"))
        .and_then(Value::as_str)
    {
        let iso = DateTime::parse_from_rfc3339(&created.replace(' ', "T"))
            .map(|t| t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|_| created.to_string());
        set_path(
            &mut ui,
            "sessionContext.attributes.creationDate",
            Value::String(iso),
        );
    }
    if let Some(mfa) = session
        .and_then(|s| s.get("is_mfa"))
        .and_then(Value::as_bool)
    {
        // CloudTrail writes this flag as text.
        set_path(
            &mut ui,
            "sessionContext.attributes.mfaAuthenticated",
            Value::String(mfa.to_string()),
        );
    }
    let web = o
        .pointer("/unmapped")
        .is_some_and(|u| u.to_string().contains("webIdFederationData"));
    if !web {
        copy(
            &mut ui,
            "identityProvider",
            actor.get("idp").and_then(|i| i.get("name")),
        );
    }
    (!ui.is_empty()).then_some(Value::Object(ui))
}

fn resources(rs: &[Value]) -> Value {
    Value::Array(
        rs.iter()
            .map(|r| {
                let mut m = Map::new();
                let mut copy = |to: &str, from: Option<&Value>| {
                    if let Some(Value::String(s)) = from {
                        m.insert(to.into(), Value::String(s.clone()));
                    }
                };
                copy("ARN", r.get("uid"));
                copy("accountId", r.pointer("/owner/account/uid"));
                copy("type", r.get("type"));
                Value::Object(m)
            })
            .collect(),
    )
}
