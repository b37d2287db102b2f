//! OCSF 1.1.0, the schema Amazon Security Lake (source version 2) and most
//! SIEMs read: CloudTrail records mapped to API Activity (6003),
//! Authentication (3002) and Account Change (3001) as in the OCSF
//! project's CloudTrail mapping (`../shared/ocsf/mappings-cloudtrail/`),
//! alerts as Detection Findings (2004), and Security Lake's records turned
//! back into CloudTrail records for the rules.
//!
//! Only text and serde here: the lake writes the Parquet
//! (`trailwatch_lake::ocsf`). [`from_record`] is the mapping of one record,
//! held to the OCSF project's reference samples; the lake's exporter maps
//! its columns the same way a column at a time (sharing [`sign_in`],
//! [`authenticated_user`], [`changed_user`] and [`flatten_text`]), and a
//! test holds the two equal on every event of the sample trail.

mod back;
mod class;
mod coverage;
mod event;
mod finding;
mod unmapped;

pub use back::{LOST_IN_OCSF, to_cloudtrail};
pub use class::{Activity, Class, classify};
pub use coverage::rules_reading;
pub use event::{
    Caller, OcsfEvent, SignIn, User, authenticated_user, changed_user, from_record, sign_in,
};
pub use finding::{DetectionFinding, finding};
pub use unmapped::flatten_text;

/// The OCSF version written (`metadata.version`).
pub const VERSION: &str = "1.1.0";

/// `severity_id` 1, what every CloudTrail event is (the mapping's choice:
/// a record is an observation, not a verdict).
const INFORMATIONAL: (u8, &str) = (1, "Informational");
