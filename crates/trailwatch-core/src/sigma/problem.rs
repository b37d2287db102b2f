//! What can be wrong in a Sigma rule: one variant per problem, with the
//! words a rule author reads (in `rules check` and in the warning a skipped
//! rule gets). [`super::rule::SigmaError`] adds the file and the rule's id.

use super::condition::ConditionError;
use super::value::ValueError;

use super::rule::MAX_SELECTIONS;

/// Why a rule (or a part of it) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    // The correlation section.
    #[error("correlation must be a map of type, rules, group-by, timespan and condition")]
    CorrelationNotMap,
    #[error("correlation has no type")]
    NoType,
    #[error(
        "correlation type {0} is not supported (event_count, value_count, temporal, temporal_ordered)"
    )]
    UnknownType(String),
    #[error("correlation names no rules")]
    NoRules,
    #[error("{0} must be a list of names")]
    NotNames(&'static str),
    #[error("correlation has no timespan")]
    NoTimespan,
    #[error("timespan must be text such as 5m")]
    TimespanNotText,
    #[error("timespan {0:?} is not a number and s, m, h or d (e.g. 5m, 1h, 7d)")]
    BadTimespan(String),
    #[error("timespan {0:?} must be more than 0s and at most 366d")]
    TimespanRange(String),
    #[error("a correlation condition must be a map such as {{gte: 10}}")]
    ConditionNotMap,
    #[error("condition field must be a field name")]
    ConditionFieldNotName,
    #[error("condition {0} must be a number")]
    ConditionNotNumber(String),
    #[error("condition {0} is not supported (gt, gte, lt, lte, eq, field)")]
    UnknownCondition(String),
    #[error("{0} needs a condition such as gte: 10")]
    NeedsCondition(&'static str),
    #[error("value_count needs the field to count in its condition")]
    ValueCountNeedsField,
    #[error("{0} takes no condition field")]
    NoConditionField(&'static str),
    #[error("{0} takes only gt or gte (how many of its rules must match)")]
    OnlyLowerBounds(&'static str),
    #[error(
        "temporal_ordered needs all its rules, in order: its condition can only be gte: the number of rules"
    )]
    OrderedNeedsAll,
    #[error("aliases must be a map")]
    AliasesNotMap,
    #[error("alias {0} must map rule names to fields")]
    AliasNotMap(String),
    #[error("alias {alias}: {rule} must name a field")]
    AliasFieldNotName { alias: String, rule: String },
    #[error("generate must be true or false")]
    GenerateNotBool,

    // Linking a correlation to the rules it names.
    #[error("it names rule {0}, which is not loaded (give the file that holds it)")]
    NotLoaded(String),
    #[error("it names rule {reference}, and {count} loaded rules have that name")]
    Ambiguous { reference: String, count: usize },
    #[error("alias {alias} gives no field for rule {rule}")]
    AliasNoField { alias: String, rule: String },
    #[error("it uses {field} of correlation {correlation}, which does not group by it")]
    NotGrouped { field: String, correlation: String },
    #[error("it names rule {0}, which was skipped")]
    Skipped(String),
    #[error("it names itself through {0}")]
    Cycle(String),

    // The detection section.
    #[error("no detection and no correlation")]
    NoDetection,
    #[error("detection has no condition")]
    NoCondition,
    #[error("a condition must be text")]
    ConditionNotText,
    #[error(transparent)]
    Condition(#[from] ConditionError),
    #[error("{0} selections; at most {max} are supported", max = MAX_SELECTIONS)]
    TooManySelections(usize),
    #[error("the condition names {0}, which is no selection")]
    UnknownSelection(String),
    #[error("{name}: {problem}")]
    InSelection { name: String, problem: Box<Problem> },
    #[error("a selection must be a map, a list of maps or a list of keywords")]
    BadSelection,
    #[error("a keyword list mixes maps and values")]
    MixedKeywords,
    #[error("{0}")]
    BadKeyword(String),
    #[error(transparent)]
    Field(#[from] ValueError),

    // A field test's value and modifiers.
    #[error("modifier `{0}` is not supported")]
    UnknownModifier(String),
    #[error("an empty list of values")]
    NoValues,
    #[error("lists {given} values; a field test may list at most {max}")]
    TooManyValues { given: usize, max: usize },
    #[error("`exists` takes true or false")]
    ExistsNotBool,
    #[error("`fieldref` takes a field name")]
    FieldRefNotName,
    #[error("a comparison takes a number")]
    CmpNotNumber,
    #[error("`cidr` takes a range")]
    CidrNotRange,
    #[error("{text:?} is not a CIDR range: {message}")]
    BadCidr { text: String, message: String },
    #[error("a value must be a string, number, boolean or null")]
    ValueShape,
    #[error("regex: {0}")]
    BadRegex(String),
    #[error("pattern: {0}")]
    BadPattern(String),
}
