//! The fictional organisation the sample trail describes: its accounts,
//! regions and the people, roles and services that act in them.

use serde_json::{Value, json};

/// An AWS account of the organisation (prod, staging, security, in order).
#[derive(Debug, Clone)]
pub struct Account {
    pub id: &'static str,
    /// Share of the organisation's ordinary traffic.
    pub weight: f64,
}

pub const ORG_ID: &str = "o-a1b2c3d4e5";

pub const ACCOUNTS: &[Account] = &[
    Account {
        id: "111111111111",
        weight: 0.6,
    },
    Account {
        id: "222222222222",
        weight: 0.3,
    },
    Account {
        id: "333333333333",
        weight: 0.1,
    },
];

/// Regions with their share of an account's traffic. Global services
/// (IAM, STS global endpoint, sign-in) always record in us-east-1.
pub const REGIONS: &[(&str, f64)] = &[
    ("us-east-1", 0.6),
    ("eu-west-1", 0.3),
    ("ap-southeast-2", 0.1),
];

/// How a principal shows up in `userIdentity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A person with an IAM user, console and CLI.
    Human,
    /// A CI pipeline's IAM user with a long-term access key.
    Ci,
    /// An EC2 instance role.
    Ec2Role,
    /// A Lambda execution role.
    LambdaRole,
    /// An IAM Identity Center (SSO) session of a person.
    Sso,
    /// An AWS service acting on its own.
    Service,
}

/// Someone or something that makes API calls.
#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: Kind,
    pub name: &'static str,
    pub account: &'static str,
    pub access_key: String,
    pub ips: &'static [&'static str],
    pub agents: &'static [&'static str],
    /// Relative activity.
    pub weight: f64,
}

pub const OFFICE_IPS: &[&str] = &["198.51.100.23", "198.51.100.24", "198.51.100.77"];
pub const HOME_IPS: &[&str] = &["203.0.113.15", "203.0.113.42", "192.0.2.88"];
pub const CI_IPS: &[&str] = &["34.201.17.9", "34.201.17.10"];
pub const EC2_IPS: &[&str] = &["52.23.101.14", "52.23.101.15", "10.0.12.31"];
pub const CLI_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/",
    "aws-cli/2.13.5 Python/3.11.4 Darwin/23.1.0 exe/x86_64 prompt/off",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.12.2",
];
pub const CONSOLE_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0",
];
pub const SDK_AGENTS: &[&str] = &[
    "aws-sdk-java/2.25.11 Linux/5.10.213-201.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10",
    "aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.53.0",
];
pub const CI_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 command/deploy",
    "Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.43.0",
];
pub const LAMBDA_AGENTS: &[&str] =
    &["aws-sdk-nodejs/3.540.0 linux/v20.11.1 exec-env/AWS_Lambda_nodejs20.x"];

/// The principals of one account. Access keys are fixed per principal so
/// that "everything one access key did" has an answer.
pub fn principals(account: &'static str, keys: &mut impl FnMut(&str) -> String) -> Vec<Principal> {
    let human = |name, weight, keys: &mut dyn FnMut(&str) -> String| Principal {
        kind: Kind::Human,
        name,
        account,
        access_key: keys("AKIA"),
        ips: if weight > 1.0 { OFFICE_IPS } else { HOME_IPS },
        agents: CLI_AGENTS,
        weight,
    };
    vec![
        human("alice", 2.0, keys),
        human("bob", 1.5, keys),
        human("carol", 1.2, keys),
        human("dave", 0.6, keys),
        Principal {
            kind: Kind::Ci,
            name: "ci-deploy",
            account,
            access_key: keys("AKIA"),
            ips: CI_IPS,
            agents: CI_AGENTS,
            weight: 2.0,
        },
        Principal {
            kind: Kind::Ec2Role,
            name: "app-server",
            account,
            access_key: keys("ASIA"),
            ips: EC2_IPS,
            agents: SDK_AGENTS,
            weight: 6.0,
        },
        Principal {
            kind: Kind::LambdaRole,
            name: "order-processor",
            account,
            access_key: keys("ASIA"),
            ips: &["54.90.22.180"],
            agents: LAMBDA_AGENTS,
            weight: 3.0,
        },
        Principal {
            kind: Kind::Sso,
            name: "alice@example.com",
            account,
            access_key: keys("ASIA"),
            ips: OFFICE_IPS,
            agents: CONSOLE_AGENTS,
            weight: 1.0,
        },
        Principal {
            kind: Kind::Service,
            name: "config.amazonaws.com",
            account,
            access_key: String::new(),
            ips: &["config.amazonaws.com"],
            agents: &["config.amazonaws.com"],
            weight: 1.0,
        },
    ]
}

/// Stable fake unique ids derived from a name, as IAM's `AIDA…`/`AROA…`.
pub fn unique_id(prefix: &str, name: &str, account: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes().chain(account.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("{prefix}{:016X}", h).chars().take(21).collect()
}

const SSO_ROLE: &str = "AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b";

/// `userIdentity` for a principal.
pub fn identity(p: &Principal, mfa: bool) -> Value {
    let acct = p.account;
    match p.kind {
        Kind::Human | Kind::Ci => json!({
            "type": "IAMUser",
            "principalId": unique_id("AIDA", p.name, acct),
            "arn": format!("arn:aws:iam::{acct}:user/{}", p.name),
            "accountId": acct,
            "accessKeyId": p.access_key,
            "userName": p.name,
            "sessionContext": if p.kind == Kind::Human && mfa {
                json!({"attributes": {"creationDate": "2026-04-01T08:00:00Z", "mfaAuthenticated": "true"}})
            } else {
                Value::Null
            },
        }),
        Kind::Ec2Role | Kind::LambdaRole => {
            let session = if p.kind == Kind::Ec2Role {
                "i-0a12b34c56d78e90f"
            } else {
                p.name
            };
            let role_id = unique_id("AROA", p.name, acct);
            let mut ctx = json!({
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": format!("arn:aws:iam::{acct}:role/{}", p.name),
                    "accountId": acct,
                    "userName": p.name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": "2026-04-01T06:00:00Z", "mfaAuthenticated": "false"},
            });
            if p.kind == Kind::Ec2Role {
                ctx["ec2RoleDelivery"] = json!("2.0");
            }
            json!({
                "type": "AssumedRole",
                "principalId": format!("{role_id}:{session}"),
                "arn": format!("arn:aws:sts::{acct}:assumed-role/{}/{session}", p.name),
                "accountId": acct,
                "accessKeyId": p.access_key,
                "sessionContext": ctx,
            })
        }
        Kind::Sso => {
            let role_id = unique_id("AROA", SSO_ROLE, acct);
            json!({
                "type": "AssumedRole",
                "principalId": format!("{role_id}:{}", p.name),
                "arn": format!("arn:aws:sts::{acct}:assumed-role/{SSO_ROLE}/{}", p.name),
                "accountId": acct,
                "accessKeyId": p.access_key,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": role_id,
                        "arn": format!("arn:aws:iam::{acct}:role/aws-reserved/sso.amazonaws.com/{SSO_ROLE}"),
                        "accountId": acct,
                        "userName": SSO_ROLE,
                    },
                    "webIdFederationData": {},
                    "attributes": {"creationDate": "2026-04-01T08:30:00Z", "mfaAuthenticated": "false"},
                },
            })
        }
        Kind::Service => json!({"type": "AWSService", "invokedBy": p.name}),
    }
}

/// Strip JSON nulls out of an identity built with optional members.
pub fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|_, x| !x.is_null());
    }
    v
}
