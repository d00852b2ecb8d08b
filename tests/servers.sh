#!/bin/sh
# servers.sh -- noq delivering to real SMTP servers: aiosmtpd (Python,
# tests/delivery/sink.py keeps each message and its envelope) and Postfix's
# smtp-sink (with its dump files and its fault options), driven by noq's
# real callers' arguments and by the real callers themselves (s-nail, git
# send-email, mutt) through a wrapper in place of /usr/sbin/sendmail.  The
# message that arrives is checked: envelope, key header fields, body.
#
# A server or a caller that is not installed makes its cases SKIP (CI
# installs them all: tools/deps --servers --callers).
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir; NOQ_SMTP_SINK,
# smtp-sink (default: $top_srcdir/_build/postfix/usr/sbin/smtp-sink, as
# tools/deps --servers unpacks it; its libraries are in usr/lib/postfix
# under the same root).
# Usage: sh tests/servers.sh

. "${top_srcdir:-$(dirname "$0")/..}/tests/delivery/lib.sh"

# The real programs must not read the configuration of whoever runs this.
unset XDG_CONFIG_HOME GIT_DIR GIT_WORK_TREE EMAIL REPLYTO MUTT MAILRC \
	NAIL_EXTRA_RC 2>/dev/null
mkdir "$tmp/home" || exit 99

# has_lines FILE LINE...: each LINE is a whole line of FILE (its CR LF
# line ends taken as LF).
has_lines() {
	[ -n "$cwhy" ] && return
	hfile=$1
	shift
	tr -d '\r' <"$hfile" >"$tmp/lines"
	for l in "$@"; do
		if ! grep -Fxq -- "$l" "$tmp/lines"; then
			cwhy="no line '$l' in the message"
			cp "$tmp/lines" "$tmp/diff"
			return
		fi
	done
}

# lacks_line FILE PATTERN: no line of FILE matches the basic regular
# expression PATTERN.
lacks_line() {
	[ -n "$cwhy" ] && return
	if tr -d '\r' <"$1" | grep -q -- "$2"; then
		cwhy="a line matching '$2' in the message"
		tr -d '\r' <"$1" >"$tmp/diff"
	fi
}

# ---- aiosmtpd ----------------------------------------------------------------------

# aio_start: start tests/delivery/sink.py; messages go to $tmp/aio, and
# $tmp/aio.policy sends there.
aio_start() {
	rm -rf "$tmp/aio"
	mkdir "$tmp/aio" || exit 99
	"$PY" "$ddir/sink.py" --dir "$tmp/aio" --port-file "$tmp/aio/port" \
		2>"$tmp/aio.log" &
	aio_pid=$!
	started $aio_pid
	if ! wait_file "$tmp/aio/port"; then
		echo "$0: sink.py did not start:" >&2
		cat "$tmp/aio.log" >&2
		exit 99
	fi
	policy aio "127.0.0.1:$(cat "$tmp/aio/port")"
}

aio_stop() { stop_pid "$aio_pid"; }

# meta N KEY: the envelope of the Nth message aiosmtpd kept, as JSON
# ("(none)" when there is no such message).
meta() {
	"$PY" -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
except OSError:
    print("(none)")
    sys.exit(0)
print(json.dumps(d[sys.argv[2]], ensure_ascii=False))' "$tmp/aio/$1.json" "$2"
}

want_meta() { want "message $1: $2" "$(meta "$1" "$2")" "$3"; }

# want_size N [MORE]: the MAIL parameters of message N are SIZE, the size
# of the message kept plus size_addition's 1024, then MORE (JSON list
# items: ', "BODY=8BITMIME"').
want_size() {
	want_meta "$1" mail_options "[\"SIZE=$(($(wc -c <"$tmp/aio/$1.eml") + 1024))\"${2-}]"
}

# A wrapper in place of /usr/sbin/sendmail, for the real callers: noq with
# the aiosmtpd policy; its arguments in $tmp/wrapper.args.
cat >"$tmp/wrapper" <<EOF || exit 99
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/wrapper.args"
exec "$NOQ" -C "$tmp/aio.policy" "\$@" 2>"$tmp/wrapper.err"
EOF
chmod 755 "$tmp/wrapper" || exit 99

# want_args ARG...: the caller gave noq exactly these arguments.
want_args() {
	printf '%s\n' "$@" >"$tmp/want.args"
	[ -n "$cwhy" ] && return
	if ! cmp -s "$tmp/want.args" "$tmp/wrapper.args"; then
		cwhy="the caller ran noq with other arguments"
		diff -u "$tmp/want.args" "$tmp/wrapper.args" | sed '1,2d' >"$tmp/diff"
	fi
}

# real_begin NAME: begin a case with a real caller; the message it sends
# will be number $n.
real_begin() {
	begin "$1"
	n=$(($(find "$tmp/aio" -name '*.json' | wc -l) + 1))
	rm -f "$tmp/wrapper.args" "$tmp/wrapper.err"
}

# want_caller_ok STATUS: the caller's exit status STATUS is 0, and noq said
# nothing.
want_caller_ok() {
	want "the caller's exit status" "$1" 0
	[ -n "$cwhy" ] && { cp "$tmp/prog.out" "$tmp/diff"; return; }
	if [ -s "$tmp/wrapper.err" ]; then
		cwhy="noq complained"
		cp "$tmp/wrapper.err" "$tmp/diff"
	fi
}

if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
	skip "aiosmtpd" "python3-aiosmtpd is not installed"
else
	aio_start

	begin "aiosmtpd: recipients on the command line"
	printf 'Subject: plain\n\nhello\n.dot\n' >"$tmp/in"
	send aio "$tmp/in" bob@example.net carol@example.net
	want_rc 0
	want_err ""
	want_meta 1 mail_from "\"$caller\""
	want_meta 1 rcpt_tos '["bob@example.net", "carol@example.net"]'
	want_meta 1 helo '"mail.example.org"'
	want_size 1
	has_lines "$tmp/aio/1.eml" "Subject: plain" "hello" ".dot"
	want_match "From" "$(tr -d '\r' <"$tmp/aio/1.eml" | grep '^From: ')" "From: *<$caller>"
	want "the body" "$(tr -d '\r' <"$tmp/aio/1.eml" | sed '1,/^$/d')" \
		"$(printf 'hello\n.dot')"
	end

	# Debian cron: its own From, an 8-bit body, a bare user name.
	begin "aiosmtpd: cron (-FCronDaemon -i -B8BITMIME -oem user)"
	printf 'From: root (Cron Daemon)\nTo: user\nSubject: Cron <user@host> backup\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n\nSauvegarde termin\303\251e\n.\nfin\n' \
		>"$tmp/in"
	send aio "$tmp/in" -FCronDaemon -i -B8BITMIME -oem user
	want_rc 0
	want_err ""
	want_meta 2 mail_from "\"$caller\""
	want_meta 2 rcpt_tos '["user@example.org"]'
	want_size 2 ', "BODY=8BITMIME"'
	# Unqualified addresses in the header get the qualify domain (Exim).
	has_lines "$tmp/aio/2.eml" "From: root@example.org (Cron Daemon)" "To: user@example.org" \
		"Subject: Cron <user@host> backup" "X-Cron-Env: <SHELL=/bin/sh>"
	want "the body" "$(tr -d '\r' <"$tmp/aio/2.eml" | sed '1,/^$/d')" \
		"$(printf 'Sauvegarde termin\303\251e\n.\nfin')"
	end

	# PHP's mail(): -t -i, CR LF line ends; Bcc is a recipient, not a
	# header field; the data has CR LF and nothing else.
	begin "aiosmtpd: PHP (-t -i, CR LF input)"
	printf 'To: bob@example.net\r\nSubject: php form\r\nFrom: web@example.org\r\nCc: carol@example.net\r\nBcc: hidden@example.net\r\n\r\nline one\r\nline two\r\n' \
		>"$tmp/in"
	send aio "$tmp/in" -t -i
	want_rc 0
	want_err ""
	want_meta 3 rcpt_tos '["bob@example.net", "carol@example.net", "hidden@example.net"]'
	has_lines "$tmp/aio/3.eml" "To: bob@example.net" "Cc: carol@example.net" \
		"From: web@example.org" "Subject: php form"
	lacks_line "$tmp/aio/3.eml" '^Bcc:'
	want "CR LF line ends only" "$("$PY" -c 'import sys
d = open(sys.argv[1], "rb").read()
print(d.count(b"\n") == d.count(b"\r\n") and d.count(b"\r") == d.count(b"\r\n"))' "$tmp/aio/3.eml")" True
	want "the body" "$("$PY" -c 'import sys
print(repr(open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[1]))' "$tmp/aio/3.eml")" \
		"b'line one\\r\\nline two\\r\\n'"
	end

	# The real callers.  A body with a lone dot: each passes -i (mutt
	# through its default "sendmail" setting), so it is data.
	printf 'backup finished\n.\nafter the lone dot\n' >"$tmp/body"

	if command -v s-nail >/dev/null 2>&1; then
		real_begin "s-nail (real) through aiosmtpd"
		HOME=$tmp/home $run_timeout s-nail -n -S mta="$tmp/wrapper" -S sendwait \
			-s 'backup report' bob@example.net <"$tmp/body" >"$tmp/prog.out" 2>&1
		want_caller_ok $?
		want_args -i -- bob@example.net
		want_meta $n mail_from "\"$caller\""
		want_meta $n rcpt_tos '["bob@example.net"]'
		has_lines "$tmp/aio/$n.eml" "Subject: backup report" "To: bob@example.net"
		want "the body" "$(tr -d '\r' <"$tmp/aio/$n.eml" | sed '1,/^$/d')" \
			"$(cat "$tmp/body")"
		end
	else
		skip "s-nail (real)" "s-nail is not installed (Debian package s-nail)"
	fi

	# git send-email, in a repository of its own, with and without an
	# envelope sender.  (Debian's needs libmailtools-perl.)
	if ! command -v git >/dev/null 2>&1 ||
		[ ! -x "$(git --exec-path)/git-send-email" ]; then
		skip "git send-email (real)" "git send-email is not installed (Debian package git-email)"
	elif ! HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 git send-email --dump-aliases \
		</dev/null >/dev/null 2>&1; then
		skip "git send-email (real)" "git send-email does not start (Debian package libmailtools-perl)"
	else
		repo=$tmp/repo
		(
			HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1
			export HOME GIT_CONFIG_NOSYSTEM
			mkdir "$repo" && cd "$repo" && git init -q . &&
			git config user.name 'A U Thor' &&
			git config user.email author@example.org &&
			printf 'hello\n' >README && git add README &&
			git commit -q -m 'doc: a dot on its own line' \
				-m "$(printf 'A line with a single dot:\n.\nmust survive.')" &&
			git format-patch -q -1 -o "$tmp/patches"
		) >"$tmp/prog.out" 2>&1 || { cat "$tmp/prog.out"; exit 99; }
		for envelope in no yes; do
			if [ $envelope = yes ]; then
				real_begin "git send-email --envelope-sender (real) through aiosmtpd"
				set -- --envelope-sender=author@example.org
				from=author@example.org
			else
				real_begin "git send-email (real) through aiosmtpd"
				set --
				from=$caller
			fi
			(cd "$repo" && HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 $run_timeout \
				git send-email --smtp-server="$tmp/wrapper" \
				--to=list@example.net --from='A U Thor <author@example.org>' \
				--confirm=never --suppress-cc=all "$@" "$tmp"/patches/*.patch) \
				>"$tmp/prog.out" 2>&1
			want_caller_ok $?
			if [ $envelope = yes ]; then
				want_args -f author@example.org -i list@example.net
			else
				want_args -i list@example.net
			fi
			want_meta $n mail_from "\"$from\""
			want_meta $n rcpt_tos '["list@example.net"]'
			has_lines "$tmp/aio/$n.eml" "From: A U Thor <author@example.org>" \
				"To: list@example.net" "Subject: [PATCH] doc: a dot on its own line" \
				"A line with a single dot:" "." "must survive." "+hello"
			end
		done
	fi

	if command -v mutt >/dev/null 2>&1; then
		real_begin "mutt (real, batch mode) through aiosmtpd"
		HOME=$tmp/home $run_timeout mutt -n -F /dev/null \
			-e "set sendmail=\"$tmp/wrapper -oem -oi\"" \
			-e 'set hostname=example.org from=carol@example.org' \
			-s 'dinner' bob@example.net <"$tmp/body" >"$tmp/prog.out" 2>&1
		want_caller_ok $?
		want_args -oem -oi -- bob@example.net
		want_meta $n mail_from "\"$caller\""
		want_meta $n rcpt_tos '["bob@example.net"]'
		has_lines "$tmp/aio/$n.eml" "Subject: dinner" "To: bob@example.net"
		want_match "From" "$(tr -d '\r' <"$tmp/aio/$n.eml" | grep '^From: ')" \
			"From: *carol@example.org*"
		want "the body" "$(tr -d '\r' <"$tmp/aio/$n.eml" | sed '1,/^$/d')" \
			"$(cat "$tmp/body")"
		end
	else
		skip "mutt (real)" "mutt is not installed (Debian package mutt)"
	fi

	aio_stop
fi

# ---- smtp-sink -----------------------------------------------------------------------

sink=${NOQ_SMTP_SINK:-$top_srcdir/_build/postfix/usr/sbin/smtp-sink}
sink_lib=${sink%/usr/sbin/smtp-sink}/usr/lib/postfix

# sink_start OPTION...: start smtp-sink with these options on a free port,
# dumping each message into $tmp/sink/; $tmp/sink.policy sends there.
sink_start() {
	rm -rf "$tmp/sink"
	mkdir "$tmp/sink" || exit 99
	sink_port=$(free_port)
	if [ "$(id -u)" -eq 0 ]; then
		set -- -u root "$@"
	fi
	LD_LIBRARY_PATH=$sink_lib "$sink" -d "$tmp/sink/%H%M%S." "$@" \
		"127.0.0.1:$sink_port" 10 2>"$tmp/sink.log" &
	sink_pid=$!
	started $sink_pid
	if ! wait_port "$sink_port"; then
		echo "$0: smtp-sink did not start:" >&2
		cat "$tmp/sink.log" >&2
		exit 99
	fi
	policy sink "127.0.0.1:$sink_port"
}

sink_stop() { stop_pid "$sink_pid"; }

# sink_dump: the one dump file smtp-sink wrote, complete (it ends with an
# empty line), in $tmp/dump.
sink_dump() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		set -- "$tmp"/sink/*
		if [ $# -eq 1 ] && [ -f "$1" ] && [ "$(tail -c 2 "$1" | od -An -c | tr -d ' ')" = '\n\n' ]; then
			cp "$1" "$tmp/dump"
			return 0
		fi
		sleep 0.1
	done
	: >"$tmp/dump"
	ls -l "$tmp/sink" >"$tmp/diff"
	return 1
}

if [ ! -x "$sink" ]; then
	skip "smtp-sink" "no smtp-sink at $sink (tools/deps --servers, or set NOQ_SMTP_SINK)"
else
	begin "smtp-sink: delivered, dumped"
	sink_start
	printf 'Subject: sink\n\nhello\n.dot\n' >"$tmp/in"
	send sink "$tmp/in" bob@example.net carol@example.net
	sink_dump || cwhy="no dump file"
	sink_stop
	want_rc 0
	want_err ""
	has_lines "$tmp/dump" "X-Helo-Args: mail.example.org" "X-Mail-Args: <$caller>" \
		"X-Rcpt-Args: <bob@example.net>" "X-Rcpt-Args: <carol@example.net>" \
		"Subject: sink" "hello" ".dot"
	want "RCPT records" "$(grep -c '^X-Rcpt-Args:' "$tmp/dump")" 2
	end

	# No PIPELINING (-p); 8BITMIME and DSN offered: BODY, RET, NOTIFY, ORCPT.
	begin "smtp-sink -p: 8-bit body and DSN"
	sink_start -p
	printf 'To: user\nSubject: eight\n\nCaf\303\251\n.\n' >"$tmp/in"
	send sink "$tmp/in" -i -N failure,delay -R full user
	sink_dump || cwhy="no dump file"
	sink_stop
	want_rc 0
	want_err ""
	has_lines "$tmp/dump" "X-Mail-Args: <$caller> BODY=8BITMIME RET=FULL" \
		"X-Rcpt-Args: <user@example.org> NOTIFY=failure,delay ORCPT=rfc822;user@example.org" \
		"To: user@example.org" "$(printf 'Caf\303\251')" "."
	end

	# -8: no 8BITMIME, so no BODY parameter (the message goes as it is).
	begin "smtp-sink -8: no BODY=8BITMIME"
	sink_start -8
	send sink "$tmp/in" -i user
	sink_dump || cwhy="no dump file"
	sink_stop
	want_rc 0
	has_lines "$tmp/dump" "X-Mail-Args: <$caller>"
	end

	# Hard and soft refusals, in smtp-sink's words (-f/-r imply -p).
	printf 'Subject: refused\n\nhello\n' >"$tmp/in"
	begin "smtp-sink -f RCPT -B: hard bounce, exit 1 with its reply"
	sink_start -f RCPT -B "550 5.1.1 <bob@example.net>: Recipient address rejected"
	send sink "$tmp/in" bob@example.net
	sink_stop
	want_rc 1
	want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bob@example.net>: 550 5.1.1 <bob@example.net>: Recipient address rejected"
	end

	begin "smtp-sink -r MAIL: soft bounce"
	sink_start -r MAIL
	send sink "$tmp/in" bob@example.net
	sink_stop
	want_rc 1
	want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after MAIL FROM:<$caller>: 450 4.3.0 Error: command failed"
	end

	begin "smtp-sink -f .: the message refused at its end"
	sink_start -f . -B "554 5.7.1 Message rejected"
	send sink "$tmp/in" bob@example.net
	sink_stop
	want_rc 1
	want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after end of data: 554 5.7.1 Message rejected"
	end

	# 421 to the pipelined MAIL, then the connection closes: the reply is
	# the reason, not the closed connection that follows it.
	begin "smtp-sink -Q MAIL: 421 then disconnect"
	sink_start -Q MAIL
	send sink "$tmp/in" bob@example.net
	sink_stop
	want_rc 1
	want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after pipelined MAIL FROM:<$caller>: 421 4.0.0 Server closing connection"
	end

	begin "smtp-sink -q DATA: disconnect without a reply"
	sink_start -q DATA
	send sink "$tmp/in" bob@example.net
	sink_stop
	want_rc 1
	want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to DATA"
	end

	begin "smtp-sink -w 2: DATA reply later than command_timeout"
	sink_start -w 2
	policy sink "127.0.0.1:$sink_port" -D COMMAND_TIMEOUT=1s
	send sink "$tmp/in" bob@example.net
	sink_stop
	want_rc 1
	want_err "Delivery failed: Connection timed out: H=127.0.0.1 [127.0.0.1]: SMTP timeout after DATA"
	end

	# -A 1: 550 a second after the 354 (noq has sent the message by then),
	# and nothing more is read.
	begin "smtp-sink -A 1: 550 instead of the final reply"
	sink_start -A 1
	send sink "$tmp/in" bob@example.net
	sink_stop
	want_rc 1
	want_err "Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after end of data: 550 This violates SMTP"
	end
fi

finish
