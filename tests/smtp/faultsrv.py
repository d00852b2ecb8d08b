#!/usr/bin/python3
"""faultsrv.py -- a scriptable fault-injection SMTP server for noq's tests.

By default a well-behaved ESMTP server; a script (see tests/smtp/README)
makes any phase misbehave precisely: another reply, a delay, a closed or
reset connection, a reply that never comes, raw bytes, a huge line, a body
cut after N octets.  Everything the client sends is recorded byte for byte
in a transcript, and a JSON summary (TRANSCRIPT.json) says per connection
which commands arrived, what the body was and how the connection ended.

Standard library only; run it with /usr/bin/python3 (3.11).

Exit status: 0 after the requested connections or on SIGTERM/SIGINT,
2 for a usage, script or certificate error (nothing is listening then),
3 when no client connected within --accept-timeout.
"""

import argparse
import base64
import codecs
import hashlib
import json
import os
import re
import select
import signal
import socket
import ssl
import struct
import sys
import time

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NO_CLIENT = 3

LINE_MAX = 1 << 20           # a longer command line ends the connection
BODY_KEEP_MAX = 64 << 20     # body octets kept for body_base64 (all hashed)
RAW_MAX = 64 << 20           # the largest reply a script may produce
TEXT_MAX = 512               # characters of a reply kept in the summary
RECV_SIZE = 65536
POLLRDHUP = getattr(select, "POLLRDHUP", 0x2000)

HOSTNAME = "faultsrv.test"
DEFAULT_EXTENSIONS = ["PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8",
                      "DSN"]

# Keys that take a reply, and whether "KEY N:" (the Nth occurrence) is allowed.
REPLY_KEYS = {
    "greeting": False, "ehlo": True, "helo": True, "mail": True,
    "rcpt": True, "data": True, "final": True, "rset": True, "noop": True,
    "quit": True, "starttls": True, "auth": True, "vrfy": True,
    "expn": True, "help": True, "unknown": True,
}
OTHER_KEYS = ("ehlo-extensions", "tls-ehlo-extensions", "body", "hostname",
              "connection")


class ScriptError(Exception):
    """A script line that cannot be understood: (line number, message)."""

    def __init__(self, lineno, msg):
        super().__init__(msg)
        self.lineno = lineno
        self.msg = msg


class End(Exception):
    """The connection is over; reason goes into the summary's "ended"."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Terminated(Exception):
    """SIGTERM or SIGINT arrived."""


# ---- replies ----------------------------------------------------------------

class Reply:
    """What the server does in place of a reply.

    kind is "bytes" (write data), "close", "reset", "hang",
    "delay" (sleep seconds, then inner) or "extra" (inner, then data in
    the same write).
    """

    def __init__(self, kind, data=b"", seconds=0.0, inner=None):
        self.kind = kind
        self.data = data
        self.seconds = seconds
        self.inner = inner

    @staticmethod
    def text(s):
        """A literal reply: '\\n' separates lines, each gets CRLF."""
        lines = []
        cur = []
        i = 0
        while i < len(s):
            if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in "n\\":
                if s[i + 1] == "n":
                    lines.append("".join(cur))
                    cur = []
                else:
                    cur.append("\\")
                i += 2
                continue
            cur.append(s[i])
            i += 1
        lines.append("".join(cur))
        return Reply.lines(lines)

    @staticmethod
    def lines(lines):
        """Reply lines (str, without line ends) written with CRLF."""
        return Reply("bytes", "".join(l + "\r\n" for l in lines).encode())


def unescape(lineno, s):
    """Python-escaped text to bytes ("\\r\\n", "\\x00", "\\\\")."""
    try:
        return codecs.escape_decode(s.encode("utf-8"))[0]
    except ValueError as e:
        raise ScriptError(lineno, "bad escape in '%s': %s" % (s, e))


def take_bytes(lineno, s, stop=None):
    """Read one BYTES operand from s: either a double-quoted string or the
    text up to stop (a keyword surrounded by blanks) or the end.
    Returns (bytes, rest of s after stop)."""
    if s.startswith('"'):
        i = 1
        while i < len(s):
            if s[i] == "\\":
                i += 2
                continue
            if s[i] == '"':
                break
            i += 1
        if i >= len(s):
            raise ScriptError(lineno, "unterminated quoted string: %s" % s)
        data = unescape(lineno, s[1:i])
        rest = s[i + 1:]
        if stop is None:
            if rest.strip():
                raise ScriptError(lineno, "text after the quoted string: %s"
                                  % rest.strip())
            return data, ""
        m = re.match(r"\s+%s\s+(.*)$" % stop, rest)
        if not m:
            raise ScriptError(lineno, "expected '%s' after the quoted string"
                              % stop)
        return data, m.group(1)
    if stop is None:
        return unescape(lineno, s), ""
    m = re.match(r"(.*?)\s+%s\s+(.*)$" % stop, s)
    if not m:
        raise ScriptError(lineno, "expected '... %s REPLY'" % stop)
    return unescape(lineno, m.group(1)), m.group(2)


def parse_count(lineno, word, what, lo, hi):
    try:
        n = int(word)
    except ValueError:
        raise ScriptError(lineno, "%s must be an integer, not '%s'"
                          % (what, word))
    if n < lo or n > hi:
        raise ScriptError(lineno, "%s must be between %d and %d"
                          % (what, lo, hi))
    return n


def parse_reply(lineno, s):
    """Parse the <reply> grammar (see the README)."""
    s = s.strip()
    if not s:
        raise ScriptError(lineno, "empty reply")
    word, _, rest = s.partition(" ")
    rest = rest.strip()
    kw = word.lower()
    if kw in ("close", "reset", "hang", "garbage"):
        if rest:
            raise ScriptError(lineno, "'%s' takes no operand" % kw)
        if kw == "garbage":
            return Reply("bytes", b"hello there\r\n")
        return Reply(kw)
    if kw == "delay":
        m = re.match(r"(\S+)\s+then\s+(.*)$", rest)
        if not m:
            raise ScriptError(lineno, "expected 'delay SECONDS then REPLY'")
        try:
            secs = float(m.group(1))
        except ValueError:
            raise ScriptError(lineno, "bad number of seconds '%s'"
                              % m.group(1))
        if not 0 <= secs <= 3600:
            raise ScriptError(lineno, "delay must be between 0 and 3600 s")
        return Reply("delay", seconds=secs,
                     inner=parse_reply(lineno, m.group(2)))
    if kw == "extra":
        data, inner = take_bytes(lineno, rest, "after")
        return Reply("extra", data=data, inner=parse_reply(lineno, inner))
    if kw == "raw":
        if not rest:
            raise ScriptError(lineno, "'raw' needs bytes")
        data, _ = take_bytes(lineno, rest)
        return Reply("bytes", data)
    if kw in ("raw-repeat", "long"):
        n_word, _, operand = rest.partition(" ")
        n = parse_count(lineno, n_word, "the count", 1, RAW_MAX)
        if not operand.strip():
            raise ScriptError(lineno, "'%s N' needs bytes" % kw)
        data, _ = take_bytes(lineno, operand.strip())
        if kw == "raw-repeat":
            if not data or len(data) * n > RAW_MAX:
                raise ScriptError(lineno, "raw-repeat must make 1 to %d bytes"
                                  % RAW_MAX)
            return Reply("bytes", data * n)
        if n < len(data) + 2:
            raise ScriptError(lineno, "long %d is shorter than its prefix "
                              "and CRLF" % n)
        return Reply("bytes", data + b"x" * (n - len(data) - 2) + b"\r\n")
    if not s[0].isdigit():
        raise ScriptError(lineno, "unknown reply '%s' (a literal reply "
                          "starts with a digit; use raw for other bytes)"
                          % word)
    return Reply.text(s)


def parse_extensions(value):
    """'PIPELINING SIZE=1000 AUTH=PLAIN,LOGIN' -> EHLO keyword lines."""
    out = []
    for tok in value.split():
        k, eq, v = tok.partition("=")
        out.append(k + (" " + v.replace(",", " ") if eq else ""))
    return out


# ---- the script -------------------------------------------------------------

class Script:
    """Directives by scope: None (all connections) or a connection number.

    replies[scope][(key, index)] with index None for "every"; exts and
    tls_exts are lists (None: the default); body is (mode, n) or None.
    """

    def __init__(self):
        self.scopes = {None: self._scope()}

    @staticmethod
    def _scope():
        return {"replies": {}, "ehlo-extensions": None,
                "tls-ehlo-extensions": None, "body": None, "hostname": None}

    @classmethod
    def load(cls, path):
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise ScriptError(0, "cannot read: %s" % e.strerror)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ScriptError(0, "not UTF-8")
        return cls.parse(text)

    @classmethod
    def parse(cls, text):
        sc = cls()
        scope = None
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, colon, value = line.partition(":")
            if not colon:
                raise ScriptError(lineno, "expected 'key: value'")
            key = " ".join(key.lower().split())
            value = value.strip()
            index = None
            m = re.match(r"([a-z-]+) (\d+)$", key)
            if m:
                key = m.group(1)
                index = parse_count(lineno, m.group(2), "the index", 1,
                                    1 << 20)
            if key == "connection":
                if index is not None:
                    raise ScriptError(lineno, "use 'connection: N'")
                scope = parse_count(lineno, value, "the connection", 1,
                                    1 << 20)
                sc.scopes.setdefault(scope, cls._scope())
                continue
            d = sc.scopes[scope]
            if key in REPLY_KEYS:
                if index is not None and not REPLY_KEYS[key]:
                    raise ScriptError(lineno, "'%s' takes no index" % key)
                if (key, index) in d["replies"]:
                    raise ScriptError(lineno, "'%s' given twice" %
                                      (key if index is None
                                       else "%s %d" % (key, index)))
                d["replies"][(key, index)] = parse_reply(lineno, value)
                continue
            if key not in OTHER_KEYS:
                raise ScriptError(lineno, "unknown directive '%s'" % key)
            if index is not None:
                raise ScriptError(lineno, "'%s' takes no index" % key)
            if d[key] is not None:
                raise ScriptError(lineno, "'%s' given twice" % key)
            if key in ("ehlo-extensions", "tls-ehlo-extensions"):
                d[key] = parse_extensions(value)
            elif key == "hostname":
                if not value or any(c.isspace() for c in value):
                    raise ScriptError(lineno, "hostname must be one word")
                d[key] = value
            else:
                m = re.match(r"(close-after|hang-after|drip)\s+(\S+)$", value)
                if not m:
                    raise ScriptError(lineno, "expected 'body: close-after N'"
                                      ", 'body: hang-after N' or 'body: drip N'")
                d[key] = (m.group(1), parse_count(lineno, m.group(2),
                                                  "the octet count", 0,
                                                  1 << 40))
        return sc

    def _scopes(self, conn):
        if conn in self.scopes:
            return (self.scopes[conn], self.scopes[None])
        return (self.scopes[None],)

    def reply(self, conn, key, index):
        """The scripted reply for the index-th KEY of connection conn, or
        None: the connection's section before the global directives, an
        indexed directive before an unindexed one."""
        for d in self._scopes(conn):
            for k in ((key, index), (key, None)):
                if k in d["replies"]:
                    return d["replies"][k]
        return None

    def get(self, conn, key):
        for d in self._scopes(conn):
            if d[key] is not None:
                return d[key]
        return None


# ---- the server -------------------------------------------------------------

def printable(data):
    """Bytes as JSON-friendly text: UTF-8, other octets as \\xNN."""
    return data.decode("utf-8", "backslashreplace")


def short(text):
    if len(text) > TEXT_MAX:
        return text[:TEXT_MAX] + "...(%d more)" % (len(text) - TEXT_MAX)
    return text


def write_atomic(path, data):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Server:
    """What outlives a connection: options, script, transcript, summary."""

    def __init__(self, opts, script, tls_ctx):
        self.opts = opts
        self.script = script
        self.tls_ctx = tls_ctx
        self.conns = []
        self.port = 0
        self.transcript = open(opts.transcript, "wb", buffering=0)
        self.tpos = 0
        self.summary_path = opts.transcript + ".json"

    def record(self, data):
        self.transcript.write(data)
        self.tpos += len(data)

    def write_summary(self):
        doc = {"listen": self.opts.listen, "port": self.port,
               "connections": self.conns}
        write_atomic(self.summary_path,
                     (json.dumps(doc, indent=1) + "\n").encode())

    def log(self, n, direction, data):
        if self.opts.verbose:
            for line in printable(data).splitlines() or [""]:
                sys.stderr.write("faultsrv[%d] %s %s\n"
                                 % (n, direction, short(line)))


class Message:
    """One DATA phase: the body as the client sent it, dot-unstuffed."""

    def __init__(self, rec):
        self.rec = rec
        self.body = bytearray()
        self.hash = hashlib.sha256()
        self.length = 0
        self.truncated = False
        self.prev_crlf = True    # the DATA line ended the previous line

    def add(self, data):
        self.hash.update(data)
        self.length += len(data)
        if len(self.body) + len(data) > BODY_KEEP_MAX:
            self.truncated = True
        else:
            self.body += data

    def finish(self, complete):
        r = self.rec
        r["body_complete"] = complete
        r["body_length"] = self.length
        r["body_sha256"] = self.hash.hexdigest()
        r["body_truncated"] = self.truncated
        r["body_base64"] = (None if self.truncated
                            else base64.b64encode(bytes(self.body)).decode())


class Conn:
    """One client connection: the SMTP dialogue and its summary record."""

    def __init__(self, srv, sock, n, peer):
        self.srv = srv
        self.sc = srv.script
        self.sock = sock
        self.n = n
        self.buf = bytearray()
        self.out = bytearray()
        self.tls = False
        self.helo = False
        self.refusing = False
        self.authed = False
        self.mail = None
        self.rcpts = []
        self.counts = {}
        self.msg = None
        self.rec = {
            "n": n, "peer": peer[0], "tls": "none", "tls_version": None,
            "greeting": None, "commands": [], "verbs": "", "data_sent": False,
            "messages": [], "accepted": False,
            "plaintext_after_starttls": "", "unterminated": None,
            "hung": None, "ended": None, "bytes_received": 0,
            "transcript_start": 0, "transcript_end": 0,
        }
        sock.settimeout(srv.opts.timeout)

    # -- bytes in and out --

    def recv(self, size=RECV_SIZE):
        """Flush pending replies, then read; b"" at end of file."""
        self.flush()
        try:
            data = self.sock.recv(size)
        except TimeoutError:
            raise End("timeout")
        except ssl.SSLError as e:
            raise End("tls-error: %s" % (e.reason or e))
        except ConnectionResetError:
            raise End("client-reset")
        except OSError as e:
            raise End("error: %s" % (e.strerror or e))
        if data:
            self.srv.record(data)
            self.rec["bytes_received"] += len(data)
            self.srv.log(self.n, "C:", data)
        return data

    def flush(self):
        if not self.out:
            return
        data = bytes(self.out)
        self.out.clear()
        self.srv.log(self.n, "S:", data)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise End("timeout")
        except (BrokenPipeError, ConnectionResetError):
            raise End("client-closed")
        except OSError as e:
            raise End("error: %s" % (e.strerror or e))

    def read_line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > LINE_MAX:
                raise End("line-too-long")
            data = self.recv()
            if not data:
                if self.buf:
                    self.rec["unterminated"] = short(printable(self.buf))
                raise End("client-closed")
            self.buf += data

    def hang(self, phase):
        """Never reply: keep recording what arrives until the client
        leaves or the idle timeout."""
        self.rec["hung"] = phase
        while True:
            if not self.recv():
                raise End("client-closed")

    def stall(self, phase):
        """Stop reading altogether (so the client's writes block) until the
        client goes away or the idle timeout."""
        self.flush()
        self.rec["hung"] = phase
        p = select.poll()
        p.register(self.sock.fileno(), POLLRDHUP)
        deadline = time.monotonic() + self.srv.opts.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise End("timeout")
            if p.poll(int(left * 1000) + 1):
                raise End("client-closed")

    def perform(self, reply, phase):
        """Carry out reply; return the octets written (b"" for none)."""
        extras = []
        while True:
            if reply.kind == "delay":
                self.flush()
                time.sleep(reply.seconds)
                reply = reply.inner
            elif reply.kind == "extra":
                extras.append(reply.data)
                reply = reply.inner
            else:
                break
        tail = b"".join(reversed(extras))
        if reply.kind == "bytes":
            self.out += reply.data + tail
            return reply.data + tail
        self.out += tail
        if reply.kind == "hang":
            self.flush()
            self.hang(phase)
        self.flush()
        if reply.kind == "reset":
            # An RST instead of a FIN: linger on, zero timeout.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
            raise End("scripted-reset")
        raise End("scripted-close")

    def respond(self, entry, key, default, index=None):
        """Send the scripted reply for the index-th KEY, or else default (a
        Reply or one line of text); note it in entry["reply"].  Returns the
        code sent ("250"), or "" when what was sent does not start with
        3 digits."""
        reply = self.sc.reply(self.n, key, index)
        if reply is None:
            reply = default if isinstance(default, Reply) \
                else Reply.lines([default])
        inner = reply
        while inner.kind in ("delay", "extra"):
            inner = inner.inner
        # Noted first: close, reset and hang end the connection in perform().
        entry["reply"] = "(%s)" % inner.kind
        sent = self.perform(reply, key)
        entry["reply"] = short(printable(sent))
        code = sent[:3]
        return code.decode() if len(code) == 3 and code.isdigit() else ""

    def bump(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    # -- the dialogue --

    def run(self):
        rec = self.rec
        rec["transcript_start"] = self.srv.tpos
        try:
            try:
                if self.srv.opts.implicit_tls:
                    self.start_tls("implicit")
                greeting = {"reply": None}
                try:
                    code = self.respond(greeting, "greeting", "220 %s ESMTP "
                                        "faultsrv" % self.hostname())
                finally:
                    rec["greeting"] = greeting["reply"]
                self.refusing = not code.startswith("2")
                while True:
                    self.command(self.read_line())
            except End as e:
                rec["ended"] = e.reason
                try:
                    self.flush()
                except End:
                    pass
        except Terminated:
            rec["ended"] = "terminated"
            raise
        finally:
            if self.msg is not None:
                self.msg.finish(False)
                self.msg = None
            rec["verbs"] = " ".join(c["verb"] for c in rec["commands"]
                                    if c["verb"] != "(auth-data)")
            rec["accepted"] = any(m["accepted"] for m in rec["messages"])
            rec["transcript_end"] = self.srv.tpos
            try:
                self.sock.close()
            except OSError:
                pass

    def hostname(self):
        return self.sc.get(self.n, "hostname") or HOSTNAME

    def extensions(self):
        exts = None
        if self.tls:
            exts = self.sc.get(self.n, "tls-ehlo-extensions")
        if exts is None:
            exts = self.sc.get(self.n, "ehlo-extensions")
        if exts is None:
            exts = list(DEFAULT_EXTENSIONS)
            if self.srv.tls_ctx is not None:
                exts.append("STARTTLS")
        if self.tls:
            exts = [e for e in exts if e.upper() != "STARTTLS"]
        return exts

    def size_limit(self):
        for e in self.extensions():
            w = e.split()
            if w[0].upper() == "SIZE" and len(w) > 1 and w[1].isdigit():
                return int(w[1])
        return 0

    def reset_transaction(self):
        self.mail = None
        self.rcpts = []

    def command(self, raw):
        if raw.endswith(b"\r\n"):
            text, eol = raw[:-2], "CRLF"
        else:
            text, eol = raw[:-1], "LF"
        s = printable(text)
        verb, _, args = s.partition(" ")
        verb = verb.upper()
        entry = {"verb": verb, "args": args, "eol": eol, "tls": self.tls,
                 "reply": None}
        self.rec["commands"].append(entry)
        handler = getattr(self, "cmd_" + verb.lower(), None)
        if not verb.isalpha() or handler is None:
            n = self.bump("unknown")
            self.respond(entry, "unknown",
                         "500 5.5.2 Error: command not recognized", n)
            return
        n = self.bump(verb.lower())
        if self.refusing and verb != "QUIT":
            self.respond(entry, verb.lower(),
                         "503 5.5.0 Error: service unavailable", n)
            return
        handler(entry, args, n)

    def cmd_ehlo(self, e, args, n):
        if not args.strip():
            default = "501 5.5.4 Syntax: EHLO hostname"
        else:
            lines = ["%s Hello %s" % (self.hostname(), args.strip())]
            lines += self.extensions()
            default = Reply.lines(["250%s%s" % ("-" if i < len(lines) - 1
                                                else " ", l)
                                   for i, l in enumerate(lines)])
        code = self.respond(e, "ehlo", default, n)
        if code.startswith("2"):
            self.helo = True
            self.reset_transaction()

    def cmd_helo(self, e, args, n):
        default = ("250 %s" % self.hostname() if args.strip()
                   else "501 5.5.4 Syntax: HELO hostname")
        if self.respond(e, "helo", default, n).startswith("2"):
            self.helo = True
            self.reset_transaction()

    def cmd_mail(self, e, args, n):
        size = re.search(r"(?i)(?:^|\s)SIZE=(\d+)", args)
        limit = self.size_limit()
        if not self.helo:
            default = "503 5.5.1 Error: send HELO/EHLO first"
        elif self.mail is not None:
            default = "503 5.5.1 Error: nested MAIL command"
        elif not args.upper().startswith("FROM:"):
            default = "501 5.5.4 Syntax: MAIL FROM:<address>"
        elif size and limit and int(size.group(1)) > limit:
            default = "552 5.3.4 Message size exceeds fixed limit"
        else:
            default = "250 2.1.0 Ok"
        if self.respond(e, "mail", default, n).startswith("2"):
            self.mail = args
            self.rcpts = []

    def cmd_rcpt(self, e, args, n):
        if self.mail is None:
            default = "503 5.5.1 Error: need MAIL command"
        elif not args.upper().startswith("TO:"):
            default = "501 5.5.4 Syntax: RCPT TO:<address>"
        else:
            default = "250 2.1.5 Ok"
        if self.respond(e, "rcpt", default, n).startswith("2"):
            self.rcpts.append(args)

    def cmd_data(self, e, args, n):
        self.rec["data_sent"] = True
        if args:
            default = "501 5.5.4 Syntax: DATA"
        elif self.mail is None:
            default = "503 5.5.1 Error: need MAIL command"
        elif not self.rcpts:
            default = "554 5.5.1 Error: no valid recipients"
        else:
            default = "354 End data with <CR><LF>.<CR><LF>"
        if self.respond(e, "data", default, n).startswith("3"):
            self.body()

    def body(self):
        mrec = {"mail": self.mail, "rcpts": list(self.rcpts),
                "body_complete": False, "body_length": 0, "body_sha256": None,
                "body_truncated": False, "body_base64": None,
                "bare_lf": 0, "bare_cr": 0, "final_reply": None,
                "accepted": False}
        self.rec["messages"].append(mrec)
        msg = self.msg = Message(mrec)
        limit = self.sc.get(self.n, "body")
        seen = len(self.buf)
        drip = None
        if limit is not None and limit[0] == "drip":
            # A small receive buffer, so that the client feels the pace.
            drip, limit = max(1, limit[1]), None
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        while True:
            while True:
                i = self.buf.find(b"\n")
                if i < 0:
                    break
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                crlf = line.endswith(b"\r\n")
                if line == b".\r\n" and msg.prev_crlf:
                    self.msg = None
                    msg.finish(True)
                    self.final(mrec)
                    return
                if not crlf:
                    mrec["bare_lf"] += 1
                mrec["bare_cr"] += line.count(b"\r") - (1 if crlf else 0)
                msg.prev_crlf = crlf
                msg.add(line[1:] if line.startswith(b".") else line)
            if limit is not None and seen >= limit[1]:
                self.flush()
                if self.buf:
                    msg.add(bytes(self.buf))
                    self.buf.clear()
                if limit[0] == "close-after":
                    raise End("body-close")
                self.stall("body")
            size = RECV_SIZE
            if limit is not None:
                size = max(1, min(size, limit[1] - seen))
            if drip is not None:
                size = min(size, max(1, drip // 10))
            data = self.recv(size)
            if drip is not None and data:
                time.sleep(len(data) / drip)
            if not data:
                if self.buf:
                    msg.add(bytes(self.buf))
                raise End("client-closed")
            seen += len(data)
            self.buf += data

    def final(self, mrec):
        m = len(self.rec["messages"])
        limit = self.size_limit()
        if limit and mrec["body_length"] > limit:
            default = "552 5.3.4 Message size exceeds fixed limit"
        else:
            default = "250 2.0.0 Ok: queued as C%dM%d" % (self.n, m)
        self.reset_transaction()
        # Noted in the message as soon as known, even if the reply ends
        # the connection.
        try:
            code = self.respond(mrec, "final", default, m)
        finally:
            mrec["final_reply"] = mrec.pop("reply", None)
        mrec["accepted"] = code.startswith("2")

    def cmd_rset(self, e, args, n):
        self.reset_transaction()
        self.respond(e, "rset", "250 2.0.0 Ok", n)

    def cmd_noop(self, e, args, n):
        self.respond(e, "noop", "250 2.0.0 Ok", n)

    def cmd_vrfy(self, e, args, n):
        self.respond(e, "vrfy", "252 2.0.0 Cannot VRFY user", n)

    def cmd_expn(self, e, args, n):
        self.respond(e, "expn", "502 5.5.1 EXPN not available", n)

    def cmd_help(self, e, args, n):
        self.respond(e, "help", "214 2.0.0 faultsrv: see RFC 5321", n)

    def cmd_quit(self, e, args, n):
        self.respond(e, "quit", "221 2.0.0 Bye", n)
        raise End("quit")

    def cmd_starttls(self, e, args, n):
        if args:
            default = "501 5.5.4 Syntax: STARTTLS"
        elif self.tls:
            default = "554 5.5.1 Error: TLS already active"
        elif self.srv.tls_ctx is None:
            default = "454 4.7.0 TLS not available"
        else:
            default = "220 2.0.0 Ready to start TLS"
        code = self.respond(e, "starttls", default, n)
        if code.startswith("2") and self.srv.tls_ctx is not None \
                and not self.tls:
            # What the client sent after STARTTLS before the handshake was
            # plaintext that must not count as part of the TLS session
            # (CVE-2011-0411): recorded, then thrown away.
            self.rec["plaintext_after_starttls"] += printable(self.buf)
            self.buf.clear()
            self.flush()
            self.start_tls("starttls")

    def start_tls(self, mode):
        self.srv.record(b"--- TLS ---\n")
        try:
            self.sock = self.srv.tls_ctx.wrap_socket(self.sock,
                                                     server_side=True)
        except TimeoutError:
            raise End("tls-failed: timeout")
        except ssl.SSLError as e:
            raise End("tls-failed: %s" % (e.reason or e))
        except OSError as e:
            raise End("tls-failed: %s" % (e.strerror or e))
        self.tls = True
        self.rec["tls"] = mode
        self.rec["tls_version"] = self.sock.version()
        self.helo = False
        self.authed = False
        self.reset_transaction()

    def auth_step(self, challenge):
        """Send a 334 challenge; return the client's answer, or None when it
        cancelled with '*' (already answered)."""
        self.perform(Reply.text(challenge), "auth")
        raw = self.read_line()
        text = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        entry = {"verb": "(auth-data)", "args": printable(text),
                 "eol": "CRLF" if raw.endswith(b"\r\n") else "LF",
                 "tls": self.tls, "reply": None}
        self.rec["commands"].append(entry)
        if text == b"*":
            self.perform(Reply.text("501 5.7.0 Authentication aborted"),
                         "auth")
            entry["reply"] = "501 5.7.0 Authentication aborted\r\n"
            return None
        return entry

    def cmd_auth(self, e, args, n):
        words = args.split()
        mech = words[0].upper() if words else ""
        if not self.helo:
            self.respond(e, "auth", "503 5.5.1 Error: send HELO/EHLO first", n)
            return
        if self.authed:
            self.respond(e, "auth", "503 5.5.1 Error: already authenticated",
                         n)
            return
        if not mech or len(words) > 2:
            self.respond(e, "auth", "501 5.5.4 Syntax: AUTH mechanism", n)
            return
        last = e
        if mech == "LOGIN":
            steps = (["334 VXNlcm5hbWU6"] if len(words) == 1 else []) + \
                ["334 UGFzc3dvcmQ6"]
        elif len(words) == 2:
            steps = []
        elif mech == "CRAM-MD5":
            steps = ["334 " + base64.b64encode(
                b"<1.%d@%s>" % (self.n, self.hostname().encode())).decode()]
        else:
            steps = ["334 "]
        for challenge in steps:
            last = self.auth_step(challenge)
            if last is None:
                return
        code = self.respond(last, "auth",
                            "235 2.7.0 Authentication successful", n)
        if last is not e:
            e["reply"] = last["reply"]
        self.authed = code.startswith("2")


# ---- command line -----------------------------------------------------------

def on_signal(signum, frame):
    # Only the first signal interrupts; later ones must not break the
    # summary being written on the way out.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Terminated()


def extract(path, where):
    """--extract: print one field of a summary (see the README)."""
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        sys.stderr.write("faultsrv: %s: %s\n" % (path, e))
        return EXIT_USAGE
    cur = doc["connections"]
    parts = where.split(".")
    for i, p in enumerate(parts):
        if p == "body" and isinstance(cur, dict) and "body_base64" in cur:
            cur = cur["body_base64"]
        elif p == "body" and isinstance(cur, dict) and cur.get("messages"):
            cur = cur["messages"][-1]["body_base64"]
        elif isinstance(cur, list) and p.isdigit() and \
                1 <= int(p) <= len(cur):
            cur = cur[int(p) - 1]
            continue
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
            continue
        else:
            sys.stderr.write("faultsrv: %s: no '%s' in %s\n"
                             % (path, p, ".".join(parts[:i]) or "the summary"))
            return 1
        # "body": raw octets, nothing after them.
        if i != len(parts) - 1 or cur is None:
            sys.stderr.write("faultsrv: %s: no body at %s\n" % (path, where))
            return 1
        sys.stdout.buffer.write(base64.b64decode(cur))
        return EXIT_OK
    if isinstance(cur, str):
        # Replies end with CR LF; a shell's $(...) only strips the LF.
        sys.stdout.write(cur.replace("\r\n", "\n").rstrip("\n") + "\n")
    else:
        sys.stdout.write(json.dumps(cur) + "\n")
    return EXIT_OK


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="faultsrv.py",
        description="Scriptable fault-injection SMTP server (tests only).")
    p.add_argument("--script", help="the script (see README); "
                   "without it a well-behaved server")
    p.add_argument("--transcript", help="file for the client's bytes; the "
                   "summary goes to TRANSCRIPT.json")
    p.add_argument("--listen", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; ::1 too)")
    p.add_argument("--port", type=int, default=0,
                   help="port (default 0: any free port)")
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--connections", type=int, default=1,
                   help="serve N connections then exit; 0: until SIGTERM")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="idle seconds before a connection is closed")
    p.add_argument("--accept-timeout", type=float, default=None,
                   help="seconds to wait for each client (default 60; "
                   "none with --connections 0)")
    p.add_argument("--tls-cert", help="PEM certificate chain")
    p.add_argument("--tls-key", help="PEM private key")
    p.add_argument("--implicit-tls", action="store_true",
                   help="speak TLS from the first octet (smtps)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="trace the dialogue on stderr")
    p.add_argument("--extract", nargs=2, metavar=("SUMMARY", "PATH"),
                   help="print a field of a summary and exit")
    o = p.parse_args(argv)
    if o.extract:
        return o
    if not o.transcript:
        p.error("--transcript is required")
    if o.connections < 0 or not 0 <= o.port <= 65535:
        p.error("bad --connections or --port")
    if o.timeout <= 0:
        p.error("--timeout must be positive")
    if bool(o.tls_cert) != bool(o.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if o.implicit_tls and not o.tls_cert:
        p.error("--implicit-tls needs --tls-cert and --tls-key")
    if o.accept_timeout is None:
        o.accept_timeout = 60.0 if o.connections else 0.0
    return o


def main(argv):
    o = parse_args(argv)
    if o.extract:
        return extract(*o.extract)
    try:
        script = Script.load(o.script) if o.script else Script()
    except ScriptError as e:
        sys.stderr.write("faultsrv: %s:%d: %s\n" % (o.script, e.lineno, e.msg))
        return EXIT_USAGE
    ctx = None
    if o.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(o.tls_cert, o.tls_key)
        except (OSError, ssl.SSLError) as e:
            sys.stderr.write("faultsrv: cannot load %s / %s: %s\n"
                             % (o.tls_cert, o.tls_key, e))
            return EXIT_USAGE
    family = socket.AF_INET6 if ":" in o.listen else socket.AF_INET
    try:
        lsock = socket.socket(family, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((o.listen, o.port))
        lsock.listen(16)
    except OSError as e:
        sys.stderr.write("faultsrv: cannot listen on %s port %d: %s\n"
                         % (o.listen, o.port, e.strerror or e))
        return EXIT_USAGE
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    rc = EXIT_OK
    srv = None
    try:
        try:
            srv = Server(o, script, ctx)
            srv.port = lsock.getsockname()[1]
            srv.write_summary()
            if o.port_file:
                write_atomic(o.port_file, b"%d\n" % srv.port)
        except OSError as e:
            sys.stderr.write("faultsrv: %s: %s\n"
                             % (e.filename, e.strerror or e))
            return EXIT_USAGE
        lsock.settimeout(o.accept_timeout or None)
        served = 0
        while o.connections == 0 or served < o.connections:
            try:
                sock, peer = lsock.accept()
            except TimeoutError:
                sys.stderr.write("faultsrv: no client within %g s\n"
                                 % o.accept_timeout)
                rc = EXIT_NO_CLIENT
                break
            served += 1
            srv.record(b"--- connection %d ---\n" % served)
            conn = Conn(srv, sock, served, peer)
            srv.conns.append(conn.rec)
            conn.run()
            srv.write_summary()
    except Terminated:
        pass
    finally:
        lsock.close()
        if srv is not None:
            srv.write_summary()
            srv.transcript.close()
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
