//! A story followed over a handful of records: minted keys are followed,
//! look-alikes sharing names are not, loops end, the depth limit is said.

use super::tests_support::event;
use super::*;

/// A record made with `key` by `arn`, at minute `min`.
fn rec(id: &str, min: u32, name: &str, key: &str, arn: &str, extra: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-04-01T10:{min:02}:00Z","awsRegion":"us-east-1","eventID":"{id}","eventType":"AwsApiCall","eventSource":"x.amazonaws.com","eventName":"{name}","sourceIPAddress":"198.51.100.7","userIdentity":{{"type":"IAMUser","arn":"{arn}","accountId":"111111111111","accessKeyId":"{key}"}}{extra}}}"#
    )
}

fn assume(id: &str, min: u32, key: &str, arn: &str, new_key: &str) -> String {
    rec(
        id,
        min,
        "AssumeRole",
        key,
        arn,
        &format!(
            r#","responseElements":{{"credentials":{{"accessKeyId":"{new_key}"}},"assumedRoleUser":{{"arn":"arn:aws:sts::222222222222:assumed-role/R/s"}}}},"sharedEventID":"sh-{id}""#
        ),
    )
}

const USER: &str = "arn:aws:iam::111111111111:user/u";
const SESSION: &str = "arn:aws:sts::222222222222:assumed-role/R/s";

/// Feed `records` to a story in hops, as a reader of the whole trail.
fn follow(subject: Subject, depth: u32, records: &[String]) -> Report {
    let mut story = Story::new(subject.clone(), depth);
    for r in records {
        event(r, |e| {
            if subject.names(e) {
                story.start_from(e, subject.lookup_is_complete());
            }
        });
    }
    loop {
        let keys = story.take_pending();
        if keys.is_empty() {
            break;
        }
        for r in records {
            event(r, |e| {
                if e.user_identity
                    .as_ref()
                    .and_then(|u| u.access_key_id.as_deref())
                    .is_some_and(|k| keys.iter().any(|x| x == k))
                {
                    story.observe(e);
                }
            });
        }
    }
    story.finish(None, None, &FirstSeen::default(), Vec::new(), &|_| None)
}

fn ids(r: &Report) -> Vec<&str> {
    r.events.iter().map(|e| e.event_id.as_str()).collect()
}

fn trail() -> Vec<String> {
    vec![
        rec("1", 1, "GetCallerIdentity", "AKIALEAK", USER, ""),
        assume("2", 2, "AKIALEAK", USER, "ASIAONE"),
        rec("3", 3, "ListBuckets", "ASIAONE", SESSION, ""),
        // The same role and session name, another key: a look-alike.
        rec("4", 4, "ListBuckets", "ASIAOTHER", SESSION, ""),
        // Another key of the same user: a look-alike.
        rec("5", 5, "ListUsers", "AKIASECOND", USER, ""),
        assume("6", 6, "ASIAONE", SESSION, "ASIATWO"),
        rec("7", 7, "StopLogging", "ASIATWO", SESSION, ""),
        // A loop: the second session mints the first one's key again.
        assume("8", 8, "ASIATWO", SESSION, "ASIAONE"),
    ]
}

#[test]
fn minted_keys_are_followed_and_look_alikes_are_not() {
    let r = follow(Subject::AccessKey("AKIALEAK".into()), 5, &trail());
    assert_eq!(ids(&r), ["1", "2", "3", "6", "7", "8"]);
    let keys: Vec<(&str, u32, Option<&str>)> = r
        .credentials
        .iter()
        .map(|c| (c.access_key_id.as_str(), c.depth, c.parent.as_deref()))
        .collect();
    assert_eq!(
        keys,
        [
            ("AKIALEAK", 0, None),
            ("ASIAONE", 1, Some("AKIALEAK")),
            ("ASIATWO", 2, Some("ASIAONE"))
        ]
    );
    assert_eq!(r.credentials[1].issued_by_event.as_deref(), Some("2"));
    assert_eq!(r.credentials[1].principal.as_deref(), Some(SESSION));
    assert_eq!(r.tampering.len(), 1);
    assert!(r.not_followed.is_empty());
}

#[test]
fn the_depth_limit_is_reported_not_silent() {
    let r = follow(Subject::AccessKey("AKIALEAK".into()), 1, &trail());
    assert_eq!(ids(&r), ["1", "2", "3", "6"]);
    assert_eq!(r.not_followed.len(), 1);
    assert_eq!(r.not_followed[0].access_key_id, "ASIATWO");
    assert_eq!(r.not_followed[0].issued_by_event, "6");
}

#[test]
fn a_principal_is_every_key_it_used() {
    let r = follow(Subject::Principal(USER.into()), 0, &trail());
    assert_eq!(ids(&r), ["1", "2", "5"]);
    assert_eq!(r.not_followed.len(), 1);
}

#[test]
fn alike_events_collapse_into_runs() {
    let records: Vec<String> = (0..5)
        .map(|i| {
            rec(
                &format!("g{i}"),
                i,
                "GetObject",
                "AKIALEAK",
                USER,
                r#","requestParameters":{"bucketName":"b"},"readOnly":true"#,
            )
        })
        .chain([rec("z", 9, "PutObject", "AKIALEAK", USER, "")])
        .collect();
    let r = follow(Subject::AccessKey("AKIALEAK".into()), 5, &records);
    let runs = r.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].count, 5);
    assert_eq!(runs[0].first.resource.as_deref(), Some("arn:aws:s3:::b"));
    assert_eq!(runs[0].last_time, "2026-04-01T10:04:00Z");
    assert_eq!(r.resources[0].reads, 5);
}

#[test]
fn a_value_first_seen_with_the_story_is_new() {
    let records = trail();
    let mut story = Story::new(Subject::AccessKey("AKIALEAK".into()), 5);
    for r in &records[..2] {
        event(r, |e| {
            story.observe(e);
        });
    }
    let mut lake = FirstSeen::default();
    lake.ips
        .insert("198.51.100.7".into(), "2026-04-01T10:01:00Z".into());
    lake.regions
        .insert("us-east-1".into(), "2025-01-01T00:00:00Z".into());
    let r = story.finish(None, None, &lake, Vec::new(), &|_| Some("Somewhere".into()));
    assert!(r.source_ips[0].new);
    assert_eq!(r.source_ips[0].geo.as_deref(), Some("Somewhere"));
    assert!(!r.regions[0].new);
}
