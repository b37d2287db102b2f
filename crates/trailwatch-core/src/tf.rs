//! Reading Terraform (HCL) resources: shared by the rule importer and the
//! trail posture audit.

use hcl::{Block, Body, Expression};

/// The expression of attribute `key` of a block.
pub fn attr<'b>(block: &'b Block, key: &str) -> Option<&'b Expression> {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
}

/// An expression as text: strings as they are, anything else as written.
pub fn text(e: Option<&Expression>) -> Option<String> {
    match e? {
        Expression::String(s) => Some(s.clone()),
        Expression::Number(n) => Some(n.to_string()),
        Expression::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// The `resource "<kind>" "<name>"` blocks of a file, with their names.
pub fn resources<'b>(body: &'b Body, kind: &str) -> Vec<(String, &'b Block)> {
    body.blocks()
        .filter(|b| b.identifier() == "resource")
        .filter(|b| b.labels().first().map(|l| l.as_str()) == Some(kind))
        .map(|b| {
            (
                b.labels()
                    .get(1)
                    .map(|l| l.as_str().to_string())
                    .unwrap_or_default(),
                b,
            )
        })
        .collect()
}
