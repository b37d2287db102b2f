//! An evidence event as respond reads it: the call, who made it, where,
//! and its request and response as JSON (owned, so evidence outlives the
//! buffer it was decoded from).

use serde_json::Value;

use crate::event::Event;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    pub event_id: String,
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    pub region: String,
    /// The account the call was made in (`recipientAccountId`, else the
    /// caller's).
    pub account: Option<String>,
    /// The caller's `userIdentity.userName` (IAM users) and type.
    pub caller_user: Option<String>,
    pub caller_type: Option<String>,
    pub error_code: Option<String>,
    pub request: Value,
    pub response: Value,
}

fn json(raw: Option<&serde_json::value::RawValue>) -> Value {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

impl Evidence {
    pub fn from_event(e: &Event<'_>) -> Evidence {
        let identity = e.user_identity.as_ref();
        Evidence {
            event_id: e.event_id.to_string(),
            event_time: e.event_time.to_string(),
            event_source: e
                .event_source
                .as_deref()
                .map(str::to_string)
                .unwrap_or_default(),
            event_name: e
                .event_name
                .as_deref()
                .map(str::to_string)
                .unwrap_or_default(),
            region: e.aws_region.to_string(),
            account: e
                .recipient_account_id
                .as_deref()
                .or_else(|| identity.and_then(|i| i.account_id.as_deref()))
                .map(str::to_string),
            caller_user: identity
                .and_then(|i| i.user_name.as_deref())
                .map(str::to_string),
            caller_type: identity.and_then(|i| i.kind.as_deref()).map(str::to_string),
            error_code: e.error_code.as_deref().map(str::to_string),
            request: json(e.request_parameters),
            response: json(e.response_elements),
        }
    }

    /// A text field of the request (`None` when absent or empty).
    pub fn param(&self, name: &str) -> Option<&str> {
        text(&self.request, name)
    }

    /// A text field of the response, by path.
    pub fn response_text(&self, path: &[&str]) -> Option<&str> {
        let mut v = &self.response;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().filter(|s| !s.is_empty())
    }
}

pub(crate) fn text<'v>(v: &'v Value, name: &str) -> Option<&'v str> {
    v.get(name)?.as_str().filter(|s| !s.is_empty())
}
