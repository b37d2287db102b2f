//! Saved investigation queries (`queries/saved.sql`): the seed's queries
//! and the ones an incident responder reaches for next, by name.
//! Parameters are written `{{name}}` inside string literals and filled from
//! `--param name=value` (quotes doubled, so a value stays a literal);
//! `since` defaults to the beginning and `until` to the end of time.

use std::collections::BTreeMap;

use crate::QueryError;

const SAVED: &str = include_str!("queries/saved.sql");

/// One saved query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub name: String,
    pub about: String,
    pub sql: String,
}

impl Saved {
    /// The parameters the query takes.
    pub fn params(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = self.sql.as_str();
        while let Some(i) = rest.find("{{") {
            let after = &rest[i + 2..];
            let Some(j) = after.find("}}") else { break };
            let p = after[..j].to_string();
            if !out.contains(&p) {
                out.push(p);
            }
            rest = &after[j + 2..];
        }
        out
    }

    /// The SQL with parameters filled in.
    pub fn render(&self, params: &BTreeMap<String, String>) -> Result<String, QueryError> {
        let mut sql = self.sql.clone();
        for p in self.params() {
            let value = match (params.get(&p), p.as_str()) {
                (Some(v), _) => v.clone(),
                (None, "since") => "1970-01-01".into(),
                (None, "until") => "9999-12-31".into(),
                (None, _) => {
                    return Err(QueryError::MissingParam {
                        query: self.name.to_string(),
                        param: p.clone(),
                    });
                }
            };
            sql = sql.replace(&format!("{{{{{p}}}}}"), &value.replace('\'', "''"));
        }
        Ok(sql)
    }
}

/// Every saved query, in file order.
pub fn all() -> Vec<Saved> {
    let mut out = Vec::new();
    for block in SAVED.split("-- name: ").skip(1) {
        let mut lines = block.lines();
        let name = lines.next().unwrap_or_default().trim().to_string();
        let mut about = String::new();
        let mut sql = Vec::new();
        for l in lines {
            if let Some(a) = l.strip_prefix("-- about: ") {
                about = a.trim().to_string();
            } else if !l.trim().is_empty() {
                sql.push(l);
            }
        }
        let sql = sql.join("\n").trim().trim_end_matches(';').to_string();
        out.push(Saved { name, about, sql });
    }
    out
}

/// The saved query of that name.
pub fn find(name: &str) -> Result<Saved, QueryError> {
    all()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| QueryError::NoSavedQuery(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_queries_parse_and_render() {
        let all = all();
        assert!(all.len() >= 16, "{}", all.len());
        for s in &all {
            assert!(!s.about.is_empty(), "{}", s.name);
            assert!(s.sql.to_uppercase().starts_with("SELECT"), "{}", s.name);
        }
        let q = find("principal-activity").unwrap();
        assert_eq!(q.params(), ["principal", "since", "until"]);
        assert!(q.render(&BTreeMap::new()).is_err());
        let p = BTreeMap::from([("principal".to_string(), "o'brien".to_string())]);
        let sql = q.render(&p).unwrap();
        assert!(sql.contains("'o''brien'"));
        assert!(sql.contains("'1970-01-01'") && sql.contains("'9999-12-31'"));
        assert!(find("nope").is_err());
    }
}
