//! Matching throughput of the `essential` + `cis` packs on already-decoded
//! events: `cargo bench -p trailwatch-core --bench matching [-- TRAIL]`.
//!
//! Decodes a trail (default: the bundled sample) once, keeping each
//! record's text; then times, on one core, (a) decoding those records again
//! and (b) decoding plus running every rule, and reports the matching cost
//! as the difference, in events per second.

// A benchmark program: it prints its results and fails loudly.
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use trailwatch_core::event::{DecodeOptions, Decoder, Step};
use trailwatch_core::rules::{Engine, pack};

fn main() {
    let trail = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sample-trail").to_string()
        });
    let mut raws: Vec<Vec<u8>> = Vec::new();
    for entry in walk(std::path::Path::new(&trail)) {
        let Ok(mut dec) = Decoder::open(&entry, DecodeOptions::default()) else {
            continue;
        };
        while let Some(step) = dec.next_step() {
            if let Step::Record(r) = step {
                raws.push(r.raw.to_vec());
            }
        }
    }
    // One NDJSON buffer, decoded from memory in each pass.
    let mut buf = Vec::new();
    for r in &raws {
        buf.extend_from_slice(r);
        buf.push(b'\n');
    }
    let rounds = (2_000_000 / raws.len().max(1)).max(1);
    let rules = pack("essential,cis").expect("packs");
    let n_rules = rules.len();
    let decode_only = time(&buf, rounds, None);
    let mut engine = Engine::new(rules);
    let with_rules = time(&buf, rounds, Some(&mut engine));
    let events = (raws.len() * rounds) as f64;
    let matching = (with_rules - decode_only).max(1e-9);
    println!(
        "events: {} ({} records x {rounds} rounds), rules: {n_rules}",
        events,
        raws.len()
    );
    println!(
        "decode only:        {decode_only:.3} s ({:.0} events/s)",
        events / decode_only
    );
    println!(
        "decode + rules:     {with_rules:.3} s ({:.0} events/s)",
        events / with_rules
    );
    println!(
        "matching alone:     {:.0} events/s per core",
        events / matching
    );
}

fn time(buf: &[u8], rounds: usize, mut engine: Option<&mut Engine>) -> f64 {
    let mut alerts = Vec::new();
    let start = Instant::now();
    for _ in 0..rounds {
        let mut dec = Decoder::from_reader(
            "bench",
            std::io::Cursor::new(buf.to_vec()),
            DecodeOptions::default(),
        )
        .expect("in memory");
        while let Some(step) = dec.next_step() {
            if let (Step::Record(r), Some(e)) = (step, engine.as_deref_mut()) {
                e.observe(&r, &mut alerts, None);
            }
        }
        alerts.clear();
    }
    start.elapsed().as_secs_f64()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.to_string_lossy().ends_with(".json.gz") {
            out.push(p);
        }
    }
    out.sort();
    out
}
