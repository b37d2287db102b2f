//! Athena's `CREATE EXTERNAL TABLE` (`athena-sql-dialect.md` §6), parsed
//! from sqlparser's tokens: the columns with their Hive types (including
//! `STRUCT<name: type, …>`, `ARRAY<…>`, `MAP<…>`), `PARTITIONED BY`,
//! `ROW FORMAT SERDE`, `STORED AS`, `LOCATION` and `TBLPROPERTIES`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::sql::sqlparser::dialect::HiveDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::QueryError;

/// A parsed `CREATE EXTERNAL TABLE`.
#[derive(Debug, Clone)]
pub struct ExternalTable {
    /// Lower-cased, without a database prefix.
    pub name: String,
    /// Lower-cased names (struct fields too), so that `userIdentity.arn`
    /// resolves as in Athena.
    pub columns: Vec<Field>,
    pub partitioned_by: Vec<Field>,
    pub serde: Option<String>,
    pub stored_as: Option<String>,
    pub location: String,
    pub properties: BTreeMap<String, String>,
}

struct Tokens {
    tokens: Vec<Token>,
    pos: usize,
}

/// How deeply column types may nest.
const MAX_TYPE_DEPTH: usize = 32;

fn err(msg: impl Into<String>) -> QueryError {
    QueryError::Syntax(format!("CREATE EXTERNAL TABLE: {}", msg.into()))
}

impl Tokens {
    fn new(sql: &str) -> Result<Tokens, QueryError> {
        let tokens = Tokenizer::new(&HiveDialect {}, sql)
            .tokenize()
            .map_err(|e| QueryError::Syntax(e.to_string()))?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .flat_map(|t| match t {
                // `>>` closes two nested types.
                Token::ShiftRight => vec![Token::Gt, Token::Gt],
                other => vec![other],
            })
            .collect();
        Ok(Tokens { tokens, pos: 0 })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// The next word (any keyword or identifier), as written.
    fn word(&mut self) -> Result<String, QueryError> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w.value),
            other => Err(err(format!("expected a name, found {other:?}"))),
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(x)) if x.value.eq_ignore_ascii_case(w))
    }

    fn expect_word(&mut self, w: &str) -> Result<(), QueryError> {
        if self.is_word(w) {
            self.pos += 1;
            Ok(())
        } else {
            Err(err(format!("expected {w}, found {:?}", self.peek())))
        }
    }

    fn expect(&mut self, t: Token) -> Result<(), QueryError> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(err(format!("expected {t}, found {other:?}"))),
        }
    }

    fn string(&mut self) -> Result<String, QueryError> {
        match self.next() {
            Some(Token::SingleQuotedString(s)) | Some(Token::DoubleQuotedString(s)) => Ok(s),
            other => Err(err(format!("expected a quoted string, found {other:?}"))),
        }
    }

    /// `'k'='v', …` inside parentheses.
    fn properties(&mut self) -> Result<BTreeMap<String, String>, QueryError> {
        let mut out = BTreeMap::new();
        self.expect(Token::LParen)?;
        loop {
            if self.peek() == Some(&Token::RParen) {
                self.pos += 1;
                return Ok(out);
            }
            let k = self.string()?;
            self.expect(Token::Eq)?;
            let v = self.string()?;
            out.insert(k, v);
            if self.peek() == Some(&Token::Comma) {
                self.pos += 1;
            }
        }
    }

    fn data_type(&mut self, depth: usize) -> Result<DataType, QueryError> {
        // Each level recurses; a hostile `ARRAY<ARRAY<…` 20,000 deep must
        // be an error, not a stack overflow. Real CloudTrail tables nest 4.
        if depth > MAX_TYPE_DEPTH {
            return Err(err(format!(
                "column types nest deeper than {MAX_TYPE_DEPTH} levels"
            )));
        }
        let name = self.word()?.to_ascii_lowercase();
        let t = match name.as_str() {
            "string" | "varchar" | "char" => {
                self.skip_size()?;
                DataType::Utf8
            }
            "tinyint" | "smallint" | "int" | "integer" => DataType::Int32,
            "bigint" => DataType::Int64,
            "double" => DataType::Float64,
            "float" | "real" => DataType::Float32,
            "decimal" => {
                self.skip_size()?;
                DataType::Float64
            }
            "boolean" => DataType::Boolean,
            "timestamp" => DataType::Timestamp(TimeUnit::Millisecond, None),
            "date" => DataType::Date32,
            "binary" => DataType::Binary,
            "array" => {
                self.expect(Token::Lt)?;
                let item = self.data_type(depth + 1)?;
                self.expect(Token::Gt)?;
                DataType::List(Arc::new(Field::new("item", item, true)))
            }
            "map" => {
                // Kept as the JSON text of the object: enough to query with
                // json_extract_scalar, without a map type for every shape.
                self.expect(Token::Lt)?;
                self.data_type(depth + 1)?;
                self.expect(Token::Comma)?;
                self.data_type(depth + 1)?;
                self.expect(Token::Gt)?;
                DataType::Utf8
            }
            "struct" => {
                self.expect(Token::Lt)?;
                let mut fields = Vec::new();
                loop {
                    let f = self.word()?.to_ascii_lowercase();
                    self.expect(Token::Colon)?;
                    let t = self.data_type(depth + 1)?;
                    if self.is_word("COMMENT") {
                        self.pos += 1;
                        self.string()?;
                    }
                    fields.push(Field::new(f, t, true));
                    match self.next() {
                        Some(Token::Comma) => continue,
                        Some(Token::Gt) => break,
                        other => {
                            return Err(err(format!("expected , or > in STRUCT, found {other:?}")));
                        }
                    }
                }
                DataType::Struct(Fields::from(fields))
            }
            other => return Err(err(format!("unsupported column type {other}"))),
        };
        Ok(t)
    }

    /// `(n)` or `(p, s)` after a type name.
    fn skip_size(&mut self) -> Result<(), QueryError> {
        if self.peek() == Some(&Token::LParen) {
            while let Some(t) = self.next() {
                if t == Token::RParen {
                    return Ok(());
                }
            }
            return Err(err("unclosed type size"));
        }
        Ok(())
    }

    fn columns(&mut self) -> Result<Vec<Field>, QueryError> {
        self.expect(Token::LParen)?;
        let mut out = Vec::new();
        loop {
            let name = self.word()?.to_ascii_lowercase();
            let t = self.data_type(0)?;
            if self.is_word("COMMENT") {
                self.pos += 1;
                self.string()?;
            }
            out.push(Field::new(name, t, true));
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => return Ok(out),
                other => {
                    return Err(err(format!(
                        "expected , or ) after a column, found {other:?}"
                    )));
                }
            }
        }
    }
}

/// Parse one `CREATE EXTERNAL TABLE` statement.
pub fn parse_create_external_table(sql: &str) -> Result<ExternalTable, QueryError> {
    let mut t = Tokens::new(sql)?;
    t.expect_word("CREATE")?;
    t.expect_word("EXTERNAL")?;
    t.expect_word("TABLE")?;
    if t.is_word("IF") {
        t.pos += 1;
        t.expect_word("NOT")?;
        t.expect_word("EXISTS")?;
    }
    let mut name = t.word()?;
    while t.peek() == Some(&Token::Period) {
        t.pos += 1;
        name = t.word()?;
    }
    let columns = t.columns()?;
    let mut table = ExternalTable {
        name: name.to_ascii_lowercase(),
        columns,
        partitioned_by: Vec::new(),
        serde: None,
        stored_as: None,
        location: String::new(),
        properties: BTreeMap::new(),
    };
    while let Some(tok) = t.peek().cloned() {
        let Token::Word(w) = tok else {
            if tok == Token::SemiColon || tok == Token::EOF {
                break;
            }
            return Err(err(format!("unexpected {tok}")));
        };
        match w.value.to_ascii_uppercase().as_str() {
            "COMMENT" => {
                t.pos += 1;
                t.string()?;
            }
            "PARTITIONED" => {
                t.pos += 1;
                t.expect_word("BY")?;
                table.partitioned_by = t.columns()?;
            }
            "ROW" => {
                t.pos += 1;
                t.expect_word("FORMAT")?;
                t.expect_word("SERDE")?;
                table.serde = Some(t.string()?);
                if t.is_word("WITH") {
                    t.pos += 1;
                    t.expect_word("SERDEPROPERTIES")?;
                    let p = t.properties()?;
                    table.properties.extend(p);
                }
            }
            "STORED" => {
                t.pos += 1;
                t.expect_word("AS")?;
                if t.is_word("INPUTFORMAT") {
                    t.pos += 1;
                    table.stored_as = Some(t.string()?);
                    t.expect_word("OUTPUTFORMAT")?;
                    t.string()?;
                } else {
                    table.stored_as = Some(t.word()?);
                }
            }
            "LOCATION" => {
                t.pos += 1;
                table.location = t.string()?;
            }
            "TBLPROPERTIES" => {
                t.pos += 1;
                let p = t.properties()?;
                table.properties.extend(p);
            }
            other => return Err(err(format!("unexpected {other}"))),
        }
    }
    if table.location.is_empty() {
        return Err(err("LOCATION is required"));
    }
    if let Some(fmt) = &table.stored_as {
        let f = fmt.to_ascii_lowercase();
        if f == "parquet" || f.contains("parquet") || f == "orc" {
            return Err(err(format!(
                "STORED AS {fmt}: only raw CloudTrail logs can be read this way (query the lake for its Parquet); for Security Lake's OCSF Parquet, declare the CloudTrail table (JSON SerDe) with LOCATION at the OCSF folder: its events are read back as CloudTrail records"
            )));
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_athena_cloudtrail_ddl_parses() {
        let t = parse_create_external_table(
            "CREATE EXTERNAL TABLE IF NOT EXISTS db.CloudTrail_Logs (
eventVersion STRING,
userIdentity STRUCT<
type: STRING,
sessionContext: STRUCT<
attributes: STRUCT<mfaAuthenticated: STRING, creationDate: STRING>,
sessionIssuer: STRUCT<type: STRING, arn: STRING>>>,
resources ARRAY<STRUCT<ARN: STRING, accountId: STRING, type: STRING>>,
`timestamp` string COMMENT 'x'
)
COMMENT 'CloudTrail'
PARTITIONED BY (region string)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json'='true')
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://bucket/AWSLogs/'
TBLPROPERTIES ('projection.enabled'='false');",
        )
        .unwrap();
        assert_eq!(t.name, "cloudtrail_logs");
        assert_eq!(t.columns.len(), 4);
        assert_eq!(t.columns[1].name(), "useridentity");
        let DataType::Struct(ui) = t.columns[1].data_type() else {
            panic!("struct")
        };
        assert_eq!(ui[1].name(), "sessioncontext");
        assert_eq!(t.columns[3].name(), "timestamp");
        assert_eq!(t.partitioned_by[0].name(), "region");
        assert_eq!(t.location, "s3://bucket/AWSLogs/");
        assert_eq!(t.properties["ignore.malformed.json"], "true");
        assert_eq!(t.properties["projection.enabled"], "false");
    }

    #[test]
    fn malformed_ddl_is_a_clear_error() {
        for bad in [
            "CREATE EXTERNAL TABLE t (a STRING)",
            "CREATE EXTERNAL TABLE t (a WIDGET) LOCATION 'x'",
            "CREATE EXTERNAL TABLE t (a STRUCT<b STRING>) LOCATION 'x'",
            "CREATE EXTERNAL TABLE t (a STRING) STORED AS PARQUET LOCATION 'x'",
        ] {
            assert!(
                matches!(parse_create_external_table(bad), Err(QueryError::Syntax(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn deeply_nested_types_are_an_error_not_a_stack_overflow() {
        for (open, close) in [("ARRAY<", ">"), ("STRUCT<b:", ">"), ("MAP<STRING,", ">")] {
            let depth = 20_000;
            let ty = format!("{}STRING{}", open.repeat(depth), close.repeat(depth));
            let sql = format!("CREATE EXTERNAL TABLE t (a {ty}) LOCATION 'x'");
            match parse_create_external_table(&sql) {
                Err(QueryError::Syntax(m)) => assert!(m.contains("nest deeper"), "{m}"),
                other => panic!("{open}: {other:?}"),
            }
        }
        // Within the bound, nesting still parses.
        let ty = format!("{}STRING{}", "ARRAY<".repeat(30), ">".repeat(30));
        let sql = format!("CREATE EXTERNAL TABLE t (a {ty}) LOCATION 'x'");
        assert!(parse_create_external_table(&sql).is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// The fuzz target's inputs, on the stable toolchain: any column
        /// list is parsed or refused, never a panic or a stack overflow.
        #[test]
        fn the_ddl_parser_survives_any_column_list(
            cols in proptest::string::string_regex(
                r"(ARRAY<|STRUCT<|MAP<|>|>>|,|:|a|b|STRING|BIGINT|COMMENT|'x'|\(|\)|10| ){0,80}"
            ).expect("regex"),
            depth in 0usize..5000,
        ) {
            let _ = parse_create_external_table(&format!("CREATE EXTERNAL TABLE t ({cols}) LOCATION 'x'"));
            let ty = format!("{}{cols}", "STRUCT<a:".repeat(depth));
            let _ = parse_create_external_table(&format!("CREATE EXTERNAL TABLE t (c {ty}) LOCATION 'x'"));
        }
    }
}
