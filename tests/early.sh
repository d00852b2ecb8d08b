#!/bin/sh
# early.sh -- the SMTP session opened while the message is read (noq(8),
# "The session and the message"), against the fault-injection server
# (tests/smtp/faultsrv.py).
#
# The caller is a shell pipeline that writes the header section, then
# waits until the server's transcript shows EHLO before it writes the body
# and closes noq's standard input: noq must have connected and greeted
# while the message was still coming.  (A noq that connected only after
# reading the message would leave the pipeline waiting until it gives up,
# and the case fails on "EHLO before the end of the message".)  Then what
# the server saw: a message refused at intake or by routing gets nothing
# but QUIT on the connection; a connection the server spoke on while it
# waited is replaced; a connection that does not fit the message's route
# gets QUIT and a new one is made; a router's host lookups are made once,
# before connecting; configurations whose EHLO depends on the message are
# not opened early.
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir.

. "${top_srcdir:-$(dirname "$0")/..}/tests/delivery/lib.sh"

# saw_ehlo NAME SECONDS: faultsrv NAME's transcript has EHLO within SECONDS.
saw_ehlo() {
	_n=0
	while ! grep -q '^EHLO ' "$tmp/$1/t" 2>/dev/null; do
		_n=$((_n + 1))
		[ $_n -le $(($2 * 20)) ] || return 1
		sleep 0.05
	done
}

# slow NAME POLICY BODY ARGS...: noq -C POLICY ARGS, its input the header
# section ($head, printf %b escapes; a To: and a Subject: when unset),
# then (once faultsrv NAME has seen EHLO, or after $wait_s seconds, 10 when
# unset) BODY as the body.  "early" in $tmp/early when EHLO came before
# the body.
slow() {
	sname=$1 spol=$2 sbody=$3
	shift 3
	rm -f "$tmp/early"
	{
		printf '%b' "${head:-To: bob@example.net\nSubject: early\n\n}"
		if saw_ehlo "$sname" "${wait_s:-10}"; then
			echo early >"$tmp/early"
		fi
		printf '%b' "$sbody"
	} | $run_timeout "$NOQ" -C "$tmp/$spol.policy" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# nconn NAME: how many connections faultsrv NAME served.
nconn() {
	"$PY" -c 'import json, sys
print(len(json.load(open(sys.argv[1]))["connections"]))' "$tmp/$1/t.json"
}

# want_sent N: the message went on connection N, and was accepted.
want_sent() {
	want_x srv "$1.verbs" "EHLO MAIL RCPT DATA QUIT"
	want_x srv "$1.accepted" true
}

want_early() { want "EHLO before the end of the message" "$(cat "$tmp/early" 2>/dev/null)" "$1"; }

begin "the session opens while the message is read"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
slow srv p 'hello\n' -i bob@example.net
stop srv
want_rc 0
want_err ""
want_early early
want "connections" "$(nconn srv)" 1
want_sent 1
want "the body" "$(x srv 1.messages.1.body | tr -d "\r" | sed -n "\$p")" "hello"
end

begin "-v shows the session before the routing"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
slow srv p 'hello\n' -v -i bob@example.net
stop srv
want_rc 0
want_early early
# The greeting and EHLO came while the message was read: before routing.
want "the trace's order" "$(grep -n -e 'SMTP>> EHLO' -e 'routed by' -e 'SMTP>> MAIL' "$tmp/err" |
	sed 's/:.*SMTP>> \([A-Z]*\).*/ \1/; s/:.*routed by.*/ routed/' | cut -d' ' -f2 | paste -sd' ' -)" \
	"EHLO routed MAIL"
end

begin "a message refused at intake: nothing but QUIT"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
slow srv p 'a NUL: \0 here\n' -i bob@example.net
stop srv
want_rc 1
want_err "noq: message refused: line 4 contains a NUL byte"
want_early early
want_x srv 1.verbs "EHLO QUIT"
want_x srv 1.accepted false
end

begin "no recipients: nothing but QUIT"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
head='Subject: nobody\n\n' slow srv p 'hello\n' -t -i
stop srv
want_rc 1
want_err "noq: no recipients in message"
want_early early
want_x srv 1.verbs "EHLO QUIT"
end

begin "a line too long for the transport: nothing but QUIT"
fault srv 127.0.0.1
policy p "127.0.0.1:$port" -D LINELIMIT=20
slow srv p 'a line longer than twenty octets\n' -i bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: message has lines too long for transport"
want_early early
want_x srv 1.verbs "EHLO QUIT"
end

begin "the server speaks while the connection waits: a new one"
# The first connection's EHLO reply comes with a 421 after it, as a
# server's idle timeout would: MAIL must not go there.
fault srv 127.0.0.1 "connection: 1" \
	'ehlo: extra "421 4.4.2 faultsrv.test idle timeout\r\n" after 250-faultsrv.test\n250 PIPELINING'
policy p "127.0.0.1:$port"
slow srv p 'hello\n' -i bob@example.net
stop srv
want_rc 0
want_err ""
want_early early
want "connections" "$(nconn srv)" 2
want_x srv 1.verbs "EHLO"
want_sent 2
end

begin "a host the router drops: not tried, the session kept"
# host_find_failed = ignore: the session thread makes the router's host
# lookups before it connects (nx.invalid is dropped, as routing drops it),
# and routing takes what it found: one lookup, one connection.
fault srv 127.0.0.1
policy p "nx.invalid ; 127.0.0.1:$port" -D FIND_FAILED=ignore
slow srv p 'hello\n' -v -i bob@example.net
stop srv
want_rc 0
want_early early
want "connections" "$(nconn srv)" 1
want_sent 1
want "nx.invalid's lookup in the trace" "$(grep -c 'nx.invalid is not tried' "$tmp/err")" 1
end

begin "a host lookup that defers the route: no connection"
fault srv 127.0.0.1
policy p "nx.invalid ; 127.0.0.1:$port" -D FIND_FAILED=defer
wait_s=1 slow srv p 'hello\n' -i bob@example.net
stop srv
want_rc 1
want_early ""
want "connections" "$(nconn srv)" 0
end

begin "helo_data from the message: the session waits for it"
fault srv 127.0.0.1
policy p "127.0.0.1:$port" -D 'HELO_DATA=${lc:$h_subject:}.example.org'
wait_s=2 slow srv p 'hello\n' -i bob@example.net
stop srv
want_rc 0
want_err ""
want_early ""
want_x srv 1.commands.1.args "early.example.org"
want_x srv 1.accepted true
end

# order: the order of EHLO and routing in noq's -v trace.
order() {
	grep -e 'SMTP>> EHLO' -e 'routed by' "$tmp/err" |
		sed 's/.*SMTP>> EHLO.*/EHLO/; s/.*routed by.*/routed/' | paste -sd' ' -
}

begin "a small message in a file: read first, no thread"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
printf 'To: bob@example.net\nSubject: small\n\nhello\n' >"$tmp/small"
send p "$tmp/small" -v -i bob@example.net
stop srv
want_rc 0
want "the trace's order" "$(order)" "routed EHLO"
want_sent 1
end

begin "a message of 1 MiB in a file: the session while it is read"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
{
	printf 'To: bob@example.net\nSubject: large\n\n'
	yes 'a line of the body, thirty-two.' | head -n 32768
} >"$tmp/large"
send p "$tmp/large" -v -i bob@example.net
stop srv
want_rc 0
want "the trace's order" "$(order)" "EHLO routed"
want_sent 1
end

begin "--dry-run connects to nothing"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
wait_s=1 slow srv p 'hello\n' --dry-run -i bob@example.net
stop srv
want_rc 0
want_early ""
want "connections" "$(nconn srv)" 0
end

finish
