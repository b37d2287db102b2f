//! The one config file: unknown keys refused at every level with the file,
//! line and key named; `[lake]`, `[detect]` and `[watch]` used by the
//! commands; flags override the file; `config check` says where each
//! setting came from.

use std::path::{Path, PathBuf};

use crate::support::{bin, path_str, run, sample_trail, stderr, stdout};

fn write(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn unknown_keys_are_refused_at_every_level_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, line, key) in [
        (
            "[lake]\nlocation = \"x\"\n\n[sevre]\nport = 1\n",
            4,
            "sevre",
        ),
        ("[watch]\nstate = \"s\"\nlatness = 5\n", 3, "latness"),
        ("[detect]\npakc = \"all\"\n", 2, "pakc"),
        (
            "[notify]\noutbox = \"o\"\n[notify.defaults]\nretries = 3\n",
            4,
            "retries",
        ),
        (
            "[notify.sink.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nheaderz = 1\n",
            1,
            "headerz",
        ),
    ] {
        let cfg = write(dir.path(), text);
        let out = run(&["config", "check", "--config", path_str(&cfg)]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = stderr(&out);
        assert!(err.contains(path_str(&cfg)), "{err}");
        assert!(err.contains(&format!("line {line}")), "{err}");
        assert!(err.contains(key), "{err}");
        // Every command that reads the file refuses it the same way.
        let out = run(&[
            "detect",
            "--config",
            path_str(&cfg),
            path_str(&sample_trail()),
        ]);
        assert_eq!(out.status.code(), Some(2), "{text}");
    }
}

#[test]
fn the_file_sets_what_flags_do_not_and_check_says_where_from() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake-from-config");
    let cfg = write(
        dir.path(),
        &format!(
            "[lake]\nlocation = {:?}\n\n[detect]\npack = \"none\"\n\n[watch]\nlateness = \"10m\"\n",
            path_str(&lake)
        ),
    );
    // [detect] pack = "none": no rules, no alerts; the flag overrides it.
    let out = run(&[
        "detect",
        "--config",
        path_str(&cfg),
        "--format",
        "ndjson",
        path_str(&sample_trail()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 0);
    let out = run(&[
        "detect",
        "--config",
        path_str(&cfg),
        "--pack",
        "essential",
        "--format",
        "ndjson",
        path_str(&sample_trail()),
    ]);
    assert!(stdout(&out).lines().count() > 5, "{}", stdout(&out));
    // [lake] location is the lake when --lake is not given.
    let out = run(&[
        "ingest",
        "--config",
        path_str(&cfg),
        path_str(&sample_trail()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(lake.join("cloudtrail").is_dir());
    // check: values and their sources.
    let out = run(&["config", "check", "--config", path_str(&cfg)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} in {text}"))
            .to_string()
    };
    assert!(
        line("lake.location").contains(&format!("{}:2", path_str(&cfg))),
        "{text}"
    );
    assert!(line("detect.pack").contains("none"), "{text}");
    // Written as the flag takes it, shown in seconds.
    assert!(line("watch.lateness").contains("600s"), "{text}");
    assert!(line("watch.lateness").contains(":8)"), "{text}");
    assert!(line("watch.poll").contains("(default)"), "{text}");
    // An out-of-range value in the file names where it came from.
    let bad = write(dir.path(), "[watch]\nlateness = -5\n");
    let out = run(&["config", "check", "--config", path_str(&bad)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("{}:2", path_str(&bad))),
        "{}",
        stderr(&out)
    );
}

/// `config check` shows where the server's token comes from, never the
/// token itself.
#[test]
fn config_check_never_prints_the_server_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.toml");
    let secret = "do-not-print-this-token-0123456789";
    std::fs::write(
        &cfg,
        format!("[serve]\ntoken = \"{secret}\"\nlisten = \"127.0.0.1:9443\"\n"),
    )
    .expect("write");
    let out = run(&["config", "check", "--config", path_str(&cfg)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains(secret), "{text}");
    let token = text
        .lines()
        .find(|l| l.starts_with("serve.token"))
        .unwrap_or_default();
    assert!(
        token.contains("(set, hidden)") && token.contains("c.toml"),
        "{text}"
    );
    let listen = text
        .lines()
        .find(|l| l.starts_with("serve.listen"))
        .unwrap_or_default();
    assert!(listen.contains("127.0.0.1:9443"), "{text}");
}

/// `config check` refuses a sink that refers to an unset variable, naming
/// the variable and the sink; with the variable set it is valid, and the
/// value is not printed.
#[test]
fn config_check_refuses_a_reference_to_an_unset_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[notify.sink.hook]\ntype = \"webhook\"\nurl = \"https://hooks.example/${TW_TEST_HOOK_SECRET}\"\n",
    )
    .expect("write");
    let check = |value: Option<&str>| {
        let mut cmd = bin();
        cmd.env_remove("TW_TEST_HOOK_SECRET");
        if let Some(v) = value {
            cmd.env("TW_TEST_HOOK_SECRET", v);
        }
        cmd.args(["config", "check", "--config", path_str(&cfg)])
            .output()
            .expect("runs")
    };
    let out = check(None);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("${TW_TEST_HOOK_SECRET}") && err.contains("notify.sink.hook"),
        "{err}"
    );
    let out = check(Some("s3cr3t-value-42"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("valid"), "{}", stdout(&out));
    assert!(
        !stdout(&out).contains("s3cr3t-value-42"),
        "{}",
        stdout(&out)
    );
}
