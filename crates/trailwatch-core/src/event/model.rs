//! The typed view of one CloudTrail record (`cloudtrail-record.md` §3–§5).
//!
//! An [`Event`] borrows from the decoder's buffer: hot fields are typed,
//! free-form objects (`requestParameters`, `responseElements`, …) stay as the
//! exact JSON text they arrived as, and the whole record's text is kept beside
//! the typed view by the decoder, so no field is ever lost. Unknown fields are
//! tolerated, as new minor versions add them.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON string that borrows from the input when it has no escapes.
///
/// `Option<Cow<str>>` never borrows under serde's derive, so this newtype
/// carries the borrowing visitor itself.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    /// The text as a plain `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An owned copy that no longer borrows from the input.
    pub fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }
}

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// Accepts `true`, `false`, `"true"` and `"false"`: CloudTrail documents
/// string-encoded booleans for some fields and tools re-encode others.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct BoolVisitor;
    impl<'de> Visitor<'de> for BoolVisitor {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean or the string \"true\" or \"false\"")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v {
                "true" | "True" | "TRUE" => Ok(Some(true)),
                "false" | "False" | "FALSE" => Ok(Some(false)),
                other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(BoolVisitor)
        }
    }
    d.deserialize_option(BoolVisitor)
}

/// One CloudTrail record, typed where detections and the lake need speed.
///
/// Required by the spec: `eventVersion`, `eventTime`, `awsRegion`, `eventID`,
/// `eventType`. Everything else is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    #[serde(borrow)]
    pub event_version: Text<'a>,
    #[serde(borrow, default)]
    pub user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow)]
    pub event_time: Text<'a>,
    #[serde(borrow, default)]
    pub event_source: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub event_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub aws_region: Text<'a>,
    #[serde(borrow, default, rename = "sourceIPAddress")]
    pub source_ip_address: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub user_agent: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub error_code: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub error_message: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub response_elements: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub additional_event_data: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "requestID")]
    pub request_id: Option<Text<'a>>,
    #[serde(borrow, rename = "eventID")]
    pub event_id: Text<'a>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub read_only: Option<bool>,
    #[serde(borrow, default)]
    pub resources: Option<Vec<Resource<'a>>>,
    #[serde(borrow)]
    pub event_type: Text<'a>,
    #[serde(borrow, default)]
    pub api_version: Option<Text<'a>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub management_event: Option<bool>,
    #[serde(borrow, default)]
    pub recipient_account_id: Option<Text<'a>>,
    #[serde(borrow, default, rename = "sharedEventID")]
    pub shared_event_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub vpc_endpoint_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub vpc_endpoint_account_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub service_event_details: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub event_category: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub addendum: Option<&'a RawValue>,
    /// Documented as the string `"true"`; kept as text, as Athena types it.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub session_credential_from_console: Option<bool>,
    #[serde(borrow, default)]
    pub edge_device_details: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub tls_details: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub insight_details: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub event_context: Option<&'a RawValue>,
}

/// `userIdentity` (`cloudtrail-record.md` §4).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub principal_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub arn: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub account_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub access_key_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub user_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub invoked_by: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub session_context: Option<SessionContext<'a>>,
    #[serde(borrow, default)]
    pub identity_provider: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub credential_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub on_behalf_of: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub in_scope_of: Option<&'a RawValue>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow, default)]
    pub attributes: Option<SessionAttributes<'a>>,
    #[serde(borrow, default)]
    pub session_issuer: Option<SessionIssuer<'a>>,
    #[serde(borrow, default)]
    pub web_id_federation_data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub source_identity: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub ec2_role_delivery: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub assumed_root: Option<Text<'a>>,
}

/// `sessionContext.attributes`. `mfaAuthenticated` is a string on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes<'a> {
    #[serde(borrow, default)]
    pub creation_date: Option<Text<'a>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub mfa_authenticated: Option<bool>,
}

/// `sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub principal_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub arn: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub account_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub user_name: Option<Text<'a>>,
}

/// One element of `resources`; the ARN key is spelled upper-case on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resource<'a> {
    #[serde(borrow, default, rename = "ARN")]
    pub arn: Option<Text<'a>>,
    #[serde(borrow, default, rename = "accountId")]
    pub account_id: Option<Text<'a>>,
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Text<'a>>,
}

/// The free-form objects of a record, kept as raw JSON text by the
/// decoder, by their key in the record.
pub const RAW_FIELDS: [&str; 9] = [
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "serviceEventDetails",
    "addendum",
    "tlsDetails",
    "edgeDeviceDetails",
    "insightDetails",
    "eventContext",
];

impl<'a> Event<'a> {
    /// The raw JSON of free-form object `i` of [`RAW_FIELDS`] (None when
    /// it is absent or null).
    pub fn raw_field(&self, i: usize) -> Option<&'a RawValue> {
        match i {
            0 => self.request_parameters,
            1 => self.response_elements,
            2 => self.additional_event_data,
            3 => self.service_event_details,
            4 => self.addendum,
            5 => self.tls_details,
            6 => self.edge_device_details,
            7 => self.insight_details,
            8 => self.event_context,
            _ => None,
        }
    }
}

impl Event<'_> {
    /// The account this copy of the event belongs to: `recipientAccountId`,
    /// else the caller's `userIdentity.accountId`.
    pub fn account(&self) -> Option<&str> {
        self.recipient_account_id
            .as_deref()
            .or_else(|| self.user_identity.as_ref()?.account_id.as_deref())
    }

    /// The best single name for who acted: the ARN, else the principal id,
    /// else the identity type (e.g. `AWSService` with `invokedBy`).
    pub fn principal(&self) -> Option<&str> {
        let ui = self.user_identity.as_ref()?;
        ui.arn
            .as_deref()
            .or(ui.principal_id.as_deref())
            .or(ui.invoked_by.as_deref())
            .or(ui.kind.as_deref())
    }

    /// `eventVersion` as (major, minor); `None` when it is not `<int>.<int>`.
    pub fn version(&self) -> Option<(u32, u32)> {
        let (major, minor) = self.event_version.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    }

    /// `eventCategory`, defaulting to `Management` for records older than
    /// 1.07, which lack it.
    pub fn category(&self) -> &str {
        self.event_category.as_deref().unwrap_or("Management")
    }
}
