//! S3 buckets: created and deleted, made public by a policy or an ACL,
//! protected by Block Public Access, encrypted by default or not.

use serde_json::Value;

use super::{Bucket, Call, Posture, text};

pub(super) const CHANGES: &[&str] = &[
    "CreateBucket",
    "DeleteBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
];

pub(super) fn apply(p: &mut Posture, c: &Call<'_>) {
    let Some(bucket) = text(&c.rp, "bucketName") else {
        return;
    };
    let key = c.key(&bucket);
    if c.name == "DeleteBucket" {
        p.buckets.remove(&key);
        return;
    }
    let b = p.buckets.entry(key).or_insert_with(|| Bucket {
        account: c.account.clone(),
        region: c.region.clone(),
        partial: c.name != "CreateBucket",
        ..Bucket::default()
    });
    b.changed = c.time.clone();
    let rp = &c.rp;
    match c.name {
        "PutBucketPolicy" => {
            b.policy_public = rp.get("bucketPolicy").is_some_and(policy_allows_anyone);
        }
        "DeleteBucketPolicy" => b.policy_public = false,
        "PutBucketAcl" => b.acl_public = acl_grants_everyone(rp),
        "PutBucketPublicAccessBlock" => {
            let conf = rp.get("PublicAccessBlockConfiguration");
            let on = |k: &str| {
                conf.and_then(|c| c.get(k))
                    .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"))
            };
            b.blocks_public_access = Some(
                on("BlockPublicPolicy")
                    && on("RestrictPublicBuckets")
                    && on("BlockPublicAcls")
                    && on("IgnorePublicAcls"),
            );
        }
        "DeleteBucketPublicAccessBlock" => b.blocks_public_access = Some(false),
        "PutBucketEncryption" => b.encryption = Some(true),
        "DeleteBucketEncryption" => b.encryption = Some(false),
        _ => {}
    }
}

/// Whether a bucket policy lets anyone in: an Allow statement whose
/// principal is `*` (or `{"AWS": "*"}`) with no condition.
pub fn policy_allows_anyone(policy: &Value) -> bool {
    let doc = match policy {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => Vec::new(),
    };
    statements.iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let anyone = match s.get("Principal") {
            Some(Value::String(p)) => p == "*",
            Some(Value::Object(m)) => m.get("AWS").is_some_and(|a| match a {
                Value::String(p) => p == "*",
                Value::Array(ps) => ps.iter().any(|p| p.as_str() == Some("*")),
                _ => false,
            }),
            _ => false,
        };
        allow && anyone && s.get("Condition").is_none()
    })
}

/// Whether an ACL (as `PutBucketAcl` records it) grants everyone.
fn acl_grants_everyone(rp: &Value) -> bool {
    let text = rp.to_string();
    text.contains("acs.amazonaws.com/groups/global/AllUsers")
        || text.contains("acs.amazonaws.com/groups/global/AuthenticatedUsers")
        || rp
            .get("x-amz-acl")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("public-"))
}
