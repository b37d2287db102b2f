//! An API call as the `aws` CLI command that makes it, for a person who
//! would rather run the fix themselves. Every value comes from a record,
//! so every value is shell-quoted: a hostile bucket or user name cannot
//! turn the command into another one.

use serde_json::Value;

use super::ApiCall;

/// The CLI's command group for a service (S3's API calls are `s3api`).
fn group(service: &str) -> &str {
    match service {
        "s3" => "s3api",
        other => other,
    }
}

/// `PutPublicAccessBlock` → `put-public-access-block`.
fn kebab(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 8);
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('-');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// `s` as one shell word: bare when it holds only characters no shell
/// treats specially, else in single quotes.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The command, with `--region` for regional services.
pub fn aws_cli(call: &ApiCall, region: Option<&str>) -> String {
    let mut words = vec![
        "aws".to_string(),
        group(&call.service).to_string(),
        kebab(&call.operation),
    ];
    if let Value::Object(params) = &call.parameters {
        for (name, value) in params {
            let flag = kebab(name);
            match value {
                Value::Bool(true) => words.push(format!("--{flag}")),
                Value::Bool(false) => words.push(format!("--no-{flag}")),
                Value::String(s) => {
                    words.push(format!("--{flag}"));
                    words.push(shell_quote(s));
                }
                Value::Null => {}
                other => {
                    words.push(format!("--{flag}"));
                    words.push(shell_quote(&other.to_string()));
                }
            }
        }
    }
    if let Some(r) = region {
        words.push("--region".into());
        words.push(shell_quote(r));
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cmd(service: &str, op: &str, params: Value, region: Option<&str>) -> String {
        aws_cli(
            &ApiCall {
                service: service.into(),
                operation: op.into(),
                parameters: params,
            },
            region,
        )
    }

    #[test]
    fn operations_and_parameters_are_written_as_the_cli_spells_them() {
        assert_eq!(kebab("PutPublicAccessBlock"), "put-public-access-block");
        assert_eq!(kebab("AccessKeyId"), "access-key-id");
        assert_eq!(kebab("SSEAlgorithm"), "sse-algorithm");
        assert_eq!(
            cmd(
                "iam",
                "UpdateAccessKey",
                json!({"UserName": "svc", "AccessKeyId": "AKIA1", "Status": "Inactive"}),
                None
            ),
            "aws iam update-access-key --access-key-id AKIA1 --status Inactive --user-name svc"
        );
        assert_eq!(
            cmd(
                "guardduty",
                "CreateDetector",
                json!({"Enable": true}),
                Some("us-east-1")
            ),
            "aws guardduty create-detector --enable --region us-east-1"
        );
        assert_eq!(
            cmd(
                "s3",
                "PutPublicAccessBlock",
                json!({"Bucket": "b", "PublicAccessBlockConfiguration": {"BlockPublicAcls": true}}),
                Some("eu-west-1")
            ),
            "aws s3api put-public-access-block --bucket b --public-access-block-configuration '{\"BlockPublicAcls\":true}' --region eu-west-1"
        );
    }

    #[test]
    fn a_hostile_name_stays_one_quoted_word() {
        let line = cmd(
            "iam",
            "DeleteLoginProfile",
            json!({"UserName": "x'; rm -rf / #"}),
            None,
        );
        assert_eq!(
            line,
            "aws iam delete-login-profile --user-name 'x'\\''; rm -rf / #'"
        );
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
        assert_eq!(shell_quote(""), "''");
    }
}
