//! Hostile input to the parsers a user or attacker controls: rule files
//! (YAML and Terraform) and digest files. The same inputs the fuzz targets
//! explore, as property tests on the stable toolchain: nothing panics,
//! overflows its stack or hangs, and deep nesting is a clear error.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use trailwatch_core::digest::{Digest, DigestName, KeyRing, string_to_sign};
use trailwatch_core::rules::{import_terraform, parse_rules};

/// Text built from the characters that matter to these parsers.
fn yamlish() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[\[\]{}()"'#:\- a-z0-9$%\\\n]{0,300}"#).expect("regex")
}

/// A file nested `depth` levels deep in one way, and whether that way
/// nests in YAML and in HCL.
fn nested() -> impl Strategy<Value = (String, usize, bool, bool)> {
    let kinds = prop_oneof![
        Just(("x: ", "[", "]", true, true)),
        Just(("x: ", "{a: ", "}", true, true)),
        Just(("x:\n  ", "- ", "", true, false)),
        Just(("x = ", "(", ")", false, true)),
        Just(("x = \"", "${[", "]}", false, true)),
    ];
    (kinds, 0usize..5000).prop_map(|((pre, o, c, yaml, hcl), depth)| {
        (
            format!("{pre}{}1{}\n", o.repeat(depth), c.repeat(depth)),
            depth,
            yaml,
            hcl,
        )
    })
}

fn quick<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "{what} took {:?}",
        t.elapsed()
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_rules_loader_survives_any_text(text in yamlish()) {
        let _ = quick("yaml", || parse_rules(&text, "p.yaml"));
        let _ = quick("terraform", || import_terraform(&text, "p.tf"));
    }

    #[test]
    fn deep_rule_files_are_refused_quickly_and_shallow_ones_are_not(
        (text, depth, yaml_nests, hcl_nests) in nested()
    ) {
        let yaml = quick("yaml", || parse_rules(&text, "deep.yaml"));
        let tf = quick("terraform", || import_terraform(&text, "deep.tf"));
        if depth > 100 && yaml_nests {
            let y = yaml.expect_err("deep YAML is refused").to_string();
            prop_assert!(y.contains("nest"), "{}", y);
        }
        if depth > 100 && hcl_nests {
            let t = tf.expect_err("deep HCL is refused").to_string();
            prop_assert!(t.contains("nest"), "{}", t);
        }
    }

    #[test]
    fn digest_parsers_survive_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(d) = Digest::parse(&bytes) {
            let _ = string_to_sign(&d, "00");
        }
        let _ = DigestName::parse(&String::from_utf8_lossy(&bytes));
        let _ = KeyRing::default().add_json(&bytes);
        let _ = trailwatch_core::digest::hash::hash_gzip(std::io::Cursor::new(bytes.clone()));
    }

    #[test]
    fn digest_json_with_wrong_types_is_an_error_not_a_panic(
        field in prop::sample::select(vec![
            "digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
            "logFiles", "previousDigestSignature", "digestPublicKeyFingerprint",
        ]),
        value in prop_oneof![
            Just("null".to_string()), Just("1e999".to_string()), Just("[[[[[]]]]]".to_string()),
            Just("{}".to_string()), Just("\"\\u0000\"".to_string()), Just("-1".to_string()),
        ],
    ) {
        let json = format!(
            r#"{{"awsAccountId":"111122223333","digestStartTime":"2024-05-01T00:00:00Z","digestEndTime":"2024-05-01T01:00:00Z","digestS3Bucket":"b","digestS3Object":"o","digestPublicKeyFingerprint":"f","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":null,"oldestEventTime":null,"previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,"previousDigestHashAlgorithm":null,"previousDigestSignature":null,"logFiles":[],"{field}":{value}}}"#
        );
        if let Ok(d) = Digest::parse(json.as_bytes()) {
            let _ = string_to_sign(&d, "00");
            let _ = d.previous();
        }
    }
}
