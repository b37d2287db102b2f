//! A rule's example events: partial records completed from a base record,
//! decoded like real input, and checked against the rule's pattern. Used by
//! `trailwatch rules test` and by the test suite for every built-in rule.

use serde_json::{Value, json};

use super::Rule;
use crate::event::{DecodeOptions, Decoder, Step};
use crate::pattern::RecordDoc;

/// A complete record: `partial` deep-merged over a plausible base record.
pub fn example_record(partial: &Value, event_id: &str, event_time: &str) -> Value {
    let mut base = json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/example",
                         "accountId": "111122223333", "userName": "example"},
        "eventTime": event_time,
        "eventSource": "example.amazonaws.com",
        "eventName": "Example",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.1",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": null,
        "responseElements": null,
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    });
    merge(&mut base, partial);
    base
}

fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Why an example is no record.
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    #[error(transparent)]
    Decode(#[from] crate::event::DecodeError),
    #[error("example did not decode to a record")]
    NoRecord,
}

/// Does the rule's pattern match this complete record (decoded as real input)?
pub fn matches_record(rule: &Rule, record: &Value) -> Result<bool, ExampleError> {
    let text = record.to_string();
    let mut dec = Decoder::from_reader(
        "example",
        std::io::Cursor::new(text.into_bytes()),
        DecodeOptions::default(),
    )?;
    match dec.next_step() {
        Some(Step::Record(r)) => Ok(rule.pattern.matches(&RecordDoc::new(&r))),
        Some(Step::Error(e)) => Err(e.into()),
        _ => Err(ExampleError::NoRecord),
    }
}

/// Check every example of a rule; the problems found, if any.
pub fn check_examples(rule: &Rule) -> Vec<String> {
    let mut problems = Vec::new();
    let cases = rule
        .examples
        .fire
        .iter()
        .map(|e| (e, true))
        .chain(rule.examples.quiet.iter().map(|e| (e, false)));
    for (i, (partial, want)) in cases.enumerate() {
        let record = example_record(partial, &format!("example-{i}"), "2026-04-01T12:00:00Z");
        match matches_record(rule, &record) {
            Ok(got) if got == want => {}
            Ok(got) => problems.push(format!(
                "{}: example {} should {} but {}: {}",
                rule.id,
                i,
                if want { "fire" } else { "stay quiet" },
                if got { "fired" } else { "did not fire" },
                partial
            )),
            Err(e) => problems.push(format!(
                "{}: example {i} is not a valid record: {e}",
                rule.id
            )),
        }
    }
    if rule.examples.fire.is_empty() {
        problems.push(format!("{}: has no example that must fire", rule.id));
    }
    problems
}
