//! Sigma rules over CloudTrail (issue #15, in progress): the pieces built
//! so far: [`condition`] parses and evaluates `condition` expressions;
//! [`value`] compiles one field test with its modifiers; [`rule`] loads
//! rule files (multi-document, `action: global` collections) into
//! compiled rules.
//! [`detector`] runs them on records. Not yet: correlation rules
//! (`event_count`, `value_count`, `temporal`), `rules check`.

pub mod condition;
pub mod detector;
pub mod rule;
pub mod value;
