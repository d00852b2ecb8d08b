#!/usr/bin/python3
"""server.py -- the TLS peer of test_tls: one connection, then exit.

The test makes the listening socket (so the port is known and connections
queue before this script runs: no readiness race) and passes it as --fd.

Modes:
  (default)  TLS handshake; read one line; answer
             "PONG <line> sni=<name|-> client=<CN|->"; close_notify.
  --idle     TLS handshake, then say nothing until the client closes.
  --reset    TLS handshake, then reset the connection (RST).
  --greet T  no TLS: send T and CR LF (a plaintext SMTP greeting).
  --close    no TLS: close the sending side at once.
Options: --cert/--key (the server's), --client-ca FILE (require a client
certificate signed by it), --tls11 (TLS 1.1 only).

In every other mode the connection is then drained until the client closes it,
so the client never meets a reset while it still has something to read.
Errors go to stderr; the exit status is 0 unless the arguments are wrong.
"""
import argparse
import socket
import ssl
import struct
import sys


def drain(sock):
    try:
        sock.settimeout(10)
        while sock.recv(4096):
            pass
    except OSError:
        pass
    sock.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fd", type=int, required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    p.add_argument("--tls11", action="store_true")
    p.add_argument("--idle", action="store_true")
    p.add_argument("--reset", action="store_true")
    p.add_argument("--greet")
    p.add_argument("--close", action="store_true")
    a = p.parse_args()

    ls = socket.socket(fileno=a.fd)
    conn, _ = ls.accept()
    ls.close()
    keep = conn.dup()
    if a.greet is not None:
        conn.sendall(a.greet.encode() + b"\r\n")
        conn.close()
        drain(keep)
        return
    if a.close:
        conn.shutdown(socket.SHUT_WR)
        conn.close()
        drain(keep)
        return

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(a.client_ca)
    if a.tls11:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    sni = []
    ctx.sni_callback = lambda sock, name, c: sni.append(name)

    conn.settimeout(10)
    s = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
    try:
        s.do_handshake()
        if a.idle:
            s.close()
            drain(keep)
            return
        if a.reset:
            keep.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            s.close()
            keep.close()
            return
        line = b""
        while not line.endswith(b"\n"):
            d = s.recv(1024)
            if not d:
                break
            line += d
        cn = "-"
        for rdn in (s.getpeercert() or {}).get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    cn = v
        name = sni[0] if sni and sni[0] else "-"
        s.sendall(b"PONG %s sni=%s client=%s\r\n"
                  % (line.strip(), name.encode(), cn.encode()))
        s.unwrap()
    except (OSError, ssl.SSLError) as e:
        print("server.py:", e, file=sys.stderr)
    s.close()
    drain(keep)


if __name__ == "__main__":
    main()
