//! OCSF: the three reference mappings of `../shared/ocsf/mappings-cloudtrail`
//! reproduced, and records that survive the way to OCSF and back.

use serde_json::{Value, json};
use trailwatch_core::event::{DecodeOptions, Decoder};
use trailwatch_core::ocsf::{from_record, to_cloudtrail};

use crate::support::shared_dir;

/// The OCSF JSON of each record of `text` (one record per line or a
/// `{"Records":[…]}` file).
fn to_ocsf(text: &str) -> Vec<Value> {
    let mut dec = Decoder::from_reader(
        "t.json",
        std::io::Cursor::new(text.as_bytes().to_vec()),
        DecodeOptions::default(),
    )
    .unwrap();
    let mut out = Vec::new();
    dec.for_each(
        |r| {
            out.push(serde_json::to_value(from_record(r)).unwrap());
            Ok::<(), std::convert::Infallible>(())
        },
        |e, _| panic!("{e}"),
    )
    .unwrap();
    out
}

/// Every leaf of `v` with its dotted path.
fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    // `unmapped`'s keys are dotted themselves.
    if let Some(key) = path.strip_prefix("unmapped.") {
        return v.get("unmapped")?.get(key);
    }
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// Where our form differs from the reference on purpose: the feature name
/// (the generic sample's record has no `eventCategory`, and the reference
/// invents one), the authentication sample's placeholder request uid (the
/// record has none), and the observables (ours list the caller's name and
/// address; theirs vary by sample).
const DIFFERENT_ON_PURPOSE: &[&str] = &[
    "metadata.product.feature.name",
    "api.request.uid",
    "observables",
];

#[test]
fn the_reference_mappings_are_reproduced() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("ocsf/mappings-cloudtrail");
    for (class, sample) in [
        ("API Activity", "generic_api_activity"),
        ("Account Change", "account_change"),
        ("Authentication", "authentication"),
    ] {
        let samples = dir.join(class).join("samples");
        let raw = std::fs::read_to_string(samples.join(format!("{sample}.raw"))).unwrap();
        let want: Value = serde_json::from_str(
            &std::fs::read_to_string(samples.join(format!("{sample}.ocsf"))).unwrap(),
        )
        .unwrap();
        let one_line: Value = serde_json::from_str(&raw).unwrap();
        let got = to_ocsf(&one_line.to_string()).remove(0);
        let mut want_leaves = Vec::new();
        leaves("", &want, &mut want_leaves);
        for (path, value) in want_leaves {
            if DIFFERENT_ON_PURPOSE
                .iter()
                .any(|d| path == *d || path.starts_with(&format!("{d}.")))
            {
                continue;
            }
            let ours = at(&got, &path);
            let same = match (ours, &value) {
                // Times compare as instants (the reference writes a local zone).
                (Some(Value::String(a)), Value::String(b)) if path.ends_with("_dt") => {
                    chrono::DateTime::parse_from_rfc3339(a).ok()
                        == chrono::DateTime::parse_from_rfc3339(b).ok()
                }
                // JSON text compares as JSON.
                (Some(Value::String(a)), Value::String(b)) if a.starts_with('{') => {
                    serde_json::from_str::<Value>(a).ok() == serde_json::from_str::<Value>(b).ok()
                }
                (Some(a), b) => a == b,
                (None, _) => false,
            };
            assert!(
                same,
                "{class}: {path} is {ours:?}, the reference says {value}"
            );
        }
        assert_eq!(
            at(&got, "time").and_then(Value::as_i64),
            at(&want, "time").and_then(Value::as_i64),
            "{class}"
        );
    }
}

/// A record with every kind of field: identity with a session, request and
/// response objects, resources, an error, free-form objects.
fn rich_record() -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole", "principalId": "AROAX:alice", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
            "accountId": "111122223333", "accessKeyId": "ASIAX",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAX", "arn": "arn:aws:iam::111122223333:role/Admin", "accountId": "111122223333", "userName": "Admin"},
                "attributes": {"creationDate": "2024-05-01T11:00:00Z", "mfaAuthenticated": "true"},
                "sourceIdentity": "alice"
            }
        },
        "eventTime": "2024-05-01T12:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0",
        "errorCode": "Client.UnauthorizedOperation",
        "errorMessage": "You are not authorized",
        "requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
        "responseElements": null,
        "additionalEventData": {"note": "x", "count": 3},
        "requestID": "req-1",
        "eventID": "ev-1",
        "readOnly": false,
        "resources": [{"ARN": "arn:aws:ec2:eu-west-1:111122223333:security-group/sg-1", "accountId": "111122223333", "type": "AWS::EC2::SecurityGroup"}],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2.eu-west-1.amazonaws.com"},
        "sessionCredentialFromConsole": "true"
    })
}

#[test]
fn a_record_comes_back_from_ocsf_as_it_was() {
    let mut original = rich_record();
    let ocsf = to_ocsf(&original.to_string()).remove(0);
    assert_eq!(ocsf["class_uid"], 6003);
    assert_eq!(ocsf["type_uid"], 600303);
    assert_eq!(ocsf["status_id"], 2);
    assert_eq!(ocsf["actor"]["session"]["is_mfa"], true);
    assert_eq!(
        ocsf["resources"][0]["owner"]["account"]["uid"],
        "111122223333"
    );
    let back = to_cloudtrail(&ocsf).unwrap();
    // What OCSF cannot say: a number inside a free-form object is text.
    original["additionalEventData"]["count"] = json!("3");
    // A null responseElements is the same as none.
    original.as_object_mut().unwrap().remove("responseElements");
    // sessionCredentialFromConsole was text in this record; CloudTrail
    // writes it as a boolean, and so does the way back.
    original["sessionCredentialFromConsole"] = json!(true);
    assert_eq!(back, original);
}

#[test]
fn sign_ins_and_account_changes_say_who() {
    let login = json!({
        "eventVersion": "1.08", "eventTime": "2024-05-01T12:00:00Z", "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.1",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA1", "accountId": "111122223333", "userName": "bob"},
        "responseElements": {"ConsoleLogin": "Failure"}, "errorMessage": "Failed authentication",
        "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/", "MFAUsed": "No", "MobileVersion": "No"},
        "eventID": "ev-2", "eventType": "AwsConsoleSignIn", "recipientAccountId": "111122223333"
    });
    let o = to_ocsf(&login.to_string()).remove(0);
    assert_eq!(
        (o["class_uid"].clone(), o["activity_id"].clone()),
        (json!(3002), json!(1))
    );
    assert_eq!(o["status"], "Failure");
    assert_eq!(o["is_mfa"], false);
    assert_eq!(o["user"]["name"], "bob");
    assert_eq!(
        o["dst_endpoint"]["svc_name"],
        "https://console.aws.amazon.com/"
    );
    assert_eq!(to_cloudtrail(&o).unwrap(), login);

    let attach = json!({
        "eventVersion": "1.08", "eventTime": "2024-05-01T12:00:00Z", "eventSource": "iam.amazonaws.com",
        "eventName": "AttachUserPolicy", "awsRegion": "us-east-1", "sourceIPAddress": "iam.amazonaws.com",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory"},
        "requestParameters": {"userName": "backdoor", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        "eventID": "ev-3", "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    });
    let o = to_ocsf(&attach.to_string()).remove(0);
    assert_eq!(o["type_uid"], 300107);
    assert_eq!(o["user"]["name"], "backdoor");
    // A service name is a domain, not an address.
    assert_eq!(o["src_endpoint"], json!({"domain": "iam.amazonaws.com"}));
    assert_eq!(to_cloudtrail(&o).unwrap(), attach);
}

#[test]
fn other_classes_are_refused_on_the_way_back() {
    let err = to_cloudtrail(&json!({"class_uid": 4001, "time": 1})).unwrap_err();
    assert!(err.contains("4001"), "{err}");
    assert!(to_cloudtrail(&json!({"class_uid": 6003})).is_err());
}
