#!/usr/bin/env python3
"""A real HTTPS server on loopback for safegate's outbound tests (hotline, webhooks, lists).

Python's http.server + ssl, with certificates made by tests/support/make_test_pki.sh. It binds
port 0 and prints "READY <port>" on stdout once it accepts connections (the readiness signal:
tests never sleep). Every request is appended to --log as one JSON line
{"method", "path", "headers", "body", "duplicate"} so a test can check exactly what arrived.

Like a real hotline endpoint it dedupes by the Idempotency-Key header: a key it has already
answered with 2xx gets 200 {"duplicate": true} and is logged with "duplicate": true.

Paths (anything else: 404):
  /ok                   200 {"ok": true}
  /status/CODE          that status
  /fail-then-ok/N       500 for the first N requests to this path, then 200
  /retry-after/SECONDS  429 with "Retry-After: SECONDS" (first request), then 200
  /unavailable/SECONDS  503 with "Retry-After: SECONDS" (first request), then 200
  /hang                 reads the request, then answers nothing for 60 s (client timeouts)
  /slow-ok/SECONDS      records the report (its key counts as received at once, as a real
                        receiver commits before it answers), then answers 200 after SECONDS
  /big/BYTES            200 with a body of BYTES bytes
  /echo                 200 with the request as JSON
With --files DIR (list subscription tests; the test writes DIR/NAME between requests):
  /files/NAME           DIR/NAME, with ETag (its SHA-256) and Last-Modified; 304 when the
                        request's If-None-Match names the current ETag; 404 when absent
  /gzip/NAME            the same, gzip-encoded when the client accepts gzip
  /gzip-truncated/NAME  a gzip body cut in half (Content-Length says so: a truncated download)
  /redirect/N/NAME      302 to /redirect/N-1/NAME, and at N = 0 to /files/NAME
"""
import gzip
import hashlib
import os
import argparse
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
seen_keys = set()
path_hits = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _handle(self):
        body = self._read_body()
        key = self.headers.get("Idempotency-Key")
        with lock:
            hits = path_hits.get(self.path, 0) + 1
            path_hits[self.path] = hits
            duplicate = key is not None and key in seen_keys
        record = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "duplicate": duplicate,
        }
        with lock, open(self.server.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        if duplicate:
            self._send(200, b'{"duplicate": true}')
            return

        parts = self.path.split("?")[0].strip("/").split("/")
        code, out, extra = 404, b"not found", {}
        if parts[0] == "ok":
            code, out = 200, b'{"ok": true}'
        elif parts[0] == "status" and len(parts) == 2:
            code, out = int(parts[1]), b"{}"
        elif parts[0] == "fail-then-ok" and len(parts) == 2:
            code, out = (500, b"try again") if hits <= int(parts[1]) else (200, b'{"ok": true}')
        elif parts[0] in ("retry-after", "unavailable") and len(parts) == 2:
            if hits == 1:
                code = 429 if parts[0] == "retry-after" else 503
                out, extra = b"slow down", {"Retry-After": parts[1]}
            else:
                code, out = 200, b'{"ok": true}'
        elif parts[0] == "slow-ok" and len(parts) == 2:
            if key is not None:
                with lock:
                    seen_keys.add(key)
            time.sleep(float(parts[1]))
            code, out = 200, b'{"ok": true}'
        elif parts[0] == "hang":
            time.sleep(60)
            return
        elif parts[0] == "big" and len(parts) == 2:
            code, out = 200, b"x" * int(parts[1])
        elif parts[0] == "echo":
            code, out = 200, json.dumps(record).encode()
        elif parts[0] in ("files", "gzip", "gzip-truncated") and len(parts) == 2 \
                and self.server.files_dir:
            path = os.path.join(self.server.files_dir, os.path.basename(parts[1]))
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    data = f.read()
                etag = '"' + hashlib.sha256(data).hexdigest() + '"'
                extra = {"ETag": etag, "Last-Modified": self.date_time_string(
                    int(os.path.getmtime(path)))}
                if self.headers.get("If-None-Match") == etag:
                    code, out = 304, b""
                elif parts[0] == "files":
                    code, out = 200, data
                elif "gzip" not in (self.headers.get("Accept-Encoding") or ""):
                    code, out = 200, data
                else:
                    code, out = 200, gzip.compress(data)
                    extra["Content-Encoding"] = "gzip"
                    if parts[0] == "gzip-truncated":
                        out = out[:len(out) // 2]
        elif parts[0] == "redirect" and len(parts) == 3:
            n = int(parts[1])
            target = f"/redirect/{n - 1}/{parts[2]}" if n > 0 else f"/files/{parts[2]}"
            code, out, extra = 302, b"", {"Location": target}
        if 200 <= code < 300 and key is not None:
            with lock:
                seen_keys.add(key)
        self._send(code, out, extra)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--plain", action="store_true", help="plain HTTP (for the refusal test)")
    ap.add_argument("--files", help="directory served under /files, /gzip, /redirect")
    args = ap.parse_args()

    server = ThreadingHTTPServer((args.bind, 0), Handler)
    server.daemon_threads = True
    server.log_path = args.log
    server.files_dir = args.files
    if not args.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    open(args.log, "a").close()
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
