#!/usr/bin/env python3
"""A DNS-over-TLS server on loopback for safegate's transport tests (RFC 7858 framing).

Binds 127.0.0.1 port 0 with the PKI's certificate and prints "READY <port>" once it accepts
(the readiness signal). Every A question is answered 192.0.2.7 (TTL 60), anything else NODATA.
Appends {"connection": N} for each accepted connection and {"query": NAME, "connection": N}
for each question to --log as JSON lines.

Behaviours a client must survive:
  --batch N         read N questions before answering any, then answer them in reverse order
                    (pipelining: answers out of order)
  --close-after N   after N answers on a connection, read one more question and close the
                    connection without answering it (a server closing an idle or busy
                    connection as a question crosses)
  --stray           before each answer, send an answer with an ID that was never asked
  --mute-after N    on the first connection, after N answers, keep reading questions but
                    never answer again (a connection whose path died: a new WAN address)
"""
import argparse
import json
import socket
import ssl
import struct
import sys
import threading

lock = threading.Lock()
connections = 0


def log(path, record):
    with lock:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_message(conn):
    head = read_exact(conn, 2)
    if head is None:
        return None
    return read_exact(conn, struct.unpack(">H", head)[0])


def question(msg):
    """(name, qtype, end offset of the question) of a query."""
    labels, at = [], 12
    while msg[at] != 0:
        n = msg[at]
        labels.append(msg[at + 1:at + 1 + n].decode("ascii", "replace"))
        at += 1 + n
    qtype = struct.unpack(">H", msg[at + 1:at + 3])[0]
    return ".".join(labels), qtype, at + 5


def answer(msg, wire_id=None):
    name, qtype, end = question(msg)
    ident = msg[0:2] if wire_id is None else struct.pack(">H", wire_id)
    flags = struct.pack(">H", 0x8180)
    an = 1 if qtype == 1 else 0
    out = ident + flags + struct.pack(">HHHH", 1, an, 0, 0) + msg[12:end]
    if an:
        out += struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([192, 0, 2, 7])
    return struct.pack(">H", len(out)) + out


def serve(conn, n, args):
    answered = 0
    try:
        while True:
            batch = []
            for _ in range(max(1, args.batch)):
                msg = read_message(conn)
                if msg is None:
                    break
                log(args.log, {"query": question(msg)[0], "connection": n})
                batch.append(msg)
            if not batch:
                return
            if args.close_after and answered + len(batch) > args.close_after:
                keep = args.close_after - answered
                for msg in batch[:keep]:
                    conn.sendall(answer(msg))
                return  # the rest go unanswered: the connection closes under them
            if args.mute_after and n == 1 and answered >= args.mute_after:
                continue  # read and dropped: nothing ever comes back on this connection
            if args.batch > 1:
                batch.reverse()
            for msg in batch:
                if args.stray:
                    conn.sendall(answer(msg, wire_id=(struct.unpack(">H", msg[0:2])[0] ^ 0x5A5A)))
                conn.sendall(answer(msg))
                answered += 1
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    global connections
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--close-after", type=int, default=0)
    p.add_argument("--stray", action="store_true")
    p.add_argument("--mute-after", type=int, default=0)
    args = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    print("READY %d" % sock.getsockname()[1], flush=True)
    while True:
        raw, _ = sock.accept()
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            continue
        with lock:
            connections += 1
            n = connections
        log(args.log, {"connection": n})
        threading.Thread(target=serve, args=(conn, n, args), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
