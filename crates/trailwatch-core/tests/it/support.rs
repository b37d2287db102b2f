//! Helpers shared by the integration tests: record builders, decoding into
//! plain values, and locating `../shared`.

use std::io::Write;
use std::path::PathBuf;

use flate2::Compression;
use flate2::write::GzEncoder;
use trailwatch_core::event::{DecodeError, DecodeOptions, Decoder, Step};

/// A valid record whose eventID is `id-<i>`.
pub fn rec(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDA{i}","arn":"arn:aws:iam::111122223333:user/u{i}","accountId":"111122223333","userName":"u{i}"}},"eventTime":"2024-05-01T12:{:02}:00Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.{}","userAgent":"aws-cli/2.15.0","requestParameters":{{"instancesSet":{{}},"filterSet":{{}}}},"responseElements":null,"requestID":"req-{i}","eventID":"id-{i}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3"}}}}"#,
        i % 60,
        i % 250
    )
}

/// `{"Records":[…]}` around the given record texts.
pub fn wrap(records: &[String]) -> String {
    format!("{{\"Records\":[{}]}}", records.join(","))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("in-memory write");
    enc.finish().expect("in-memory finish")
}

/// Everything a decode produced: eventIDs in order, and the errors.
#[derive(Debug, Default)]
pub struct Outcome {
    pub ids: Vec<String>,
    pub errors: Vec<DecodeError>,
}

impl Outcome {
    pub fn messages(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }
}

pub fn decode_with(name: &str, bytes: Vec<u8>, opts: DecodeOptions) -> Outcome {
    let mut out = Outcome::default();
    let mut dec = match Decoder::from_reader(name, std::io::Cursor::new(bytes), opts) {
        Ok(d) => d,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    while let Some(step) = dec.next_step() {
        match step {
            Step::Record(r) => out.ids.push(r.event.event_id.to_string()),
            Step::Error(e) => out.errors.push(e),
            Step::Skipped => {}
        }
    }
    out
}

pub fn decode(name: &str, bytes: impl Into<Vec<u8>>) -> Outcome {
    decode_with(name, bytes.into(), DecodeOptions::default())
}

pub fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("id-{i}")).collect()
}

/// `../shared` beside the repository, if present. When absent, tests that
/// need it skip with a visible message unless `TRAILWATCH_REQUIRE_SHARED=1`
/// (set by `.ci/run`) turns the skip into a failure.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("TRAILWATCH_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("../shared is required (TRAILWATCH_REQUIRE_SHARED=1) but {dir:?} is missing");
    }
    eprintln!("SKIPPED: ../shared not found at {dir:?}; corpus tests did not run");
    None
}
