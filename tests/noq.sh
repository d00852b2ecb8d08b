#!/bin/sh
# noq.sh -- the noq program as noq(8) describes it: the dry run of routing,
# rewriting and header fixups (tests/noq/out/NAME.out), address testing,
# the queue and version modes, newaliases, and every refusal: exit status
# and exact diagnostics, with nothing on standard output.
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir.
# Usage: sh tests/noq.sh [--update]
# With --update the .out files are rewritten instead of compared: review
# the change with git diff before committing it.

# shellcheck source=noq/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/noq/lib.sh"

# -bi runs noqc: the one just built.
PATH=$(dirname "$NOQC"):$PATH
export PATH

msg=$tdir/in
: >"$tmp/empty"
see="noq: see 'noq --help' or noq(8)"

# ---- routing in the dry run ------------------------------------------------------

# Chains, several targets, keep a copy, :blackhole:, duplicates (root and
# postmaster are both admin), a T rewrite of one envelope recipient, and an
# argument holding an address list.
dry aliases simple.msg -i root postmaster chain1 team carol nobody moved \
	'Dave <dave@example.net>, abuse'
# Every recipient discarded: success, and nothing to send.
run "$msg/simple.msg" "$NOQ" -C "$POL" --dry-run -i nobody
expect "only :blackhole: recipients" 0 "" ""
run "$msg/simple.msg" "$NOQ" -C "$POL" --dry-run -i bob@example.net olduser
expect ":fail: refuses the whole message" 1 "" \
"routing olduser@example.org yielded a failed delivery: olduser has left; write to bob@example.net"
run "$msg/simple.msg" "$NOQ" -C "$POL" --dry-run -i later bob@example.net
expect ":defer: refuses the whole message" 1 "" \
"routing later@example.org yielded a deferred delivery: the archive is being moved"
run "$msg/simple.msg" "$NOQ" -C "$POL" --dry-run -i team olduser@example.org
expect ":fail: of a recipient in any case" 1 "" \
"routing olduser@example.org yielded a failed delivery: olduser has left; write to bob@example.net"

# ---- header fixups and rewriting -------------------------------------------------

# Return-Path, Envelope-To, Delivery-Date removed; Bcc kept without -t,
# removed with it; X-Internal removed by headers_remove; unqualified
# addresses in To qualified.
dry fixups fixups.msg -i bob@example.net
dry fixups-t fixups.msg -t
dry resent resent.msg -t
dry nofrom nofrom.msg bob@example.net
dry_root nofrom-F nofrom.msg -F 'Carol Q. Public' bob@example.net
dry nofrom-F-utf8 nofrom.msg -f carol@example.org -F "$(printf 'Jos\303\251 Mu\303\261oz')" \
	bob@example.net
dry noheader noheader.msg bob@example.net
dry noeol noeol.msg bob@example.net
dry empty "$tmp/empty" bob@example.net
# (root: the Sender field is kept and rewritten.)
dry_root rewrite rewrite.msg -f carol@old.example.org -t
dry null-sender simple.msg -f '<>' bob@example.net
# No From in the message and -f '<>': a trusted caller (root) gets no From
# at all, as in Exim (it is not a local sender then); nobody gets theirs.
dry_root null-sender-nofrom nofrom.msg -f '<>' bob@example.net
if can_be_nobody; then
	run "$msg/nofrom.msg" "$as_nobody" "$NOQ" -C "$POL" --dry-run -f '<>' bob@example.net
	if [ "$rc" -eq 0 ] && tr -d '\r' <"$tmp/out" | grep -q '^From: .*nobody@example.org'; then
		pass "null sender from an untrusted caller: their own From"
	else
		fail "null sender from an untrusted caller: their own From" "exit $rc"
		show "$tmp/out"
	fi
fi
dry null-sender-empty simple.msg -f '' bob@example.net
dry dsn simple.msg -N success,failure -R full -V 'QQ314159' -i bob@example.net
# ENVID is xtext (RFC 3461): '+', '=' and blanks as +XX.
dry dsn-xtext simple.msg -N never -V 'id+1=2 3' -i bob@example.net
# -t with Bcc recipients only: the Bcc field goes.
dry bcc-only bcc-only.msg -t
dry smtputf8-header utf8hdr.msg bob@example.net
dry smtputf8-rcpt simple.msg "$(printf 'jos\303\251@example.net')"
dry unqualified-sender simple.msg -f carol bob@example.net

# -t with arguments: Exim removes them from the header's recipients,
# Postfix and msmtp add them (extract_addresses_remove_arguments = false).
dry t-remove fixups.msg -t bob@example.net
POL_ADD=$(compile add -D ADD_ARGS=1) || exit 99
run "$msg/fixups.msg" "$NOQ" -C "$POL_ADD" --dry-run -t bob@example.net frank@example.net
check_dry t-add

# headers_add and headers_remove given twice in a router and a transport:
# every header added (the router's first), every one named removed.
POL_HDR=$(compile headers -D MORE_HEADERS=1) || exit 99
run "$msg/drop.msg" "$NOQ" -C "$POL_HDR" --dry-run -i bob@example.net
check_dry headers-twice

# Debian's rewriting with the mail name hidden.  The rewrite rule gives a
# user the address /etc/email-addresses holds (From: help, not there,
# keeps its address; Reply-To: alice gets hers), then the transport's
# headers_rewrite puts the header addresses of local domains that are
# left in the readhost's domain: From, Reply-To, Sender only (frs), and
# never the envelope (MAIL FROM stays help@example.org).
if is_root; then
	POL_HIDE=$(compile hide -D HIDE_MAILNAME=1 -D EMAIL_ADDRESSES="$tdir/email-addresses") ||
		exit 99
	run "$msg/hide.msg" "$NOQ" -C "$POL_HIDE" --dry-run -f help@example.org -i \
		dave@example.net frank@example.org
	check_dry hide-mailname
	# Without the file, as on most systems: noqc warns, and Exim, which
	# fails to open it, leaves the addresses as they are (the envelope
	# sender alice@example.org too); the transport's rule still applies.
	POL_NOFILE=$(compile nofile -D HIDE_MAILNAME=1 \
		-D EMAIL_ADDRESSES=/nonexistent/noq-test/email-addresses) || exit 99
	if grep -q "warning: the lookup file '/nonexistent/noq-test/email-addresses' does not exist" \
		"$tmp/nofile/noqc.out"; then
		pass "a missing lookup file in a rewrite rule: a warning"
	else
		fail "a missing lookup file in a rewrite rule: a warning" "none"
		show "$tmp/nofile/noqc.out"
	fi
	run "$msg/hide.msg" "$NOQ" -C "$POL_NOFILE" --dry-run -f alice@example.org -i \
		dave@example.net
	check_dry hide-mailname-nofile
else
	skip hide-mailname "the expected output is that of a root caller"
fi

# The same rewrite rule side by side with Exim's -brw, when Exim is there
# (tools/deps --bench) and may run (as root): for each address, the
# Reply-To and the envelope sender noq sends are what Exim's -brw says
# of "reply-to" and "env-from", with the file and without it.
exim=${NOQ_EXIM:-$top_srcdir/_build/exim/usr/sbin/exim4}
if is_root && [ -x "$exim" ]; then
	for file in "$tdir/email-addresses" /nonexistent/noq-test/email-addresses; do
		POL_EA=$(compile ea -D EMAIL_ADDRESSES="$file") || exit 99
		label="the file there"
		[ -f "$file" ] || label="the file missing"
		{
			echo "exim_user = root"
			echo "exim_group = root"
			echo "spool_directory = $tmp/ea/spool"
			echo "log_file_path = $tmp/ea/%slog"
			cat "$tdir/test.conf"
		} >"$tmp/ea/exim.conf"
		for a in alice@mail.example.org alice@Example.ORG help@example.org \
			alice@example.net; do
			LD_LIBRARY_PATH=${exim%/usr/sbin/exim4}/usr/lib/x86_64-linux-gnu \
				"$exim" -C "$tmp/ea/exim.conf" -DEMAIL_ADDRESSES="$file" \
				-brw "$a" >"$tmp/ea/brw" 2>/dev/null
			want=$(sed -n 's/^reply-to: //p; s/^env-from: //p' "$tmp/ea/brw" | tr '\n' ' ')
			printf 'Reply-To: %s\n\nx\n' "$a" >"$tmp/ea/msg"
			run "$tmp/ea/msg" "$NOQ" -C "$POL_EA" --dry-run -f "$a" -i bob@example.net
			got="$(sed -n 's/^Reply-To: //p' "$tmp/out" | tr -d '\r') $(sed -n \
				's/^MAIL FROM:<\([^>]*\)>.*/\1/p' "$tmp/out") "
			if [ -n "$want" ] && [ "$got" = "$want" ]; then
				pass "rewriting as Exim's -brw: $a ($label)"
			else
				fail "rewriting as Exim's -brw: $a ($label)" \
					"Exim: '$want', noq: '$got'"
			fi
		done
	done
else
	skip "rewriting as Exim's -brw" "no Exim (tools/deps --bench), or not root"
fi

# The port in hex, as Exim reads it: the same host and port.
POL_HEX=$(compile hex -D HEX_PORT=1) || exit 99
run "$msg/simple.msg" "$NOQ" -C "$POL_HEX" --dry-run -i bob@example.net
first=$(sed -n 1p "$tmp/out" | tr -d '\r')
if [ "$rc" -eq 0 ] && [ "$first" = "# host 127.0.0.1 port 2525" ]; then
	pass "port = 0x9dd"
else
	fail "port = 0x9dd" "exit $rc, first line '$first'"
	show "$tmp/err"
fi

# message_id_header_text and message_id_header_domain, expanded for the
# message; what Exim does not allow there becomes '-' (the text's blank and
# dot, the domain's '_'); the Received id is the id alone.
# timezone: the Date and Received times are in the policy's zone, never
# in the caller's TZ (without the option, the system's zone, as Exim).
POL_MAIN=$(compile main -D MAIN_OPTS=1) || exit 99
run "$msg/nofrom.msg" env TZ=Asia/Tokyo "$NOQ" -C "$POL_MAIN" --dry-run bob@example.net
if [ "$rc" -eq 0 ] && grep -Eq '^Date: .* -0[45]00.$' "$tmp/out"; then
	pass "timezone sets the zone of Date"
else
	fail "timezone sets the zone of Date" "exit $rc"
	grep '^Date' "$tmp/out"
	show "$tmp/err"
fi
sysz=$(env -u TZ date +%z)
run "$msg/nofrom.msg" env TZ=Asia/Tokyo "$NOQ" -C "$POL" --dry-run bob@example.net
if [ "$rc" -eq 0 ] && grep '^Date: ' "$tmp/out" | tr -d '\r' | grep -q " $sysz\$"; then
	pass "without timezone, the caller's TZ is not used"
else
	fail "without timezone, the caller's TZ is not used" "exit $rc, zone $sysz"
	grep '^Date' "$tmp/out"
fi
# Bcc goes without -t too (beyond Exim: nodemailer and other libraries
# leave it in); bcc_remove = false keeps Exim's way.
run "$msg/fixups.msg" "$NOQ" -C "$POL" --dry-run -i bob@example.net
if [ "$rc" -eq 0 ] && ! grep -qi '^Bcc:' "$tmp/out"; then
	pass "Bcc removed without -t"
else
	fail "Bcc removed without -t" "exit $rc"
fi
run "$msg/fixups.msg" "$NOQ" -C "$POL_MAIN" --dry-run -i bob@example.net
if [ "$rc" -eq 0 ] && grep -q '^Bcc: eve@example.net' "$tmp/out"; then
	pass "bcc_remove = false: Bcc kept without -t, as Exim"
else
	fail "bcc_remove = false: Bcc kept without -t, as Exim" "exit $rc"
fi
# return_path_remove, envelope_to_remove, delivery_date_remove = false:
# the fields stay.
run "$msg/fixups.msg" "$NOQ" -C "$POL_MAIN" --dry-run -i bob@example.net
if [ "$rc" -eq 0 ] && [ "$(grep -Eci '^(return-path|envelope-to|delivery-date):' "$tmp/out")" -eq 4 ]
then
	pass "*_remove = false keeps Return-Path, Envelope-To and Delivery-Date"
else
	fail "*_remove = false keeps Return-Path, Envelope-To and Delivery-Date" "exit $rc"
	show "$tmp/out"
fi
# unknown_login and unknown_username: a caller with no passwd entry.
if is_root && command -v setpriv >/dev/null 2>&1; then
	run "$msg/nofrom.msg" setpriv --reuid=54321 --regid=54321 --clear-groups -- \
		"$NOQ" -C "$POL_MAIN" --dry-run bob@example.net
	if [ "$rc" -eq 0 ] && grep -q '^MAIL FROM:<ghost54321@example.org>' "$tmp/out" &&
		grep -q '^From: Ghost User <ghost54321@example.org>' "$tmp/out"; then
		pass "unknown_login and unknown_username"
	else
		fail "unknown_login and unknown_username" "exit $rc"
		show "$tmp/out"
		show "$tmp/err"
	fi
	run "$msg/nofrom.msg" setpriv --reuid=54321 --regid=54321 --clear-groups -- \
		"$NOQ" -C "$POL" --dry-run bob@example.net
	if [ "$rc" -eq 0 ] && grep -q '^MAIL FROM:<uid54321@example.org>' "$tmp/out"; then
		pass "no passwd entry and no unknown_login: uidN"
	else
		fail "no passwd entry and no unknown_login: uidN" "exit $rc"
		show "$tmp/err"
	fi
else
	skip "unknown_login" "needs root and setpriv"
fi

# allow_domain_literals (for -f, as Exim) and strip_trailing_dot.
run "$msg/nofrom.msg" "$NOQ" -C "$POL" --dry-run -f 'x@[192.0.2.1]' bob@example.net
expect "a domain literal in -f needs allow_domain_literals" 1 "" \
"noq: invalid sender address 'x@[192.0.2.1]': domain literals not allowed (allow_domain_literals)"
run "$msg/nofrom.msg" "$NOQ" -C "$POL_MAIN" --dry-run -f 'x@[192.0.2.1]' bob@example.net.
if [ "$rc" -eq 0 ] && grep -q '^MAIL FROM:<x@\[192.0.2.1\]>' "$tmp/out" &&
	grep -q '^RCPT TO:<bob@example.net>' "$tmp/out"; then
	pass "allow_domain_literals and strip_trailing_dot"
else
	fail "allow_domain_literals and strip_trailing_dot" "exit $rc"
	show "$tmp/err"
fi
# strip_excess_angle_brackets: "<<a@b>>" from broken callers.
run "$msg/nofrom.msg" "$NOQ" -C "$POL_MAIN" --dry-run -f '<<x@example.org>>' \
	'<<bob@example.net>>'
if [ "$rc" -eq 0 ] && grep -Fq 'MAIL FROM:<x@example.org> ' "$tmp/out" &&
	grep -q '^RCPT TO:<bob@example.net>' "$tmp/out"; then
	pass "strip_excess_angle_brackets"
else
	fail "strip_excess_angle_brackets" "exit $rc"
	show "$tmp/err"
fi
run "$msg/nofrom.msg" "$NOQ" -C "$POL" --dry-run bob@example.net.
expect "a trailing dot needs strip_trailing_dot" 1 "" \
"noq: invalid address: bob@example.net.: domain ends with '.' at offset 15"
# recipients_max, on the command line and with -t.
run "$msg/nofrom.msg" "$NOQ" -C "$POL_MAIN" --dry-run a@example.net b@example.net \
	c@example.net d@example.net
expect "recipients_max" 1 "" "noq: too many recipients: 4, and recipients_max is 3"
printf 'To: a@example.net, b@example.net\nCc: c@example.net, d@example.net\n\nhi\n' \
	>"$tmp/four.msg"
run "$tmp/four.msg" "$NOQ" -C "$POL_MAIN" --dry-run -t
expect "recipients_max with -t" 1 "" "noq: too many recipients: 4, and recipients_max is 3"
# header_line_maxsize counts a field with its continuation lines.
{
	printf 'Subject: a long field\nX-Long: %0150d\n %0150d\n\nbody\n' 0 0
} >"$tmp/longfield.msg"
run "$tmp/longfield.msg" "$NOQ" -C "$POL_MAIN" --dry-run bob@example.net
expect "header_line_maxsize" 1 "" \
"noq: message refused: the header field on line 2 is longer than 300 characters (header_line_maxsize)"
run "$tmp/longfield.msg" "$NOQ" -C "$POL" --dry-run bob@example.net
if [ "$rc" -eq 0 ]; then
	pass "no header_line_maxsize: no limit"
else
	fail "no header_line_maxsize: no limit" "exit $rc"
fi
# receive_timeout: the whole message must come in time.
{ sleep 4; cat "$msg/nofrom.msg"; } | $run_timeout "$NOQ" -C "$POL_MAIN" --dry-run \
	bob@example.net >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "receive_timeout" 1 "" \
"noq: message refused: timed out after 2 s reading the message (receive_timeout)"

POL_MSGID=$(compile msgid -D MSGID=A.B) || exit 99
run "$msg/nofrom.msg" "$NOQ" -C "$POL_MSGID" --dry-run -f carol@example.org bob@example.net
tr -d '\r' <"$tmp/out" >"$tmp/out.lf"
if [ "$rc" -eq 0 ] &&
	grep -Eq '^Message-Id: <E[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{6}\.CAROL-x-y@ids-a\.b\.example>$' \
		"$tmp/out.lf" &&
	grep -Eq '^	id [0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{6}$' "$tmp/out.lf"; then
	pass "message_id_header_text and message_id_header_domain"
else
	fail "message_id_header_text and message_id_header_domain" "exit $rc"
	grep -E '^Message-Id|id ' "$tmp/out.lf"
	show "$tmp/err"
fi

# The Sender rule and the gecos name, for a caller other than root.
if can_be_nobody; then
	run "$msg/nofrom.msg" "$as_nobody" "$NOQ" -C "$POL" --dry-run bob@example.net
	check_dry nobody-nofrom
	run "$msg/simple.msg" "$as_nobody" "$NOQ" -C "$POL" --dry-run bob@example.net
	check_dry nobody-sender
else
	skip "nobody-nofrom" "needs root and setpriv"
	skip "nobody-sender" "needs root and setpriv"
fi

# A uucp "From " line first (mail(1), mbox input): dropped; unless -f was
# given, its address is the sender (qualified), as Exim does -- checked
# against Exim 4.96 (-odq: envelope <ph10@example.org>, From added).
printf 'From ph10 Fri Jan  5 12:35 GMT 1996\nSubject: uucp\n\nbody\n' >"$tmp/uucp.msg"
run "$tmp/uucp.msg" "$NOQ" -C "$POL" --dry-run bob@example.net
tr -d '\r' <"$tmp/out" >"$tmp/out.lf"
if [ "$rc" -eq 0 ] && grep -Fq 'MAIL FROM:<ph10@example.org> ' "$tmp/out.lf" &&
	grep -Fxq 'From: ph10@example.org' "$tmp/out.lf" && ! grep -q '^From ' "$tmp/out.lf"; then
	pass "uucp From line: dropped, the sender"
else
	fail "uucp From line: dropped, the sender" "exit $rc"
	show "$tmp/out"
fi
run "$tmp/uucp.msg" "$NOQ" -C "$POL" --dry-run -f carol@example.org bob@example.net
tr -d '\r' <"$tmp/out" >"$tmp/out.lf"
if [ "$rc" -eq 0 ] && grep -Fq 'MAIL FROM:<carol@example.org> ' "$tmp/out.lf" &&
	! grep -q '^From ' "$tmp/out.lf"; then
	pass "uucp From line: -f wins"
else
	fail "uucp From line: -f wins" "exit $rc"
	show "$tmp/out"
fi
# uucp_from_pattern and uucp_from_sender of the policy.
printf 'From Ph10 whenever\nSubject: uucp\n\nbody\n' >"$tmp/uucp2.msg"
run "$tmp/uucp2.msg" "$NOQ" -C "$POL_MAIN" --dry-run bob@example.net
if [ "$rc" -eq 0 ] && grep -Fq 'MAIL FROM:<ph10@uucp.example> ' "$tmp/out"; then
	pass "uucp_from_pattern and uucp_from_sender"
else
	fail "uucp_from_pattern and uucp_from_sender" "exit $rc"
	show "$tmp/out"
	show "$tmp/err"
fi
# The default pattern does not match it: a body line, as before.
run "$tmp/uucp2.msg" "$NOQ" -C "$POL" --dry-run bob@example.net
if [ "$rc" -eq 0 ] && grep -q '^From Ph10 whenever' "$tmp/out"; then
	pass "a From line the pattern does not match stays"
else
	fail "a From line the pattern does not match stays" "exit $rc"
	show "$tmp/out"
fi

# rcpt_include_affixes: the prefix and suffix a router took off are not
# in RCPT TO (Exim's transport_rcpt_address()), unless the transport says.
POL_AFX=$(compile affix -D AFFIX=1) || exit 99
POL_AFXK=$(compile affix-keep -D AFFIX=1 -D RCPT_WITH_AFFIXES=1) || exit 99
run "$msg/nofrom.msg" "$NOQ" -C "$POL_AFX" --dry-run foo-bob+news@example.net carol@example.net
if [ "$rc" -eq 0 ] && grep -q '^RCPT TO:<bob@example.net>' "$tmp/out" &&
	grep -q '^RCPT TO:<carol@example.net>' "$tmp/out"; then
	pass "affixes are not in RCPT TO"
else
	fail "affixes are not in RCPT TO" "exit $rc"
	show "$tmp/out"
	show "$tmp/err"
fi
run "$msg/nofrom.msg" "$NOQ" -C "$POL_AFXK" --dry-run foo-bob+news@example.net
if [ "$rc" -eq 0 ] && grep -q '^RCPT TO:<foo-bob+news@example.net>' "$tmp/out"; then
	pass "rcpt_include_affixes"
else
	fail "rcpt_include_affixes" "exit $rc"
	show "$tmp/out"
fi

# local_from_prefix and local_from_suffix: a From that is the caller's
# address but for them needs no Sender field (nobody, an untrusted caller).
if can_be_nobody; then
	chmod 644 "$POL_MAIN"
	printf 'From: Nobody <lists-nobody+tag@example.org>\nSubject: x\n\nbody\n' \
		>"$tmp/affixfrom.msg"
	run "$tmp/affixfrom.msg" "$as_nobody" "$NOQ" -C "$POL_MAIN" --dry-run bob@example.net
	if [ "$rc" -eq 0 ] && ! grep -q '^Sender:' "$tmp/out"; then
		pass "local_from_prefix and local_from_suffix: no Sender"
	else
		fail "local_from_prefix and local_from_suffix: no Sender" "exit $rc"
		show "$tmp/out"
	fi
	run "$tmp/affixfrom.msg" "$as_nobody" "$NOQ" -C "$POL" --dry-run bob@example.net
	if [ "$rc" -eq 0 ] && grep -q '^Sender: .*<nobody@example.org>' "$tmp/out"; then
		pass "without local_from_prefix: Sender"
	else
		fail "without local_from_prefix: Sender" "exit $rc"
		show "$tmp/out"
	fi
else
	skip "local_from_prefix" "needs root and setpriv"
fi

# received_header_text: the field noq adds first, with ";" and the date
# on a line of their own, as Exim's received_header_gen().
run "$msg/nofrom.msg" "$NOQ" -C "$POL_MAIN" --dry-run bob@example.net
tr -d '\r' <"$tmp/out" >"$tmp/out.lf"
if [ "$rc" -eq 0 ] &&
	grep -Eq "^X-Received-Test: local $login for bob@example.net \(noq [^)]*\);\$" "$tmp/out.lf" &&
	sed -n '/^DATA$/{n;p;}' "$tmp/out.lf" | grep -q '^X-Received-Test:' &&
	! grep -q '^Received:' "$tmp/out.lf"; then
	pass "received_header_text"
else
	fail "received_header_text" "exit $rc"
	show "$tmp/out"
	show "$tmp/err"
fi
run "$msg/nofrom.msg" "$NOQ" -C "$POL_MAIN" --dry-run bob@example.net carol@example.net
if [ "$rc" -eq 0 ] && tr -d '\r' <"$tmp/out" | grep -q "^X-Received-Test: local $login for several "; then
	pass "received_header_text: \$received_for only for one recipient"
else
	fail "received_header_text: \$received_for only for one recipient" "exit $rc"
	show "$tmp/out"
fi

# gecos_pattern and gecos_name: the caller's name from the gecos field.
run "$msg/nofrom.msg" "$NOQ" -C "$POL_MAIN" --dry-run bob@example.net
gname=$(getent passwd "$login" | cut -d: -f5 | cut -d, -f1 | tr '[:lower:]' '[:upper:]')
if [ -z "$gname" ]; then
	skip "gecos_pattern and gecos_name" "the caller has no gecos field"
elif [ "$rc" -eq 0 ] && tr -d '\r' <"$tmp/out" | grep -Fxq "From: $gname via gecos <$login@example.org>"; then
	pass "gecos_pattern and gecos_name"
else
	fail "gecos_pattern and gecos_name" "exit $rc, want $gname"
	grep '^From' "$tmp/out"
fi

# percent_hack_domains (Exim's deliver_split_address()): while the domain
# is in the list and the local part holds a '%', the last '%' becomes '@';
# -bt shows the original under the new address, RCPT TO has the new one.
# The list names local_domains: Exim keeps the result of a named list with
# the address, so root%example.org@relay.example, for which
# +local_domains said no (relay.example), skips the alias router whose
# domains are +local_domains, and root%relay.example@example.org, for
# which it said yes, is an alias (Exim 4.96 does the same).
POL_PCT=$(compile percent -D PERCENT_HACK=1) || exit 99
run "$tmp/empty" "$NOQ" -C "$POL_PCT" -bt 'bob%example.net@relay.example' \
	'a%b%example.net@example.org' 'bob%example.net@example.net'
expect "-bt percent hack" 0 "bob@example.net
    <-- bob%example.net@relay.example
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]
a@b
    <-- a%b%example.net@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]
bob%example.net@example.net
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]" ""
run "$tmp/empty" "$NOQ" -C "$POL_PCT" -bt 'root%example.org@relay.example' 'root%relay.example'
expect "-bt percent hack: the named list's result stays" 0 "root@example.org
    <-- root%example.org@relay.example
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]
admin@example.org
    <-- root@relay.example
    <-- root%relay.example@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]" ""
run "$msg/nofrom.msg" "$NOQ" -C "$POL_PCT" --dry-run 'bob%example.net@relay.example' \
	'carol%x.example@other.example'
if [ "$rc" -eq 0 ] && grep -q '^RCPT TO:<bob@example.net>' "$tmp/out" &&
	grep -q '^RCPT TO:<carol%x.example@other.example>' "$tmp/out"; then
	pass "percent hack: RCPT TO has the new address"
else
	fail "percent hack: RCPT TO has the new address" "exit $rc"
	show "$tmp/out"
	show "$tmp/err"
fi

# Exim's rules for who may set the sender, when the policy has any of
# trusted_users, trusted_groups and untrusted_set_sender; without them,
# anyone may (noq's default, shown by nobody-sender above).
if can_be_nobody; then
	POL_SR=$(compile sender-rules -D SENDER_RULES=1) || exit 99
	chmod 644 "$POL_SR"
	# sender_rule CASE WHO FROM EXPECTED-MAIL-FROM
	sender_rule() {
		case $2 in
		nobody) run "$msg/nofrom.msg" "$as_nobody" "$NOQ" -C "$POL_SR" --dry-run \
			-f "$3" bob@example.net ;;
		daemon) run "$msg/nofrom.msg" setpriv --reuid=daemon --regid=daemon \
			--clear-groups -- "$NOQ" -C "$POL_SR" --dry-run -f "$3" bob@example.net ;;
		mailgroup) run "$msg/nofrom.msg" setpriv --reuid=nobody --regid="$nobody_gid" \
			--groups=mail -- "$NOQ" -C "$POL_SR" --dry-run -f "$3" bob@example.net ;;
		esac
		if [ "$rc" -eq 0 ] && grep -Fq "MAIL FROM:<$4> " "$tmp/out"; then
			pass "$1"
		else
			fail "$1" "exit $rc"
			show "$tmp/out"
			show "$tmp/err"
		fi
	}
	sender_rule "untrusted_set_sender matches: -f taken" nobody x@allowed.example \
		x@allowed.example
	sender_rule "untrusted_set_sender does not match: the caller's address" nobody \
		x@other.example nobody@example.org
	sender_rule "<> is allowed to anyone" nobody '<>' ''
	sender_rule "trusted_users: -f taken" daemon x@other.example x@other.example
	sender_rule "trusted_groups (a supplementary group): -f taken" mailgroup \
		x@other.example x@other.example
	# An untrusted caller's From line goes, but does not set the sender.
	run "$tmp/uucp.msg" "$as_nobody" "$NOQ" -C "$POL_SR" --dry-run bob@example.net
	if [ "$rc" -eq 0 ] && grep -Fq 'MAIL FROM:<nobody@example.org> ' "$tmp/out" &&
		! grep -q '^From ' "$tmp/out"; then
		pass "uucp From line of an untrusted caller: dropped only"
	else
		fail "uucp From line of an untrusted caller: dropped only" "exit $rc"
		show "$tmp/out"
	fi
	# The untrusted caller whose -f was not taken gets no Sender field
	# (the From is the caller's own address); a trusted one gets none either.
	run "$msg/nofrom.msg" "$as_nobody" "$NOQ" -C "$POL_SR" --dry-run -f x@other.example \
		bob@example.net
	if [ "$rc" -eq 0 ] && tr -d '\r' <"$tmp/out" | grep -q '^From: .*<nobody@example.org>$' &&
		! grep -q '^Sender:' "$tmp/out"; then
		pass "-f not taken: From is the caller, no Sender"
	else
		fail "-f not taken: From is the caller, no Sender" "exit $rc"
		show "$tmp/out"
	fi
else
	skip "sender rules" "needs root and setpriv"
fi

# -v lists what it ignored, on stderr; the dry run is unchanged.
run "$msg/simple.msg" "$NOQ" -C "$POL" --dry-run -v -oem -B8BITMIME -odi -i bob@example.net
tr -d '\r' <"$tmp/out" >"$tmp/out.lf"
if [ "$rc" -eq 0 ] && grep -Fxq 'noq: -v: accepted and ignored: -oem -B 8BITMIME -odi' "$tmp/err" &&
	grep -Fxq 'RCPT TO:<bob@example.net>' "$tmp/out.lf"; then
	pass "-v traces ignored options"
else
	fail "-v traces ignored options" "exit $rc"
	show "$tmp/err"
fi

# ---- mail loops: received_headers_max (Exim's default 30) ---------------------

# 30 Received fields and the one noq adds are one too many: every
# recipient fails, in Exim's words (checked against Exim 4.96 in
# mua_wrapper mode); 29 go through.
i=0
while [ $i -lt 30 ]; do
	printf 'Received: from h%d by relay.example; Mon, 7 Dec 2026 10:00:00 +0000\n' $i
	i=$((i + 1))
done >"$tmp/loop"
printf 'Subject: loop\n\nbody\n' >>"$tmp/loop"
run "$tmp/loop" "$NOQ" -C "$POL" --dry-run bob@example.net carol@example.net
expect "30 Received fields: a suspected mail loop" 1 "" \
"routing bob@example.net yielded a failed delivery: Too many \"Received\" headers - suspected mail loop"
tail -n +2 "$tmp/loop" >"$tmp/loop29"
run "$tmp/loop29" "$NOQ" -C "$POL" --dry-run bob@example.net
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ]; then
	pass "29 Received fields: delivered"
else
	fail "29 Received fields: delivered" "exit $rc"
	show "$tmp/err"
fi

# ---- message_size_limit --------------------------------------------------------

POL_SMALL=$(compile small -D SIZE_LIMIT=1K) || exit 99
{ printf 'Subject: big\n\n'; i=0; while [ $i -lt 20 ]; do
	printf '%s\n' 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'
	i=$((i + 1)); done; } >"$tmp/big"
run "$tmp/big" "$NOQ" -C "$POL_SMALL" --dry-run bob@example.net
expect "message_size_limit" 1 "" "noq: message refused: the message is larger than 1024 octets"
run "$msg/simple.msg" "$NOQ" -C "$POL_SMALL" --dry-run -i bob@example.net
if [ "$rc" -eq 0 ]; then pass "message_size_limit, smaller message"; else
	fail "message_size_limit, smaller message" "exit $rc"; show "$tmp/err"; fi
# A value Exim cannot read (its test 0439): noqc warns, and noq, as Exim,
# takes no message, on the command line or in -bs.
POL_HUGE=$(compile huge -D SIZE_LIMIT=8796093022208M) || exit 99
run "$msg/simple.msg" "$NOQ" -C "$POL_HUGE" --dry-run -i bob@example.net
expect "message_size_limit Exim cannot read" 1 "" \
"noq: invalid value for message_size_limit: absolute value of integer \"8796093022208M\" is too large (overflow)"
printf 'QUIT\r\n' >"$tmp/quit"
run "$tmp/quit" "$NOQ" -C "$POL_HUGE" -bs
tr -d '\r' <"$tmp/out" >"$tmp/out.lf"
if [ "$rc" -eq 1 ] && text_is "$tmp/out.lf" "421 Temporary local problem - please try later"; then
	pass "message_size_limit Exim cannot read, -bs"
else
	fail "message_size_limit Exim cannot read, -bs" "exit $rc"
	show "$tmp/out"
fi

# ---- address testing --------------------------------------------------------------

run "$tmp/empty" "$NOQ" -C "$POL" -bt root
expect "-bt alias" 0 "admin@example.org
    <-- root@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bt chain1 bob@example.net
expect "-bt chain and plain address" 0 "final@example.net
    <-- chain3@example.org
    <-- chain2@example.org
    <-- chain1@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]
bob@example.net
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bt carol
expect "-bt keep a copy" 0 "carol@example.org
    <-- carol@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]
archive@example.net
    <-- carol@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bt nobody
expect "-bt :blackhole:" 0 "mail to nobody@example.org is discarded" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bt root postmaster
# As in Exim, each address is tested on its own: no duplicates across them.
expect "-bt: each address on its own" 0 "admin@example.org
    <-- root@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]
admin@example.org
    <-- root@example.org
    <-- postmaster@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bt olduser
expect "-bt :fail: exits 2" 2 \
"olduser@example.org is undeliverable: olduser has left; write to bob@example.net" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bt later
expect "-bt :defer: exits 1" 1 \
"later@example.org cannot be resolved at this time: the archive is being moved" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bt later olduser
expect "-bt failed wins over deferred" 2 \
"later@example.org cannot be resolved at this time: the archive is being moved
olduser@example.org is undeliverable: olduser has left; write to bob@example.net" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bt
expect "-bt without addresses" 1 "" "noq: -bt needs at least one address"
run "$tmp/empty" "$NOQ" -C "$POL" -bv root
expect "-bv alias" 0 "root@example.org verified" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bv olduser
expect "-bv :fail: exits 2" 2 \
"olduser@example.org failed to verify: olduser has left; write to bob@example.net" ""
run "$tmp/empty" "$NOQ" -C "$POL" -bv later
expect "-bv :defer: exits 1" 1 \
"later@example.org cannot be verified at this time: the archive is being moved" ""

# A :fail: message is another user's text (an alias file, a .forward) on
# its way to the sender's terminal: an escape sequence that retitles the
# window or clears the screen, a C1 CSI, a right-to-left override -- each
# becomes '?' in -bt, in the dry run's refusal and in -bs replies.
hostile=$tmp/hostile
mkdir -p "$hostile" && cp "$tdir/test.conf" "$tdir/aliases" "$hostile/" || exit 99
printf 'hostile:\t:fail: gone\033]0;pwned\007 \033[2J\302\233 2J \342\200\256txt.exe\n' \
	>>"$hostile/aliases"
"$NOQC" -o "$hostile/test.policy" "$hostile/test.conf" >/dev/null 2>&1 || exit 99
run "$tmp/empty" "$NOQ" -C "$hostile/test.policy" -bt hostile
expect "-bt: a :fail: message's escape sequences cleaned" 2 \
"hostile@example.org is undeliverable: gone?]0;pwned? ?[2J? 2J ?txt.exe" ""
run "$tmp/empty" "$NOQ" -C "$hostile/test.policy" --dry-run -i hostile
expect "the dry run: a :fail: message's escape sequences cleaned" 1 "" \
"routing hostile@example.org yielded a failed delivery: gone?]0;pwned? ?[2J? 2J ?txt.exe"
printf 'HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<hostile>\r\nDATA\r\n\r\nhi\r\n.\r\nQUIT\r\n' >"$tmp/bs-hostile"
run "$tmp/bs-hostile" "$NOQ" -C "$hostile/test.policy" -bs
if [ "$rc" -eq 0 ] && grep -q '^550 .*gone?\]0;pwned? ?\[2J? 2J ?txt\.exe' "$tmp/out" &&
	! LC_ALL=C grep -q "$(printf '[\001-\010\013\014\016-\037\177]')" "$tmp/out" &&
	! LC_ALL=C grep -q "$(printf '\302\233\|\342\200\256')" "$tmp/out"; then
	pass "-bs: a :fail: message's escape sequences cleaned"
else
	fail "-bs: a :fail: message's escape sequences cleaned" "exit $rc; $(od -c "$tmp/out" | head -20)"
fi

# ---- the other modes ------------------------------------------------------------------

queue="Mail queue is empty: noq has no queue; every message is delivered or refused when it is submitted."
run "$tmp/empty" "$NOQ" -bp
expect "-bp" 0 "$queue" ""
ln -s "$NOQ" "$tmp/mailq" && ln -s "$NOQ" "$tmp/newaliases" || exit 99
run "$tmp/empty" "$tmp/mailq"
expect "mailq" 0 "$queue" ""

run "$tmp/empty" "$NOQ" -C "$POL" -bV
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] &&
	head -n 1 "$tmp/out" | grep -Eq '^noq [0-9][^ ]* \(sendmail-compatible submitter: no queue, no daemon\)$' &&
	sed -n 2p "$tmp/out" | grep -Fq "policy $POL, compiled by noqc " &&
	[ "$(sed -n 3p "$tmp/out")" = "policy is up to date with ${POL%.policy}.conf" ] &&
	[ "$(wc -l <"$tmp/out")" -eq 3 ]; then
	pass "-bV"
else
	fail "-bV" "exit $rc, output:"
	show "$tmp/out"; show "$tmp/err"
fi
run "$tmp/empty" "$NOQ" --help
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] &&
	[ "$(head -n 1 "$tmp/out")" = "usage: noq [options] [--] [recipient ...]" ] &&
	grep -q -- '--dry-run' "$tmp/out"; then
	pass "--help"
else
	fail "--help" "exit $rc"
	show "$tmp/out"; show "$tmp/err"
fi

# ---- a policy older than its sources ------------------------------------------------

# noq finds the sources beside the policy (paths relative to the main
# configuration's directory), digests any modified after the policy, and
# warns; the message still goes out under the policy as compiled.
agedir=$tmp/age
mkdir "$agedir" && cp "$tdir/test.conf" "$tdir/aliases" "$POL" "$agedir/" || exit 99
touch -r "$POL" "$agedir/test.conf" "$agedir/aliases" "$agedir/test.policy"
run "$tmp/empty" "$NOQ" -C "$agedir/test.policy" -bt postmaster
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ]; then
	pass "a current policy: no warning"
else
	fail "a current policy: no warning" "exit $rc"; show "$tmp/err"
fi
# Touched but not changed: the digest still matches.
touch -d '+1 hour' "$agedir/aliases"
run "$tmp/empty" "$NOQ" -C "$agedir/test.policy" -bt postmaster
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ]; then
	pass "a source touched but unchanged: no warning"
else
	fail "a source touched but unchanged: no warning" "exit $rc"; show "$tmp/err"
fi
printf 'late:\tlate@example.net\n' >>"$agedir/aliases"
touch -d '+1 hour' "$agedir/aliases"
run "$tmp/empty" "$NOQ" -C "$agedir/test.policy" -bt late
expect "an alias file changed after the policy: warned, old policy used" 0 \
	"late@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]" \
	"noq: warning: the policy $agedir/test.policy is older than $agedir/aliases (changed since it was compiled); this message goes out under the policy as compiled; recompile it with newaliases, or noqc -o $agedir/test.policy $agedir/test.conf"
run "$tmp/empty" "$NOQ" -C "$agedir/test.policy" -bV
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] && [ "$(sed -n 3p "$tmp/out")" = \
	"policy is older than $agedir/aliases (changed since it was compiled): run newaliases, or noqc -o $agedir/test.policy $agedir/test.conf" ]; then
	pass "-bV: the policy is older than its alias file"
else
	fail "-bV: the policy is older than its alias file" "exit $rc"; show "$tmp/out"; show "$tmp/err"
fi
# -bV digests every source whatever its time: a change with an old mtime
# (a conffile kept by dpkg, a restored backup) is found too.
touch -d '2001-01-01' "$agedir/aliases"
run "$tmp/empty" "$NOQ" -C "$agedir/test.policy" -bV
if [ "$rc" -eq 0 ] && sed -n 3p "$tmp/out" | grep -q "^policy is older than $agedir/aliases "; then
	pass "-bV: a changed source with an older time"
else
	fail "-bV: a changed source with an older time" "exit $rc"; show "$tmp/out"
fi
run "$tmp/empty" "$NOQ" -bi -C "$agedir/test.policy"
run "$tmp/empty" "$NOQ" -C "$agedir/test.policy" -bV
if [ "$rc" -eq 0 ] && [ "$(sed -n 3p "$tmp/out")" = "policy is up to date with $agedir/test.conf" ]; then
	pass "-bV after -bi: up to date"
else
	fail "-bV after -bi: up to date" "exit $rc"; show "$tmp/out"
fi
rm "$agedir/aliases"
run "$tmp/empty" "$NOQ" -C "$agedir/test.policy" -bV
if [ "$rc" -eq 0 ] && [ "$(sed -n 3p "$tmp/out")" = "policy sources not all found beside it (1 of 2): $agedir/test.conf" ]; then
	pass "-bV: a source missing"
else
	fail "-bV: a source missing" "exit $rc"; show "$tmp/out"
fi
run "$tmp/empty" "$NOQ" -C "$agedir/test.policy" -bt postmaster
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ]; then
	pass "a source missing: no warning when sending (a policy may travel alone)"
else
	fail "a source missing: no warning when sending" "exit $rc"; show "$tmp/err"
fi

# ---- -bi and newaliases ------------------------------------------------------------

bidir=$tmp/bi
mkdir "$bidir" && cp "$tdir/test.conf" "$tdir/aliases" "$POL" "$bidir/" || exit 99
printf 'newalias:\tzed@example.net\n' >>"$bidir/aliases"
run "$tmp/empty" "$NOQ" -bi -C "$bidir/test.policy"
expect "-bi recompiles FILE.policy from FILE.conf" 0 \
	"noq: recompiled $bidir/test.policy from $bidir/test.conf" ""
run "$tmp/empty" "$NOQ" -C "$bidir/test.policy" -bt newalias
expect "-bi: the new alias is in use" 0 "zed@example.net
    <-- newalias@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]" ""
printf 'newalias:\tyves@example.net\n' >"$bidir/aliases"
run "$tmp/empty" "$tmp/newaliases" -C "$bidir/test.policy"
expect "newaliases" 0 "newaliases: recompiled $bidir/test.policy from $bidir/test.conf" ""
run "$tmp/empty" "$NOQ" -C "$bidir/test.policy" -bt newalias
expect "newaliases: the changed alias is in use" 0 "yves@example.net
    <-- newalias@example.org
  router = smarthost, transport = remote_smtp
  host 127.0.0.1 [127.0.0.1]" ""
cp "$bidir/test.policy" "$tmp/bi.saved" || exit 99
printf 'no_such_option = 1\n' >>"$bidir/test.conf"
run "$tmp/empty" "$NOQ" -bi -C "$bidir/test.policy"
if [ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ] &&
	[ "$(tail -n 1 "$tmp/err")" = "noq: $bidir/test.policy was not recompiled: noqc failed (see above); the old policy stays in use" ] &&
	grep -q 'no_such_option' "$tmp/err" && cmp -s "$tmp/bi.saved" "$bidir/test.policy"; then
	pass "-bi with a broken configuration keeps the old policy"
else
	fail "-bi with a broken configuration keeps the old policy" "exit $rc"
	show "$tmp/out"; show "$tmp/err"
fi
run "$tmp/empty" "$NOQ" -bi -C "$POL.bin"
expect "-bi -C without .policy" 1 "" \
	"noq: -bi with -C needs a policy named FILE.policy, compiled from FILE.conf"
if can_be_nobody; then
	run "$tmp/empty" "$as_nobody" "$NOQ" -bi -C "$POL"
	expect "-bi by a user who may not write the policy" 1 "" \
"noq: you may not write $POL; its owner can recompile it with:
  noqc -o $POL ${POL%.policy}.conf"
else
	skip "-bi by a user who may not write the policy" "needs root and setpriv"
fi

# ---- refusals: exit 1, the reason on stderr, nothing on stdout ---------------------

refuse() {  # refuse NAME STDERR ARGS...: noq ARGS, with simple.msg as input
	rname=$1 rerr=$2
	shift 2
	run "$msg/simple.msg" "$NOQ" "$@"
	expect "$rname" 1 "" "$rerr"
}
daemon="noq has no daemon and no queue; it delivers each message when it is submitted"
refuse "-bd" "noq: -bd: $daemon
$see" -C "$POL" -bd
refuse "-bdf" "noq: -bdf: $daemon
$see" -C "$POL" -bdf
refuse "-q" "noq: -q: $daemon
$see" -C "$POL" -q
refuse "-q30m" "noq: -q30m: $daemon
$see" -C "$POL" -q30m
refuse "-bs with --dry-run" "noq: --dry-run cannot be used with -bs (the dry run writes to standard output, which is the SMTP session)" \
	-C "$POL" --dry-run -bs
refuse "unknown option -x" "noq: unknown option -x
$see" -C "$POL" -x bob@example.net
refuse "unknown option --frobnicate" "noq: unknown option --frobnicate
$see" -C "$POL" --frobnicate bob@example.net
refuse "unknown option in a bundle" "noq: unknown option -z in -tz
$see" -C "$POL" -tz
refuse "two -b modes" "noq: -bv conflicts with an earlier -b option
$see" -C "$POL" -bt -bv root
refuse "-f without its value" "noq: option -f needs a value
$see" -C "$POL" -i -f
refuse "-R hdr" "noq: -R takes 'hdrs' or 'full', not 'hdr'
$see" -C "$POL" -R hdr bob@example.net
refuse "-N never,success" "noq: -N: 'never' cannot be combined with other values
$see" -C "$POL" -N never,success bob@example.net
refuse "-f with LF" "noq: -f: the sender contains a line break
$see" -C "$POL" -f "$(printf 'a@example.org\nBcc: x@example.net')" bob@example.net
refuse "-f with CR" "noq: -f: the sender contains a line break
$see" -C "$POL" "-f$(printf 'a@example.org\rX: y')" bob@example.net
refuse "-F with LF" "noq: -F: the name contains a line break
$see" -C "$POL" -F "$(printf 'Eve\nBcc: x@example.net')" bob@example.net
refuse "-F with CR" "noq: -F: the name contains a line break
$see" -C "$POL" "-F$(printf 'Eve\rBcc: x@example.net')" bob@example.net
refuse "recipient with LF" "noq: recipient argument 2 contains a line break
$see" -C "$POL" bob@example.net "$(printf 'carol@example.org\nBcc: x@example.net')"
refuse "recipient with CR" "noq: recipient argument 1 contains a line break
$see" -C "$POL" "$(printf 'carol@example.org\r')"
refuse "invalid recipient" "noq: invalid address: bob@: missing domain after '@' at offset 3" \
	-C "$POL" --dry-run -i bob@
refuse "invalid recipients" "noq: invalid addresses:
  bob@: missing domain after '@' at offset 3
  <carol@example.org: unbalanced '<' at offset 0" \
	-C "$POL" --dry-run -i bob@ alice@example.org '<carol@example.org'
refuse "invalid sender" "noq: invalid sender address 'a@@example.org': invalid character '@' in domain at offset 2" \
	-C "$POL" --dry-run -i -f a@@example.org bob@example.net
refuse "no recipients" "noq: no recipients given: name them as arguments, or use -t to read them from the message" \
	-C "$POL" --dry-run -i
printf 'From: Alice <alice@example.org>\nTo: bob@example.net, carol@@example.org\nSubject: x\n\nx\n' >"$tmp/badto"
run "$tmp/badto" "$NOQ" -C "$POL" --dry-run -t
expect "-t with an invalid address" 1 "" \
	"noq: invalid address: carol@@example.org: invalid character '@' in domain at offset 6"
run "$msg/nofrom.msg" "$NOQ" -C "$POL" --dry-run -t bob@example.net
expect "-t: every recipient removed by the arguments" 1 "" \
	"noq: all -t recipients overridden by command line"
run "$msg/noheader.msg" "$NOQ" -C "$POL" --dry-run -t
expect "-t without recipients" 1 "" "noq: no recipients in message"

# ---- the policy ------------------------------------------------------------------------

refuse "missing policy" "noq: cannot use the policy $tmp/none.policy: No such file or directory" \
	-C "$tmp/none.policy" --dry-run -i bob@example.net
refuse "a directory as policy" "noq: cannot use the policy $tmp: not a regular file" \
	-C "$tmp" --dry-run -i bob@example.net
cp "$POL" "$tmp/damaged.policy" || exit 99
size=$(wc -c <"$POL")
# Flip one byte a third into the file: in the checksummed part (noq-policy(5):
# the alias data at the end has checksums of its own, checked by noqc --dump).
printf '\377' | dd of="$tmp/damaged.policy" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
if cmp -s "$POL" "$tmp/damaged.policy"; then
	printf '\376' | dd of="$tmp/damaged.policy" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
fi
run "$msg/simple.msg" "$NOQ" -C "$tmp/damaged.policy" --dry-run -i bob@example.net
if [ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
	grep -Eq "^noq: cannot use the policy $tmp/damaged.policy: checksum mismatch: header says [0-9a-f]{16}, contents give [0-9a-f]{16}\$" "$tmp/err"; then
	pass "damaged policy"
else
	fail "damaged policy" "exit $rc"
	show "$tmp/out"; show "$tmp/err"
fi
# The alias data is outside that checksum (noq-policy(5), ADATA): each
# lookup checks the blocks of the table it reads.  One changed byte there
# must never send mail elsewhere: noq refuses the message.
damaged_alias="^noq: router system_aliases: alias table of router 0: block [0-9]+ does not match its checksum: the policy is damaged; recompile it with noqc \\(the aliases policy: newaliases\\)\$"
# u64 offset of ADATA (section 12), u64 of ATABLES (section 8), u32 nslots
adata=$(od -An -tu8 -j$((112 + 11 * 32 + 8)) -N8 "$POL" | tr -d ' ')
atables=$(od -An -tu8 -j$((112 + 7 * 32 + 8)) -N8 "$POL" | tr -d ' ')
nslots=$(od -An -tu4 -j$((atables + 8)) -N4 "$POL" | tr -d ' ')
# A target: chain3's final@example.net made ginal@example.net.
at=$(grep -boa 'final@example.net' "$POL" | awk -F: -v a="$adata" '$1 >= a { print $1; exit }')
cp "$POL" "$tmp/alias-damaged.policy" || exit 99
printf g | dd of="$tmp/alias-damaged.policy" bs=1 seek="$at" conv=notrunc 2>/dev/null
run "$msg/simple.msg" "$NOQ" -C "$tmp/alias-damaged.policy" --dry-run -i chain1
if [ -n "$at" ] && [ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
	grep -Eq "$damaged_alias" "$tmp/err"; then
	pass "damaged alias target: refused"
else
	fail "damaged alias target: refused" "exit $rc"
	show "$tmp/out"; show "$tmp/err"
fi
# The slots: the first byte of each slot's hash changed in turn (one of
# them is root's: without a check, root would not be an alias then, and
# the mail would go to root@example.org).  -bt root answers as before or
# refuses as damaged.
run "$tmp/empty" "$NOQ" -C "$POL" -bt root
cp "$tmp/out" "$tmp/root.bt"
slot=0 refused=0 changed=0
while [ "$slot" -lt "${nslots:-0}" ]; do
	cp "$POL" "$tmp/alias-damaged.policy" || exit 99
	printf '\377' | dd of="$tmp/alias-damaged.policy" bs=1 seek=$((adata + 8 * slot)) \
		conv=notrunc 2>/dev/null
	run "$tmp/empty" "$NOQ" -C "$tmp/alias-damaged.policy" -bt root
	if [ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ] && grep -Eq "$damaged_alias" "$tmp/err"; then
		refused=$((refused + 1))
	elif [ "$rc" -ne 0 ] || ! cmp -s "$tmp/out" "$tmp/root.bt"; then
		changed=$((changed + 1))
		show "$tmp/out"; show "$tmp/err"
	fi
	slot=$((slot + 1))
done
if [ "$nslots" -gt 0 ] 2>/dev/null && [ "$changed" -eq 0 ] && [ "$refused" -gt 0 ]; then
	pass "damaged alias slots: -bt refused or unchanged ($refused of $nslots refused)"
else
	fail "damaged alias slots" "$changed of ${nslots:-?} changed the answer, $refused refused"
fi
head -c $((size - 1)) "$POL" >"$tmp/short.policy"
run "$msg/simple.msg" "$NOQ" -C "$tmp/short.policy" --dry-run -i bob@example.net
expect "truncated policy" 1 "" \
	"noq: cannot use the policy $tmp/short.policy: file is $((size - 1)) bytes, header says $size"
# A secret written in the configuration is in the policy: noqc writes it
# mode 0600 and says so; one read at send time leaves the policy 0644.
mkdir -p "$tmp/secret" || exit 99
for kind in literal file; do
	if [ $kind = literal ]; then
		send='^alice@example.org^hunter2'
	else
		send='^alice@example.org^${readfile{/etc/noq/secret}{}}'
	fi
	cat >"$tmp/secret/$kind.conf" <<EOF
begin routers
smarthost:
  driver = accept
  transport = t
begin transports
t:
  driver = smtp
  hosts = 127.0.0.1
  hosts_require_auth = *
begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  client_send = $send
EOF
	rm -f "$tmp/secret/$kind.policy"
	(umask 022 && "$NOQC" -o "$tmp/secret/$kind.policy" "$tmp/secret/$kind.conf") \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	mode=$(stat -c %a "$tmp/secret/$kind.policy" 2>/dev/null)
	if [ $kind = literal ]; then
		want=600
		grep -q "warning: authenticator 'plain': the secret in client_send is written in the configuration" "$tmp/err"
	else
		want=644
		! [ -s "$tmp/err" ]
	fi
	warned=$?
	if [ $rc -eq 0 ] && [ "$mode" = $want ] && [ $warned -eq 0 ]; then
		pass "policy mode with a $kind secret ($want)"
	else
		fail "policy mode with a $kind secret" "exit $rc, mode $mode, want $want"
		show "$tmp/err"
	fi
done
# The setgid model: a noq installed setgid to a group gives the group up
# before it reads a policy named with -C (sudo sendmail -C /etc/shadow).
# The policy here is readable by the group only: nobody, running a setgid
# copy of noq with -C, must still be refused.
if can_be_nobody && getent group mail >/dev/null 2>&1; then
	mkdir -p "$tmp/sgid" && chmod 755 "$tmp/sgid" || exit 99
	cp "$NOQ" "$tmp/sgid/noq" && chgrp mail "$tmp/sgid/noq" &&
		chmod 2755 "$tmp/sgid/noq" || exit 99
	cp "$POL" "$tmp/sgid/group.policy" && chgrp mail "$tmp/sgid/group.policy" &&
		chmod 640 "$tmp/sgid/group.policy" || exit 99
	run "$msg/simple.msg" "$as_nobody" "$tmp/sgid/noq" -C "$tmp/sgid/group.policy" \
		-bt bob@example.net
	if [ "$(stat -c %A "$tmp/sgid/noq")" != "-rwxr-sr-x" ]; then
		skip "setgid noq and -C" "cannot make a setgid file here"
	else
		expect "setgid noq gives up its group for -C" 1 "" \
			"noq: cannot use the policy $tmp/sgid/group.policy: Permission denied"
	fi
	# The same policy, readable by all: -C works, as the caller.
	chmod 644 "$tmp/sgid/group.policy" || exit 99
	run "$msg/simple.msg" "$as_nobody" "$tmp/sgid/noq" -C "$tmp/sgid/group.policy" \
		-bv bob@example.net
	expect "setgid noq with a readable -C policy" 0 "bob@example.net verified" ""
else
	skip "setgid noq and -C" "needs root, setpriv and a group 'mail'"
fi
cp "$POL" "$tmp/gw.policy" && chmod 664 "$tmp/gw.policy" || exit 99
refuse "group-writable policy" \
	"noq: cannot use the policy $tmp/gw.policy: unsafe policy file: group-writable (mode 0664)" \
	-C "$tmp/gw.policy" --dry-run -i bob@example.net
cp "$POL" "$tmp/ww.policy" && chmod 646 "$tmp/ww.policy" || exit 99
refuse "world-writable policy" \
	"noq: cannot use the policy $tmp/ww.policy: unsafe policy file: world-writable (mode 0646)" \
	-C "$tmp/ww.policy" --dry-run -i bob@example.net
if can_be_nobody; then
	run "$msg/simple.msg" "$as_nobody" "$NOQ" -C "$tmp/gw.policy" --dry-run -i bob@example.net
	expect "group-writable policy, unprivileged caller" 1 "" \
		"noq: cannot use the policy $tmp/gw.policy: unsafe policy file: group-writable (mode 0664)"
	cp "$POL" "$tmp/other.policy" && chown nobody "$tmp/other.policy" || exit 99
	refuse "policy owned by another user" \
		"noq: cannot use the policy $tmp/other.policy: unsafe policy file: owned by uid $(id -u nobody), not root or the caller" \
		-C "$tmp/other.policy" --dry-run -i bob@example.net
	run "$msg/simple.msg" "$as_nobody" "$NOQ" -C "$tmp/other.policy" --dry-run -i bob@example.net
	if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ]; then
		pass "policy owned by the caller"
	else
		fail "policy owned by the caller" "exit $rc"
		show "$tmp/err"
	fi
else
	skip "group-writable policy, unprivileged caller" "needs root and setpriv"
	skip "policy owned by another user" "needs root and setpriv"
	skip "policy owned by the caller" "needs root and setpriv"
fi

finish
