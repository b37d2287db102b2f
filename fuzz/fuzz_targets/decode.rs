//! The record decoder must never panic, whatever the bytes: plain or gzip,
//! any container shape, with small limits so the size guards are exercised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch_core::event::{DecodeOptions, Decoder, Step, compact_json};

fuzz_target!(|data: &[u8]| {
    let opts = DecodeOptions {
        max_record_bytes: 4096,
        max_decompressed_bytes: 1 << 20,
    };
    let Ok(mut dec) = Decoder::from_reader("fuzz", std::io::Cursor::new(data.to_vec()), opts) else {
        return;
    };
    let mut out = Vec::new();
    // Bounded: each step consumes input, but guard against a logic loop.
    for _ in 0..100_000 {
        match dec.next_step() {
            None => break,
            Some(Step::Record(r)) => {
                out.clear();
                compact_json(r.raw, &mut out);
                let _ = r.event.principal();
            }
            Some(Step::Error(e)) => {
                let _ = e.to_string();
            }
            Some(Step::Skipped) => {}
        }
    }
    let _ = trailwatch_core::layout::parse_key(&String::from_utf8_lossy(data));
});
