//! Ordinary, benign traffic: what each kind of principal usually calls,
//! with plausible request parameters and an occasional access error.

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use super::record::{GenEvent, cloudtrail_time, request_id, uuid};
use super::world::{Kind, Principal, identity, without_nulls};

/// One API action in the catalogue.
#[derive(Debug, Clone, Copy)]
struct Action {
    source: &'static str,
    name: &'static str,
    read_only: bool,
    /// A data event (S3 object, Lambda invoke, DynamoDB item), not management.
    data: bool,
    weight: u32,
}

const fn act(source: &'static str, name: &'static str, read_only: bool, weight: u32) -> Action {
    Action {
        source,
        name,
        read_only,
        data: false,
        weight,
    }
}

const fn data(source: &'static str, name: &'static str, read_only: bool, weight: u32) -> Action {
    Action {
        source,
        name,
        read_only,
        data: true,
        weight,
    }
}

const HUMAN: &[Action] = &[
    act("ec2.amazonaws.com", "DescribeInstances", true, 20),
    act("ec2.amazonaws.com", "DescribeSecurityGroups", true, 8),
    act("ec2.amazonaws.com", "DescribeVolumes", true, 4),
    act("ec2.amazonaws.com", "CreateTags", false, 2),
    act(
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        false,
        1,
    ),
    act("s3.amazonaws.com", "ListBuckets", true, 8),
    data("s3.amazonaws.com", "GetObject", true, 6),
    act("iam.amazonaws.com", "ListRoles", true, 4),
    act("iam.amazonaws.com", "GetUser", true, 3),
    act("sts.amazonaws.com", "GetCallerIdentity", true, 8),
    act("cloudformation.amazonaws.com", "DescribeStacks", true, 6),
    act("logs.amazonaws.com", "FilterLogEvents", true, 6),
    act("ssm.amazonaws.com", "GetParameter", true, 4),
    act("kms.amazonaws.com", "Decrypt", true, 3),
    act("signin.amazonaws.com", "ConsoleLogin", false, 1),
];

const CI: &[Action] = &[
    data("s3.amazonaws.com", "PutObject", false, 10),
    act(
        "lambda.amazonaws.com",
        "UpdateFunctionCode20150331v2",
        false,
        3,
    ),
    act("cloudformation.amazonaws.com", "DescribeStacks", true, 8),
    act("cloudformation.amazonaws.com", "UpdateStack", false, 2),
    act("ecr.amazonaws.com", "GetAuthorizationToken", true, 6),
    act("sts.amazonaws.com", "GetCallerIdentity", true, 6),
    act("ecs.amazonaws.com", "UpdateService", false, 2),
];

const EC2_ROLE: &[Action] = &[
    data("s3.amazonaws.com", "GetObject", true, 20),
    data("s3.amazonaws.com", "PutObject", false, 6),
    act("kms.amazonaws.com", "Decrypt", true, 10),
    act("kms.amazonaws.com", "GenerateDataKey", true, 6),
    act("secretsmanager.amazonaws.com", "GetSecretValue", true, 4),
    act("ssm.amazonaws.com", "GetParameters", true, 4),
    data("dynamodb.amazonaws.com", "GetItem", true, 10),
    data("dynamodb.amazonaws.com", "Query", true, 6),
    act("sts.amazonaws.com", "AssumeRole", true, 2),
];

const LAMBDA_ROLE: &[Action] = &[
    data("dynamodb.amazonaws.com", "PutItem", false, 10),
    data("dynamodb.amazonaws.com", "GetItem", true, 8),
    data("s3.amazonaws.com", "PutObject", false, 4),
    act("kms.amazonaws.com", "Decrypt", true, 6),
    act("logs.amazonaws.com", "CreateLogStream", false, 3),
    act("sns.amazonaws.com", "Publish", false, 3),
];

const SSO: &[Action] = &[
    act("ec2.amazonaws.com", "DescribeInstances", true, 10),
    act("cloudtrail.amazonaws.com", "LookupEvents", true, 4),
    act("iam.amazonaws.com", "ListUsers", true, 3),
    act("s3.amazonaws.com", "ListBuckets", true, 6),
    act("health.amazonaws.com", "DescribeEventAggregates", true, 4),
    act("ce.amazonaws.com", "GetCostAndUsage", true, 2),
];

const SERVICE: &[Action] = &[
    act("sts.amazonaws.com", "AssumeRole", true, 6),
    act("ec2.amazonaws.com", "DescribeSecurityGroups", true, 4),
    act("iam.amazonaws.com", "GetRole", true, 3),
    act("s3.amazonaws.com", "GetBucketAcl", true, 3),
];

/// Services whose events CloudTrail records in us-east-1 only.
fn is_global(source: &str) -> bool {
    matches!(
        source,
        "iam.amazonaws.com" | "signin.amazonaws.com" | "ce.amazonaws.com" | "health.amazonaws.com"
    )
}

fn catalogue(kind: Kind) -> &'static [Action] {
    match kind {
        Kind::Human => HUMAN,
        Kind::Ci => CI,
        Kind::Ec2Role => EC2_ROLE,
        Kind::LambdaRole => LAMBDA_ROLE,
        Kind::Sso => SSO,
        Kind::Service => SERVICE,
    }
}

fn pick_action(rng: &mut impl Rng, kind: Kind, region: &str) -> Action {
    let table = catalogue(kind);
    let usable = |a: &&Action| region == "us-east-1" || !is_global(a.source);
    let total: u32 = table.iter().filter(usable).map(|a| a.weight).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for a in table.iter().filter(usable) {
        if roll < a.weight {
            return *a;
        }
        roll -= a.weight;
    }
    table[0]
}

pub const BUCKETS: &[&str] = &[
    "acme-prod-assets",
    "acme-app-uploads",
    "acme-build-artifacts",
];

fn params(rng: &mut impl Rng, a: &Action, account: &str, region: &str) -> (Value, Option<Value>) {
    let bucket = *BUCKETS.choose(rng).unwrap_or(&"acme-prod-assets");
    let key = format!(
        "data/{:04}/{:06}.json",
        rng.random_range(0..500),
        rng.random_range(0..1_000_000)
    );
    let p = match a.name {
        "GetObject" | "PutObject" => {
            json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": key})
        }
        "DescribeInstances" => json!({"instancesSet": {}, "filterSet": {}}),
        "DescribeSecurityGroups" => {
            json!({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}})
        }
        "DescribeVolumes" => json!({"volumeSet": {}, "filterSet": {}}),
        "CreateTags" => {
            json!({"resourcesSet": {"items": [{"resourceId": "i-0a12b34c56d78e90f"}]}, "tagSet": {"items": [{"key": "owner", "value": "platform"}]}})
        }
        "AuthorizeSecurityGroupIngress" => json!({
            "groupId": "sg-0b1c2d3e4f5a6b7c8",
            "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
                "groups": {}, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}
        }),
        "GetUser"
        | "ListRoles"
        | "ListUsers"
        | "ListBuckets"
        | "GetCallerIdentity"
        | "GetAuthorizationToken"
        | "LookupEvents"
        | "DescribeEventAggregates" => Value::Null,
        "GetRole" => json!({"roleName": "AWSServiceRoleForConfig"}),
        "GetBucketAcl" => json!({"bucketName": bucket, "acl": ""}),
        "DescribeStacks" | "UpdateStack" => json!({"stackName": "acme-web"}),
        "FilterLogEvents" => {
            json!({"logGroupName": "/ecs/acme-web", "startTime": 1_775_000_000_000_i64})
        }
        "GetParameter" | "GetParameters" => {
            json!({"name": "/acme/prod/db-host", "withDecryption": false})
        }
        "Decrypt" | "GenerateDataKey" => {
            json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": format!("arn:aws:kms:{region}:{account}:key/8a7b6c5d-1e2f-4a3b-9c8d-7e6f5a4b3c2d")})
        }
        "GetSecretValue" => json!({"secretId": "prod/acme/db-password"}),
        "GetItem" | "PutItem" | "Query" => json!({"tableName": "orders"}),
        "AssumeRole" => {
            json!({"roleArn": format!("arn:aws:iam::{account}:role/acme-readonly"), "roleSessionName": format!("s{}", rng.random_range(1000..9999))})
        }
        "UpdateFunctionCode20150331v2" => {
            json!({"functionName": "order-processor", "publish": true})
        }
        "UpdateService" => json!({"cluster": "acme", "service": "web", "forceNewDeployment": true}),
        "CreateLogStream" => {
            json!({"logGroupName": "/aws/lambda/order-processor", "logStreamName": "2026/04/01/[$LATEST]abc"})
        }
        "Publish" => json!({"topicArn": format!("arn:aws:sns:{region}:{account}:order-events")}),
        "GetCostAndUsage" => json!({"granularity": "DAILY"}),
        _ => Value::Null,
    };
    let resources = match a.name {
        "GetObject" | "PutObject" => Some(json!([
            {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}
        ])),
        "Decrypt" | "GenerateDataKey" => {
            Some(json!([{"accountId": account, "type": "AWS::KMS::Key",
            "ARN": format!("arn:aws:kms:{region}:{account}:key/8a7b6c5d-1e2f-4a3b-9c8d-7e6f5a4b3c2d")}]))
        }
        _ => None,
    };
    (p, resources)
}

/// Build a skeleton record for `principal` calling `source:name`; callers
/// fill in the parameters and outcome.
pub fn base_event(
    rng: &mut impl Rng,
    p: &Principal,
    region: &str,
    t: DateTime<Utc>,
    source: &str,
    name: &str,
) -> GenEvent {
    let console = p.kind == Kind::Sso;
    GenEvent {
        event_version: "1.09",
        user_identity: without_nulls(identity(p, true)),
        event_time: cloudtrail_time(t),
        event_source: source.to_string(),
        event_name: name.to_string(),
        aws_region: region.to_string(),
        source_ip_address: (*p.ips.choose(rng).unwrap_or(&"AWS Internal")).to_string(),
        user_agent: (*p.agents.choose(rng).unwrap_or(&"aws-internal")).to_string(),
        error_code: None,
        error_message: None,
        request_parameters: Value::Null,
        response_elements: Value::Null,
        additional_event_data: None,
        request_id: if source == "s3.amazonaws.com" {
            request_id(rng)
        } else {
            uuid(rng)
        },
        event_id: uuid(rng),
        read_only: true,
        resources: None,
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: p.account.to_string(),
        service_event_details: None,
        event_category: "Management",
        tls_details: (p.kind != Kind::Service).then(|| {
            json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": format!("{}.{region}.amazonaws.com", source.trim_end_matches(".amazonaws.com"))})
        }),
        session_credential_from_console: console.then_some("true"),
    }
}

/// A successful console sign-in, with or without MFA.
pub fn console_login(
    rng: &mut impl Rng,
    p: &Principal,
    t: DateTime<Utc>,
    ip: &str,
    mfa: bool,
) -> GenEvent {
    let mut e = base_event(
        rng,
        p,
        "us-east-1",
        t,
        "signin.amazonaws.com",
        "ConsoleLogin",
    );
    let mut ui = identity(p, false);
    if let Value::Object(m) = &mut ui {
        m.remove("accessKeyId");
        m.remove("sessionContext");
    }
    e.user_identity = without_nulls(ui);
    e.source_ip_address = ip.to_string();
    e.user_agent = (*super::world::CONSOLE_AGENTS
        .choose(rng)
        .unwrap_or(&"Mozilla/5.0"))
    .to_string();
    e.event_type = "AwsConsoleSignIn";
    e.read_only = false;
    e.request_parameters = Value::Null;
    e.response_elements = json!({"ConsoleLogin": "Success"});
    e.additional_event_data = Some(json!({
        "LoginTo": "https://console.aws.amazon.com/console/home",
        "MobileVersion": "No",
        "MFAIdentifier": if mfa { json!(format!("arn:aws:iam::{}:mfa/{}", p.account, p.name)) } else { Value::Null },
        "MFAUsed": if mfa { "Yes" } else { "No" },
    }))
    .map(without_nulls);
    e.tls_details = None;
    e.session_credential_from_console = None;
    e
}

/// One ordinary event by `p` at `t` in `region`.
pub fn ordinary(rng: &mut impl Rng, p: &Principal, region: &str, t: DateTime<Utc>) -> GenEvent {
    let a = pick_action(rng, p.kind, region);
    if a.name == "ConsoleLogin" {
        let ip = *p.ips.choose(rng).unwrap_or(&"198.51.100.23");
        return console_login(rng, p, t, ip, true);
    }
    let mut e = base_event(rng, p, region, t, a.source, a.name);
    let (params, resources) = params(rng, &a, p.account, region);
    e.request_parameters = params;
    e.resources = resources;
    e.read_only = a.read_only;
    if a.data {
        e.event_category = "Data";
        e.management_event = false;
    }
    if a.source == "s3.amazonaws.com" && a.data {
        e.additional_event_data = Some(json!({
            "SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": if a.name == "PutObject" { rng.random_range(200..200_000) } else { 0 },
            "AuthenticationMethod": "AuthHeader",
            "bytesTransferredOut": if a.name == "GetObject" { rng.random_range(200..200_000) } else { 0 },
        }));
    }
    if p.kind == Kind::Service {
        e.source_ip_address = p.name.to_string();
        e.user_agent = p.name.to_string();
    }
    // About one call in forty is refused, as in any real account.
    if rng.random_ratio(1, 40) && p.kind != Kind::Service {
        let arn = e.user_identity["arn"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        let svc = a.source.trim_end_matches(".amazonaws.com");
        if svc == "ec2" {
            e.error_code = Some("Client.UnauthorizedOperation".into());
            e.error_message = Some("You are not authorized to perform this operation.".into());
        } else {
            e.error_code = Some("AccessDenied".into());
            e.error_message = Some(format!(
                "User: {arn} is not authorized to perform: {svc}:{} because no identity-based policy allows the {svc}:{} action",
                a.name, a.name
            ));
        }
        e.resources = None;
    } else {
        e.response_elements = match a.name {
            "AssumeRole" => {
                json!({"credentials": {"accessKeyId": "ASIAEXAMPLEKEY000001", "expiration": "Apr 1, 2026, 1:00:00 PM", "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE"}, "assumedRoleUser": {"assumedRoleId": "AROAEXAMPLE:s1", "arn": format!("arn:aws:sts::{}:assumed-role/acme-readonly/s1", p.account)}})
            }
            "UpdateFunctionCode20150331v2" => {
                json!({"functionName": "order-processor", "version": "42"})
            }
            "AuthorizeSecurityGroupIngress" => {
                json!({"_return": true, "securityGroupRuleSet": {"items": [{"groupId": "sg-0b1c2d3e4f5a6b7c8", "isEgress": false, "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrIpv4": "10.0.0.0/16"}]}})
            }
            _ => Value::Null,
        };
    }
    e
}
