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
    Event, Resource, SessionAttributes, SessionContext, SessionIssuer, Text, UserIdentity,
};
pub use timing::{FUTURE_SLACK, PAST_LIMIT, Skew, TimeBounds};
