//! The spec's edge-case tables (§7), plus our own cases, and the
//! parse → print → parse round trip.

use super::*;

const J: &str = r#"{"eventName":"ConsoleLogin","errorCode":"AccessDenied","userIdentity":{"type":"Root"},"additionalEventData":{"MFAUsed":"No"},"bytes":1534,"flag":true,"nul":null,"arr":["a","b"],"objs":[{"id":1},{"id":2}]}"#;
const T: &str = "[ERROR 401] UNAUTHORIZED REQUEST";
const D: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;

fn m(pattern: &str, text: &str) -> bool {
    let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    p.matches(&TextDocument::new(text))
}

fn json(cond: &str) -> String {
    format!("{{ {cond} }}")
}

#[test]
fn deep_parentheses_are_a_clear_error_not_a_stack_overflow() {
    let deep = format!("{{ {}$.a = 1{} }}", "(".repeat(500), ")".repeat(500));
    let e = Pattern::parse(&deep).expect_err("too deep");
    assert!(e.message.contains("nest deeper"), "{e}");
    let ok = format!("{{ {}$.a = 1{} }}", "(".repeat(30), ")".repeat(30));
    assert!(!m(&ok, J));
}

#[test]
fn spec_table_json_event() {
    let cases: &[(&str, bool)] = &[
        (r#"{ $.eventName = "ConsoleLogin" }"#, true),
        (r#"{ $.eventName = "consolelogin" }"#, false),
        (r#"{ $.eventName = Console* }"#, true),
        (
            r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#,
            true,
        ),
        (
            r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }"#,
            true,
        ),
        (r#"{ $.userIdentity.invokedBy != "x" }"#, false),
        (r#"{ $.userIdentity = "*" }"#, false),
        ("{ $.bytes > 1000 }", true),
        ("{ $.bytes = 1534.0 }", true),
        ("{ $.bytes < 1e3 }", false),
        ("{ $.eventName > 5 }", false),
        (&json("$.nul IS NULL"), true),
        (&json("$.gone IS NULL"), false),
        (&json("$.nul NOT EXISTS"), false),
        (&json("$.gone NOT EXISTS"), true),
        (&json("$.flag IS TRUE"), true),
        (&json("$.flag IS FALSE"), false),
        (&json(r#"$.arr[0] = "a""#), true),
        (&json(r#"$.arr[2] = "*""#), false),
        (&json(r#"$.arr = "a""#), false),
        (&json("$.objs[1].id = 2"), true),
        (
            r#"{ $.eventName = "ConsoleLogin" || $.eventName = "X" && $.bytes > 2000 }"#,
            true,
        ),
        (
            r#"{ ($.eventName = "ConsoleLogin" || $.eventName = "X") && $.bytes > 2000 }"#,
            false,
        ),
        (r#"{ $.additionalEventData.MFAUsed != "Yes" }"#, true),
        ("{ $.eventName = %Console[A-Z]% }", true),
    ];
    for (p, want) in cases {
        assert_eq!(m(p, J), *want, "{p}");
    }
    assert!(
        !m(r#"{ $.eventName = "ConsoleLogin" }"#, "ConsoleLogin ok"),
        "non-JSON never matches"
    );
}

#[test]
fn spec_table_json_syntax_errors_point_at_the_column() {
    let e = Pattern::parse("{ $.eventName IS NOT NULL }").expect_err("IS NOT is an error");
    assert_eq!(e.column, 18);
    assert_eq!(
        e.to_string(),
        "syntax error at column 18: expected NULL, TRUE or FALSE after IS"
    );
    assert_eq!(
        e.pointer("{ $.eventName IS NOT NULL }").lines().nth(1),
        Some("                 ^")
    );
    let e = Pattern::parse(r#"{ $.a = "x" && }"#).expect_err("dangling &&");
    assert_eq!(e.column, 16);
    let e = Pattern::parse(r#"{ $.a = "x" "#).expect_err("unclosed");
    assert_eq!(e.message, "expected &&, || or '}'");
    let e = Pattern::parse("{ $.a EXISTS }").expect_err("bare EXISTS");
    assert_eq!(e.column, 7);
    let e = Pattern::parse("{ $.a = %(x)% }").expect_err("regex groups");
    assert_eq!(e.column, 10);
}

#[test]
fn spec_table_term_patterns() {
    let cases: &[(&str, bool)] = &[
        ("ERROR", true),
        ("error", false),
        ("AUTHORIZED", true),
        (r#""UNAUTHORIZED REQUEST""#, true),
        (r#""REQUEST UNAUTHORIZED""#, false),
        ("ERROR -REQUEST", false),
        ("?WARN ?401", true),
        ("?WARN ?404", false),
        (r"%^\[ERROR%", true),
        (r#""""#, true),
        ("", true),
        (r#"" ""#, true),
    ];
    for (p, want) in cases {
        assert_eq!(m(p, T), *want, "{p}");
    }
    assert!(
        Pattern::parse("%(ERROR)%").is_err(),
        "parentheses are rejected"
    );
}

#[test]
fn spec_table_space_delimited_patterns() {
    assert!(m(
        "[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]",
        D
    ));
    assert!(m("[..., status_code = 404 || status_code = 410, bytes]", D));
    assert!(!m("[ip, user]", D));
    assert!(m("[w1 = 127.*, ...]", D));
    let Pattern::Delimited(d) = Pattern::parse(
        "[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]",
    )
    .expect("parses") else {
        panic!("delimited")
    };
    let values = delimited_values(&d, D).expect("matches");
    assert!(values.contains(&("request".into(), "GET /index.html HTTP/1.0".into())));
    assert!(values.contains(&("timestamp".into(), "10/Oct/2000:13:25:15 -0700".into())));
}

#[test]
fn our_edge_cases() {
    // Wildcards anywhere, including the middle and the empty run.
    assert!(m(r#"{ $.eventName = "Con*Log*n" }"#, J));
    assert!(m(r#"{ $.eventName = "ConsoleLogin*" }"#, J));
    assert!(!m(r#"{ $.eventName = "*Logout" }"#, J));
    // "= *" means "exists and is a non-null scalar".
    assert!(m(r#"{ $.errorCode = "*" }"#, J));
    assert!(!m(r#"{ $.nul = "*" }"#, J));
    // Numbers held as strings compare numerically.
    assert!(m("{ $.n >= 10 }", r#"{"n":"12"}"#));
    // Booleans compare as text with = .
    assert!(m(r#"{ $.flag = "true" }"#, J));
    // Keywords are case-insensitive; selectors are not.
    assert!(m("{ $.nul is null }", J));
    assert!(!m(r#"{ $.EventName = "ConsoleLogin" }"#, J));
    // Regex != is "no match".
    assert!(m("{ $.eventName != %^Get% }", J));
    // A message that is JSON but not an object never matches.
    assert!(!m(r#"{ $.a = 1 }"#, "[1,2]"));
    // Three regexes are too many.
    assert!(Pattern::parse("{ $.a = %a% || $.b = %b% || $.c = %c% }").is_err());
    // Over 1024 characters.
    assert_eq!(
        Pattern::parse(&"x".repeat(1025)).expect_err("long").column,
        1025
    );
}

#[test]
fn any_index_extension_matches_some_element() {
    let ev = r#"{"eventName":"AuthorizeSecurityGroupIngress","requestParameters":{"ipPermissions":{"items":[{"ipRanges":{"items":[{"cidrIp":"10.0.0.0/8"}]}},{"ipRanges":{"items":[{"cidrIp":"10.1.0.0/16"},{"cidrIp":"0.0.0.0/0"}]}}]}}}"#;
    assert!(m(
        r#"{ $.requestParameters.ipPermissions.items[*].ipRanges.items[*].cidrIp = "0.0.0.0/0" }"#,
        ev
    ));
    assert!(!m(
        r#"{ $.requestParameters.ipPermissions.items[0].ipRanges.items[*].cidrIp = "0.0.0.0/0" }"#,
        ev
    ));
    assert!(m(
        r#"{ $.requestParameters.ipPermissions.items[*].ipv6Ranges.items[*].cidrIpv6 NOT EXISTS }"#,
        ev
    ));
    assert_eq!(
        Pattern::parse("{ $.a[*].b = 1 }")
            .expect("parses")
            .to_string(),
        "{ $.a[*].b = 1 }"
    );
}

#[test]
fn parse_print_parse_round_trips() {
    let patterns = [
        r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#,
        r#"{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) }"#,
        r#"{ ($.a = 1 || $.b = 2.50) && ($.c IS NULL || $.d[3].e > -1e3) && $.f = %ab[0-9]+% }"#,
        "ERROR ?WARN -DEBUG \"two words\" %^x%",
        "[ip, ..., status = 4* || status = 5*, bytes > 100]",
        r#""""#,
    ];
    for src in patterns {
        let p = Pattern::parse(src).expect("parses");
        let printed = p.to_string();
        let again = Pattern::parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(p, again, "{src} printed as {printed}");
    }
}

mod prop {
    //! Property: any pattern we can build prints to text that parses back
    //! to the same pattern.
    use proptest::prelude::*;

    use super::super::*;

    fn key() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_-]{0,8}"
    }

    fn selector() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            prop_oneof![
                3 => key().prop_map(Step::Key),
                1 => (0usize..20).prop_map(Step::Index),
                1 => Just(Step::AnyIndex),
            ],
            1..4,
        )
        .prop_map(|mut v| {
            // A selector starts with a key in practice; keep it so.
            if !matches!(v[0], Step::Key(_)) {
                v.insert(0, Step::Key("k".into()));
            }
            v
        })
    }

    fn operand() -> impl Strategy<Value = Operand> {
        prop_oneof![
            "[A-Za-z][A-Za-z0-9.*:/_-]{0,10}".prop_map(|t| Operand::Text {
                text: t,
                quoted: true
            }),
            "[A-Za-z][A-Za-z0-9*_]{0,10}".prop_map(|t| Operand::Text {
                text: t,
                quoted: false
            }),
            (-1000i64..1000).prop_map(|n| Operand::Number {
                value: n as f64,
                text: n.to_string()
            }),
        ]
    }

    fn condition() -> impl Strategy<Value = Expr> {
        (
            selector(),
            prop_oneof![
                operand().prop_map(Test::Eq),
                operand().prop_map(Test::Ne),
                (-50i64..50).prop_map(|n| Test::Compare(Relation::Gt, n as f64, n.to_string())),
                Just(Test::IsNull),
                Just(Test::IsTrue),
                Just(Test::NotExists),
            ],
        )
            .prop_map(|(selector, test)| Expr::Cond(Condition { selector, test }))
    }

    fn expr() -> impl Strategy<Value = Expr> {
        condition().prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                prop::collection::vec(inner, 2..4).prop_map(Expr::Or),
            ]
        })
    }

    /// The parser builds flat lists: `a && (b && c)` reads back as one And.
    fn normalise(e: Expr) -> Expr {
        match e {
            Expr::And(items) => Expr::And(
                items
                    .into_iter()
                    .map(normalise)
                    .flat_map(|i| match i {
                        Expr::And(inner) => inner,
                        other => vec![other],
                    })
                    .collect(),
            ),
            Expr::Or(items) => Expr::Or(
                items
                    .into_iter()
                    .map(normalise)
                    .flat_map(|i| match i {
                        Expr::Or(inner) => inner,
                        other => vec![other],
                    })
                    .collect(),
            ),
            c => c,
        }
    }

    fn printed(e: &Expr) -> String {
        // Parenthesise nested Or inside Or and And inside And explicitly, so
        // the printed text keeps the tree; the parser flattens either way.
        Pattern::Json(e.clone()).to_string()
    }

    proptest! {
        #[test]
        fn json_patterns_round_trip(e in expr()) {
            let text = printed(&e);
            let parsed = Pattern::parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
            prop_assert_eq!(parsed, Pattern::Json(normalise(e)), "{}", text);
        }
    }
}
