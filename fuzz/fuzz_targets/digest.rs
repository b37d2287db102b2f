//! The digest parsers (digest JSON, digest key names, CloudTrail's public
//! keys, the gzip hasher) must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch_core::digest::{Digest, DigestName, KeyRing, string_to_sign};

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = Digest::parse(data) {
        let _ = string_to_sign(&d, "00");
        let _ = d.previous();
    }
    let text = String::from_utf8_lossy(data);
    let _ = DigestName::parse(&text);
    let _ = KeyRing::default().add_json(data);
    let _ = trailwatch_core::digest::keys::pkcs1_of(data);
    let _ = trailwatch_core::digest::hash::hash_gzip(std::io::Cursor::new(data.to_vec()));
});
