#!/bin/sh
# bs.sh -- noq -bs: SMTP on standard input and output, each message handed
# to the smart host (tests/smtp/faultsrv.py) before the reply to its final
# ".".  The client's side of each session is written at once (pipelined,
# as most -bs callers do); one session is held a command at a time
# (tests/delivery/converse.py).  The replies are checked exactly, every one
# ended by CR LF, after two substitutions: noq's version in the greeting
# becomes VERSION, and the message id in a 250 reply becomes ID.
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir.
# Usage: sh tests/bs.sh

. "${top_srcdir:-$(dirname "$0")/..}/tests/delivery/lib.sh"

# client: the client's side, from standard input (one line a line) into
# $tmp/in with CR LF line ends.
client() {
	sed 's/$/\r/' >"$tmp/in"
}

# session POLICY: noq -bs with $tmp/in; the replies, checked for CR LF and
# normalised, in $tmp/replies.
session() {
	send "$1" "$tmp/in" -bs
	awk '!/\r$/ { print "(no CR LF) " $0; next } { print }' "$tmp/out" |
		tr -d '\r' |
		sed -e 's/^220 mail\.example\.org noq [^ ]* ESMTP/220 mail.example.org noq VERSION ESMTP/' \
			-e 's/ id=[0-9A-Za-z]\{6\}-[0-9A-Za-z]\{6\}-[0-9A-Za-z]\{6\} / id=ID /' \
			>"$tmp/replies"
}

# want_replies TEXT: the session's replies were exactly TEXT (lines).
want_replies() { want_file "replies" "$tmp/replies" "$1"; }

greeting="220 mail.example.org noq VERSION ESMTP: each message goes to the smart host before its reply"
ehlo="250-mail.example.org Hello
250-8BITMIME
250-SMTPUTF8
250-PIPELINING
250 SIZE"

# ---- delivered, and refused by the smart host -----------------------------------

# Two messages in one session.  The dot-stuffed lines of the first arrive
# unstuffed (faultsrv undoes the stuffing noq does again); the id in the
# reply is the one in the Message-Id field noq added.
begin "two messages delivered; dot-stuffed lines"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
client <<'EOF'
EHLO client.example
MAIL FROM:<alice@example.org>
RCPT TO:<bob@example.net>
RCPT TO:<carol@example.net>
DATA
Subject: one

..
..dot
...two dots
a line
.
MAIL FROM:<>
RCPT TO:<dave@example.net>
DATA
Subject: two

second
.
QUIT
EOF
session p
stop srv
want_rc 0
want_err ""
want_replies "$greeting
$ehlo
250 2.1.0 OK
250 2.1.5 OK
250 2.1.5 OK
354 go ahead; end with <CRLF>.<CRLF>
250 2.0.0 OK id=ID (accepted by the smart host)
250 2.1.0 OK
250 2.1.5 OK
354 go ahead; end with <CRLF>.<CRLF>
250 2.0.0 OK id=ID (accepted by the smart host)
221 2.0.0 bye"
want_x srv 1.messages.1.mail "FROM:<alice@example.org> SIZE=$(declared srv 1.messages.1.body_length)"
want_x srv 1.messages.1.rcpts '["TO:<bob@example.net>", "TO:<carol@example.net>"]'
want_x srv 2.messages.1.mail "FROM:<> SIZE=$(declared srv 2.messages.1.body_length)"
want_x srv 2.messages.1.rcpts '["TO:<dave@example.net>"]'
want_x srv 3.n "(none)"
"$PY" "$FAULTSRV" --extract "$tmp/srv/t.json" 1.body | tr -d '\r' >"$tmp/body1"
want "first message's body" "$(sed '1,/^$/d' "$tmp/body1")" "$(printf '.\n.dot\n..two dots\na line')"
id1=$(sed -n 's/^250 2\.0\.0 OK id=\([^ ]*\) (accepted.*/\1/p' "$tmp/out" | head -n 1)
want "first message's Message-Id" "$(grep -i '^Message-Id:' "$tmp/body1")" \
	"Message-Id: <E$id1@mail.example.org>"
end

# ignore_fromline_local: a uucp "From " line first in DATA is dropped, and
# (root is trusted) its address becomes the sender, as in Exim.
begin "ignore_fromline_local"
fault srv 127.0.0.1
policy p "127.0.0.1:$port" -D FROMLINE=1
client <<'EOF'
HELO client.example
MAIL FROM:<alice@example.org>
RCPT TO:<bob@example.net>
DATA
From ph10 Fri Jan  5 12:35 GMT 1996
Subject: uucp

text
.
QUIT
EOF
session p
stop srv
want_rc 0
"$PY" "$FAULTSRV" --extract "$tmp/srv/t.json" 1.body | tr -d '\r' >"$tmp/body1"
if [ "$(id -u)" -eq 0 ]; then
	want_x srv 1.messages.1.mail "FROM:<ph10@example.org> SIZE=$(declared srv 1.messages.1.body_length)"
fi
want "no From line in the body" "$(grep -c '^From ph10' "$tmp/body1")" "0"
end

# The smart host's refusal is the reply to ".", with its reason; the
# session goes on.
begin "refused by the smart host: 550 with the reason"
fault srv 127.0.0.1 "connection: 1" "rcpt 2: 550 5.1.1 <nobody@example.net>: no such user"
policy p "127.0.0.1:$port"
client <<'EOF'
HELO client.example
MAIL FROM:<alice@example.org>
RCPT TO:<bob@example.net>
RCPT TO:<nobody@example.net>
DATA
Subject: refused

text
.
MAIL FROM:<alice@example.org>
RCPT TO:<bob@example.net>
DATA
Subject: accepted

text
.
QUIT
EOF
session p
stop srv
want_rc 0
want_replies "$greeting
250 mail.example.org Hello
250 2.1.0 OK
250 2.1.5 OK
250 2.1.5 OK
354 go ahead; end with <CRLF>.<CRLF>
550 5.0.0 Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after pipelined RCPT TO:<nobody@example.net>: 550 5.1.1 <nobody@example.net>: no such user
250 2.1.0 OK
250 2.1.5 OK
354 go ahead; end with <CRLF>.<CRLF>
250 2.0.0 OK id=ID (accepted by the smart host)
221 2.0.0 bye"
want_x srv 1.data_sent false
want_x srv 2.accepted true
end

begin "smart host down: 451 with the reason (the client may try again)"
policy down "127.0.0.1:$(free_port)"
client <<'EOF'
EHLO client.example
MAIL FROM:<alice@example.org>
RCPT TO:<bob@example.net>
DATA
Subject: nowhere to go

text
.
QUIT
EOF
session down
want_rc 0
want_replies "$greeting
$ehlo
250 2.1.0 OK
250 2.1.5 OK
354 go ahead; end with <CRLF>.<CRLF>
451 4.0.0 Delivery failed: Connection refused: H=127.0.0.1 [127.0.0.1]
221 2.0.0 bye"
end

# A 4xx from the smart host is temporary for the SMTP client as well.
begin "a temporary refusal by the smart host: 451 with the reason"
fault srv 127.0.0.1 "connection: 1" "final 1: 452 4.3.1 insufficient system storage"
policy p "127.0.0.1:$port"
client <<'EOF'
HELO client.example
MAIL FROM:<alice@example.org>
RCPT TO:<bob@example.net>
DATA
Subject: later

text
.
QUIT
EOF
session p
stop srv
want_rc 0
want_replies "$greeting
250 mail.example.org Hello
250 2.1.0 OK
250 2.1.5 OK
354 go ahead; end with <CRLF>.<CRLF>
451 4.0.0 Delivery failed: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after end of data: 452 4.3.1 insufficient system storage
221 2.0.0 bye"
want_x srv 1.accepted false
end

# ---- the session's own rules -----------------------------------------------------------

begin "RSET, NOOP, VRFY, an unknown command"
client <<'EOF'
EHLO client.example
NOOP
MAIL FROM:<alice@example.org>
RCPT TO:<bob@example.net>
RSET
DATA
VRFY bob
XYZZY
QUIT
EOF
session p
want_rc 0
want_err ""
want_replies "$greeting
$ehlo
250 2.0.0 OK
250 2.1.0 OK
250 2.1.5 OK
250 2.0.0 OK
503 5.5.1 MAIL first
252 2.5.2 noq does not verify; send and see
500 5.5.1 unrecognised command
221 2.0.0 bye"
end

begin "bad sequence: 503"
client <<'EOF'
MAIL FROM:<alice@example.org>
HELO client.example
RCPT TO:<bob@example.net>
DATA
MAIL FROM:<alice@example.org>
DATA
MAIL FROM:<carol@example.org>
QUIT
EOF
session p
want_rc 0
want_replies "$greeting
503 5.5.1 EHLO or HELO first
250 mail.example.org Hello
503 5.5.1 MAIL first
503 5.5.1 MAIL first
250 2.1.0 OK
503 5.5.1 RCPT first
503 5.5.1 MAIL already given
221 2.0.0 bye"
end

begin "bad addresses and syntax: 501"
client <<'EOF'
EHLO client.example
MAIL FROM:alice@example.org
MAIL FROM:<alice smith@example.org>
MAIL FROM:<alice@example.org>
RCPT TO:<@example.net>
RCPT TO:bob@example.net
RCPT TO:<bob@example.net>
QUIT
EOF
session p
want_rc 0
want_replies "$greeting
$ehlo
501 5.5.4 syntax: MAIL FROM:<address>
501 5.1.7 invalid sender: unexpected 'smith' in local part at offset 6
250 2.1.0 OK
501 5.1.3 invalid recipient: missing local part before '@' at offset 0
501 5.5.4 syntax: RCPT TO:<address>
250 2.1.5 OK
221 2.0.0 bye"
end

# RFC 5321 4.1.1.1: EHLO and HELO take the client's name.
begin "EHLO without a name: 501"
client <<'EOF'
EHLO
QUIT
EOF
session p
want_rc 0
want_match "EHLO's reply" "$(sed -n 2p "$tmp/replies")" "501 *"
want "QUIT's reply" "$(sed -n 3p "$tmp/replies")" "221 2.0.0 bye"
end

begin "a command line over 1000 octets: 500"
{
	echo "EHLO client.example"
	awk 'BEGIN { s = "NOOP "; while (length(s) < 1200) s = s "x"; print s }'
	echo "QUIT"
} | client
session p
want_rc 0
want_replies "$greeting
$ehlo
500 5.5.2 line too long
221 2.0.0 bye"
end

# Exim's smtp_max_unknown_commands (3): three answered, the fourth ends
# the session with "too many"; what follows is not read.
begin "unknown commands: the fourth ends the session"
awk 'BEGIN { for (i = 1; i <= 5; i++) print "BOGUS " i; print "QUIT" }' | client
session p
want_rc 0
want "replies" "$(sed 1d "$tmp/replies")" \
	"$(printf '500 5.5.1 unrecognised command\n500 5.5.1 unrecognised command\n500 5.5.1 unrecognised command\n500 5.5.1 too many unrecognised commands')"
end

# ---- messages noq refuses itself -------------------------------------------------------------

# A bare CR in the data: refused before anything is sent; the session
# stays in step (the rest of the data is read up to ".").
begin "a bare CR in DATA: 554, nothing sent"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
printf 'EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: cr\r\n\r\nbare\rcarriage return\r\nmore\r\n.\r\nNOOP\r\nQUIT\r\n' >"$tmp/in"
session p
stop srv
want_rc 0
want_replies "$greeting
$ehlo
250 2.1.0 OK
250 2.1.5 OK
354 go ahead; end with <CRLF>.<CRLF>
554 5.6.0 message refused: line 3 contains a bare carriage return
250 2.0.0 OK
221 2.0.0 bye"
want_x srv 1.n "(none)"
end

begin "end of input in the middle of DATA: nothing sent"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
printf 'EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: cut\r\n\r\nthe connection drops here' >"$tmp/in"
session p
stop srv
want_rc 1
want_replies "$greeting
$ehlo
250 2.1.0 OK
250 2.1.5 OK
354 go ahead; end with <CRLF>.<CRLF>
421 4.3.0 mail.example.org lost input connection"
want_x srv 1.n "(none)"
end

# The data ends at CR LF "." CR LF: a "." cut off by the end of input,
# before its line end, does not end it, so the message is incomplete.
begin "end of input right after a '.' without its line end: nothing sent"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
printf 'EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: cut\r\n\r\nthe last line\r\n.' >"$tmp/in"
session p
stop srv
want_rc 1
want_replies "$greeting
$ehlo
250 2.1.0 OK
250 2.1.5 OK
354 go ahead; end with <CRLF>.<CRLF>
421 4.3.0 mail.example.org lost input connection"
want_x srv 1.n "(none)"
end

begin "end of input after RCPT: nothing sent"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
printf 'EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n' >"$tmp/in"
session p
stop srv
want_rc 1
want_replies "$greeting
$ehlo
250 2.1.0 OK
250 2.1.5 OK
421 4.3.0 mail.example.org lost input connection"
want_x srv 1.n "(none)"
end

begin "--dry-run with -bs is refused"
printf 'QUIT\r\n' >"$tmp/in"
send p "$tmp/in" -bs --dry-run
want_rc 1
want "standard output" "$(cat "$tmp/out")" ""
want_err "noq: --dry-run cannot be used with -bs (the dry run writes to standard output, which is the SMTP session)"
end

# ---- one command at a time ------------------------------------------------------------------

# Each reply must come before the next command is sent: a caller that
# waits for it would otherwise hang.
begin "one command at a time (not pipelined)"
fault srv 127.0.0.1
policy p "127.0.0.1:$port"
cat >"$tmp/conv" <<'EOF'
EHLO client.example
MAIL FROM:<alice@example.org>
RCPT TO:<bob@example.net>
DATA
Subject: step by step

one line
.
QUIT
EOF
$run_timeout "$PY" "$ddir/converse.py" -- "$NOQ" -C "$tmp/p.policy" -bs <"$tmp/conv" \
	>"$tmp/conv.out" 2>"$tmp/err"
rc=$?
stop srv
sed -e 's/^S: 220 mail\.example\.org noq [^ ]* ESMTP/S: 220 mail.example.org noq VERSION ESMTP/' \
	-e 's/ id=[0-9A-Za-z]\{6\}-[0-9A-Za-z]\{6\}-[0-9A-Za-z]\{6\} / id=ID /' \
	"$tmp/conv.out" >"$tmp/conv.norm"
want_rc 0
want_file "conversation" "$tmp/conv.norm" "S: $greeting
C: EHLO client.example
$(printf '%s\n' "$ehlo" | sed 's/^/S: /')
C: MAIL FROM:<alice@example.org>
S: 250 2.1.0 OK
C: RCPT TO:<bob@example.net>
S: 250 2.1.5 OK
C: DATA
S: 354 go ahead; end with <CRLF>.<CRLF>
C: Subject: step by step
C: 
C: one line
C: .
S: 250 2.0.0 OK id=ID (accepted by the smart host)
C: QUIT
S: 221 2.0.0 bye"
want_x srv 1.accepted true
end

finish
