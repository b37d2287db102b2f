"""A real SMTP server (aiosmtpd) for trailwatch's email tests. Each message
received is appended to --log as one JSON line (envelope sender and
recipients, whether the session authenticated, the raw message). With
--auth USER:PASSWORD, AUTH is required and checked (over plain SMTP, which
aiosmtpd allows only when told to: this is a loopback test server).
With --cert and --key it speaks TLS: STARTTLS (required) by default, or
from the first byte with --implicit-tls.
Prints the port once it listens, then serves until killed."""

import argparse
import json
import os
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--auth")
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--implicit-tls", action="store_true")
args = parser.parse_args()
lock = threading.Lock()


class Handler:
    async def handle_DATA(self, server, session, envelope):
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            # STARTTLS sets session.ssl; implicit TLS shows on the transport.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        with lock, open(args.log, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    user, password = args.auth.split(":", 1)
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    # handled=False: aiosmtpd then answers 535 itself on failure.
    return AuthResult(success=ok, handled=False)


kwargs = {}
if args.auth:
    kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
if args.cert:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    if args.implicit_tls:
        kwargs["ssl_context"] = context
    else:
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
controller = Controller(Handler(), hostname="127.0.0.1", port=args.port, **kwargs)
controller.start()
print(args.port, flush=True)
threading.Event().wait()
