//! What a set of pattern rules needs of an event before it can match: a
//! condition on a few top-level fields (`eventName`, `eventSource`,
//! `errorCode`, `userIdentity.type`) that every match satisfies, so a
//! backtest over the lake reads those small columns for every row and the
//! whole record only for the rows that pass. It is a superset: each rule
//! still judges the records it gets (wildcards and case are matched
//! loosely here, exactly by the rule).

use crate::pattern::{Expr, Operand, Pattern, Step, Test};
use crate::rules::Rule;

/// A top-level field a prefilter reads (the lake's column names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    EventName,
    EventSource,
    ErrorCode,
    IdentityType,
}

impl Field {
    /// The field's column in the lake.
    pub fn column(self) -> &'static str {
        match self {
            Field::EventName => "eventname",
            Field::EventSource => "eventsource",
            Field::ErrorCode => "errorcode",
            Field::IdentityType => "useridentity_type",
        }
    }

    fn of(selector: &[Step]) -> Option<Field> {
        let keys: Vec<&str> = selector
            .iter()
            .map(|s| match s {
                Step::Key(k) => Some(k.as_str()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        match keys.as_slice() {
            ["eventName"] => Some(Field::EventName),
            ["eventSource"] => Some(Field::EventSource),
            ["errorCode"] => Some(Field::ErrorCode),
            ["userIdentity", "type"] => Some(Field::IdentityType),
            _ => None,
        }
    }
}

/// `field` equals `glob` (`*` any run of characters, case ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    pub field: Field,
    pub glob: String,
}

/// At least one atom holds for every event any of the rules matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefilter {
    pub atoms: Vec<Atom>,
    /// The top-level fields the rules read (their patterns, metric values
    /// and dimensions), with those every record needs and a match shows,
    /// as the lake's column names: the rows that pass are read as these
    /// columns only.
    pub columns: Vec<String>,
}

/// Fields every record needs (the decoder requires them) or a match shows.
const ALWAYS_READ: &[&str] = &[
    "eventversion",
    "eventtime",
    "eventid",
    "eventtype",
    "awsregion",
    "eventname",
    "sourceipaddress",
    "useridentity",
];

/// The top-level fields an expression reads.
fn fields_read(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Cond(c) => {
            if let Some(Step::Key(k)) = c.selector.first() {
                out.push(k.to_lowercase());
            }
        }
        Expr::Or(list) | Expr::And(list) => list.iter().for_each(|x| fields_read(x, out)),
    }
}

/// What `e` needs: a disjunction of atoms, or `None` when nothing short
/// of the whole record can say.
fn needs(e: &Expr) -> Option<Vec<Atom>> {
    match e {
        Expr::Cond(c) => {
            let field = Field::of(&c.selector)?;
            match &c.test {
                Test::Eq(Operand::Text { text, .. }) => Some(vec![Atom {
                    field,
                    glob: text.clone(),
                }]),
                _ => None,
            }
        }
        // Every branch must say, and any of them may hold.
        Expr::Or(branches) => {
            let mut out = Vec::new();
            for b in branches {
                out.extend(needs(b)?);
            }
            Some(out)
        }
        // Each part holds; the narrowest that can say is enough (an event
        // name over a source over the rest: names are the most selective).
        Expr::And(parts) => parts.iter().filter_map(needs).min_by_key(|atoms| {
            let rank = |a: &Atom| match a.field {
                Field::EventName => 0,
                Field::ErrorCode => 1,
                Field::IdentityType => 2,
                Field::EventSource => 3,
            };
            (atoms.iter().map(rank).max(), atoms.len())
        }),
    }
}

impl Prefilter {
    /// The prefilter of `rules`, when every rule has one (a rule with none
    /// needs every event, and so do the others then).
    pub fn of_rules(rules: &[Rule]) -> Option<Prefilter> {
        let mut atoms = Vec::new();
        let mut columns: Vec<String> = ALWAYS_READ.iter().map(|c| c.to_string()).collect();
        for r in rules {
            let Pattern::Json(e) = &r.pattern else {
                return None;
            };
            atoms.extend(needs(e)?);
            fields_read(e, &mut columns);
            if let Some(a) = &r.alarm {
                let selectors = a.dimensions.iter().map(|(_, s)| s.as_slice());
                let value = match &a.value {
                    crate::rules::MetricValue::Selector(s) => Some(s.as_slice()),
                    crate::rules::MetricValue::Constant(_) => None,
                };
                for s in selectors.chain(value) {
                    if let Some(Step::Key(k)) = s.first() {
                        columns.push(k.to_lowercase());
                    }
                }
            }
        }
        atoms.dedup();
        columns.sort();
        columns.dedup();
        Some(Prefilter { atoms, columns })
    }

    /// The fields it reads.
    pub fn fields(&self) -> Vec<Field> {
        let mut out: Vec<Field> = Vec::new();
        for a in &self.atoms {
            if !out.contains(&a.field) {
                out.push(a.field);
            }
        }
        out
    }

    /// The atoms of `field`, ready to judge many values.
    pub fn values_of(&self, field: Field) -> FieldMatcher {
        let mut m = FieldMatcher::default();
        for a in self.atoms.iter().filter(|a| a.field == field) {
            let glob = a.glob.to_lowercase();
            if glob.contains('*') {
                m.globs.push(glob);
            } else {
                m.exact.insert(glob);
            }
        }
        m
    }
}

/// One field's atoms: exact values in a set, globs in a list, all lower
/// case (a value is judged once per distinct value by the caller).
#[derive(Debug, Clone, Default)]
pub struct FieldMatcher {
    exact: std::collections::HashSet<String>,
    globs: Vec<String>,
}

impl FieldMatcher {
    /// Whether `value` satisfies one of the atoms.
    pub fn admits(&self, value: &str) -> bool {
        let lower = value.to_lowercase();
        self.exact.contains(&lower) || self.globs.iter().any(|g| glob_matches(g, &lower))
    }
}

/// `*`-glob matching, case ignored.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let glob = glob.to_lowercase();
    let text = text.to_lowercase();
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse_rules;

    fn rules(patterns: &[&str]) -> Vec<Rule> {
        let text: String = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!("  - id: r{i}\n    title: r\n    severity: P3\n    pattern: '{p}'\n")
            })
            .collect();
        parse_rules(&format!("rules:\n{text}"), "t").unwrap()
    }

    #[test]
    fn names_sources_errors_and_identity_types_are_what_rules_need() {
        let p = Prefilter::of_rules(&rules(&[
            r#"{ $.eventSource = "iam.amazonaws.com" && ($.eventName = "Put*Policy" || $.eventName = "Attach*Policy") }"#,
            r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#,
            r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }"#,
        ]))
        .unwrap();
        let fields = p.fields();
        assert_eq!(
            fields,
            [Field::EventName, Field::ErrorCode, Field::IdentityType]
        );
        let (names, errors, kinds) = (
            p.values_of(Field::EventName),
            p.values_of(Field::ErrorCode),
            p.values_of(Field::IdentityType),
        );
        let admits = |name: &str, error: &str, kind: &str| {
            names.admits(name) || errors.admits(error) || kinds.admits(kind)
        };
        assert!(admits("PutUserPolicy", "", "IAMUser"));
        assert!(admits("GetObject", "AccessDenied", "IAMUser"));
        assert!(admits("GetObject", "", "Root"));
        assert!(!admits("GetObject", "", "IAMUser"));
    }

    #[test]
    fn a_rule_that_needs_the_whole_record_turns_it_off() {
        assert_eq!(
            Prefilter::of_rules(&rules(&[
                r#"{ $.eventName = "A" }"#,
                r#"{ $.sourceIPAddress = "1.2.3.4" }"#
            ])),
            None
        );
    }

    #[test]
    fn globs() {
        assert!(glob_matches("Put*Policy", "PutUserPolicy"));
        assert!(glob_matches(
            "*Unauthorized*",
            "Client.UnauthorizedOperation"
        ));
        assert!(!glob_matches("Put*Policy", "PutUser"));
        assert!(glob_matches("consolelogin", "ConsoleLogin"));
    }
}
