//! Table-driven cases for the correlation detections' tests: a small
//! builder of CloudTrail records, and a runner that feeds a case's records
//! to a fresh detector and checks what it raised. Like a rule's example
//! events (`rules/examples.rs`), each detection lists records that must
//! fire and look-alikes that must not.

use serde_json::{Value, json};

use crate::alert::Alert;
use crate::detect::Detector;

/// The account the records happen in.
pub const ACCOUNT: &str = "111122223333";

/// An IAM user of [`ACCOUNT`].
pub fn user(name: &str) -> Value {
    json!({
        "type": "IAMUser",
        "principalId": format!("AIDA{}", name.to_uppercase()),
        "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        "accountId": ACCOUNT,
        "accessKeyId": format!("AKIA{}", name.to_uppercase()),
        "userName": name,
    })
}

/// A session of `role` of [`ACCOUNT`], signed with `key`.
pub fn role_session(role: &str, session: &str, key: &str) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROA{}:{session}", role.to_uppercase()),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                "userName": role,
            }
        }
    })
}

/// A successful call of `service` (`iam`, `s3`, …) at `time` by `who`.
pub fn call(time: &str, service: &str, name: &str, who: Value) -> Value {
    json!({
        "eventVersion": "1.08",
        "eventTime": time,
        "eventID": format!("{name}@{time}"),
        "eventType": "AwsApiCall",
        "eventSource": format!("{service}.amazonaws.com"),
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "recipientAccountId": ACCOUNT,
        "userIdentity": who,
    })
}

/// `record` with `key` set to `value` (`requestParameters`,
/// `responseElements`, `errorCode`, …).
pub fn with(mut record: Value, key: &str, value: Value) -> Value {
    record[key] = value;
    record
}

/// `record` refused with AccessDenied.
pub fn denied(record: Value) -> Value {
    let r = with(record, "errorCode", json!("AccessDenied"));
    with(r, "errorMessage", json!("User is not authorized"))
}

/// One case: records fed in order to a new detector, and what must come
/// of them.
pub struct Case {
    pub name: &'static str,
    pub records: Vec<Value>,
    /// How many alerts must be raised (0: a look-alike that must not
    /// fire).
    pub alerts: usize,
    /// Text every alert's description must contain.
    pub says: &'static str,
}

impl Case {
    /// Records that must raise one alert saying `says`.
    pub fn fires(name: &'static str, says: &'static str, records: Vec<Value>) -> Case {
        Case {
            name,
            records,
            alerts: 1,
            says,
        }
    }

    /// A look-alike: records that must raise nothing.
    pub fn quiet(name: &'static str, records: Vec<Value>) -> Case {
        Case {
            name,
            records,
            alerts: 0,
            says: "",
        }
    }
}

/// Feed `records` to `d` and finish it: every alert it raised.
pub fn run(d: &mut dyn Detector, records: &[Value]) -> Vec<Alert> {
    let text: Vec<String> = records.iter().map(Value::to_string).collect();
    let mut out = crate::detect::feed(d, &text.join("\n"));
    d.finish(&mut out);
    out
}

/// Run every case on a detector `make` builds anew, naming the case that
/// fails and what was raised.
pub fn check(cases: &[Case], make: impl Fn() -> Box<dyn Detector>) {
    for c in cases {
        let mut d = make();
        let alerts = run(d.as_mut(), &c.records);
        assert_eq!(
            alerts.len(),
            c.alerts,
            "case {:?}: {} alerts, {} expected: {alerts:#?}",
            c.name,
            alerts.len(),
            c.alerts
        );
        for a in &alerts {
            assert!(
                a.description.contains(c.says),
                "case {:?}: {:?} does not say {:?}",
                c.name,
                a.description,
                c.says
            );
        }
    }
}
