//! Evaluating a parsed pattern against one log event, with CloudWatch's
//! semantics (`metric-filter-syntax.md` §2–§4).
//!
//! JSON patterns ask a [`Document`] for the value at a selector, so a
//! decoded CloudTrail record can answer from its typed fields without
//! re-parsing JSON, while any other message is parsed once.

use std::borrow::Cow;

use memchr::memmem;
use serde_json::Value;

use super::ast::{
    Condition, DExpr, DField, DOp, Delimited, Expr, Operand, Pattern, Relation, Step, TermRole,
    TermText, Test,
};
use super::parse::parse_number;

/// What a selector finds.
#[derive(Debug, Clone, PartialEq)]
pub enum Found<'a> {
    Missing,
    Null,
    Str(Cow<'a, str>),
    /// A JSON number, as written.
    Num(Cow<'a, str>),
    Bool(bool),
    /// An object or an array.
    Composite,
}

/// A log event as patterns see it.
pub trait Document {
    /// The message text (term and space-delimited patterns search it).
    fn text(&self) -> Cow<'_, str>;
    /// The value at a JSON selector; `None` when the message is not a JSON
    /// object (then no JSON pattern matches).
    fn lookup(&self, path: &[Step]) -> Option<Found<'_>>;
    /// The whole message as JSON, for `[*]` selectors.
    fn json(&self) -> Option<&Value>;
}

/// Every value a selector with `[*]` steps reaches.
fn expand<'v>(v: &'v Value, path: &[Step], out: &mut Vec<Found<'v>>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(found_of(v));
        return;
    };
    match (first, v) {
        (Step::Key(k), Value::Object(m)) => {
            if let Some(n) = m.get(k) {
                expand(n, rest, out);
            }
        }
        (Step::Index(i), Value::Array(a)) => {
            if let Some(n) = a.get(*i) {
                expand(n, rest, out);
            }
        }
        (Step::AnyIndex, Value::Array(a)) => {
            for n in a {
                expand(n, rest, out);
            }
        }
        _ => {}
    }
}

/// Walk a parsed JSON value (a `[*]` step finds nothing here; see `expand`).
pub fn lookup_value<'a>(mut v: &'a Value, path: &[Step]) -> Found<'a> {
    for step in path {
        let next = match (step, v) {
            (Step::Key(k), Value::Object(m)) => m.get(k),
            (Step::Index(i), Value::Array(a)) => a.get(*i),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return Found::Missing,
        }
    }
    found_of(v)
}

pub fn found_of(v: &Value) -> Found<'_> {
    match v {
        Value::Null => Found::Null,
        Value::Bool(b) => Found::Bool(*b),
        Value::Number(n) => Found::Num(Cow::Owned(n.to_string())),
        Value::String(s) => Found::Str(Cow::Borrowed(s)),
        Value::Array(_) | Value::Object(_) => Found::Composite,
    }
}

/// Any message: JSON objects are parsed once, on first lookup.
#[derive(Debug)]
pub struct TextDocument<'a> {
    text: &'a str,
    json: std::cell::OnceCell<Option<Value>>,
}

impl<'a> TextDocument<'a> {
    pub fn new(text: &'a str) -> Self {
        TextDocument {
            text,
            json: std::cell::OnceCell::new(),
        }
    }
}

impl Document for TextDocument<'_> {
    fn text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.text)
    }

    fn lookup(&self, path: &[Step]) -> Option<Found<'_>> {
        Some(lookup_value(self.json()?, path))
    }

    fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| {
                serde_json::from_str::<Value>(self.text.trim())
                    .ok()
                    .filter(Value::is_object)
            })
            .as_ref()
    }
}

/// Anchored glob: `*` matches any run of characters, including none.
pub fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().unwrap_or((&"", &[]));
    let Some(mut t) = text.strip_prefix(first) else {
        return false;
    };
    let (last, middle) = rest.split_last().unwrap_or((&"", &[]));
    for part in middle {
        match t.find(part) {
            Some(i) => t = &t[i + part.len()..],
            None => return false,
        }
    }
    t.len() >= last.len() && t.ends_with(last)
}

fn scalar_text<'a>(f: &'a Found<'a>) -> Option<&'a str> {
    match f {
        Found::Str(s) | Found::Num(s) => Some(s),
        Found::Bool(true) => Some("true"),
        Found::Bool(false) => Some("false"),
        _ => None,
    }
}

fn numeric(f: &Found<'_>) -> Option<f64> {
    match f {
        Found::Num(s) | Found::Str(s) => parse_number(s.trim()),
        _ => None,
    }
}

fn test(found: &Found<'_>, t: &Test) -> bool {
    match t {
        Test::NotExists => matches!(found, Found::Missing),
        Test::IsNull => matches!(found, Found::Null),
        Test::IsTrue => matches!(found, Found::Bool(true)),
        Test::IsFalse => matches!(found, Found::Bool(false)),
        Test::Eq(op) => compare_eq(found, op).unwrap_or(false),
        Test::Ne(op) => compare_eq(found, op).is_some_and(|eq| !eq),
        Test::Compare(rel, v, _) => numeric(found).is_some_and(|x| relate(x, *rel, *v)),
    }
}

/// `Some(equal)` when the comparison applies, `None` when it cannot (missing,
/// null, composite, or non-numeric for a numeric literal): then both `=` and
/// `!=` are false.
fn compare_eq(found: &Found<'_>, op: &Operand) -> Option<bool> {
    let text = scalar_text(found)?;
    match op {
        Operand::Text { text: pat, .. } => Some(glob(pat, text)),
        Operand::Number { value, .. } => numeric(found).map(|x| x == *value),
        Operand::Regex(r) => Some(r.regex.is_match(text)),
    }
}

fn relate(x: f64, rel: Relation, v: f64) -> bool {
    match rel {
        Relation::Lt => x < v,
        Relation::Le => x <= v,
        Relation::Gt => x > v,
        Relation::Ge => x >= v,
    }
}

fn eval_expr(e: &Expr, doc: &dyn Document) -> Option<bool> {
    Some(match e {
        Expr::Or(items) => {
            for i in items {
                if eval_expr(i, doc)? {
                    return Some(true);
                }
            }
            false
        }
        Expr::And(items) => {
            for i in items {
                if !eval_expr(i, doc)? {
                    return Some(false);
                }
            }
            true
        }
        Expr::Cond(Condition { selector, test: t }) if selector.contains(&Step::AnyIndex) => {
            let mut found = Vec::new();
            expand(doc.json().filter(|v| v.is_object())?, selector, &mut found);
            if *t == Test::NotExists {
                found.is_empty()
            } else {
                found.iter().any(|f| test(f, t))
            }
        }
        Expr::Cond(Condition { selector, test: t }) => test(&doc.lookup(selector)?, t),
    })
}

fn term_occurs(text: &str, t: &TermText) -> bool {
    match t {
        TermText::Word(w) => memmem::find(text.as_bytes(), w.as_bytes()).is_some(),
        TermText::Quoted(q) if q.trim().is_empty() => true,
        TermText::Quoted(q) => memmem::find(text.as_bytes(), q.as_bytes()).is_some(),
        TermText::Regex(r) => r.regex.is_match(text),
    }
}

/// Split a space-delimited message: `"…"` and `[…]` tokens keep their
/// spaces and lose their delimiters.
pub fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let (open, close) = match b[i] {
            b'"' => (true, b'"'),
            b'[' => (true, b']'),
            _ => (false, b' '),
        };
        if open {
            let start = i + 1;
            let end = memchr::memchr(close, &b[start..]).map_or(b.len(), |j| start + j);
            out.push(&text[start..end]);
            i = end + 1;
        } else {
            let start = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            out.push(&text[start..i]);
        }
    }
    out
}

fn dcheck(e: &DExpr, bound: &[(&str, &str)]) -> bool {
    match e {
        DExpr::Or(items) => items.iter().any(|i| dcheck(i, bound)),
        DExpr::And(items) => items.iter().all(|i| dcheck(i, bound)),
        DExpr::Cond { name, op, operand } => {
            let Some((_, value)) = bound.iter().find(|(n, _)| n == name) else {
                return false;
            };
            let found = Found::Str(Cow::Borrowed(value));
            match op {
                DOp::Eq => compare_eq(&found, operand).unwrap_or(false),
                DOp::Ne => compare_eq(&found, operand).is_some_and(|e| !e),
                DOp::Rel(r) => match operand {
                    Operand::Number { value: v, .. } => {
                        numeric(&found).is_some_and(|x| relate(x, *r, *v))
                    }
                    _ => false,
                },
            }
        }
    }
}

fn eval_delimited(d: &Delimited, text: &str) -> bool {
    delimited_values(d, text).is_some()
}

/// Values bound to the named fields of a delimited pattern, when it matches.
pub fn delimited_values(d: &Delimited, text: &str) -> Option<Vec<(String, String)>> {
    let toks = tokens(text.trim());
    let names: Vec<&str> = d
        .fields
        .iter()
        .filter_map(|f| match f {
            DField::Named { name, .. } => Some(name.as_str()),
            DField::Ellipsis => None,
        })
        .collect();
    let mut found = None;
    let mut values = Vec::new();
    first_binding(&d.fields, &toks, &names, &mut values, &d.fields, &mut found);
    found
}

/// Bind fields to tokens in order (`...` takes any number, backtracking),
/// check every field's condition against the bound values, and keep the
/// first binding that satisfies them all.
fn first_binding<'t>(
    fields: &[DField],
    toks: &[&'t str],
    names: &[&str],
    values: &mut Vec<&'t str>,
    all: &[DField],
    out: &mut Option<Vec<(String, String)>>,
) -> bool {
    let Some((first, rest)) = fields.split_first() else {
        if !toks.is_empty() {
            return false;
        }
        let pairs: Vec<(&str, &str)> = names.iter().copied().zip(values.iter().copied()).collect();
        let ok = all.iter().all(|f| match f {
            DField::Named { cond: Some(c), .. } => dcheck(c, &pairs),
            _ => true,
        });
        if ok {
            *out = Some(
                pairs
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
            );
        }
        return ok;
    };
    match first {
        DField::Ellipsis => {
            (0..=toks.len()).any(|k| first_binding(rest, &toks[k..], names, values, all, out))
        }
        DField::Named { .. } => {
            let Some((tok, more)) = toks.split_first() else {
                return false;
            };
            values.push(tok);
            let ok = first_binding(rest, more, names, values, all, out);
            values.pop();
            ok
        }
    }
}

impl Pattern {
    /// Does the event match?
    pub fn matches(&self, doc: &dyn Document) -> bool {
        match self {
            Pattern::MatchAll => true,
            Pattern::Json(e) => eval_expr(e, doc).unwrap_or(false),
            Pattern::Terms(terms) => {
                let text = doc.text();
                let mut any_optional = false;
                let mut optional_hit = false;
                for t in terms {
                    let hit = term_occurs(&text, &t.text);
                    match t.role {
                        TermRole::Required if !hit => return false,
                        TermRole::Excluded if hit => return false,
                        TermRole::Optional => {
                            any_optional = true;
                            optional_hit |= hit;
                        }
                        _ => {}
                    }
                }
                !any_optional || optional_hit
            }
            Pattern::Delimited(d) => eval_delimited(d, &doc.text()),
        }
    }
}
