#!/bin/sh
# dkimsign.sh -- messages signed by runtime/dkim.c checked by an independent
# verifier: dkimpy (Debian's python3-dkim), through tests/dkimsign/verify.py,
# which makes the key record from the private key.
#
# tests/unit/dkim_sign_tool signs each message of a set (the RFC 8463
# example; dot lines, blanks and trailing empty lines; folded and
# repeated header fields; an empty body, no body, 8-bit text, a body of
# several 64 KiB blocks) with RFC 8463's Ed25519 and RSA keys and a
# 2048-bit RSA key, simple and relaxed, with Exim's default header list
# and with '=' and '+' names; then with selectors of every length from 1
# to 90, which move b= through every column of the folded field.  All must
# verify; a message whose body or signed header was changed afterwards
# must not, one whose unsigned header was changed still must.
#
# Environment (set by "make check"): top_srcdir.  Skipped (77) without
# python3-dkim or python3-cryptography.
# Usage: sh tests/dkimsign.sh

top_srcdir=${top_srcdir:-$(dirname "$0")/..}
PY=${PY:-/usr/bin/python3}
TOOL=${DKIM_SIGN_TOOL:-./tests/unit/dkim_sign_tool}
keys=$top_srcdir/tests/dkimsign
VERIFY="$PY $keys/verify.py"

if ! "$PY" -c 'import dkim, cryptography' 2>/dev/null; then
	echo "$0: python3-dkim or python3-cryptography missing: skipped"
	exit 77
fi
if [ ! -x "$TOOL" ]; then
	echo "$0: $TOOL not built (make check builds it)"
	exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-dkim.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# ---- the messages
m=$tmp/msg
mkdir "$m" || exit 99
printf 'From: Joe SixPack <joe@football.example.com>\r\nTo: Suzie Q <suzie@shopping.example.net>\r\nSubject: Is dinner ready?\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\nMessage-ID: <20030712040037.46341.5F8J@football.example.com>\r\n\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n' >"$m/rfc8463"
printf 'From: a@example.org\nTo: b@example.net\nSubject: dots\n\n.leading dot\n..two dots\n.\n  indented  text \t\nword\t\ttab  \n\n \n\t\n\n' >"$m/dots"
printf 'Received: from a by b;\n\tMon, 1 Jan 2024 00:00:00 +0000\nReceived: from c by d; Mon, 1 Jan 2024 00:00:01 +0000\nFrom: "A  B" <a@example.org>\nSubject: a long subject that is folded\n   over  three\n\tlines   \nTo: x@example.net,\n    y@example.net\nReceived: last\nCC: c@example.net\n\nbody\n' >"$m/folded"
printf 'From: a@example.org\nSubject: empty body\n\n' >"$m/empty"
printf 'From: a@example.org\nSubject: no body\n' >"$m/nobody"
printf 'From: a@example.org\nSubject: blank lines only\n\n\n\n \n\n' >"$m/blanks"
printf 'From: a@example.org\nSubject: 8-bit\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\ncaf\303\251  cr\303\250me\t br\303\273l\303\251e \n\302\240\n' >"$m/8bit"
{
	printf 'From: a@example.org\nSubject: large\n\n'
	i=0
	while [ $i -lt 3000 ]; do
		printf 'line %d of a large body,  with  runs of blanks \t and a tab\n' $i
		[ $((i % 7)) -eq 0 ] && printf '\n \n'
		i=$((i + 1))
	done
	printf '\n\n\n'
} >"$m/large"

# ---- every message, key, canonicalization and header list
n=0
for key in rfc8463-ed25519 rfc8463-rsa rsa-2048-pkcs8; do
	out=$tmp/$key
	mkdir "$out" || exit 99
	for f in "$m"/*; do
		for c in simple relaxed; do
			for h in default '=Received:From:Subject:+From:+To:CC:X-None'; do
				n=$((n + 1))
				if [ "$h" = default ]; then
					set --
				else
					set -- -H "$h"
				fi
				if ! "$TOOL" -c $c -d example.org -s sel -k "$keys/$key.pem" \
					"$@" "$f" >"$out/$n" 2>"$tmp/err"; then
					fail "$key $c $h $(basename "$f"): $(cat "$tmp/err")"
				fi
			done
		done
	done
	$VERIFY "$keys/$key.pem" "$out"/* || fail "$key: dkimpy does not verify"
done
echo "signed and verified $n messages"

# ---- b= in every column
out=$tmp/columns
mkdir "$out" || exit 99
sel=
i=0
while [ $i -lt 90 ]; do
	sel=${sel}s
	for c in simple relaxed; do
		"$TOOL" -c $c -d example.org -s "$sel" -i @example.org -t "$(date +%s)" \
			-k "$keys/rfc8463-ed25519.pem" -H From:Subject "$m/rfc8463" \
			>"$out/$i-$c" || fail "selector of $i octets"
	done
	i=$((i + 1))
done
$VERIFY "$keys/rfc8463-ed25519.pem" "$out"/* || fail "columns: dkimpy does not verify"

# ---- changed after signing
for c in simple relaxed; do
	"$TOOL" -c $c -d example.org -s sel -k "$keys/rfc8463-ed25519.pem" -H From:Subject \
		"$m/rfc8463" >"$tmp/signed-$c" || fail "signing for the changes"
	{ cat "$tmp/signed-$c"; printf 'more\r\n'; } >"$tmp/body-$c"
	sed 's/^Subject: Is dinner ready?/Subject: Is dinner ready!/' "$tmp/signed-$c" \
		>"$tmp/subject-$c"
	sed 's/^To: Suzie Q/To: Suzie R/' "$tmp/signed-$c" >"$tmp/to-$c"
	$VERIFY "$keys/rfc8463-ed25519.pem" "$tmp/body-$c" 2>/dev/null &&
		fail "$c: a changed body verifies"
	$VERIFY "$keys/rfc8463-ed25519.pem" "$tmp/subject-$c" 2>/dev/null &&
		fail "$c: a changed signed header field verifies"
	$VERIFY "$keys/rfc8463-ed25519.pem" "$tmp/to-$c" ||
		fail "$c: a change to an unsigned field breaks the signature"
done

[ $fails -eq 0 ] || exit 1
echo "dkimsign.sh: all passed"
