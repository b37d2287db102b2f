//! Calls that mint credentials: the new key, what kind it is and whose it
//! is, read from the call's response. Only a successful call mints.

use serde::Serialize;

use crate::correlate::identity::json_str;
use crate::event::Event;

/// Long-term (an IAM user's or root's `AKIA…` key) or temporary (`ASIA…`,
/// issued by STS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    LongTerm,
    Session,
}

impl KeyKind {
    /// The kind an access key id names by its prefix (`ASIA` keys are
    /// temporary; `AKIA` and anything else are taken as long-term).
    pub fn of(key: &str) -> KeyKind {
        if key.starts_with("ASIA") {
            KeyKind::Session
        } else {
            KeyKind::LongTerm
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::LongTerm => "long-term",
            KeyKind::Session => "session",
        }
    }
}

/// A credential a call issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    pub access_key_id: String,
    pub kind: KeyKind,
    /// Whose it is, when the response says (the assumed-role session's
    /// ARN, the federated user's, the user a key was made for).
    pub principal: Option<String>,
}

/// The STS calls whose response carries `credentials.accessKeyId`.
const STS_CALLS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
];

/// Whether `name` is a call that can mint credentials (cheap, for a first
/// look before the response is parsed).
pub fn can_mint(name: &str) -> bool {
    name == "CreateAccessKey" || STS_CALLS.contains(&name)
}

/// The credential `e` issued, if it is a successful minting call whose
/// response names the new key.
pub fn minted(e: &Event<'_>) -> Option<Minted> {
    let name = e.event_name.as_deref()?;
    if e.error_code.is_some() || !can_mint(name) {
        return None;
    }
    let response: serde_json::Value = serde_json::from_str(e.response_elements?.get()).ok()?;
    if name == "CreateAccessKey" {
        let key = json_str(&response, &["accessKey", "accessKeyId"])?;
        let user = json_str(&response, &["accessKey", "userName"]);
        return Some(Minted {
            access_key_id: key.to_string(),
            kind: KeyKind::of(key),
            principal: user.map(|u| user_arn(e, u)),
        });
    }
    let key = json_str(&response, &["credentials", "accessKeyId"])?;
    let principal = json_str(&response, &["assumedRoleUser", "arn"])
        .or_else(|| json_str(&response, &["federatedUser", "arn"]))
        .map(str::to_string)
        // GetSessionToken's key acts as its caller.
        .or_else(|| (name == "GetSessionToken").then(|| e.principal().map(str::to_string))?);
    Some(Minted {
        access_key_id: key.to_string(),
        kind: KeyKind::Session,
        principal,
    })
}

/// The ARN of the user a `CreateAccessKey` named. Root's own key names the
/// account id as its user.
fn user_arn(e: &Event<'_>, user: &str) -> String {
    let account = e.account().unwrap_or_default();
    if user == account {
        format!("arn:aws:iam::{account}:root")
    } else {
        format!("arn:aws:iam::{account}:user/{user}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::tests_support::event;

    #[test]
    fn assume_role_mints_the_session_key_it_returns() {
        let raw = r#"{"eventVersion":"1.08","eventTime":"2026-04-01T00:00:00Z","awsRegion":"us-east-1","eventID":"e1","eventType":"AwsApiCall","eventName":"AssumeRole","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/a","accessKeyId":"AKIAA"},"responseElements":{"credentials":{"accessKeyId":"ASIANEW"},"assumedRoleUser":{"arn":"arn:aws:sts::222222222222:assumed-role/R/s"}}}"#;
        let m = event(raw, minted).unwrap();
        assert_eq!(m.access_key_id, "ASIANEW");
        assert_eq!(m.kind, KeyKind::Session);
        assert_eq!(
            m.principal.as_deref(),
            Some("arn:aws:sts::222222222222:assumed-role/R/s")
        );
    }

    #[test]
    fn create_access_key_mints_a_long_term_key_of_the_named_user() {
        let raw = r#"{"eventVersion":"1.08","eventTime":"2026-04-01T00:00:00Z","awsRegion":"us-east-1","eventID":"e1","eventType":"AwsApiCall","eventName":"CreateAccessKey","recipientAccountId":"111111111111","responseElements":{"accessKey":{"accessKeyId":"AKIANEW","userName":"svc"}}}"#;
        let m = event(raw, minted).unwrap();
        assert_eq!(m.kind, KeyKind::LongTerm);
        assert_eq!(
            m.principal.as_deref(),
            Some("arn:aws:iam::111111111111:user/svc")
        );
    }

    #[test]
    fn a_refused_call_mints_nothing() {
        let raw = r#"{"eventVersion":"1.08","eventTime":"2026-04-01T00:00:00Z","awsRegion":"us-east-1","eventID":"e1","eventType":"AwsApiCall","eventName":"AssumeRole","errorCode":"AccessDenied","responseElements":{"credentials":{"accessKeyId":"ASIANEW"}}}"#;
        assert_eq!(event(raw, minted), None);
    }
}
