//! The filter-pattern parser must never panic, and whatever parses must
//! print back to text that parses to the same pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch_core::pattern::{Pattern, TextDocument};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(p) = Pattern::parse(text) else { return };
    let printed = p.to_string();
    let again = Pattern::parse(&printed).expect("printed patterns parse");
    assert_eq!(p, again, "round trip of {text:?} via {printed:?}");
    let _ = p.matches(&TextDocument::new(r#"{"eventName":"ConsoleLogin","a":[1,{"b":"x"}],"n":null}"#));
});
