#!/usr/bin/python3
"""aiosrv.py -- an aiosmtpd server that checks what tests/tls.sh sends.

Unlike faultsrv.py, this server verifies: the STARTTLS handshake (with a
client certificate, when --client-ca asks for one), and the credentials of
every AUTH mechanism noq speaks, PLAIN and LOGIN (aiosmtpd's own),
CRAM-MD5, SCRAM-SHA-256 (RFC 5802, RFC 7677), XOAUTH2 and OAUTHBEARER
(RFC 7628), against one user, one password and one token.

  aiosrv.py --port-file FILE --log FILE --cert PEM --key PEM
            [--client-ca PEM] [--user NAME] [--password-file FILE]
            [--token TOKEN] [--require-auth] [--scram-wrong-signature]
  aiosrv.py --show LOG

The server listens on 127.0.0.1, on a free port written to --port-file
once it listens, requires STARTTLS before anything else (and AUTH), and
serves connections until SIGTERM.  Each AUTH attempt and each message
becomes one JSON line in --log, written before the server replies, so the
log is complete when the client has its answer.  --show prints the log as
lines a shell test compares exactly:

  auth MECH USER ok|refused tls|clear
  message FROM=<...> TO=<...>[,<...>] auth=USER|- tls=yes|no cert=CN|- sni=NAME|-
  body <first line of the body after the header>

--scram-wrong-signature makes the server's SCRAM proof (v=) wrong: a
server that does not know the password.  Run with Debian's Python 3
(/usr/bin/python3) and python3-aiosmtpd 1.4.
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import signal
import socket
import ssl
import sys


def show(path):
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["event"] == "auth":
                print("auth %s %s %s %s" % (
                    e["mechanism"], e["user"] or "-",
                    "ok" if e["success"] else "refused",
                    "tls" if e["tls"] else "clear"))
                continue
            print("message FROM=<%s> TO=%s auth=%s tls=%s cert=%s sni=%s" % (
                e["mail_from"], ",".join("<%s>" % r for r in e["rcpt_tos"]),
                e["auth"] or "-", "yes" if e["tls"] else "no",
                e["cert"] or "-", e["sni"] or "-"))
            body = e["body"].split("\r\n\r\n", 1)
            print("body %s" % (body[1].split("\r\n", 1)[0]
                               if len(body) == 2 else "(none)"))


# --show needs no aiosmtpd: spare the tests the time its import takes.
if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--show":
    show(sys.argv[2])
    sys.exit(0)

from aiosmtpd.smtp import SMTP, AuthResult, auth_mechanism  # noqa: E402


def cancelled(answer):
    """challenge_auth() gave no answer: the client sent "*" or bad base64,
    and aiosmtpd has already replied 501."""
    return not isinstance(answer, bytes)


class Handler:
    def __init__(self, opts, log):
        self.o = opts
        self.log = log
        self.password = b""
        if opts.password_file:
            with open(opts.password_file, "rb") as f:
                self.password = f.read().rstrip(b"\r\n")

    def record(self, entry):
        self.log.write(json.dumps(entry, sort_keys=True) + "\n")
        self.log.flush()

    def note_auth(self, server, mech, user, ok):
        self.record({"event": "auth", "mechanism": mech,
                     "user": user.decode("utf-8", "replace")
                     if isinstance(user, bytes) else user,
                     "success": ok, "tls": server.session.ssl is not None})

    def result(self, server, mech, user, ok):
        """The AuthResult for a verdict.  A refusal must not be "handled":
        aiosmtpd 1.4 then sends no reply at all and the client waits."""
        self.note_auth(server, mech, user, ok)
        if ok:
            return AuthResult(success=True, handled=False,
                              auth_data=user.decode() if isinstance(user, bytes)
                              else user)
        return AuthResult(success=False, handled=False)

    # aiosmtpd's PLAIN and LOGIN call this with the login and password.
    def authenticator(self, server, session, envelope, mechanism, data):
        ok = (data.login == self.o.user.encode()
              and hmac.compare_digest(data.password, self.password))
        self.note_auth(server, mechanism, data.login, ok)
        if ok:
            return AuthResult(success=True, auth_data=data.login.decode())
        return AuthResult(success=False, handled=False)

    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, server, args):
        if len(args) != 1:
            await server.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        challenge = b"<%d.%d@aiosrv.test>" % (os.getpid(), id(server))
        resp = await server.challenge_auth(challenge)
        if cancelled(resp):
            return AuthResult(success=False, handled=True)
        if b" " not in resp:
            return self.result(server, "CRAM-MD5", b"", False)
        user, digest = resp.rsplit(b" ", 1)
        want = hmac.new(self.password, challenge, hashlib.md5).hexdigest()
        ok = user == self.o.user.encode() and \
            hmac.compare_digest(digest, want.encode())
        return self.result(server, "CRAM-MD5", user, ok)

    @auth_mechanism("SCRAM-SHA-256")
    async def auth_SCRAM_SHA_256(self, server, args):
        if len(args) == 2:
            try:
                first = base64.b64decode(args[1], validate=True)
            except ValueError:
                first = b""
        else:
            first = await server.challenge_auth(b"")
            if cancelled(first):
                return AuthResult(success=False, handled=True)
        if not first.startswith(b"n,,"):
            return self.result(server, "SCRAM-SHA-256", b"", False)
        bare = first[3:]
        attrs = dict(a.split(b"=", 1) for a in bare.split(b",") if b"=" in a)
        user, cnonce = attrs.get(b"n", b""), attrs.get(b"r", b"")
        salt, iters = b"noq-test-salt", 4096
        nonce = cnonce + b"aiosrv" + os.urandom(6).hex().encode()
        sfirst = b"r=" + nonce + b",s=" + base64.b64encode(salt) + \
            b",i=" + str(iters).encode()
        final = await server.challenge_auth(sfirst)
        if cancelled(final):
            return AuthResult(success=False, handled=True)
        if b",p=" not in final:
            return self.result(server, "SCRAM-SHA-256", user, False)
        without_proof, proof = final.rsplit(b",p=", 1)
        fattrs = dict(a.split(b"=", 1) for a in without_proof.split(b",")
                      if b"=" in a)
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt, iters)
        ckey = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(ckey).digest()
        authmsg = bare + b"," + sfirst + b"," + without_proof
        csig = hmac.new(stored, authmsg, hashlib.sha256).digest()
        want = bytes(x ^ y for x, y in zip(ckey, csig))
        try:
            got = base64.b64decode(proof, validate=True)
        except ValueError:
            got = b""
        ok = (user == self.o.user.encode() and fattrs.get(b"r") == nonce
              and fattrs.get(b"c") == base64.b64encode(b"n,,")
              and hmac.compare_digest(got, want))
        if not ok:
            return self.result(server, "SCRAM-SHA-256", user, False)
        skey = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        ssig = hmac.new(skey, authmsg, hashlib.sha256).digest()
        if self.o.scram_wrong_signature:
            ssig = bytes(32)
        empty = await server.challenge_auth(b"v=" + base64.b64encode(ssig))
        if cancelled(empty):
            # The client refused our proof.
            self.note_auth(server, "SCRAM-SHA-256", user, False)
            return AuthResult(success=False, handled=True)
        if empty != b"":
            return self.result(server, "SCRAM-SHA-256", user, False)
        return self.result(server, "SCRAM-SHA-256", user, True)

    async def bearer(self, server, args, mech):
        if len(args) == 2:
            try:
                resp = base64.b64decode(args[1], validate=True)
            except ValueError:
                resp = b""
        else:
            resp = await server.challenge_auth(b"")
            if cancelled(resp):
                return AuthResult(success=False, handled=True)
        fields = resp.split(b"\x01")
        user = b""
        if mech == "XOAUTH2":
            # user=U ^A auth=Bearer T ^A ^A
            good_shape = len(fields) == 4 and fields[2:] == [b"", b""]
            for f in fields:
                if f.startswith(b"user="):
                    user = f[5:]
        else:
            # n,a=U, ^A [host=H ^A port=P ^A] auth=Bearer T ^A ^A
            good_shape = len(fields) >= 4 and fields[-2:] == [b"", b""] and \
                fields[0].startswith(b"n,")
            for part in fields[0].split(b","):
                if part.startswith(b"a="):
                    user = part[2:]
        token = [f[12:] for f in fields if f.startswith(b"auth=Bearer ")]
        ok = good_shape and user == self.o.user.encode() and \
            token == [self.o.token.encode()]
        if not ok:
            # Both mechanisms: an error challenge, the client's empty
            # answer (or "*"), then the failure.
            answer = await server.challenge_auth(
                b'{"status":"invalid_token"}')
            self.note_auth(server, mech, user, False)
            return AuthResult(success=False, handled=cancelled(answer))
        return self.result(server, mech, user, True)

    @auth_mechanism("XOAUTH2")
    async def auth_XOAUTH2(self, server, args):
        return await self.bearer(server, args, "XOAUTH2")

    @auth_mechanism("OAUTHBEARER")
    async def auth_OAUTHBEARER(self, server, args):
        return await self.bearer(server, args, "OAUTHBEARER")

    async def handle_DATA(self, server, session, envelope):
        cert = sni = None
        if session.ssl is not None:
            obj = session.ssl.get("ssl_object")
            sni = getattr(obj, "noq_sni", None)
            pc = obj.getpeercert() if obj is not None else None
            if pc:
                for rdn in pc.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cert = v
        self.record({"event": "message", "mail_from": envelope.mail_from,
                     "rcpt_tos": envelope.rcpt_tos,
                     "mail_options": envelope.mail_options,
                     "auth": session.auth_data if session.authenticated
                     else None,
                     "tls": session.ssl is not None, "cert": cert,
                     "sni": sni,
                     "body": envelope.original_content.decode("utf-8",
                                                              "replace")})
        return "250 2.0.0 Ok: queued"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    p.add_argument("--user", default="")
    p.add_argument("--password-file")
    p.add_argument("--token", default="")
    p.add_argument("--require-auth", action="store_true")
    p.add_argument("--scram-wrong-signature", action="store_true")
    o = p.parse_args()
    if not (o.port_file and o.log and o.cert and o.key):
        p.error("--port-file, --log, --cert and --key are needed")

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(o.cert, o.key)
    # The name the client asked for, kept on its TLS object for the log.
    def sni(obj, name, context):
        obj.noq_sni = name
    ctx.sni_callback = sni
    if o.client_ca:
        ctx.load_verify_locations(o.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED

    # aiosmtpd's own chatter (and its deprecation warnings) stays quiet.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    # Appending: the test empties the log between cases.
    log = open(o.log, "a")
    handler = Handler(o, log)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)

    def factory():
        return SMTP(handler, hostname="aiosrv.test", loop=loop,
                    tls_context=ctx, require_starttls=True,
                    auth_required=o.require_auth, auth_require_tls=True,
                    authenticator=handler.authenticator, timeout=20)

    server = loop.run_until_complete(loop.create_server(factory, sock=sock))
    tmp = o.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % sock.getsockname()[1])
    os.rename(tmp, o.port_file)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    loop.run_forever()
    server.close()
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
