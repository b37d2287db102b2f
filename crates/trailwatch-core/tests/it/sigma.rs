//! Sigma rules: SigmaHQ's CloudTrail rules (kept in `../shared/sigma` as
//! data under their own licence) all load, and a loaded rule matches the
//! real Stratus Red Team trace it was written for.

use serde_json::Value;
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
        .filter(|e| rules[0].matches(e, &e.to_string()))
        .count();
    assert!(hits >= 1, "no StopLogging matched");
    let quiet: Vec<Value> = serde_json::from_slice(
        &std::fs::read(
            shared.join("corpora/stratus-red-team/aws.persistence.iam-backdoor-user.json"),
        )
        .expect("trace"),
    )
    .expect("json array");
    assert!(quiet.iter().all(|e| !rules[0].matches(e, &e.to_string())));
}
