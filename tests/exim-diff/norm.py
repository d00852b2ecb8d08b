#!/usr/bin/python3
"""norm.py -- what tests/exim-diff.sh compares, as text.

  norm.py smtp SUMMARY N SIZE-SLACK
      connection N of a faultsrv summary (tests/smtp/README): each command
      the client sent, and after DATA the message it sent, header fields
      one a line (unfolded: a fold's blanks become one space), then the
      body.
  norm.py text FILE
      a program's output (-bt, -bv), masked the same way.
  norm.py codes FILE
      the replies of a -bs session: the code of each (their greeting, EHLO
      lists and texts are their own).

What must differ between Exim and noq is masked, and only that: message
ids ("ID"), the dates of now ("DATE": a date written in the input is
kept), the program's name and version in Received and in an SMTP greeting
("PROGRAM").  SIZE= is shown as the difference between the declared size
and the octets sent, less size_addition's 1024 and SIZE-SLACK (Exim
declares one octet less than it sends: its slack is 1), so "SIZE=+0" when
it is exact.  Octets that are not printable ASCII are written \\r, \\n,
\\xNN, and a backslash \\\\, so that a bare CR or LF, or an 8-bit octet,
shows in a diff.
"""

import base64
import email.utils
import json
import re
import sys
import time

DATE = re.compile(rb"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]+)?"
                  rb"\d{1,2}[ \t]+[A-Z][a-z]{2}[ \t]+\d{4}[ \t]+"
                  rb"\d\d:\d\d(?::\d\d)?[ \t]+[+-]\d{4}")
# Exim's ids (1xaaB2-0004Si-1I) and noq's (1xaaB4-0004T4-IAT2zk).
ID = re.compile(rb"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{4,6}-[0-9A-Za-z]{2,6}\b")
# The Message-Id Exim (and noq) adds is "E" and the id: masked with the E
# kept, so that one without it shows.
MSGID = re.compile(rb"<E[0-9A-Za-z]{6}-[0-9A-Za-z]{4,6}-[0-9A-Za-z]{2,6}@")
PROGRAM = re.compile(rb"\b(?:Exim|noq) \d+\.\d+(?:\.\d+)?(?:[-~+][^ \t)]*)?")


def now_date(m):
    """A date within a day of now is the program's: masked."""
    try:
        d = email.utils.parsedate_to_datetime(
            re.sub(rb"[ \t]+", b" ", m.group(0)).decode())
        if abs(d.timestamp() - time.time()) < 86400:
            return b"DATE"
    except (TypeError, ValueError):
        pass
    return m.group(0)


def mask(line):
    line = MSGID.sub(rb"<EID@", line)
    line = DATE.sub(now_date, line)
    line = ID.sub(b"ID", line)
    return PROGRAM.sub(b"PROGRAM", line)


def show(b):
    """Bytes as one line of ASCII text."""
    out = []
    for c in b:
        if c == 0x5c:
            out.append("\\\\")
        elif c == 0x0d:
            out.append("\\r")
        elif c == 0x0a:
            out.append("\\n")
        elif 0x20 <= c < 0x7f or c == 0x09:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def message(data):
    """The message's lines: header fields unfolded, a blank line, body."""
    lines = data.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    else:
        lines.append(b"(no CRLF at the end)")
    out = []
    i = 0
    fields = []
    while i < len(lines) and lines[i] != b"":
        if fields and lines[i][:1] in (b" ", b"\t"):
            # Unfolded: the line end and the blanks of the fold are one
            # space (Exim and noq fold the Received field apart).
            fields[-1] += b" " + lines[i].lstrip(b" \t")
        else:
            fields.append(lines[i])
        i += 1
    for f in fields:
        out.append("H " + show(mask(f)))
    for line in lines[i:]:
        out.append("B " + show(line))
    return out


def smtp(path, n, slack):
    with open(path, "rb") as f:
        doc = json.load(f)
    conns = doc["connections"]
    if n > len(conns):
        print("(no connection)")
        return 0
    c = conns[n - 1]
    msgs = iter(c.get("messages", []))
    msg = None
    for cmd in c["commands"]:
        args = cmd["args"]
        verb = cmd["verb"]
        if verb == "MAIL":
            msg = next(msgs, None)
            if msg is not None:
                def size(m):
                    k = int(m.group(1)) - 1024 - msg["body_length"] + slack
                    return "SIZE=%+d" % k
                args = re.sub(r"\bSIZE=(\d+)", size, args)
        eol = "" if cmd["eol"] == "CRLF" else " (" + cmd["eol"] + ")"
        print(("%s %s" % (verb, args)).rstrip() + eol)
        if verb == "DATA" and msg is not None and "body_base64" in msg:
            for line in message(base64.b64decode(msg["body_base64"])):
                print(line)
            if not msg.get("body_complete", True):
                print("(the data did not end)")
    print("ended: %s" % c.get("ended"))
    return 0


def text(path):
    with open(path, "rb") as f:
        data = f.read()
    for line in data.split(b"\n"):
        sys.stdout.write(show(mask(line)) + "\n")
    return 0


def codes(path):
    with open(path, "rb") as f:
        data = f.read()
    for line in data.split(b"\n"):
        m = re.match(rb"([0-9]{3})([ -])(.*?)\r?$", line)
        if not m:
            if line:
                sys.stdout.write("? " + show(mask(line)) + "\n")
        elif m.group(2) == b" ":
            sys.stdout.write(m.group(1).decode() + "\n")
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "smtp":
        return smtp(argv[2], int(argv[3]), int(argv[4]))
    if len(argv) == 3 and argv[1] == "text":
        return text(argv[2])
    if len(argv) == 3 and argv[1] == "codes":
        return codes(argv[2])
    sys.stderr.write("usage: norm.py smtp SUMMARY N SLACK | text FILE | codes FILE\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
