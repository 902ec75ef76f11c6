#!/usr/bin/env python3
"""A real SMTP server on loopback for safegate's e-mail alert tests (Debian's python3-aiosmtpd).

Binds port 0 and prints "READY <port>" once it accepts connections. Modes:
  --starttls   plain SMTP that requires STARTTLS before MAIL (submission, port 587 style)
  --smtps      TLS from the first byte (port 465 style)
Every accepted message is appended to --log as one JSON line
{"mail_from", "rcpt_tos", "data", "tls"} where "tls" says whether the session was encrypted
when the message arrived.
"""
import argparse
import asyncio
import json
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Recorder:
    def __init__(self, log_path):
        self.log_path = log_path

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
        }
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        return "250 OK"


async def serve(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    handler = Recorder(args.log)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    loop = asyncio.get_running_loop()
    if args.smtps:
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="localhost"), sock=sock, ssl=ctx)
    else:
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="localhost", tls_context=ctx, require_starttls=True),
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
    args = ap.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
