#!/bin/sh
# delivery.sh -- noq's SMTP client against the fault-injection server
# (tests/smtp/faultsrv.py): every way a connection, a reply or a server can
# fail, and the extensions noq uses.  Each case checks noq's exit status,
# its exact standard error (Exim's wording, noq(8)) and, from the server's
# summary, what the server saw: that nothing was accepted, that DATA never
# went out after a refusal, that the message arrived intact.
#
# Hosts are IP literals on the loopback interface: 127.0.0.1, and 127.0.0.2
# for a second host, so that the two are told apart in the messages.  The
# configuration's timeouts are 1-2 s (tests/delivery/smarthost.conf).
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir.
# Usage: sh tests/delivery.sh

. "${top_srcdir:-$(dirname "$0")/..}/tests/delivery/lib.sh"

# A refusal ends the transaction: QUIT, after an optional RSET.
want_no_data() {
	want_x "$1" 1.data_sent false
	want_x "$1" 1.accepted false
	want_either "$1 1.verbs" "$(x "$1" 1.verbs)" "$2 QUIT" "$2 RSET QUIT"
}

# ---- messages ------------------------------------------------------------------

cat >"$tmp/simple" <<'EOF' || exit 99
To: bob@example.net
Subject: delivery test
Message-ID: <simple.1@example.org>
Date: Mon, 1 Jan 2001 00:00:00 +0000

hello
EOF

# An 8-bit body, 7-bit header.
printf 'To: bob@example.net\nSubject: 8-bit\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nCaf\303\251 at eight?\n' \
	>"$tmp/eight" || exit 99

# About 2500 octets: over a server's SIZE of 1000.
{
	printf 'To: bob@example.net\nSubject: too big\n\n'
	awk 'BEGIN { for (i = 1; i <= 40; i++) printf "line %02d of a message that does not fit the server'"'"'s limit\n", i }'
} >"$tmp/big" || exit 99

# 16 MiB: more than the socket buffers hold, so that a server that goes away
# early in the body is noticed while noq is still writing.
{
	printf 'To: bob@example.net\nSubject: huge\n\n'
	yes 'sixteen mebibytes of text, sixty-four octets per line, for ever' | head -n 262144
} >"$tmp/huge" || exit 99

# ---- the connection -----------------------------------------------------------------

# Nothing listens: the error, then the host (noq(8), DIAGNOSTICS).
begin "connection refused"
policy refused "127.0.0.1:$(free_port)"
send refused "$tmp/simple" bob@example.net
want_rc 1
want_err "Delivery failed: Connection refused: H=127.0.0.1 [127.0.0.1]"
end

# A listener whose accept queue is full: the SYN goes unanswered until
# connect_timeout (1 s).
stuck() {
	rm -f "$tmp/stuck.port"
	"$PY" "$ddir/stuck.py" --listen 127.0.0.1 --port-file "$tmp/stuck.port" \
		--lifetime 30 2>"$tmp/stuck.log" &
	stuck_pid=$!
	started $stuck_pid
	if ! wait_file "$tmp/stuck.port"; then
		cat "$tmp/stuck.log"
		return 1
	fi
	stuck_port=$(cat "$tmp/stuck.port")
}
if stuck; then
	begin "connect timeout"
	policy ctimeout "127.0.0.1:$stuck_port"
	send ctimeout "$tmp/simple" bob@example.net
	want_rc 1
	want_err "Delivery failed: Connection timed out: H=127.0.0.1 [127.0.0.1]"
	end

	begin "connect timeout, the second host accepts"
	fault second 127.0.0.2
	policy ctimeout2 "127.0.0.1:$stuck_port ; 127.0.0.2:$port"
	send ctimeout2 "$tmp/simple" bob@example.net
	stop second
	want_rc 0
	want_err ""
	want_x second 1.accepted true
	want_x second 1.messages.1.rcpts '["TO:<bob@example.net>"]'
	end
	stop_pid "$stuck_pid"
else
	fail "connect timeout" "stuck.py could not make a listener that never accepts"
fi

begin "connection refused, the second host accepts"
fault second 127.0.0.2
policy refused2 "127.0.0.1:$(free_port) ; 127.0.0.2:$port"
send refused2 "$tmp/simple" bob@example.net
stop second
want_rc 0
want_err ""
want_x second 1.accepted true
want_x second 1.messages.1.mail "FROM:<$caller> SIZE=$(declared second 1.messages.1.body_length)"
end

# A refusing greeting sends noq to the next host, without a transaction.
for code in "421 4.3.2 Service shutting down" "554 5.3.2 No SMTP service here"; do
	begin "greeting ${code%% *}, the second host accepts"
	fault first 127.0.0.1 "greeting: $code"
	p1=$port
	fault second 127.0.0.2
	policy greet "127.0.0.1:$p1 ; 127.0.0.2:$port"
	send greet "$tmp/simple" bob@example.net
	stop first
	stop second
	want_rc 0
	want_err ""
	want_x first 1.data_sent false
	want_either "first 1.verbs" "$(x first 1.verbs)" "" QUIT
	want_x first 2.n "(none)"
	want_x second 1.accepted true
	want_x second 1.messages.1.rcpts '["TO:<bob@example.net>"]'
	end
done

# Every host failed: each earlier one on a line of its own (its failure,
# then "; tried the next host"), the last one in the "Delivery failed" line.
begin "connection refused, then greeting 554: both reported"
fault second 127.0.0.2 "greeting: 554 5.3.2 No SMTP service here"
policy both "127.0.0.1:$(free_port) ; 127.0.0.2:$port"
send both "$tmp/simple" bob@example.net
stop second
want_rc 1
want_err "noq: Connection refused: H=127.0.0.1 [127.0.0.1]; tried the next host
Delivery failed: H=127.0.0.2 [127.0.0.2]: SMTP error from remote mail server after initial connection: 554 5.3.2 No SMTP service here"
want_x second 1.data_sent false
end

begin "every host times out (greeting never comes)"
fault first 127.0.0.1 "greeting: hang"
p1=$port
fault second 127.0.0.2 "greeting: hang"
policy hang "127.0.0.1:$p1 ; 127.0.0.2:$port" -D COMMAND_TIMEOUT=1s
send hang "$tmp/simple" bob@example.net
stop first
stop second
want_rc 1
want_err "noq: Connection timed out: H=127.0.0.1 [127.0.0.1]: SMTP timeout after initial connection; tried the next host
Delivery failed: Connection timed out: H=127.0.0.2 [127.0.0.2]: SMTP timeout after initial connection"
want_x first 1.bytes_received 0
want_x second 1.bytes_received 0
end

# An IPv6 literal, where the machine has an IPv6 loopback address.
if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	begin "IPv6: greeting 554 from [::1]"
	fault srv ::1 "greeting: 554 5.3.2 No SMTP service here"
	policy p6 "[::1]:$port"
	send p6 "$tmp/simple" bob@example.net
	stop srv
	want_rc 1
	want_err "Delivery failed: H=::1 [::1]: SMTP error from remote mail server after initial connection: 554 5.3.2 No SMTP service here"
	end

	begin "IPv6: delivered to [::1]"
	fault srv ::1
	policy p6 "[::1]:$port"
	send p6 "$tmp/simple" bob@example.net
	stop srv
	want_rc 0
	want_err ""
	want_x srv 1.peer ::1
	want_x srv 1.accepted true
	end
else
	skip "IPv6" "no IPv6 loopback address"
fi

# ---- EHLO, MAIL, RCPT, DATA -----------------------------------------------------------

begin "EHLO refused: HELO, delivered without extensions"
fault srv 127.0.0.1 "ehlo: 502 5.5.2 EHLO not implemented"
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "EHLO HELO MAIL RCPT DATA QUIT"
want_x srv 1.commands.2.args mail.example.org
want_x srv 1.messages.1.mail "FROM:<$caller>"
want_x srv 1.accepted true
end

begin "EHLO and HELO refused"
fault srv 127.0.0.1 "ehlo: 502 5.5.2 EHLO not implemented" "helo: 550 5.7.1 Go away"
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after HELO mail.example.org: 550 5.7.1 Go away"
want_no_data srv "EHLO HELO"
end

# A 421 to EHLO closes the channel (Postfix answers so when a client
# certificate is required and none came): its text is the reason; noq
# sends no HELO into the closed connection (Exim does, then reports the
# closed connection).
begin "EHLO 421: the reason given, no HELO"
fault srv 127.0.0.1 "ehlo: 421 4.7.1 mx.example: No client certificate presented" "helo: close"
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after EHLO mail.example.org: 421 4.7.1 mx.example: No client certificate presented"
want_either "srv 1.verbs" "$(x srv 1.verbs)" "EHLO" "EHLO QUIT"
end

# Another refusal of EHLO, then the server hangs up on HELO: Exim's words,
# with what it said to EHLO.
begin "EHLO refused, HELO meets a closed connection: the EHLO reply given"
fault srv 127.0.0.1 "ehlo: 554 5.7.1 mx.example: Access denied" "helo: close"
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to HELO mail.example.org (EHLO response was: 554 5.7.1 mx.example: Access denied)"
end

for reply in "450 4.7.1 Try again later" "550 5.7.1 Sender refused"; do
	begin "MAIL ${reply%% *}: no DATA"
	fault srv 127.0.0.1 "mail: $reply"
	policy p "127.0.0.1:$port"
	send p "$tmp/simple" bob@example.net
	stop srv
	want_rc 1
	want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after pipelined MAIL $(x srv 1.commands.2.args): $reply"
	want_match "MAIL" "$(x srv 1.commands.2.args)" "FROM:<$caller> SIZE=[1-9]*"
	want_no_data srv "EHLO MAIL RCPT"
	end
done

# One refused recipient fails them all (all or nothing), whichever it is.
begin "RCPT 2 of 3 refused (pipelined): no DATA"
fault srv 127.0.0.1 "rcpt 2: 550 5.1.1 <b@example.net>: Recipient address rejected"
policy p "127.0.0.1:$port"
send p "$tmp/simple" a@example.net b@example.net c@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after pipelined RCPT TO:<b@example.net>: 550 5.1.1 <b@example.net>: Recipient address rejected"
want_no_data srv "EHLO MAIL RCPT RCPT RCPT"
end

# hosts_avoid_pipelining: PIPELINING offered, not used for this host.
begin "RCPT 2 of 3 refused (hosts_avoid_pipelining): no DATA, no third RCPT"
fault srv 127.0.0.1 "rcpt 2: 550 5.1.1 <b@example.net>: Recipient address rejected"
policy p "127.0.0.1:$port" -D AVOID_PIPELINING=127.0.0.0/8
send p "$tmp/simple" a@example.net b@example.net c@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<b@example.net>: 550 5.1.1 <b@example.net>: Recipient address rejected"
want_no_data srv "EHLO MAIL RCPT RCPT"
end

# interface: the first address of the family of the host's is bound; none
# of that family, nothing is bound.
for ifc in "<; ::1 ; 127.0.0.3 ; 127.0.0.4|127.0.0.3" "<; ::1|127.0.0.1"; do
	begin "interface = ${ifc%|*}: connected from ${ifc#*|}"
	fault srv 127.0.0.1
	policy p "127.0.0.1:$port" -D "IFACE=${ifc%|*}"
	send p "$tmp/simple" bob@example.net
	stop srv
	want_rc 0
	want_err ""
	want_x srv 1.peer "${ifc#*|}"
	end
done

# keepalive (Exim's default): SO_KEEPALIVE is set on the connection.
if command -v strace >/dev/null 2>&1 && strace -o /dev/null true 2>/dev/null; then
	for ka in on off; do
		begin "keepalive $ka: SO_KEEPALIVE $([ $ka = on ] && echo set || echo not set)"
		fault srv 127.0.0.1
		if [ $ka = on ]; then
			policy p "127.0.0.1:$port"
		else
			policy p "127.0.0.1:$port" -D NO_KEEPALIVE
		fi
		# (LeakSanitizer cannot run under ptrace: off for an ASan build.)
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
			$run_timeout strace -f -qq -e trace=setsockopt -o "$tmp/strace" "$NOQ" \
			-C "$tmp/p.policy" bob@example.net <"$tmp/simple" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		stop srv
		want_rc 0
		want "SO_KEEPALIVE calls" "$(grep -c SO_KEEPALIVE "$tmp/strace")" \
			"$([ $ka = on ] && echo 1 || echo 0)"
		end
	done
else
	skip "keepalive" "strace cannot run here"
fi

# hosts_max_try: each address counts; the hard limit caps it.
begin "hosts_max_try = 2: the third and fourth hosts are not tried"
fault srv 127.0.0.4
dead=$(free_port)
policy p "127.0.0.1:$dead ; 127.0.0.2:$dead ; 127.0.0.3:$dead ; 127.0.0.4:$port" -D MAXTRY=2
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "noq: Connection refused: H=127.0.0.1 [127.0.0.1]; tried the next host
Delivery failed: Connection refused: H=127.0.0.2 [127.0.0.2]"
want_x srv 1 "(none)"
end

begin "hosts_max_try_hardlimit = 1 under hosts_max_try = 5"
fault srv 127.0.0.2
dead=$(free_port)
policy p "127.0.0.1:$dead ; 127.0.0.2:$port" -D HARDLIMIT=1
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: Connection refused: H=127.0.0.1 [127.0.0.1]"
end

begin "hosts_max_try = 3: the third host takes it"
fault srv 127.0.0.3
dead=$(free_port)
policy p "127.0.0.1:$dead ; 127.0.0.2:$dead ; 127.0.0.3:$port" -D MAXTRY=3
send p "$tmp/simple" bob@example.net
stop srv
want_rc 0
want_x srv 1.verbs "EHLO MAIL RCPT DATA QUIT"
end

# message_linelength_limit: a longer input line fails before any connection,
# with Exim's words; a line of exactly the limit goes.
printf 'Subject: %s\n\n12345678901234567890\n' 12345 >"$tmp/line20"
printf 'Subject: %s\n\n123456789012345678901\n' 12345 >"$tmp/line21"
begin "message_linelength_limit = 20: a line of 21 octets, not sent"
fault srv 127.0.0.1
policy p "127.0.0.1:$port" -D LINELIMIT=20
send p "$tmp/line21" bob@example.net
want_rc 1
want_err "Delivery failed: message has lines too long for transport"
send p "$tmp/line20" bob@example.net
want "exit status for 20 octets" "$rc" 0
stop srv
want_x srv 1.verbs "EHLO MAIL RCPT DATA QUIT"
want_x srv 2 "(none)"
end

# disable_ipv6: an IPv6 address is not used ([::1] is not connected to).
# For the router, which looks its hosts up, [::1] then has no address:
# Exim 4.96 says 'lookup of host "::1" failed' and, by default, freezes;
# with host_find_failed = ignore the other host takes the message.
begin "disable_ipv6: [::1] not tried"
fault srv 127.0.0.1
policy p "[::1]:$port ; 127.0.0.1:$port" -D NO_IPV6 -D FIND_FAILED=ignore
send p "$tmp/simple" -v bob@example.net
stop srv
want_rc 0
want "IPv6 connections" "$(grep -c 'connecting to ::1' "$tmp/err")" 0
want "IPv4 connections" "$(grep -c 'connecting to 127.0.0.1' "$tmp/err")" 1
end

begin "disable_ipv6: [::1] in the router's hosts defers"
fault srv 127.0.0.1
policy p "[::1]:$port ; 127.0.0.1:$port" -D NO_IPV6
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err 'routing bob@example.net yielded a deferred delivery: lookup of host "::1" failed in smarthost router'
want_x srv 1 "(none)"
end

# hosts_avoid_esmtp: HELO, not EHLO, for this host (no SIZE, then).
begin "hosts_avoid_esmtp: HELO, delivered"
fault srv 127.0.0.1
policy p "127.0.0.1:$port" -D AVOID_ESMTP=!127.0.0.2:127.0.0.1
send p "$tmp/simple" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "HELO MAIL RCPT DATA QUIT"
want_x srv 1.messages.1.mail "FROM:<$caller>"
end

begin "RCPT 2 of 3 refused (no PIPELINING): no DATA, no third RCPT"
fault srv 127.0.0.1 "ehlo-extensions: SIZE=10240000 8BITMIME" \
	"rcpt 2: 550 5.1.1 <b@example.net>: Recipient address rejected"
policy p "127.0.0.1:$port"
send p "$tmp/simple" a@example.net b@example.net c@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<b@example.net>: 550 5.1.1 <b@example.net>: Recipient address rejected"
want_no_data srv "EHLO MAIL RCPT RCPT"
end

begin "RCPT 3 of 3 deferred (452): no DATA"
fault srv 127.0.0.1 "rcpt 3: 452 4.5.3 Too many recipients"
policy p "127.0.0.1:$port"
send p "$tmp/simple" a@example.net b@example.net c@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after pipelined RCPT TO:<c@example.net>: 452 4.5.3 Too many recipients"
want_no_data srv "EHLO MAIL RCPT RCPT RCPT"
end

begin "DATA 554: no message"
fault srv 127.0.0.1 "data: 554 5.5.1 Error: no valid recipients"
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after DATA: 554 5.5.1 Error: no valid recipients"
want_x srv 1.messages "[]"
want_either "srv 1.verbs" "$(x srv 1.verbs)" "EHLO MAIL RCPT DATA QUIT" "EHLO MAIL RCPT DATA RSET QUIT"
end

# A 421 to the pipelined MAIL, then the server closes the connection (as
# a server shutting down does, Postfix's smtp-sink -Q among them): the
# reason is the 421, not the closed connection that the RCPT's reply then
# meets; and a refusal ends the attempt, so the second host is not tried.
begin "MAIL 421 then close: the 421 is the reason, no next host"
fault first 127.0.0.1 "mail: 421 4.3.2 Service shutting down" "rcpt: close"
p1=$port
fault second 127.0.0.2
policy p2 "127.0.0.1:$p1 ; 127.0.0.2:$port"
send p2 "$tmp/simple" bob@example.net
stop first
stop second
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after pipelined MAIL $(x first 1.commands.2.args): 421 4.3.2 Service shutting down"
want_x first 1.data_sent false
want_x second 1.n "(none)"
end

# A timeout before the end of the data sends noq to the next host.
begin "RCPT never answered: the second host accepts"
fault first 127.0.0.1 "rcpt: hang"
p1=$port
fault second 127.0.0.2
policy p2 "127.0.0.1:$p1 ; 127.0.0.2:$port" -D COMMAND_TIMEOUT=1s
send p2 "$tmp/simple" bob@example.net
stop first
stop second
want_rc 0
want_err ""
want_x first 1.data_sent false
want_x second 1.accepted true
end

# ---- host_find_failed and host_all_ignored --------------------------------------------

# The router looks up the hosts it gives before anything is sent, as Exim's
# manualroute does while routing; a name that does not exist is dealt with
# as host_find_failed says (Exim's default: freeze, which noq, keeping no
# queue, reports as Exim's mua_wrapper mode does: a deferred delivery).
# nx.invalid never exists; whether this machine's resolver says so
# (EAI_NONAME: "none") or cannot answer (no network, EAI_AGAIN: "again",
# which defers whatever the setting, as in Exim) decides what to expect.
nx_lookup=$("$PY" -c 'import socket
try:
    socket.getaddrinfo("nx.invalid", None, 0, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)
    print("found")
except socket.gaierror as e:
    none = (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None),
            getattr(socket, "EAI_ADDRFAMILY", None))
    print("none" if e.errno in none else "again")')
nx_again="routing bob@example.net yielded a deferred delivery: host lookup for nx.invalid did not complete (DNS timeout?)"
nx_failed='lookup of host "nx.invalid" failed in smarthost router'

# hff_case NAME SETTING... : one case, nx.invalid then the server; after
# it, the caller checks $rc and $tmp/err (the server saw nothing, unless
# the host was ignored).
hff_case() {
	begin "$1"
	shift
	fault srv 127.0.0.1
	policy p "nx.invalid ; 127.0.0.1:$port" "$@"
	send p "$tmp/simple" -v bob@example.net
	stop srv
}

if [ "$nx_lookup" = found ]; then
	skip "host_find_failed" "this machine's resolver finds nx.invalid"
else
	for setting in freeze defer fail; do
		hff_case "host_find_failed = $setting: nothing sent" -D FIND_FAILED=$setting
		want_rc 1
		kind=deferred
		[ $setting = fail ] && kind=failed
		if [ "$nx_lookup" = none ]; then
			want "message" "$(grep -v '^noq: ' "$tmp/err")" \
				"routing bob@example.net yielded a $kind delivery: $nx_failed"
		else
			want "message" "$(grep -v '^noq: ' "$tmp/err")" "$nx_again"
		fi
		want "connections" "$(grep -c 'connecting to' "$tmp/err")" 0
		want_x srv 1 "(none)"
		end
	done

	# The default is freeze.
	hff_case "host_find_failed unset: freeze"
	want_rc 1
	if [ "$nx_lookup" = none ]; then
		want "message" "$(grep -v '^noq: ' "$tmp/err")" \
			"routing bob@example.net yielded a deferred delivery: $nx_failed"
	else
		want "message" "$(grep -v '^noq: ' "$tmp/err")" "$nx_again"
	fi
	want_x srv 1 "(none)"
	end

	hff_case "host_find_failed = ignore: the next host" -D FIND_FAILED=ignore
	if [ "$nx_lookup" = none ]; then
		want_rc 0
		want "trace" "$(grep -c 'host_find_failed=ignore in smarthost router: nx.invalid is not tried' "$tmp/err")" 1
		want "nx.invalid tried" "$(grep -c 'H=nx.invalid' "$tmp/err")" 0
		want_x srv 1.accepted true
	else
		want_rc 1
		want "message" "$(grep -v '^noq: ' "$tmp/err")" "$nx_again"
		want_x srv 1 "(none)"
	fi
	end

	# noq --serverinfo looks the hosts up as for a recipient the router
	# routes: the same outcome, in a check's words.
	begin "--serverinfo, host_find_failed unset: a delivery's reason"
	fault srv 127.0.0.1
	policy p "nx.invalid ; 127.0.0.1:$port"
	send p /dev/null --serverinfo
	stop srv
	want_rc 1
	if [ "$nx_lookup" = none ]; then
		want_err "Delivery would fail: $nx_failed"
	else
		want_err "Delivery would fail: host lookup for nx.invalid did not complete (DNS timeout?)"
	fi
	want_file "standard output" "$tmp/out" ""
	want_x srv 1 "(none)"
	end

	begin "--serverinfo, host_find_failed = ignore: the next host is checked"
	fault srv 127.0.0.1
	policy p "nx.invalid ; 127.0.0.1:$port" -D FIND_FAILED=ignore
	send p /dev/null --serverinfo
	stop srv
	if [ "$nx_lookup" = none ]; then
		want_rc 0
		want_err ""
		want "first line" "$(head -n 1 "$tmp/out")" \
			"SMTP server at 127.0.0.1 [127.0.0.1], port $port:"
		want_x srv 1.verbs "EHLO QUIT"
	else
		want_rc 1
		want_x srv 1 "(none)"
	fi
	end

	# Every host ignored: host_all_ignored (default defer) decides.
	for setting in "" fail; do
		begin "host_all_ignored = ${setting:-defer (unset)}"
		policy p "nx.invalid ; nx2.invalid" -D FIND_FAILED=ignore \
			${setting:+-D ALL_IGNORED=$setting}
		send p "$tmp/simple" bob@example.net
		want_rc 1
		if [ "$nx_lookup" = none ]; then
			kind=deferred
			[ "$setting" = fail ] && kind=failed
			want_err "routing bob@example.net yielded a $kind delivery: lookup failed for all hosts in smarthost router: host_find_failed=ignore host_all_ignored=${setting:-defer}"
		else
			want_err "$nx_again"
		fi
		end
	done
fi

# ---- the body and the final reply -------------------------------------------------------

# The server goes away after 1000 octets of a 16 MiB body: a connection
# failure before the end of the data, so the next host gets the message.
# (faultsrv's default SIZE is less than 16 MiB: no SIZE here.)
nosize="ehlo-extensions: PIPELINING 8BITMIME"
begin "connection closed during the body"
fault srv 127.0.0.1 "$nosize" "body: close-after 1000"
policy p "127.0.0.1:$port"
send p "$tmp/huge" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to DATA (while sending the message)"
want_x srv 1.ended body-close
want_x srv 1.accepted false
end

begin "connection closed during the body, the second host accepts"
fault first 127.0.0.1 "$nosize" "body: close-after 1000"
p1=$port
fault second 127.0.0.2 "$nosize"
policy p2 "127.0.0.1:$p1 ; 127.0.0.2:$port"
send p2 "$tmp/huge" bob@example.net
stop first
stop second
want_rc 0
want_err ""
want_x first 1.ended body-close
want_x second 1.accepted true
want_x second 1.messages.1.body_complete true
end

# The server stops reading: noq's writes stall until data_timeout (1 s).
begin "the body stalls: data_timeout"
fault srv 127.0.0.1 "$nosize" "body: hang-after 1000"
policy p "127.0.0.1:$port" -D DATA_TIMEOUT=1s
send p "$tmp/huge" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: Connection timed out: H=127.0.0.1 [127.0.0.1]: SMTP timeout after DATA (while sending the message)"
want_x srv 1.hung body
want_x srv 1.accepted false
end

# ---- the whole attempt's deadline and the body's minimum rate ----------------

# ms_since T0: milliseconds since $(date +%s%3N) gave T0.
ms_since() { echo $(($(date +%s%3N) - $1)); }

# A server that drips each reply just under command_timeout (2 s) would
# hold the caller for (recipients + 1) x 2 s; delivery_timeout bounds the
# whole attempt.
begin "replies dripped under command_timeout: delivery_timeout ends it"
fault srv 127.0.0.1 "ehlo-extensions: 8BITMIME" "mail: delay 1.5 then 250 2.1.0 Ok" \
	"rcpt: delay 1.5 then 250 2.1.5 Ok"
policy p "127.0.0.1:$port" -D DELIVERY_TIMEOUT=4s
t0=$(date +%s%3N)
send p "$tmp/simple" r1@example.net r2@example.net r3@example.net r4@example.net \
	r5@example.net r6@example.net r7@example.net r8@example.net
took=$(ms_since "$t0")
stop srv
want_rc 1
want_match "the failure" "$(cat "$tmp/err")" \
	"Delivery failed: Connection timed out: H=127.0.0.1 \[127.0.0.1\]: SMTP timeout after RCPT TO:<r*@example.net>: the attempt took longer than delivery_timeout (4s, with the body's time at data_min_rate)"
# Old noq: delivered after some 14 s; the bound is loose for loaded machines.
want_match "ended within 10 s, not 14 ($took ms)" "$took" "[0-9][0-9][0-9][0-9]"
want_x srv 1.data_sent false
end

# A server that reads the body just fast enough that no write waits for
# data_timeout: data_min_rate ends it.
begin "the body read too slowly: data_min_rate ends it"
fault srv 127.0.0.1 "$nosize" "body: drip 2000000"
policy p "127.0.0.1:$port" -D DATA_MIN_RATE=8000000
t0=$(date +%s%3N)
send p "$tmp/huge" bob@example.net
took=$(ms_since "$t0")
stop srv
want_rc 1
want_err "Delivery failed: Connection timed out: H=127.0.0.1 [127.0.0.1]: SMTP timeout after DATA (while sending the message): the server took the message more slowly than data_min_rate (8000000 octets per second)"
want_match "ended within 10 s ($took ms)" "$took" "[0-9][0-9][0-9][0-9]"
want_x srv 1.accepted false
end

begin "the same body at a rate above data_min_rate: delivered"
fault srv 127.0.0.1 "$nosize" "body: drip 16000000"
policy p "127.0.0.1:$port" -D DATA_MIN_RATE=2000000
send p "$tmp/huge" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.accepted true
end

for reply in "452 4.3.1 Insufficient system storage" "552 5.3.4 Message size exceeds fixed limit"; do
	begin "final ${reply%% *}"
	fault srv 127.0.0.1 "final: $reply"
	policy p "127.0.0.1:$port"
	send p "$tmp/simple" bob@example.net
	stop srv
	want_rc 1
	want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after end of data: $reply"
	want_x srv 1.messages.1.body_complete true
	want_x srv 1.accepted false
	end
done

# No reply after the final dot: the server may have taken the message, so
# no other host is tried (it would make a second copy).
begin "no reply after the final dot: may have been delivered"
fault first 127.0.0.1 "final: hang"
p1=$port
fault second 127.0.0.2
policy p2 "127.0.0.1:$p1 ; 127.0.0.2:$port"
send p2 "$tmp/simple" bob@example.net
stop first
stop second
want_rc 1
want_err "Delivery failed: Connection timed out: H=127.0.0.1 [127.0.0.1]: SMTP timeout after end of data (the message may have been delivered)"
want_x first 1.messages.1.body_complete true
want_x first 1.hung final
want_x second 1.n "(none)"
end

# ---- malformed replies ---------------------------------------------------------------------

begin "garbage in reply to MAIL"
fault srv 127.0.0.1 "mail: garbage"
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP protocol error in response to MAIL $(x srv 1.commands.2.args): a malformed reply 'hello there'"
want_x srv 1.data_sent false
want_x srv 1.accepted false
end

begin "a 100 KB reply line to RCPT"
fault srv 127.0.0.1 'rcpt: long 100000 "250 "'
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP protocol error in response to RCPT TO:<bob@example.net>: a reply line longer than 4096 octets"
want_x srv 1.data_sent false
want_x srv 1.accepted false
end

# Every line of a refusal is shown, joined with " / ".
begin "a multi-line refusal: every line shown"
fault srv 127.0.0.1 'rcpt: 550-5.7.1 first line of the reason\n550-5.7.1 second line\n550 5.7.1 last line'
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after pipelined RCPT TO:<bob@example.net>: 550 5.7.1 first line of the reason / 5.7.1 second line / 5.7.1 last line"
want_x srv 1.data_sent false
end

# Server text reaches the caller's terminal: control octets (an escape
# sequence, a bell) and 8-bit octets are shown as '?'.
begin "server text sanitised"
fault srv 127.0.0.1 'final: raw "554 5.7.1 \x1b[31mred\x1b[0m \x07bell caf\xc3\xa9\r\n"'
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after end of data: 554 5.7.1 ?[31mred?[0m ?bell caf?"
end

# The -v trace quotes every line the server sends: cleaned as well.
begin "server text in the -v trace cleaned"
fault srv 127.0.0.1 'greeting: raw "220 x\x1b]0;pwned\x07 \x1b[2J\xc2\x9b ready\r\n"'
policy p "127.0.0.1:$port"
send p "$tmp/simple" -v bob@example.net
stop srv
want_rc 0
want "control octets on standard error" \
	"$(LC_ALL=C tr -cd '\000-\011\013-\037\177' <"$tmp/err" | wc -c)" 0
want "the C1 CSI on standard error" "$(grep -c "$(printf '\302\233')" "$tmp/err")" 0
want_match "the greeting in the trace" "$(cat "$tmp/err")" \
	"*noq: -v: SMTP<< 220 x?]0;pwned? ?[2J? ready*"
end

begin "a reply of more than 128 lines"
fault srv 127.0.0.1 'ehlo: raw-repeat 200 "250-EXTENSION\r\n"'
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP protocol error in response to EHLO mail.example.org: a reply of more than 128 lines"
want_either "srv 1.verbs" "$(x srv 1.verbs)" "EHLO" "EHLO QUIT"
end

# Extra bytes after the last reply of the dialogue change nothing.
begin "extra bytes after the final reply: delivered"
fault srv 127.0.0.1 'final: extra "250 surprise\r\n" after 250 2.0.0 Ok: queued as X1'
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.accepted true
end

# A server (or something in the path) that answers before it was asked:
# here a fake acceptance comes with the 354, and the real final reply is a
# refusal.  Taking the fake one as the final reply would report a message
# as delivered that the server refused; noq must see that the dialogue is
# out of step and fail.
begin "extra bytes after the 354: out of step, not delivered"
fault srv 127.0.0.1 'data: extra "250 2.0.0 Ok: queued as FAKE\r\n" after 354 End data with <CR><LF>.<CR><LF>' \
	"final: 554 5.7.1 Message refused"
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_match "standard error" "$(cat "$tmp/err")" \
	"Delivery failed: H=127.0.0.1 \[127.0.0.1\]: SMTP protocol error in response to DATA*"
want_x srv 1.accepted false
end

# ---- extensions ---------------------------------------------------------------------------

# SIZE: the message's octets before dot-stuffing, which the summary's
# body_length is.
begin "SIZE declared; no BODY for a 7-bit body"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 0
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(declared srv 1.messages.1.body_length)"
want_x srv 1.accepted true
end

begin "SIZE not offered: not declared"
fault srv 127.0.0.1 "ehlo-extensions: PIPELINING 8BITMIME"
policy p "127.0.0.1:$port"
send p "$tmp/simple" bob@example.net
stop srv
want_rc 0
want_x srv 1.messages.1.mail "FROM:<$caller>"
end

# size_addition: SIZE= is the size plus it (1024 unset, above); negative:
# no SIZE=, and no check against the server's limit.
begin "size_addition = 0: SIZE is the message's own size"
fault srv 127.0.0.1
policy p "127.0.0.1:$port" -D SIZE_ADD=0
send p "$tmp/simple" bob@example.net
stop srv
want_rc 0
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(x srv 1.messages.1.body_length)"
end

begin "size_addition = -1: no SIZE, not refused for the server's SIZE=10"
fault srv 127.0.0.1 "ehlo-extensions: PIPELINING SIZE=10 8BITMIME"
policy p "127.0.0.1:$port" -D SIZE_ADD=-1
send p "$tmp/simple" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after end of data: 552 5.3.4 Message size exceeds fixed limit"
want_x srv 1.messages.1.mail "FROM:<$caller>"
end

begin "a message over the server's SIZE is not sent"
fault srv 127.0.0.1 "ehlo-extensions: PIPELINING SIZE=1000 8BITMIME"
policy p "127.0.0.1:$port"
send p "$tmp/big" bob@example.net
stop srv
want_rc 1
want_match "standard error" "$(cat "$tmp/err")" \
	"Delivery failed: H=127.0.0.1 \[127.0.0.1\]: the message is [1-9][0-9][0-9][0-9] octets; the server accepts at most 1000"
want_either "srv 1.verbs" "$(x srv 1.verbs)" "EHLO QUIT" "EHLO"
end

begin "8-bit body, 8BITMIME offered: BODY=8BITMIME"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
send p "$tmp/eight" bob@example.net
stop srv
want_rc 0
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(declared srv 1.messages.1.body_length) BODY=8BITMIME"
want_x srv 1.accepted true
end

begin "8-bit body, 8BITMIME not offered: no BODY"
fault srv 127.0.0.1 "ehlo-extensions: PIPELINING SIZE=10240000"
policy p "127.0.0.1:$port"
send p "$tmp/eight" bob@example.net
stop srv
want_rc 0
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(declared srv 1.messages.1.body_length)"
end

jose=$(printf 'jos\303\251@example.net')
begin "SMTPUTF8 needed, offered: SMTPUTF8 on MAIL"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
send p "$tmp/simple" "$jose"
stop srv
want_rc 0
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(declared srv 1.messages.1.body_length) SMTPUTF8"
want_x srv 1.messages.1.rcpts.1 "TO:<$jose>"
end

begin "SMTPUTF8 needed, not offered: a clear failure, no MAIL"
fault srv 127.0.0.1 "ehlo-extensions: PIPELINING SIZE=10240000 8BITMIME DSN"
policy p "127.0.0.1:$port"
send p "$tmp/simple" "$jose"
stop srv
want_rc 1
want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: the message needs SMTPUTF8 (an address is not ASCII) and the server does not offer it"
want_either "srv 1.verbs" "$(x srv 1.verbs)" "EHLO QUIT" "EHLO"
end

# A MAIL command longer than noq builds one (a return_path eight times the
# sender's 255-octet local part): refused cleanly before MAIL, nothing
# written past the command's buffer (the ASan build checks that).
long255=$(printf '%0255d' 0 | tr 0 a)
begin "a MAIL command too long: refused, no MAIL"
fault srv 127.0.0.1
policy p "127.0.0.1:$port" -D LONG_RETURN_PATH=1
send p "$tmp/simple" -f "$long255@example.org" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: the MAIL command would be too long"
want_either "srv 1.verbs" "$(x srv 1.verbs)" "EHLO QUIT" "EHLO"
end

# An 8-bit header field (a UTF-8 Subject) needs no SMTPUTF8, as in Exim:
# delivered to a server without it, declared BODY=8BITMIME, byte for byte.
printf 'From: Jos\303\251 <jose@example.org>\nSubject: Gr\303\274\303\237e\n\nplain\n' \
	>"$tmp/hdr8"
begin "8-bit header field, no SMTPUTF8 offered: delivered"
fault srv 127.0.0.1 "ehlo-extensions: PIPELINING SIZE=10240000 8BITMIME DSN"
policy p "127.0.0.1:$port"
send p "$tmp/hdr8" bob@example.net
stop srv
want_rc 0
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(declared srv 1.messages.1.body_length) BODY=8BITMIME"
"$PY" "$FAULTSRV" --extract "$tmp/srv/t.json" 1.body | tr -d '\r' | grep '^Subject' >"$tmp/subj"
want "the Subject, byte for byte" "$(cat "$tmp/subj")" "$(printf 'Subject: Gr\303\274\303\237e')"
end

# DSN (RFC 3461): RET and ENVID (xtext) on MAIL, NOTIFY and ORCPT on RCPT.
begin "DSN offered: RET, ENVID, NOTIFY, ORCPT"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
send p "$tmp/simple" -N failure,delay -R hdrs -V 'env+id=1' bob@example.net
stop srv
want_rc 0
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(declared srv 1.messages.1.body_length) RET=HDRS ENVID=env+2Bid+3D1"
want_x srv 1.messages.1.rcpts '["TO:<bob@example.net> NOTIFY=failure,delay ORCPT=rfc822;bob@example.net"]'
end

begin "DSN not offered: no DSN parameters"
fault srv 127.0.0.1 "ehlo-extensions: PIPELINING SIZE=10240000 8BITMIME SMTPUTF8"
policy p "127.0.0.1:$port"
send p "$tmp/simple" -N failure,delay -R hdrs -V 'env+id=1' bob@example.net
stop srv
want_rc 0
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(declared srv 1.messages.1.body_length)"
want_x srv 1.messages.1.rcpts '["TO:<bob@example.net>"]'
end

# ---- volume and exactness -------------------------------------------------------------------

# 10,000 recipients: every RCPT arrives, in windows of at most 100
# pipelined commands (noq -v shows the commands sent, then their replies).
begin "10,000 recipients, pipelined in windows"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
rcpts=$(awk 'BEGIN { for (i = 1; i <= 10000; i++) print "r" i "@example.net" }')
set -f
# shellcheck disable=SC2086
send p "$tmp/simple" -v $rcpts
set +f
stop srv
want_rc 0
want_x srv 1.messages.1.rcpts.1 "TO:<r1@example.net>"
want_x srv 1.messages.1.rcpts.10000 "TO:<r10000@example.net>"
want_x srv 1.messages.1.rcpts.10001 "(none)"
want "RCPT commands" "$(x srv 1.verbs | tr ' ' '\n' | grep -c '^RCPT$')" 10000
want "pipelining windows" "$(awk '
	/^noq: -v: SMTP>> (MAIL|RCPT) / { run++; next }
	/^noq: -v: SMTP<< / { if (run > max) max = run; if (run) windows++; run = 0 }
	END {
		if (max < 2 || max > 100) print "a window of " max " commands"
		else if (windows * max < 10001) print windows " windows of at most " max
		else print "ok"
	}' "$tmp/err")" ok
want_x srv 1.accepted true
end

# The message arrives byte for byte as the dry run shows it: dots, a lone
# dot (-i), blanks at line ends, 8-bit text, a 998-octet line, CR LF and LF
# line ends, a last line without its line end, and 300 KB of lines (dots
# among them) across noq's 64 KiB writes.  Only noq's Received field
# differs between the two runs (its id and date): both copies are compared
# without it.
{
	printf 'From: Tester <tester@example.org>\nTo: bob@example.net\nSubject: exact\n'
	printf 'Message-ID: <exact.1@example.org>\nDate: Mon, 1 Jan 2001 00:00:00 +0000\n'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf '.\n..\n. \n.x\ntrailing blanks   \ntab\there\t\n\nCaf\303\251\r\n\r\n'
	awk 'BEGIN { s = ""; for (i = 0; i < 998; i++) s = s substr("0123456789", i % 10 + 1, 1); print s }'
	awk 'BEGIN { for (i = 1; i <= 6000; i++) printf "%s%05d: forty-odd octets of text on each line\n", (i % 7 == 0 ? "." : ""), i }'
	printf 'the last line, without its line end'
} >"$tmp/exact" || exit 99

# data_part FILE: the message in a dry run (after DATA, without the final
# dot line, dot-stuffing undone), without its first header field.
data_part() {
	"$PY" -c '
import sys
raw = open(sys.argv[1], "rb").read()
i = raw.index(b"\r\nDATA\r\n") + 8
assert raw.endswith(b"\r\n.\r\n")
lines = raw[i:-3].split(b"\r\n")
lines = [l[1:] if l.startswith(b".") else l for l in lines]
sys.stdout.buffer.write(b"\r\n".join(lines))
' "$1"
}

# without_first FILE: FILE without its first header field.
without_first() {
	"$PY" -c '
import sys
raw = open(sys.argv[1], "rb").read()
assert raw.startswith(b"Received: ")
i = raw.index(b"\r\n")
while raw[i + 2:i + 3] in (b" ", b"\t"):
	i = raw.index(b"\r\n", i + 2)
sys.stdout.buffer.write(raw[i + 2:])
' "$1"
}

begin "the message arrives byte for byte"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
send p "$tmp/exact" --dry-run -i bob@example.net
cp "$tmp/out" "$tmp/exact.dry"
want "dry run exit status" "$rc" 0
send p "$tmp/exact" -i bob@example.net
stop srv
want_rc 0
want_err ""
"$PY" "$FAULTSRV" --extract "$tmp/srv/t.json" 1.body >"$tmp/exact.got"
data_part "$tmp/exact.dry" >"$tmp/exact.want"
want "body_sha256 of the summary" "$(x srv 1.messages.1.body_sha256)" \
	"$(sha256sum <"$tmp/exact.got" | cut -d' ' -f1)"
without_first "$tmp/exact.want" >"$tmp/exact.want.rest"
without_first "$tmp/exact.got" >"$tmp/exact.got.rest"
want "the message without its Received field" \
	"$(sha256sum <"$tmp/exact.got.rest" | cut -d' ' -f1)" \
	"$(sha256sum <"$tmp/exact.want.rest" | cut -d' ' -f1)"
want_x srv 1.messages.1.bare_lf 0
want_x srv 1.messages.1.bare_cr 0
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(declared srv 1.messages.1.body_length) BODY=8BITMIME"
end

finish
