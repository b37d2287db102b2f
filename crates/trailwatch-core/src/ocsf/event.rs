//! One CloudTrail record as an OCSF 1.1.0 event, field by field as the
//! OCSF project's CloudTrail mapping places them; what has no home goes to
//! `unmapped`. Strings borrow from the decoded record.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use super::class::{Class, classify};
use super::unmapped::flatten_raw;
use super::{INFORMATIONAL, VERSION};
use crate::event::{Event, Record};

/// An OCSF event of class API Activity, Authentication or Account Change.
/// Absent values are left out, never written as null.
#[derive(Debug, Serialize)]
pub struct OcsfEvent<'a> {
    #[serde(skip)]
    pub class: Class,
    pub activity_id: u8,
    pub activity_name: &'static str,
    pub actor: Actor<'a>,
    pub api: Api<'a>,
    pub category_name: &'static str,
    pub category_uid: u8,
    pub class_name: &'static str,
    pub class_uid: u32,
    pub cloud: Cloud<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<DstEndpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_mfa: Option<bool>,
    pub metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observables: Vec<Observable<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceDetails<'a>>,
    pub severity: &'static str,
    pub severity_id: u8,
    pub src_endpoint: SrcEndpoint<'a>,
    pub status: &'static str,
    pub status_id: u8,
    pub time: i64,
    pub time_dt: String,
    pub type_name: String,
    pub type_uid: u32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unmapped: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

#[derive(Debug, Default, Serialize)]
pub struct Actor<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp: Option<Idp<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Session<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<ActorUser<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Idp<'a> {
    pub name: &'a str,
}

#[derive(Debug, Default, Serialize)]
pub struct Session<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time_dt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_mfa: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<&'a str>,
}

/// `actor.user`: who made the call, from `userIdentity`.
#[derive(Debug, Default, Serialize)]
pub struct ActorUser<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Uid<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid_alt: Option<&'a str>,
}

/// An object named by its uid alone: an account, a related event, a user.
#[derive(Debug, Serialize)]
pub struct Uid<'a> {
    pub uid: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Api<'a> {
    pub operation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Request<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Response<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<Service<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'a str>,
}

/// `api.request`: `data` is `requestParameters` as JSON text; `uid` (which
/// OCSF requires) is `requestID`, empty when the record has none.
#[derive(Debug, Serialize)]
pub struct Request<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a str>,
    pub uid: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Response<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct Service<'a> {
    pub name: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Cloud<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Uid<'a>>,
    pub provider: &'static str,
    pub region: &'a str,
}

#[derive(Debug, Serialize)]
pub struct DstEndpoint {
    pub svc_name: String,
}

#[derive(Debug, Serialize)]
pub struct HttpRequest<'a> {
    pub user_agent: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Metadata<'a> {
    pub event_code: &'a str,
    pub product: Product<'a>,
    pub profiles: [&'static str; 2],
    pub uid: &'a str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Product<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<Feature<'a>>,
    pub name: &'static str,
    pub vendor_name: &'static str,
    pub version: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Feature<'a> {
    pub name: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Observable<'a> {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub type_id: u8,
    pub value: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ResourceDetails<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner<'a>>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
}

/// A resource's owner: a `user` object with only its account.
#[derive(Debug, Serialize)]
pub struct Owner<'a> {
    pub account: Uid<'a>,
}

/// `src_endpoint`: `ip` for an address, `domain` for a service name
/// (`s3.amazonaws.com`, `AWS Internal`).
#[derive(Debug, Default, Serialize)]
pub struct SrcEndpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
}

/// `user` of Authentication (who signed in or whose credentials were
/// issued) and Account Change (whose account changed); parsed out of the
/// request, so owned.
#[derive(Debug, Default, Serialize)]
pub struct User {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid_alt: Option<String>,
}

/// A free-form object's JSON text.
fn raw(v: Option<&serde_json::value::RawValue>) -> Option<&str> {
    v.map(serde_json::value::RawValue::get)
}

/// The OCSF form of `r`.
pub fn from_record<'a>(r: &'a Record<'_>) -> OcsfEvent<'a> {
    let e = &r.event;
    let source = e.event_source.as_deref().unwrap_or("");
    let operation = e.event_name.as_deref().unwrap_or("");
    let (class, activity) = classify(source, operation);
    let (category_uid, category_name) = class.category();
    let mut unmapped = BTreeMap::new();
    let mut auth = SignIn::default();
    if class == Class::Authentication {
        auth = sign_in(raw(e.additional_event_data), raw(e.response_elements));
        flatten_raw(
            &mut unmapped,
            "additionalEventData",
            e.additional_event_data,
            &["LoginTo", "MFAUsed"],
        );
    } else {
        flatten_raw(
            &mut unmapped,
            "additionalEventData",
            e.additional_event_data,
            &[],
        );
    }
    unmapped_fields(e, &mut unmapped);
    let failed = e.error_code.is_some() || auth.failed;
    let (status_id, status) = if failed {
        (2, "Failure")
    } else {
        (1, "Success")
    };
    let ip = e
        .source_ip_address
        .as_deref()
        .filter(|s| s.parse::<IpAddr>().is_ok());
    let actor = actor(e);
    let observables = observables(ip, &actor);
    let caller = Caller::of(e);
    let user = match class {
        Class::Authentication => Some(authenticated_user(
            raw(e.request_parameters),
            raw(e.additional_event_data),
            caller,
        )),
        Class::AccountChange => Some(changed_user(
            raw(e.request_parameters),
            raw(e.response_elements),
            caller,
        )),
        Class::ApiActivity => None,
    };
    OcsfEvent {
        class,
        activity_id: activity.id,
        activity_name: activity.name,
        actor,
        api: api(e, operation),
        category_name,
        category_uid,
        class_name: class.name(),
        class_uid: class.uid(),
        cloud: Cloud {
            account: e.account().map(|uid| Uid { uid }),
            provider: "AWS",
            region: &e.aws_region,
        },
        dst_endpoint: auth.login_to.map(|svc_name| DstEndpoint { svc_name }),
        http_request: e
            .user_agent
            .as_deref()
            .map(|user_agent| HttpRequest { user_agent }),
        is_mfa: auth.mfa_used,
        metadata: metadata(e),
        observables,
        resources: match class {
            Class::ApiActivity => resources(e),
            _ => Vec::new(),
        },
        severity: INFORMATIONAL.1,
        severity_id: INFORMATIONAL.0,
        src_endpoint: SrcEndpoint {
            domain: if ip.is_none() {
                e.source_ip_address.as_deref()
            } else {
                None
            },
            ip,
            uid: e.vpc_endpoint_id.as_deref(),
        },
        status,
        status_id,
        time: r.time.timestamp_millis(),
        time_dt: r.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        type_name: format!("{}: {}", class.name(), activity.name),
        type_uid: class.uid() * 100 + u32::from(activity.id),
        unmapped,
        user,
    }
}

/// `api`: the call, its request (`requestParameters` as JSON text; the
/// uid OCSF requires is empty when the record has no `requestID`) and
/// response.
fn api<'a>(e: &'a Event<'_>, operation: &'a str) -> Api<'a> {
    Api {
        operation,
        request: (e.request_parameters.is_some() || e.request_id.is_some()).then(|| Request {
            data: e.request_parameters.map(|v| v.get()),
            uid: e.request_id.as_deref().unwrap_or(""),
        }),
        response: (e.response_elements.is_some()
            || e.error_code.is_some()
            || e.error_message.is_some())
        .then(|| Response {
            data: e.response_elements.map(|v| v.get()),
            error: e.error_code.as_deref(),
            message: e.error_message.as_deref(),
        }),
        service: e.event_source.as_deref().map(|name| Service { name }),
        version: e.api_version.as_deref(),
    }
}

/// `metadata`: the event's id and type, CloudTrail as the product.
fn metadata<'a>(e: &'a Event<'_>) -> Metadata<'a> {
    Metadata {
        event_code: &e.event_type,
        product: Product {
            feature: e.event_category.as_deref().map(|name| Feature { name }),
            name: "CloudTrail",
            vendor_name: "AWS",
            version: &e.event_version,
        },
        profiles: ["cloud", "datetime"],
        uid: &e.event_id,
        version: VERSION,
    }
}

/// `observables`: the caller's address and user name, where known.
fn observables<'a>(ip: Option<&'a str>, actor: &Actor<'a>) -> Vec<Observable<'a>> {
    let mut out = Vec::new();
    if let Some(ip) = ip {
        out.push(Observable {
            name: "src_endpoint.ip",
            kind: "IP Address",
            type_id: 2,
            value: ip,
        });
    }
    if let Some(name) = actor.user.as_ref().and_then(|u| u.name) {
        out.push(Observable {
            name: "actor.user.name",
            kind: "User Name",
            type_id: 4,
            value: name,
        });
    }
    out
}

/// `actor` from `userIdentity`.
fn actor<'a>(e: &'a Event<'_>) -> Actor<'a> {
    let Some(ui) = e.user_identity.as_ref() else {
        return Actor::default();
    };
    let ctx = ui.session_context.as_ref();
    let attrs = ctx.and_then(|c| c.attributes.as_ref());
    let created = attrs
        .and_then(|a| a.creation_date.as_deref())
        .and_then(crate::event::parse_event_time);
    let session = Session {
        created_time: created.map(|t| t.timestamp_millis()),
        created_time_dt: created.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        is_mfa: attrs.and_then(|a| a.mfa_authenticated),
        issuer: ctx
            .and_then(|c| c.session_issuer.as_ref())
            .and_then(|i| i.arn.as_deref()),
    };
    let has_session =
        session.created_time.is_some() || session.is_mfa.is_some() || session.issuer.is_some();
    let web_provider = ctx
        .and_then(|c| c.web_id_federation_data)
        .and_then(|raw| serde_json::from_str::<WebId<'_>>(raw.get()).ok())
        .and_then(|w| w.federated_provider);
    Actor {
        idp: ui
            .identity_provider
            .as_deref()
            .or(web_provider)
            .map(|name| Idp { name }),
        invoked_by: ui.invoked_by.as_deref(),
        session: has_session.then_some(session),
        user: Some(ActorUser {
            account: ui.account_id.as_deref().map(|uid| Uid { uid }),
            credential_uid: ui.access_key_id.as_deref().or(ui.credential_id.as_deref()),
            name: ui.user_name.as_deref(),
            kind: ui.kind.as_deref(),
            uid: ui.arn.as_deref(),
            uid_alt: ui.principal_id.as_deref(),
        }),
    }
}

#[derive(serde::Deserialize)]
struct WebId<'a> {
    #[serde(borrow, rename = "federatedProvider")]
    federated_provider: Option<&'a str>,
}

/// The record's fields with no OCSF home, into `unmapped`.
fn unmapped_fields(e: &Event<'_>, out: &mut BTreeMap<String, String>) {
    let text = |out: &mut BTreeMap<String, String>, k: &str, v: Option<&str>| {
        if let Some(v) = v {
            out.insert(k.to_string(), v.to_string());
        }
    };
    text(out, "recipientAccountId", e.recipient_account_id.as_deref());
    text(out, "sharedEventID", e.shared_event_id.as_deref());
    text(
        out,
        "vpcEndpointAccountId",
        e.vpc_endpoint_account_id.as_deref(),
    );
    let flag = |b: Option<bool>| b.map(|b| if b { "true" } else { "false" });
    text(out, "readOnly", flag(e.read_only));
    text(out, "managementEvent", flag(e.management_event));
    text(
        out,
        "sessionCredentialFromConsole",
        flag(e.session_credential_from_console),
    );
    if let Some(ui) = e.user_identity.as_ref() {
        if let Some(ctx) = ui.session_context.as_ref() {
            if let Some(i) = ctx.session_issuer.as_ref() {
                let p = "userIdentity.sessionContext.sessionIssuer";
                text(out, &format!("{p}.type"), i.kind.as_deref());
                text(out, &format!("{p}.principalId"), i.principal_id.as_deref());
                text(out, &format!("{p}.accountId"), i.account_id.as_deref());
                text(out, &format!("{p}.userName"), i.user_name.as_deref());
            }
            let p = "userIdentity.sessionContext";
            text(
                out,
                &format!("{p}.sourceIdentity"),
                ctx.source_identity.as_deref(),
            );
            text(
                out,
                &format!("{p}.ec2RoleDelivery"),
                ctx.ec2_role_delivery.as_deref(),
            );
            text(
                out,
                &format!("{p}.assumedRoot"),
                ctx.assumed_root.as_deref(),
            );
            flatten_raw(
                out,
                &format!("{p}.webIdFederationData"),
                ctx.web_id_federation_data,
                &[],
            );
        }
        flatten_raw(out, "userIdentity.onBehalfOf", ui.on_behalf_of, &[]);
        flatten_raw(out, "userIdentity.inScopeOf", ui.in_scope_of, &[]);
        if ui.access_key_id.is_none() {
            // Both map to `credential_uid`; this says which it was.
            text(
                out,
                "userIdentity.credentialId",
                ui.credential_id.as_deref(),
            );
        }
    }
    flatten_raw(out, "serviceEventDetails", e.service_event_details, &[]);
    flatten_raw(out, "addendum", e.addendum, &[]);
    flatten_raw(out, "tlsDetails", e.tls_details, &[]);
    flatten_raw(out, "edgeDeviceDetails", e.edge_device_details, &[]);
    flatten_raw(out, "insightDetails", e.insight_details, &[]);
    flatten_raw(out, "eventContext", e.event_context, &[]);
}

/// What a sign-in record says beyond the common fields.
#[derive(Debug, Default)]
pub struct SignIn {
    /// `additionalEventData.LoginTo`: `dst_endpoint.svc_name`.
    pub login_to: Option<String>,
    /// `additionalEventData.MFAUsed` is `Yes`: `is_mfa`.
    pub mfa_used: Option<bool>,
    /// `responseElements.ConsoleLogin` is `Failure`.
    pub failed: bool,
}

/// [`SignIn`] from the record's `additionalEventData` and
/// `responseElements` JSON text.
pub fn sign_in(additional: Option<&str>, response: Option<&str>) -> SignIn {
    let extra = parse(additional);
    SignIn {
        login_to: text_at(&extra, "LoginTo"),
        mfa_used: text_at(&extra, "MFAUsed").map(|v| v == "Yes"),
        failed: text_at(&parse(response), "ConsoleLogin").is_some_and(|v| v == "Failure"),
    }
}

/// The caller's names from `userIdentity`, for a `user` that falls back
/// to the caller.
#[derive(Debug, Default, Clone, Copy)]
pub struct Caller<'a> {
    pub user_name: Option<&'a str>,
    pub arn: Option<&'a str>,
    pub principal_id: Option<&'a str>,
}

impl<'a> Caller<'a> {
    fn of(e: &'a Event<'_>) -> Caller<'a> {
        let ui = e.user_identity.as_ref();
        Caller {
            user_name: ui.and_then(|u| u.user_name.as_deref()),
            arn: ui.and_then(|u| u.arn.as_deref()),
            principal_id: ui.and_then(|u| u.principal_id.as_deref()),
        }
    }
}

fn parse(text: Option<&str>) -> Value {
    text.and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null)
}

fn text_at(v: &Value, path: &str) -> Option<String> {
    let mut at = v;
    for k in path.split('.') {
        at = at.get(k)?;
    }
    at.as_str().map(str::to_string)
}

/// Authentication's `user`: the role a session was issued for, else the
/// identity that signed in (from the request and `additionalEventData`
/// JSON text).
pub fn authenticated_user(
    request: Option<&str>,
    additional: Option<&str>,
    caller: Caller<'_>,
) -> User {
    let req = parse(request);
    if let Some(role) = text_at(&req, "roleArn") {
        return User {
            name: text_at(&req, "roleSessionName"),
            uid: Some(role),
            uid_alt: None,
        };
    }
    User {
        name: caller
            .user_name
            .map(str::to_string)
            .or_else(|| text_at(&parse(additional), "UserName"))
            .or_else(|| text_at(&req, "name")),
        uid: caller.arn.map(str::to_string),
        uid_alt: caller.principal_id.map(str::to_string),
    }
}

/// Account Change's `user`: the user or role the call changed, else the
/// caller (a call on one's own credentials names no user).
pub fn changed_user(request: Option<&str>, response: Option<&str>, caller: Caller<'_>) -> User {
    let req = parse(request);
    let resp = parse(response);
    let named = text_at(&req, "userName").or_else(|| text_at(&req, "roleName"));
    let created = ["user", "role"].into_iter().find_map(|k| {
        let arn = text_at(&resp, &format!("{k}.arn"))?;
        let id = text_at(&resp, &format!("{k}.userId"))
            .or_else(|| text_at(&resp, &format!("{k}.roleId")));
        Some((arn, id))
    });
    if named.is_some() || created.is_some() {
        let (uid, uid_alt) = created.unzip();
        return User {
            name: named,
            uid,
            uid_alt: uid_alt.flatten(),
        };
    }
    User {
        name: caller.user_name.map(str::to_string),
        uid: caller.arn.map(str::to_string),
        uid_alt: caller.principal_id.map(str::to_string),
    }
}

fn resources<'a>(e: &'a Event<'_>) -> Vec<ResourceDetails<'a>> {
    e.resources
        .iter()
        .flatten()
        .map(|r| ResourceDetails {
            owner: r.account_id.as_deref().map(|uid| Owner {
                account: Uid { uid },
            }),
            kind: r.kind.as_deref(),
            uid: r.arn.as_deref(),
        })
        .collect()
}
