//! The real trails in `../shared/corpora`: every record decodes, and the
//! counts match the corpus README exactly.

use std::collections::HashSet;
use std::path::Path;

use trailwatch_core::event::{DecodeOptions, Decoder, Step};

use crate::support::shared_dir;

fn decode_dir(dir: &Path) -> (usize, usize, HashSet<String>) {
    let mut files = 0;
    let mut records = 0;
    let mut ids = HashSet::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        files += 1;
        let mut dec = Decoder::open(&path, DecodeOptions::default()).expect("opens");
        while let Some(step) = dec.next_step() {
            match step {
                Step::Record(r) => {
                    records += 1;
                    ids.insert(r.event.event_id.to_string());
                }
                Step::Error(e) => panic!("corpus record failed: {e}"),
                Step::Skipped => panic!("corpus needed resynchronisation in {path:?}"),
            }
        }
    }
    (files, records, ids)
}

#[test]
fn invictus_corpus_decodes_every_record() {
    let Some(shared) = shared_dir() else { return };
    let (files, records, ids) = decode_dir(&shared.join("corpora/invictus-aws/CloudTrail"));
    assert_eq!((files, records, ids.len()), (55, 2900, 2900));
}

#[test]
fn stratus_corpus_decodes_every_record() {
    let Some(shared) = shared_dir() else { return };
    let (files, records, ids) = decode_dir(&shared.join("corpora/stratus-red-team"));
    assert_eq!((files, records, ids.len()), (35, 310, 310));
}
