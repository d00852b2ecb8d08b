#!/bin/sh
# noq-hostile.sh -- hostile and huge input to noq: refused with the line
# named, or handled in bounded memory; never a bare CR or LF on the wire
# (SMTP smuggling), never an injected header field or SMTP command.
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir.
# Prints the peak memory of noq for a 100 MiB message (GNU time, when
# /usr/bin/time is installed: Debian package "time"); fails above 8 MiB.

# shellcheck source=noq/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/noq/lib.sh"

# refused NAME STDERR ARGS...: noq -C POLICY --dry-run ARGS with $tmp/in as
# input exits 1 with exactly STDERR and nothing on stdout.
refused() {
	rname=$1 rerr=$2
	shift 2
	run "$tmp/in" "$NOQ" -C "$POL" --dry-run "$@"
	expect "$rname" 1 "" "$rerr"
}

# accepted NAME ARGS...: the dry run of $tmp/in succeeds and is well formed
# (CR LF only, SIZE right, lines within 998 octets): normalised in
# $tmp/norm.
accepted() {
	aname=$1
	shift
	run "$tmp/in" "$NOQ" -C "$POL" --dry-run "$@"
	if [ "$rc" -ne 0 ] || [ -s "$tmp/err" ]; then
		fail "$aname" "exit status $rc, expected 0 and no diagnostics"
		show "$tmp/err"
		return 1
	fi
	if ! normalise "$tmp/out" "$tmp/norm" >"$tmp/why"; then
		fail "$aname" "malformed dry run: $(cat "$tmp/why")"
		show "$tmp/out"
		return 1
	fi
	# 998 octets before CR LF, and a dot-stuffing dot.
	if ! awk '{ n = length($0) - 1 - (substr($0, 1, 1) == ".") } n > 998 { exit 1 }' "$tmp/out"; then
		fail "$aname" "a line over 998 octets on the wire"
		return 1
	fi
	return 0
}

# body_is NAME TEXT: after a successful accepted(), the body (what follows
# the first empty line up to the final dot) is exactly TEXT, LF-ended.
body_is() {
	sed -n '/^$/,$p' "$tmp/norm" | sed '1d;$d' >"$tmp/body"
	if text_is "$tmp/body" "$2"; then
		pass "$1"
	else
		fail "$1" "the body differs"
		printf '%s\n' "$2" >"$tmp/want"
		diff -u "$tmp/want" "$tmp/body"
	fi
}

hdr='From: Alice <alice@example.org>
To: bob@example.net
Subject: hostile'

# ---- bytes that could end a line elsewhere ----------------------------------

printf '%s\n\nab\000cd\n' "$hdr" >"$tmp/in"
refused "NUL byte" "noq: message refused: line 5 contains a NUL byte" bob@example.net
# In the body a bare CR ends the line, as Exim reads input that is not
# SMTP (cron mail with progress meters); in the header section it could
# split a field, and is refused.
printf '%s\n\nabc\ndef\rghi\n' "$hdr" >"$tmp/in"
if accepted "bare CR in the body: a line end" bob@example.net; then
	body_is "bare CR in the body: a line end" "abc
def
ghi"
fi
printf '%s\n\n10%%\r\r50%%\r100%%\r\n' "$hdr" >"$tmp/in"
if accepted "progress meter: each CR a line end, CR LF one" bob@example.net; then
	body_is "progress meter: each CR a line end, CR LF one" "10%

50%
100%"
fi
printf 'Subject: a\rBcc: eve@example.net\nTo: bob@example.net\n\nx\n' >"$tmp/in"
refused "bare CR in a header field" "noq: message refused: line 1 contains a bare carriage return" -t
printf '%s\n\nlast\r' "$hdr" >"$tmp/in"
if accepted "CR at the end of input: a line end" bob@example.net; then
	body_is "CR at the end of input: a line end" "last"
fi
# A dot line ended by a bare CR is data, never the end (Exim's
# read_message_data()): the lines after it are read, the dot is stuffed.
printf '%s\r\n\r\nbefore\r\n.\rafter\r\n' "$hdr" >"$tmp/in"
if accepted "CR LF . CR (no -i): data" bob@example.net; then
	body_is "CR LF . CR (no -i): data" "before
..
after"
fi
if accepted "CR LF . CR (-i): data" -i bob@example.net; then
	body_is "CR LF . CR (-i): data" "before
..
after"
fi
printf '%s\r\n\r\nbefore\r\n.\r' "$hdr" >"$tmp/in"
if accepted "CR LF . CR at the end of input: data" bob@example.net; then
	body_is "CR LF . CR at the end of input: data" "before
.."
fi

# A lone dot ends the message without -i, whatever ends its line; the rest
# is never read.  With -i it is data, stuffed.
printf '%s\n\nbefore\n.\nMAIL FROM:<evil@example.com>\nRCPT TO:<victim@example.com>\n' "$hdr" >"$tmp/in"
if accepted "LF . LF ends the message"  bob@example.net; then
	body_is "LF . LF ends the message" "before"
fi
printf '%s\r\n\r\nbefore\r\n.\r\nafter\r\n' "$hdr" >"$tmp/in"
if accepted "CR LF . CR LF ends the message" bob@example.net; then
	body_is "CR LF . CR LF ends the message" "before"
fi
printf '%s\n\nbefore\n.\nafter\n' "$hdr" >"$tmp/in"
if accepted "LF . LF with -i is data" -i bob@example.net; then
	body_is "LF . LF with -i is data" "before
..
after"
fi
printf '%s\r\n\r\nbefore\r\n.\nafter\n..\r\n.x\n' "$hdr" >"$tmp/in"
if accepted "mixed line ends with -i" -i bob@example.net; then
	body_is "mixed line ends with -i" "before
..
after
...
..x"
fi
printf 'Subject: a lone dot in the header\n.\nTo: eve@example.net\n\nbody\n' >"$tmp/in"
if accepted "lone dot in the header section" bob@example.net; then
	if grep -q 'eve@example.net\|^body$' "$tmp/norm"; then
		fail "lone dot in the header section" "text after the dot was sent"
		show "$tmp/norm"
	else
		pass "lone dot in the header section"
	fi
fi

# ---- long lines --------------------------------------------------------------

line() {  # line N [FIRST]: a line of N octets starting with FIRST (or x)
	awk -v n="$1" -v c="${2:-x}" 'BEGIN { s = c; while (length(s) < n) s = s "x"; print s }'
}
{ printf '%s\n\n' "$hdr"; line 10000; } >"$tmp/in"
refused "10,000-octet line" \
	"noq: message refused: line 5 is 10000 octets long; the limit is 998 (RFC 5322)" bob@example.net
{ printf '%s\n\n' "$hdr"; line 999; } >"$tmp/in"
refused "999-octet line" \
	"noq: message refused: line 5 is 999 octets long; the limit is 998 (RFC 5322)" bob@example.net
{ printf '%s\n\n' "$hdr"; line 998; line 998 .; } >"$tmp/in"
if accepted "998-octet lines, one stuffed" bob@example.net; then
	body_is "998-octet lines, one stuffed" "$(line 998)
.$(line 998 .)"
fi
{ printf 'Subject: '; line 1990; } >"$tmp/in"
refused "2,000-octet header line" \
	"noq: message refused: line 1 is 1999 octets long; the limit is 998 (RFC 5322)" bob@example.net

# ---- big headers -----------------------------------------------------------------

awk 'BEGIN { for (i = 0; i < 20000; i++) printf "X-Field-%d: v\n", i; print ""; print "b" }' >"$tmp/in"
refused "20,000 header fields" \
	"noq: message refused: the header section has more than 10000 fields" bob@example.net
awk 'BEGIN { printf "Subject:"; s = sprintf("%900s", ""); gsub(/ /, "a", s)
	for (i = 0; i < 1200; i++) printf " %s\n", s; print ""; print "b" }' >"$tmp/in"
refused "1 MiB header field" \
	"noq: message refused: the header section is longer than 1048576 octets" bob@example.net

# 1,000 recipients in the header, for -t: one folded To field and 500 Cc.
awk 'BEGIN { print "From: Alice <alice@example.org>"; printf "To: t0@example.net"
	for (i = 1; i < 500; i++) printf ",\n t%d@example.net", i; print ""
	for (i = 0; i < 500; i++) printf "Cc: c%d@example.net\n", i
	print "Subject: many"; print ""; print "body" }' >"$tmp/in"
if accepted "1,000 recipients with -t" -t; then
	n=$(grep -c '^RCPT TO:<[tc][0-9]*@example.net>$' "$tmp/norm")
	if [ "$n" -eq 1000 ] && [ "$(grep -c '^RCPT' "$tmp/norm")" -eq 1000 ]; then
		pass "1,000 recipients with -t"
	else
		fail "1,000 recipients with -t" "$n RCPT commands"
	fi
fi

# ---- the caller's texts: no injection -----------------------------------------------

printf 'To: bob@example.net\nSubject: no From\n\nx\n' >"$tmp/in"
# A name that tries to close the quoted string and add an address.
if accepted "-F with quotes and an address" -f carol@example.org \
	-F 'Mallory" <mallory@example.com>, "x' bob@example.net; then
	has_from='From: "Mallory\" <mallory@example.com>, \"x" <carol@example.org>'
	if grep -Fxq "$has_from" "$tmp/norm"; then
		pass "-F with quotes and an address"
	else
		fail "-F with quotes and an address" "expected the line: $has_from"
		grep '^From' "$tmp/norm"
	fi
fi
# A very long name: folded, or in encoded words, never a line over 998
# octets; unfolded (and decoded) it is the name again, in one From field.
from_field() {  # the From field of $tmp/norm, unfolded
	awk '/^[^ \t]/ { if (f) exit; f = /^From:/ } f { printf "%s", $0 } END { print "" }' "$tmp/norm"
}
name=$(awk 'BEGIN { for (i = 0; i < 2000; i++) printf "Name%d ", i }')
if accepted "-F of 14,000 octets" -f carol@example.org -F "$name" bob@example.net; then
	if [ "$(from_field)" = "From: ${name% } <carol@example.org>" ] &&
		[ "$(grep -c '^From:' "$tmp/norm")" -eq 1 ]; then
		pass "-F of 14,000 octets"
	else
		fail "-F of 14,000 octets" "the From field is not the name, folded"
		grep -A2 '^From:' "$tmp/norm"
	fi
fi
name=$(line 5000 N)
if accepted "-F of one 5,000-octet word" -f carol@example.org -F "$name" bob@example.net; then
	# Encoded words (RFC 2047): at most 75 octets each, the text in the
	# "q" encoding, which leaves letters alone.
	decoded=$(from_field | awk -v tail=" <carol@example.org>" '{
		if (substr($0, length($0) - length(tail) + 1) != tail) exit 1
		s = substr($0, 7, length($0) - 6 - length(tail)); out = ""
		n = split(s, w, " ")
		for (i = 1; i <= n; i++) {
			if (length(w[i]) > 75 || w[i] !~ /^=\?utf-8\?q\?[A-Za-z]*\?=$/) exit 1
			out = out substr(w[i], 11, length(w[i]) - 12)
		}
		print out }')
	if [ "$decoded" = "$name" ] && [ "$(grep -c '^From:' "$tmp/norm")" -eq 1 ]; then
		pass "-F of one 5,000-octet word"
	else
		fail "-F of one 5,000-octet word" "the From field is not the name in encoded words"
		grep -A2 '^From:' "$tmp/norm"
	fi
fi
# SMTP commands in a recipient or a sender: refused as addresses.
refused "recipient with an SMTP parameter" \
	"noq: invalid address: bob@example.net> NOTIFY=SUCCESS: unbalanced '>' at offset 15" \
	'bob@example.net> NOTIFY=SUCCESS'
refused "sender with an SMTP parameter" \
	"noq: invalid sender address 'carol@example.org> SIZE=1': unbalanced '>' at offset 17" \
	-f 'carol@example.org> SIZE=1' bob@example.net
refused "recipient with a line break" "noq: recipient argument 1 contains a line break
noq: see 'noq --help' or noq(8)" "$(printf 'bob@example.net\r\nRCPT TO:<eve@example.com>')"
# A quoted local part with blanks is sent quoted, as one address.
printf '%s\n\nx\n' "$hdr" >"$tmp/in"
if accepted "quoted local part" '"bob smith"@example.net'; then
	if grep -Fxq 'RCPT TO:<"bob smith"@example.net>' "$tmp/norm" &&
		[ "$(grep -c '^RCPT' "$tmp/norm")" -eq 1 ]; then
		pass "quoted local part"
	else
		fail "quoted local part" "not one RCPT TO:<\"bob smith\"@example.net>"
		show "$tmp/norm"
	fi
fi

# ---- 100,000 recipients on the command line ---------------------------------------

# One argument each needs about 2 MB of arguments: more than the kernel
# allows with the usual 8 MiB stack limit (a quarter of it), so the stack
# limit is raised for noq when it can be; otherwise they go as
# comma-separated lists, 1,000 to an argument.
# recipients_max is Exim's 50,000 by default: 0 lifts the limit.
POL_MANY=$(compile many -D RCPTS_MAX=0) || exit 99
printf '%s\n\nx\n' "$hdr" >"$tmp/in"
awk 'BEGIN { printf "exec \"$@\""; for (i = 0; i < 100000; i++) printf " r%d@example.net", i; print "" }' \
	>"$tmp/many.sh"
awk 'BEGIN { printf "exec \"$@\""; for (i = 0; i < 100; i++) { printf " "
	for (j = 0; j < 1000; j++) printf "%sr%d@example.net", j ? "," : "", i * 1000 + j }; print "" }' \
	>"$tmp/lists.sh"
# (ulimit -s is not POSIX, but dash and bash have it; tried in a subshell.)
# shellcheck disable=SC3045
if (ulimit -s 65536) 2>/dev/null; then
	form="one argument each"
	(ulimit -s 65536 && sh "$tmp/many.sh" $run_timeout "$NOQ" -C "$POL_MANY" --dry-run) \
		<"$tmp/in" >"$tmp/out" 2>"$tmp/err"
else
	form="1,000 to an argument"
	sh "$tmp/lists.sh" $run_timeout "$NOQ" -C "$POL_MANY" --dry-run <"$tmp/in" >"$tmp/out" \
		2>"$tmp/err"
fi
rc=$?
n=$(grep -c '^RCPT TO:<r[0-9]*@example.net>' "$tmp/out")
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] && [ "$n" -eq 100000 ] &&
	normalise "$tmp/out" "$tmp/norm" >"$tmp/why"; then
	pass "100,000 recipients ($form)"
else
	fail "100,000 recipients ($form)" "exit $rc, $n RCPT commands"
	show "$tmp/err"
fi
# With Exim's default limit, refused before anything is read or sent.
sh "$tmp/lists.sh" $run_timeout "$NOQ" -C "$POL" --dry-run <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ] &&
	grep -Fxq 'noq: too many recipients: 100000, and recipients_max is 50000' "$tmp/err"; then
	pass "100,000 recipients over the default recipients_max"
else
	fail "100,000 recipients over the default recipients_max" "exit $rc"
	show "$tmp/err"
fi

# ---- a 100 MiB message ----------------------------------------------------------------

# Generated as it is read: 64-octet lines, one in 16 starting with a dot.
mib=100
big_input() {
	unit=$(awk 'BEGIN { for (i = 0; i < 16; i++) printf "%s%s\n", i ? "" : ".",
		substr("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz", 1, i ? 63 : 62) }')
	{ printf '%s\n\n' "$hdr"; yes "$unit" | head -c $((mib * 1048576)); }
}
timer=
if [ -x /usr/bin/time ] && /usr/bin/time -f '%M' true >/dev/null 2>&1; then
	timer="/usr/bin/time -f %M -o $tmp/rss"
fi
# The output is read as it comes (not stored): its octets, the envelope
# before the message, the lines starting with a dot, and any line not
# ended by CR LF.
{ big_input | $timer $run_timeout "$NOQ" -C "$POL" --dry-run bob@example.net 2>"$tmp/err"
	echo $? >"$tmp/big.rc"; } |
	awk '{ total += length($0) + 1; if (substr($0, length($0)) != "\r") bad++ }
	!data && /^MAIL FROM:/ { size = $0; sub(/.* SIZE=/, "", size); sub(/[^0-9].*/, "", size) }
	!data && $0 == "DATA\r" { data = 1; envelope = total; next }
	data && substr($0, 1, 1) == "." { dots++ }
	END { printf "%d %d %d %d %d\n", size, envelope, dots, total, bad }' >"$tmp/big.stats"
rc=$(cat "$tmp/big.rc")
read -r size envelope dots total bad <"$tmp/big.stats"
if [ "$rc" -ne 0 ] || [ -s "$tmp/err" ]; then
	fail "$mib MiB message" "exit status $rc"
	show "$tmp/err"
else
	# Output = envelope + message (SIZE octets less size_addition's
	# 1024, one more per stuffed line) + ".\r\n"; the last dot line is
	# that end.
	stuffed=$((dots - 1))
	size=$((size - 1024))
	if [ "$total" -eq $((envelope + size + stuffed + 3)) ] && [ "$bad" -eq 0 ] &&
		[ "$size" -gt $((mib * 1048576)) ] && [ "$stuffed" -eq $((mib * 1048576 / 1024)) ]; then
		pass "$mib MiB message (SIZE=$size, $stuffed stuffed lines, $total octets out)"
	else
		fail "$mib MiB message" "SIZE=$size, envelope $envelope, $stuffed stuffed, $total octets out, $bad lines without CR LF"
	fi
fi
if [ -n "$timer" ] && [ -s "$tmp/rss" ]; then
	rss=$(tail -n 1 "$tmp/rss")
	echo "     peak RSS of noq for a $mib MiB message: $rss KiB"
	if grep -q __asan_init "$NOQ"; then
		skip "$mib MiB message in at most 8 MiB of memory" "noq is built with AddressSanitizer"
	elif [ "$rss" -le 8192 ]; then
		pass "$mib MiB message in at most 8 MiB of memory"
	else
		fail "$mib MiB message in at most 8 MiB of memory" "peak RSS $rss KiB"
	fi
else
	skip "$mib MiB message in at most 8 MiB of memory" "no GNU time (Debian package time)"
fi

finish
