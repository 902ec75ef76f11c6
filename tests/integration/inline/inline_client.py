#!/usr/bin/env python3
"""Small clients for the inline-mode namespace test (tests/integration/inline/).

  quic  --src IP --dst IP --sni NAME [--version 1|2] [--split]
        Sends a client Initial (RFC 9000 §17.2.2) sealed with the Initial keys of RFC 9001 §5
        (RFC 9369 for v2) whose CRYPTO frames carry a real TLS 1.3 ClientHello made by Python's
        ssl module. --split puts the ClientHello in two Initials sent in reverse order.
  tls   --src IP --dst IP --port N [--sni NAME] [--chunk BYTES]
        Opens TCP, sends a real ClientHello (no SNI when --sni is omitted) in segments of
        --chunk bytes (TCP_NODELAY, a pause between segments), and prints what came back:
        REPLY (the server answered), RESET, CLOSED or TIMEOUT.
  udp-sink --bind IP --port N --log FILE
        Appends "<src-ip> <length>" for every datagram received (the QUIC "server").
"""
import argparse
import os
import socket
import ssl
import sys
import time

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SALT = {1: bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
        2: bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")}
VERSION = {1: 0x00000001, 2: 0x6b3343cf}
LABEL = {1: "quic", 2: "quicv2"}


def hmac256(key, data):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def expand_label(secret, label, length):
    full = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return hmac256(secret, info + b"\x01")[:length]


def client_hello(sni):
    """A real ClientHello from OpenSSL via Python's ssl module, as record-layer bytes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def varint(v):
    if v < 0x40:
        return bytes([v])
    if v < 0x4000:
        return (0x4000 | v).to_bytes(2, "big")
    return (0x80000000 | v).to_bytes(4, "big")


def seal_initial(version, dcid, pn, frames):
    secret = hmac256(SALT[version], dcid)
    client = expand_label(secret, "client in", 32)
    key = expand_label(client, LABEL[version] + " key", 16)
    iv = expand_label(client, LABEL[version] + " iv", 12)
    hp = expand_label(client, LABEL[version] + " hp", 16)
    frames = frames + b"\x00" * max(0, 1164 - len(frames))  # 1200-byte datagram minimum
    ptype = 1 if version == 2 else 0
    first = 0xC0 | (ptype << 4) | 0x01  # 2-byte packet number
    header = bytes([first]) + VERSION[version].to_bytes(4, "big") + bytes([len(dcid)]) + dcid
    header += b"\x00" + varint(0)  # no SCID, no token
    length = 2 + len(frames) + 16
    header += (0x4000 | length).to_bytes(2, "big")
    pn_offset = len(header)
    header += pn.to_bytes(2, "big")
    nonce = bytes(a ^ b for a, b in zip(iv, pn.to_bytes(12, "big")))
    sealed = AESGCM(key).encrypt(nonce, frames, header)
    packet = bytearray(header + sealed)
    sample = bytes(packet[pn_offset + 4:pn_offset + 20])
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(sample) + enc.finalize()
    packet[0] ^= mask[0] & 0x0F
    for i in range(2):
        packet[pn_offset + i] ^= mask[1 + i]
    return bytes(packet)


def cmd_quic(a):
    record = client_hello(a.sni)
    message = record[5:]  # QUIC carries the handshake message without the record header
    dcid = os.urandom(8)
    s = socket.socket(socket.AF_INET6 if ":" in a.dst else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.src, 0))
    if a.split:
        half = len(message) // 2
        p0 = seal_initial(a.version, dcid, 0, b"\x06" + varint(0) + varint(half) + message[:half])
        p1 = seal_initial(a.version, dcid, 1, b"\x06" + varint(half) + varint(len(message) - half)
                          + message[half:])
        packets = [p1, p0]
    else:
        packets = [seal_initial(a.version, dcid, 0,
                                b"\x06" + varint(0) + varint(len(message)) + message)]
    for p in packets:
        s.sendto(p, (a.dst, 443))
        time.sleep(0.05)
    print("SENT", len(packets))


def cmd_tls(a):
    record = client_hello(a.sni)
    fam = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((a.src, 0))
    if a.record_version is not None:
        # RFC 8446 §5.1: the record-layer version is to be ignored; servers accept any.
        record = record[:1] + a.record_version.to_bytes(2, "big") + record[3:]
    if a.keepalive:
        # The keepalive bypass: idle with kernel keepalive probes (empty segments) every
        # second before the ClientHello, so a per-packet budget runs out first.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.settimeout(3)
    try:
        s.connect((a.dst, a.port))
        if a.keepalive:
            time.sleep(a.keepalive)
        for i in range(0, len(record), a.chunk):
            s.send(record[i:i + a.chunk])
            if a.chunk < len(record):
                time.sleep(0.01)
        data = s.recv(4096)
        print("REPLY" if data else "CLOSED")
    except ConnectionResetError:
        print("RESET")
    except (socket.timeout, TimeoutError):
        print("TIMEOUT")
    except OSError as e:
        print("ERROR", e)


def cmd_udp_sink(a):
    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    with open(a.log, "a", buffering=1) as log:
        log.write("READY\n")
        while True:
            data, peer = s.recvfrom(65535)
            log.write(f"{peer[0]} {len(data)}\n")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quic")
    q.add_argument("--src", required=True)
    q.add_argument("--dst", required=True)
    q.add_argument("--sni", required=True)
    q.add_argument("--version", type=int, default=1, choices=[1, 2])
    q.add_argument("--split", action="store_true")
    t = sub.add_parser("tls")
    t.add_argument("--src", required=True)
    t.add_argument("--dst", required=True)
    t.add_argument("--port", type=int, default=443)
    t.add_argument("--sni")
    t.add_argument("--chunk", type=int, default=100000)
    t.add_argument("--keepalive", type=float, default=0,
                   help="seconds of TCP keepalive probes before the ClientHello")
    t.add_argument("--record-version", type=lambda v: int(v, 0),
                   help="record-layer version to put on the ClientHello, e.g. 0x0305")
    u = sub.add_parser("udp-sink")
    u.add_argument("--bind", required=True)
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--log", required=True)
    a = p.parse_args()
    {"quic": cmd_quic, "tls": cmd_tls, "udp-sink": cmd_udp_sink}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
