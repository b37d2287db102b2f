//! Rule backtests: what each rule would have done over a stretch of
//! history — its matches (per UTC day, by principal and address, first
//! and last), the alerts it would have raised — checked against
//! expectations for CI (`expect`, `junit`), and compared with an older
//! version of the same rules (`Tally::diff`). Pure logic: the binary
//! replays the records and feeds the matches and alerts in.

pub mod expect;
pub mod junit;
pub mod prefilter;
mod tally;

pub use tally::{Count, Diff, RuleResult, Tally};
