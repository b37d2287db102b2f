//! Every built-in rule against its examples; the essential alarms with
//! planted events through the alarm machinery (M of N, every missing-data
//! mode); the seed Terraform imported and firing; replays are repeatable.

use serde_json::json;
use trailwatch_core::alarm::{AlarmState, TreatMissing};
use trailwatch_core::alert::{Alert, AlertKind};
use trailwatch_core::event::{DecodeOptions, Decoder, Step};
use trailwatch_core::rules::{
    Engine, Rule, check_examples, example_record, import_terraform, pack,
};

use crate::support::shared_dir;

#[test]
fn every_built_in_rule_fires_on_its_examples_and_only_those() {
    let rules = pack("all").expect("packs");
    assert!(rules.len() >= 28);
    let problems: Vec<String> = rules.iter().flat_map(check_examples).collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Observe one example record made from `partial`, `minute` minutes after
/// 2026-04-01T12:00Z.
fn feed(
    engine: &mut Engine,
    partial: &serde_json::Value,
    event_id: &str,
    minute: i64,
    alerts: &mut Vec<Alert>,
    mut matches: Option<&mut Vec<trailwatch_core::rules::Match>>,
) {
    let t = chrono::DateTime::from_timestamp(1_775_044_800 + minute * 60, 0).expect("time");
    let rec = example_record(
        partial,
        event_id,
        &t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    let mut dec = Decoder::from_reader(
        "t",
        std::io::Cursor::new(rec.to_string().into_bytes()),
        DecodeOptions::default(),
    )
    .expect("decoder");
    while let Some(step) = dec.next_step() {
        if let Step::Record(r) = step {
            engine.observe(&r, alerts, matches.as_deref_mut());
        }
    }
}

/// Run a rule over records given as (minute offset, partial record).
fn replay(rule: &Rule, events: &[(i64, serde_json::Value)]) -> (Vec<Alert>, usize) {
    let mut engine = Engine::new(vec![rule.clone()]);
    let mut alerts = Vec::new();
    let mut matches = Vec::new();
    for (i, (minute, partial)) in events.iter().enumerate() {
        feed(
            &mut engine,
            partial,
            &format!("ev-{i}"),
            *minute,
            &mut alerts,
            Some(&mut matches),
        );
    }
    alerts.extend(engine.finish());
    (alerts, matches.len())
}

fn alarms(alerts: &[Alert]) -> Vec<(String, AlarmState)> {
    alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Alarm)
        .map(|a| (a.time[11..16].to_string(), a.state))
        .collect()
}

#[test]
fn essential_alarms_fire_on_planted_events_and_not_on_neighbours() {
    let rules = pack("essential").expect("essential");
    for rule in &rules {
        let fire = rule.examples.fire[0].clone();
        let quiet = rule.examples.quiet[0].clone();
        let threshold = rule.alarm.as_ref().map_or(1.0, |a| a.spec.threshold) as usize;
        // Quiet neighbours alone: no alarm, no match.
        let (alerts, n) = replay(
            rule,
            &[(0, quiet.clone()), (1, quiet.clone()), (2, quiet.clone())],
        );
        assert_eq!(n, 0, "{}", rule.id);
        assert!(alarms(&alerts).is_empty(), "{}: {alerts:?}", rule.id);
        // Enough matches within one period: exactly one ALARM, then OK.
        let mut events = vec![(0, quiet.clone())];
        events.extend((0..threshold).map(|i| (1 + i as i64, fire.clone())));
        let (alerts, n) = replay(rule, &events);
        assert_eq!(n, threshold, "{}", rule.id);
        let states: Vec<AlarmState> = alarms(&alerts).iter().map(|(_, s)| *s).collect();
        assert_eq!(
            states,
            [AlarmState::Alarm, AlarmState::Ok],
            "{}: {alerts:#?}",
            rule.id
        );
        let alarm = alerts
            .iter()
            .find(|a| a.kind == AlertKind::Alarm)
            .expect("alarm alert");
        assert_eq!(alarm.event_count, threshold);
        assert_eq!(alarm.severity, rule.severity);
        assert!(
            !alarm.principals.is_empty() && alarm.source_ips == ["198.51.100.1"],
            "{alarm:?}"
        );
    }
}

#[test]
fn failed_logins_alarm_needs_three_in_five_minutes_for_one_user() {
    let rules = pack("essential").expect("essential");
    let rule = rules
        .iter()
        .find(|r| r.id == "console-login-failures")
        .expect("rule");
    let fail = |user: &str| json!({"eventName": "ConsoleLogin", "errorMessage": "Failed authentication", "userIdentity": {"userName": user}});
    // Three failures spread over 12 minutes: findings, but no alarm.
    let (alerts, _) = replay(
        rule,
        &[(0, fail("carol")), (6, fail("carol")), (12, fail("carol"))],
    );
    assert_eq!(
        alerts
            .iter()
            .filter(|a| a.kind == AlertKind::Finding)
            .count(),
        3
    );
    assert!(alarms(&alerts).is_empty());
    // Three for two different users within 5 minutes: per-user series, no alarm.
    let (alerts, _) = replay(
        rule,
        &[(0, fail("carol")), (1, fail("dave")), (2, fail("carol"))],
    );
    assert!(alarms(&alerts).is_empty());
    // Three for carol within 5 minutes: one alarm, dimension user=carol.
    let (alerts, _) = replay(
        rule,
        &[(0, fail("carol")), (1, fail("carol")), (2, fail("carol"))],
    );
    let a = alerts
        .iter()
        .find(|a| a.kind == AlertKind::Alarm && a.state == AlarmState::Alarm)
        .expect("alarm");
    assert_eq!(a.dimensions.get("user").map(String::as_str), Some("carol"));
    assert_eq!(a.event_ids, vec!["ev-0", "ev-1", "ev-2"]);
}

fn with_alarm(rule: &Rule, n: usize, m: usize, treat: TreatMissing) -> Rule {
    let mut r = rule.clone();
    if let Some(a) = r.alarm.as_mut() {
        a.spec.evaluation_periods = n;
        a.spec.datapoints_to_alarm = m;
        a.spec.treat_missing = treat;
    }
    r
}

#[test]
fn m_of_n_and_missing_data_modes_shape_the_alarm() {
    let rules = pack("essential").expect("essential");
    let root = rules
        .iter()
        .find(|r| r.id == "root-account-usage")
        .expect("rule");
    let fire = root.examples.fire[0].clone();
    // One match: with N=3, M=2 and missing data treated as not breaching,
    // one breaching period is not enough.
    let one = [(0, fire.clone())];
    let r = with_alarm(root, 3, 2, TreatMissing::NotBreaching);
    assert!(alarms(&replay(&r, &one).0).is_empty());
    // Treated as breaching, the missing periods count against us: ALARM.
    let r = with_alarm(root, 3, 2, TreatMissing::Breaching);
    assert_eq!(
        alarms(&replay(&r, &one).0).first().map(|a| a.1),
        Some(AlarmState::Alarm)
    );
    // Two matches in consecutive periods reach 2 of 3 whatever the mode.
    let two = [(0, fire.clone()), (6, fire.clone())];
    for treat in [
        TreatMissing::Missing,
        TreatMissing::Ignore,
        TreatMissing::Breaching,
        TreatMissing::NotBreaching,
    ] {
        let r = with_alarm(root, 3, 2, treat);
        let states = alarms(&replay(&r, &two).0);
        assert_eq!(
            states.first().map(|a| a.1),
            Some(AlarmState::Alarm),
            "{treat:?}: {states:?}"
        );
    }
    // Missing (premature alarm rule): one breach of age >= M among N alarms.
    let r = with_alarm(root, 3, 1, TreatMissing::Missing);
    assert_eq!(
        alarms(&replay(&r, &one).0).first().map(|a| a.1),
        Some(AlarmState::Alarm)
    );
    // Ignore with M=3: a single breach keeps the initial state (no alerts).
    let r = with_alarm(root, 3, 3, TreatMissing::Ignore);
    assert!(alarms(&replay(&r, &one).0).is_empty());
}

#[test]
fn replaying_the_same_events_gives_the_same_alert_ids() {
    let rules = pack("all").expect("all");
    let fire = json!({"userIdentity": {"type": "Root"}, "eventName": "ConsoleLogin", "eventType": "AwsConsoleSignIn",
                      "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "No"}});
    let rule = rules
        .iter()
        .find(|r| r.id == "root-account-usage")
        .expect("rule");
    let a = replay(rule, &[(0, fire.clone())]).0;
    let b = replay(rule, &[(0, fire)]).0;
    assert!(!a.is_empty());
    assert_eq!(
        a.iter().map(|x| &x.alert_id).collect::<Vec<_>>(),
        b.iter().map(|x| &x.alert_id).collect::<Vec<_>>()
    );
}

#[test]
fn seed_terraform_imports_verbatim_and_fires_on_root() {
    let Some(shared) = shared_dir() else { return };
    let tf = std::fs::read_to_string(shared.join("seed-terraform.tf")).expect("seed");
    let rules = import_terraform(&tf, "seed-terraform.tf").expect("imports");
    assert_eq!(rules.len(), 1);
    let r = &rules[0];
    assert_eq!(r.id, "root-account-usage");
    assert_eq!(r.actions, vec!["security_alerts"]);
    let alarm = r.alarm.as_ref().expect("alarm");
    assert_eq!(
        (alarm.metric_name.as_str(), alarm.namespace.as_str()),
        ("RootAccountUsageCount", "SecurityMetrics")
    );
    assert_eq!(alarm.spec.period_minutes, 5);
    let root = json!({"userIdentity": {"type": "Root"}, "eventName": "ListUsers"});
    let service = json!({"userIdentity": {"type": "Root", "invokedBy": "s3.amazonaws.com"}, "eventName": "PutObject"});
    let (alerts, n) = replay(r, &[(0, service), (1, root)]);
    assert_eq!(n, 1);
    let a = alerts
        .iter()
        .find(|a| a.state == AlarmState::Alarm)
        .expect("alarm");
    assert_eq!(a.event_ids, vec!["ev-1"]);
    assert_eq!(a.actions, vec!["security_alerts"]);
}

/// Feed `files` to `engine` in order as the watcher does: observe each
/// file's records, then advance to its newest event time minus 9 hours.
fn watch_files(engine: &mut Engine, files: &[std::path::PathBuf], newest: &mut i64) -> Vec<Alert> {
    use trailwatch_core::alarm::minute_of;
    use trailwatch_core::detect::{Detector, Seen};
    let mut out = Vec::new();
    for f in files {
        let mut dec = Decoder::open(f, DecodeOptions::default()).expect("opens");
        while let Some(step) = dec.next_step() {
            if let Step::Record(r) = step {
                Detector::observe(engine, &r, &Seen::default(), &mut out);
                *newest = (*newest).max(r.time.timestamp_millis());
            }
        }
        Detector::advance(engine, minute_of(*newest - 9 * 3_600_000), &mut out);
    }
    out
}

#[test]
fn an_engine_restored_from_saved_state_raises_what_an_uninterrupted_one_raises() {
    use trailwatch_core::detect::Detector;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/sample-trail/AWSLogs");
    let mut files: Vec<std::path::PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(|e| e.expect("walk").path().to_path_buf())
        .filter(|p| p.is_file())
        .collect();
    // Delivery order: the stamp is the fourth part of CloudTrail's names.
    files.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        (name.split('_').nth(3).unwrap_or("").to_string(), name)
    });
    let ids = |alerts: &[Alert]| -> std::collections::BTreeSet<String> {
        alerts.iter().map(|a| a.alert_id.clone()).collect()
    };
    let mut whole = Engine::new(pack("all").expect("packs"));
    let mut newest = i64::MIN;
    let mut expected = watch_files(&mut whole, &files, &mut newest);
    Detector::finish(&mut whole, &mut expected);

    let half = files.len() / 2;
    let mut first = Engine::new(pack("all").expect("packs"));
    let mut newest = i64::MIN;
    let mut got = watch_files(&mut first, &files[..half], &mut newest);
    let saved = Detector::save(&first).expect("saves");
    drop(first);
    let mut resumed = Engine::new(pack("all").expect("packs"));
    Detector::restore(&mut resumed, &saved).expect("restores");
    got.extend(watch_files(&mut resumed, &files[half..], &mut newest));
    Detector::finish(&mut resumed, &mut got);
    assert!(expected.iter().any(|a| a.kind == AlertKind::Alarm));
    assert_eq!(ids(&got), ids(&expected));
    // Garbage is refused, not taken for empty state.
    let mut e = Engine::new(pack("all").expect("packs"));
    assert!(Detector::restore(&mut e, b"{\"version\": 9}").is_err());
}

#[test]
fn alarm_state_stays_bounded_however_long_the_engine_runs() {
    use trailwatch_core::alarm::minute_of;
    use trailwatch_core::detect::Detector;
    let mut engine = Engine::new(pack("all").expect("packs"));
    let mut out = Vec::new();
    let mut size_at = std::collections::BTreeMap::new();
    // Sixty days of failed console logins (an alarm with a per-user
    // dimension), a new user every day, one attempt every 20 minutes.
    for step in 0..(60 * 72) {
        let minute = step * 20;
        let t = chrono::DateTime::from_timestamp(1_775_044_800 + minute * 60, 0).expect("time");
        let partial = json!({
            "eventName": "ConsoleLogin",
            "errorMessage": "Failed authentication",
            "responseElements": {"ConsoleLogin": "Failure"},
            "userIdentity": {"type": "IAMUser", "userName": format!("user-{}", step / 72)},
        });
        feed(
            &mut engine,
            &partial,
            &format!("ev-{step}"),
            minute,
            &mut out,
            None,
        );
        Detector::advance(&mut engine, minute_of(t.timestamp_millis()) - 5, &mut out);
        let day = step / 72;
        if step % 72 == 71 && (day == 19 || day == 59) {
            size_at.insert(day, Detector::save(&engine).expect("saves").len());
        }
    }
    let (d20, d60) = (size_at[&19], size_at[&59]);
    assert!(
        (d60 as f64) < (d20 as f64) * 1.2,
        "state grew from {d20} bytes at day 20 to {d60} at day 60"
    );
}
