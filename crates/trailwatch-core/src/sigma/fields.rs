//! The values a Sigma field path names in an event. A decoded record
//! answers the hot paths (`eventName`, `userIdentity.type`,
//! `userIdentity.sessionContext.sessionIssuer.type`, …) from its typed
//! view without building a JSON tree; a path into a free-form object
//! (`requestParameters.…`) parses only that object, once per record; any
//! other path parses the whole record, once. A plain JSON value answers
//! too (for tests and chained correlations).

use std::cell::OnceCell;

use serde_json::Value;

use crate::event::{RAW_FIELDS, Record, Text};

/// One value found at a path.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    Str(&'a str),
    Bool(bool),
    Json(&'a Value),
}

impl Val<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Json(Value::Null))
    }

    /// The value as text, for strings, numbers and booleans (what a
    /// group-by or a counted field takes from it).
    pub fn text(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some((*s).to_string()),
            Val::Bool(b) => Some(b.to_string()),
            Val::Json(Value::String(s)) => Some(s.clone()),
            Val::Json(Value::Number(n)) => Some(n.to_string()),
            Val::Json(Value::Bool(b)) => Some(b.to_string()),
            Val::Json(_) => None,
        }
    }

    /// Whether two values are equal (for `fieldref`).
    pub fn same(&self, other: &Val<'_>) -> bool {
        match (self, other) {
            (Val::Json(a), Val::Json(b)) => a == b,
            (a, b) => match (a.text(), b.text()) {
                (Some(x), Some(y)) => x == y && a.is_string() == b.is_string(),
                _ => false,
            },
        }
    }

    fn is_string(&self) -> bool {
        matches!(self, Val::Str(_) | Val::Json(Value::String(_)))
    }
}

/// What Sigma rules read from an event.
pub trait Fields {
    /// Call `f` on each value at `path` (an array on the way, or at the
    /// end, is crossed: each element is a value) until it returns true;
    /// whether it did.
    fn any(&self, path: &[String], f: &mut dyn FnMut(Val<'_>) -> bool) -> bool;

    /// The event's whole text (for keywords; empty if it is not UTF-8).
    fn text(&self) -> &str;
}

/// Each value under `v` at `path`, arrays crossed.
fn walk_json<'v>(v: &'v Value, path: &[String], f: &mut dyn FnMut(Val<'v>) -> bool) -> bool {
    match (v, path.split_first()) {
        (Value::Array(items), _) => items.iter().any(|i| walk_json(i, path, f)),
        (_, None) => f(Val::Json(v)),
        (Value::Object(m), Some((key, rest))) => m.get(key).is_some_and(|x| walk_json(x, rest, f)),
        _ => false,
    }
}

/// A JSON event with its text.
#[derive(Debug)]
pub struct JsonFields<'a> {
    pub value: &'a Value,
    pub text: &'a str,
}

impl Fields for JsonFields<'_> {
    fn any(&self, path: &[String], f: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
        walk_json(self.value, path, f)
    }

    fn text(&self) -> &str {
        self.text
    }
}

/// A decoded record, read through its typed view where it can be.
#[derive(Debug)]
pub struct RecordFields<'r, 'a> {
    record: &'r Record<'a>,
    /// The record's text, checked as UTF-8 only if a keyword asks.
    text: OnceCell<&'r str>,
    whole: OnceCell<Option<Value>>,
    raw: [OnceCell<Option<Value>>; RAW_FIELDS.len()],
}

/// What the typed view says about a path.
enum Typed<'x> {
    /// These values (none: absent or null).
    Found(Option<Val<'x>>),
    /// The typed view cannot say (a composite, or a field it skips).
    Ask,
}

fn text_at<'x>(t: Option<&'x Text<'_>>, rest: &[String]) -> Typed<'x> {
    if rest.is_empty() {
        Typed::Found(t.map(|t| Val::Str(t.as_str())))
    } else {
        // A string has no fields.
        Typed::Found(None)
    }
}

fn bool_at<'x>(b: Option<bool>, rest: &[String]) -> Typed<'x> {
    Typed::Found(if rest.is_empty() {
        b.map(Val::Bool)
    } else {
        None
    })
}

impl<'r, 'a> RecordFields<'r, 'a> {
    pub fn new(record: &'r Record<'a>) -> Self {
        RecordFields {
            record,
            text: OnceCell::new(),
            whole: OnceCell::new(),
            raw: Default::default(),
        }
    }

    fn whole(&self) -> Option<&Value> {
        self.whole
            .get_or_init(|| serde_json::from_slice::<Value>(self.record.raw).ok())
            .as_ref()
    }

    /// The typed view's answer, where it has one.
    fn typed(&self, path: &[String]) -> Typed<'_> {
        let e = &self.record.event;
        let Some((first, rest)) = path.split_first() else {
            return Typed::Ask;
        };
        match first.as_str() {
            "eventVersion" => text_at(Some(&e.event_version), rest),
            "eventTime" => text_at(Some(&e.event_time), rest),
            "eventSource" => text_at(e.event_source.as_ref(), rest),
            "eventName" => text_at(e.event_name.as_ref(), rest),
            "awsRegion" => text_at(Some(&e.aws_region), rest),
            "sourceIPAddress" => text_at(e.source_ip_address.as_ref(), rest),
            "userAgent" => text_at(e.user_agent.as_ref(), rest),
            "errorCode" => text_at(e.error_code.as_ref(), rest),
            "errorMessage" => text_at(e.error_message.as_ref(), rest),
            "requestID" => text_at(e.request_id.as_ref(), rest),
            "eventID" => text_at(Some(&e.event_id), rest),
            "eventType" => text_at(Some(&e.event_type), rest),
            "apiVersion" => text_at(e.api_version.as_ref(), rest),
            "recipientAccountId" => text_at(e.recipient_account_id.as_ref(), rest),
            "sharedEventID" => text_at(e.shared_event_id.as_ref(), rest),
            "vpcEndpointId" => text_at(e.vpc_endpoint_id.as_ref(), rest),
            "eventCategory" => text_at(e.event_category.as_ref(), rest),
            "readOnly" => bool_at(e.read_only, rest),
            "managementEvent" => bool_at(e.management_event, rest),
            "userIdentity" => {
                let Some(ui) = &e.user_identity else {
                    return Typed::Found(None);
                };
                let Some((key, rest)) = rest.split_first() else {
                    return Typed::Ask;
                };
                match key.as_str() {
                    "type" => text_at(ui.kind.as_ref(), rest),
                    "principalId" => text_at(ui.principal_id.as_ref(), rest),
                    "arn" => text_at(ui.arn.as_ref(), rest),
                    "accountId" => text_at(ui.account_id.as_ref(), rest),
                    "accessKeyId" => text_at(ui.access_key_id.as_ref(), rest),
                    "userName" => text_at(ui.user_name.as_ref(), rest),
                    "invokedBy" => text_at(ui.invoked_by.as_ref(), rest),
                    "identityProvider" => text_at(ui.identity_provider.as_ref(), rest),
                    "credentialId" => text_at(ui.credential_id.as_ref(), rest),
                    "sessionContext" => {
                        let Some(sc) = &ui.session_context else {
                            return Typed::Found(None);
                        };
                        match rest.split_first() {
                            Some((k, r)) if k == "sourceIdentity" => {
                                text_at(sc.source_identity.as_ref(), r)
                            }
                            Some((k, r)) if k == "sessionIssuer" => {
                                let Some(iss) = &sc.session_issuer else {
                                    return Typed::Found(None);
                                };
                                match r.split_first() {
                                    Some((k, r)) if k == "type" => text_at(iss.kind.as_ref(), r),
                                    Some((k, r)) if k == "arn" => text_at(iss.arn.as_ref(), r),
                                    Some((k, r)) if k == "userName" => {
                                        text_at(iss.user_name.as_ref(), r)
                                    }
                                    Some((k, r)) if k == "principalId" => {
                                        text_at(iss.principal_id.as_ref(), r)
                                    }
                                    Some((k, r)) if k == "accountId" => {
                                        text_at(iss.account_id.as_ref(), r)
                                    }
                                    _ => Typed::Ask,
                                }
                            }
                            _ => Typed::Ask,
                        }
                    }
                    _ => Typed::Ask,
                }
            }
            _ => Typed::Ask,
        }
    }
}

impl Fields for RecordFields<'_, '_> {
    fn any(&self, path: &[String], f: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
        match self.typed(path) {
            Typed::Found(v) => return v.is_some_and(f),
            Typed::Ask => {}
        }
        if let Some(i) = path
            .first()
            .and_then(|k| RAW_FIELDS.iter().position(|f| f == k))
        {
            // Absent or null: nothing below it (and `null` itself only
            // when the path ends here, which the whole record answers).
            let Some(raw) = self.record.event.raw_field(i) else {
                if path.len() > 1 {
                    return false;
                }
                return self.whole().is_some_and(|v| walk_json(v, path, f));
            };
            let parsed = self.raw[i]
                .get_or_init(|| serde_json::from_str::<Value>(raw.get()).ok())
                .as_ref();
            return parsed.is_some_and(|v| walk_json(v, &path[1..], f));
        }
        self.whole().is_some_and(|v| walk_json(v, path, f))
    }

    fn text(&self) -> &str {
        self.text
            .get_or_init(|| std::str::from_utf8(self.record.raw).unwrap_or_default())
    }
}

/// How dear a path is to read from a decoded record: 0 from the typed
/// view, 1 from one free-form object, 2 from the whole record.
pub fn path_cost(path: &[String]) -> u8 {
    match path.first().map(String::as_str) {
        Some(
            "eventVersion" | "eventTime" | "eventSource" | "eventName" | "awsRegion"
            | "sourceIPAddress" | "userAgent" | "errorCode" | "errorMessage" | "requestID"
            | "eventID" | "eventType" | "apiVersion" | "recipientAccountId" | "sharedEventID"
            | "vpcEndpointId" | "eventCategory" | "readOnly" | "managementEvent",
        ) => 0,
        Some("userIdentity") => match path.get(1).map(String::as_str) {
            Some("sessionContext") => match path.get(2).map(String::as_str) {
                Some("sourceIdentity" | "sessionIssuer") => 0,
                _ => 2,
            },
            Some(_) => 0,
            None => 2,
        },
        Some(k) if RAW_FIELDS.contains(&k) => 1,
        _ => 2,
    }
}
