#!/bin/sh
# selftest.sh -- faultsrv.py's own tests: each case starts the server with a
# script, talks to it (smtplib for the normal flow, raw sockets for the
# faults), then checks the replies, the transcript and the JSON summary.
#
# Prints "ok NAME" or "FAIL NAME" (with the case's output) per case, "skip"
# for a case the machine cannot run (no openssl, no IPv6); exits non-zero
# when a case failed or none ran.
set -u

PY=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
SRV=$here/faultsrv.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/faultsrv-test.XXXXXX") || exit 99
srvpid=
cleanup() {
	if [ -n "$srvpid" ]; then
		kill "$srvpid" 2>/dev/null
		wait "$srvpid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass=0
fail=0
skip=0
seq=0

# The clients' helpers: "from lib import *" in every Python snippet, which
# runs as: py [args...] <<'EOF' ... EOF, with the port and the case's
# directory in sys.argv[1:3].
cat >"$tmp/lib.py" <<'EOF'
import base64, json, socket, ssl, sys, time

PORT = int(sys.argv[1])
DIR = sys.argv[2]


def eq(got, want, what):
    if got != want:
        sys.exit("%s: got %r, want %r" % (what, got, want))


def check(cond, what):
    if not cond:
        sys.exit("failed: " + what)


def client_tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Client:
    def __init__(self, host="127.0.0.1", port=None, timeout=10):
        self.s = socket.create_connection((host, port or PORT), timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def fill(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self):
        """One whole reply, multi-line included, line ends kept."""
        out = b""
        while True:
            while b"\n" not in self.buf:
                self.fill()
            i = self.buf.index(b"\n") + 1
            line, self.buf = self.buf[:i], self.buf[i:]
            out += line
            if len(line) < 4 or line[3:4] != b"-":
                return out

    def expect(self, want, what):
        eq(self.reply(), want, what)

    def eof(self):
        """True when the server closed with nothing more to read."""
        if self.buf:
            return False
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True

    def starttls(self):
        eq(self.buf, b"", "bytes buffered before the handshake")
        self.s = client_tls().wrap_socket(self.s)

    def close(self):
        self.s.close()


def summary():
    with open(DIR + "/t.json") as f:
        return json.load(f)


def conn(n=1):
    return summary()["connections"][n - 1]


def transcript():
    with open(DIR + "/t", "rb") as f:
        return f.read()


def body(c, m=-1):
    return base64.b64decode(c["messages"][m]["body_base64"])
EOF

py() {
	PYTHONPATH=$tmp PYTHONDONTWRITEBYTECODE=1 timeout 60 "$PY" - \
		"${port:-0}" "$dir"
}

# start SCRIPT [faultsrv options...]: a new case directory ($dir), the
# script written there, the server started in the background ($srvpid) and
# its port ($port) once it listens.
start() {
	seq=$((seq + 1))
	dir=$tmp/$seq
	mkdir "$dir"
	printf '%s\n' "$1" >"$dir/script"
	shift
	"$PY" "$SRV" --script "$dir/script" --transcript "$dir/t" \
		--port-file "$dir/port" --timeout 10 --accept-timeout 20 "$@" \
		2>"$dir/err" &
	srvpid=$!
	i=0
	while [ ! -s "$dir/port" ]; do
		if ! kill -0 "$srvpid" 2>/dev/null || [ $i -ge 200 ]; then
			echo "server did not start:"
			cat "$dir/err"
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
	port=$(cat "$dir/port")
}

# finish [STATUS]: wait for the server, which must exit with STATUS (0).
finish() {
	wait "$srvpid"
	rc=$?
	srvpid=
	if [ "$rc" -ne "${1:-0}" ]; then
		echo "server exit status $rc, expected ${1:-0}:"
		cat "$dir/err"
		return 1
	fi
}

run() {  # run NAME FUNCTION
	if "$2" >"$tmp/log" 2>&1; then
		echo "ok   $1"
		pass=$((pass + 1))
	else
		echo "FAIL $1"
		sed 's/^/    /' "$tmp/log"
		fail=$((fail + 1))
	fi
	if [ -n "$srvpid" ]; then
		kill "$srvpid" 2>/dev/null
		wait "$srvpid" 2>/dev/null
		srvpid=
	fi
}

skip() {
	echo "skip $1 ($2)"
	skip=$((skip + 1))
}

# ---- the cases ----------------------------------------------------------

t_default_flow() {
	start '# no directives: a well-behaved server' || return 1
	py <<'EOF' || return 1
from lib import *
import smtplib
s = smtplib.SMTP("127.0.0.1", PORT, local_hostname="client.test",
                 timeout=10)
code, _ = s.ehlo()
eq(code, 250, "EHLO code")
eq(sorted(s.esmtp_features), ["8bitmime", "dsn", "pipelining", "size",
                              "smtputf8"], "extensions")
eq(s.esmtp_features["size"], "10240000", "SIZE")
msg = (b"Subject: t\r\n\r\n.leading dot\r\n..two dots\r\n"
       b"8bit \xc3\xa9\r\n.\r\nend\r\n")
eq(s.sendmail("a@x.test", ["b@y.test", "c@z.test"], msg), {}, "refused")
eq(s.quit()[0], 221, "QUIT code")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["verbs"], "EHLO MAIL RCPT RCPT DATA QUIT", "verbs")
eq(c["commands"][0]["args"], "client.test", "EHLO argument")
eq(c["commands"][1]["args"], "FROM:<a@x.test> size=69", "MAIL arguments")
eq(c["commands"][1]["reply"], "250 2.1.0 Ok\r\n", "MAIL reply")
eq([m["rcpts"] for m in c["messages"]], [["TO:<b@y.test>", "TO:<c@z.test>"]],
   "recipients")
eq(c["data_sent"], True, "data_sent")
eq(c["accepted"], True, "accepted")
eq(c["ended"], "quit", "ended")
eq(c["greeting"], "220 faultsrv.test ESMTP faultsrv\r\n", "greeting")
m = c["messages"][0]
eq(body(c), b"Subject: t\r\n\r\n.leading dot\r\n..two dots\r\n"
   b"8bit \xc3\xa9\r\n.\r\nend\r\n", "unstuffed body")
eq((m["body_complete"], m["bare_lf"], m["bare_cr"]), (True, 0, 0),
   "body flags")
eq(m["final_reply"], "250 2.0.0 Ok: queued as C1M1\r\n", "final reply")
t = transcript()
check(t.startswith(b"--- connection 1 ---\nehlo client.test\r\n"),
      "transcript start: %r" % t[:40])
check(b"\r\n\r\n..leading dot\r\n...two dots\r\n" in t,
      "stuffed body in the transcript")
check(t.endswith(b"..\r\nend\r\n.\r\nquit\r\n"), "transcript end")
eq(len(t) - c["transcript_start"], c["bytes_received"], "bytes_received")
EOF
	[ "$(cd "$dir" && "$PY" "$SRV" --extract t.json 1.verbs)" = \
	    "EHLO MAIL RCPT RCPT DATA QUIT" ] || { echo "--extract verbs"; return 1; }
	"$PY" "$SRV" --extract "$dir/t.json" 1.body >"$dir/body" || return 1
	printf 'Subject: t\r\n\r\n.leading dot\r\n..two dots\r\n8bit \303\251\r\n.\r\nend\r\n' |
	    cmp - "$dir/body" || { echo "--extract body"; return 1; }
	[ "$("$PY" "$SRV" --extract "$dir/t.json" 1.messages.1.accepted)" = true ] ||
	    { echo "--extract accepted"; return 1; }
	[ "$("$PY" "$SRV" --extract "$dir/t.json" 1.commands.2.reply)" = \
	    "250 2.1.0 Ok" ] || { echo "--extract reply"; return 1; }
	if "$PY" "$SRV" --extract "$dir/t.json" 2.verbs 2>"$dir/xerr"; then
		echo "--extract of a missing connection succeeded"
		return 1
	fi
	[ "$(cat "$dir/xerr")" = "faultsrv: $dir/t.json: no '2' in the summary" ] ||
	    { cat "$dir/xerr"; return 1; }
}

t_pipelined_rcpt2() {
	start 'rcpt 2: 550 5.1.1 <b@y>: no such user' || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.expect(b"220 faultsrv.test ESMTP faultsrv\r\n", "greeting")
c.send(b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<a@y>\r\nRCPT TO:<b@y>\r\n"
       b"RCPT TO:<c@y>\r\n")
eq(c.reply().splitlines()[-1], b"250 DSN", "EHLO last line")
c.expect(b"250 2.1.0 Ok\r\n", "MAIL")
c.expect(b"250 2.1.5 Ok\r\n", "RCPT 1")
c.expect(b"550 5.1.1 <b@y>: no such user\r\n", "RCPT 2")
c.expect(b"250 2.1.5 Ok\r\n", "RCPT 3")
c.send(b"RSET\r\nQUIT\r\n")
c.expect(b"250 2.0.0 Ok\r\n", "RSET")
c.expect(b"221 2.0.0 Bye\r\n", "QUIT")
check(c.eof(), "closed after QUIT")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["verbs"], "EHLO MAIL RCPT RCPT RCPT RSET QUIT", "verbs")
eq(c["data_sent"], False, "data_sent")
eq(c["messages"], [], "messages")
eq([x["reply"] for x in c["commands"][2:5]],
   ["250 2.1.5 Ok\r\n", "550 5.1.1 <b@y>: no such user\r\n",
    "250 2.1.5 Ok\r\n"], "RCPT replies")
eq(c["ended"], "quit", "ended")
EOF
}

t_sequencing_defaults() {
	start 'rcpt 2: 550 5.7.1 relay denied' || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"MAIL FROM:<a@x>\r\n")
c.expect(b"503 5.5.1 Error: send HELO/EHLO first\r\n", "MAIL before EHLO")
c.send(b"HELO c\r\nRCPT TO:<b@y>\r\nFOO bar\r\n\r\n")
c.expect(b"250 faultsrv.test\r\n", "HELO")
c.expect(b"503 5.5.1 Error: need MAIL command\r\n", "RCPT before MAIL")
c.expect(b"500 5.5.2 Error: command not recognized\r\n", "FOO")
c.expect(b"500 5.5.2 Error: command not recognized\r\n", "empty line")
c.send(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nNOOP\r\n")
c.expect(b"250 2.1.0 Ok\r\n", "MAIL")
c.expect(b"550 5.7.1 relay denied\r\n", "RCPT 2")
c.expect(b"554 5.5.1 Error: no valid recipients\r\n", "DATA")
c.expect(b"250 2.0.0 Ok\r\n", "NOOP")
c.send(b"MAIL FROM:<a@x>\r\n")
c.expect(b"503 5.5.1 Error: nested MAIL command\r\n", "nested MAIL")
c.send(b"STARTTLS\r\nQUIT\r\n")
c.expect(b"454 4.7.0 TLS not available\r\n", "STARTTLS without a cert")
c.expect(b"221 2.0.0 Bye\r\n", "QUIT")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["verbs"], "MAIL HELO RCPT FOO  MAIL RCPT DATA NOOP MAIL STARTTLS QUIT",
   "verbs")
eq(c["data_sent"], True, "data_sent")
eq(c["messages"], [], "no DATA phase")
eq(c["tls"], "none", "tls")
EOF
}

t_lf_lines_and_body() {
	start '' || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"EHLO c\nMAIL FROM:<a@x>\nRCPT TO:<b@y>\nDATA\n")
c.reply(); c.reply(); c.reply()
c.expect(b"354 End data with <CR><LF>.<CR><LF>\r\n", "DATA")
# A lone "." on an LF line does not end the data; CR LF . CR LF does.
c.send(b"a\nb\r\n.\nbare\rcr\r\n..x\r\n.\r\nQUIT\r\n")
c.expect(b"250 2.0.0 Ok: queued as C1M1\r\n", "final")
c.expect(b"221 2.0.0 Bye\r\n", "QUIT")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq([x["eol"] for x in c["commands"]], ["LF"] * 4 + ["CRLF"], "eol")
m = c["messages"][0]
eq(body(c), b"a\nb\r\n\nbare\rcr\r\n.x\r\n", "body")
eq((m["bare_lf"], m["bare_cr"], m["body_length"]), (2, 1, 19), "counts")
check(b"DATA\na\nb\r\n.\nbare\rcr\r\n..x\r\n.\r\nQUIT\r\n" in transcript(),
      "raw bytes in the transcript")
EOF
}

t_greeting_delay_refusal() {
	start 'greeting: delay 0.5 then 554-5.3.2 busy\n554 no service' || return 1
	py <<'EOF' || return 1
from lib import *
t0 = time.monotonic()
c = Client()
c.expect(b"554-5.3.2 busy\r\n554 no service\r\n", "greeting")
check(time.monotonic() - t0 >= 0.45, "greeting delayed")
c.send(b"EHLO c\r\nQUIT\r\n")
c.expect(b"503 5.5.0 Error: service unavailable\r\n", "EHLO after 554")
c.expect(b"221 2.0.0 Bye\r\n", "QUIT")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
eq(conn(1)["greeting"], "554-5.3.2 busy\r\n554 no service\r\n", "greeting")
EOF
}

t_extensions_size() {
	start 'ehlo-extensions: PIPELINING SIZE=20 AUTH=PLAIN,LOGIN X-Y
hostname: mx.example
helo: 250-a\n250 b' || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.expect(b"220 mx.example ESMTP faultsrv\r\n", "greeting")
c.send(b"EHLO c\r\n")
c.expect(b"250-mx.example Hello c\r\n250-PIPELINING\r\n250-SIZE 20\r\n"
         b"250-AUTH PLAIN LOGIN\r\n250 X-Y\r\n", "EHLO")
c.send(b"HELO c\r\nMAIL FROM:<a@x> SIZE=21\r\nMAIL FROM:<a@x> SIZE=20\r\n"
       b"RCPT TO:<b@y>\r\nDATA\r\n")
c.expect(b"250-a\r\n250 b\r\n", "HELO")
c.expect(b"552 5.3.4 Message size exceeds fixed limit\r\n", "SIZE=21")
c.expect(b"250 2.1.0 Ok\r\n", "SIZE=20")
c.reply(); c.reply()
c.send(b"0123456789012345678901\r\n.\r\n")
c.expect(b"552 5.3.4 Message size exceeds fixed limit\r\n", "final")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["accepted"], False, "accepted")
eq(c["messages"][0]["body_complete"], True, "body_complete")
eq(c["ended"], "client-closed", "ended")
EOF
}

t_ehlo_refused_helo() {
	start 'ehlo: 502 5.5.2 Error: command not recognized' || return 1
	py <<'EOF' || return 1
from lib import *
import smtplib
s = smtplib.SMTP("127.0.0.1", PORT, local_hostname="c", timeout=10)
eq(s.sendmail("a@x", ["b@y"], b"hi\r\n"), {}, "sendmail after HELO")
s.quit()
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["verbs"], "EHLO HELO MAIL RCPT DATA QUIT", "verbs")
eq(c["commands"][1]["reply"], "250 faultsrv.test\r\n", "HELO reply")
eq(body(c), b"hi\r\n", "body")
EOF
}

t_close_and_reset() {
	start 'connection: 1
mail: close
connection: 2
rcpt: delay 0.2 then reset' --connections 2 || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"EHLO c\r\nMAIL FROM:<a@x>\r\n")
c.reply()
check(c.eof(), "closed instead of the MAIL reply")
c = Client()
c.reply()
c.send(b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n")
c.reply()
c.expect(b"250 2.1.0 Ok\r\n", "MAIL on connection 2")
try:
    c.s.recv(10)
    sys.exit("no reset")
except ConnectionResetError:
    pass
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["ended"], "scripted-close", "ended 1")
eq(c["commands"][-1]["reply"], "(close)", "MAIL reply noted")
c = conn(2)
eq(c["ended"], "scripted-reset", "ended 2")
eq(c["verbs"], "EHLO MAIL RCPT", "verbs 2")
t = transcript()
check(t.startswith(b"--- connection 1 ---\nEHLO c\r\nMAIL FROM:<a@x>\r\n"
                   b"--- connection 2 ---\nEHLO c\r\n"), "transcript")
EOF
}

t_raw_replies() {
	start 'helo: garbage
mail: extra "XY" after 250 ok
rcpt: raw 25\x30 r\r\n250 injected\r\n
rcpt 2: long 100000 "250 "
rcpt 3: raw-repeat 3 "ab\r\n"
noop: extra "\x00\xff" after delay 0 then raw "250-\x41\r\n"
rset: raw "quoted \" and \\ \r\n"' || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"HELO c\r\n")
c.expect(b"hello there\r\n", "garbage")
c.send(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n")
eq(c.exact(8), b"250 ok\r\n", "reply before extra")
eq(c.exact(2), b"XY", "extra bytes")
c.expect(b"250 r\r\n", "raw 1")
c.expect(b"250 injected\r\n", "raw 2")
c.send(b"RCPT TO:<c@y>\r\n")
line = c.exact(100000)
eq((line[:4], line[-2:], len(set(line[4:-2]))), (b"250 ", b"\r\n", 1), "long")
c.send(b"RCPT TO:<d@y>\r\nNOOP\r\nRSET\r\n")
eq(c.exact(12), b"ab\r\nab\r\nab\r\n", "raw-repeat")
eq(c.exact(9), b"250-A\r\n\x00\xff", "extra after delay after raw")
eq(c.exact(17), b'quoted " and \\ \r\n', "quoted raw")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["commands"][0]["reply"], "hello there\r\n", "garbage noted")
eq(c["commands"][2]["reply"], "250 r\r\n250 injected\r\n", "raw noted")
check(c["commands"][3]["reply"].endswith("...(99488 more)"), "long noted")
eq(c["verbs"], "HELO MAIL RCPT RCPT RCPT NOOP RSET", "verbs")
EOF
}

t_body_close_after() {
	start 'body: close-after 10' || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
for i in range(4):
    c.reply()
try:
    c.send(b"0123456789abcdefghij\r\n" * 5 + b".\r\n")
except OSError:
    pass
check(c.eof(), "closed during the body")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["ended"], "body-close", "ended")
m = c["messages"][0]
eq((body(c), m["body_complete"], m["accepted"]), (b"0123456789", False, False),
   "body")
check(transcript().endswith(b"DATA\r\n0123456789"), "transcript")
EOF
}

t_body_hang_after() {
	start 'body: hang-after 5' || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
for i in range(4):
    c.reply()
c.send(b"hello world\r\n.\r\n")
c.s.settimeout(1)
try:
    c.reply()
    sys.exit("a reply came")
except TimeoutError:
    pass
c.close()
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq((c["ended"], c["hung"]), ("client-closed", "body"), "ended")
eq(body(c), b"hello", "body")
check(transcript().endswith(b"DATA\r\nhello"), "transcript")
EOF
}

t_body_stall_blocks_writer() {
	start 'body: hang-after 0' --timeout 5 || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
for i in range(4):
    c.reply()
c.s.settimeout(1)
try:
    c.send(b"x" * (32 << 20))
    sys.exit("32 MiB written to a server that does not read")
except TimeoutError:
    pass
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["hung"], "body", "hung")
check(c["ended"] in ("timeout", "client-closed"), "ended: " + c["ended"])
eq(c["messages"][0]["body_length"], 0, "nothing read")
EOF
}

t_hang_reply() {
	start 'rcpt: hang' --timeout 1 || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n")
c.reply(); c.reply()
c.s.settimeout(0.5)
try:
    c.reply()
    sys.exit("a reply came")
except TimeoutError:
    pass
c.send(b"NOOP\r\n")
c.s.settimeout(10)
t0 = time.monotonic()
check(c.eof(), "closed after the idle timeout")
check(0.5 < time.monotonic() - t0 < 8, "closed after about 1 s")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq((c["ended"], c["hung"]), ("timeout", "rcpt"), "ended")
eq(c["verbs"], "EHLO MAIL RCPT", "NOOP not acted upon")
eq(c["commands"][-1]["reply"], "(hang)", "RCPT reply noted")
check(transcript().endswith(b"RCPT TO:<b@y>\r\nNOOP\r\n"), "NOOP recorded")
EOF
}

t_idle_timeout() {
	start '' --timeout 1 || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
t0 = time.monotonic()
check(c.eof(), "closed")
check(0.5 < time.monotonic() - t0 < 8, "after about 1 s")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
eq(conn(1)["ended"], "timeout", "ended")
EOF
}

t_final_faults() {
	start 'final 2: 452 4.3.1 Insufficient system storage
connection: 2
final: close' --connections 2 || return 1
	py <<'EOF' || return 1
from lib import *
import smtplib
s = smtplib.SMTP("127.0.0.1", PORT, timeout=10)
eq(s.sendmail("a@x", ["b@y"], b"one\r\n"), {}, "message 1")
try:
    s.sendmail("a@x", ["b@y"], b"two\r\n")
    sys.exit("message 2 accepted")
except smtplib.SMTPDataError as e:
    eq((e.smtp_code, e.smtp_error), (452, b"4.3.1 Insufficient system storage"),
       "message 2")
s.quit()
s = smtplib.SMTP("127.0.0.1", PORT, timeout=10)
try:
    s.sendmail("a@x", ["b@y"], b"three\r\n")
    sys.exit("no close")
except smtplib.SMTPServerDisconnected:
    pass
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq([(m["accepted"], m["final_reply"]) for m in c["messages"]],
   [(True, "250 2.0.0 Ok: queued as C1M1\r\n"),
    (False, "452 4.3.1 Insufficient system storage\r\n")], "finals")
eq((body(c, 0), body(c, 1)), (b"one\r\n", b"two\r\n"), "bodies")
eq(c["accepted"], True, "some message accepted")
c = conn(2)
m = c["messages"][0]
eq((m["body_complete"], m["accepted"], m["final_reply"], c["ended"]),
   (True, False, "(close)", "scripted-close"), "connection 2")
EOF
}

t_sections() {
	start 'mail: 451 4.3.0 global
connection: 1
greeting: 421 4.3.2 go away
connection: 3
mail: 250 fine' --connections 3 || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.expect(b"421 4.3.2 go away\r\n", "greeting 1")
c.close()
for want in (b"451 4.3.0 global\r\n", b"250 fine\r\n"):
    c = Client()
    c.expect(b"220 faultsrv.test ESMTP faultsrv\r\n", "greeting")
    c.send(b"HELO c\r\nMAIL FROM:<a@x>\r\nQUIT\r\n")
    c.reply()
    c.expect(want, "MAIL")
    c.reply()
    check(c.eof(), "closed")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
s = summary()
eq([c["ended"] for c in s["connections"]], ["client-closed", "quit", "quit"],
   "ended")
eq([c["n"] for c in s["connections"]], [1, 2, 3], "numbers")
t = transcript()
for n in (1, 2, 3):
    eq(t.count(b"--- connection %d ---\n" % n), 1, "marker %d" % n)
EOF
}

t_auth() {
	start 'ehlo-extensions: AUTH=PLAIN,LOGIN,CRAM-MD5
auth 2: 535 5.7.8 Authentication credentials invalid' || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"AUTH PLAIN AGEAYg==\r\nEHLO c\r\nAUTH LOGIN\r\n")
c.expect(b"503 5.5.1 Error: send HELO/EHLO first\r\n", "AUTH before EHLO")
c.reply()
c.expect(b"334 VXNlcm5hbWU6\r\n", "LOGIN user")
c.send(b"dXNlcg==\r\n")
c.expect(b"334 UGFzc3dvcmQ6\r\n", "LOGIN password")
c.send(b"cGFzcw==\r\n")
c.expect(b"535 5.7.8 Authentication credentials invalid\r\n", "auth 2")
c.send(b"AUTH PLAIN\r\n")
c.expect(b"334 \r\n", "PLAIN without initial response")
c.send(b"*\r\n")
c.expect(b"501 5.7.0 Authentication aborted\r\n", "cancelled")
c.send(b"AUTH CRAM-MD5\r\n")
c.expect(b"334 PDEuMUBmYXVsdHNydi50ZXN0Pg==\r\n", "CRAM-MD5 challenge")
c.send(b"dXNlciBkaWdlc3Q=\r\n")
c.expect(b"235 2.7.0 Authentication successful\r\n", "CRAM-MD5")
c.send(b"AUTH PLAIN AHUAcA==\r\nQUIT\r\n")
c.expect(b"503 5.5.1 Error: already authenticated\r\n", "again")
c.reply()
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["verbs"], "AUTH EHLO AUTH AUTH AUTH AUTH QUIT", "verbs")
eq([(x["verb"], x["args"]) for x in c["commands"][2:9]],
   [("AUTH", "LOGIN"), ("(auth-data)", "dXNlcg=="),
    ("(auth-data)", "cGFzcw=="), ("AUTH", "PLAIN"), ("(auth-data)", "*"),
    ("AUTH", "CRAM-MD5"), ("(auth-data)", "dXNlciBkaWdlc3Q=")], "exchange")
eq(c["commands"][2]["reply"],
   "535 5.7.8 Authentication credentials invalid\r\n", "AUTH reply")
EOF
}

t_sigterm() {
	start '' --connections 0 --accept-timeout 0 || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
c.send(b"QUIT\r\n")
c.reply()
check(c.eof(), "closed")
EOF
	# A second client stays connected until the server goes away.
	py <<'EOF' &
from lib import *
c = Client()
c.reply()
open(DIR + "/connected", "w").close()
check(c.eof(), "closed by SIGTERM")
EOF
	client=$!
	i=0
	while [ ! -e "$dir/connected" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -TERM "$srvpid"
	finish || return 1
	wait "$client" || return 1
	py <<'EOF'
from lib import *
eq([c["ended"] for c in summary()["connections"]], ["quit", "terminated"],
   "ended")
EOF
}

t_accept_timeout() {
	start '' --accept-timeout 0.5 || return 1
	finish 3 || return 1
	grep -q '^faultsrv: no client within 0.5 s$' "$dir/err" ||
	    { cat "$dir/err"; return 1; }
}

t_line_too_long() {
	start '' || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.reply()
try:
    c.send(b"NOOP " + b"x" * (2 << 20))
except OSError:
    pass
check(c.eof(), "closed")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
eq(conn(1)["ended"], "line-too-long", "ended")
EOF
}

t_script_errors() {
	seq=$((seq + 1))
	dir=$tmp/$seq
	mkdir "$dir"
	bad=0
	while IFS='|' read -r text want; do
		printf '%s\n' "# comment" "$text" >"$dir/s"
		"$PY" "$SRV" --script "$dir/s" --transcript "$dir/t" \
		    --port-file "$dir/port" >/dev/null 2>"$dir/err"
		rc=$?
		got=$(cat "$dir/err")
		if [ $rc -ne 2 ] || [ "$got" != "faultsrv: $dir/s:2: $want" ] ||
		    [ -e "$dir/port" ]; then
			echo "script '$text': exit $rc, got '$got', want '$want'"
			bad=1
		fi
	done <<'EOF'
mail 250 ok|expected 'key: value'
mial: 250 ok|unknown directive 'mial'
mail: delya 1 then 250|unknown reply 'delya' (a literal reply starts with a digit; use raw for other bytes)
mail: delay x then 250|bad number of seconds 'x'
mail: delay 1 250|expected 'delay SECONDS then REPLY'
greeting 2: 220 x|'greeting' takes no index
body: close-after -1|the octet count must be between 0 and 1099511627776
body: close-after 1x|the octet count must be an integer, not '1x'
body: stop|expected 'body: close-after N', 'body: hang-after N' or 'body: drip N'
rcpt: raw "abc|unterminated quoted string: "abc
rcpt: extra "x" 250|expected 'after' after the quoted string
rcpt: long 3 "250 "|long 3 is shorter than its prefix and CRLF
rcpt: close now|'close' takes no operand
connection: 0|the connection must be between 1 and 1048576
EOF
	printf 'rcpt 2: 250 a\nrcpt 2: 250 b\n' >"$dir/s"
	"$PY" "$SRV" --script "$dir/s" --transcript "$dir/t" 2>"$dir/err"
	[ "$(cat "$dir/err")" = "faultsrv: $dir/s:2: 'rcpt 2' given twice" ] ||
	    { cat "$dir/err"; bad=1; }
	return $bad
}

# ---- TLS --------------------------------------------------------------

make_cert() {
	[ -s "$tmp/cert.pem" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
	    -subj /CN=localhost >/dev/null 2>&1
}

TLS="--tls-cert $tmp/cert.pem --tls-key $tmp/key.pem"

t_starttls() {
	# shellcheck disable=SC2086
	start '' $TLS || return 1
	py <<'EOF' || return 1
from lib import *
import smtplib
s = smtplib.SMTP("127.0.0.1", PORT, local_hostname="c", timeout=10)
s.ehlo()
check(s.has_extn("starttls"), "STARTTLS offered")
eq(s.starttls(context=client_tls())[0], 220, "STARTTLS")
s.ehlo()
check(not s.has_extn("starttls"), "STARTTLS not offered again")
eq(s.sendmail("a@x", ["b@y"], b"secret\r\n"), {}, "sendmail")
s.quit()
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq(c["verbs"], "EHLO STARTTLS EHLO MAIL RCPT DATA QUIT", "verbs")
eq([x["tls"] for x in c["commands"]], [False] * 2 + [True] * 5, "tls flags")
eq(c["tls"], "starttls", "tls")
check(c["tls_version"].startswith("TLSv1."), "tls_version")
eq(body(c), b"secret\r\n", "body")
t = transcript()
check(b"STARTTLS\r\n--- TLS ---\nehlo c\r\nmail FROM:<a@x>" in t, "transcript")
check(t.endswith(b"secret\r\n.\r\nquit\r\n"), "decrypted end")
EOF
}

t_starttls_injection() {
	# shellcheck disable=SC2086
	start 'connection: 1
starttls: raw "220 ready\r\n250 injected\r\n"
connection: 2
tls-ehlo-extensions: PIPELINING AUTH=PLAIN' --connections 2 $TLS || return 1
	py <<'EOF' || return 1
from lib import *
# 1: the server's reply to STARTTLS carries an extra plaintext line.
c = Client()
c.reply()
c.send(b"EHLO c\r\nSTARTTLS\r\n")
c.reply()
c.expect(b"220 ready\r\n", "STARTTLS")
c.expect(b"250 injected\r\n", "injected")
c.starttls()
c.send(b"EHLO c\r\nQUIT\r\n")
eq(c.reply().splitlines()[-1], b"250 DSN", "EHLO over TLS")
c.reply()
# 2: the client pipelines a command after STARTTLS (CVE-2011-0411).
c = Client()
c.reply()
c.send(b"EHLO c\r\n")
check(b"250-STARTTLS" not in c.reply(), "default list: STARTTLS last")
c.send(b"STARTTLS\r\nNOOP\r\n")
c.expect(b"220 2.0.0 Ready to start TLS\r\n", "STARTTLS")
c.starttls()
c.send(b"EHLO c\r\n")
c.expect(b"250-faultsrv.test Hello c\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n",
         "EHLO over TLS")
c.send(b"STARTTLS\r\nQUIT\r\n")
c.expect(b"554 5.5.1 Error: TLS already active\r\n", "STARTTLS twice")
c.reply()
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq((c["tls"], c["plaintext_after_starttls"]), ("starttls", ""), "conn 1")
c = conn(2)
eq(c["plaintext_after_starttls"], "NOOP\r\n", "plaintext after STARTTLS")
eq(c["verbs"], "EHLO STARTTLS EHLO STARTTLS QUIT", "NOOP dropped")
check(b"STARTTLS\r\nNOOP\r\n--- TLS ---\nEHLO c\r\n" in transcript(),
      "transcript")
EOF
}

t_implicit_tls() {
	# shellcheck disable=SC2086
	start '' --implicit-tls $TLS || return 1
	py <<'EOF' || return 1
from lib import *
import smtplib
s = smtplib.SMTP_SSL("127.0.0.1", PORT, local_hostname="c", timeout=10,
                     context=client_tls())
s.ehlo()
check(not s.has_extn("starttls"), "no STARTTLS under TLS")
eq(s.sendmail("a@x", ["b@y"], b"smtps\r\n"), {}, "sendmail")
s.quit()
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
eq((c["tls"], c["accepted"], c["ended"]), ("implicit", True, "quit"), "conn")
check(transcript().startswith(b"--- connection 1 ---\n--- TLS ---\nehlo c\r\n"),
      "transcript")
eq(body(c), b"smtps\r\n", "body")
EOF
}

t_tls_handshake_fails() {
	# shellcheck disable=SC2086
	start '' --implicit-tls $TLS || return 1
	py <<'EOF' || return 1
from lib import *
c = Client()
c.send(b"EHLO plaintext\r\n")
check(c.eof(), "closed")
EOF
	finish || return 1
	py <<'EOF'
from lib import *
c = conn(1)
check(c["ended"].startswith("tls-failed: "), "ended: " + c["ended"])
EOF
}

t_ipv6() {
	start '' --listen ::1 || return 1
	py <<'EOF' || return 1
from lib import *
import smtplib
s = smtplib.SMTP("::1", PORT, timeout=10)
eq(s.sendmail("a@x", ["b@y"], b"v6\r\n"), {}, "sendmail")
s.quit()
EOF
	finish || return 1
	py <<'EOF'
from lib import *
s = summary()
eq((s["listen"], s["connections"][0]["peer"]), ("::1", "::1"), "addresses")
EOF
}

run "default flow through smtplib" t_default_flow
run "pipelined commands, rcpt 2 refused" t_pipelined_rcpt2
run "default sequencing replies" t_sequencing_defaults
run "LF lines and body accounting" t_lf_lines_and_body
run "delayed multi-line 554 greeting" t_greeting_delay_refusal
run "ehlo-extensions, hostname, SIZE" t_extensions_size
run "EHLO refused, HELO fallback" t_ehlo_refused_helo
run "close and reset, per connection" t_close_and_reset
run "garbage, raw, extra, long, raw-repeat" t_raw_replies
run "body: close-after" t_body_close_after
run "body: hang-after" t_body_hang_after
run "body: hang-after blocks the writer" t_body_stall_blocks_writer
run "hang reply and idle timeout" t_hang_reply
run "idle timeout after the greeting" t_idle_timeout
run "final N and final: close" t_final_faults
run "connection sections" t_sections
run "AUTH exchanges" t_auth
run "SIGTERM" t_sigterm
run "accept timeout" t_accept_timeout
run "command line too long" t_line_too_long
run "script errors" t_script_errors
if command -v openssl >/dev/null 2>&1 && make_cert; then
	run "STARTTLS" t_starttls
	run "STARTTLS injection both ways" t_starttls_injection
	run "implicit TLS" t_implicit_tls
	run "TLS handshake failure" t_tls_handshake_fails
else
	skip "TLS cases" "no openssl to make a certificate"
fi
if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
    2>/dev/null; then
	run "IPv6 listener" t_ipv6
else
	skip "IPv6 listener" "no ::1"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
