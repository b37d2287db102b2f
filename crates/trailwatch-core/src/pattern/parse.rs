//! Parser for CloudWatch Logs filter patterns (`metric-filter-syntax.md`).
//! A hand-written recursive descent: the grammar is small, and errors must
//! point at the exact column.

use regex::Regex;

use super::ast::{
    Condition, DExpr, DField, DOp, Delimited, Expr, Operand, Pattern, PatternRegex, Relation, Step,
    Term, TermRole, TermText, Test,
};

/// A pattern that does not parse, with the 1-based column of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error at column {column}: {message}")]
pub struct PatternError {
    pub column: usize,
    pub message: String,
}

impl PatternError {
    /// The pattern with a caret under the offending column, for terminals.
    pub fn pointer(&self, pattern: &str) -> String {
        format!("{pattern}\n{}^", " ".repeat(self.column.saturating_sub(1)))
    }
}

const MAX_LEN: usize = 1024;
const MAX_REGEXES: usize = 2;
/// How deeply parentheses may nest. Parsing, matching and dropping a
/// pattern all recurse per level; CloudWatch's 1024-character limit would
/// allow 500, real patterns use 3.
pub const MAX_DEPTH: usize = 32;

struct Parser {
    chars: Vec<char>,
    pos: usize,
    regexes: usize,
    depth: usize,
}

type R<T> = Result<T, PatternError>;

impl Parser {
    fn err<T>(&self, at: usize, message: impl Into<String>) -> R<T> {
        Err(PatternError {
            column: at + 1,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.chars.len() >= self.pos + n
            && self.chars[self.pos..self.pos + n]
                .iter()
                .copied()
                .eq(s.chars())
        {
            self.pos += n;
            true
        } else {
            false
        }
    }

    /// A keyword, case-insensitive, followed by a non-word character.
    fn keyword(&mut self, kw: &str) -> bool {
        let n = kw.len();
        if self.chars.len() < self.pos + n {
            return false;
        }
        let word: String = self.chars[self.pos..self.pos + n].iter().collect();
        let boundary = self
            .chars
            .get(self.pos + n)
            .is_none_or(|c| !c.is_alphanumeric() && *c != '_');
        if word.eq_ignore_ascii_case(kw) && boundary {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str, what: &str) -> R<()> {
        if self.eat(s) {
            Ok(())
        } else {
            self.err(self.pos, format!("expected {what}"))
        }
    }

    fn regex(&mut self) -> R<PatternRegex> {
        let start = self.pos;
        self.pos += 1; // the opening %
        let body_start = self.pos;
        while let Some(c) = self.peek() {
            if c == '%' {
                break;
            }
            if c == '(' || c == ')' {
                return self.err(
                    self.pos,
                    "parentheses are not allowed in filter-pattern regular expressions",
                );
            }
            let allowed = c.is_ascii_alphanumeric() || "_#=@/;,-: ^$?[]{}|\\*+.".contains(c);
            if !allowed {
                return self.err(
                    self.pos,
                    format!("character {c:?} is not allowed in a regular expression"),
                );
            }
            self.pos += 1;
        }
        if self.peek() != Some('%') {
            return self.err(start, "unterminated regular expression: missing closing %");
        }
        let source: String = self.chars[body_start..self.pos].iter().collect();
        self.pos += 1;
        self.regexes += 1;
        if self.regexes > MAX_REGEXES {
            return self.err(
                start,
                "at most 2 regular expressions are allowed in a JSON or space-delimited pattern",
            );
        }
        match Regex::new(&source) {
            Ok(regex) => Ok(PatternRegex { source, regex }),
            Err(e) => self.err(start, format!("invalid regular expression: {e}")),
        }
    }

    fn quoted(&mut self) -> R<String> {
        let start = self.pos;
        self.pos += 1;
        let body = self.pos;
        while self.peek().is_some_and(|c| c != '"') {
            self.pos += 1;
        }
        if self.peek() != Some('"') {
            return self.err(start, "unterminated string: missing closing quote");
        }
        let s: String = self.chars[body..self.pos].iter().collect();
        self.pos += 1;
        Ok(s)
    }

    /// `=`/`!=` operand: regex, quoted string, number or bare string.
    fn operand(&mut self, bare_stop: &str) -> R<Operand> {
        self.ws();
        match self.peek() {
            Some('%') => Ok(Operand::Regex(self.regex()?)),
            Some('"') => Ok(Operand::Text {
                text: self.quoted()?,
                quoted: true,
            }),
            Some(_) => {
                let start = self.pos;
                while self.peek().is_some_and(|c| {
                    !c.is_whitespace() && !"\"()&|%".contains(c) && !bare_stop.contains(c)
                }) {
                    self.pos += 1;
                }
                if self.pos == start {
                    return self.err(start, "expected a value");
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                Ok(match parse_number(&text) {
                    Some(value) => Operand::Number { value, text },
                    None => Operand::Text {
                        text,
                        quoted: false,
                    },
                })
            }
            None => self.err(self.pos, "expected a value"),
        }
    }

    fn number(&mut self) -> R<(f64, String)> {
        self.ws();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        match parse_number(&text) {
            Some(v) => Ok((v, text)),
            None => self.err(start, "expected a number after a comparison operator"),
        }
    }

    fn relation(&mut self) -> Option<Relation> {
        if self.eat("<=") {
            Some(Relation::Le)
        } else if self.eat(">=") {
            Some(Relation::Ge)
        } else if self.eat("<") {
            Some(Relation::Lt)
        } else if self.eat(">") {
            Some(Relation::Gt)
        } else {
            None
        }
    }

    // ---- JSON patterns ----

    fn selector(&mut self) -> R<Vec<Step>> {
        if !self.eat("$") {
            return self.err(self.pos, "expected a selector starting with $");
        }
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    steps.push(Step::Key(
                        self.field_name("expected a field name after '.'")?,
                    ));
                }
                Some('[') if self.chars.get(self.pos + 1) == Some(&'*') => {
                    self.pos += 2;
                    self.expect("]", "']'")?;
                    steps.push(Step::AnyIndex);
                }
                Some('[') => {
                    self.pos += 1;
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                    let digits: String = self.chars[start..self.pos].iter().collect();
                    let Ok(index) = digits.parse::<usize>() else {
                        return self.err(start, "expected an array index");
                    };
                    self.expect("]", "']'")?;
                    steps.push(Step::Index(index));
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            return self.err(self.pos, "expected '.' or '[' after $");
        }
        Ok(steps)
    }

    fn condition(&mut self) -> R<Condition> {
        let selector = self.selector()?;
        self.ws();
        let at = self.pos;
        let test = if self.eat("!=") {
            Test::Ne(self.operand("}")?)
        } else if self.eat("=") {
            Test::Eq(self.operand("}")?)
        } else if let Some(rel) = self.relation() {
            let (v, text) = self.number()?;
            Test::Compare(rel, v, text)
        } else if self.keyword("IS") {
            self.ws();
            if self.keyword("NULL") {
                Test::IsNull
            } else if self.keyword("TRUE") {
                Test::IsTrue
            } else if self.keyword("FALSE") {
                Test::IsFalse
            } else {
                return self.err(self.pos, "expected NULL, TRUE or FALSE after IS");
            }
        } else if self.keyword("NOT") {
            self.ws();
            if !self.keyword("EXISTS") {
                return self.err(self.pos, "expected EXISTS after NOT");
            }
            Test::NotExists
        } else {
            return self.err(at, "expected =, !=, <, <=, >, >=, IS or NOT EXISTS");
        };
        Ok(Condition { selector, test })
    }

    fn primary(&mut self) -> R<Expr> {
        self.ws();
        let at = self.pos;
        if self.eat("(") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return self.err(
                    at,
                    format!("parentheses nest deeper than {MAX_DEPTH} levels"),
                );
            }
            let e = self.or_expr()?;
            self.ws();
            self.expect(")", "')'")?;
            self.depth -= 1;
            Ok(e)
        } else {
            Ok(Expr::Cond(self.condition()?))
        }
    }

    /// `item (op item)*`, one item as itself, several wrapped in a list.
    fn chain(
        &mut self,
        op: &str,
        item: fn(&mut Self) -> R<Expr>,
        wrap: fn(Vec<Expr>) -> Expr,
    ) -> R<Expr> {
        let mut items = vec![item(self)?];
        loop {
            self.ws();
            if !self.eat(op) {
                break;
            }
            items.push(item(self)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            wrap(items)
        })
    }

    fn and_expr(&mut self) -> R<Expr> {
        self.chain("&&", Self::primary, Expr::And)
    }

    fn or_expr(&mut self) -> R<Expr> {
        self.chain("||", Self::and_expr, Expr::Or)
    }

    fn json(&mut self) -> R<Pattern> {
        self.ws();
        self.expect("{", "'{'")?;
        let e = self.or_expr()?;
        self.ws();
        if self.peek() != Some('}') {
            return self.err(self.pos, "expected &&, || or '}'");
        }
        self.pos += 1;
        self.ws();
        if self.pos < self.chars.len() {
            return self.err(self.pos, "unexpected text after '}'");
        }
        Ok(Pattern::Json(e))
    }

    // ---- space-delimited patterns ----

    /// A field name (letters, digits, `_`, `-`) at the cursor; `missing`
    /// is the error when there is none.
    fn field_name(&mut self, missing: &str) -> R<String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            self.pos += 1;
        }
        if self.pos == start {
            return self.err(start, missing);
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn name(&mut self) -> R<String> {
        self.ws();
        self.field_name("expected a field name")
    }

    fn dcond(&mut self, name: String) -> R<DExpr> {
        self.ws();
        let op = if self.eat("!=") {
            DOp::Ne
        } else if self.eat("=") {
            DOp::Eq
        } else if let Some(r) = self.relation() {
            DOp::Rel(r)
        } else {
            return self.err(self.pos, "expected =, !=, <, <=, > or >=");
        };
        let operand = self.operand(",]")?;
        if let (DOp::Rel(_), Operand::Text { .. } | Operand::Regex(_)) = (op, &operand) {
            return self.err(self.pos, "expected a number after a comparison operator");
        }
        Ok(DExpr::Cond { name, op, operand })
    }

    fn dfield(&mut self) -> R<DField> {
        self.ws();
        if self.eat("...") {
            return Ok(DField::Ellipsis);
        }
        let name = self.name()?;
        self.ws();
        if matches!(self.peek(), Some(',') | Some(']')) {
            return Ok(DField::Named { name, cond: None });
        }
        let mut ors = vec![vec![self.dcond(name.clone())?]];
        loop {
            self.ws();
            if self.eat("&&") {
                let n = self.name()?;
                let c = self.dcond(n)?;
                if let Some(last) = ors.last_mut() {
                    last.push(c);
                }
            } else if self.eat("||") {
                let n = self.name()?;
                ors.push(vec![self.dcond(n)?]);
            } else {
                break;
            }
        }
        let mut ands: Vec<DExpr> = ors
            .into_iter()
            .map(|mut a| {
                if a.len() == 1 {
                    a.remove(0)
                } else {
                    DExpr::And(a)
                }
            })
            .collect();
        let cond = if ands.len() == 1 {
            ands.remove(0)
        } else {
            DExpr::Or(ands)
        };
        Ok(DField::Named {
            name,
            cond: Some(cond),
        })
    }

    fn delimited(&mut self) -> R<Pattern> {
        self.ws();
        self.expect("[", "'['")?;
        let mut fields = vec![self.dfield()?];
        loop {
            self.ws();
            if self.eat(",") {
                fields.push(self.dfield()?);
            } else if self.eat("]") {
                break;
            } else {
                return self.err(self.pos, "expected ',' or ']'");
            }
        }
        self.ws();
        if self.pos < self.chars.len() {
            return self.err(self.pos, "unexpected text after ']'");
        }
        Ok(Pattern::Delimited(Delimited { fields }))
    }

    // ---- term patterns ----

    fn terms(&mut self) -> R<Pattern> {
        let mut terms = Vec::new();
        loop {
            self.ws();
            let Some(c) = self.peek() else { break };
            let role = match c {
                '?' => {
                    self.pos += 1;
                    TermRole::Optional
                }
                '-' if self
                    .chars
                    .get(self.pos + 1)
                    .is_some_and(|n| !n.is_whitespace()) =>
                {
                    self.pos += 1;
                    TermRole::Excluded
                }
                _ => TermRole::Required,
            };
            let text = match self.peek() {
                Some('"') => TermText::Quoted(self.quoted()?),
                Some('%') => TermText::Regex(self.regex()?),
                Some(_) => {
                    let start = self.pos;
                    while self.peek().is_some_and(|c| !c.is_whitespace() && c != '"') {
                        self.pos += 1;
                    }
                    if self.pos == start {
                        return self.err(start, "expected a term");
                    }
                    TermText::Word(self.chars[start..self.pos].iter().collect())
                }
                None => return self.err(self.pos, "expected a term after ? or -"),
            };
            terms.push(Term { role, text });
        }
        Ok(if terms.is_empty() {
            Pattern::MatchAll
        } else {
            Pattern::Terms(terms)
        })
    }
}

/// The spec's `number` production, as f64.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse().ok()
}

/// Parse a filter pattern.
pub fn parse(src: &str) -> Result<Pattern, PatternError> {
    if src.chars().count() > MAX_LEN {
        return Err(PatternError {
            column: MAX_LEN + 1,
            message: "patterns are limited to 1024 characters".into(),
        });
    }
    let mut p = Parser {
        chars: src.chars().collect(),
        pos: 0,
        regexes: 0,
        depth: 0,
    };
    p.ws();
    match p.peek() {
        None => Ok(Pattern::MatchAll),
        Some('{') => p.json(),
        Some('[') => p.delimited(),
        Some(_) => {
            let trimmed = src.trim();
            if trimmed == "\"\"" {
                return Ok(Pattern::MatchAll);
            }
            p.terms()
        }
    }
}
