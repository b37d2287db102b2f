//! Read-only enforcement: a statement is a query (SELECT, WITH, VALUES,
//! EXPLAIN of a query, SHOW/DESCRIBE), or Athena's `CREATE EXTERNAL TABLE`
//! (which only registers a table over existing logs). DDL of any other
//! kind, DML, COPY and SET are refused with a message saying so.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::QueryError;
use crate::athena_ddl::{ExternalTable, parse_create_external_table};

/// The most operators (`+`, `=`, `AND`, `OR`, `||`, …) one statement may
/// hold. A chain of them parses into a tree one level deeper per operator,
/// and rewriting, planning, optimising and evaluating it recurse once per
/// level: 2,000 terms overflowed a 2 MiB thread stack. Statements run on
/// threads of [`QUERY_STACK_BYTES`], which holds this many with room; a
/// generated filter of a few thousand terms fits, and more is refused
/// before it is even parsed (dropping a parsed tree recurses too).
pub const MAX_OPERATORS: usize = 4_000;

/// The deepest nesting of brackets a statement may hold (functions,
/// subqueries, parentheses), for the same reason.
pub const MAX_NESTING: usize = 64;

/// The stack of a thread that runs statements: room for
/// [`MAX_OPERATORS`] chained operators through every recursive step
/// (virtual memory: only what is used is committed).
pub const QUERY_STACK_BYTES: usize = 256 << 20;

/// Refuse a statement too wide or too deep to plan safely, from its tokens
/// alone (the tokenizer does not recurse).
fn check_size(sql: &str) -> Result<(), QueryError> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| QueryError::Syntax(e.to_string()))?;
    let (mut operators, mut depth, mut deepest) = (0usize, 0usize, 0usize);
    for t in &tokens {
        match t {
            Token::LParen | Token::LBracket | Token::LBrace => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            Token::Word(w) => {
                if matches!(
                    w.keyword,
                    Keyword::AND
                        | Keyword::OR
                        | Keyword::NOT
                        | Keyword::IS
                        | Keyword::LIKE
                        | Keyword::ILIKE
                        | Keyword::BETWEEN
                ) {
                    operators += 1;
                }
            }
            Token::Whitespace(_)
            | Token::Comma
            | Token::Period
            | Token::SemiColon
            | Token::EOF
            | Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_) => {}
            // Every other token is an operator of some kind.
            _ => operators += 1,
        }
    }
    if operators > MAX_OPERATORS {
        return Err(QueryError::TooComplex(format!(
            "the statement chains {operators} operators; at most {MAX_OPERATORS} are taken \
             (for a long list of values, use IN (…), which has no such limit)"
        )));
    }
    if deepest > MAX_NESTING {
        return Err(QueryError::TooComplex(format!(
            "the statement nests brackets {deepest} deep; at most {MAX_NESTING} are taken"
        )));
    }
    Ok(())
}

/// What a statement may do.
#[derive(Debug)]
pub enum Allowed {
    /// A read-only query, to plan as it is.
    Query(String),
    /// Athena's CREATE EXTERNAL TABLE over raw logs.
    ExternalTable(ExternalTable),
}

fn starts_with_words(sql: &str, words: &[&str]) -> bool {
    let mut rest = strip_comments(sql);
    for w in words {
        let t = rest.trim_start();
        if t.len() < w.len() || !t[..w.len()].eq_ignore_ascii_case(w) {
            return false;
        }
        rest = t[w.len()..].to_string();
    }
    true
}

/// The statement without `--` and `/* */` comments (outside quotes).
pub fn strip_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                out.push(c);
            }
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Split a script into statements on top-level `;` (quotes and comments
/// respected); empty statements are dropped.
pub fn split_statements(script: &str) -> Vec<String> {
    let text = strip_comments(script);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == ';' => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
            }
            None => {
                if matches!(c, '\'' | '"' | '`') {
                    quote = Some(c);
                }
                cur.push(c);
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn refuse(what: &str) -> QueryError {
    QueryError::ReadOnly(format!(
        "{what} is not allowed: trailwatch queries are read-only (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE, and Athena's CREATE EXTERNAL TABLE over raw logs)"
    ))
}

/// Decide whether `sql` (one statement) may run.
pub fn check(sql: &str) -> Result<Allowed, QueryError> {
    check_size(sql)?;
    if starts_with_words(sql, &["CREATE", "EXTERNAL", "TABLE"]) {
        return Ok(Allowed::ExternalTable(parse_create_external_table(sql)?));
    }
    let statements = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|e| QueryError::Syntax(e.to_string()))?;
    if statements.len() != 1 {
        return Err(QueryError::Syntax(format!(
            "expected one statement, found {}",
            statements.len()
        )));
    }
    match &statements[0] {
        Statement::Query(_) => Ok(Allowed::Query(sql.to_string())),
        Statement::Explain { statement, .. } => match statement.as_ref() {
            Statement::Query(_) => Ok(Allowed::Query(sql.to_string())),
            _ => Err(refuse("EXPLAIN of a statement that is not a query")),
        },
        Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ExplainTable { .. } => Ok(Allowed::Query(sql.to_string())),
        Statement::Insert(_) => Err(refuse("INSERT")),
        Statement::Update { .. } => Err(refuse("UPDATE")),
        Statement::Delete(_) => Err(refuse("DELETE")),
        Statement::Merge { .. } => Err(refuse("MERGE")),
        Statement::Copy { .. } | Statement::CopyIntoSnowflake { .. } => {
            Err(refuse("COPY (writing files)"))
        }
        Statement::CreateTable(_) => Err(refuse(
            "CREATE TABLE (other than Athena's CREATE EXTERNAL TABLE over raw logs)",
        )),
        Statement::CreateView { .. } => Err(refuse("CREATE VIEW")),
        Statement::Drop { .. } => Err(refuse("DROP")),
        Statement::Truncate { .. } => Err(refuse("TRUNCATE")),
        Statement::AlterTable { .. } => Err(refuse("ALTER TABLE")),
        Statement::Set(_) => Err(refuse("SET")),
        other => {
            let kind = other.to_string();
            let first = kind.split_whitespace().next().unwrap_or("this statement");
            Err(refuse(first))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chains of 100,000 terms of every operator, and brackets 10,000 deep,
    /// are refused from their tokens, quickly and without a deep stack;
    /// a generated filter of 1,900 terms passes.
    #[test]
    fn statements_too_wide_or_too_deep_are_refused_before_parsing() {
        for op in [
            "+", "-", "*", "/", "%", "||", "=", "<>", "<", ">", "AND", "OR",
        ] {
            let sql = format!("SELECT 1{}", format!(" {op} 1").repeat(100_000));
            let started = std::time::Instant::now();
            let err = check(&sql).unwrap_err();
            assert!(matches!(err, QueryError::TooComplex(_)), "{op}: {err}");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{op}"
            );
        }
        let deep = format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(check(&deep), Err(QueryError::TooComplex(_))));
        let filter: Vec<String> = (0..1_900).map(|i| format!("eventname = 'E{i}'")).collect();
        let sql = format!(
            "SELECT * FROM cloudtrail_logs WHERE {}",
            filter.join(" OR ")
        );
        assert!(matches!(check(&sql), Ok(Allowed::Query(_))));
    }

    #[test]
    fn queries_pass_and_writes_are_refused_with_a_reason() {
        for ok in [
            "SELECT 1",
            "with x as (select 1) select * from x",
            "EXPLAIN SELECT * FROM cloudtrail_logs",
            "SHOW TABLES",
            "-- a comment\nSELECT eventname FROM cloudtrail_logs",
        ] {
            assert!(matches!(check(ok), Ok(Allowed::Query(_))), "{ok}");
        }
        for (bad, word) in [
            ("INSERT INTO t VALUES (1)", "INSERT"),
            ("DELETE FROM cloudtrail_logs", "DELETE"),
            ("UPDATE t SET a = 1", "UPDATE"),
            ("DROP TABLE cloudtrail_logs", "DROP"),
            ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
            ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
            ("COPY cloudtrail_logs TO '/tmp/x.parquet'", "COPY"),
            ("SET datafusion.execution.batch_size = 1", "SET"),
        ] {
            match check(bad) {
                Err(QueryError::ReadOnly(m)) => assert!(m.starts_with(word), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(matches!(check("SELEC 1"), Err(QueryError::Syntax(_))));
    }

    #[test]
    fn scripts_split_on_top_level_semicolons() {
        let s = split_statements("-- c;\nSELECT 'a;b';\n\n; SELECT 2 /* ; */;");
        assert_eq!(s, vec!["SELECT 'a;b'", "SELECT 2"]);
    }
}
