"""A real HTTP receiver for trailwatch's notification tests (webhook, Slack,
PagerDuty). Every request is appended to --log as one JSON line (path,
headers, body, the status answered, whether the HMAC signature checked out)
and synced before the answer is sent. Behaviour can be changed while it
runs through --control, a JSON file re-read on every request:
{"status": 500, "retry_after": 1, "delay_ms": 200, "location": URL,
"echo": true} (location: sent as the Location header, for redirects;
echo: the error body repeats the request path). With --secret, a
request whose X-Trailwatch-Signature is not HMAC-SHA256(secret, body) is
answered 401. Prints the port it listens on, then serves until killed."""

import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--log", required=True)
parser.add_argument("--secret")
parser.add_argument("--control")
args = parser.parse_args()
lock = threading.Lock()


def control():
    if not args.control or not os.path.exists(args.control):
        return {}
    try:
        with open(args.control) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The answer's headers and body are written separately; without this,
    # Nagle's algorithm and the client's delayed ACK add ~40 ms per request.
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ctl = control()
        if ctl.get("delay_ms"):
            time.sleep(ctl["delay_ms"] / 1000)
        signature_ok = None
        if args.secret is not None:
            want = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
            signature_ok = hmac.compare_digest(want, self.headers.get("X-Trailwatch-Signature", ""))
        status = int(ctl.get("status", 200))
        if signature_ok is False:
            status = 401
        record = {
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "status": status,
            "signature_ok": signature_ok,
            "at": time.time(),
        }
        with lock, open(args.log, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        out = b'{"status":"success"}' if status < 300 else b'{"error":"the test receiver says no"}'
        if status >= 300 and ctl.get("echo"):
            out = json.dumps({"error": "no such hook: " + self.path}).encode()
        self.send_response(status)
        if ctl.get("location"):
            self.send_header("Location", ctl["location"])
        if status == 429 and ctl.get("retry_after") is not None:
            self.send_header("Retry-After", str(ctl["retry_after"]))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
