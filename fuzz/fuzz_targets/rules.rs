//! The rules loader must never panic or hang, whatever the YAML or
//! Terraform: deep nesting is refused before the parsers recurse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch_core::rules::{import_terraform, parse_rules};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(rules) = parse_rules(text, "fuzz.yaml") {
        for r in &rules {
            let _ = r.pattern.to_string();
        }
    }
    let _ = import_terraform(text, "fuzz.tf");
});
