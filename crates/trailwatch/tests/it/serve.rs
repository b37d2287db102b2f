//! `trailwatch serve` as a client sees it: the token is required and
//! checked, SQL is read-only, bodies are capped, assets cannot be walked
//! out of, sessions need their CSRF token, a generated token is stored
//! 0600 and shown once, and TLS works with a real certificate.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{bin, generate_into, have_tool, path_str, run, sample_trail, stderr};

pub const TOKEN: &str = "test-token-0123456789abcdef0123456789";

/// The sample trail ingested once into a lake shared by these tests.
fn sample_lake() -> &'static Path {
    static LAKE: OnceLock<tempfile::TempDir> = OnceLock::new();
    LAKE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = run(&[
            "ingest",
            "-q",
            "--lake",
            path_str(dir.path()),
            path_str(&sample_trail()),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        // And its alerts filed in the lake's alerts table, every pack's
        // (the CIS alarms too, which are not in the default packs).
        crate::support::file_alerts(dir.path());
        dir
    })
    .path()
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    /// What it printed on stderr up to the `serving` line.
    log: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `serve` over the sample lake on a free loopback port with
/// `extra` flags and `env`.
fn serve(state: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    serve_on(sample_lake(), state, extra, env)
}

/// [`serve`] over another lake.
pub fn serve_on(lake: &Path, state: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = bin();
    cmd.args(["serve", "--lake", path_str(lake)])
        .args(["--state", path_str(state), "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("TRAILWATCH_TOKEN")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut log = String::new();
    let base = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("serve stopped before listening:\n{log}");
        };
        log.push_str(&line);
        log.push('\n');
        if let Some(i) = line.find("://127.0.0.1:") {
            let scheme = if line[..i].ends_with("https") {
                "https"
            } else {
                "http"
            };
            let rest = &line[i + 3..];
            let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
            break format!("{scheme}://{}", &rest[..end]);
        }
    };
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base, log }
}

fn client(extra_root: Option<&[u8]>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60));
    if let Some(pem) = extra_root {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(pem).expect("pem"));
    }
    b.build().expect("client")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Status, headers and body of one request.
async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, String) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap_or_default())
}

fn query_body(sql: &str) -> String {
    json!({ "sql": sql }).to_string()
}

/// `POST /api/query` with the token and `sql`.
fn sql_request(
    c: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    sql: &str,
) -> reqwest::RequestBuilder {
    c.post(url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(query_body(sql))
}

#[test]
fn the_token_guards_every_route_and_sql_stays_read_only() {
    let state = tempfile::tempdir().expect("tempdir");
    let s = serve(
        state.path(),
        &["--max-body", "4096"],
        &[("TRAILWATCH_TOKEN", TOKEN)],
    );
    let c = client(None);
    let base = s.base.clone();
    rt().block_on(async {
        let url = |p: &str| format!("{base}{p}");
        // Open: health. Closed without or with a wrong token.
        assert_eq!(send(c.get(url("/healthz"))).await.0, 200);
        for path in ["/api/rules", "/metrics", "/api/session"] {
            let (code, headers, _) = send(c.get(url(path))).await;
            assert_eq!(code, 401, "{path} without a token");
            assert_eq!(headers["www-authenticate"], "Bearer");
            assert_eq!(send(c.get(url(path)).bearer_auth("wrong-token-wrong-token")).await.0, 401);
        }
        let (code, _, _) = send(
            c.post(url("/api/query"))
                .header("content-type", "application/json")
                .body(query_body("SELECT 1")),
        )
        .await;
        assert_eq!(code, 401);
        // With the token: the query's rows, as `query --format json` gives them.
        let sql = "SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY eventname ORDER BY n DESC, eventname LIMIT 5";
        let (code, headers, body) = send(
            sql_request(&c, url("/api/query"), sql),
        )
        .await;
        assert_eq!(code, 200, "{body}");
        for h in ["content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"] {
            assert!(headers.contains_key(h), "{h} missing");
        }
        let got: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(got["columns"], json!(["eventname", "n"]));
        let cli = run(&["query", "--lake", path_str(sample_lake()), "--format", "json", sql]);
        let want: Value = serde_json::from_slice(&cli.stdout).expect("json");
        assert_eq!(got["rows"], want);
        // Writes of any kind are refused with a reason.
        for sql in [
            "DROP TABLE cloudtrail_logs",
            "INSERT INTO alerts SELECT * FROM alerts",
            "COPY (SELECT 1) TO '/tmp/x.csv'",
            "CREATE TABLE t AS SELECT 1",
            "CREATE EXTERNAL TABLE t (a string) LOCATION '/etc/'",
        ] {
            let (code, _, body) = send(
                sql_request(&c, url("/api/query"), sql),
            )
            .await;
            assert_eq!(code, 400, "{sql}: {body}");
            let msg: Value = serde_json::from_str(&body).expect("json");
            let text = msg["error"].as_str().unwrap_or("");
            assert!(text.contains("not allowed"), "{sql}: {text}");
        }
        // A body over the limit.
        let big = query_body(&format!("SELECT '{}'", "x".repeat(8192)));
        let (code, _, _) = send(
            c.post(url("/api/query"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(big),
        )
        .await;
        assert_eq!(code, 413);
        // One that says it is over the limit is refused before it is sent.
        let addr = base.trim_start_matches("http://").to_string();
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
            tcp.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
            write!(
                tcp,
                "POST /api/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
                 Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
            )
            .expect("write");
            let mut got = vec![0u8; 512];
            let n = tcp.read(&mut got).unwrap_or(0);
            String::from_utf8_lossy(&got[..n]).into_owned()
        })
        .await
        .expect("join");
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
        // Assets cannot be walked out of.
        for path in ["/assets/../Cargo.toml", "/assets/..%2f..%2fCargo.toml", "/assets/%2e%2e%2fREADME.md", "/../../etc/passwd"] {
            let (code, _, body) = send(c.get(url(path))).await;
            assert_eq!(code, 404, "{path}: {body}");
        }
        assert_eq!(send(c.get(url("/assets/app.js"))).await.0, 200);
        // The rules in force, and the figures.
        let (code, _, body) = send(c.get(url("/api/rules")).bearer_auth(TOKEN)).await;
        assert_eq!(code, 200);
        let rules: Value = serde_json::from_str(&body).expect("json");
        assert!(rules.as_array().is_some_and(|r| r.iter().any(|x| x["id"] == "root-account-usage")));
        let (_, _, metrics) = send(c.get(url("/metrics")).bearer_auth(TOKEN)).await;
        assert!(metrics.contains("trailwatch_queries_total 6"), "{metrics}");
        assert!(metrics.contains("trailwatch_query_errors_total 5"), "{metrics}");
        assert!(metrics.contains("trailwatch_query_duration_seconds_count 6"), "{metrics}");
        assert!(metrics.contains("trailwatch_requests_refused_total 7"), "{metrics}");
    });
}

#[test]
fn a_runaway_query_is_stopped_at_the_timeout() {
    let state = tempfile::tempdir().expect("tempdir");
    let s = serve(
        state.path(),
        &["--timeout", "2"],
        &[("TRAILWATCH_TOKEN", TOKEN)],
    );
    let c = client(None);
    rt().block_on(async {
        let started = std::time::Instant::now();
        // Long (16 M regular-expression replacements) but light on memory,
        // so it is the timeout that stops it, not the memory limit.
        let sql = "SELECT max(regexp_replace(concat(a.eventid, b.eventid), '[0-9]', 'x')) FROM cloudtrail_logs a, cloudtrail_logs b";
        let (code, _, body) = send(
            sql_request(&c, format!("{}/api/query", s.base), sql),
        )
        .await;
        assert_eq!(code, 408, "{body}");
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
        // The server still answers.
        assert_eq!(send(c.get(format!("{}/healthz", s.base))).await.0, 200);
    });
}

/// An answer is capped (10,000 rows unless the caller asks for fewer or
/// more, up to 100,000) and says it was cut, instead of growing with the
/// statement.
#[test]
fn a_large_answer_is_capped_and_says_so() {
    let state = tempfile::tempdir().expect("tempdir");
    let s = serve(state.path(), &[], &[("TRAILWATCH_TOKEN", TOKEN)]);
    let c = client(None);
    let url = format!("{}/api/query", s.base);
    let big = "SELECT a.value AS a, b.value AS b FROM generate_series(1, 1000) a CROSS JOIN generate_series(1, 1000) b";
    let ask = |limit: Option<u64>| {
        let mut body = json!({ "sql": big });
        if let Some(l) = limit {
            body["limit"] = json!(l);
        }
        c.post(&url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    rt().block_on(async {
        let (code, _, body) = send(ask(None)).await;
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["rows"].as_array().map(Vec::len), Some(10_000));
        assert_eq!(v["truncated"], json!(true));
        assert_eq!(v["limit"], json!(10_000));
        let (_, _, body) = send(ask(Some(5))).await;
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["rows"].as_array().map(Vec::len), Some(5));
        let (code, _, body) = send(ask(Some(1_000_000))).await;
        assert_eq!(code, 400, "{body}");
        assert!(body.contains("100000"), "{body}");
        // A whole answer is not marked cut.
        let (_, _, body) = send(sql_request(&c, &url, "SELECT 1 AS one")).await;
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["truncated"], json!(false));
    });
}

/// Clients that connect and send nothing, or send slowly, are cut off at
/// the header and body timeouts; past --max-connections, new connections
/// wait for a free slot.
#[test]
fn slow_and_idle_clients_are_cut_off_and_connections_are_limited() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let state = tempfile::tempdir().expect("tempdir");
    let s = serve(
        state.path(),
        &[
            "--header-timeout",
            "2s",
            "--body-timeout",
            "2s",
            "--max-connections",
            "3",
        ],
        &[("TRAILWATCH_TOKEN", TOKEN)],
    );
    let addr = s.base.trim_start_matches("http://").to_string();
    let connect = || {
        let t = TcpStream::connect(&addr).expect("connect");
        t.set_read_timeout(Some(Duration::from_secs(15)))
            .expect("timeout");
        t
    };
    // Read until the server closes; what it sent and how long it took.
    let until_closed = |mut t: TcpStream| {
        let started = std::time::Instant::now();
        let mut got = Vec::new();
        let _ = t.read_to_end(&mut got);
        (
            String::from_utf8_lossy(&got).into_owned(),
            started.elapsed(),
        )
    };
    // Idle: closed at the header timeout.
    let (_, took) = until_closed(connect());
    assert!(
        took < Duration::from_secs(8),
        "idle connection kept {took:?}"
    );
    // Headers trickled a byte at a time: closed too.
    let mut t = connect();
    let started = std::time::Instant::now();
    for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
        if t.write_all(&[*b]).is_err() || started.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "trickled headers kept {:?}",
        started.elapsed()
    );
    // A body that stops short: 408 at the body timeout.
    let mut t = connect();
    write!(
        t,
        "POST /api/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"sql\""
    )
    .expect("write");
    let (reply, took) = until_closed(t);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    // Three connections held open (within the header timeout): a fourth
    // waits until one closes.
    let held: Vec<TcpStream> = (0..3).map(|_| connect()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut fourth = connect();
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    fourth
        .set_read_timeout(Some(Duration::from_millis(800)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    assert!(
        fourth.read(&mut buf).is_err(),
        "a connection past the limit was answered at once"
    );
    drop(held);
    fourth
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (reply, _) = until_closed(fourth);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

/// Guessing the token is slowed: after ten failures in a minute a client
/// is answered 429 with Retry-After, even with the right token, whichever
/// door it knocks on (bearer, sign-in form, Firehose key).
#[test]
fn repeated_wrong_tokens_are_throttled() {
    let state = tempfile::tempdir().expect("tempdir");
    let s = serve(state.path(), &[], &[("TRAILWATCH_TOKEN", TOKEN)]);
    let c = client(None);
    rt().block_on(async {
        for i in 0..10 {
            let req = match i % 3 {
                0 => c.get(format!("{}/api/rules", s.base)).bearer_auth("wrong"),
                1 => c
                    .post(format!("{}/login", s.base))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("token=wrong"),
                _ => c
                    .post(format!("{}/ingest/firehose", s.base))
                    .header("x-amz-firehose-access-key", "wrong")
                    .body("{}"),
            };
            let (code, _, body) = send(req).await;
            assert!([401, 303].contains(&code), "attempt {i}: {code} {body}");
        }
        let (code, headers, body) =
            send(c.get(format!("{}/api/rules", s.base)).bearer_auth(TOKEN)).await;
        assert_eq!(code, 429, "{body}");
        let wait: u64 = headers["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(body.contains("too many failed sign-ins"), "{body}");
        // What needs no token is still served.
        assert_eq!(send(c.get(format!("{}/healthz", s.base))).await.0, 200);
    });
}

/// A busy port is the one thing `serve` says: the address is bound
/// before the worker and the runtimes start, so no task-cancelled noise
/// comes before "Address already in use".
#[test]
fn a_busy_port_is_said_alone() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let state = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .args(["serve", "--lake", path_str(sample_lake())])
        .args(["--state", path_str(state.path()), "--listen", &addr])
        .env("TRAILWATCH_TOKEN", TOKEN)
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Address already in use") && err.contains(&addr),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "only the error: {err}");
}

/// A statement too wide to plan safely is a 400, not a crash of the
/// server; one as wide as a generated filter runs.
#[test]
fn a_statement_too_wide_is_a_400_and_a_wide_filter_runs() {
    let state = tempfile::tempdir().expect("tempdir");
    let s = serve(state.path(), &[], &[("TRAILWATCH_TOKEN", TOKEN)]);
    let c = client(None);
    rt().block_on(async {
        let wide = format!("SELECT 1{}", " OR 1 = 1".repeat(100_000));
        let (code, _, body) = send(sql_request(&c, format!("{}/api/query", s.base), &wide)).await;
        assert_eq!(code, 400, "{body}");
        assert!(body.contains("at most 4000"), "{body}");
        let terms: Vec<String> = (0..1_900).map(|i| format!("eventname = 'N{i}'")).collect();
        let filter = format!(
            "SELECT count(*) AS n FROM cloudtrail_logs WHERE {}",
            terms.join(" OR ")
        );
        let (code, _, body) = send(sql_request(&c, format!("{}/api/query", s.base), &filter)).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(send(c.get(format!("{}/healthz", s.base))).await.0, 200);
    });
}

#[test]
fn the_sign_in_form_starts_a_cookie_session_that_needs_its_csrf_token() {
    let state = tempfile::tempdir().expect("tempdir");
    let s = serve(state.path(), &[], &[("TRAILWATCH_TOKEN", TOKEN)]);
    let c = client(None);
    let base = s.base.clone();
    rt().block_on(async {
        let url = |p: &str| format!("{base}{p}");
        // Not signed in: the dashboard sends the browser to the form.
        let (code, headers, _) = send(c.get(url("/"))).await;
        assert_eq!(code, 303);
        assert_eq!(headers["location"], "/login");
        let (code, _, page) = send(c.get(url("/login"))).await;
        assert_eq!(code, 200);
        assert!(page.contains("name=\"token\"") && page.contains("method=\"post\""));
        let (code, headers, _) = send(c.post(url("/login")).form(&[("token", "nope")])).await;
        assert_eq!(code, 303);
        assert_eq!(headers["location"], "/login?failed=1");
        assert!(!headers.contains_key("set-cookie"));
        let (code, headers, _) = send(c.post(url("/login")).form(&[("token", TOKEN)])).await;
        assert_eq!(code, 303);
        let cookie = headers["set-cookie"].to_str().expect("cookie").to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        assert!(
            !cookie.contains(TOKEN),
            "the token itself is never the cookie"
        );
        let session = cookie.split(';').next().expect("pair").to_string();
        let (code, _, page) = send(c.get(url("/")).header("cookie", &session)).await;
        assert_eq!(code, 200);
        assert!(page.contains("SQL console"));
        let (code, _, body) = send(c.get(url("/api/session")).header("cookie", &session)).await;
        assert_eq!(code, 200);
        let csrf = serde_json::from_str::<Value>(&body).expect("json")["csrf"]
            .as_str()
            .expect("csrf")
            .to_string();
        let q = || {
            c.post(url("/api/query"))
                .header("cookie", &session)
                .header("content-type", "application/json")
                .body(query_body("SELECT count(*) AS n FROM cloudtrail_logs"))
        };
        assert_eq!(send(q()).await.0, 403, "no CSRF token");
        assert_eq!(send(q().header("x-csrf-token", "forged")).await.0, 403);
        let (code, _, body) = send(q().header("x-csrf-token", &csrf)).await;
        assert_eq!(code, 200, "{body}");
        let (code, headers, _) = send(
            c.post(url("/logout"))
                .header("cookie", &session)
                .header("x-csrf-token", &csrf),
        )
        .await;
        assert_eq!(code, 200);
        assert!(
            headers["set-cookie"]
                .to_str()
                .unwrap_or("")
                .contains("Max-Age=0")
        );
        assert_eq!(
            send(q().header("x-csrf-token", &csrf)).await.0,
            401,
            "signed out"
        );
    });
}

#[test]
fn a_generated_token_is_stored_private_shown_once_and_kept() {
    let state = tempfile::tempdir().expect("tempdir");
    let first = serve(state.path(), &[], &[]);
    let file = state.path().join("serve-token");
    let token = std::fs::read_to_string(&file).expect("token stored");
    assert_eq!(token.len(), 64);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Shown once: on the first start, before the serving line.
    assert!(first.log.contains(&token), "not shown:\n{}", first.log);
    let c = client(None);
    let base = first.base.clone();
    rt().block_on(async {
        assert_eq!(
            send(c.get(format!("{base}/api/rules")).bearer_auth(&token))
                .await
                .0,
            200
        );
    });
    drop(first);
    let second = serve(state.path(), &[], &[]);
    assert!(!second.log.contains(&token), "shown again:\n{}", second.log);
    assert!(second.log.contains("serve-token"), "{}", second.log);
    let base = second.base.clone();
    rt().block_on(async {
        assert_eq!(
            send(c.get(format!("{base}/api/rules")).bearer_auth(&token))
                .await
                .0,
            200
        );
    });
}

#[test]
fn tls_serves_https_with_the_given_certificate() {
    if !have_tool(
        std::process::Command::new("openssl").arg("version"),
        "openssl",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A server certificate, not a CA (rustls refuses a CA as the end entity).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .args(["-keyout", path_str(&key), "-out", path_str(&cert)])
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let s = serve(
        dir.path(),
        &["--tls-cert", path_str(&cert), "--tls-key", path_str(&key)],
        &[("TRAILWATCH_TOKEN", TOKEN)],
    );
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let c = client(Some(&std::fs::read(&cert).expect("cert")));
    let base = s.base.clone();
    rt().block_on(async {
        assert_eq!(send(c.get(format!("{base}/healthz"))).await.0, 200);
        assert_eq!(send(c.get(format!("{base}/api/rules"))).await.0, 401);
        assert_eq!(
            send(c.get(format!("{base}/api/rules")).bearer_auth(TOKEN))
                .await
                .0,
            200
        );
        let (_, headers, _) = send(c.post(format!("{base}/login")).form(&[("token", TOKEN)])).await;
        assert!(
            headers["set-cookie"]
                .to_str()
                .unwrap_or("")
                .ends_with("; Secure")
        );
    });
    // Plain HTTP to the TLS port gets no answer.
    let plain = client(None);
    let http = s.base.replacen("https://", "http://", 1);
    rt().block_on(async {
        assert!(plain.get(format!("{http}/healthz")).send().await.is_err());
    });
}

/// The alerts API returns the lake's alerts as `detect --format json`
/// prints them, filtered, and one alert with its evidence events.
#[test]
fn alerts_come_back_as_detect_prints_them_with_their_evidence() {
    let state = tempfile::tempdir().expect("tempdir");
    let s = serve(state.path(), &[], &[("TRAILWATCH_TOKEN", TOKEN)]);
    let c = client(None);
    let base = s.base.clone();
    let detect = run(&[
        "detect",
        "-q",
        "--pack",
        "all",
        "--format",
        "json",
        "--no-save",
        "--lake",
        path_str(sample_lake()),
    ]);
    let want: Vec<Value> = serde_json::from_slice(&detect.stdout).expect("json");
    assert!(want.len() > 20, "{} alerts", want.len());
    rt().block_on(async {
        let get = |q: String| {
            let c = c.clone();
            let url = format!("{base}/api/alerts{q}");
            async move {
                let (code, _, body) = send(c.get(url).bearer_auth(TOKEN)).await;
                assert_eq!(code, 200, "{body}");
                serde_json::from_str::<Vec<Value>>(&body).expect("json")
            }
        };
        let all = get("?limit=10000".into()).await;
        assert_eq!(all, want);
        let p1 = get("?severity=P1".into()).await;
        assert!(!p1.is_empty() && p1.iter().all(|a| a["severity"] == "P1"));
        assert_eq!(
            p1.len(),
            want.iter().filter(|a| a["severity"] == "P1").count()
        );
        let root = get("?rule=root-account-usage".into()).await;
        assert!(!root.is_empty() && root.iter().all(|a| a["rule_id"] == "root-account-usage"));
        assert!(get("?since=2099-01-01".into()).await.is_empty());
        assert!(
            get("?rule=x%27%20OR%20%271%27%3D%271".into())
                .await
                .is_empty(),
            "quoted"
        );
        let (code, _, _) = send(
            c.get(format!("{base}/api/alerts?severity=P9"))
                .bearer_auth(TOKEN),
        )
        .await;
        assert_eq!(code, 400);
        // One alert, with the events it cites.
        let a = &root[0];
        let id = a["alert_id"].as_str().expect("id");
        let (code, _, body) =
            send(c.get(format!("{base}/api/alerts/{id}")).bearer_auth(TOKEN)).await;
        assert_eq!(code, 200, "{body}");
        let one: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(&one["alert"], a);
        let cited: Vec<&str> = a["event_ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let events = one["events"].as_array().expect("events");
        assert_eq!(events.len(), cited.len());
        assert!(
            events
                .iter()
                .all(|e| cited.contains(&e["eventid"].as_str().unwrap_or("")))
        );
        let (code, _, _) = send(c.get(format!("{base}/api/alerts/nope")).bearer_auth(TOKEN)).await;
        assert_eq!(code, 404);
    });
}

/// Without `--listen` the server binds the loopback address only.
#[test]
fn the_default_address_is_loopback() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut child = bin()
        .args([
            "serve",
            "--lake",
            path_str(sample_lake()),
            "--state",
            path_str(state.path()),
        ])
        .env("TRAILWATCH_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().expect("stderr")).lines() {
        let Ok(line) = line else { break };
        log.push_str(&line);
        log.push('\n');
        if line.contains("serving") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    // Port 8080 may be taken on this machine: then the refusal names the
    // address it tried.
    assert!(
        log.contains("http://127.0.0.1:8080") || log.contains("listening on 127.0.0.1:8080"),
        "{log}"
    );
}

/// A CloudTrail record with its own id, as pushed in the tests.
fn pushed(id: &str, name: &str, who: &str) -> Value {
    let identity = if who == "root" {
        json!({"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"})
    } else {
        json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{who}"), "accountId": "111122223333", "userName": who})
    };
    json!({
        "eventVersion": "1.08", "eventTime": chrono_now(), "eventID": id,
        "eventType": "AwsApiCall", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
        "eventSource": if name == "ConsoleLogin" { "signin.amazonaws.com" } else { "cloudtrail.amazonaws.com" },
        "eventName": name, "sourceIPAddress": "198.51.100.7", "userIdentity": identity,
        "requestParameters": {"name": "org-trail"},
        "responseElements": if name == "ConsoleLogin" { json!({"ConsoleLogin": "Success"}) } else { Value::Null },
        "additionalEventData": if name == "ConsoleLogin" { json!({"MFAUsed": "No"}) } else { Value::Null },
    })
}

/// Push one successful `AuthorizeSecurityGroupIngress` (event `id`)
/// opening tcp `port` of `group` to 0.0.0.0/0.
async fn push_group_opened(c: &reqwest::Client, base: &str, id: &str, group: &str, port: u16) {
    let mut open = pushed(id, "AuthorizeSecurityGroupIngress", "mallory");
    open["eventSource"] = json!("ec2.amazonaws.com");
    open["requestParameters"] = json!({"groupId": group, "ipPermissions": {"items": [
        {"ipProtocol": "tcp", "fromPort": port, "toPort": port, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}
    ]}});
    let body = json!({"Records": [open]}).to_string();
    let req = c
        .post(format!("{base}/ingest/cloudtrail"))
        .bearer_auth(TOKEN)
        .body(body);
    assert_eq!(send(req).await.0, 200);
}

fn chrono_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `serve` over `lake` with the test token, ingesting every second; its
/// state folder lives as long as the returned guard.
fn serve_ingesting(lake: &Path) -> (Server, tempfile::TempDir) {
    let state = tempfile::tempdir().expect("tempdir");
    let srv = serve_on(
        lake,
        state.path(),
        &["--ingest-interval", "1"],
        &[("TRAILWATCH_TOKEN", TOKEN)],
    );
    (srv, state)
}

/// A generated 2-day trail of `events` from `start` (YYYY-MM-DD),
/// ingested into `lake` by another process.
fn ingest_generated(lake: &Path, events: u32, seed: u32, start: &str) {
    let more = tempfile::tempdir().expect("tempdir");
    generate_into(more.path(), events, 2, seed, &["--start", start]);
    let out = run(&[
        "ingest",
        "-q",
        "--lake",
        path_str(lake),
        path_str(more.path()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A fresh lake holding one ordinary event.
fn small_lake(dir: &Path) {
    let rec = pushed("seed-0001", "DescribeTrails", "alice");
    let out = crate::support::run_stdin(
        &["ingest", "-q", "--lake", path_str(dir), "-"],
        json!({"Records": [rec]}).to_string().as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Poll `f` until it is true (10 s at most).
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !f().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Events pushed three ways go through detection at once, land in the
/// lake once however often they are sent, and every path checks its
/// credentials; Firehose gets its contract's replies.
#[test]
fn pushed_events_alert_at_once_and_land_in_the_lake_once() {
    let lake = tempfile::tempdir().expect("tempdir");
    small_lake(lake.path());
    let state = tempfile::tempdir().expect("tempdir");
    // Finding rules (the packs' trail and root rules are alarms, which
    // wait for event time to pass their period).
    let rules = state.path().join("push-rules.yaml");
    std::fs::write(
        &rules,
        "rules:\n  - id: pushed-trail-change\n    title: Trail changed\n    severity: P1\n    pattern: '{ ($.eventName = \"StopLogging\") || ($.eventName = \"DeleteTrail\") }'\n  - id: pushed-root-login\n    title: Root signed in\n    severity: P1\n    pattern: '{ ($.userIdentity.type = \"Root\") && ($.eventName = \"ConsoleLogin\") }'\n",
    )
    .expect("write");
    // Alerts are also delivered to the config's sinks (a file sink here).
    let delivered = state.path().join("delivered.ndjson");
    let config = state.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[notify]\noutbox = {:?}\n\n[[notify.route]]\nsinks = [\"log\"]\n\n[notify.sink.log]\ntype = \"file\"\npath = {:?}\n",
            path_str(&state.path().join("outbox")),
            path_str(&delivered)
        ),
    )
    .expect("write");
    let s = serve_on(
        lake.path(),
        state.path(),
        &[
            "--ingest-interval",
            "1",
            "--pack",
            "none",
            "--rules",
            path_str(&rules),
            "--config",
            path_str(&config),
        ],
        &[("TRAILWATCH_TOKEN", TOKEN)],
    );
    let c = client(None);
    let base = s.base.clone();
    rt().block_on(async {
        let url = |p: &str| format!("{base}{p}");
        let stop = pushed("push-stop-1", "StopLogging", "mallory");
        let body = json!({ "Records": [stop] }).to_string();
        assert_eq!(send(c.post(url("/ingest/cloudtrail")).body(body.clone())).await.0, 401);
        let (code, _, reply) = send(c.post(url("/ingest/cloudtrail")).bearer_auth(TOKEN).body(body.clone())).await;
        assert_eq!(code, 200, "{reply}");
        assert_eq!(serde_json::from_str::<Value>(&reply).expect("json")["accepted"], 1);
        // Again, gzipped: the lake keeps it once.
        let gz = crate::support::gzip(body.as_bytes());
        assert_eq!(send(c.post(url("/ingest/cloudtrail")).bearer_auth(TOKEN).body(gz)).await.0, 200);
        // EventBridge: a batch with one event of another kind.
        let root = pushed("push-root-1", "ConsoleLogin", "root");
        let batch = json!([
            {"version": "0", "id": "eb-1", "detail-type": "AWS Console Sign In via CloudTrail", "source": "aws.signin", "detail": root},
            {"version": "0", "id": "eb-2", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}},
        ]);
        let (code, _, reply) = send(c.post(url("/ingest/eventbridge")).bearer_auth(TOKEN).body(batch.to_string())).await;
        assert_eq!(code, 200, "{reply}");
        assert_eq!(serde_json::from_str::<Value>(&reply).expect("json"), json!({"accepted": 1, "ignored": 1}));
        // Firehose: its key header, its reply.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let del = pushed("push-fh-1", "DeleteTrail", "mallory");
        let fh = json!({"requestId": "fh-req-1", "timestamp": 1, "records": [{"data": b64.encode(del.to_string())}]});
        let (code, _, reply) = send(
            c.post(url("/ingest/firehose"))
                .header("x-amz-firehose-request-id", "fh-req-1")
                .header("x-amz-firehose-access-key", "wrong-key-wrong-key")
                .body(fh.to_string()),
        )
        .await;
        assert_eq!(code, 401);
        let r: Value = serde_json::from_str(&reply).expect("json");
        assert_eq!(r["requestId"], "fh-req-1");
        assert!(r["errorMessage"].is_string() && r["timestamp"].is_i64());
        let (code, _, reply) = send(
            c.post(url("/ingest/firehose"))
                .header("x-amz-firehose-request-id", "fh-req-1")
                .header("x-amz-firehose-access-key", TOKEN)
                .body(fh.to_string()),
        )
        .await;
        assert_eq!(code, 200, "{reply}");
        let r: Value = serde_json::from_str(&reply).expect("json");
        assert_eq!(r["requestId"], "fh-req-1");
        assert!(r["timestamp"].is_i64() && r.get("errorMessage").is_none());
        // Alerts, at once: StopLogging, root sign-in, DeleteTrail.
        let alerts = |c: reqwest::Client, u: String| async move {
            let (_, _, body) = send(c.get(u).bearer_auth(TOKEN)).await;
            serde_json::from_str::<Vec<Value>>(&body).unwrap_or_default()
        };
        let cites = |alerts: &[Value], id: &str| {
            alerts
                .iter()
                .filter(|a| a["event_ids"].as_array().is_some_and(|e| e.iter().any(|x| x == id)))
                .map(|a| a["rule_id"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        };
        eventually("alerts for the pushed events", async || {
            let got = alerts(c.clone(), url("/api/alerts")).await;
            !cites(&got, "push-stop-1").is_empty()
                && cites(&got, "push-root-1").contains(&"pushed-root-login".to_string())
                && !cites(&got, "push-fh-1").is_empty()
        })
        .await;
        // In the lake, each once.
        let count = |c: reqwest::Client, u: String| async move {
            let (_, _, body) = send(
                sql_request(&c, u, "SELECT eventid, count(*) AS n FROM cloudtrail_logs WHERE eventid LIKE 'push-%' GROUP BY eventid ORDER BY eventid"),
            )
            .await;
            serde_json::from_str::<Value>(&body).map(|v| v["rows"].clone()).unwrap_or(Value::Null)
        };
        eventually("the pushed events in the lake", async || {
            count(c.clone(), url("/api/query")).await
                == json!([
                    {"eventid": "push-fh-1", "n": 1},
                    {"eventid": "push-root-1", "n": 1},
                    {"eventid": "push-stop-1", "n": 1}
                ])
        })
        .await;
        // The alert for the event sent twice is filed once.
        let got = alerts(c.clone(), url("/api/alerts")).await;
        let stop_rules = cites(&got, "push-stop-1");
        let mut unique = stop_rules.clone();
        unique.dedup();
        assert_eq!(stop_rules, unique, "an alert filed twice");
        // Delivered to the sink, each alert once.
        eventually("the alerts delivered to the file sink", async || {
            let text = std::fs::read_to_string(&delivered).unwrap_or_default();
            ["push-stop-1", "push-root-1", "push-fh-1"].iter().all(|id| text.contains(id))
        })
        .await;
        let text = std::fs::read_to_string(&delivered).unwrap_or_default();
        let ids: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["alert_id"].as_str().map(str::to_string))
            .collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "a notification sent twice: {text}");
        let (_, _, metrics) = send(c.get(url("/metrics")).bearer_auth(TOKEN)).await;
        assert!(metrics.contains("trailwatch_outbox_pending{sink=\"log\"} 0"), "{metrics}");
        assert!(metrics.contains("trailwatch_spool_files 0"), "{metrics}");
        assert!(metrics.contains("trailwatch_pushed_events_total 4"), "{metrics}");
        assert!(metrics.contains("trailwatch_lake_events_total 3"), "{metrics}");
        assert!(metrics.contains("trailwatch_lake_duplicates_total 1"), "{metrics}");
        assert!(metrics.contains("trailwatch_alerts_total{severity=\"P1\",rule=\"pushed-root-login\"} 1"), "{metrics}");
    });
}

/// An alert is in `/api/alerts` as soon as it is filed: the server's own
/// write makes the query engine forget its listing of the lake's files,
/// instead of the listing cache hiding it for up to a second.
#[test]
fn a_pushed_alert_is_listed_as_soon_as_it_is_filed() {
    let lake = tempfile::tempdir().expect("tempdir");
    small_lake(lake.path());
    let state = tempfile::tempdir().expect("tempdir");
    let rules = state.path().join("push-rules.yaml");
    std::fs::write(
        &rules,
        "rules:\n  - id: pushed-trail-change\n    title: Trail changed\n    severity: P1\n    pattern: '{ $.eventName = \"DeleteTrail\" }'\n",
    )
    .expect("write");
    let s = serve_on(
        lake.path(),
        state.path(),
        &["--pack", "none", "--rules", path_str(&rules)],
        &[("TRAILWATCH_TOKEN", TOKEN)],
    );
    let c = client(None);
    let base = s.base.clone();
    rt().block_on(async {
        let url = |p: &str| format!("{base}{p}");
        // The listing is cached first, with no alert in it.
        let (code, _, body) = send(c.get(url("/api/alerts")).bearer_auth(TOKEN)).await;
        assert_eq!(code, 200, "{body}");
        assert!(!body.contains("visible-1"), "{body}");
        for i in 1..=5 {
            let id = format!("visible-{i}");
            let body = json!({ "Records": [pushed(&id, "DeleteTrail", "mallory")] }).to_string();
            let (code, _, reply) = send(
                c.post(url("/ingest/cloudtrail"))
                    .bearer_auth(TOKEN)
                    .body(body),
            )
            .await;
            assert_eq!(code, 200, "{reply}");
            let counted = format!(
                "trailwatch_alerts_total{{severity=\"P1\",rule=\"pushed-trail-change\"}} {i}"
            );
            eventually("the alert counted", async || {
                send(c.get(url("/metrics")).bearer_auth(TOKEN))
                    .await
                    .2
                    .contains(&counted)
            })
            .await;
            // Counted after it is filed: listed now, not a second later.
            let (_, _, listed) = send(c.get(url("/api/alerts")).bearer_auth(TOKEN)).await;
            assert!(listed.contains(&id), "{id} filed but not listed: {listed}");
        }
    });
}

/// An acknowledged event survives a kill -9 before it reached the lake.
#[test]
fn an_acknowledged_event_survives_a_kill() {
    let lake = tempfile::tempdir().expect("tempdir");
    small_lake(lake.path());
    let state = tempfile::tempdir().expect("tempdir");
    let env = [("TRAILWATCH_TOKEN", TOKEN)];
    let first = serve_on(
        lake.path(),
        state.path(),
        &["--ingest-interval", "3600"],
        &env,
    );
    let c = client(None);
    let base = first.base.clone();
    rt().block_on(async {
        let body =
            json!({"Records": [pushed("push-kill-1", "StopLogging", "mallory")]}).to_string();
        let (code, _, _) = send(
            c.post(format!("{base}/ingest/cloudtrail"))
                .bearer_auth(TOKEN)
                .body(body),
        )
        .await;
        assert_eq!(code, 200);
    });
    drop(first); // kill -9, long before the next ingest
    let second = serve_on(lake.path(), state.path(), &["--ingest-interval", "1"], &env);
    let base = second.base.clone();
    rt().block_on(async {
        eventually("the acknowledged event in the lake", async || {
            let (_, _, body) = send(
                c.post(format!("{base}/api/query"))
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/json")
                    .body(query_body(
                        "SELECT count(*) AS n FROM cloudtrail_logs WHERE eventid = 'push-kill-1'",
                    )),
            )
            .await;
            serde_json::from_str::<Value>(&body).is_ok_and(|v| v["rows"] == json!([{"n": 1}]))
        })
        .await;
    });
}

/// The dashboard in headless Chromium (WebDriver, through Python's
/// selenium): sign-in, the three panels showing the sample trail's planted
/// incidents, an alert with its evidence, investigate, a query.
/// Screenshots go to `target/screenshots/`.
#[test]
fn the_dashboard_works_in_a_real_browser() {
    if !crate::support::have_browser() {
        return;
    }
    let state = tempfile::tempdir().expect("tempdir");
    // Every pack: the compliance panel counts the CIS monitoring controls
    // with a rule in force.
    let s = serve(
        state.path(),
        &["--pack", "all"],
        &[("TRAILWATCH_TOKEN", TOKEN)],
    );
    let shots = crate::support::screenshots();
    crate::support::browser_fixture(
        "dashboard_e2e.py",
        &[s.base.as_str(), TOKEN, path_str(&shots)],
    );
    for shot in [
        "1-sign-in.png",
        "2-overview.png",
        "3-alerts-p1.png",
        "3-alert.png",
        "4-sql.png",
        "5-phone-overview.png",
        "6-phone-alert.png",
        "7-investigate.png",
    ] {
        let meta = std::fs::metadata(shots.join(shot)).expect("screenshot saved");
        assert!(meta.len() > 10_000, "{shot}: {} bytes", meta.len());
    }
}

/// `GET /api/investigate` answers what `investigate --format json` prints,
/// behind the token, and refuses a request without exactly one subject.
#[test]
fn the_investigation_api_answers_as_the_command_line_does() {
    let trail = tempfile::tempdir().expect("tempdir");
    crate::investigate::write_story(trail.path());
    let lake = crate::support::lake_of(trail.path());
    let state = tempfile::tempdir().expect("tempdir");
    let s = serve_on(
        lake.path(),
        state.path(),
        &[],
        &[("TRAILWATCH_TOKEN", TOKEN)],
    );
    let c = client(None);
    rt().block_on(async {
        let url = |q: &str| format!("{}/api/investigate?{q}", s.base);
        let q = format!("access_key={}", crate::investigate::LEAKED);
        let (code, _, _) = send(c.get(url(&q))).await;
        assert_eq!(code, 401);
        let (code, _, body) = send(c.get(url(&q)).bearer_auth(TOKEN)).await;
        assert_eq!(code, 200, "{body}");
        let report: Value = serde_json::from_str(&body).expect("json");
        crate::investigate::assert_the_story(&report);
        for bad in [
            "",
            "access_key=A&ip=1.2.3.4",
            "ip=1.2.3.4&depth=99",
            "ip=1.2.3.4&since=someday",
            "ip=1.2.3.4&color=red",
        ] {
            let (code, _, body) = send(c.get(url(bad)).bearer_auth(TOKEN)).await;
            assert_eq!(code, 400, "{bad}: {body}");
        }
        let (code, _, body) = send(c.get(url("alert=no-such-alert")).bearer_auth(TOKEN)).await;
        assert_eq!(code, 200, "{body}");
        assert!(
            body.contains("no alert no-such-alert in the lake's alerts table"),
            "{body}"
        );
    });
}

/// `trailwatch state` rebuilds the security state from the lake, and the
/// server serves the same state, kept up to date by pushed events.
#[test]
fn the_security_state_shows_the_sample_s_exposures_and_follows_pushes() {
    let out = run(&[
        "state",
        "--lake",
        path_str(sample_lake()),
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = &v["summary"];
    assert_eq!(
        s["public_buckets"],
        json!(["111111111111/acme-prod-reports"])
    );
    assert_eq!(
        s["security_groups_open_to_world"],
        json!([
            "111111111111/sg-0f1e2d3c4b5a69788",
            "222222222222/sg-0aa11bb22cc33dd44"
        ])
    );
    assert_eq!(s["users_without_mfa"], json!(["111111111111/svc-backup"]));
    assert_eq!(
        s["trails_not_logging"],
        json!(["111111111111/org-security-trail"])
    );
    assert_eq!(
        s["kms_keys_pending_deletion"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(s["partial_resources"].as_u64().unwrap_or(0) > 0);
    // Saved as tables, for SQL.
    let saved = run(&[
        "state",
        "--save",
        "--format",
        "json",
        "--lake",
        path_str(sample_lake()),
    ]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    let q = run(&[
        "query",
        "--lake",
        path_str(sample_lake()),
        "--format",
        "json",
        "SELECT id FROM state_buckets WHERE public ORDER BY id",
    ]);
    let got: Value = serde_json::from_slice(&q.stdout).expect("json");
    assert_eq!(
        got,
        json!([{"id": "111111111111/acme-prod-reports"}]),
        "{}",
        stderr(&q)
    );
    let table = run(&["state", "--lake", path_str(sample_lake())]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("public buckets: 1 of 1") && text.contains("acme-prod-reports  by policy"),
        "{text}"
    );
    // The server's state is the same, then follows a pushed change.
    let lake = tempfile::tempdir().expect("tempdir");
    small_lake(lake.path());
    let (srv, _state) = serve_ingesting(lake.path());
    let c = client(None);
    let base = srv.base.clone();
    rt().block_on(async {
        push_group_opened(&c, &base, "push-sg-1", "sg-push", 22).await;
        eventually("the pushed change in the state", async || {
            let (_, _, body) = send(c.get(format!("{base}/api/state")).bearer_auth(TOKEN)).await;
        // And in the lake's state tables, for SQL.
        eventually("the pushed change in the state tables", async || {
            let (_, _, body) = send(
                sql_request(&c, format!("{base}/api/query"), "SELECT id, open_to_world FROM state_security_groups"),
            )
            .await;
            serde_json::from_str::<Value>(&body).is_ok_and(|v| {
                v["rows"] == json!([{"id": "111122223333/sg-push", "open_to_world": "tcp 22-22 from 0.0.0.0/0"}])
            })
        })
        .await;
            let v: Value = serde_json::from_str(&body).unwrap_or_default();
            v["ready"] == true
                && v["summary"]["security_groups_open_to_world"] == json!(["111122223333/sg-push"])
        })
        .await;
    });
}

/// A record of `name` by `who` at `time`, failed when `failed`.
fn record_at(id: &str, name: &str, who: &str, time: &str, failed: bool) -> Value {
    let mut r = pushed(id, name, who);
    r["eventTime"] = json!(time);
    if failed {
        r["errorMessage"] = json!("Failed authentication");
        r["responseElements"] = json!({"ConsoleLogin": "Failure"});
    }
    r
}

/// `serve --watch` runs the trail's files and pushed events through one
/// pipeline: events pushed first and read again from the trail's file are
/// counted once by an alarm, stored once, and alerted once; the state is
/// kept across a kill (the file is not taken again, a copy pushed after
/// the restart is still known).
#[test]
fn serve_watch_counts_an_event_pushed_and_read_from_the_trail_once() {
    let lake = tempfile::tempdir().expect("tempdir");
    small_lake(lake.path());
    let state = tempfile::tempdir().expect("tempdir");
    let trail = tempfile::tempdir().expect("tempdir");
    let now = chrono::Utc::now();
    let day = trail
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1")
        .join(now.format("%Y/%m/%d").to_string());
    std::fs::create_dir_all(&day).expect("mkdir");
    // Three failed sign-ins within one minute, ten minutes ago; an event
    // three minutes later moves event time past that minute.
    let t0 = now - chrono::TimeDelta::minutes(10);
    let at = |secs: i64| {
        (t0 + chrono::TimeDelta::seconds(secs))
            .format("%Y-%m-%dT%H:%M:00Z")
            .to_string()
    };
    let fails: Vec<Value> = (1..=3)
        .map(|i| {
            record_at(
                &format!("fail-{i}"),
                "ConsoleLogin",
                "mallory",
                &at(0),
                true,
            )
        })
        .collect();
    let later = record_at("later-1", "DescribeTrails", "alice", &at(180), false);
    let rules = state.path().join("alarm.yaml");
    std::fs::write(
        &rules,
        "rules:\n  - id: failed-sign-ins\n    title: Failed console sign-ins\n    severity: P2\n    pattern: '{ ($.eventName = \"ConsoleLogin\") && ($.errorMessage = \"Failed authentication\") }'\n    metric: {name: FailedSignIns, namespace: Test, value: \"1\"}\n    alarm: {period: 60, evaluation_periods: 1, statistic: Sum, threshold: 3, comparison: GreaterThanOrEqualToThreshold, treat_missing_data: notBreaching}\n",
    )
    .expect("write");
    let config = state.path().join("config.toml");
    std::fs::write(&config, "[watch]\nlateness = 0\npoll_ms = 200\n").expect("write");
    let flags = [
        "--ingest-interval",
        "1",
        "--pack",
        "none",
        "--rules",
        path_str(&rules),
        "--config",
        path_str(&config),
        "--watch",
        path_str(trail.path()),
    ];
    let env = [("TRAILWATCH_TOKEN", TOKEN)];
    let c = client(None);
    let alarms = |c: reqwest::Client, base: String| async move {
        let (_, _, body) = send(
            c.get(format!("{base}/api/alerts?rule=failed-sign-ins"))
                .bearer_auth(TOKEN),
        )
        .await;
        serde_json::from_str::<Vec<Value>>(&body)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["state"] == "ALARM")
            .collect::<Vec<Value>>()
    };
    let metric = |c: reqwest::Client, base: String, name: &'static str| async move {
        let (_, _, text) = send(c.get(format!("{base}/metrics")).bearer_auth(TOKEN)).await;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    };
    let push = |c: reqwest::Client, base: String, records: Vec<Value>| async move {
        let body = json!({ "Records": records }).to_string();
        let (code, _, reply) = send(
            c.post(format!("{base}/ingest/cloudtrail"))
                .bearer_auth(TOKEN)
                .body(body),
        )
        .await;
        assert_eq!(code, 200, "{reply}");
    };
    {
        let s = serve_on(lake.path(), state.path(), &flags, &env);
        let base = s.base.clone();
        rt().block_on(async {
            // Two of the three pushed first: not enough to alarm.
            push(c.clone(), base.clone(), fails[..2].to_vec()).await;
            eventually("the pushes detected", async || {
                metric(c.clone(), base.clone(), "trailwatch_spool_files").await == 0
            })
            .await;
            // The trail's file with all of them lands (renamed into place).
            let name = format!(
                "111122223333_CloudTrail_us-east-1_{}_test.json.gz",
                now.format("%Y%m%dT%H%MZ")
            );
            let mut all = fails.clone();
            all.push(later.clone());
            let gz = crate::support::gzip(json!({ "Records": all }).to_string().as_bytes());
            std::fs::write(day.join(".incoming"), gz).expect("write");
            std::fs::rename(day.join(".incoming"), day.join(&name)).expect("rename");
            eventually("the alarm", async || {
                !alarms(c.clone(), base.clone()).await.is_empty()
            })
            .await;
            let got = alarms(c.clone(), base.clone()).await;
            assert_eq!(got.len(), 1, "{got:?}");
            // The minute's datapoint (the last; the ones before give
            // context) and the evidence: three, not five.
            assert_eq!(got[0]["datapoints"].as_array().and_then(|d| d.last()), Some(&json!(3.0)), "counted once: {got:?}");
            assert_eq!(got[0]["event_count"], 3, "{got:?}");
            // The alarm can be filed before the pass that found it has
            // added its duplicates to the metric.
            eventually("two duplicates counted", async || {
                metric(c.clone(), base.clone(), "trailwatch_detect_duplicates_total").await == 2
            })
            .await;
            assert_eq!(
                metric(c.clone(), base.clone(), "trailwatch_watched_files_total").await,
                1
            );
            // Each event once in the lake.
            eventually("the events in the lake, once each", async || {
                let (_, _, body) = send(sql_request(
                    &c,
                    format!("{base}/api/query"),
                    "SELECT eventid, count(*) AS n FROM cloudtrail_logs WHERE eventid LIKE 'fail-%' OR eventid = 'later-1' GROUP BY eventid ORDER BY eventid",
                ))
                .await;
                serde_json::from_str::<Value>(&body).is_ok_and(|v| {
                    v["rows"]
                        == json!([
                            {"eventid": "fail-1", "n": 1},
                            {"eventid": "fail-2", "n": 1},
                            {"eventid": "fail-3", "n": 1},
                            {"eventid": "later-1", "n": 1}
                        ])
                })
            })
            .await;
        });
        // The state saved once the work paused; then a kill -9.
        let cp = state.path().join("pipeline/checkpoint.json");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&cp).is_ok_and(|t| t.contains("111122223333/us-east-1")) {
            assert!(std::time::Instant::now() < deadline, "no checkpoint");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let s = serve_on(lake.path(), state.path(), &flags, &env);
    let base = s.base.clone();
    rt().block_on(async {
        // A copy of a counted event, pushed after the restart, is known.
        push(c.clone(), base.clone(), vec![fails[2].clone()]).await;
        eventually("the copy skipped", async || {
            metric(
                c.clone(),
                base.clone(),
                "trailwatch_detect_duplicates_total",
            )
            .await
                == 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            metric(c.clone(), base.clone(), "trailwatch_watched_files_total").await,
            0,
            "the trail's file taken again"
        );
        let got = alarms(c.clone(), base.clone()).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["event_count"], 3, "{got:?}");
    });
}

/// The server's security state and overview once it is up, as
/// `/api/state` and `/api/summary` answer.
fn up(lake: &Path) -> (Value, Value) {
    let state = tempfile::tempdir().expect("tempdir");
    let srv = serve_on(lake, state.path(), &[], &[("TRAILWATCH_TOKEN", TOKEN)]);
    let c = client(None);
    let get = async |path: &str| {
        let (_, _, body) = send(c.get(format!("{}{path}", srv.base)).bearer_auth(TOKEN)).await;
        serde_json::from_str::<Value>(&body).unwrap_or_default()
    };
    rt().block_on(async {
        let (mut state, mut summary) = (Value::Null, Value::Null);
        eventually("the security state up", async || {
            state = get("/api/state").await;
            state["ready"] == true
        })
        .await;
        eventually("the overview's figures", async || {
            summary = get("/api/summary").await;
            summary["ready"] == true
        })
        .await;
        (state, summary)
    })
}

/// The overview's event figures as SQL over every event of the lake gives
/// them, for the whole-hour windows of an overview as of `as_of` (records
/// dated after the clock, as the sample's 2099 one, left out).
fn activity_by_sql(lake: &Path, as_of: &str) -> Value {
    let as_of = chrono::DateTime::parse_from_rfc3339(as_of).expect("as_of");
    let hour = as_of.timestamp().div_euclid(3600) * 3600;
    let iso = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .expect("a time")
            .format("'%Y-%m-%dT%H:%M:%SZ'")
            .to_string()
    };
    let since = |hours: i64| {
        format!(
            "eventtime >= {} AND eventtime <= {}",
            iso(hour - (hours - 1) * 3600),
            iso(chrono::Utc::now().timestamp() + 7200)
        )
    };
    let q = |sql: String| -> Value {
        let out = crate::support::query_json(lake, &sql);
        assert!(out.status.success(), "{sql}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("json rows")
    };
    let login = "eventname = 'ConsoleLogin' AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'";
    let changes = trailwatch_core::activity::CHANGES
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    json!({
        "events_per_hour": q(format!(
            "SELECT date_format(date_trunc('hour', eventtimestamp), '%Y-%m-%dT%H:00Z') AS hour, count(*) AS events \
             FROM cloudtrail_logs WHERE {} GROUP BY 1 ORDER BY 1", since(24))),
        "top_callers": q(format!(
            "SELECT coalesce(useridentity.arn, useridentity.invokedby, useridentity.type) AS who, count(*) AS events \
             FROM cloudtrail_logs WHERE {} GROUP BY 1 ORDER BY events DESC, who LIMIT 10", since(24))),
        "console_logins": q(format!(
            "SELECT count(*) AS logins, \
             count(CASE WHEN json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'Yes' THEN 1 END) AS with_mfa \
             FROM cloudtrail_logs WHERE {login} AND {}", since(720)))[0],
        "signing_in_without_mfa": q(format!(
            "SELECT useridentity.arn AS who, count(*) AS logins FROM cloudtrail_logs WHERE {login} AND {} \
             AND coalesce(json_extract_scalar(additionaleventdata, '$.MFAUsed'), 'No') <> 'Yes' \
             GROUP BY 1 ORDER BY logins DESC, who LIMIT 20", since(720))),
        "changes": sorted(q(format!(
            "SELECT eventtime AS time, eventsource AS source, eventname AS action, \
             coalesce(useridentity.arn, useridentity.principalid, useridentity.type) AS who, \
             sourceipaddress AS ip, awsregion AS region, recipientaccountid AS account \
             FROM cloudtrail_logs WHERE {} AND errorcode IS NULL AND eventname IN ({changes}) \
             ORDER BY eventtime DESC LIMIT 50", since(168)))),
    })
}

fn sorted(mut rows: Value) -> Value {
    if let Some(a) = rows.as_array_mut() {
        a.sort_by_key(|r| r.to_string());
    }
    rows
}

/// The overview's event figures, as `activity_by_sql` gives them.
fn activity_of(summary: &Value) -> Value {
    let mut changes = summary["changes"].clone();
    for c in changes.as_array_mut().into_iter().flatten() {
        c.as_object_mut().map(|m| m.remove("area"));
    }
    json!({
        "events_per_hour": summary["activity"]["events_per_hour"],
        "top_callers": summary["activity"]["top_callers"],
        "console_logins": summary["compliance"]["console_logins"],
        "signing_in_without_mfa": summary["compliance"]["signing_in_without_mfa"],
        "changes": sorted(changes),
    })
}

/// The overview's event figures are those SQL over the whole lake gives.
fn assert_activity_is_the_lake_s(lake: &Path, summary: &Value) {
    let as_of = summary["as_of"].as_str().expect("as_of");
    let by_sql = activity_by_sql(lake, as_of);
    assert!(
        by_sql["events_per_hour"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{by_sql}"
    );
    assert_eq!(activity_of(summary), by_sql, "as of {as_of}");
}

/// The state a rebuild from every event of the lake gives.
fn rebuilt_state(lake: &Path) -> Value {
    let out = run(&["state", "--lake", path_str(lake), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

/// `/api/state` without how it came up: what a rebuild prints.
fn without_startup(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("ready");
        m.remove("startup");
    }
    v
}

/// A restart takes the security state back from the lake's snapshot and
/// reads only the files the snapshot does not cover; `lake compact` keeps
/// the snapshot; one that no longer matches the lake is not used. Every
/// way, the state is the one a rebuild from every event gives, and the
/// overview's event figures are those SQL over every event gives.
#[test]
fn a_restart_takes_the_state_from_the_snapshot_and_reads_only_what_is_new() {
    let lake = tempfile::tempdir().expect("tempdir");
    let lk = path_str(lake.path());
    let out = run(&["ingest", "-q", "--lake", lk, path_str(&sample_trail())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (first, overview) = up(lake.path());
    assert_activity_is_the_lake_s(lake.path(), &overview);
    assert_eq!(
        first["startup"]["from_snapshot"], false,
        "{}",
        first["startup"]
    );
    assert_eq!(first["startup"]["files_read"], first["startup"]["files"]);
    assert!(lake.path().join("state/snapshot.json").is_file());
    assert_eq!(without_startup(first.clone()), rebuilt_state(lake.path()));
    // Newer events, ingested by another command while the server was down.
    ingest_generated(lake.path(), 2000, 4, "2026-05-01");
    let (second, overview) = up(lake.path());
    assert_activity_is_the_lake_s(lake.path(), &overview);
    let st = &second["startup"];
    assert_eq!(st["from_snapshot"], true, "{st}");
    let (read, files) = (
        st["files_read"].as_u64().unwrap(),
        st["files"].as_u64().unwrap(),
    );
    let before = first["startup"]["files"].as_u64().unwrap();
    assert_eq!(read, files - before, "only the new files are read: {st}");
    assert!(read > 0);
    assert_ne!(without_startup(second.clone()), without_startup(first));
    assert_eq!(without_startup(second.clone()), rebuilt_state(lake.path()));
    // Compaction replaces files the snapshot covers: it follows them.
    let out = run(&["lake", "compact", "-q", "--lake", lk]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (third, overview) = up(lake.path());
    assert_activity_is_the_lake_s(lake.path(), &overview);
    assert_eq!(
        third["startup"]["from_snapshot"], true,
        "{}",
        third["startup"]
    );
    assert_eq!(third["startup"]["files_read"], 0);
    assert_eq!(without_startup(third), without_startup(second));
    // A file it covers is gone: the state is rebuilt, from what is left.
    let gone = crate::support::files_under(&lake.path().join("cloudtrail"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .expect("a table file");
    std::fs::remove_file(&gone).expect("remove");
    let (fourth, overview) = up(lake.path());
    assert_activity_is_the_lake_s(lake.path(), &overview);
    assert_eq!(
        fourth["startup"]["from_snapshot"], false,
        "{}",
        fourth["startup"]
    );
    assert_eq!(without_startup(fourth), rebuilt_state(lake.path()));
}

/// What the server applied from pushed events and filed in the lake is in
/// its snapshot once filed: a restart (even after a kill) reads no file
/// again and counts no event twice; the overview shows it live and after
/// the restart.
#[test]
fn pushed_changes_filed_in_the_lake_are_in_the_snapshot_a_restart_takes() {
    let lake = tempfile::tempdir().expect("tempdir");
    small_lake(lake.path());
    let (srv, _state) = serve_ingesting(lake.path());
    let c = client(None);
    let base = srv.base.clone();
    let snapshot = lake.path().join("state/snapshot.json");
    rt().block_on(async {
        push_group_opened(&c, &base, "push-sg-snap", "sg-snap", 3389).await;
        // The overview lists it at once (its figures are kept live).
        eventually("the pushed change in the overview", async || {
            let url = format!("{base}/api/summary");
            let (_, _, body) = send(c.get(url).bearer_auth(TOKEN)).await;
            body.contains("AuthorizeSecurityGroupIngress")
        })
        .await;
        eventually("the pushed change in the snapshot", async || {
            std::fs::read_to_string(&snapshot).is_ok_and(|s| s.contains("sg-snap"))
        })
        .await;
    });
    drop(srv); // a kill: nothing saved on the way out
    let (again, overview) = up(lake.path());
    assert_activity_is_the_lake_s(lake.path(), &overview);
    assert_eq!(
        overview["changes"][0]["action"],
        "AuthorizeSecurityGroupIngress"
    );
    let st = &again["startup"];
    assert_eq!(
        (st["from_snapshot"].clone(), st["files_read"].clone()),
        (json!(true), json!(0)),
        "{st}"
    );
    assert_eq!(
        again["summary"]["security_groups_open_to_world"],
        json!(["111122223333/sg-snap"])
    );
    assert_eq!(without_startup(again), rebuilt_state(lake.path()));
}

/// Files another process ingests into the lake while the server runs are
/// taken into the overview and the security state at the next interval.
/// After a compaction under it, the server stops following the lake, and
/// its next start has every event once.
#[test]
fn the_overview_follows_what_others_ingest_into_the_lake() {
    let lake = tempfile::tempdir().expect("tempdir");
    let lk = path_str(lake.path());
    let ingest = |start: &str| ingest_generated(lake.path(), 3000, 5, start);
    ingest("2026-06-01");
    let (srv, _state) = serve_ingesting(lake.path());
    let c = client(None);
    let url = format!("{}/api/summary", srv.base);
    let as_of = async || {
        let (_, _, body) = send(c.get(&url).bearer_auth(TOKEN)).await;
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        v["as_of"].as_str().unwrap_or_default().to_string()
    };
    rt().block_on(async {
        eventually("the overview up", async || {
            as_of().await.starts_with("2026-06-02")
        })
        .await;
    });
    ingest("2026-06-10");
    rt().block_on(async {
        eventually("the other process's events in the overview", async || {
            let (_, _, body) = send(c.get(&url).bearer_auth(TOKEN)).await;
            let v: Value = serde_json::from_str(&body).unwrap_or_default();
            v["as_of"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-06-11"))
                && activity_of(&v) == activity_by_sql(lake.path(), v["as_of"].as_str().unwrap())
        })
        .await;
    });
    let out = run(&["lake", "compact", "-q", "--lake", lk]);
    assert!(out.status.success(), "{}", stderr(&out));
    ingest("2026-06-20");
    std::thread::sleep(Duration::from_secs(2));
    drop(srv);
    let (st, overview) = up(lake.path());
    assert_activity_is_the_lake_s(lake.path(), &overview);
    assert!(
        overview["as_of"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-06-21"))
    );
    assert_eq!(without_startup(st), rebuilt_state(lake.path()));
}
