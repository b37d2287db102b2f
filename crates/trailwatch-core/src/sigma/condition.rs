//! Sigma's `condition` expressions: selection names combined with `and`,
//! `or`, `not` and parentheses, and the quantifiers `1 of X*`,
//! `all of X*`, `1 of them`, `all of them` (`any of` is `1 of`).
//! Precedence, loosest first: `or`, `and`, `not`.

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A selection (or keyword list) by name.
    Selection(String),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    /// `1 of PATTERN`: any selection the pattern names matches.
    AnyOf(Names),
    /// `all of PATTERN`: every selection it names matches.
    AllOf(Names),
}

/// What a quantifier ranges over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Names {
    /// `them`: every selection (names starting with `_` excepted, as the
    /// specification says).
    Them,
    /// A name with `*` wildcards, e.g. `selection_*`.
    Pattern(String),
}

/// Why a condition could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition {condition:?}: {message}")]
pub struct ConditionError {
    pub condition: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Word(String),
}

fn tokens(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        match c {
            '(' | ')' | ' ' | '\t' | '\n' | '\r' => {
                if !word.is_empty() {
                    out.push(Token::Word(std::mem::take(&mut word)));
                }
                if c == '(' {
                    out.push(Token::Open);
                } else if c == ')' {
                    out.push(Token::Close);
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(Token::Word(word));
    }
    out
}

struct Parser<'a> {
    toks: Vec<Token>,
    at: usize,
    text: &'a str,
    depth: usize,
}

/// Deeper nesting than this is refused (a hostile rule file must not
/// overflow the stack).
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> ConditionError {
        ConditionError {
            condition: self.text.to_string(),
            message: message.into(),
        }
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.at), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.and()?];
        while self.peek_word("or") {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.not()?];
        while self.peek_word("and") {
            self.at += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::And(parts)
        })
    }

    fn not(&mut self) -> Result<Condition, ConditionError> {
        if self.peek_word("not") {
            self.at += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.err("nested too deeply"));
            }
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Condition, ConditionError> {
        match self.toks.get(self.at).cloned() {
            Some(Token::Open) => {
                self.at += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.err("nested too deeply"));
                }
                let inner = self.or()?;
                self.depth -= 1;
                if self.toks.get(self.at) != Some(&Token::Close) {
                    return Err(self.err("a parenthesis is not closed"));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Word(w)) => {
                self.at += 1;
                let quantifier =
                    w.eq_ignore_ascii_case("all") || w == "1" || w.eq_ignore_ascii_case("any");
                if quantifier && self.peek_word("of") {
                    self.at += 1;
                    let Some(Token::Word(target)) = self.toks.get(self.at).cloned() else {
                        return Err(self.err(format!("`{w} of` names nothing")));
                    };
                    self.at += 1;
                    let names = if target.eq_ignore_ascii_case("them") {
                        Names::Them
                    } else {
                        Names::Pattern(target)
                    };
                    return Ok(if w.eq_ignore_ascii_case("all") {
                        Condition::AllOf(names)
                    } else {
                        Condition::AnyOf(names)
                    });
                }
                if ["and", "or", "not", "of", "|"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(self.err(format!("`{w}` where a selection was expected")));
                }
                Ok(Condition::Selection(w))
            }
            Some(Token::Close) => Err(self.err("a parenthesis closes nothing")),
            None => Err(self.err("it ends where a selection was expected")),
        }
    }
}

impl Condition {
    /// Parse a condition. The aggregation syntax of Sigma v1 (`| count()
    /// by …`) is refused: Sigma v2 expresses it as a correlation rule.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let mut p = Parser {
            toks: tokens(text),
            at: 0,
            text,
            depth: 0,
        };
        if p.toks
            .iter()
            .any(|t| matches!(t, Token::Word(w) if w.starts_with('|')))
        {
            return Err(p.err(
                "aggregations (`| count() …`) are Sigma v1; write a correlation rule instead",
            ));
        }
        let c = p.or()?;
        if p.at != p.toks.len() {
            return Err(p.err("there is more after a complete condition"));
        }
        Ok(c)
    }

    /// Every selection name the condition mentions directly (quantifier
    /// patterns aside), to check they exist.
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::Selection(s) => out.push(s),
            Condition::Not(c) => c.collect(out),
            Condition::And(v) | Condition::Or(v) => v.iter().for_each(|c| c.collect(out)),
            Condition::AnyOf(_) | Condition::AllOf(_) => {}
        }
    }

    /// Evaluate with `selections` (name, whether it matched).
    pub fn eval(&self, selections: &[(&str, bool)]) -> bool {
        let names: Vec<String> = selections.iter().map(|(n, _)| n.to_string()).collect();
        self.resolve(&names).eval(&mut |i| selections[i].1)
    }

    /// The condition over selection indexes in `names` (a name it
    /// mentions that is not there never matches).
    pub fn resolve(&self, names: &[String]) -> Resolved {
        let matching = |n: &Names| -> Vec<usize> {
            names
                .iter()
                .enumerate()
                .filter(|(_, name)| match n {
                    Names::Them => !name.starts_with('_'),
                    Names::Pattern(p) => crate::pattern::glob(p, name),
                })
                .map(|(i, _)| i)
                .collect()
        };
        match self {
            Condition::Selection(s) => match names.iter().position(|n| n == s) {
                Some(i) => Resolved::Selection(i),
                None => Resolved::AnyOf(Vec::new()),
            },
            Condition::Not(c) => Resolved::Not(Box::new(c.resolve(names))),
            Condition::And(v) => Resolved::And(v.iter().map(|c| c.resolve(names)).collect()),
            Condition::Or(v) => Resolved::Or(v.iter().map(|c| c.resolve(names)).collect()),
            Condition::AnyOf(n) => Resolved::AnyOf(matching(n)),
            Condition::AllOf(n) => Resolved::AllOf(matching(n)),
        }
    }
}

/// A condition over selection indexes, evaluated lazily: a selection is
/// tested only when the outcome still depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Selection(usize),
    Not(Box<Resolved>),
    And(Vec<Resolved>),
    Or(Vec<Resolved>),
    AnyOf(Vec<usize>),
    /// Every one of them (and at least one).
    AllOf(Vec<usize>),
}

impl Resolved {
    /// Evaluate, asking `hit` whether selection `i` matches (the caller
    /// remembers answers, as a selection may be asked for twice).
    pub fn eval(&self, hit: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Resolved::Selection(i) => hit(*i),
            Resolved::Not(c) => !c.eval(hit),
            Resolved::And(v) => v.iter().all(|c| c.eval(hit)),
            Resolved::Or(v) => v.iter().any(|c| c.eval(hit)),
            Resolved::AnyOf(v) => v.iter().any(|&i| hit(i)),
            Resolved::AllOf(v) => !v.is_empty() && v.iter().all(|&i| hit(i)),
        }
    }

    /// The selections that must all match for the condition to hold (an
    /// AND's, or the one selection), for indexing.
    pub fn required(&self) -> Vec<usize> {
        match self {
            Resolved::Selection(i) => vec![*i],
            Resolved::And(v) => v.iter().flat_map(Resolved::required).collect(),
            Resolved::AllOf(v) => v.clone(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(cond: &str, sel: &[(&str, bool)]) -> bool {
        Condition::parse(cond).expect("parses").eval(sel)
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let s = [("a", true), ("b", false), ("c", true)];
        assert!(eval("a or b and c", &s));
        assert!(!eval("not a or b", &s));
        assert!(eval("not (a and b)", &s));
        assert!(eval("a and not b and c", &s));
        assert!(!eval("(a or b) and not c", &s));
        assert!(
            eval("A AND NOT B", &[("A", true), ("B", false)]),
            "keywords in any case"
        );
    }

    #[test]
    fn quantifiers_range_over_patterns_and_them() {
        let s = [
            ("sel_a", false),
            ("sel_b", true),
            ("filter", false),
            ("_hidden", false),
        ];
        assert!(eval("1 of sel_*", &s));
        assert!(eval("any of sel_*", &s));
        assert!(!eval("all of sel_*", &s));
        assert!(eval("1 of them", &s));
        assert!(!eval("all of them", &s));
        assert!(
            eval("all of them", &[("x", true), ("_y", false)]),
            "_ names are not in them"
        );
        assert!(eval("1 of sel_* and not filter", &s));
        assert!(
            !eval("all of nothing_*", &s),
            "an empty range is not all-true"
        );
    }

    #[test]
    fn malformed_conditions_are_refused_with_a_reason() {
        for (c, why) in [
            ("a and", "ends"),
            ("(a or b", "not closed"),
            ("a or b)", "more after"),
            ("a | count() by x > 5", "Sigma v1"),
            ("1 of", "names nothing"),
            ("and a", "expected"),
        ] {
            let e = Condition::parse(c).unwrap_err().to_string();
            assert!(e.contains(why), "{c}: {e}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(
            Condition::parse(&deep)
                .unwrap_err()
                .to_string()
                .contains("deeply")
        );
    }

    #[test]
    fn names_lists_the_selections_mentioned() {
        let c = Condition::parse("sel and not (filter1 or filter2) and 1 of x*").expect("parses");
        assert_eq!(c.names(), ["sel", "filter1", "filter2"]);
    }
}
