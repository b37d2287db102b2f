"""The dashboard's page times on a large lake, with DuckDB as the peer.

Usage: python3 bench/serve_pages.py TRAILWATCH_BINARY LAKE [RUNS]

Starts `trailwatch serve` on LAKE and times what a page view asks for: the
page itself; /api/summary as the first view right after start (it waits
for the figures the server computes at start), once the security state is
ready (the figures computed), and after they went stale (served as they
are while the next computation runs behind); the alert list, one alert
with its evidence, and a top-callers query through /api/query. Each is
timed RUNS times (default 5, the server restarted each run); prints the
median and the worst, in ms, and the summary's own `compute_ms`. Before
timing, it waits for the server to finish rebuilding the security state
from the lake, and reports how long that took (from the start of the
process).

The peer: the five statements the summary ran over the events before it
kept counters (changes, MFA sign-ins, sign-ins without MFA, events per
hour, top callers; see docs/benchmarks.md, issue #35), each run
warm through /api/query and by DuckDB in-process over the same Parquet
(`trailwatch lake ddl --engine duckdb`, its own dialect where Athena's
differs), best of 3 each; prints both times and the ratio.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

TOKEN = "bench-token-0123456789abcdef0123456789"


def start(binary, lake, state, extra=()):
    """`trailwatch serve` on a free loopback port with the bench token (and
    `extra` flags): the process and its port, once it says where it
    listens. Shared by bench/scale.py and bench/push_latency.py."""
    env = dict(os.environ, TRAILWATCH_TOKEN=TOKEN)
    server = subprocess.Popen(
        [binary, "serve", "--lake", lake, "--state", state, "--listen", "127.0.0.1:0", *extra],
        env=env, stderr=subprocess.PIPE, text=True)
    for line in server.stderr:
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if m:
            return server, int(m.group(1))
    raise SystemExit("the server did not start")


def timed(conn, method, path, body=None):
    headers = {"Authorization": "Bearer " + TOKEN}
    if body is not None:
        headers["Content-Type"] = "application/json"
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t0) * 1000
    assert r.status == 200, (path, r.status, data[:200])
    return ms, data


CHANGES = [
    "CreateUser", "DeleteUser", "CreateAccessKey", "DeleteAccessKey", "CreateLoginProfile",
    "UpdateLoginProfile", "AttachUserPolicy", "DetachUserPolicy", "PutUserPolicy",
    "AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy", "AttachGroupPolicy",
    "PutGroupPolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion", "CreateRole",
    "DeleteRole", "UpdateAssumeRolePolicy", "AddUserToGroup", "DeactivateMFADevice",
    "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress", "CreateSecurityGroup", "DeleteSecurityGroup",
    "CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl", "CreateRoute",
    "ReplaceRoute", "CreateInternetGateway", "AttachInternetGateway", "CreateVpc", "DeleteVpc",
    "CreateVpcPeeringConnection", "StopLogging", "DeleteTrail", "UpdateTrail",
    "PutEventSelectors", "DeleteDetector", "StopConfigurationRecorder",
    "DeleteConfigurationRecorder", "DisableKey", "ScheduleKeyDeletion", "PutBucketPolicy",
    "DeletePublicAccessBlock", "PutBucketAcl",
]


def statements(as_of):
    """The summary's statements over the events: (name, Athena, DuckDB)."""
    import datetime
    t = datetime.datetime.strptime(as_of, "%Y-%m-%dT%H:%M:%SZ")
    iso = lambda d: (t - d).strftime("%Y-%m-%dT%H:%M:%SZ")
    day, week, month = iso(datetime.timedelta(hours=24)), iso(datetime.timedelta(days=7)), iso(datetime.timedelta(days=30))
    names = ", ".join("'%s'" % n for n in CHANGES)
    changes = ("SELECT eventtime AS time, eventsource AS source, eventname AS action, "
               "coalesce(useridentity.arn, useridentity.principalid, useridentity.type) AS who, "
               "sourceipaddress AS ip, awsregion AS region, recipientaccountid AS account "
               f"FROM cloudtrail_logs WHERE eventtime >= '{week}' AND errorcode IS NULL "
               f"AND eventname IN ({names}) ORDER BY eventtime DESC LIMIT 50")
    mfa = ("SELECT count(*) AS logins, count(CASE WHEN JSON(additionaleventdata, '$.MFAUsed') = 'Yes' THEN 1 END) AS with_mfa "
           f"FROM cloudtrail_logs WHERE eventname = 'ConsoleLogin' AND eventtime >= '{month}' "
           "AND JSON(responseelements, '$.ConsoleLogin') = 'Success'")
    without = ("SELECT useridentity.arn AS who, count(*) AS logins FROM cloudtrail_logs "
               f"WHERE eventname = 'ConsoleLogin' AND eventtime >= '{month}' "
               "AND JSON(responseelements, '$.ConsoleLogin') = 'Success' "
               "AND coalesce(JSON(additionaleventdata, '$.MFAUsed'), 'No') <> 'Yes' "
               "GROUP BY 1 ORDER BY logins DESC, who LIMIT 20")
    per_hour = ("SELECT FMT(date_trunc('hour', eventtimestamp), '%Y-%m-%dT%H:00Z') AS hour, count(*) AS events "
                f"FROM cloudtrail_logs WHERE eventtime >= '{day}' GROUP BY 1 ORDER BY 1")
    callers = ("SELECT coalesce(useridentity.arn, useridentity.invokedby, useridentity.type) AS who, count(*) AS events "
               f"FROM cloudtrail_logs WHERE eventtime >= '{day}' GROUP BY 1 ORDER BY events DESC, who LIMIT 10")
    out = []
    for name, q in [("changes (7 days)", changes), ("console sign-ins with MFA (30 days)", mfa),
                    ("sign-ins without MFA (30 days)", without), ("events per hour (24 h)", per_hour),
                    ("top callers (24 h)", callers)]:
        athena = q.replace("JSON(", "json_extract_scalar(").replace("FMT(", "date_format(")
        duck = q.replace("JSON(", "json_extract_string(").replace("FMT(", "strftime(")
        out.append((name, athena, duck))
    return out


def best(f, n=3):
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        xs.append((time.perf_counter() - t0) * 1000)
    return min(xs)


def peer(conn, lake, binary, as_of):
    try:
        import duckdb
    except ImportError:
        print("(no duckdb module: the peer is not measured; pip install duckdb)\n")
        return
    ddl = subprocess.run([binary, "lake", "ddl", "--engine", "duckdb", "--lake", lake],
                         check=True, capture_output=True, text=True).stdout
    con = duckdb.connect()
    con.execute(ddl)
    print("| summary statement | trailwatch /api/query ms | DuckDB in-process ms | ratio |")
    print("|---|---|---|---|")
    for name, athena, duck in statements(as_of):
        body = json.dumps({"sql": athena})
        timed(conn, "POST", "/api/query", body)  # warm
        con.execute(duck).fetchall()
        a = best(lambda: timed(conn, "POST", "/api/query", body))
        b = best(lambda: con.execute(duck).fetchall())
        print(f"| {name} | {a:.0f} | {b:.0f} | {a / b:.2f}x |")
    print()


def main():
    binary, lake = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    times = {}
    compute = []
    peer_port = None
    stale_wait = os.environ.get("STALE", "1") == "1"
    top = json.dumps({"sql": "SELECT useridentity.arn, count(*) AS n FROM cloudtrail_logs "
                             "GROUP BY 1 ORDER BY n DESC LIMIT 10"})
    for _ in range(runs):
        state = tempfile.mkdtemp(prefix="tw-pages-")
        t_start = time.perf_counter()
        server, port = start(binary, lake, state)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            _, data = timed(conn, "GET", "/api/state")
            if json.loads(data)["ready"]:
                break
            time.sleep(0.1)
        times.setdefault("security state rebuilt from the lake (from process start)", []).append(
            (time.perf_counter() - t_start) * 1000)
        # The first view, at once: the figures are being computed.
        conn0 = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        ms, data = timed(conn0, "GET", "/api/summary")
        times.setdefault("GET /api/summary, first view right after start", []).append(ms)
        compute.append(json.loads(data)["compute_ms"])
        as_of = json.loads(data)["as_of"]
        for name, method, path, body in [
            ("GET / (the page)", "GET", "/", None),
            ("GET /api/summary, figures computed", "GET", "/api/summary", None),
            ("GET /api/alerts?limit=500", "GET", "/api/alerts?limit=500", None),
        ]:
            ms, data = timed(conn, method, path, body)
            times.setdefault(name, []).append(ms)
            if path.startswith("/api/alerts"):
                alerts = json.loads(data)
        # The latest alert that cites events (an alarm's OK transition cites none).
        cited = [a for a in alerts if a.get("event_ids")]
        if cited:
            ms, _ = timed(conn, "GET", "/api/alerts/" + cited[-1]["alert_id"])
            times.setdefault("GET /api/alerts/{id} (with evidence)", []).append(ms)
        ms, _ = timed(conn, "POST", "/api/query", top)
        times.setdefault("POST /api/query (top callers)", []).append(ms)
        if stale_wait:
            # Stale: served as they are, the next computation behind.
            time.sleep(31)
            ms, _ = timed(conn, "GET", "/api/summary")
            times.setdefault("GET /api/summary, figures stale (recomputed behind)", []).append(ms)
            time.sleep(3)
            ms, data = timed(conn, "GET", "/api/summary")
            compute.append(json.loads(data)["compute_ms"])
        if peer_port is None:
            peer_port = port
            peer(conn, lake, binary, as_of)
        server.terminate()
        server.wait()
    compute.sort()
    print(f"summary computed in {compute[len(compute) // 2]} ms median, {compute[-1]} ms worst ({len(compute)} computations)\n")
    print("| request | median ms | worst ms |")
    print("|---|---|---|")
    for name, xs in times.items():
        xs.sort()
        print(f"| {name} | {xs[len(xs) // 2]:.1f} | {xs[-1]:.1f} |")


if __name__ == "__main__":
    main()
