//! Sigma rules: SigmaHQ's CloudTrail rules (kept in `../shared/sigma` as
//! data under their own licence) all load, and a loaded rule matches the
//! real Stratus Red Team trace it was written for.

use serde_json::Value;
use trailwatch_core::sigma::fields::JsonFields;
use trailwatch_core::sigma::rule::load;

use crate::support::shared_dir;

#[test]
fn every_sigmahq_cloudtrail_rule_loads() {
    let Some(shared) = shared_dir() else { return };
    let mut files: Vec<_> = std::fs::read_dir(shared.join("sigma"))
        .expect("sigma folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "{} rule files", files.len());
    let mut loaded = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let (rules, errors) = load(&text, &f.display().to_string());
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!rules.is_empty(), "{}", f.display());
        loaded += rules.len();
    }
    assert_eq!(loaded, files.len(), "one rule per file");
}

#[test]
fn the_trail_stopped_rule_matches_stratus_cloudtrail_stop() {
    let Some(shared) = shared_dir() else { return };
    let text = std::fs::read_to_string(shared.join("sigma/aws_cloudtrail_disable_logging.yml"))
        .expect("rule");
    let (rules, _) = load(&text, "disable_logging");
    let events: Vec<Value> = serde_json::from_slice(
        &std::fs::read(
            shared.join("corpora/stratus-red-team/aws.defense-evasion.cloudtrail-stop.json"),
        )
        .expect("trace"),
    )
    .expect("json array");
    let hits = events
        .iter()
        .filter(|e| {
            let text = e.to_string();
            rules[0].matches(&JsonFields {
                value: e,
                text: &text,
            })
        })
        .count();
    assert!(hits >= 1, "no StopLogging matched");
    let quiet: Vec<Value> = serde_json::from_slice(
        &std::fs::read(
            shared.join("corpora/stratus-red-team/aws.persistence.iam-backdoor-user.json"),
        )
        .expect("trace"),
    )
    .expect("json array");
    assert!(quiet.iter().all(|e| {
        let text = e.to_string();
        !rules[0].matches(&JsonFields {
            value: e,
            text: &text,
        })
    }));
}

/// The typed fast path reads what the JSON tree holds: every SigmaHQ rule
/// gives the same answer on every Stratus Red Team event read either way
/// (the events decoded as a trail reads them, and parsed as plain JSON).
#[test]
fn typed_fields_answer_as_the_json_tree_does_on_real_events() {
    use trailwatch_core::event::{DecodeOptions, Decoder};
    use trailwatch_core::sigma::fields::RecordFields;
    let Some(shared) = shared_dir() else { return };
    let mut rules = Vec::new();
    for e in std::fs::read_dir(shared.join("sigma")).expect("sigma folder") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "yml") {
            let text = std::fs::read_to_string(&p).expect("read");
            rules.extend(load(&text, &p.display().to_string()).0);
        }
    }
    let (mut compared, mut matched) = (0, 0);
    for e in std::fs::read_dir(shared.join("corpora/stratus-red-team")).expect("corpus") {
        let p = e.expect("entry").path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let events: Vec<Value> =
            serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("array");
        let records = serde_json::to_vec(&serde_json::json!({ "Records": events })).expect("json");
        let mut dec = Decoder::from_reader(
            "stratus",
            std::io::Cursor::new(records),
            DecodeOptions::default(),
        )
        .expect("decoder");
        dec.for_each(
            |r| {
                let text = std::str::from_utf8(r.raw).expect("utf-8");
                let tree: Value = serde_json::from_str(text).expect("json");
                let typed = RecordFields::new(r);
                let plain = JsonFields { value: &tree, text };
                for rule in &rules {
                    let (a, b) = (rule.matches(&typed), rule.matches(&plain));
                    assert_eq!(
                        a,
                        b,
                        "{} on {} in {}",
                        rule.id,
                        r.event.event_id,
                        p.display()
                    );
                    compared += 1;
                    matched += usize::from(a);
                }
                Ok::<(), ()>(())
            },
            |err, _| panic!("{err}"),
        )
        .expect("decodes");
    }
    assert!(compared >= 13_000, "{compared} comparisons");
    assert!(matched > 10, "{matched} matches");
}
