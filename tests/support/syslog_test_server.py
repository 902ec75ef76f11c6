#!/usr/bin/env python3
"""A syslog collector on loopback for safegate's syslog alert tests: RFC 5424 messages over TCP
with RFC 6587 octet-counting framing ("LEN SP MSG"), optionally inside TLS (RFC 5425).

Binds port 0, prints "READY <port>", and appends each received message to --log as one JSON
line {"msg", "tls"}. A frame that is not "digits SP" followed by that many bytes is logged as
{"error": ...} and the connection closed — so a test sees malformed framing.
"""
import argparse
import json
import socket
import ssl
import sys
import threading


def handle(conn, log_path, tls, lock):
    buf = b""
    with conn:
        while True:
            try:
                chunk = conn.recv(65536)
            except (OSError, ssl.SSLError):
                return
            if not chunk:
                return
            buf += chunk
            while True:
                sp = buf.find(b" ")
                if sp < 0:
                    break
                head = buf[:sp]
                if not head.isdigit() or len(head) > 7:
                    with lock, open(log_path, "a", encoding="utf-8") as log:
                        log.write(json.dumps({"error": "bad frame header %r" % head[:20]}) + "\n")
                    return
                n = int(head)
                if len(buf) < sp + 1 + n:
                    break
                msg = buf[sp + 1:sp + 1 + n]
                buf = buf[sp + 1 + n:]
                with lock, open(log_path, "a", encoding="utf-8") as log:
                    log.write(json.dumps({"msg": msg.decode("utf-8", "replace"), "tls": tls}) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    open(args.log, "a").close()
    print(f"READY {sock.getsockname()[1]}", flush=True)
    lock = threading.Lock()
    while True:
        conn, _ = sock.accept()
        if ctx is not None:
            try:
                conn = ctx.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                continue
        threading.Thread(target=handle, args=(conn, args.log, args.tls, lock), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
