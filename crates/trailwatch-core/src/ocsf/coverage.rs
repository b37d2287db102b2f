//! Which rules an OCSF source leaves blind: CloudTrail fields a writer did
//! not keep (a Security Lake table without `api.request.data` has no
//! `requestParameters`) against the fields each pattern rule reads.

use crate::pattern::{Expr, Pattern, Step};
use crate::rules::Rule;

/// The dotted key paths a pattern expression reads (`requestParameters.
/// ipPermissions…`), up to the first index.
fn paths(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Cond(c) => {
            let keys: Vec<&str> = c
                .selector
                .iter()
                .map_while(|s| match s {
                    Step::Key(k) => Some(k.as_str()),
                    _ => None,
                })
                .collect();
            out.push(keys.join("."));
        }
        Expr::Or(list) | Expr::And(list) => list.iter().for_each(|x| paths(x, out)),
    }
}

/// Each rule of `rules` that reads a field of `absent` (CloudTrail names,
/// dotted), with the first such field: its matches on those records are
/// not what they would be on CloudTrail.
pub fn rules_reading(rules: &[Rule], absent: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in rules {
        let Pattern::Json(e) = &r.pattern else {
            continue;
        };
        let mut read = Vec::new();
        paths(e, &mut read);
        let hit = absent.iter().find(|f| {
            read.iter().any(|p| {
                p == *f
                    || p.strip_prefix(**f)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
        });
        if let Some(f) = hit {
            out.push((r.id.clone(), f.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_on_request_fields_are_named_and_others_are_not() {
        let rules = crate::rules::pack("essential").unwrap();
        let blind = rules_reading(&rules, &["requestParameters"]);
        let ids: Vec<&str> = blind.iter().map(|(id, _)| id.as_str()).collect();
        assert!(!ids.is_empty());
        assert!(blind.iter().all(|(_, f)| f == "requestParameters"));
        // A rule on the event name alone reads no request field.
        let root = rules
            .iter()
            .find(|r| r.pattern_text.contains("Root"))
            .unwrap();
        assert!(!ids.contains(&root.id.as_str()), "{}", root.id);
        assert!(rules_reading(&rules, &[]).is_empty());
    }
}
