use serde_json::{Value, json};

use super::*;
use crate::event::Event;

/// The evidence of one CloudTrail record written as JSON.
fn ev(record: Value) -> Evidence {
    let mut r = json!({
        "eventVersion": "1.08", "eventTime": "2026-04-04T02:00:00Z", "awsRegion": "us-east-1",
        "eventType": "AwsApiCall", "recipientAccountId": "111111111111",
        "userIdentity": {"type": "IAMUser", "userName": "bob", "arn": "arn:aws:iam::111111111111:user/bob"},
    });
    for (k, v) in record.as_object().expect("object") {
        r[k] = v.clone();
    }
    let text = r.to_string();
    let e: Event<'_> = serde_json::from_str(&text).expect("a record");
    Evidence::from_event(&e)
}

fn alert(id: &str, rule: &str, events: &[&str]) -> AlertToRespond {
    AlertToRespond {
        alert_id: id.into(),
        rule_id: rule.into(),
        event_ids: events.iter().map(|s| s.to_string()).collect(),
    }
}

fn by_id(events: &[Evidence]) -> HashMap<String, Evidence> {
    events
        .iter()
        .map(|e| (e.event_id.clone(), e.clone()))
        .collect()
}

fn sg_event() -> Evidence {
    ev(
        json!({"eventID": "e-sg", "eventName": "AuthorizeSecurityGroupIngress", "eventSource": "ec2.amazonaws.com",
        "awsRegion": "eu-west-1",
        "requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]}},
            {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "ipRanges": {"items": [{"cidrIp": "10.1.0.0/16"}]}},
            {"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}
        ]}}}),
    )
}

#[test]
fn an_open_security_group_is_answered_by_revoking_only_its_world_ranges() {
    let events = [sg_event()];
    let plan = plan(
        &[alert("a1", "security-group-open-to-world", &["e-sg"])],
        &by_id(&events),
        &History::default(),
        &Filter::default(),
    );
    assert_eq!(plan.len(), 1, "{plan:#?}");
    let a = &plan[0];
    assert_eq!(
        (a.action.as_str(), a.status),
        ("revoke-ingress", Status::Planned)
    );
    assert_eq!(a.target.as_deref(), Some("sg-1"));
    assert_eq!(a.region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        a.api_calls[0].parameters,
        json!({"GroupId": "sg-1", "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
        ]})
    );
    let cli = a.aws_cli.as_deref().expect("a command");
    assert!(
        cli.starts_with(
            "aws ec2 revoke-security-group-ingress --group-id sg-1 --ip-permissions '["
        ),
        "{cli}"
    );
    assert!(cli.ends_with("--region eu-west-1"), "{cli}");
}

#[test]
fn a_public_bucket_policy_is_blocked_and_a_private_one_is_left_alone() {
    let public = ev(
        json!({"eventID": "e-pub", "eventName": "PutBucketPolicy", "eventSource": "s3.amazonaws.com",
        "requestParameters": {"bucketName": "reports", "bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}}}),
    );
    let private = ev(
        json!({"eventID": "e-priv", "eventName": "PutBucketPolicy", "eventSource": "s3.amazonaws.com",
        "requestParameters": {"bucketName": "logs", "bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "s3:GetObject"}]}}}),
    );
    let events = [public, private];
    let plan = plan(
        &[
            alert("a1", "s3-bucket-policy-change", &["e-pub"]),
            alert("a2", "s3-bucket-policy-change", &["e-priv"]),
        ],
        &by_id(&events),
        &History::default(),
        &Filter::default(),
    );
    assert_eq!(plan[0].action, "block-public-access");
    assert_eq!(plan[0].target.as_deref(), Some("arn:aws:s3:::reports"));
    assert_eq!(plan[0].api_calls[0].operation, "PutPublicAccessBlock");
    assert!(
        plan[0].reason.contains("the policy stays for review"),
        "{}",
        plan[0].reason
    );
    assert_eq!(
        (plan[1].action.as_str(), plan[1].status),
        ("none", Status::NoResponse)
    );
    assert!(
        plan[1].reason.contains("no more public"),
        "{}",
        plan[1].reason
    );
}

#[test]
fn a_backdoor_user_loses_its_key_policy_and_password_but_is_not_deleted() {
    let events = [
        ev(
            json!({"eventID": "e-user", "eventName": "CreateUser", "eventSource": "iam.amazonaws.com", "requestParameters": {"userName": "svc"}}),
        ),
        ev(
            json!({"eventID": "e-key", "eventName": "CreateAccessKey", "eventSource": "iam.amazonaws.com", "requestParameters": {"userName": "svc"},
            "responseElements": {"accessKey": {"accessKeyId": "AKIA1", "userName": "svc", "status": "Active"}}}),
        ),
        ev(
            json!({"eventID": "e-att", "eventName": "AttachUserPolicy", "eventSource": "iam.amazonaws.com",
            "requestParameters": {"userName": "svc", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}}),
        ),
        ev(
            json!({"eventID": "e-inl", "eventName": "PutUserPolicy", "eventSource": "iam.amazonaws.com",
            "requestParameters": {"userName": "svc", "policyName": "all", "policyDocument": "{}"}}),
        ),
        ev(
            json!({"eventID": "e-pw", "eventName": "CreateLoginProfile", "eventSource": "iam.amazonaws.com", "requestParameters": {"userName": "svc"}}),
        ),
    ];
    let alerts = [
        alert(
            "p1",
            "iam-persistence",
            &["e-user", "e-key", "e-att", "e-inl"],
        ),
        alert("p2", "login-profile-created-for-other-user", &["e-pw"]),
        alert("p3", "iam-persistence", &["e-pw"]),
    ];
    let plan = plan(
        &alerts,
        &by_id(&events),
        &History::default(),
        &Filter::default(),
    );
    let kinds: Vec<&str> = plan.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "deactivate-access-key",
            "detach-user-policy",
            "delete-user-policy",
            "delete-login-profile"
        ]
    );
    assert_eq!(
        plan[0].api_calls[0].parameters,
        json!({"UserName": "svc", "AccessKeyId": "AKIA1", "Status": "Inactive"})
    );
    assert!(plan.iter().all(|a| {
        a.region.is_none()
            && a.aws_cli
                .as_deref()
                .is_some_and(|c| !c.contains("--region"))
    }));
    // The same password answered for two alerts is one action.
    assert_eq!(plan[3].alert_id, "p2");
    assert_eq!(plan[3].also_alerts, ["p3"]);
    assert!(!plan.iter().any(|a| {
        a.api_calls
            .iter()
            .any(|c| c.operation.starts_with("DeleteUser") && c.operation != "DeleteUserPolicy")
    }));
}

#[test]
fn a_root_key_and_an_unknown_rule_say_why_nothing_is_done() {
    let root = ev(
        json!({"eventID": "e-root", "eventName": "CreateAccessKey", "eventSource": "iam.amazonaws.com",
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111111111111:root"},
        "responseElements": {"accessKey": {"accessKeyId": "AKIAROOT", "userName": "111111111111"}}}),
    );
    let plan = plan(
        &[
            alert("r", "root-access-key-created", &["e-root"]),
            alert("x", "console-login-without-mfa", &["e-root"]),
        ],
        &by_id(&[root]),
        &History::default(),
        &Filter::default(),
    );
    assert_eq!(plan[0].status, Status::NoResponse);
    assert!(
        plan[0]
            .reason
            .contains("only be deactivated by the root user"),
        "{}",
        plan[0].reason
    );
    assert_eq!(
        plan[1].reason,
        "no automatic response for rule console-login-without-mfa"
    );
}

#[test]
fn missing_ids_are_refused_and_failed_calls_reverse_nothing() {
    let no_key = ev(
        json!({"eventID": "e1", "eventName": "CreateAccessKey", "eventSource": "iam.amazonaws.com", "requestParameters": {"userName": "svc"}}),
    );
    let denied = ev(
        json!({"eventID": "e2", "eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com",
        "errorCode": "AccessDenied", "requestParameters": {"name": "t"}}),
    );
    let plan = plan(
        &[
            alert("a", "iam-persistence", &["e1"]),
            alert("b", "cloudtrail-stopped", &["e2", "e-missing"]),
        ],
        &by_id(&[no_key, denied]),
        &History::default(),
        &Filter::default(),
    );
    assert_eq!(
        (plan[0].action.as_str(), plan[0].status),
        ("deactivate-access-key", Status::Refused)
    );
    assert!(plan[0].api_calls.is_empty() && plan[0].aws_cli.is_none());
    assert_eq!(plan[1].status, Status::NoResponse);
    assert!(
        plan[1].reason.contains("failed (AccessDenied)"),
        "{}",
        plan[1].reason
    );
    assert!(
        plan[1].reason.contains("e-missing is not in the trail"),
        "{}",
        plan[1].reason
    );
}

#[test]
fn stopped_trails_selectors_and_policy_versions_go_back_to_the_recorded_state() {
    let history_events = [
        ev(
            json!({"eventID": "h1", "eventTime": "2026-04-01T00:00:00Z", "eventName": "PutEventSelectors", "eventSource": "cloudtrail.amazonaws.com",
            "requestParameters": {"trailName": "main", "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true,
                "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]}}),
        ),
        ev(
            json!({"eventID": "h2", "eventTime": "2026-04-01T00:00:00Z", "eventName": "CreatePolicy", "eventSource": "iam.amazonaws.com",
            "requestParameters": {"policyName": "app"}, "responseElements": {"policy": {"arn": "arn:aws:iam::111111111111:policy/app"}}}),
        ),
        ev(
            json!({"eventID": "h3", "eventTime": "2026-04-02T00:00:00Z", "eventName": "SetDefaultPolicyVersion", "eventSource": "iam.amazonaws.com",
            "requestParameters": {"policyArn": "arn:aws:iam::111111111111:policy/app", "versionId": "v3"}}),
        ),
    ];
    let history = History::from_events(&history_events);
    let events = [
        ev(
            json!({"eventID": "e-stop", "eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com",
            "requestParameters": {"name": "arn:aws:cloudtrail:eu-west-1:111111111111:trail/main"}}),
        ),
        ev(
            json!({"eventID": "e-sel", "eventName": "PutEventSelectors", "eventSource": "cloudtrail.amazonaws.com",
            "requestParameters": {"trailName": "arn:aws:cloudtrail:us-east-1:111111111111:trail/main", "eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": false}]}}),
        ),
        ev(
            json!({"eventID": "e-ver", "eventName": "CreatePolicyVersion", "eventSource": "iam.amazonaws.com",
            "requestParameters": {"policyArn": "arn:aws:iam::111111111111:policy/app", "setAsDefault": true}}),
        ),
        ev(
            json!({"eventID": "e-gd", "eventName": "DeleteDetector", "eventSource": "guardduty.amazonaws.com", "requestParameters": {"detectorId": "d1"}}),
        ),
    ];
    assert!(needs_history(&events));
    let alerts = [
        alert("s", "cloudtrail-stopped", &["e-stop"]),
        alert("t", "cloudtrail-tampering", &["e-sel"]),
        alert("v", "privilege-escalation", &["e-ver"]),
        alert("g", "guardduty-disabled", &["e-gd"]),
    ];
    let plan = plan(&alerts, &by_id(&events), &history, &Filter::default());
    assert_eq!(
        plan[0].api_calls[0].parameters,
        json!({"Name": "arn:aws:cloudtrail:eu-west-1:111111111111:trail/main"})
    );
    assert_eq!(plan[0].region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        plan[1].api_calls[0].parameters,
        json!({"TrailName": "arn:aws:cloudtrail:us-east-1:111111111111:trail/main", "EventSelectors": [{"ReadWriteType": "All",
            "IncludeManagementEvents": true, "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]})
    );
    assert_eq!(
        plan[2].api_calls[0].parameters,
        json!({"PolicyArn": "arn:aws:iam::111111111111:policy/app", "VersionId": "v3"})
    );
    assert_eq!(plan[3].api_calls[0].operation, "CreateDetector");
    // Without the history, the policy version is refused, and the
    // selectors fall back to CloudTrail's default (said in the reason).
    let bare = super::plan(
        &alerts,
        &by_id(&events),
        &History::default(),
        &Filter::default(),
    );
    assert_eq!(bare[2].status, Status::Refused);
    assert!(
        bare[1].reason.contains("CloudTrail's default"),
        "{}",
        bare[1].reason
    );
}

#[test]
fn only_and_account_narrow_the_plan() {
    let mut other = sg_event();
    other.event_id = "e-sg2".into();
    other.account = Some("222222222222".into());
    let events = [sg_event(), other];
    let alerts = [
        alert("a", "security-group-open-to-world", &["e-sg", "e-sg2"]),
        alert("b", "root-account-usage", &[]),
    ];
    let filter = Filter {
        only: vec![ActionKind::RevokeIngress],
        accounts: vec!["222222222222".into()],
    };
    let plan = plan(&alerts, &by_id(&events), &History::default(), &filter);
    assert_eq!(plan.len(), 1, "{plan:#?}");
    assert_eq!(plan[0].account.as_deref(), Some("222222222222"));
}
