//! Athena's CREATE EXTERNAL TABLE parser must never panic or overflow its
//! stack, whatever the statement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch_sql::athena_ddl::parse_create_external_table;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_create_external_table(text);
    let _ = parse_create_external_table(&format!("CREATE EXTERNAL TABLE t ({text}) LOCATION 'x'"));
});
