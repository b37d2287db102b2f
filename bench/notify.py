#!/usr/bin/env python3
"""Time `trailwatch notify send` of N alerts to a local webhook receiver
(through the outbox: journal appends and syncs, one message per alert), and
the same N JSON bodies POSTed by http.client to the same receiver as the
peer. Prints a markdown row. Usage: bench/notify.py TRAILWATCH N"""
import http.client, json, os, socket, subprocess, sys, tempfile, time

tw, n = sys.argv[1], int(sys.argv[2])
here = os.path.dirname(os.path.abspath(__file__))
receiver = os.path.join(here, "..", "crates", "trailwatch", "tests", "receivers", "http_receiver.py")
with tempfile.TemporaryDirectory() as d:
    log = os.path.join(d, "rx.ndjson")
    rx = subprocess.Popen([sys.executable, receiver, "--log", log], stdout=subprocess.PIPE, text=True)
    port = int(rx.stdout.readline())
    try:
        base = json.loads(subprocess.run(
            [tw, "detect", "--pack", "essential", "--format", "ndjson", os.path.join(here, "..", "examples", "sample-trail")],
            check=True, capture_output=True, text=True).stdout.splitlines()[0])
        alerts = os.path.join(d, "alerts.ndjson")
        with open(alerts, "w") as f:
            for i in range(n):
                base["alert_id"] = "bench-%08d" % i
                f.write(json.dumps(base) + "\n")
        config = os.path.join(d, "config.toml")
        with open(config, "w") as f:
            f.write('[notify]\noutbox = "%s"\n[[notify.route]]\nsinks = ["hook"]\n'
                    '[notify.sink.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:%d/"\n'
                    'max_per_minute = 1000000\n' % (os.path.join(d, "outbox"), port))
        t = time.perf_counter()
        subprocess.run([tw, "-q", "notify", "send", alerts, "--config", config], check=True)
        t_tw = time.perf_counter() - t
        got = sum(1 for _ in open(log))
        assert got == n, (got, n)
        bodies = [json.dumps({"version": 1, "kind": "alert", "alert_ids": [l["alert_id"]], "alerts": [l]}).encode()
                  for l in map(json.loads, open(alerts))]
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = time.perf_counter()
        for b in bodies:
            conn.request("POST", "/", body=b, headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        t_py = time.perf_counter() - t
    finally:
        rx.kill()
print("| alerts | trailwatch notify send s | alerts/s | http.client bare POSTs s | ratio |")
print("|---|---|---|---|---|")
print("| %d | %.2f | %.0f | %.2f | %.2fx |" % (n, t_tw, n / t_tw, t_py, t_tw / t_py))
