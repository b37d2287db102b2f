//! Sigma rules over CloudTrail (issue #15, in progress): the pieces built
//! so far: [`condition`] parses and evaluates `condition` expressions;
//! [`value`] compiles one field test with its modifiers; [`rule`] loads
//! rule files (multi-document, `action: global` collections) into
//! compiled rules.
//! Not yet wired into rule loading: `rules::format` still refuses Sigma
//! files with a clear message.

pub mod condition;
pub mod rule;
pub mod value;
