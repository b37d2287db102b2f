//! The read-only guard and the Athena rewriter must never panic, and a
//! statement the guard refuses must stay refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch_sql::guard::{Allowed, check};
use trailwatch_sql::rewrite::rewrite;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(Allowed::Query(sql)) = check(text)
        && let Ok(rewritten) = rewrite(&sql)
    {
        // What the rewriter emits is still a read-only query.
        assert!(
            matches!(check(&rewritten), Ok(Allowed::Query(_))),
            "{text:?} rewrote to {rewritten:?}"
        );
    }
});
