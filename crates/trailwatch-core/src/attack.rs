//! MITRE ATT&CK: technique ids as rules carry them (`T1562.008` in rule
//! files and the built-in packs, `attack.t1562.008` tags in Sigma), which
//! techniques a set of rules covers, and that coverage as an ATT&CK
//! Navigator layer (layer format 4.5).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

/// Whether `id` is a technique id: `T` and four digits, optionally `.`
/// and three (a sub-technique).
pub fn is_technique_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix('T') else {
        return false;
    };
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    digits(main, 4) && sub.is_none_or(|s| digits(s, 3))
}

/// The technique a Sigma tag names (`attack.t1562.008` → `T1562.008`);
/// tactics (`attack.defense-evasion`) and other tags name none.
pub fn technique_of_tag(tag: &str) -> Option<String> {
    let id = tag.strip_prefix("attack.")?.to_ascii_uppercase();
    is_technique_id(&id).then_some(id)
}

/// One technique and the rules that detect it.
#[derive(Debug, Clone, Serialize)]
pub struct Covered {
    pub technique: String,
    pub rules: Vec<String>,
}

/// The techniques `rules` (id, techniques) cover, by technique id.
pub fn coverage<'a>(rules: impl IntoIterator<Item = (&'a str, Vec<String>)>) -> Vec<Covered> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (rule, techniques) in rules {
        for t in techniques {
            let list = by.entry(t).or_default();
            if !list.iter().any(|r| r == rule) {
                list.push(rule.to_string());
            }
        }
    }
    by.into_iter()
        .map(|(technique, rules)| Covered { technique, rules })
        .collect()
}

/// An ATT&CK Navigator layer (format 4.5, Enterprise domain): each
/// covered technique scored by how many rules detect it, the rules named
/// in its comment.
pub fn navigator_layer(name: &str, covered: &[Covered]) -> Value {
    let max = covered
        .iter()
        .map(|c| c.rules.len())
        .max()
        .unwrap_or(1)
        .max(1);
    json!({
        "name": name,
        "versions": {"attack": "16", "navigator": "5.1.0", "layer": "4.5"},
        "domain": "enterprise-attack",
        "description": "Techniques the trailwatch rules in force detect, scored by rule count.",
        "filters": {"platforms": ["IaaS"]},
        "sorting": 3,
        "layout": {"layout": "side", "showID": true, "showName": true},
        "hideDisabled": false,
        "techniques": covered.iter().map(|c| json!({
            "techniqueID": c.technique,
            "score": c.rules.len(),
            "comment": c.rules.join(", "),
            "enabled": true,
        })).collect::<Vec<_>>(),
        "gradient": {"colors": ["#fff7b3ff", "#ff6666ff"], "minValue": 0, "maxValue": max},
        "legendItems": [],
        "showTacticRowBackground": false,
        "selectTechniquesAcrossTactics": true,
        "selectSubtechniquesWithParent": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_ids_and_sigma_tags() {
        assert!(is_technique_id("T1562") && is_technique_id("T1562.008"));
        assert!(
            !is_technique_id("T156") && !is_technique_id("t1562") && !is_technique_id("T1562.8")
        );
        assert_eq!(
            technique_of_tag("attack.t1562.008").as_deref(),
            Some("T1562.008")
        );
        assert_eq!(technique_of_tag("attack.defense-evasion"), None);
        assert_eq!(technique_of_tag("cve.2021-1234"), None);
    }

    #[test]
    fn a_layer_scores_each_technique_by_its_rules() {
        let covered = coverage([
            ("a", vec!["T1110".to_string()]),
            ("b", vec!["T1110".to_string(), "T1530".to_string()]),
        ]);
        let layer = navigator_layer("x", &covered);
        assert_eq!(layer["versions"]["layer"], "4.5");
        assert_eq!(layer["domain"], "enterprise-attack");
        assert_eq!(layer["techniques"][0]["techniqueID"], "T1110");
        assert_eq!(layer["techniques"][0]["score"], 2);
        assert_eq!(layer["techniques"][1]["score"], 1);
    }
}
