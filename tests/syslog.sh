#!/bin/sh
# syslog.sh -- what noq writes to syslog, read back.
#
# noq logs one line per message to syslog (facility mail): delivered,
# failed, and the warnings of DKIM signing sent unsigned.  No syslog daemon
# runs in the tests, so each case runs noq in a mount namespace of its own
# (unshare -m) with a tmpfs on /dev holding null, zero, random, urandom and
# a datagram socket at /dev/log that tests/syslog/listen.py reads; the
# lines it received are checked: the priority (<22> mail.info, <21>
# mail.notice, <20> mail.warning), the text, and that text from a server
# reaches the log cleaned (no control octet, no C1 control).
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir.  Skipped (77)
# when not root or without mount namespaces.
# Usage: sh tests/syslog.sh

# shellcheck source=delivery/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/delivery/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
	echo "SKIP: syslog.sh needs root and mount namespaces (unshare -m)"
	exit 77
fi
listen=$top_srcdir/tests/syslog/listen.py

# ns.sh LOG COMMAND...: COMMAND with /dev/log read into LOG.
cat >"$tmp/ns.sh" <<'NS'
set -e
log=$1
shift
mount -t tmpfs noq-syslog /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
"$PY" "$LISTEN" /dev/log "$log" &
n=0
while [ ! -e "$log.ready" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
set +e
"$@"
r=$?
sleep 0.3
kill $! 2>/dev/null
exit $r
NS
PY=$PY LISTEN=$listen
export PY LISTEN

# logged POLICY INPUT ARGS...: send() with syslog read into $tmp/log.
logged() {
	lpol=$1 lin=$2
	shift 2
	rm -f "$tmp/log" "$tmp/log.ready"
	$run_timeout unshare -m sh "$tmp/ns.sh" "$tmp/log" \
		"$NOQ" -C "$tmp/$lpol.policy" "$@" <"$lin" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ -f "$tmp/log" ] || : >"$tmp/log"
}

# want_log PATTERN: a line of the log matches the shell PATTERN.
want_log() {
	want_match "a syslog line" "$(cat "$tmp/log")" "*$1*"
}

printf 'From: alice@example.org\nSubject: logged\n\nA message.\n' >"$tmp/msg"

begin "delivered: one mail.info line"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
logged p "$tmp/msg" -f alice@example.org bob@example.net
stop srv
want_rc 0
want "syslog lines" "$(wc -l <"$tmp/log")" 1
want_log "<22>* noq\\[[0-9]*\\]: <= <alice@example.org> U=* S=* id=<E*@mail.example.org> => bob@example.net H=127.0.0.1 \\[127.0.0.1\\] C=\"250 *"
end

begin "refused by the smart host: one mail.notice line with the reason"
fault srv 127.0.0.1 "rcpt: 550 5.1.1 no such user"
policy p "127.0.0.1:$port"
logged p "$tmp/msg" -f alice@example.org bob@example.net
stop srv
want_rc 1
want "syslog lines" "$(wc -l <"$tmp/log")" 1
want_log "<21>* noq\\[[0-9]*\\]: <= <alice@example.org> * ** bob@example.net: *550 5.1.1 no such user*"
end

begin "server text reaches the log cleaned"
fault srv 127.0.0.1 'rcpt: raw "550 no\x1b]0;pwned\x07 such \x1b[2J\xc2\x9b user\r\n"'
policy p "127.0.0.1:$port"
logged p "$tmp/msg" -f alice@example.org bob@example.net
stop srv
want_rc 1
want "control octets in the log (line ends aside)" \
	"$(LC_ALL=C tr -cd '\000-\011\013-\037\177' <"$tmp/log" | wc -c)" 0
want "the C1 CSI in the log" "$(grep -c "$(printf '\302\233')" "$tmp/log")" 0
want_log "<21>*550 no?]0;pwned? such ?[2J? user*"
end

# DKIM, not strict, the key missing: the message goes unsigned, and a
# mail.warning line says so.
begin "DKIM signing failed, not strict: mail.warning, sent unsigned"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
{
	echo "begin routers"
	echo "smarthost:"
	echo "  driver = manualroute"
	echo "  route_list = * 127.0.0.1::$port"
	echo "  transport = remote_smtp"
	echo "begin transports"
	echo "remote_smtp:"
	echo "  driver = smtp"
	echo "  dkim_domain = example.org"
	echo "  dkim_selector = s1"
	echo "  dkim_private_key = $tmp/missing.pem"
} >"$tmp/dkim.conf"
"$NOQC" -o "$tmp/dkim.policy" "$tmp/dkim.conf" >"$tmp/noqc.out" 2>&1 || {
	cat "$tmp/noqc.out" >&2
	exit 99
}
logged dkim "$tmp/msg" -f alice@example.org bob@example.net
stop srv
want_rc 0
want_line "noq: warning: DKIM signing failed: cannot open secret file $tmp/missing.pem: No such file or directory; the message goes out unsigned (dkim_strict is false)"
want_log "<20>* noq\\[[0-9]*\\]: id=<E*> DKIM signing failed: cannot open secret file $tmp/missing.pem: No such file or directory; sent unsigned"
want_log "<22>* noq\\[[0-9]*\\]: <= <alice@example.org> * => bob@example.net *"
end

finish
