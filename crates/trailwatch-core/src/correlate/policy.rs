//! IAM policy documents as CloudTrail records them in `requestParameters`:
//! a JSON string, sometimes URL-encoded (`%7B%22Version%22…`). What the
//! correlation detections ask of them: does a policy grant admin power,
//! and which accounts does a role's trust policy let in.

use serde_json::Value;

/// AWS-managed policies that amount to admin power (or the power to take
/// it: IAM full access lets a principal grant itself anything).
pub const PRIVILEGED_MANAGED: &[&str] = &[
    "AdministratorAccess",
    "IAMFullAccess",
    "AWSOrganizationsFullAccess",
];

/// Whether a managed policy ARN is one of [`PRIVILEGED_MANAGED`].
pub fn is_privileged_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws")
        && arn.contains(":iam::aws:policy/")
        && PRIVILEGED_MANAGED
            .iter()
            .any(|n| arn.rsplit('/').next() == Some(n))
}

/// A policy document from `requestParameters`: JSON text, URL-encoded or
/// not, or already an object.
pub fn parse_document(v: &Value) -> Option<Value> {
    match v {
        Value::Object(_) => Some(v.clone()),
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('{') {
                serde_json::from_str(t).ok()
            } else {
                let text = percent_encoding::percent_decode_str(t).decode_utf8().ok()?;
                serde_json::from_str(&text).ok()
            }
        }
        _ => None,
    }
}

/// A field that may be one value or a list of them, as strings.
fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    }
}

/// Whether a policy document allows everything (`*` or `*:*`), or all of
/// IAM, on every resource.
pub fn grants_admin(doc: &Value) -> bool {
    statements(doc).into_iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && strings(s.get("Action"))
                .iter()
                .any(|a| matches!(a.to_ascii_lowercase().as_str(), "*" | "*:*" | "iam:*"))
            && strings(s.get("Resource")).contains(&"*")
    })
}

/// The AWS accounts a trust policy lets assume the role (`*` for anyone):
/// the 12-digit ids of its `Principal.AWS` entries.
pub fn trusted_accounts(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in statements(doc) {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let aws = match s.get("Principal") {
            Some(Value::String(p)) if p == "*" => vec!["*"],
            Some(p) => strings(p.get("AWS")),
            None => Vec::new(),
        };
        for p in aws {
            let account = if p == "*" {
                Some("*".to_string())
            } else if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                Some(p.to_string())
            } else {
                p.split(':').nth(4).map(str::to_string)
            };
            if let Some(a) = account.filter(|a| !a.is_empty() && !out.contains(a)) {
                out.push(a);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn admin_grants_are_found_in_plain_and_url_encoded_documents() {
        let plain = json!(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        );
        assert!(grants_admin(&parse_document(&plain).expect("doc")));
        let encoded = json!(
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22s3%3AGetObject%22%2C%22iam%3A%2A%22%5D%2C%22Resource%22%3A%22%2A%22%7D%5D%7D"
        );
        assert!(grants_admin(&parse_document(&encoded).expect("doc")));
        let narrow = json!(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
        assert!(!grants_admin(&parse_document(&narrow).expect("doc")));
        let denied = json!(r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#);
        assert!(!grants_admin(&parse_document(&denied).expect("doc")));
        assert!(is_privileged_arn(
            "arn:aws:iam::aws:policy/AdministratorAccess"
        ));
        assert!(!is_privileged_arn(
            "arn:aws:iam::111122223333:policy/AdministratorAccess"
        ));
        assert!(!is_privileged_arn("arn:aws:iam::aws:policy/ReadOnlyAccess"));
    }

    #[test]
    fn trust_policies_name_the_accounts_they_let_in() {
        let doc = json!(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::193672423079:root","444455556666"]},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#
        );
        assert_eq!(
            trusted_accounts(&parse_document(&doc).expect("doc")),
            ["193672423079", "444455556666"]
        );
        let anyone = json!(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#
        );
        assert_eq!(
            trusted_accounts(&parse_document(&anyone).expect("doc")),
            ["*"]
        );
    }
}
