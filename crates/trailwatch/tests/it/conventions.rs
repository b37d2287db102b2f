//! The conventions every command shares: `--format` on summaries,
//! `--log-format json`, state under `$XDG_STATE_HOME`, completions and man
//! pages, and Ctrl-C in the query shell (driven through a real
//! pseudo-terminal).

use std::path::Path;

use serde_json::Value;

use crate::support::{
    RULE_WITH_A_WRONG_EXAMPLE, bin, have_tool, ingest_sample, path_str, python, repo_root, run,
    sample_trail, stderr, stdout,
};

#[test]
fn summaries_print_as_table_json_or_ndjson() {
    let lake = tempfile::tempdir().expect("tempdir");
    let trail = sample_trail();
    let out = run(&[
        "ingest",
        "--format",
        "ndjson",
        "--lake",
        path_str(lake.path()),
        path_str(&trail),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one object on one line: {text}");
    let v: Value = serde_json::from_str(&text).expect("ndjson");
    assert_eq!(v["events"], 4000);
    // --json is still --format json; both at once are refused.
    let again = run(&[
        "ingest",
        "--json",
        "--lake",
        path_str(lake.path()),
        path_str(&trail),
    ]);
    let v: Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(v["files_already_ingested"], 72);
    let both = run(&[
        "ingest",
        "--json",
        "--format",
        "table",
        "--lake",
        path_str(lake.path()),
        path_str(&trail),
    ]);
    assert_eq!(both.status.code(), Some(2));
    let compact = run(&[
        "lake",
        "compact",
        "--format",
        "json",
        "--lake",
        path_str(lake.path()),
    ]);
    assert!(compact.status.success(), "{}", stderr(&compact));
    let v: Value = serde_json::from_slice(&compact.stdout).expect("json");
    assert!(v["files_after"].as_u64().is_some(), "{v}");
    // Reports are one line in NDJSON, so runs append to a log.
    let sigma = repo_root().join("examples/sigma");
    for args in [
        vec!["stats", path_str(&trail)],
        vec!["state", "--lake", path_str(lake.path())],
        vec!["rules", "check", path_str(&sigma)],
    ] {
        let mut all = args.clone();
        all.extend(["--format", "ndjson"]);
        let out = run(&all);
        let text = stdout(&out);
        assert!(!text.is_empty(), "{args:?}: {}", stderr(&out));
        for line in text.lines() {
            serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{args:?}: {e}: {line}"));
        }
        if args[0] != "rules" {
            assert_eq!(text.lines().count(), 1, "{args:?}");
        }
    }
}

#[test]
fn rules_commands_print_json_and_the_same_thing_has_one_name() {
    // A list is one JSON array (or a rule a line); a rule in full is one
    // object; `rules test` gives each rule's problems.
    let list = run(&["rules", "list", "--pack", "all", "--format", "json"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let rules: Vec<Value> = serde_json::from_slice(&list.stdout).expect("one array");
    assert!(rules.len() > 20, "{}", rules.len());
    let travel = rules
        .iter()
        .find(|r| r["id"] == "impossible-travel")
        .expect("listed");
    assert_eq!(travel["kind"], "correlation");
    assert!(
        travel["note"].as_str().is_some_and(|n| n.contains("GeoIP")),
        "{travel}"
    );
    let lines = run(&["rules", "list", "--pack", "essential", "--format", "ndjson"]);
    let text = stdout(&lines);
    assert!(text.lines().count() > 3, "{text}");
    for line in text.lines() {
        let r: Value = serde_json::from_str(line).expect("a rule a line");
        assert!(r["id"].is_string() && r["severity"].is_string(), "{r}");
    }
    let show = run(&[
        "rules",
        "show",
        "root-account-usage",
        "--pack",
        "essential",
        "--format",
        "json",
    ]);
    assert!(show.status.success(), "{}", stderr(&show));
    let rule: Value = serde_json::from_slice(&show.stdout).expect("one object");
    assert_eq!(rule["kind"], "alarm");
    assert!(
        rule["pattern"].as_str().is_some_and(|p| p.contains("Root")),
        "{rule}"
    );
    assert_eq!(rule["alarm"]["period_minutes"], 5, "{rule}");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mine.yaml");
    std::fs::write(&file, RULE_WITH_A_WRONG_EXAMPLE).expect("write");
    let tested = run(&["rules", "test", path_str(&file), "--format", "json"]);
    assert_eq!(tested.status.code(), Some(1), "{}", stderr(&tested));
    let rows: Vec<Value> = serde_json::from_slice(&tested.stdout).expect("one array");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "fail");
    assert!(
        rows[0]["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("should fire"))
    );
    // events, not records; bytes_read, as ingest says it.
    let stats = run(&["stats", "--format", "json", path_str(&sample_trail())]);
    let v: Value = serde_json::from_slice(&stats.stdout).expect("json");
    assert_eq!(v["events"], 4000, "{v}");
    assert_eq!(v["bad_events"], 0, "{v}");
    assert!(v["bytes_read"].as_u64().is_some_and(|b| b > 0), "{v}");
    assert!(v.get("records").is_none(), "{v}");
    // An alert's time is alert_time, as in the lake's alerts table.
    let detect = run(&["detect", path_str(&sample_trail()), "--format", "ndjson"]);
    let first = stdout(&detect)
        .lines()
        .next()
        .map(str::to_string)
        .unwrap_or_default();
    let alert: Value = serde_json::from_str(&first).expect("an alert");
    assert!(
        alert["alert_time"].is_string() && alert.get("time").is_none(),
        "{alert}"
    );
}

#[test]
fn log_lines_can_be_json_for_log_shippers() {
    let out = run(&[
        "--log-format",
        "json",
        "stats",
        "/nonexistent/trailwatch-test-input",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let lines: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(!lines.is_empty(), "{err}");
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string(), "{l}");
    }
    assert!(
        lines.iter().any(|l| l["level"] == "ERROR"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("/nonexistent/trailwatch-test-input"))),
        "{err}"
    );
    // The environment variable does the same.
    let out = bin()
        .env("TRAILWATCH_LOG_FORMAT", "json")
        .args(["stats", "/nonexistent/trailwatch-test-input"])
        .output()
        .expect("runs");
    let first = stderr(&out).lines().next().unwrap_or_default().to_string();
    assert!(serde_json::from_str::<Value>(&first).is_ok(), "{first}");
}

#[test]
fn state_goes_under_xdg_state_home() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let out = bin()
        .env("XDG_STATE_HOME", &state)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env_remove("TRAILWATCH_CONFIG")
        .args(["config", "check"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let serve = text
        .lines()
        .find(|l| l.starts_with("serve.state"))
        .unwrap_or_else(|| panic!("{text}"));
    let want = state.join("trailwatch/serve");
    assert!(serve.contains(path_str(&want)), "{serve}");
}

#[test]
fn completions_and_man_pages_come_from_the_flag_definitions() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(
        script.contains("--endpoint-url") && script.contains("ingest"),
        "bash"
    );
    // The script is valid bash.
    if have_tool(std::process::Command::new("bash").arg("--version"), "bash") {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("trailwatch.bash");
        std::fs::write(&file, &script).expect("write");
        let check = std::process::Command::new("bash")
            .args(["-n", path_str(&file)])
            .output()
            .expect("bash runs");
        assert!(check.status.success(), "{}", stderr(&check));
    }
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}");
    }
    let man = run(&["man"]);
    assert!(stdout(&man).starts_with(".ie") || stdout(&man).contains(".TH trailwatch"));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&["man", "--out", path_str(dir.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    for page in [
        "trailwatch.1",
        "trailwatch-ingest.1",
        "trailwatch-lake-compact.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let ingest = std::fs::read_to_string(dir.path().join("trailwatch-ingest.1")).expect("page");
    assert!(
        ingest.contains("AWS_PROFILE"),
        "the page shows [env: …] too"
    );
}

/// Drives `query --shell` on a pseudo-terminal: a statement that would
/// run for hours is stopped by Ctrl-C, the shell answers the next one,
/// and two Ctrl-C in a row at the prompt quit with status 0.
const SHELL_CTRL_C: &str = r#"
import os, pty, select, sys, time
tw, lake, history = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TRAILWATCH_HISTORY"] = history
    os.execv(tw, [tw, "query", "--lake", lake, "--format", "csv", "--shell"])
seen = b""
def until(token, timeout):
    global seen
    end = time.time() + timeout
    while time.time() < end:
        if token in seen:
            i = seen.index(token) + len(token)
            seen = seen[i:]
            return
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    sys.exit("waited %ss for %r; the terminal shows %r" % (timeout, token, seen[-400:]))
until(b"trailwatch> ", 60)
os.write(fd, b"SELECT sum(length(a.eventid) + length(b.eventid) + length(c.eventid)) AS n "
             b"FROM cloudtrail_logs a, cloudtrail_logs b, cloudtrail_logs c;\r")
time.sleep(3)
os.write(fd, b"\x03")
until(b"Cancelled.", 20)
until(b"trailwatch> ", 10)
os.write(fd, b"SELECT 40 + 2 AS answer;\r")
until(b"42", 30)
until(b"trailwatch> ", 10)
os.write(fd, b"\x03")
until(b"Ctrl-C again to quit", 10)
until(b"trailwatch> ", 10)
os.write(fd, b"\x03")
end = time.time() + 20
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        code = os.waitstatus_to_exitcode(status)
        print("ok" if code == 0 else "exit status %d" % code)
        sys.exit(0)
    try:
        os.read(fd, 4096)
    except OSError:
        pass
    time.sleep(0.1)
os.kill(pid, 9)
sys.exit("the shell did not quit on the second Ctrl-C")
"#;

#[test]
fn ctrl_c_stops_the_running_statement_and_twice_quits_the_shell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    let history = dir.path().join("history");
    let tw = env!("CARGO_BIN_EXE_trailwatch");
    let out = python(SHELL_CTRL_C, &[tw, path_str(&lake), path_str(&history)]);
    assert!(
        out.status.success() && stdout(&out).trim() == "ok",
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert!(Path::new(&history).exists(), "history saved on the way out");
}
