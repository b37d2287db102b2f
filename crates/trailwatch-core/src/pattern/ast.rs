//! The parsed form of a filter pattern, and how it prints back as pattern
//! text (`parse(print(p)) == p`).

use std::fmt;

use regex::Regex;

/// A compiled `%…%` regex, kept with its source for printing and equality.
#[derive(Debug, Clone)]
pub struct PatternRegex {
    pub source: String,
    pub regex: Regex,
}

impl PartialEq for PatternRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A whole filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `""` or an empty pattern: every event.
    MatchAll,
    Terms(Vec<Term>),
    Json(Expr),
    Delimited(Delimited),
}

/// How a term takes part in a term pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermRole {
    Required,
    /// `?term`: at least one of these must occur.
    Optional,
    /// `-term`: must not occur.
    Excluded,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TermText {
    Word(String),
    Quoted(String),
    Regex(PatternRegex),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub role: TermRole,
    pub text: TermText,
}

/// A JSON pattern expression; `&&` binds tighter than `||`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Cond(Condition),
}

/// One step of a selector: `.name` or `[index]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    Index(usize),
    /// `[*]`: any element. A trailwatch extension (CloudWatch has none): a
    /// condition on such a selector holds when it holds for some element.
    AnyIndex,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub selector: Vec<Step>,
    pub test: Test,
}

/// The right-hand side of `=`/`!=`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A string, possibly with `*` wildcards; `quoted` remembers the spelling.
    Text {
        text: String,
        quoted: bool,
    },
    /// A number, with its spelling.
    Number {
        value: f64,
        text: String,
    },
    Regex(PatternRegex),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Eq(Operand),
    Ne(Operand),
    Compare(Relation, f64, String),
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

/// A space-delimited pattern: `[ip, user, ..., status = 4*]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delimited {
    pub fields: Vec<DField>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DField {
    /// `...`: any number of tokens.
    Ellipsis,
    /// A named field with an optional condition on it (and on siblings,
    /// in `||`/`&&` chains that repeat field names).
    Named { name: String, cond: Option<DExpr> },
}

#[derive(Debug, Clone, PartialEq)]
pub enum DExpr {
    Or(Vec<DExpr>),
    And(Vec<DExpr>),
    Cond {
        name: String,
        op: DOp,
        operand: Operand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DOp {
    Eq,
    Ne,
    Rel(Relation),
}

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Text { text, quoted: true } => f.write_str(&quote(text)),
            Operand::Text {
                text,
                quoted: false,
            } => f.write_str(text),
            Operand::Number { text, .. } => f.write_str(text),
            Operand::Regex(r) => write!(f, "%{}%", r.source),
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Relation::Lt => "<",
            Relation::Le => "<=",
            Relation::Gt => ">",
            Relation::Ge => ">=",
        })
    }
}

fn write_selector(f: &mut fmt::Formatter<'_>, steps: &[Step]) -> fmt::Result {
    f.write_str("$")?;
    for s in steps {
        match s {
            Step::Key(k) => write!(f, ".{k}")?,
            Step::Index(i) => write!(f, "[{i}]")?,
            Step::AnyIndex => f.write_str("[*]")?,
        }
    }
    Ok(())
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_selector(f, &self.selector)?;
        match &self.test {
            Test::Eq(o) => write!(f, " = {o}"),
            Test::Ne(o) => write!(f, " != {o}"),
            Test::Compare(r, _, text) => write!(f, " {r} {text}"),
            Test::IsNull => f.write_str(" IS NULL"),
            Test::IsTrue => f.write_str(" IS TRUE"),
            Test::IsFalse => f.write_str(" IS FALSE"),
            Test::NotExists => f.write_str(" NOT EXISTS"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Cond(c) => write!(f, "{c}"),
            Expr::Or(items) => {
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" || ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            Expr::And(items) => {
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" && ")?;
                    }
                    // An `||` inside `&&` needs its parentheses back.
                    if matches!(e, Expr::Or(_)) {
                        write!(f, "({e})")?;
                    } else {
                        write!(f, "{e}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for DExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DExpr::Cond { name, op, operand } => {
                let op = match op {
                    DOp::Eq => "=".to_string(),
                    DOp::Ne => "!=".to_string(),
                    DOp::Rel(r) => r.to_string(),
                };
                write!(f, "{name} {op} {operand}")
            }
            DExpr::Or(items) => {
                let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
                f.write_str(&parts.join(" || "))
            }
            DExpr::And(items) => {
                let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
                f.write_str(&parts.join(" && "))
            }
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::MatchAll => f.write_str("\"\""),
            Pattern::Terms(terms) => {
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    match t.role {
                        TermRole::Required => {}
                        TermRole::Optional => f.write_str("?")?,
                        TermRole::Excluded => f.write_str("-")?,
                    }
                    match &t.text {
                        TermText::Word(w) => f.write_str(w)?,
                        TermText::Quoted(q) => f.write_str(&quote(q))?,
                        TermText::Regex(r) => write!(f, "%{}%", r.source)?,
                    }
                }
                Ok(())
            }
            Pattern::Json(e) => write!(f, "{{ {e} }}"),
            Pattern::Delimited(d) => {
                f.write_str("[")?;
                for (i, field) in d.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match field {
                        DField::Ellipsis => f.write_str("...")?,
                        DField::Named { name, cond: None } => f.write_str(name)?,
                        DField::Named { cond: Some(c), .. } => write!(f, "{c}")?,
                    }
                }
                f.write_str("]")
            }
        }
    }
}
