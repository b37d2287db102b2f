//! One Sigma field test (`field|modifier|modifier: value(s)`) compiled
//! into a matcher over a JSON event, with Sigma's semantics: strings
//! case-insensitive unless `cased`, `*` and `?` wildcards with `\`
//! escapes, a list of values meaning any of them (all of them with
//! `all`), null meaning absent or null, and a dotted path that crosses an
//! array matching if any element does.

use base64::Engine as _;
use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::fields::{Fields, Val};
use super::problem::Problem;
use super::value_set::{CidrSet, Place, ValueSet};

/// The most values one field test may list (an IOC list past this is a
/// clear error, not gigabytes).
pub const MAX_VALUES: usize = 100_000;

/// Why a field test could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field:?}: {problem}")]
pub struct ValueError {
    pub field: String,
    pub problem: Box<Problem>,
}

#[derive(Debug, Clone)]
enum Test {
    /// Absent or null.
    Null,
    Exists(bool),
    Bool(bool),
    /// A string pattern, compiled (wildcards, modifiers, case).
    Text(Regex),
    /// A plain string (no wildcard) at a position: compared directly
    /// when the value is ASCII, else by the same pattern as a regex.
    Literal {
        /// Lower-cased unless `cased`.
        text: String,
        how: Position,
        cased: bool,
        re: Regex,
    },
    Cmp(Cmp, f64),
    Cidr(ipnet::IpNet),
    /// Two or more plain ASCII values of one list, compiled together.
    Set(ValueSet),
    /// Two or more CIDR ranges of one list.
    Cidrs(CidrSet),
    /// Equal to another field of the same event.
    FieldRef(Vec<String>),
}

/// Where a literal must sit in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Whole,
    Start,
    End,
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A compiled field test.
#[derive(Debug, Clone)]
pub struct FieldTest {
    path: Vec<String>,
    /// Every test must hold (`all`), else any.
    all: bool,
    tests: Vec<Test>,
}

/// A Sigma wildcard string as a regex body: `*` any run, `?` one
/// character, `\*` `\?` `\\` the characters themselves.
fn wildcard_body(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                if let Some(n) = chars.next() {
                    out.push_str(&regex::escape(&n.to_string()));
                }
            }
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

/// The `base64offset` forms of a value: how it reads base64-encoded at
/// each of the three byte offsets it can start at in a longer text.
fn base64_offsets(v: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for i in 0..3usize {
        let mut bytes = vec![b' '; i];
        bytes.extend_from_slice(v.as_bytes());
        let enc = b64.encode(&bytes);
        let start = [0, 2, 3][i];
        let end = match (v.len() + i) % 3 {
            0 => enc.len(),
            1 => enc.len().saturating_sub(3),
            _ => enc.len().saturating_sub(2),
        };
        if start < end {
            out.push(enc[start..end].to_string());
        }
    }
    out
}

/// `windash`: a command-line flag written with any of the dashes Windows
/// accepts.
fn windash(v: &str) -> Vec<String> {
    ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}']
        .iter()
        .map(|d| v.replace('-', &d.to_string()))
        .collect()
}

/// The modifiers a Sigma field key may carry.
const MODIFIERS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "all",
    "re",
    "i",
    "m",
    "s",
    "cidr",
    "base64",
    "base64offset",
    "windash",
    "exists",
    "fieldref",
    "gt",
    "gte",
    "lt",
    "lte",
    "cased",
];

/// A field key's modifiers (`field|contains|all` → `contains`, `all`).
struct Mods<'a>(Vec<&'a str>);

impl Mods<'_> {
    fn has(&self, m: &str) -> bool {
        self.0.contains(&m)
    }
}

/// One value's test, as its modifiers say (None: a number that is no
/// finite float, which tests nothing).
fn value_test(v: &Value, mods: &Mods<'_>) -> Result<Option<Test>, Problem> {
    let text = match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    if mods.has("exists") {
        let Value::Bool(b) = v else {
            return Err(Problem::ExistsNotBool);
        };
        return Ok(Some(Test::Exists(*b)));
    }
    if mods.has("fieldref") {
        let t = text.ok_or(Problem::FieldRefNotName)?;
        return Ok(Some(Test::FieldRef(
            t.split('.').map(str::to_string).collect(),
        )));
    }
    if let Some(op) = [
        ("gt", Cmp::Gt),
        ("gte", Cmp::Gte),
        ("lt", Cmp::Lt),
        ("lte", Cmp::Lte),
    ]
    .iter()
    .find(|(m, _)| mods.has(m))
    .map(|(_, op)| *op)
    {
        let n = v
            .as_f64()
            .or_else(|| text.as_deref().and_then(|t| t.parse().ok()))
            .ok_or(Problem::CmpNotNumber)?;
        return Ok(Some(Test::Cmp(op, n)));
    }
    if mods.has("cidr") {
        let t = text.ok_or(Problem::CidrNotRange)?;
        let net = t.parse::<ipnet::IpNet>().map_err(|e| Problem::BadCidr {
            text: t.clone(),
            message: e.to_string(),
        })?;
        return Ok(Some(Test::Cidr(net)));
    }
    match v {
        Value::Null => return Ok(Some(Test::Null)),
        Value::Bool(b) if mods.0.is_empty() => return Ok(Some(Test::Bool(*b))),
        Value::Number(n) if mods.0.is_empty() => {
            return Ok(n.as_f64().map(|f| Test::Cmp(Cmp::Eq, f)));
        }
        Value::Object(_) | Value::Array(_) => {
            return Err(Problem::ValueShape);
        }
        _ => {}
    }
    text_test(text.unwrap_or_default(), mods).map(Some)
}

/// A text value's forms after the transformations (`windash`, `base64`,
/// `base64offset`), and whether they are encoded (literal, cased text).
fn forms_of(text: String, mods: &Mods<'_>) -> (Vec<String>, bool) {
    let mut forms = vec![text];
    if mods.has("windash") {
        forms = forms.iter().flat_map(|f| windash(f)).collect();
    }
    let encoded = mods.has("base64") || mods.has("base64offset");
    if mods.has("base64offset") {
        forms = forms.iter().flat_map(|f| base64_offsets(f)).collect();
    } else if mods.has("base64") {
        let b64 = base64::engine::general_purpose::STANDARD;
        forms = forms.iter().map(|f| b64.encode(f.as_bytes())).collect();
    }
    (forms, encoded)
}

/// Where the modifiers place a text value, whether it is a search
/// (`contains`), and whether case matters.
fn placement(mods: &Mods<'_>) -> (Position, bool, bool) {
    let encoded = mods.has("base64") || mods.has("base64offset");
    let cased = mods.has("cased") || encoded;
    let how = if mods.has("startswith") {
        Position::Start
    } else if mods.has("endswith") {
        Position::End
    } else {
        Position::Whole
    };
    (how, mods.has("contains"), cased)
}

/// A value of a list that joins the list's [`ValueSet`] or [`CidrSet`]
/// instead of getting a test of its own.
enum Joins {
    Texts(Vec<String>),
    Cidr(ipnet::IpNet),
}

/// Whether `v` can join its list's set: a string whose forms are plain
/// ASCII (no wildcard or escape, unless encoded), or a CIDR range, under
/// modifiers that test text or ranges.
fn joins(v: &Value, mods: &Mods<'_>) -> Option<Joins> {
    let Value::String(text) = v else {
        return None;
    };
    if ["exists", "fieldref", "gt", "gte", "lt", "lte", "re"]
        .iter()
        .any(|m| mods.has(m))
    {
        return None;
    }
    if mods.has("cidr") {
        return text.parse().ok().map(Joins::Cidr);
    }
    let (forms, encoded) = forms_of(text.clone(), mods);
    let plain = forms
        .iter()
        .all(|f| f.is_ascii() && (encoded || !f.contains(['*', '?', '\\'])));
    plain.then_some(Joins::Texts(forms))
}

/// A text value's test: a regex (`re`), or the value's forms after the
/// transformations (`windash`, `base64`, `base64offset`) matched at the
/// position the modifiers say, as a literal where one will do.
fn text_test(text: String, mods: &Mods<'_>) -> Result<Test, Problem> {
    if mods.has("re") {
        let re = RegexBuilder::new(&text)
            .case_insensitive(mods.has("i"))
            .multi_line(mods.has("m"))
            .dot_matches_new_line(mods.has("s"))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| Problem::BadRegex(e.to_string()))?;
        return Ok(Test::Text(re));
    }
    let (forms, encoded) = forms_of(text, mods);
    let (how, contains, cased) = placement(mods);
    let alts: Vec<String> = forms
        .iter()
        .map(|f| {
            // Encoded forms are literal text, not wildcard patterns.
            let body = if encoded {
                regex::escape(f)
            } else {
                wildcard_body(f)
            };
            // `contains` is an unanchored search; the others anchor.
            match how {
                _ if contains => body,
                Position::Start => format!("^(?:{body})"),
                Position::End => format!("(?:{body})$"),
                Position::Whole => format!("^(?:{body})$"),
            }
        })
        .collect();
    let re = RegexBuilder::new(&alts.join("|"))
        .case_insensitive(!cased)
        .dot_matches_new_line(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| Problem::BadPattern(e.to_string()))?;
    // A single plain ASCII string needs no regex for ASCII values.
    let plain = match forms.as_slice() {
        [f] if !contains && f.is_ascii() && (encoded || !f.contains(['*', '?', '\\'])) => {
            Some(f.clone())
        }
        _ => None,
    };
    Ok(match plain {
        Some(f) => Test::Literal {
            text: if cased { f } else { f.to_ascii_lowercase() },
            how,
            cased,
            re,
        },
        None => Test::Text(re),
    })
}

impl FieldTest {
    /// Compile `key` (`field|mod|mod`) with its value or list of values.
    pub fn compile(key: &str, value: &Value) -> Result<FieldTest, ValueError> {
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or_default();
        let err = |p: Problem| ValueError {
            field: key.to_string(),
            problem: Box::new(p),
        };
        let mods = Mods(parts.collect());
        if let Some(m) = mods.0.iter().find(|m| !MODIFIERS.contains(m)) {
            return Err(err(Problem::UnknownModifier(m.to_string())));
        }
        let values: Vec<&Value> = match value {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        if values.is_empty() {
            return Err(err(Problem::NoValues));
        }
        if values.len() > MAX_VALUES {
            return Err(err(Problem::TooManyValues {
                given: values.len(),
                max: MAX_VALUES,
            }));
        }
        // A list's plain values are compiled together (any of them; with
        // `all`, each must hold on its own).
        let together = values.len() >= 2 && !mods.has("all");
        let mut tests = Vec::new();
        let (mut texts, mut nets) = (Vec::new(), Vec::new());
        for v in values {
            match joins(v, &mods).filter(|_| together) {
                Some(Joins::Texts(forms)) => texts.extend(forms),
                Some(Joins::Cidr(net)) => nets.push(net),
                None => {
                    if let Some(t) = value_test(v, &mods).map_err(err)? {
                        tests.push(t);
                    }
                }
            }
        }
        if !texts.is_empty() {
            let place = match placement(&mods) {
                (_, true, _) => Place::Anywhere,
                (Position::Start, ..) => Place::Start,
                (Position::End, ..) => Place::End,
                (Position::Whole, ..) => Place::Whole,
            };
            let cased = placement(&mods).2;
            tests.push(Test::Set(ValueSet::new(texts, place, cased).map_err(err)?));
        }
        if !nets.is_empty() {
            tests.push(Test::Cidrs(CidrSet::new(&nets)));
        }
        Ok(FieldTest {
            path: field.split('.').map(str::to_string).collect(),
            all: mods.has("all"),
            tests,
        })
    }

    /// Whether the event passes the test.
    pub fn matches(&self, event: &dyn Fields) -> bool {
        let one = |t: &Test| match t {
            Test::Null => {
                let mut seen = false;
                let null = event.any(&self.path, &mut |v| {
                    seen = true;
                    v.is_null()
                });
                null || !seen
            }
            Test::Exists(want) => event.any(&self.path, &mut |v| !v.is_null()) == *want,
            Test::FieldRef(other) => event.any(&self.path, &mut |mine| {
                event.any(other, &mut |theirs| mine.same(&theirs))
            }),
            _ => event.any(&self.path, &mut |v| test_value(t, v)),
        };
        if self.all {
            self.tests.iter().all(one)
        } else {
            self.tests.iter().any(one)
        }
    }

    /// The field path, as written.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// The literal values this test accepts for its field, lower-cased,
    /// when it accepts nothing else (plain case-insensitive equality with
    /// no wildcard): what the rule index keys on.
    pub fn literals(&self) -> Option<Vec<String>> {
        if self.all {
            return None;
        }
        let mut out = Vec::new();
        for t in &self.tests {
            match t {
                Test::Literal {
                    text,
                    how: Position::Whole,
                    cased: false,
                    ..
                } => out.push(text.clone()),
                Test::Set(set) => out.extend(set.uncased_whole_values()?.cloned()),
                _ => return None,
            }
        }
        Some(out)
    }
}

/// Whether `hay` holds `needle` (ASCII, lower-case) at `how`, ignoring
/// ASCII case; None when `hay` is not ASCII (Unicode case folding then
/// has the last word, through the regex).
fn ascii_literal(hay: &str, needle: &str, how: Position, cased: bool) -> Option<bool> {
    if !hay.is_ascii() {
        return None;
    }
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let eq = |a: &[u8]| {
        if cased {
            a == n
        } else {
            a.eq_ignore_ascii_case(n)
        }
    };
    Some(match how {
        Position::Whole => h.len() == n.len() && eq(h),
        Position::Start => h.len() >= n.len() && eq(&h[..n.len()]),
        Position::End => h.len() >= n.len() && eq(&h[h.len() - n.len()..]),
    })
}

fn test_value(t: &Test, v: Val<'_>) -> bool {
    let json_text;
    let s: Option<&str> = match v {
        Val::Str(s) => Some(s),
        Val::Json(Value::String(s)) => Some(s.as_str()),
        Val::Json(Value::Number(n)) => {
            json_text = n.to_string();
            Some(json_text.as_str())
        }
        _ => None,
    };
    match t {
        Test::Bool(b) => match v {
            Val::Bool(x) | Val::Json(&Value::Bool(x)) => *b == x,
            _ => s.is_some_and(|s| s.eq_ignore_ascii_case(if *b { "true" } else { "false" })),
        },
        Test::Literal {
            text,
            how,
            cased,
            re,
        } => match (s, v) {
            (Some(s), _) => ascii_literal(s, text, *how, *cased).unwrap_or_else(|| re.is_match(s)),
            (None, Val::Bool(b) | Val::Json(&Value::Bool(b))) => re.is_match(&b.to_string()),
            _ => false,
        },
        Test::Text(re) => match (s, v) {
            (Some(s), _) => re.is_match(s),
            (None, Val::Bool(b) | Val::Json(&Value::Bool(b))) => re.is_match(&b.to_string()),
            _ => false,
        },
        Test::Set(set) => match (s, v) {
            (Some(s), _) => set.is_match(s),
            (None, Val::Bool(b) | Val::Json(&Value::Bool(b))) => set.is_match(&b.to_string()),
            _ => false,
        },
        Test::Cidrs(nets) => s.is_some_and(|s| {
            s.trim()
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| nets.contains(ip))
        }),
        Test::Cmp(op, n) => {
            let x = match v {
                Val::Json(Value::Number(x)) => x.as_f64(),
                _ => s.and_then(|s| s.trim().parse().ok()),
            };
            x.is_some_and(|x| match op {
                Cmp::Eq => x == *n,
                Cmp::Gt => x > *n,
                Cmp::Gte => x >= *n,
                Cmp::Lt => x < *n,
                Cmp::Lte => x <= *n,
            })
        }
        Test::Cidr(net) => s.is_some_and(|s| {
            s.trim()
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| net.contains(&ip))
        }),
        Test::Null | Test::Exists(_) | Test::FieldRef(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigma::fields::JsonFields;
    use serde_json::json;

    fn t(key: &str, v: Value, event: &Value) -> bool {
        FieldTest::compile(key, &v)
            .expect("compiles")
            .matches(&JsonFields {
                value: event,
                text: "",
            })
    }

    #[test]
    fn strings_are_case_insensitive_with_wildcards_and_escapes() {
        let e = json!({"eventName": "StopLogging", "p": "a*b?c\\d"});
        assert!(t("eventName", json!("stoplogging"), &e));
        assert!(t("eventName", json!("Stop*"), &e));
        assert!(t("eventName", json!("St?pLogging"), &e));
        assert!(!t("eventName", json!("Stop"), &e));
        assert!(t("eventName|cased", json!("StopLogging"), &e));
        assert!(!t("eventName|cased", json!("stoplogging"), &e));
        assert!(
            t("p", json!("a\\*b\\?c\\\\d"), &e),
            "escaped wildcards are literal"
        );
        assert!(!t("p", json!("aXb\\?c\\\\d"), &e));
        assert!(
            t("eventName", json!(["DeleteTrail", "StopLogging"]), &e),
            "a list is any"
        );
    }

    #[test]
    fn position_modifiers_and_all() {
        let e = json!({"ua": "aws-cli/2.15 Python/3.11 Linux"});
        assert!(t("ua|contains", json!("python"), &e));
        assert!(t("ua|startswith", json!("AWS-CLI"), &e));
        assert!(t("ua|endswith", json!("linux"), &e));
        assert!(!t("ua|endswith", json!("python"), &e));
        assert!(t("ua|contains|all", json!(["cli", "linux"]), &e));
        assert!(!t("ua|contains|all", json!(["cli", "windows"]), &e));
        assert!(t("ua|contains|cased", json!("Python"), &e));
        assert!(!t("ua|contains|cased", json!("python"), &e));
    }

    #[test]
    fn regex_with_flags() {
        let e = json!({"x": "Line one\nLINE two"});
        assert!(t("x|re", json!("one\\nLINE"), &e));
        assert!(!t("x|re", json!("^line two$"), &e));
        assert!(t("x|re|i|m", json!("^line two$"), &e));
        assert!(t("x|re|s", json!("one.LINE"), &e));
        assert!(!t("x|re", json!("one.LINE"), &e));
    }

    #[test]
    fn cidr_exists_fieldref_and_comparisons() {
        let e = json!({"ip": "10.1.2.3", "a": "same", "b": "same", "c": "other", "n": 42, "s": "7", "z": null});
        assert!(t("ip|cidr", json!("10.0.0.0/8"), &e));
        assert!(!t(
            "ip|cidr",
            json!(["192.168.0.0/16", "172.16.0.0/12"]),
            &e
        ));
        assert!(t("ip|exists", json!(true), &e));
        assert!(t("nope|exists", json!(false), &e));
        assert!(t("z|exists", json!(false), &e), "null is not there");
        assert!(t("a|fieldref", json!("b"), &e));
        assert!(!t("a|fieldref", json!("c"), &e));
        assert!(t("n|gt", json!(41), &e) && t("n|gte", json!(42), &e));
        assert!(t("n|lt", json!(43), &e) && t("n|lte", json!(42), &e));
        assert!(!t("n|gt", json!(42), &e));
        assert!(
            t("s|gte", json!(7), &e),
            "numeric strings compare as numbers"
        );
        assert!(t("n", json!(42), &e) && t("n", json!("42"), &e));
    }

    #[test]
    fn null_booleans_and_paths_through_arrays() {
        let e = json!({
            "errorCode": null,
            "readOnly": false,
            "requestParameters": {"ipPermissions": {"items": [
                {"ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}},
                {"ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}
            ]}}
        });
        assert!(t("errorCode", Value::Null, &e));
        assert!(t("missing", Value::Null, &e), "absent is null");
        assert!(!t("readOnly", Value::Null, &e));
        assert!(t("readOnly", json!(false), &e));
        assert!(!t("readOnly", json!(true), &e));
        assert!(t(
            "requestParameters.ipPermissions.items.ipRanges.items.cidrIp",
            json!("0.0.0.0/0"),
            &e
        ));
    }

    #[test]
    fn base64_base64offset_and_windash() {
        // "secret" base64-encoded is c2VjcmV0.
        let e = json!({"d": "prefix c2VjcmV0 suffix", "cmd": "net user /add"});
        assert!(t("d|base64|contains", json!("secret"), &e));
        assert!(
            !t("d|base64|contains", json!("SECRET"), &e),
            "encoded forms are exact"
        );
        // The three offsets of "secret" inside longer base64 text.
        let b64 = base64::engine::general_purpose::STANDARD;
        for pre in ["", "a", "ab"] {
            let text = b64.encode(format!("{pre}secret and more"));
            let e = json!({"d": text});
            assert!(
                t("d|base64offset|contains", json!("secret"), &e),
                "offset {}",
                pre.len()
            );
        }
        assert!(t("cmd|windash|contains", json!(" -add"), &e));
    }

    #[test]
    fn unsupported_modifiers_and_bad_values_are_refused() {
        for (k, v, why) in [
            ("x|utf16le", json!("a"), "not supported"),
            ("x|cidr", json!("10.0.0.0/33"), "CIDR"),
            ("x|gt", json!("many"), "number"),
            ("x|re", json!("("), "regex"),
            ("x|exists", json!("yes"), "true or false"),
            ("x", json!([]), "empty"),
        ] {
            let e = FieldTest::compile(k, &v).unwrap_err().to_string();
            assert!(e.contains(why), "{k}: {e}");
        }
    }

    proptest::proptest! {
        /// A list compiled together answers as its values one by one
        /// would: every place, case, wildcard and the characters that
        /// fold to ASCII.
        #[test]
        fn a_list_matches_exactly_when_one_of_its_values_does(
            values in proptest::collection::vec("[abkKs\u{17f}\u{212a}\u{e9}*?]{0,4}", 2..6),
            hay in "[abkKsS\u{17f}\u{212a}\u{e9}]{0,8}",
            mods in proptest::sample::select(vec!["", "|contains", "|startswith", "|endswith", "|cased", "|contains|cased", "|endswith|cased"]),
        ) {
            let key = format!("f{mods}");
            let e = json!({ "f": hay });
            let list = t(&key, json!(values), &e);
            let one_by_one = values.iter().any(|v| t(&key, json!(v), &e));
            proptest::prop_assert_eq!(list, one_by_one, "{} {:?} on {:?}", key, values, hay);
        }
    }

    #[test]
    fn long_lists_compile_once_and_a_list_past_the_limit_is_refused() {
        let agents: Vec<String> = (0..20_000).map(|i| format!("evil-agent-{i:05}/")).collect();
        let test = FieldTest::compile("userAgent|contains", &json!(agents)).expect("compiles");
        assert_eq!(test.tests.len(), 1, "one automaton for the list");
        let e = json!({"userAgent": "Mozilla evil-AGENT-19999/ x"});
        assert!(test.matches(&JsonFields {
            value: &e,
            text: ""
        }));
        let nets: Vec<String> = (0..5_000)
            .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
            .collect();
        let test = FieldTest::compile("sourceIPAddress|cidr", &json!(nets)).expect("compiles");
        let e = json!({"sourceIPAddress": "10.19.135.7"});
        assert!(test.matches(&JsonFields {
            value: &e,
            text: ""
        }));
        let e = json!({"sourceIPAddress": "10.20.0.7"});
        assert!(!test.matches(&JsonFields {
            value: &e,
            text: ""
        }));
        let exact: Vec<String> = (0..40_000).map(|i| format!("AKIA{i:016}")).collect();
        let test = FieldTest::compile("accessKeyId", &json!(exact)).expect("compiles");
        assert_eq!(
            test.literals().map(|l| l.len()),
            Some(40_000),
            "the index still keys on them"
        );
        let too_many = vec![json!("x"); MAX_VALUES + 1];
        let e = FieldTest::compile("userAgent", &json!(too_many))
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 100000"), "{e}");
    }
}
