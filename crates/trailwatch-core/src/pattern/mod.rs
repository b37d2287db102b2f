//! The CloudWatch Logs filter pattern language (`metric-filter-syntax.md`):
//! term, JSON and space-delimited patterns, parsed once into a matcher.
//!
//! ```
//! use trailwatch_core::pattern::{Pattern, TextDocument};
//! let p = Pattern::parse(r#"{ $.eventName = "ConsoleLogin" && $.errorCode NOT EXISTS }"#).unwrap();
//! assert!(p.matches(&TextDocument::new(r#"{"eventName":"ConsoleLogin"}"#)));
//! ```

mod ast;
mod eval;
mod parse;
mod record;

pub use ast::{
    Condition, DExpr, DField, DOp, Delimited, Expr, Operand, Pattern, PatternRegex, Relation, Step,
    Term, TermRole, TermText, Test,
};
pub use eval::{
    Document, Found, TextDocument, delimited_values, found_of, glob, lookup_value, tokens,
};
pub use parse::PatternError;
pub use record::RecordDoc;

impl Pattern {
    /// Parse pattern text (up to 1024 characters).
    pub fn parse(src: &str) -> Result<Pattern, PatternError> {
        parse::parse(src)
    }
}

#[cfg(test)]
mod tests;
