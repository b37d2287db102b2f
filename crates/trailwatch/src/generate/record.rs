//! The record the generator writes, with fields in CloudTrail's own order,
//! and the random identifiers (event ids, request ids, access keys) it needs.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::Value;

/// One generated CloudTrail record. `None` fields are left out, as CloudTrail
/// leaves out fields that do not apply.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenEvent {
    pub event_version: &'static str,
    pub user_identity: Value,
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    pub user_agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub request_parameters: Value,
    pub response_elements: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<Value>,
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    pub event_type: &'static str,
    pub management_event: bool,
    pub recipient_account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_event_details: Option<Value>,
    pub event_category: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_credential_from_console: Option<&'static str>,
}

/// Format as CloudTrail does: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn cloudtrail_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random version-4 UUID, as CloudTrail's eventIDs are.
pub fn uuid(rng: &mut impl Rng) -> String {
    let a: u128 = rng.random();
    let b = (a & !(0xf << 76)) | (0x4 << 76);
    let b = (b & !(0x3 << 62)) | (0x2 << 62);
    let h = format!("{b:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn pick_chars(rng: &mut impl Rng, set: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| set[rng.random_range(0..set.len())] as char)
        .collect()
}

/// The 16-character unique part of a log file name.
pub fn file_unique(rng: &mut impl Rng) -> String {
    pick_chars(rng, ALNUM, 16)
}

/// An S3-style request id.
pub fn request_id(rng: &mut impl Rng) -> String {
    pick_chars(rng, UPPER_DIGITS, 16)
}

/// An access key id with the given prefix (`AKIA` long-term, `ASIA` temporary).
pub fn access_key(rng: &mut impl Rng, prefix: &str) -> String {
    format!("{prefix}{}", pick_chars(rng, UPPER_DIGITS, 16))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn uuid_has_the_v4_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let u = uuid(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    }
}
