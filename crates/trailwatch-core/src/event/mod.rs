//! CloudTrail records: the typed model and the streaming decoder.
//!
//! Inputs are CloudTrail log files (`{"Records":[…]}`, gzip or not), NDJSON
//! (CloudWatch Logs and EventBridge style, one record per line), top-level
//! JSON arrays (`aws cloudtrail lookup-events` exports) and single records.

mod compact;
mod decode;
mod error;
mod model;
mod scan;
mod timing;

pub use compact::compact_json;
pub use decode::{DecodeOptions, Decoder, Record, Step, parse_event_time};
pub use error::{DecodeError, Position};
pub use model::{
    Event, RAW_FIELDS, Resource, SessionAttributes, SessionContext, SessionIssuer, Text,
    UserIdentity,
};
pub use timing::{FUTURE_SLACK, PAST_LIMIT, Skew, TimeBounds};

/// Decode `text` (any layout the decoder takes) and call `f` on each
/// record; a decoding error fails the test. For unit tests across the
/// crate.
#[cfg(test)]
pub(crate) fn each_test_record(text: &str, mut f: impl FnMut(&Record<'_>)) {
    let mut dec = Decoder::from_reader(
        "test",
        std::io::Cursor::new(text.as_bytes().to_vec()),
        DecodeOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    dec.for_each(
        |r| {
            f(r);
            Ok::<(), ()>(())
        },
        |e, _| panic!("{e}"),
    )
    .unwrap_or_else(|()| panic!("decoding stopped"));
}
