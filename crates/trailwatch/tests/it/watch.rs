//! `trailwatch watch`: files landing in a folder raise alerts; a kill -9
//! and a restart neither drop nor repeat alerts.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    bin, json_lines, lake_alert_ids, lake_event_ids, moto_with_boto3, path_str, run, s3_env,
    s3_upload, sample_geoip, sample_trail, source_event_ids, stdout,
};

fn trail_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root.join("AWSLogs"))
        .into_iter()
        .map(|e| e.expect("walk").path().to_path_buf())
        .filter(|p| p.is_file())
        .collect();
    // Delivery order: CloudTrail's file names carry the delivery stamp.
    files.sort_by_key(|p| {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let stamp = name.split('_').nth(3).unwrap_or("").to_string();
        (stamp, name)
    });
    files
}

/// Land a file the way a sync tool does: write aside, then rename.
fn land(src: &Path, from_root: &Path, to_root: &Path) {
    let rel = src.strip_prefix(from_root).expect("under root");
    let dst = to_root.join(rel);
    std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
    let tmp = dst.with_extension("partial");
    std::fs::copy(src, &tmp).expect("copy");
    std::fs::rename(&tmp, &dst).expect("rename");
}

fn start(watched: &Path, state: &Path, out: &Path) -> Child {
    start_with(path_str(watched), state, out, &[])
}

fn start_with(watched: &str, state: &Path, out: &Path, extra: &[&str]) -> Child {
    s3_env(&mut bin())
        // The sample trail delivers 8-hour files: lateness must cover them.
        .args([
            "watch",
            "-q",
            "--pack",
            "essential,responder",
            "--poll-ms",
            "200",
            "--lateness",
            "32400",
        ])
        .args([
            "--state",
            path_str(state),
            "--output",
            path_str(out),
            watched,
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch starts")
}

/// How many log files the checkpoint says are done.
fn processed(state: &Path) -> usize {
    std::fs::read(state.join("checkpoint.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["files"].as_u64())
        .unwrap_or(0) as usize
}

fn wait_for(state: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while processed(state) < n {
        assert!(
            Instant::now() < deadline,
            "watch processed {} of {n} files",
            processed(state)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Each alarm transition as (rule, state, time, dimensions), so live and
/// replay are compared one by one.
fn transitions(alerts: &[Value]) -> BTreeSet<(String, String, String, String)> {
    alerts
        .iter()
        .filter(|a| a["kind"] == "alarm")
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (
                s("rule_id"),
                s("state"),
                s("alert_time"),
                a["dimensions"].to_string(),
            )
        })
        .collect()
}

/// A watcher started on a trail that is all there (a backlog, a restart
/// after a while) takes its files in delivery order. The first file of
/// one prefix must not move event time past what the first files of the
/// others hold: an alarm evaluated before its data is in raises
/// transitions a replay never makes (here a CIS 4.1 ALARM at 02:54 for a
/// window the replay alarms at 02:49). Every transition is compared.
#[test]
fn alarm_transitions_are_a_function_of_the_data_not_of_arrival() {
    let sample = sample_trail();
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let mut w = bin()
        .args(["watch", "-q", "--pack", "all", "--poll", "200ms"])
        .args(["--state", path_str(&state.path().join("s")), "--output"])
        .arg(&out)
        .arg(&sample)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch starts");
    wait_for(&state.path().join("s"), trail_files(&sample).len());
    std::thread::sleep(Duration::from_millis(300));
    w.kill().expect("kill");
    let _ = w.wait();
    let live = json_lines(&std::fs::read_to_string(&out).expect("alerts"));
    let replay = run(&[
        "detect",
        "--format",
        "ndjson",
        "--pack",
        "all",
        path_str(&sample),
    ]);
    let reference = json_lines(&stdout(&replay));
    let (live, reference) = (transitions(&live), transitions(&reference));
    let extra: Vec<_> = live.difference(&reference).collect();
    assert!(
        extra.is_empty(),
        "watch made transitions the replay does not: {extra:#?}"
    );
    // What the watcher has not evaluated yet is the last day's, behind the
    // slowest prefix and the lateness.
    let missing: Vec<_> = reference
        .difference(&live)
        .filter(|t| t.2.as_str() < "2026-04-04T00:00:00Z")
        .collect();
    assert!(missing.is_empty(), "watch lacks: {missing:#?}");
    assert!(live.len() > 100, "{} transitions", live.len());
}

#[test]
fn a_watcher_writing_to_a_file_says_what_it_reads() {
    let sample = sample_trail();
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let log = std::fs::File::create(state.path().join("stderr")).expect("log");
    let mut w = bin()
        .args(["watch", "--pack", "essential", "--state"])
        .args([
            path_str(&state.path().join("s")),
            "--output",
            path_str(&out),
        ])
        .arg(&sample)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("watch starts");
    wait_for(&state.path().join("s"), trail_files(&sample).len());
    std::thread::sleep(Duration::from_millis(300));
    w.kill().expect("kill");
    let _ = w.wait();
    let said = std::fs::read_to_string(state.path().join("stderr")).expect("read");
    assert!(
        said.contains("read 72 new log files") && said.contains(path_str(&out)),
        "{said}"
    );
}

#[test]
fn kill_and_restart_neither_drops_nor_repeats_alerts() {
    let sample = sample_trail();
    let files = trail_files(&sample);
    let watched = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let half = files.len() / 2;

    let mut w = start(watched.path(), state.path(), &out);
    for f in &files[..half] {
        land(f, &sample, watched.path());
    }
    wait_for(state.path(), half);
    w.kill().expect("kill -9");
    let _ = w.wait();

    for f in &files[half..] {
        land(f, &sample, watched.path());
    }
    let mut w = start(watched.path(), state.path(), &out);
    wait_for(state.path(), files.len());
    // Let the last alerts reach the file, then stop.
    std::thread::sleep(Duration::from_millis(300));
    w.kill().expect("kill");
    let _ = w.wait();

    check_against_replay(&out);
}

/// The alerts `watch` wrote to `out` (NDJSON): none repeated, each one the
/// replay also raises, every finding of the replay present, and the
/// alarms the watermark reached. Returns their ids.
fn check_against_replay(out: &Path) -> HashSet<String> {
    check_against_replay_of(&sample_trail(), out)
}

/// [`check_against_replay`] for another trail.
/// The alerts `watch` wrote to `out` and the replay's over `trail`, after
/// checking that none was repeated and that each is one the replay raises.
fn watched_and_replayed(trail: &Path, out: &Path, pack: &str) -> (Vec<Value>, Vec<Value>) {
    let text = std::fs::read_to_string(out).expect("alerts written");
    let alerts: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let ids: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["alert_id"].as_str())
        .collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an alert was repeated");
    let replay = run(&[
        "detect",
        "--format",
        "ndjson",
        "--pack",
        pack,
        path_str(trail),
    ]);
    let reference: Vec<Value> = String::from_utf8_lossy(&replay.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let ref_ids: HashSet<&str> = reference
        .iter()
        .filter_map(|a| a["alert_id"].as_str())
        .collect();
    for id in &unique {
        assert!(
            ref_ids.contains(id),
            "watch raised {id}, which the replay did not"
        );
    }
    (alerts, reference)
}

fn check_against_replay_of(sample: &Path, out: &Path) -> HashSet<String> {
    let (alerts, reference) = watched_and_replayed(sample, out, "essential,responder");
    let unique: HashSet<&str> = alerts
        .iter()
        .filter_map(|a| a["alert_id"].as_str())
        .collect();
    // The replay's alerts are the reference: every finding, and every alarm
    // transition the watermark has reached, with the same ids.
    let findings: HashSet<&str> = reference
        .iter()
        .filter(|a| a["kind"] == "finding")
        .filter_map(|a| a["alert_id"].as_str())
        .collect();
    let missing: Vec<&&str> = findings.iter().filter(|f| !unique.contains(**f)).collect();
    assert!(missing.is_empty(), "findings dropped: {missing:?}");
    let alarms = alerts
        .iter()
        .filter(|a| a["kind"] == "alarm" && a["state"] == "ALARM")
        .count();
    assert!(alarms >= 8, "only {alarms} ALARM alerts");
    unique.into_iter().map(str::to_string).collect()
}

#[test]
fn with_a_lake_watch_ingests_the_files_and_files_the_alerts() {
    let sample = sample_trail();
    let files = trail_files(&sample);
    let watched = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let lake = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let mut w = start_with(
        path_str(watched.path()),
        state.path(),
        &out,
        &["--lake", path_str(lake.path()), "--ingest-interval", "0"],
    );
    for f in &files {
        land(f, &sample, watched.path());
    }
    wait_for(state.path(), files.len());
    let expected = source_event_ids(&sample);
    let deadline = Instant::now() + Duration::from_secs(60);
    while lake_event_ids(lake.path()) != expected {
        assert!(Instant::now() < deadline, "the lake never held every event");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(300));
    w.kill().expect("kill");
    let _ = w.wait();
    let emitted = check_against_replay(&out);
    let mut emitted: Vec<String> = emitted.into_iter().collect();
    emitted.sort();
    assert_eq!(lake_alert_ids(lake.path()), emitted);
}

#[test]
fn watch_polls_an_s3_prefix_and_resumes_after_a_kill() {
    let Some(moto) = moto_with_boto3() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let sample = sample_trail();
    let files = trail_files(&sample);
    let half = files.len() / 2;
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let extra = ["--endpoint-url", endpoint.as_str()];
    s3_upload(&endpoint, "trail", "logs/", &sample, &files[..half]);
    let mut w = start_with("s3://trail/logs/", state.path(), &out, &extra);
    wait_for(state.path(), half);
    w.kill().expect("kill -9");
    let _ = w.wait();
    s3_upload(&endpoint, "trail", "logs/", &sample, &files[half..]);
    let mut w = start_with("s3://trail/logs/", state.path(), &out, &extra);
    wait_for(state.path(), files.len());
    std::thread::sleep(Duration::from_millis(300));
    w.kill().expect("kill");
    let _ = w.wait();
    check_against_replay(&out);
}

#[test]
fn digests_are_validated_as_they_land_and_tampering_raises_a_p1_alert() {
    let signed = tempfile::tempdir().expect("tempdir");
    let key = crate::support::repo_root().join("examples/keys/demo-signing-key.pk8");
    let made = run(&[
        "generate",
        "-q",
        "--events",
        "1200",
        "--days",
        "2",
        "--out",
        path_str(signed.path()),
        "--signing-key",
        path_str(&key),
    ]);
    assert_eq!(made.status.code(), Some(0));
    let watched = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let keys = signed.path().join("public-keys.json");
    let mut w = start_with(
        path_str(watched.path()),
        state.path(),
        &out,
        &["--public-keys", path_str(&keys)],
    );
    let all = crate::support::files_under(&signed.path().join("AWSLogs"));
    let (sidecars, rest): (Vec<PathBuf>, Vec<PathBuf>) = all
        .into_iter()
        .partition(|p| p.to_string_lossy().ends_with(".signature"));
    let (digests, logs): (Vec<PathBuf>, Vec<PathBuf>) = rest
        .into_iter()
        .partition(|p| p.to_string_lossy().contains("CloudTrail-Digest"));
    // The log an attacker rewrote before it reached the mirror.
    let victim = logs[3].clone();
    let rel = victim
        .strip_prefix(signed.path())
        .expect("under root")
        .to_path_buf();
    for f in sidecars.iter().chain(&logs) {
        land(f, signed.path(), watched.path());
    }
    let tampered = watched.path().join(&rel);
    let body = std::fs::read(&tampered).expect("read");
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2_decoder(&body), &mut text).expect("gunzip");
    let text = String::from_utf8(text)
        .expect("utf8")
        .replacen("eventTime", "eventTimf", 1);
    std::fs::write(&tampered, crate::support::gzip(text.as_bytes())).expect("write");
    for f in &digests {
        land(f, signed.path(), watched.path());
    }
    let rel_key = rel.to_string_lossy().replace('\\', "/");
    let deadline = Instant::now() + Duration::from_secs(60);
    let alerts = loop {
        let alerts: Vec<Value> = std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        if alerts.iter().any(|a| a["rule_id"] == "log-tampering") {
            break alerts;
        }
        assert!(Instant::now() < deadline, "no log-tampering alert");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(500));
    w.kill().expect("kill");
    let _ = w.wait();
    let tampering: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule_id"] == "log-tampering")
        .collect();
    assert_eq!(tampering.len(), 1, "{tampering:#?}");
    assert_eq!(tampering[0]["severity"], "P1");
    assert_eq!(tampering[0]["dimensions"]["object"], rel_key.as_str());
    assert!(
        tampering[0]["description"]
            .as_str()
            .expect("text")
            .contains("HashMismatch")
    );
    assert!(!alerts.iter().any(|a| a["rule_id"] == "log-delivery-gap"));
}

fn flate2_decoder(bytes: &[u8]) -> impl std::io::Read + '_ {
    flate2::read::GzDecoder::new(bytes)
}

/// The sample trail copied to `dir`, with one record dated 2099 added to an
/// early log file.
fn trail_with_a_record_from_2099(dir: &Path) -> PathBuf {
    let sample = sample_trail();
    let copy = dir.join("trail");
    for f in trail_files(&sample) {
        let dst = copy.join(f.strip_prefix(&sample).unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dst).unwrap();
    }
    let early = trail_files(&copy)[2].clone();
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&early).unwrap()),
        &mut text,
    )
    .unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let records = doc["Records"].as_array_mut().unwrap();
    let mut future = records[0].clone();
    future["eventTime"] = Value::from("2099-01-01T00:00:00Z");
    future["eventID"] = Value::from("from-the-future");
    records.push(future);
    std::fs::write(&early, crate::support::gzip(doc.to_string().as_bytes())).unwrap();
    copy
}

#[test]
fn one_record_from_the_future_does_not_silence_the_alarms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = trail_with_a_record_from_2099(dir.path());
    let files = trail_files(&trail);
    let watched = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let mut w = start(watched.path(), state.path(), &out);
    for f in &files {
        land(f, &trail, watched.path());
    }
    wait_for(state.path(), files.len());
    std::thread::sleep(Duration::from_millis(300));
    w.kill().expect("kill");
    let _ = w.wait();
    // Every alert the replay raises, alarms included (>= 8 ALARM alerts:
    // before the fix the watermark jumped to 2099 and none came).
    let ids = check_against_replay_of(&trail, &out);
    let text = std::fs::read_to_string(&out).unwrap();
    let suspicious: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a["rule_id"] == "event-time-out-of-range")
        .collect();
    assert_eq!(suspicious.len(), 1, "{suspicious:?}");
    assert_eq!(suspicious[0]["event_ids"][0], "from-the-future");
    assert!(ids.len() > 30, "{}", ids.len());
}

#[test]
fn prefixes_landing_one_after_another_are_not_late() {
    // A backlog copied account by account and region by region within each
    // day: every prefix after the first once counted as late.
    let sample = sample_trail();
    let mut files = trail_files(&sample);
    let key = |p: &PathBuf| {
        let rel: Vec<String> = p
            .strip_prefix(&sample)
            .unwrap()
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        // AWSLogs/<account>/CloudTrail/<region>/<y>/<m>/<d>/<file>
        (rel[4..7].join("/"), rel[1].clone(), rel[3].clone())
    };
    files.sort_by_key(|p| (key(p), p.clone()));
    let watched = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let mut w = start(watched.path(), state.path(), &out);
    let mut landed = 0;
    let mut i = 0;
    while i < files.len() {
        let group = key(&files[i]);
        while i < files.len() && key(&files[i]) == group {
            land(&files[i], &sample, watched.path());
            i += 1;
            landed += 1;
        }
        // The watcher takes each prefix before the next one lands.
        wait_for(state.path(), landed);
    }
    std::thread::sleep(Duration::from_millis(300));
    w.kill().expect("kill");
    let _ = w.wait();
    check_against_replay(&out);
}

#[test]
fn a_half_written_file_is_retried_until_complete_not_marked_done() {
    let sample = sample_trail();
    let files = trail_files(&sample);
    let watched = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let log = state.path().join("watch.log");
    let mut w = s3_env(&mut bin())
        .args(["watch", "--pack", "essential,responder", "--poll-ms", "200"])
        .args(["--lateness", "32400", "--stuck-after", "1"])
        .args([
            "--state",
            path_str(state.path()),
            "--output",
            path_str(&out),
        ])
        .arg(path_str(watched.path()))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("watch starts");
    let (last, rest) = files.split_last().unwrap();
    for f in rest {
        land(f, &sample, watched.path());
    }
    wait_for(state.path(), rest.len());
    // The last file, written in place and cut short (closed mid-copy).
    let bytes = std::fs::read(last).unwrap();
    let dst = watched.path().join(last.strip_prefix(&sample).unwrap());
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::write(&dst, &bytes[..bytes.len() / 2]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("not been readable completely")
    {
        assert!(
            Instant::now() < deadline,
            "no error for the stuck file: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        processed(state.path()),
        rest.len(),
        "a cut file was marked done"
    );
    // The rest of it arrives: taken without a restart.
    std::fs::write(&dst, &bytes).unwrap();
    wait_for(state.path(), files.len());
    std::thread::sleep(Duration::from_millis(300));
    w.kill().expect("kill");
    let _ = w.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(path_str(&dst)), "{text}");
    check_against_replay(&out);
}

/// Start a watcher over `watched` with its log in `log`; returns it once
/// it is watching, with how long that took (the restart time).
/// How many folders the watcher watches, from its start line.
fn folders_watched(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains("watching"))
        .expect("start line");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("folders="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no folder count in {line:?}"))
}

/// The packs of the month-long soak test.
const SOAK_PACKS: &str = "essential,responder,cis";

fn start_timed(watched: &Path, state: &Path, out: &Path, log: &Path) -> (Child, Duration) {
    let started = Instant::now();
    let child = s3_env(&mut bin())
        // The CIS alarms too: their transitions are compared one by one
        // with the replay's. (Not the correlation pack: its per-identity
        // state rightly grows over the month, up to its 30-day idle expiry,
        // and it has its own live-against-replay test.)
        .args(["watch", "--pack", SOAK_PACKS, "--poll-ms", "200"])
        // Files land in order here: a day of late horizon is plenty, and
        // keeps the saved state to a day's alarm samples.
        .args(["--lateness", "32400", "--late-horizon", "86400"])
        .args(["--state", path_str(state), "--output", path_str(out)])
        .arg(path_str(watched))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log"))
        .spawn()
        .expect("watch starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("watching")
    {
        assert!(Instant::now() < deadline, "the watcher did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    (child, started.elapsed())
}

/// Bytes in a folder (not below it).
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("state")
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[test]
fn a_month_landing_day_by_day_with_kills_keeps_state_flat_and_alerts_exact() {
    let made = tempfile::tempdir().expect("tempdir");
    let trail = made.path().join("trail");
    let out = run(&[
        "generate",
        "-q",
        "--events",
        "6000",
        "--days",
        "30",
        "--out",
        path_str(&trail),
    ]);
    assert!(out.status.success());
    let files = trail_files(&trail);
    let day_of = |p: &PathBuf| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.split('_').nth(3).unwrap_or("")[..8].to_string()
    };
    let mut days: Vec<Vec<PathBuf>> = Vec::new();
    for f in &files {
        match days.last_mut() {
            Some(d) if day_of(&d[0]) == day_of(f) => d.push(f.clone()),
            _ => days.push(vec![f.clone()]),
        }
    }
    assert!(days.len() >= 30, "{} delivery days", days.len());
    let watched = tempfile::tempdir().expect("tempdir");
    let state_root = tempfile::tempdir().expect("tempdir");
    let state = state_root.path().join("state");
    let out = state_root.path().join("alerts.ndjson");
    let log = state_root.path().join("watch.log");
    let (mut w, _) = start_timed(watched.path(), &state, &out, &log);
    let mut landed = 0;
    // (day, state bytes, median restart time, folders watched) after days
    // 3, 10, 20 and 30.
    let mut measured: Vec<(usize, u64, Duration, usize)> = Vec::new();
    for (i, day) in days.iter().enumerate() {
        for f in day {
            land(f, &trail, watched.path());
        }
        landed += day.len();
        wait_for(&state, landed);
        let day_no = i + 1;
        if [3, 10, 20].contains(&day_no) || i + 1 == days.len() {
            // kill -9, then restart: three times, for a steady restart time.
            let mut times = Vec::new();
            let mut bytes = 0;
            for _ in 0..3 {
                w.kill().expect("kill -9");
                let _ = w.wait();
                bytes = folder_bytes(&state);
                let (again, took) = start_timed(watched.path(), &state, &out, &log);
                w = again;
                times.push(took);
            }
            times.sort();
            measured.push((day_no, bytes, times[1], folders_watched(&log)));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    w.kill().expect("kill");
    let _ = w.wait();

    let (_, bytes_3, restart_3, folders_3) = measured[0];
    let (_, bytes_30, restart_30, folders_30) = *measured.last().expect("measured");
    eprintln!("state, restart and folders watched: {measured:?}");
    // What a restart sets up does not grow with the trail: done days are
    // neither walked nor watched. (Across a month's end the previous
    // month's folder of each region is still live, one more per region.)
    let regions: HashSet<String> = files
        .iter()
        .filter_map(|p| Some(p.parent()?.parent()?.parent()?.parent()?.to_path_buf()))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        folders_30 <= folders_3 + regions.len(),
        "{folders_3} folders watched after day 3, {folders_30} after day 30 ({} regions)",
        regions.len()
    );
    assert!(
        (bytes_30 as f64) <= 1.2 * bytes_3 as f64,
        "state grew from {bytes_3} bytes after day 3 to {bytes_30} after day 30"
    );
    assert!(
        restart_30.as_secs_f64() <= 1.2 * restart_3.as_secs_f64() + 0.05,
        "restart took {restart_3:?} after day 3, {restart_30:?} after day 30"
    );

    // Alerts: none repeated, none the replay lacks, and every alert the
    // replay raises before the watcher's lateness window is there.
    let (alerts, reference) = watched_and_replayed(&trail, &out, SOAK_PACKS);
    let unique: HashSet<&str> = alerts
        .iter()
        .filter_map(|a| a["alert_id"].as_str())
        .collect();
    let last_time = reference
        .iter()
        .filter_map(|a| a["alert_time"].as_str())
        .max()
        .expect("alerts")
        .to_string();
    let cutoff = chrono::DateTime::parse_from_rfc3339(&last_time).expect("time")
        - chrono::TimeDelta::days(2);
    let missing: Vec<&Value> = reference
        .iter()
        .filter(|a| {
            chrono::DateTime::parse_from_rfc3339(a["alert_time"].as_str().unwrap_or_default())
                .is_ok_and(|t| t < cutoff)
        })
        .filter(|a| !unique.contains(a["alert_id"].as_str().unwrap_or_default()))
        .collect();
    assert!(missing.is_empty(), "dropped: {missing:#?}");
}

/// The correlation detections keep their state across a kill -9 (it is
/// saved with the pipeline) and raise live what the replay raises: none
/// repeated, none the replay lacks, every one before the lateness window
/// there.
#[test]
fn correlation_alerts_live_equal_the_replay_across_a_kill() {
    let geo_dir = tempfile::tempdir().expect("tempdir");
    let Some(db) = sample_geoip(geo_dir.path()) else {
        return;
    };
    let sample = sample_trail();
    let files = trail_files(&sample);
    let watched = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let spawn = || {
        s3_env(&mut bin())
            .args([
                "watch",
                "-q",
                "--pack",
                "correlation",
                "--geoip",
                path_str(&db),
            ])
            .args(["--poll", "200ms", "--lateness", "9h"])
            .args([
                "--state",
                path_str(state.path()),
                "--output",
                path_str(&out),
            ])
            .arg(path_str(watched.path()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("watch starts")
    };
    // Killed after the intern's escalation has begun (day 3 of 4).
    let cut = files.len() * 3 / 4;
    let mut w = spawn();
    for f in &files[..cut] {
        land(f, &sample, watched.path());
    }
    wait_for(state.path(), cut);
    w.kill().expect("kill -9");
    let _ = w.wait();
    let mut w = spawn();
    for f in &files[cut..] {
        land(f, &sample, watched.path());
    }
    wait_for(state.path(), files.len());
    std::thread::sleep(Duration::from_millis(500));
    w.kill().expect("kill");
    let _ = w.wait();

    let live = json_lines(&std::fs::read_to_string(&out).expect("alerts"));
    let live_ids: Vec<&str> = live.iter().filter_map(|a| a["alert_id"].as_str()).collect();
    let unique: HashSet<&str> = live_ids.iter().copied().collect();
    assert_eq!(unique.len(), live_ids.len(), "an alert was repeated");
    let replay = run(&[
        "detect",
        "--format",
        "ndjson",
        "--pack",
        "correlation",
        "--geoip",
        path_str(&db),
        path_str(&sample),
    ]);
    let reference: Vec<Value> = String::from_utf8_lossy(&replay.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let ref_ids: HashSet<&str> = reference
        .iter()
        .filter_map(|a| a["alert_id"].as_str())
        .collect();
    assert!(
        unique.is_subset(&ref_ids),
        "live alerts the replay lacks: {live:#?}"
    );
    // Everything before the last 12 hours of the trail (past the lateness
    // the watcher waits) is there.
    let missing: Vec<&Value> = reference
        .iter()
        .filter(|a| a["alert_time"].as_str().unwrap_or("") < "2026-04-04T12:00:00Z")
        .filter(|a| !unique.contains(a["alert_id"].as_str().unwrap_or("")))
        .collect();
    assert!(missing.is_empty(), "not raised live: {missing:#?}");
    let rules: HashSet<&str> = live.iter().filter_map(|a| a["rule_id"].as_str()).collect();
    for r in [
        "privilege-escalation",
        "s3-exfiltration",
        "iam-persistence",
        "impossible-travel",
    ] {
        assert!(rules.contains(r), "{r} not raised live: {rules:?}");
    }
}

/// Sigma correlation rules live: `watch` with the example correlations is
/// killed hours after carol's failed sign-ins (still inside the lateness
/// it waits, so their hits are in the saved state, not yet counted) and
/// restarted; it raises exactly the replay's two correlation alerts.
#[test]
fn sigma_correlations_live_equal_the_replay_across_a_kill() {
    let sample = sample_trail();
    let files = trail_files(&sample);
    let rules = crate::support::repo_root().join("examples/sigma");
    let watched = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let out = state.path().join("alerts.ndjson");
    let spawn = || {
        s3_env(&mut bin())
            .args(["watch", "-q", "--pack", "none", "--rules", path_str(&rules)])
            .args(["--poll-ms", "200", "--lateness", "32400"])
            .args([
                "--state",
                path_str(state.path()),
                "--output",
                path_str(&out),
            ])
            .arg(path_str(watched.path()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("watch starts")
    };
    // Files delivered through 2026-04-03 12:05, the sample's 12-hour file
    // holding the failed sign-ins at 04:48: event time is not 9 hours
    // past them yet, so they wait in the saved state.
    let cut = files
        .iter()
        .filter(|f| {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.split('_').nth(3).unwrap_or("") < "20260403T1300Z"
        })
        .count();
    assert!(cut > 0 && cut < files.len());
    let mut w = spawn();
    for f in &files[..cut] {
        land(f, &sample, watched.path());
    }
    wait_for(state.path(), cut);
    w.kill().expect("kill -9");
    let _ = w.wait();
    let before = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        !before.contains("0b8f3c0e-6d3a-4c61-9b55-2f7d8c1a9e01"),
        "the brute force was counted before its lateness passed: {before}"
    );
    let mut w = spawn();
    for f in &files[cut..] {
        land(f, &sample, watched.path());
    }
    wait_for(state.path(), files.len());
    std::thread::sleep(Duration::from_millis(500));
    w.kill().expect("kill");
    let _ = w.wait();
    let live = json_lines(&std::fs::read_to_string(&out).expect("alerts"));
    let replay = run(&[
        "detect",
        "--format",
        "ndjson",
        "--pack",
        "none",
        "--rules",
        path_str(&rules),
        path_str(&sample),
    ]);
    let reference: Vec<Value> = String::from_utf8_lossy(&replay.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let ids = |v: &[Value]| -> Vec<String> {
        let mut ids: Vec<String> = v
            .iter()
            .filter_map(|a| a["alert_id"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(reference.len(), 2, "{reference:#?}");
    assert_eq!(ids(&live), ids(&reference), "{live:#?}");
}

/// The event ids of an S3 lake, sorted (through `query`).
fn s3_lake_event_ids(endpoint: &str, lake: &str) -> Vec<String> {
    let out = s3_env(&mut bin())
        .args([
            "query",
            "-q",
            "--endpoint-url",
            endpoint,
            "--lake",
            lake,
            "--format",
            "csv",
            "SELECT eventid FROM cloudtrail_logs ORDER BY eventid",
        ])
        .output()
        .expect("query");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::support::stderr(&out)
    );
    stdout(&out).lines().skip(1).map(str::to_string).collect()
}

/// The alert ids in an NDJSON output.
fn alert_ids(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json line");
            v["alert_id"].as_str().expect("alert_id").to_string()
        })
        .collect()
}

/// Two watchers sharing a trail in S3 (`--shard 1/2`, `--shard 2/2`) and
/// one S3 lake raise together exactly the alerts one watcher raises, none
/// twice, and the lake holds every event once.
#[test]
fn two_sharded_watchers_find_what_one_finds_and_store_each_event_once() {
    let Some(moto) = moto_with_boto3() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let sample = sample_trail();
    let files = trail_files(&sample);
    s3_upload(&endpoint, "trail", "logs/", &sample, &files);
    s3_upload(&endpoint, "lake", "", &sample, &[]);
    let work = tempfile::tempdir().expect("tempdir");
    let watcher = |name: &str, lake: &str, shard: Option<&str>| {
        let state = work.path().join(name);
        let out = work.path().join(format!("{name}.ndjson"));
        let mut extra = vec![
            "--endpoint-url",
            endpoint.as_str(),
            "--lake",
            lake,
            "--ingest-interval",
            "0",
        ];
        if let Some(s) = shard {
            extra.extend(["--shard", s]);
        }
        let child = start_with("s3://trail/logs/", &state, &out, &extra);
        (child, state, out)
    };
    // One watcher: the reference.
    let (mut one, one_state, one_out) = watcher("one", "s3://lake/one", None);
    wait_for(&one_state, files.len());
    // Two shards of the same trail, one lake.
    let (mut a, a_state, a_out) = watcher("a", "s3://lake/sharded", Some("1/2"));
    let (mut b, b_state, b_out) = watcher("b", "s3://lake/sharded", Some("2/2"));
    let deadline = Instant::now() + Duration::from_secs(90);
    while processed(&a_state) + processed(&b_state) < files.len() {
        assert!(
            Instant::now() < deadline,
            "the shards took {} + {} of {} files",
            processed(&a_state),
            processed(&b_state),
            files.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Each took a share, and no file twice.
    assert!(processed(&a_state) > 0 && processed(&b_state) > 0);
    assert_eq!(processed(&a_state) + processed(&b_state), files.len());
    let expected = source_event_ids(&sample);
    for lake in ["s3://lake/one", "s3://lake/sharded"] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while s3_lake_event_ids(&endpoint, lake) != expected {
            assert!(
                Instant::now() < deadline,
                "{lake}: {} events, {} expected",
                s3_lake_event_ids(&endpoint, lake).len(),
                expected.len()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    for w in [&mut one, &mut a, &mut b] {
        w.kill().expect("kill");
        let _ = w.wait();
    }
    let reference = alert_ids(&one_out);
    let (from_a, from_b) = (alert_ids(&a_out), alert_ids(&b_out));
    assert!(!from_a.is_empty() && !from_b.is_empty());
    let a_set: HashSet<&String> = from_a.iter().collect();
    let twice: Vec<&String> = from_b.iter().filter(|id| a_set.contains(id)).collect();
    assert!(twice.is_empty(), "raised by both shards: {twice:?}");
    let mut together: Vec<String> = from_a.into_iter().chain(from_b).collect();
    together.sort();
    let mut reference = reference;
    reference.sort();
    assert_eq!(
        together, reference,
        "the shards' alerts differ from one watcher's"
    );
}

/// Security Lake's kind of files (an OCSF export of the sample) landing in
/// a watched folder, alerts written as OCSF Detection Findings: each
/// finding of the replay once, across a kill.
#[test]
fn watch_reads_ocsf_parquet_as_it_lands_and_writes_detection_findings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    crate::support::ingest_sample(&lake);
    let export = dir.path().join("export");
    let o = run(&[
        "export",
        "ocsf",
        "-q",
        "--lake",
        path_str(&lake),
        "--out",
        path_str(&export),
    ]);
    assert!(o.status.success(), "{}", crate::support::stderr(&o));
    let files = crate::support::files_under(&export);
    let watched = dir.path().join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("findings.ndjson");
    let ocsf = ["--format", "ocsf"];
    let half = files.len() / 2;
    let mut w = start_with(path_str(&watched), &state, &out, &ocsf);
    for f in &files[..half] {
        land(f, &export, &watched);
    }
    wait_for(&state, half);
    w.kill().expect("kill -9");
    let _ = w.wait();
    for f in &files[half..] {
        land(f, &export, &watched);
    }
    let mut w = start_with(path_str(&watched), &state, &out, &ocsf);
    wait_for(&state, files.len());
    std::thread::sleep(Duration::from_millis(300));
    w.kill().expect("kill");
    let _ = w.wait();

    let text = std::fs::read_to_string(&out).expect("findings written");
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            let f: Value = serde_json::from_str(l).expect("json line");
            assert_eq!(f["class_uid"], 2004, "{f}");
            f["finding_info"]["uid"].as_str().expect("uid").to_string()
        })
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a finding was repeated");
    let replay = run(&[
        "detect",
        "--format",
        "ndjson",
        "--pack",
        "essential,responder",
        path_str(&sample_trail()),
    ]);
    let findings: Vec<String> = String::from_utf8_lossy(&replay.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|a| a["kind"] == "finding")
        .map(|a| a["alert_id"].as_str().unwrap().to_string())
        .collect();
    assert!(findings.len() >= 10);
    for f in &findings {
        assert!(
            unique.contains(f),
            "the replay's finding {f} is not among watch's"
        );
    }
}
