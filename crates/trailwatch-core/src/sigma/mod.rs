//! Sigma rules over CloudTrail, with no conversion step: [`rule`] loads
//! rule files (multi-document, `action: global` collections) into
//! compiled rules, using [`condition`] for `condition` expressions and
//! [`value`] for field tests with their modifiers (long lists through
//! [`value_set`]); [`correlation`] parses
//! correlation rules and [`link`] links each to the rules it names; [`detector`]
//! runs the set on decoded records, reading fields through [`fields`],
//! and feeds correlations to their event-time windows ([`window`]).

pub mod condition;
pub mod correlation;
pub mod detector;
pub mod fields;
pub mod link;
pub mod problem;
pub mod rule;
pub mod value;
pub mod value_set;
pub mod window;

pub use link::{RuleSet, link};
