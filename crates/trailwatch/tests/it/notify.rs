//! Notifications against real receivers on 127.0.0.1: a Python HTTP server
//! (webhook, Slack, PagerDuty), aiosmtpd (email) and moto (SNS). Each test
//! starts its receivers, delivers the sample trail's alerts through the
//! outbox, and inspects what arrived.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    SNS_READ, SNS_SETUP, bin, free_port, have_tool, path_str, python, python_has, run, s3_env,
    sample_trail, start_moto, stderr, stdout,
};

fn receivers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/receivers")
}

/// A receiver process, killed on drop.
struct Receiver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a receiver script on `port` (0: it picks one) logging to `log`;
/// it prints its port once it listens.
fn start_receiver(script: &str, log: &Path, port: u16, extra: &[&str]) -> Receiver {
    let mut child = Command::new("python3")
        .arg(receivers_dir().join(script))
        .args(["--log", path_str(log), "--port", &port.to_string()])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the receiver prints its port");
    Receiver {
        child,
        port,
        log: log.to_path_buf(),
    }
}

/// Start `http_receiver.py` (on `port`, or a free one) logging to `log`.
fn http_receiver(log: &Path, port: Option<u16>, extra: &[&str]) -> Receiver {
    start_receiver("http_receiver.py", log, port.unwrap_or(0), extra)
}

/// The requests a receiver logged.
fn requests(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Alert ids in the webhook envelopes the receiver accepted (2xx), with
/// repeats.
fn accepted_ids(log: &Path) -> Vec<String> {
    requests(log)
        .iter()
        .filter(|r| r["status"].as_u64().unwrap() < 300)
        .flat_map(|r| {
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            body["alert_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The sample trail's alerts as NDJSON (what `notify send` reads), and
/// their ids.
fn sample_alerts(dir: &Path) -> (PathBuf, BTreeSet<String>) {
    let out = run(&[
        "detect",
        "--pack",
        "essential,responder",
        "--format",
        "ndjson",
        path_str(&sample_trail()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = dir.join("alerts.ndjson");
    std::fs::write(&path, &out.stdout).unwrap();
    let ids: BTreeSet<String> = stdout(&out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["alert_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(ids.len() >= 10, "the sample raises alerts: {}", ids.len());
    (path, ids)
}

/// A config with one route to every sink listed, and an outbox in `dir`.
fn write_config(dir: &Path, sinks: &str) -> PathBuf {
    let names: Vec<String> = sinks
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[notify.sink."))
        .map(|n| format!("{:?}", n.trim_end_matches(']')))
        .collect();
    let text = format!(
        "[notify]\noutbox = {:?}\n\n[[notify.route]]\nsinks = [{}]\n\n{sinks}\n",
        path_str(&dir.join("outbox")),
        names.join(", ")
    );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn notify(args: &[&str], config: &Path) -> std::process::Output {
    let mut cmd = bin();
    cmd.arg("notify")
        .args(args)
        .args(["--config", path_str(config)]);
    cmd.output().unwrap()
}

fn status(config: &Path) -> Vec<Value> {
    let out = notify(&["status", "--json"], config);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn need_python_receivers() -> bool {
    have_tool(Command::new("python3").arg("--version"), "python3")
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A webhook receiver scripted through a control file (initially
/// `control`), a config with one webhook sink `hook` pointed at it (`sink`
/// adds TOML lines to the sink; `{port}` is replaced), and the sample's
/// alerts.
struct Hook {
    dir: tempfile::TempDir,
    control: PathBuf,
    rx: Receiver,
    config: PathBuf,
    alerts: PathBuf,
    ids: BTreeSet<String>,
}

fn hook(control: &str, receiver_args: &[&str], sink: &str) -> Hook {
    let dir = tempfile::tempdir().unwrap();
    let control_path = dir.path().join("control.json");
    std::fs::write(&control_path, control).unwrap();
    let mut args = vec!["--control", path_str(&control_path)];
    args.extend_from_slice(receiver_args);
    let rx = http_receiver(&dir.path().join("rx.ndjson"), None, &args);
    let config = write_config(
        dir.path(),
        &format!(
            "[notify.sink.hook]\ntype = \"webhook\"\n{}\n",
            sink.replace("{port}", &rx.port.to_string())
        ),
    );
    let (alerts, ids) = sample_alerts(dir.path());
    Hook {
        dir,
        control: control_path,
        rx,
        config,
        alerts,
        ids,
    }
}

/// Start `notify send` of the sample's alerts in the background.
fn send_in_background(h: &Hook, extra: &[&str]) -> Child {
    bin()
        .args(["notify", "send", path_str(&h.alerts)])
        .args(extra)
        .args(["--config", path_str(&h.config)])
        .spawn()
        .unwrap()
}

#[test]
fn webhook_delivers_every_alert_once_signed_with_headers() {
    if !need_python_receivers() {
        return;
    }
    let h = hook(
        "{}",
        &["--secret", "s3cr3t"],
        "url = \"http://127.0.0.1:{port}/alerts\"\nsecret = \"s3cr3t\"\n\
         headers = { X-Team = \"secops\" }\nmax_per_minute = 1000",
    );
    let (rx, config, alerts, ids) = (&h.rx, &h.config, &h.alerts, &h.ids);
    let out = notify(&["send", path_str(alerts)], config);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = accepted_ids(&rx.log);
    assert_eq!(got.len(), ids.len(), "each alert exactly once");
    assert_eq!(&got.into_iter().collect::<BTreeSet<_>>(), ids);
    for r in requests(&rx.log) {
        assert_eq!(r["signature_ok"], Value::Bool(true), "{r}");
        assert_eq!(r["headers"]["x-team"], "secops");
        assert_eq!(r["path"], "/alerts");
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["kind"], "alert");
        assert_eq!(r["headers"]["idempotency-key"], body["alert_ids"][0]);
    }
    // Sending the same alerts again enqueues nothing: ids are remembered.
    let out = notify(&["send", path_str(alerts)], config);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(accepted_ids(&rx.log).len(), ids.len());
    let s = status(config);
    assert_eq!(s[0]["sink"], "hook");
    assert_eq!(s[0]["pending"], 0);
    assert_eq!(s[0]["delivered"], ids.len() as u64);
    // The secret never shows, not even in debug logs.
    assert!(!stderr(&out).contains("s3cr3t"));
    let out = {
        let mut cmd = bin();
        cmd.args([
            "-vv",
            "notify",
            "test",
            "hook",
            "--config",
            path_str(config),
        ]);
        cmd.output().unwrap()
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("s3cr3t"), "{}", stderr(&out));
    let last = requests(&rx.log).pop().unwrap();
    let body: Value = serde_json::from_str(last["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["kind"], "test");
}

#[test]
fn a_receiver_that_checks_hmac_refuses_a_wrong_secret_and_the_alerts_are_dead_lettered() {
    if !need_python_receivers() {
        return;
    }
    let h = hook(
        "{}",
        &["--secret", "right"],
        "url = \"http://127.0.0.1:{port}/\"\nsecret = \"wrong\"\nmax_per_minute = 1000",
    );
    let out = notify(&["send", path_str(&h.alerts)], &h.config);
    assert!(out.status.success(), "{}", stderr(&out));
    let reqs = requests(&h.rx.log);
    assert!(reqs.iter().all(|r| r["signature_ok"] == Value::Bool(false)));
    // 401 is permanent: one attempt per message, no retries.
    assert_eq!(reqs.len(), h.ids.len());
    let s = status(&h.config);
    assert_eq!(s[0]["dead_letters"], h.ids.len() as u64);
    assert!(
        s[0]["last_error"].as_str().unwrap().contains("401"),
        "{s:?}"
    );
}

#[test]
fn a_receiver_down_for_a_while_gets_everything_exactly_once_when_it_returns() {
    if !need_python_receivers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        dir.path(),
        &format!(
            "[notify.sink.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/\"\n\
             retry_initial = \"100ms\"\nretry_max = \"500ms\"\nmax_per_minute = 1000\n"
        ),
    );
    let (alerts, ids) = sample_alerts(dir.path());
    let mut sender = bin()
        .args(["notify", "send", path_str(&alerts), "--wait", "60"])
        .args(["--config", path_str(&config)])
        .spawn()
        .unwrap();
    // Nothing listens for three seconds: connections are refused.
    std::thread::sleep(Duration::from_secs(3));
    let s = status(&config);
    assert_eq!(s[0]["pending"], ids.len() as u64, "{s:?}");
    assert!(s[0]["last_error"].is_string(), "{s:?}");
    let rx = http_receiver(&dir.path().join("rx.ndjson"), Some(port), &[]);
    let done = sender.wait().unwrap();
    assert!(done.success());
    let got = accepted_ids(&rx.log);
    assert_eq!(got.len(), ids.len(), "no repeats");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), ids);
}

#[test]
fn kill_9_in_the_middle_of_delivery_then_a_restart_loses_nothing() {
    if !need_python_receivers() {
        return;
    }
    let h = hook(
        r#"{"delay_ms": 150}"#,
        &[],
        "url = \"http://127.0.0.1:{port}/\"\nmax_per_minute = 1000",
    );
    let (rx, ids) = (&h.rx, &h.ids);
    let mut sender = send_in_background(&h, &[]);
    wait_until("a few deliveries", Duration::from_secs(30), || {
        requests(&rx.log).len() >= 4
    });
    sender.kill().unwrap(); // SIGKILL
    sender.wait().unwrap();
    let before = accepted_ids(&rx.log).len();
    assert!(
        before < ids.len(),
        "killed mid-delivery ({before} of {})",
        ids.len()
    );
    std::fs::write(&h.control, "{}").unwrap();
    let out = notify(&["flush", "--wait", "60"], &h.config);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = accepted_ids(&rx.log);
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(&unique, ids, "nothing lost");
    // At least once: only a message in flight at the kill may repeat.
    assert!(got.len() <= ids.len() + 1, "{} deliveries", got.len());
}

#[test]
fn a_receiver_answering_500_forever_sends_alerts_to_the_dead_letters_after_max_age() {
    if !need_python_receivers() {
        return;
    }
    let h = hook(
        r#"{"status": 500}"#,
        &[],
        "url = \"http://127.0.0.1:{port}/\"\nmax_age = \"3s\"\nretry_initial = \"200ms\"\n\
         retry_max = \"1s\"\nmax_per_minute = 1000",
    );
    let (dir, config, ids) = (h.dir.path(), &h.config, &h.ids);
    let started = Instant::now();
    let out = notify(&["send", path_str(&h.alerts), "--wait", "60"], config);
    assert!(out.status.success(), "{}", stderr(&out));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(30),
        "{took:?}"
    );
    assert!(stderr(&out).contains("dead letters"), "{}", stderr(&out));
    let attempts = requests(&h.rx.log).len();
    assert!(attempts >= 3, "retried with backoff: {attempts} attempts");
    let letters: Vec<Value> = std::fs::read_to_string(dir.join("outbox/dead-letter.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dead: BTreeSet<String> = letters
        .iter()
        .map(|l| l["alert"]["alert_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&dead, ids);
    assert!(letters[0]["reason"].as_str().unwrap().contains("HTTP 500"));
    let s = status(config);
    assert_eq!(s[0]["pending"], 0);
    assert_eq!(s[0]["dead_letters"], ids.len() as u64);
}

#[test]
fn a_429_is_retried_after_retry_after_and_a_storm_becomes_a_digest() {
    if !need_python_receivers() {
        return;
    }
    let h = hook(
        r#"{"status": 429, "retry_after": 2}"#,
        &[],
        "url = \"http://127.0.0.1:{port}/\"\nretry_initial = \"50ms\"\nmax_per_minute = 4",
    );
    let (rx, ids) = (&h.rx, &h.ids);
    let mut sender = send_in_background(&h, &["--wait", "60"]);
    wait_until("the first request", Duration::from_secs(30), || {
        !requests(&rx.log).is_empty()
    });
    std::fs::write(&h.control, "{}").unwrap();
    assert!(sender.wait().unwrap().success());
    let reqs = requests(&rx.log);
    let at = |i: usize| reqs[i]["at"].as_f64().unwrap();
    assert_eq!(reqs[0]["status"], 429);
    assert!(
        at(1) - at(0) >= 1.9,
        "Retry-After honoured: {}",
        at(1) - at(0)
    );
    // Four messages a minute: the 429 counted as one, so three more went
    // out — two alerts and a digest of all the rest. Nothing dropped.
    let accepted: Vec<&Value> = reqs.iter().filter(|r| r["status"] == 200).collect();
    assert_eq!(accepted.len(), 3, "{reqs:?}");
    let last: Value = serde_json::from_str(accepted[2]["body"].as_str().unwrap()).unwrap();
    assert_eq!(last["kind"], "digest");
    let got = accepted_ids(&rx.log);
    assert_eq!(got.len(), ids.len());
    assert_eq!(&got.into_iter().collect::<BTreeSet<_>>(), ids);
}

/// An alarm entering ALARM and returning to OK, as NDJSON.
fn alarm_pair(dir: &Path) -> PathBuf {
    let alarm = |id: &str, state: &str, time: &str| {
        serde_json::json!({
            "alert_id": id, "kind": "alarm", "rule_id": "console-login-failures",
            "title": "Console sign-in failures", "severity": "P2", "state": state,
            "alert_time": time, "window_start": null, "window_end": null, "threshold": 3.0,
            "datapoints": [5.0], "dimensions": {}, "event_ids": ["e1", "e2"],
            "event_count": 5, "principals": ["arn:aws:iam::111122223333:user/mallory"],
            "source_ips": ["203.0.113.9"], "actions": [], "description": "5 failures in 5 minutes",
            "query": null
        })
        .to_string()
    };
    let path = dir.join("alarm.ndjson");
    std::fs::write(
        &path,
        format!(
            "{}\n{}\n",
            alarm("alarm-on", "ALARM", "2026-04-01T10:05:00Z"),
            alarm("alarm-off", "OK", "2026-04-01T10:20:00Z")
        ),
    )
    .unwrap();
    path
}

#[test]
fn slack_gets_block_kit_and_pagerduty_triggers_then_resolves_by_dedup_key() {
    if !need_python_receivers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rx = http_receiver(&dir.path().join("rx.ndjson"), None, &[]);
    let config = write_config(
        dir.path(),
        &format!(
            "[notify.sink.chat]\ntype = \"slack\"\nurl = \"http://127.0.0.1:{p}/slack\"\n\n\
             [notify.sink.pager]\ntype = \"pagerduty\"\nrouting_key = \"R0UT1NGKEY\"\n\
             url = \"http://127.0.0.1:{p}/pd\"\n",
            p = rx.port
        ),
    );
    let alarms = alarm_pair(dir.path());
    let out = notify(&["send", path_str(&alarms)], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    let reqs = requests(&rx.log);
    let bodies = |path: &str| -> Vec<Value> {
        reqs.iter()
            .filter(|r| r["path"] == path)
            .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
            .collect()
    };
    let pd = bodies("/pd");
    assert_eq!(pd.len(), 2, "{pd:?}");
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["dedup_key"], "alarm-on");
    assert_eq!(pd[0]["routing_key"], "R0UT1NGKEY");
    assert_eq!(pd[0]["payload"]["severity"], "error");
    assert_eq!(pd[0]["payload"]["source"], "trailwatch");
    assert_eq!(pd[1]["event_action"], "resolve");
    assert_eq!(
        pd[1]["dedup_key"], "alarm-on",
        "the resolve ends the trigger's incident"
    );
    let slack = bodies("/slack");
    assert_eq!(slack.len(), 2);
    let blocks = slack[0]["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(header.contains("[P2] Console sign-in failures"), "{header}");
    let text = slack[0].to_string();
    for want in [
        "*Who*",
        "user/mallory",
        "*From*",
        "203.0.113.9",
        "*When*",
        "2026-04-01T10:05:00Z",
        "*Next query*",
        "alarm-on",
    ] {
        assert!(text.contains(want), "{want} missing from {text}");
    }
    let resolved = slack[1]["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(resolved.contains("(resolved)"), "{resolved}");
}

/// Start `smtp_receiver.py` on a free port, logging to `log`.
fn smtp_receiver(log: &Path, extra: &[&str]) -> Receiver {
    start_receiver("smtp_receiver.py", log, free_port(), extra)
}

/// A test CA and a server certificate for 127.0.0.1 it signed, made with
/// openssl: (ca.pem, server.pem, server.key).
fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n);
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            path_str(&p("ca.key")),
            "-out",
            path_str(&p("ca.pem")),
            "-days",
            "2",
            "-subj",
            "/CN=trailwatch test CA",
        ],
        vec![
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            path_str(&p("server.key")),
            "-out",
            path_str(&p("server.csr")),
            "-subj",
            "/CN=127.0.0.1",
        ],
        vec![
            "x509",
            "-req",
            "-in",
            path_str(&p("server.csr")),
            "-CA",
            path_str(&p("ca.pem")),
            "-CAkey",
            path_str(&p("ca.key")),
            "-CAcreateserial",
            "-out",
            path_str(&p("server.pem")),
            "-days",
            "2",
            "-extfile",
            path_str(&p("ext.cnf")),
        ],
    ] {
        let out = Command::new("openssl").args(&args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    }
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

#[test]
fn email_over_starttls_and_implicit_tls_trusts_only_the_configured_ca() {
    if !need_python_receivers()
        || !python_has("aiosmtpd")
        || !have_tool(Command::new("openssl").arg("version"), "openssl")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates(dir.path());
    let alarms = alarm_pair(dir.path());
    for (tls, extra) in [("starttls", &[][..]), ("tls", &["--implicit-tls"][..])] {
        let log = dir.path().join(format!("{tls}.ndjson"));
        let mut args = vec![
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&key),
            "--auth",
            "alerts:hunter2",
        ];
        args.extend_from_slice(extra);
        let smtp = smtp_receiver(&log, &args);
        let sink = |ca_line: &str| {
            format!(
                "[notify.sink.mail]\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {}\n\
                 tls = \"{tls}\"\nusername = \"alerts\"\npassword = \"hunter2\"\n\
                 from = \"trailwatch@example.com\"\nto = [\"secops@example.com\"]\n{ca_line}\n",
                smtp.port
            )
        };
        // Without the CA, the server's certificate is not trusted.
        let untrusted = write_config(&dir.path().join(format!("{tls}-untrusted")), &sink(""));
        let out = notify(&["test", "mail"], &untrusted);
        assert!(
            !out.status.success(),
            "{tls}: an untrusted certificate is refused"
        );
        let trusted = write_config(
            &dir.path().join(format!("{tls}-trusted")),
            &sink(&format!("ca_file = {:?}", path_str(&ca))),
        );
        let out = notify(&["send", path_str(&alarms)], &trusted);
        assert!(out.status.success(), "{tls}: {}", stderr(&out));
        let mails: Vec<Value> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(mails.len(), 2, "{tls}");
        assert!(
            mails
                .iter()
                .all(|m| m["tls"] == true && m["authenticated"] == true),
            "{tls}: {mails:?}"
        );
    }
}

#[test]
fn email_goes_over_smtp_with_auth_as_text_and_html() {
    if !need_python_receivers() || !python_has("aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = smtp_receiver(
        &dir.path().join("mail.ndjson"),
        &["--auth", "alerts:hunter2"],
    );
    let (port, log) = (smtp.port, smtp.log.clone());
    let config = write_config(
        dir.path(),
        &format!(
            "[notify.sink.mail]\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             tls = \"none\"\nusername = \"alerts\"\npassword = \"hunter2\"\n\
             from = \"trailwatch <trailwatch@example.com>\"\nto = [\"secops@example.com\"]\n\
             max_per_minute = 1000\n"
        ),
    );
    let alarms = alarm_pair(dir.path());
    let out = notify(&["send", path_str(&alarms)], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    let mails: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(mails.len(), 2);
    let m = &mails[0];
    assert_eq!(m["authenticated"], true);
    assert_eq!(m["to"][0], "secops@example.com");
    let data = m["data"].as_str().unwrap();
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(
        data.contains("text/plain") && data.contains("text/html"),
        "{data}"
    );
    assert!(data.contains("Message-ID: <alarm-on@trailwatch>"), "{data}");
    assert!(
        data.contains("Subject: [P2] Console sign-in failures"),
        "{data}"
    );
    // A wrong password is refused by the server (535: permanent).
    let bad = write_config(
        &dir.path().join("bad"),
        &format!(
            "[notify.sink.mail]\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             tls = \"none\"\nusername = \"alerts\"\npassword = \"nope\"\n\
             from = \"trailwatch@example.com\"\nto = [\"secops@example.com\"]\n"
        ),
    );
    let out = notify(&["test", "mail"], &bad);
    assert!(!out.status.success());
    assert!(!stderr(&out).contains("nope"), "{}", stderr(&out));
}

#[test]
fn sns_publishes_each_alert_to_the_topic() {
    if !python_has("boto3") {
        return;
    }
    let Some(moto) = start_moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let setup = python(SNS_SETUP, &[&endpoint, "security-alerts"]);
    assert!(setup.status.success(), "{}", stderr(&setup));
    let made: Value = serde_json::from_slice(&setup.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The sink is named after the Terraform topic resource, so rules whose
    // alarm_actions name it route there; here the route sends everything.
    let config = write_config(
        dir.path(),
        &format!(
            "[notify.sink.security_alerts]\ntype = \"sns\"\ntopic_arn = {}\nmax_per_minute = 1000\n",
            made["topic"]
        ),
    );
    let (alerts, ids) = sample_alerts(dir.path());
    let mut cmd = bin();
    s3_env(&mut cmd).args([
        "notify",
        "send",
        path_str(&alerts),
        "--config",
        path_str(&config),
        "--endpoint-url",
        &endpoint,
    ]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let read = python(SNS_READ, &[&endpoint, made["queue"].as_str().unwrap()]);
    assert!(read.status.success(), "{}", stderr(&read));
    let got: Vec<Value> = serde_json::from_slice(&read.stdout).unwrap();
    let by_id: BTreeMap<String, &Value> = got
        .iter()
        .map(|m| (m["alert_id"].as_str().unwrap().to_string(), m))
        .collect();
    assert_eq!(got.len(), ids.len(), "one message per alert");
    assert_eq!(by_id.keys().cloned().collect::<BTreeSet<_>>(), ids);
    let one = got.first().unwrap();
    assert_eq!(one["message"]["alert_ids"][0], one["alert_id"]);
    assert!(one["subject"].as_str().unwrap().starts_with("[P"));
}

#[test]
fn the_stdout_sink_prints_one_alert_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[notify.sink.console]\ntype = \"stdout\"\nmax_per_minute = 100000\n",
    );
    let (alerts, ids) = sample_alerts(dir.path());
    let out = notify(&["send", path_str(&alerts)], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["alert_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(printed.len(), ids.len());
    assert_eq!(printed.into_iter().collect::<BTreeSet<_>>(), ids);
    // A line that is not an alert is reported with its file and line and
    // skipped; the lines around it are still delivered; exit 2.
    let text = std::fs::read_to_string(&alerts).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(1, "{\"alert_id\": 42, truncated");
    let mixed = dir.path().join("mixed.ndjson");
    std::fs::write(&mixed, lines.join("\n")).unwrap();
    let config = write_config(
        &dir.path().join("again"),
        "[notify.sink.console]\ntype = \"stdout\"\nmax_per_minute = 100000\n",
    );
    let out = notify(&["send", path_str(&mixed)], &config);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}:2: not an alert", path_str(&mixed))),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out).lines().count(), ids.len());
}

#[test]
fn watch_puts_alerts_in_the_outbox_and_delivers_them_to_a_file_sink() {
    let dir = tempfile::tempdir().unwrap();
    let delivered = dir.path().join("delivered.ndjson");
    let config = write_config(
        dir.path(),
        &format!(
            "[notify.sink.log]\ntype = \"file\"\npath = {:?}\nmax_per_minute = 100000\n",
            path_str(&delivered)
        ),
    );
    let (_, ids) = sample_alerts(dir.path());
    let mut w = bin()
        .args([
            "watch",
            path_str(&sample_trail()),
            "--pack",
            "essential,responder",
        ])
        .args(["--state", path_str(&dir.path().join("state"))])
        .args(["--output", path_str(&dir.path().join("out.ndjson"))])
        .args(["--config", path_str(&config), "--poll-ms", "200"])
        .spawn()
        .unwrap();
    let findings: BTreeSet<String> = std::fs::read_to_string(dir.path().join("alerts.ndjson"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"kind\":\"finding\""))
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["alert_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let got = || -> BTreeSet<String> {
        std::fs::read_to_string(&delivered)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["alert_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    wait_until(
        "the findings to be delivered",
        Duration::from_secs(60),
        || findings.is_subset(&got()),
    );
    w.kill().unwrap();
    w.wait().unwrap();
    assert!(got().is_subset(&ids), "only alerts the replay also raises");
}

#[test]
fn a_huge_retry_after_waits_retry_max_and_delivery_goes_on() {
    if !need_python_receivers() {
        return;
    }
    // u64::MAX seconds: once a panic in the sink's task ("overflow when
    // adding duration to instant") that silently stopped its deliveries.
    let h = hook(
        r#"{"status": 429, "retry_after": "18446744073709551615"}"#,
        &[],
        "url = \"http://127.0.0.1:{port}/\"\nretry_initial = \"50ms\"\nretry_max = \"2s\"",
    );
    let mut sender = send_in_background(&h, &["--wait", "60"]);
    wait_until("the first request", Duration::from_secs(30), || {
        !requests(&h.rx.log).is_empty()
    });
    std::fs::write(&h.control, "{}").unwrap();
    assert!(sender.wait().unwrap().success());
    let reqs = requests(&h.rx.log);
    let gap = reqs[1]["at"].as_f64().unwrap() - reqs[0]["at"].as_f64().unwrap();
    assert!(
        (1.0..=10.0).contains(&gap),
        "waited retry_max (2 s), not forever: {gap}"
    );
    let got: BTreeSet<String> = accepted_ids(&h.rx.log).into_iter().collect();
    assert_eq!(&got, &h.ids);
}

#[test]
fn out_of_range_durations_in_the_config_are_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    for (setting, value) in [
        ("retry_max", "\"99999999999999d\""),
        ("max_age", "\"18446744073709551615s\""),
        ("timeout", "99999999999999"),
    ] {
        let config = write_config(
            dir.path(),
            &format!(
                "[notify.sink.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n{setting} = {value}\n"
            ),
        );
        let out = notify(&["status"], &config);
        assert_eq!(out.status.code(), Some(2), "{setting}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("out of range") || err.contains("give 1 to"),
            "{setting}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn redirects_are_not_followed_and_no_referer_is_sent() {
    if !need_python_receivers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = http_receiver(&dir.path().join("elsewhere.ndjson"), None, &[]);
    let h = hook(
        &format!(
            r#"{{"status": 307, "location": "http://127.0.0.1:{}/stolen"}}"#,
            elsewhere.port
        ),
        &[],
        "url = \"http://127.0.0.1:{port}/hook\"\nheaders = { X-Api-Key = \"k3y-never-elsewhere\" }",
    );
    let out = bin()
        .args(["notify", "send", path_str(&h.alerts), "--wait", "30"])
        .args(["--config", path_str(&h.config)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        requests(&elsewhere.log).is_empty(),
        "the redirect target received: {:?}",
        requests(&elsewhere.log)
    );
    let reqs = requests(&h.rx.log);
    // Refused at once: no retries, every attempt to the configured URL.
    assert!(!reqs.is_empty() && reqs.len() <= h.ids.len(), "{reqs:?}");
    assert!(reqs.iter().all(|r| r["path"] == "/hook"));
    assert!(reqs.iter().all(|r| r["headers"].get("referer").is_none()));
    let letters = std::fs::read_to_string(h.dir.path().join("outbox/dead-letter.ndjson")).unwrap();
    assert!(letters.contains("redirect"), "{letters}");
}

#[test]
fn a_receiver_echoing_the_secret_url_never_gets_it_stored_or_printed() {
    if !need_python_receivers() {
        return;
    }
    let token = "T0KEN-abcdef123456";
    let h = hook(
        r#"{"status": 404, "echo": true}"#,
        &[],
        &format!("url = \"http://127.0.0.1:{{port}}/hooks/{token}\""),
    );
    let out = bin()
        .args(["notify", "send", path_str(&h.alerts), "--wait", "30", "-vv"])
        .args(["--config", path_str(&h.config)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(token), "logs hold the token");
    let printed = notify(&["status"], &h.config);
    assert!(!stdout(&printed).contains(token), "{}", stdout(&printed));
    let status_json = serde_json::to_string(&status(&h.config)).unwrap();
    assert!(status_json.contains("<redacted>"), "{status_json}");
    for f in crate::support::files_under(&h.dir.path().join("outbox")) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains(token), "{} holds the token", f.display());
    }
    // What the outbox holds (principals, IPs, alert details) is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&h.dir.path().join("outbox")), 0o700);
    for f in crate::support::files_under(&h.dir.path().join("outbox")) {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

/// `format = "ocsf"`: the webhook POSTs a JSON array of OCSF Detection
/// Findings and the file sink writes one per line, each alert once, named
/// by `finding_info.uid`.
#[test]
fn file_and_webhook_sinks_deliver_ocsf_detection_findings() {
    if !need_python_receivers() {
        return;
    }
    let h = hook(
        "{}",
        &[],
        "url = \"http://127.0.0.1:{port}/ocsf\"\nformat = \"ocsf\"\nmax_per_minute = 1000",
    );
    let file = h.dir.path().join("findings.ndjson");
    let config = write_config(
        h.dir.path(),
        &format!(
            "[notify.sink.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/ocsf\"\nformat = \"ocsf\"\nmax_per_minute = 1000\n\n\
             [notify.sink.file]\ntype = \"file\"\npath = {:?}\nformat = \"ocsf\"\n",
            h.rx.port,
            path_str(&file)
        ),
    );
    let out = notify(&["send", path_str(&h.alerts)], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    let posted: Vec<String> = requests(&h.rx.log)
        .iter()
        .filter(|r| r["status"].as_u64().unwrap() < 300)
        .flat_map(|r| {
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            body.as_array()
                .expect("a JSON array of findings")
                .iter()
                .map(|f| {
                    assert_eq!(f["class_uid"], 2004, "{f}");
                    f["finding_info"]["uid"].as_str().unwrap().to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(posted.len(), h.ids.len(), "each alert exactly once");
    assert_eq!(posted.into_iter().collect::<BTreeSet<_>>(), h.ids);
    let written: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Value = serde_json::from_str(l).unwrap();
            assert_eq!(f["metadata"]["version"], "1.1.0");
            f["finding_info"]["uid"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(written.len(), h.ids.len());
    assert_eq!(written.into_iter().collect::<BTreeSet<_>>(), h.ids);
}
