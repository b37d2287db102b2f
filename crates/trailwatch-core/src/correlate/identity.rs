//! Who acted, as one identity across the names CloudTrail gives them.
//!
//! An IAM user is its ARN whichever access key it used. A role session
//! belongs to whoever started it, when the `AssumeRole` call that issued
//! its key was seen (so `alice` and the session she assumed are one
//! identity, whatever the session is called); else to the session's
//! source identity when one was set; else an Identity Center (SSO) session
//! is the person it names, an EC2 instance's session is that instance,
//! and any other session is its role, across session names. AWS services
//! acting on their own are nobody.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// How long an issued session key is remembered (the longest role
/// session lasts 12 hours; a day covers clock skew and late files).
const KEY_LIFE_MS: i64 = 36 * 3_600_000;

/// Session keys seen issued, and to whom.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Sessions {
    /// Access key id → (identity of the caller, when issued, ms).
    issued: BTreeMap<String, (String, i64)>,
}

/// The text of a JSON string field at `path` in a raw JSON value.
pub(crate) fn json_str<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    let mut at = v;
    for p in path {
        at = at.get(p)?;
    }
    at.as_str()
}

impl Sessions {
    /// Learn from a call that issues session credentials (`AssumeRole`,
    /// `GetSessionToken`, `GetFederationToken`): later calls carrying its
    /// key are its caller's. Cheap for every other record.
    pub fn learn(&mut self, e: &Event<'_>, at_ms: i64) {
        let issues = matches!(
            e.event_name.as_deref(),
            Some("AssumeRole" | "GetSessionToken" | "GetFederationToken")
        ) && e.error_code.is_none();
        if !issues {
            return;
        }
        let Some(who) = self.identify(e) else { return };
        if let Some(raw) = e.response_elements
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(raw.get())
            && let Some(key) = json_str(&v, &["credentials", "accessKeyId"])
        {
            self.issued
                .insert(key.to_string(), (who.into_owned(), at_ms));
        }
    }

    /// The identity of the event's caller (borrowed from the event where
    /// it is a name the event carries).
    pub fn identify<'e>(&self, e: &'e Event<'_>) -> Option<Cow<'e, str>> {
        let ui = e.user_identity.as_ref()?;
        let kind = ui.kind.as_deref().unwrap_or_default();
        if let Some(key) = ui.access_key_id.as_deref()
            && let Some((who, _)) = self.issued.get(key)
        {
            return Some(Cow::Owned(who.clone()));
        }
        match kind {
            "Root" | "IAMUser" | "FederatedUser" => ui
                .arn
                .as_deref()
                .or(ui.principal_id.as_deref())
                .map(Cow::Borrowed),
            "AssumedRole" => {
                let ctx = ui.session_context.as_ref();
                if let Some(src) = ctx.and_then(|c| c.source_identity.as_deref()) {
                    return Some(Cow::Owned(format!("source-identity/{src}")));
                }
                let arn = ui.arn.as_deref()?;
                // arn:aws:sts::ACCT:assumed-role/ROLE/SESSION
                let (_, rest) = arn.split_once(":assumed-role/")?;
                let (role, session) = rest.split_once('/').unwrap_or((rest, ""));
                let issuer = match ctx
                    .and_then(|c| c.session_issuer.as_ref())
                    .and_then(|i| i.arn.as_deref())
                {
                    Some(a) => Cow::Borrowed(a),
                    None => {
                        let account = arn.split(':').nth(4).unwrap_or_default();
                        Cow::Owned(format!("arn:aws:iam::{account}:role/{role}"))
                    }
                };
                if role.starts_with("AWSReservedSSO_") && !session.is_empty() {
                    Some(Cow::Owned(format!("sso-user/{session}")))
                } else if is_instance_id(session) {
                    Some(Cow::Owned(format!("{issuer}/{session}")))
                } else {
                    Some(issuer)
                }
            }
            _ => None,
        }
    }

    /// Forget keys issued before `now_ms` minus a day and a half.
    pub fn expire(&mut self, now_ms: i64) {
        self.issued
            .retain(|_, (_, at)| now_ms.saturating_sub(*at) <= KEY_LIFE_MS);
    }
}

/// `i-` and 8 or 17 hex digits: an EC2 instance id.
fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|h| matches!(h.len(), 8 | 17) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event<'_> {
        serde_json::from_str(json).expect("event")
    }

    #[test]
    fn a_user_and_the_session_it_assumed_are_one_identity() {
        let mut s = Sessions::default();
        let assume = r#"{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z","eventID":"a","eventType":"AwsApiCall","awsRegion":"us-east-1",
            "eventName":"AssumeRole","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accessKeyId":"AKIA1"},
            "responseElements":{"credentials":{"accessKeyId":"ASIA9","expiration":"x"}}}"#;
        let call = r#"{"eventVersion":"1.08","eventTime":"2024-01-01T00:05:00Z","eventID":"b","eventType":"AwsApiCall","awsRegion":"us-east-1",
            "eventName":"ListBuckets","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Admin/botocore-session-17","accessKeyId":"ASIA9",
            "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Admin"}}}}"#;
        let other = call.replace("ASIA9", "ASIA7");
        s.learn(&event(assume), 0);
        assert_eq!(
            s.identify(&event(assume)).as_deref(),
            Some("arn:aws:iam::111122223333:user/alice")
        );
        assert_eq!(
            s.identify(&event(call)).as_deref(),
            Some("arn:aws:iam::111122223333:user/alice")
        );
        // A session of the same role whose issuing call was not seen is
        // the role, whatever the session is called.
        assert_eq!(
            s.identify(&event(&other)).as_deref(),
            Some("arn:aws:iam::111122223333:role/Admin")
        );
        s.expire(KEY_LIFE_MS + 1);
        assert_eq!(
            s.identify(&event(call)).as_deref(),
            Some("arn:aws:iam::111122223333:role/Admin")
        );
    }

    #[test]
    fn sso_sessions_are_people_and_instance_sessions_are_instances() {
        let s = Sessions::default();
        let sso = r#"{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z","eventID":"a","eventType":"AwsApiCall","awsRegion":"us-east-1",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com"}}"#;
        assert_eq!(
            s.identify(&event(sso)).as_deref(),
            Some("sso-user/alice@example.com")
        );
        let ec2 = r#"{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z","eventID":"a","eventType":"AwsApiCall","awsRegion":"us-east-1",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/i-0a12b34c56d78e90f"}}"#;
        assert_eq!(
            s.identify(&event(ec2)).as_deref(),
            Some("arn:aws:iam::111122223333:role/app/i-0a12b34c56d78e90f")
        );
        let svc = r#"{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z","eventID":"a","eventType":"AwsApiCall","awsRegion":"us-east-1",
            "userIdentity":{"type":"AWSService","invokedBy":"config.amazonaws.com"}}"#;
        assert_eq!(s.identify(&event(svc)), None);
    }
}
