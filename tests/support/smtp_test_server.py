#!/usr/bin/env python3
"""A real SMTP server on loopback for safegate's e-mail alert tests (Debian's python3-aiosmtpd).

Binds port 0 and prints "READY <port>" once it accepts connections. Modes:
  --starttls   plain SMTP that requires STARTTLS before MAIL (submission, port 587 style)
  --smtps      TLS from the first byte (port 465 style)
  --auth USER:PASSWORD  also require AUTH (PLAIN or LOGIN, only over TLS) with these
                       credentials before MAIL
Every accepted message is appended to --log as one JSON line
{"mail_from", "rcpt_tos", "data", "tls", "auth_user"} where "tls" says whether the session was
encrypted when the message arrived and "auth_user" who authenticated (null without AUTH).
"""
import argparse
import asyncio
import json
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Recorder:
    def __init__(self, log_path):
        self.log_path = log_path

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
            "auth_user": session.auth_data.decode() if isinstance(session.auth_data, bytes)
            else None,
        }
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        return "250 OK"


def authenticator_for(credentials):
    user, _, password = credentials.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        # handled=False: aiosmtpd answers a failure with 535 itself (True would send nothing).
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    return authenticate


async def serve(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    handler = Recorder(args.log)
    auth = {}
    if args.auth:
        auth = {"authenticator": authenticator_for(args.auth), "auth_required": True,
                "auth_require_tls": True}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    loop = asyncio.get_running_loop()
    if args.smtps:
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="localhost", **auth), sock=sock, ssl=ctx)
    else:
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="localhost", tls_context=ctx, require_starttls=True,
                         **auth),
            sock=sock)
    open(args.log, "a").close()
    print(f"READY {sock.getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--starttls", action="store_true")
    mode.add_argument("--smtps", action="store_true")
    ap.add_argument("--auth", help="USER:PASSWORD the client must authenticate with")
    args = ap.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
