//! A decoded CloudTrail record as a pattern [`Document`]: selectors on hot
//! fields are answered from the typed view without touching JSON; selectors
//! into free-form objects parse only that object, once; anything else parses
//! the record's text, once.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_json::Value;
use serde_json::value::RawValue;

use super::ast::Step;
use super::eval::{Document, Found, lookup_value};
use crate::event::{RAW_FIELDS, Record, Text};

/// A record, seen by patterns as its CloudWatch Logs message.
#[derive(Debug)]
pub struct RecordDoc<'r, 'a> {
    record: &'r Record<'a>,
    whole: OnceCell<Option<Value>>,
    raw_fields: [OnceCell<Option<Value>>; RAW_FIELDS.len()],
}

fn text<'x>(v: Option<&'x Text<'_>>, rest: &[Step]) -> Found<'x> {
    match (v, rest.is_empty()) {
        (Some(t), true) => Found::Str(Cow::Borrowed(t.as_str())),
        _ => Found::Missing,
    }
}

impl<'r, 'a> RecordDoc<'r, 'a> {
    pub fn new(record: &'r Record<'a>) -> Self {
        RecordDoc {
            record,
            whole: OnceCell::new(),
            raw_fields: Default::default(),
        }
    }

    fn whole(&self) -> Option<&Value> {
        self.whole
            .get_or_init(|| serde_json::from_slice::<Value>(self.record.raw).ok())
            .as_ref()
    }

    fn generic(&self, path: &[Step]) -> Found<'_> {
        match self.whole() {
            Some(v) => lookup_value(v, path),
            None => Found::Missing,
        }
    }

    fn raw_field(&self, i: usize, raw: Option<&RawValue>, path: &[Step]) -> Found<'_> {
        let Some(raw) = raw else {
            // Absent or null: the typed view cannot tell which.
            return self.generic(path);
        };
        let parsed = self.raw_fields[i]
            .get_or_init(|| serde_json::from_str::<Value>(raw.get()).ok())
            .as_ref();
        match parsed {
            Some(v) => lookup_value(v, &path[1..]),
            None => Found::Missing,
        }
    }
}

fn bool_found<'x>(b: Option<bool>, rest: &[Step]) -> Found<'x> {
    match (b, rest.is_empty()) {
        (Some(b), true) => Found::Bool(b),
        _ => Found::Missing,
    }
}

/// A boolean that CloudTrail writes as the string "true"/"false".
fn bool_text<'x>(b: Option<bool>, rest: &[Step]) -> Found<'x> {
    match (b, rest.is_empty()) {
        (Some(true), true) => Found::Str(Cow::Borrowed("true")),
        (Some(false), true) => Found::Str(Cow::Borrowed("false")),
        _ => Found::Missing,
    }
}

impl Document for RecordDoc<'_, '_> {
    fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.record.raw)
    }

    fn lookup(&self, path: &[Step]) -> Option<Found<'_>> {
        let e = &self.record.event;
        let Some(Step::Key(first)) = path.first() else {
            return Some(Found::Missing);
        };
        let rest = &path[1..];
        Some(match first.as_str() {
            "eventVersion" => text(Some(&e.event_version), rest),
            "eventTime" => text(Some(&e.event_time), rest),
            "eventSource" => text(e.event_source.as_ref(), rest),
            "eventName" => text(e.event_name.as_ref(), rest),
            "awsRegion" => text(Some(&e.aws_region), rest),
            "sourceIPAddress" => text(e.source_ip_address.as_ref(), rest),
            "userAgent" => text(e.user_agent.as_ref(), rest),
            "errorCode" => text(e.error_code.as_ref(), rest),
            "errorMessage" => text(e.error_message.as_ref(), rest),
            "requestID" => text(e.request_id.as_ref(), rest),
            "eventID" => text(Some(&e.event_id), rest),
            "eventType" => text(Some(&e.event_type), rest),
            "apiVersion" => text(e.api_version.as_ref(), rest),
            "recipientAccountId" => text(e.recipient_account_id.as_ref(), rest),
            "sharedEventID" => text(e.shared_event_id.as_ref(), rest),
            "vpcEndpointId" => text(e.vpc_endpoint_id.as_ref(), rest),
            "eventCategory" => text(e.event_category.as_ref(), rest),
            "readOnly" => bool_found(e.read_only, rest),
            "managementEvent" => bool_found(e.management_event, rest),
            "sessionCredentialFromConsole" => bool_text(e.session_credential_from_console, rest),
            "userIdentity" => match &e.user_identity {
                None => self.generic(path),
                Some(ui) => match rest.first() {
                    None => Found::Composite,
                    Some(Step::Key(k)) => {
                        let r2 = &rest[1..];
                        match k.as_str() {
                            "type" => text(ui.kind.as_ref(), r2),
                            "principalId" => text(ui.principal_id.as_ref(), r2),
                            "arn" => text(ui.arn.as_ref(), r2),
                            "accountId" => text(ui.account_id.as_ref(), r2),
                            "accessKeyId" => text(ui.access_key_id.as_ref(), r2),
                            "userName" => text(ui.user_name.as_ref(), r2),
                            "invokedBy" => text(ui.invoked_by.as_ref(), r2),
                            "identityProvider" => text(ui.identity_provider.as_ref(), r2),
                            "credentialId" => text(ui.credential_id.as_ref(), r2),
                            "sessionContext" => match (&ui.session_context, r2.first()) {
                                (None, _) => self.generic(path),
                                (Some(_), None) => Found::Composite,
                                (Some(sc), Some(Step::Key(k2))) => {
                                    let r3 = &r2[1..];
                                    match (k2.as_str(), r3.first()) {
                                        ("sourceIdentity", _) => {
                                            text(sc.source_identity.as_ref(), r3)
                                        }
                                        ("ec2RoleDelivery", _) => {
                                            text(sc.ec2_role_delivery.as_ref(), r3)
                                        }
                                        ("attributes", Some(Step::Key(k3)))
                                            if k3 == "mfaAuthenticated" =>
                                        {
                                            bool_text(
                                                sc.attributes
                                                    .as_ref()
                                                    .and_then(|a| a.mfa_authenticated),
                                                &r3[1..],
                                            )
                                        }
                                        ("sessionIssuer", Some(Step::Key(k3))) => {
                                            let iss = sc.session_issuer.as_ref();
                                            let r4 = &r3[1..];
                                            match k3.as_str() {
                                                "type" => {
                                                    text(iss.and_then(|i| i.kind.as_ref()), r4)
                                                }
                                                "userName" => {
                                                    text(iss.and_then(|i| i.user_name.as_ref()), r4)
                                                }
                                                "arn" => text(iss.and_then(|i| i.arn.as_ref()), r4),
                                                _ => self.generic(path),
                                            }
                                        }
                                        _ => self.generic(path),
                                    }
                                }
                                _ => self.generic(path),
                            },
                            _ => self.generic(path),
                        }
                    }
                    Some(Step::Index(_) | Step::AnyIndex) => Found::Missing,
                },
            },
            other => match RAW_FIELDS.iter().position(|f| *f == other) {
                Some(i) => {
                    let raw = e.raw_field(i);
                    self.raw_field(i, raw, path)
                }
                None => self.generic(path),
            },
        })
    }

    fn json(&self) -> Option<&Value> {
        self.whole()
    }
}
