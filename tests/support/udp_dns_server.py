#!/usr/bin/env python3
"""A DNS server on loopback UDP for script tests: answers every A question with 192.0.2.1
(TTL 60) and every other type with an empty NOERROR answer. Prints "ready port=N" once bound
(port 0 = the kernel chooses); stops on SIGTERM. Only the standard library."""
import signal
import socket
import struct
import sys


def answer(query: bytes) -> bytes:
    if len(query) < 12:
        return b""
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if qdcount != 1 or flags & 0x8000:
        return b""
    at = 12
    while at < len(query) and query[at] != 0:
        at += 1 + query[at]
    if at + 5 > len(query):
        return b""
    question = query[12:at + 5]
    qtype = struct.unpack("!H", query[at + 1:at + 3])[0]
    rd = flags & 0x0100
    answers = b""
    count = 0
    if qtype == 1:
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
        count = 1
    header = struct.pack("!HHHHHH", qid, 0x8000 | 0x0080 | rd, 1, count, 0, 0)
    return header + question + answers


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"ready port={sock.getsockname()[1]}", flush=True)
    while True:
        data, peer = sock.recvfrom(4096)
        reply = answer(data)
        if reply:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
