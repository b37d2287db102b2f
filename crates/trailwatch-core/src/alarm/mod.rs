//! CloudWatch metrics and alarms with CloudWatch's semantics: metric
//! samples aggregated per period, M-of-N evaluation over an evaluation range,
//! every `TreatMissingData` mode, and the OK / ALARM / INSUFFICIENT_DATA state
//! machine, all on event time.

mod series;
mod state;

pub use series::{AlarmSpec, Evidence, EvidenceSummary, Series, Statistic, Transition, minute_of};
pub use state::{AlarmState, Comparison, TreatMissing, next_state};
