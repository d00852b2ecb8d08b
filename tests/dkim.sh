#!/bin/sh
# dkim.sh -- DKIM signing by noq's smtp transport (dkim_domain,
# dkim_selector, dkim_private_key, dkim_canon, dkim_sign_headers,
# dkim_identity, dkim_timestamps, dkim_strict, dkim_hash), proved by a
# verifier that owes nothing to noq: Debian's python3-dkim, driven by
# tests/dkim/verify.py.  Each signing case sends a message to the recording
# server (tests/smtp/faultsrv.py) and checks what it received -- every
# DKIM-Signature field verifies against DNS records made from the test
# keys, with the tags expected -- and the same for the message noq
# --dry-run prints.  The cases that must fail are shown to fail: a message
# altered after signing, a field added above oversigned ones, a key noq
# must not use.
#
# The keys are made at start by tests/dkim/mkkeys.sh (openssl needed); the
# selector of each is its name (rsa2048._domainkey.example.org), in three
# domains.  The configuration is tests/tlsdata/base.conf with the case's
# transport options (conf in tests/delivery/lib.sh).  The first cases check
# the verifier itself, on messages python3-dkim signed.
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir.
# Usage: sh tests/dkim.sh

. "${top_srcdir:-$(dirname "$0")/..}/tests/delivery/lib.sh"

VERIFY=$top_srcdir/tests/dkim/verify.py

if ! command -v openssl >/dev/null 2>&1; then
	echo "$0: no openssl command to make the test keys: skipped"
	exit 77
fi
if ! "$PY" -c 'import dkim, nacl' 2>/dev/null; then
	echo "$0: python3-dkim (and python3-nacl) not installed, see tools/deps --servers: skipped"
	exit 77
fi

keys=$tmp/keys
mkdir "$keys" || exit 99
sh "$top_srcdir/tests/dkim/mkkeys.sh" "$keys" || exit 99

# The DNS the verifier sees: every key under its own name as selector.
for d in example.org example.net example.com; do
	for k in rsa2048 rsa2048b rsa2048-pkcs1 rsa1024 ed25519 ed25519b; do
		printf '%s._domainkey.%s %s\n' "$k" "$d" "$(cat "$keys/$k.txt")"
	done
done >"$tmp/zone" || exit 99

# Exim's default dkim_sign_headers, as the verifier shows h= (hs): every
# name once, lowercased, sorted.  Exim lists a name even when the message
# has no such field, so that adding one breaks the signature.
DEFAULT_HEADERS="From:Sender:Reply-To:Subject:Date:Message-ID:To:Cc:MIME-Version:\
Content-Type:Content-Transfer-Encoding:Content-ID:Content-Description:\
Resent-Date:Resent-From:Resent-Sender:Resent-To:Resent-Cc:Resent-Message-ID:\
In-Reply-To:References:List-Id:List-Help:List-Unsubscribe:List-Subscribe:\
List-Post:List-Owner:List-Archive"
hs() { printf '%s\n' "$1" | tr ':' '\n' | tr '[:upper:]' '[:lower:]' | sort | paste -sd: -; }
HS_DEFAULT=$(hs "$DEFAULT_HEADERS")

# The body hashes of an empty body (RFC 6376 3.4.3 and 3.4.4, as amended
# by erratum 3192): simple hashes one CR LF, relaxed nothing.
BH_EMPTY_SIMPLE=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=
BH_EMPTY_RELAXED=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=

# The tags every signature of the common cases has.
R="d=example.org s=rsa2048 a=rsa-sha256 c=relaxed/relaxed"
E="d=example.org s=ed25519 a=ed25519-sha256 c=relaxed/relaxed"

# ---- messages ----------------------------------------------------------------

cat >"$tmp/msg" <<'EOF' || exit 99
From: Alice <alice@example.org>
To: bob@example.net
Subject: DKIM test
Message-ID: <dkim.1@example.org>
Date: Mon, 1 Jan 2001 00:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
X-Mailer: dkim.sh

hello, signed
a second line
EOF

# As the verifier's own cases sign it: CR LF line ends.
sed 's/$/\r/' "$tmp/msg" >"$tmp/msg.crlf" || exit 99

# Two fields of one name, for '='.
cat >"$tmp/keywords" <<'EOF' || exit 99
From: alice@example.org
To: bob@example.net
Subject: two keywords fields
Keywords: first
Keywords: second

body
EOF

# -t: the recipients from the header, the Bcc: field removed.
cat >"$tmp/bcc" <<'EOF' || exit 99
From: alice@example.org
To: bob@example.net
Cc: carol@example.net
Bcc: dave@example.com
Subject: -t with Bcc

the blind copy is not in the header, and not signed
EOF

# Lines that begin with a dot: stuffed on the wire, signed unstuffed.  A
# line of a dot alone is data only with -i.
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: dots\n\n.leading dot\n..two dots\n.\n...\n. \nend\n' \
	>"$tmp/dots-i" || exit 99
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: dots\n\n.leading dot\n..two dots\n...\n. \nend\n' \
	>"$tmp/dots" || exit 99

# An 8-bit body.
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: 8-bit\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nCaf\303\251 \342\202\254 \377\200 at eight bits\n' \
	>"$tmp/eight" || exit 99

# The same message with LF and with CR LF line ends, with and without a
# final line end.
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: line ends\n\nfirst\nlast\n' >"$tmp/lf" || exit 99
printf 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: line ends\r\n\r\nfirst\r\nlast\r\n' >"$tmp/crlf" || exit 99
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: line ends\n\nfirst\nlast' >"$tmp/nofinal" || exit 99

# Empty bodies: an empty line and nothing after it; no empty line at all.
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: empty body\n\n' >"$tmp/empty" || exit 99
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: no body\n' >"$tmp/nobody" || exit 99

# Blanks at line ends, runs of blanks, empty and blank lines at the end;
# and what relaxed makes of it (the same body hash).
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: blanks\n\n  a  b\t \tc   \nline two\t\n\n \t\n\n   \n\n' \
	>"$tmp/blanks" || exit 99
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: blanks\n\n a b c\nline two\n' \
	>"$tmp/blanks-relaxed" || exit 99

# Folded fields: continuation lines, tabs, blanks before the line end.
printf 'From: Alice\n\t<alice@example.org>\nTo: bob@example.net,\n  carol@example.net  \nSubject: a subject\n   folded\tover \n\tthree lines\n\nbody\n' \
	>"$tmp/folded" || exit 99

# A bare CR in the body (the header section may have none).
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: a bare CR\n\none\rtwo\nthree\r\n' \
	>"$tmp/cr" || exit 99

# About 1.5 MB: lines of every length up to 300 octets, blanks inside and
# at their ends, empty lines, leading dots, 50 empty lines at the end; the
# body hash is fed in pieces that end anywhere.
{
	printf 'From: alice@example.org\nTo: bob@example.net\nSubject: big\n\n'
	awk 'BEGIN {
		for (i = 1; i <= 10000; i++) {
			if (i % 13 == 0) { print ""; continue }
			n = (i * 7) % 300
			l = (i % 17 == 0) ? "." : ""
			for (j = 0; j < n; j++) l = l ((j % 11 == 10) ? ((j % 3) ? " " : "\t") : "x")
			for (j = 0; j < i % 5; j++) l = l ((j % 2) ? "\t" : " ")
			print l
		}
		for (i = 0; i < 50; i++) print ""
	}'
} >"$tmp/big" || exit 99

# No From:, Date: or Message-ID: noq adds them, and signs what it added.
printf 'To: bob@example.net\nSubject: fields added by noq\n\nbody\n' >"$tmp/bare" || exit 99

# A From: that noq's rewrite rule changes.
printf 'From: Alice <alice@old.example.org>\nTo: bob@example.net\nSubject: rewritten\n\nbody\n' \
	>"$tmp/old" || exit 99

# ---- helpers -----------------------------------------------------------------

# verify FILE [TAGS]: tests/dkim/verify.py on FILE, showing TAGS besides
# d, s, a and c (and with --top $top when it is set); its lines without
# their "sig N: " and sorted (the order of the signatures is noq's choice)
# in $tmp/v.out, its reasons in $tmp/v.err, its exit status in $vrc.
top=
verify() {
	"$PY" "$VERIFY" verify --dns "$tmp/zone" ${2:+--show "$2"} ${top:+--top "$top"} "$1" \
		>"$tmp/v.raw" 2>"$tmp/v.err"
	vrc=$?
	sed 's/^sig [0-9]*: //' "$tmp/v.raw" | sort >"$tmp/v.out"
}

# want_sigs FILE TAGS LINES: the verifier's results for FILE are LINES (in
# any order, "pass d=... s=... a=... c=..." and TAGS), and its exit status
# 0 when all of them pass, else 1.
want_sigs() {
	[ -n "$cwhy" ] && return
	verify "$1" "$2"
	want_file "the verifier's results for $(basename "$1")" "$tmp/v.out" \
		"$(printf '%s\n' "$3" | sort)"
	if [ -n "$cwhy" ]; then
		sed 's/^/  verifier: /' "$tmp/v.err" >>"$tmp/diff"
		return
	fi
	if grep -qv '^pass ' "$tmp/v.out"; then
		want "the verifier's exit status" "$vrc" 1
	else
		want "the verifier's exit status" "$vrc" 0
	fi
}

# want_unsigned FILE: FILE has no DKIM-Signature field (and a message).
want_unsigned() {
	[ -n "$cwhy" ] && return
	want "the message ($(basename "$1"))" "$(sed -n '$p' "$1" | tr -d '\r')" \
		"$(sed -n '$p' "$2" | tr -d '\r')"
	want_sigs "$1" "" "no DKIM-Signature field"
}

# tag FILE TAG: the value of TAG in the verifier's results for FILE (the
# first signature's).
tag() {
	verify "$1" "$2"
	sed -n "1s/.* $2=\\([^ ]*\\).*/\\1/p" "$tmp/v.out"
}

# edit OP FILE: FILE altered by OP (verify.py edit), into $tmp/edited.eml.
edit() {
	[ -n "$cwhy" ] && return
	"$PY" "$VERIFY" edit "$1" "$2" >"$tmp/edited.eml" 2>>"$tmp/diff" || cwhy=${cwhy:-"verify.py edit $1 failed"}
}

# unstuff FILE: the message in noq --dry-run's output FILE: the lines after
# DATA, dot-stuffing undone, up to the final dot.
unstuff() {
	awk 'd { if ($0 == ".\r") exit; sub(/^\./, ""); print; next }
		$0 == "DATA\r" { d = 1 }' "$1"
}

# signed NAME MSG [NOQ-ARGS...]: compile the case's transport options
# ($tmp/opts, see opts below) as the configuration NAME for a faultsrv on
# 127.0.0.1; noq -C NAME with MSG and NOQ-ARGS ($rc, $tmp/out, $tmp/err: see send in
# lib.sh); the message the server received in $tmp/NAME.eml; then the same
# with --dry-run: its exit status in $drc, its standard error in
# $tmp/dry.err and its message in $tmp/NAME.dry.
signed() {
	sname=$1 smsg=$2
	shift 2
	fault srv 127.0.0.1
	rm -f "$tmp/$sname.policy"
	conf "$sname" "127.0.0.1:$port" <"$tmp/opts"
	if [ -f "$tmp/$sname.policy" ]; then
		send "$sname" "$smsg" "$@"
	else
		rc=noqc # and noqc's messages in $tmp/err
	fi
	stop srv
	"$PY" "$FAULTSRV" --extract "$tmp/srv/t.json" 1.messages.1.body \
		>"$tmp/$sname.eml" 2>/dev/null || : >"$tmp/$sname.eml"
	$run_timeout "$NOQ" -C "$tmp/$sname.policy" --dry-run "$@" <"$smsg" \
		>"$tmp/dry.out" 2>"$tmp/dry.err"
	drc=$?
	unstuff "$tmp/dry.out" >"$tmp/$sname.dry"
}

# want_signed NAME TAGS LINES: noq and its dry run went well (exit 0,
# nothing on standard error), and both messages verify with these results
# (want_sigs).
want_signed() {
	want_rc 0
	want_err ""
	want "the dry run's exit status" "$drc" 0
	want_file "the dry run's standard error" "$tmp/dry.err" ""
	want_sigs "$tmp/$1.eml" "$2" "$3"
	want_sigs "$tmp/$1.dry" "$2" "$3"
}

# want_no_mail NAME: the faultsrv NAME was sent no MAIL command (noq did
# not connect, or left before MAIL FROM).
want_no_mail() {
	[ -n "$cwhy" ] && return
	case " $(x "$1" 1.verbs) $(x "$1" 2.verbs) " in
	*" MAIL "*) cwhy="$1 was sent MAIL: $(x "$1" 1.verbs)" ;;
	esac
	want_either "$1 1.data_sent" "$(x "$1" 1.data_sent)" false "(none)"
}

# want_stderr_match PATTERN: a line of noq's standard error matches the
# shell PATTERN.
want_stderr_match() {
	[ -n "$cwhy" ] && return
	while IFS= read -r l; do
		# shellcheck disable=SC2254
		case $l in
		$1) return ;;
		esac
	done <"$tmp/err"
	cwhy="standard error has no line like '$1'"
}

# opts KEY [LINE...]: the transport options of the next signed (in
# $tmp/opts): sign for example.org with the key KEY of $keys, its name the
# selector, and these lines ("  dkim_canon = simple").
opts() {
	printf '  dkim_domain = example.org\n  dkim_selector = %s\n  dkim_private_key = %s\n' \
		"$1" "$keys/$1.pem" >"$tmp/opts"
	shift
	for l in "$@"; do
		printf '%s\n' "$l" >>"$tmp/opts"
	done
}

# ---- 1. the verifier itself ---------------------------------------------------

# python3-dkim signs; verify.py must pass a good signature and fail every
# alteration, or no case below proves anything.
for k in rsa2048 ed25519 rsa2048-pkcs1; do
	for c in relaxed simple; do
		begin "the verifier: a python3-dkim signature ($k, $c) passes"
		"$PY" "$VERIFY" sign --key "$keys/$k.pem" --domain example.org --selector "$k" \
			--canon "$c" "$tmp/msg.crlf" >"$tmp/py.eml" 2>"$tmp/err" || cwhy="verify.py sign failed"
		case $k in
		ed*) a=ed25519-sha256 ;;
		*) a=rsa-sha256 ;;
		esac
		want_sigs "$tmp/py.eml" "" "pass d=example.org s=$k a=$a c=$c/$c"
		end
	done
done

begin "the verifier: an altered body octet fails the body hash"
"$PY" "$VERIFY" sign --key "$keys/rsa2048.pem" --domain example.org --selector rsa2048 \
	"$tmp/msg.crlf" >"$tmp/py.eml" 2>"$tmp/err" || cwhy="verify.py sign failed"
edit body "$tmp/py.eml"
want_sigs "$tmp/edited.eml" "" "fail-bh $R"
end

begin "the verifier: an altered signed field fails the signature"
edit header:subject "$tmp/py.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $R"
end

begin "the verifier: a field that was not signed may change"
edit header:x-mailer "$tmp/py.eml"
want_sigs "$tmp/edited.eml" "" "pass $R"
end

begin "the verifier: a signature under another selector's key fails"
sed '0,/s=rsa2048;/s//s=rsa2048b;/' "$tmp/py.eml" >"$tmp/edited.eml"
want_sigs "$tmp/edited.eml" "" "fail-b d=example.org s=rsa2048b a=rsa-sha256 c=relaxed/relaxed"
end

begin "the verifier: a DKIM-Signature after another field is reported"
"$PY" "$VERIFY" sign --key "$keys/rsa2048.pem" --domain example.org --selector rsa2048 \
	"$tmp/msg.crlf" >"$tmp/py.eml" 2>"$tmp/err"
{ printf 'Received: by test\r\n' && cat "$tmp/py.eml"; } >"$tmp/edited.eml"
want_sigs "$tmp/edited.eml" "" "FAIL: a DKIM-Signature field follows a received field
pass $R"
end

begin "the verifier: a bare LF is reported"
"$PY" "$VERIFY" sign --key "$keys/rsa2048.pem" --domain example.org --selector rsa2048 \
	"$tmp/msg.crlf" >"$tmp/py.eml" 2>"$tmp/err"
tr -d '\r' <"$tmp/py.eml" >"$tmp/edited.eml"
verify "$tmp/edited.eml"
want_match "the verifier's results" "$(head -n 1 "$tmp/v.out")" "FAIL: * bare LF"
want "the verifier's exit status" "$vrc" 1
end

begin "the verifier: a message without a signature"
want_sigs "$tmp/msg.crlf" "" "no DKIM-Signature field"
end

# ---- 2. keys, canonicalizations, tags ----------------------------------------------

begin "RSA 2048, relaxed by default: Exim's header list, no i=, t= or x="
opts rsa2048
signed rsa "$tmp/msg" bob@example.net
want_signed rsa "i,t,x,hs" "pass $R i=- t=- x=- hs=$HS_DEFAULT"
# SIZE= counts the DKIM-Signature field (and size_addition's 1024).
want_x srv 1.messages.1.mail "FROM:<$caller> SIZE=$(declared srv 1.messages.1.body_length)"
end

begin "RSA 2048 as PKCS#1 (RSA PRIVATE KEY)"
opts rsa2048-pkcs1
signed pkcs1 "$tmp/msg" bob@example.net
want_signed pkcs1 "" "pass d=example.org s=rsa2048-pkcs1 a=rsa-sha256 c=relaxed/relaxed"
end

begin "Ed25519 (RFC 8463): a=ed25519-sha256"
opts ed25519
signed ed "$tmp/msg" bob@example.net
want_signed ed "hs" "pass $E hs=$HS_DEFAULT"
end

begin "dkim_canon = simple: c=simple/simple, RSA and Ed25519"
opts rsa2048 "  dkim_canon = simple"
signed simple "$tmp/msg" bob@example.net
want_signed simple "" "pass d=example.org s=rsa2048 a=rsa-sha256 c=simple/simple"
opts ed25519 "  dkim_canon = simple"
signed simple-ed "$tmp/msg" bob@example.net
want_signed simple-ed "" "pass d=example.org s=ed25519 a=ed25519-sha256 c=simple/simple"
end

begin "dkim_canon = relaxed, said: c=relaxed/relaxed"
opts rsa2048 "  dkim_canon = relaxed"
signed relaxed "$tmp/msg" bob@example.net
want_signed relaxed "" "pass $R"
end

begin "dkim_identity and dkim_timestamps: i=, t= now, x= t+3600"
opts rsa2048 "  dkim_identity = alice@example.org" "  dkim_timestamps = 3600"
signed tags "$tmp/msg" bob@example.net
want_signed tags "i,t,x" "pass $R i=alice@example.org t=now x=t+3600"
end

begin "dkim_hash = sha256, said"
opts ed25519 "  dkim_hash = sha256"
signed sha256 "$tmp/msg" bob@example.net
want_signed sha256 "" "pass $E"
end

# ---- 3. the header list ----------------------------------------------------------

begin "dkim_sign_headers: only the fields listed are signed"
opts rsa2048 "  dkim_sign_headers = From:To:X-Mailer"
signed custom "$tmp/msg" bob@example.net
want_signed custom "hs" "pass $R hs=from:to:x-mailer"
edit header:subject "$tmp/custom.eml"
want_sigs "$tmp/edited.eml" "" "pass $R"
edit header:x-mailer "$tmp/custom.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $R"
end

begin "the default list: a Subject: added above the signed one is not caught"
# (The contrast to '+' below: one listing signs the last field only.)
opts rsa2048
signed plain "$tmp/msg" bob@example.net
want_signed plain "" "pass $R"
edit "prepend:Subject: added later" "$tmp/plain.eml"
want_sigs "$tmp/edited.eml" "" "pass $R"
edit "append:Subject: added later" "$tmp/plain.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $R"
edit "append:Cc: carol@example.net" "$tmp/plain.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $R"
end

begin "'+' oversigns: From: or Subject: added anywhere breaks the signature"
opts rsa2048 "  dkim_sign_headers = +From:+Subject:To"
signed plus "$tmp/msg" bob@example.net
want_signed plus "hs" "pass $R hs=from:from:subject:subject:to"
for f in "Subject: added later" "From: mallory@example.com"; do
	edit "prepend:$f" "$tmp/plus.eml"
	want_sigs "$tmp/edited.eml" "" "fail-b $R"
	edit "append:$f" "$tmp/plus.eml"
	want_sigs "$tmp/edited.eml" "" "fail-b $R"
done
end

begin "'=' signs every field of the name, and no more"
opts rsa2048 "  dkim_sign_headers = From:=Keywords"
signed equals "$tmp/keywords" bob@example.net
want_signed equals "hs" "pass $R hs=from:keywords:keywords"
edit first:keywords "$tmp/equals.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $R"
edit "prepend:Keywords: third" "$tmp/equals.eml"
want_sigs "$tmp/edited.eml" "" "pass $R"
end

begin "a plain name signs the last field of the name only"
opts rsa2048 "  dkim_sign_headers = From:Keywords"
signed last "$tmp/keywords" bob@example.net
want_signed last "hs" "pass $R hs=from:keywords"
edit first:keywords "$tmp/last.eml"
want_sigs "$tmp/edited.eml" "" "pass $R"
edit header:keywords "$tmp/last.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $R"
end

# ---- 4. domains and selectors ---------------------------------------------------

begin "two selectors: two signatures, each verifies"
cat >"$tmp/opts" <<EOF
  dkim_domain = example.org
  dkim_selector = rsa2048 : ed25519
  dkim_private_key = $keys/\${dkim_selector}.pem
EOF
signed sels "$tmp/msg" bob@example.net
want_signed sels "" "pass $R
pass $E"
end

begin "two domains (a third the same but for case, an empty one): a signature each"
cat >"$tmp/opts" <<EOF
  dkim_domain = example.org : example.net : : EXAMPLE.ORG
  dkim_selector = rsa2048
  dkim_private_key = $keys/rsa2048.pem
EOF
signed doms "$tmp/msg" bob@example.net
want_signed doms "" "pass $R
pass d=example.net s=rsa2048 a=rsa-sha256 c=relaxed/relaxed"
end

begin "three domains by two selectors: six signatures, each verifies"
cat >"$tmp/opts" <<EOF
  dkim_domain = example.org : example.net : example.com
  dkim_selector = rsa2048b : ed25519b
  dkim_private_key = $keys/\${dkim_selector}.pem
EOF
signed six "$tmp/msg" bob@example.net
want_signed six "" "$(for d in example.org example.net example.com; do
	echo "pass d=$d s=rsa2048b a=rsa-sha256 c=relaxed/relaxed"
	echo "pass d=$d s=ed25519b a=ed25519-sha256 c=relaxed/relaxed"
done)"
end

begin "dkim_domain from the From: address, as Exim configurations do"
printf 'From: Alice <alice@Example.NET>\nTo: bob@example.net\nSubject: from\n\nbody\n' >"$tmp/from-net"
cat >"$tmp/opts" <<EOF
  dkim_domain = \${lc:\${domain:\$h_from:}}
  dkim_selector = ed25519
  dkim_private_key = $keys/ed25519.pem
EOF
signed fromdom "$tmp/from-net" bob@example.net
want_signed fromdom "" "pass d=example.net s=ed25519 a=ed25519-sha256 c=relaxed/relaxed"
end

begin "selector and key chosen per domain (\$dkim_domain)"
cat >"$tmp/opts" <<EOF
  dkim_domain = example.org : example.net
  dkim_selector = \${if eq{\$dkim_domain}{example.net}{ed25519}{rsa2048}}
  dkim_private_key = $keys/\${if eq{\$dkim_domain}{example.net}{ed25519}{rsa2048}}.pem
EOF
signed perdom "$tmp/msg" bob@example.net
want_signed perdom "" "pass $R
pass d=example.net s=ed25519 a=ed25519-sha256 c=relaxed/relaxed"
end

begin "dkim_private_key 0 for one selector: that pair is not signed"
cat >"$tmp/opts" <<EOF
  dkim_domain = example.org
  dkim_selector = rsa2048 : ed25519
  dkim_private_key = \${if eq{\$dkim_selector}{ed25519}{0}{$keys/rsa2048.pem}}
EOF
signed skip1 "$tmp/msg" bob@example.net
want_signed skip1 "" "pass $R"
end

# shellcheck disable=SC2016
for v in 0 false '""' '${if eq{a}{b}{x}}'; do
	begin "dkim_private_key = $v: sent unsigned, without a word"
	cat >"$tmp/opts" <<EOF
  dkim_domain = example.org
  dkim_selector = rsa2048
  dkim_private_key = $v
EOF
	signed nokey "$tmp/msg" bob@example.net
	want_rc 0
	want_err ""
	want_unsigned "$tmp/nokey.eml" "$tmp/msg"
	want_unsigned "$tmp/nokey.dry" "$tmp/msg"
	end
done

begin "dkim_domain expanded to nothing: sent unsigned, without a word"
cat >"$tmp/opts" <<EOF
  dkim_domain = \${if eq{a}{b}{example.org}}
  dkim_selector = rsa2048
  dkim_private_key = $keys/rsa2048.pem
EOF
signed nodom "$tmp/msg" bob@example.net
want_rc 0
want_err ""
want_unsigned "$tmp/nodom.eml" "$tmp/msg"
end

# ---- 5. what goes on the wire ------------------------------------------------------

begin "-t with Bcc: the Bcc: field gone, the signature verifies"
opts rsa2048
signed bcc "$tmp/bcc" -t
want_signed bcc "hs" "pass $R hs=$HS_DEFAULT"
want_x srv 1.messages.1.rcpts '["TO:<bob@example.net>", "TO:<carol@example.net>", "TO:<dave@example.com>"]'
if grep -iq "^bcc:" "$tmp/bcc.eml"; then
	cwhy=${cwhy:-"the Bcc: field was sent"}
fi
want_absent "the Bcc: address" "dave@" "$tmp/bcc.eml"
end

begin "lines that begin with a dot, with -i (a dot alone is data)"
opts rsa2048
signed dots-i "$tmp/dots-i" -i bob@example.net
want_signed dots-i "" "pass $R"
want "the body received" "$(sed '1,/^\r$/d' "$tmp/dots-i.eml" | tr -d '\r')" \
	"$(sed '1,/^$/d' "$tmp/dots-i")"
end

begin "lines that begin with a dot, without -i"
opts rsa2048 "  dkim_canon = simple"
signed dots "$tmp/dots" bob@example.net
want_signed dots "" "pass d=example.org s=rsa2048 a=rsa-sha256 c=simple/simple"
want "the body received" "$(sed '1,/^\r$/d' "$tmp/dots.eml" | tr -d '\r')" \
	"$(sed '1,/^$/d' "$tmp/dots")"
end

begin "an 8-bit body"
opts ed25519
signed eight "$tmp/eight" bob@example.net
want_signed eight "" "pass $E"
end

for c in relaxed simple; do
	begin "LF, CR LF, no final line end: the same body hash ($c)"
	opts rsa2048 "  dkim_canon = $c"
	signed lf "$tmp/lf" bob@example.net
	want_signed lf "" "pass d=example.org s=rsa2048 a=rsa-sha256 c=$c/$c"
	bh_lf=$(tag "$tmp/lf.eml" bh)
	signed crlf "$tmp/crlf" bob@example.net
	want_signed crlf "" "pass d=example.org s=rsa2048 a=rsa-sha256 c=$c/$c"
	want "the body hash of CR LF input" "$(tag "$tmp/crlf.eml" bh)" "$bh_lf"
	signed nofinal "$tmp/nofinal" bob@example.net
	want_signed nofinal "" "pass d=example.org s=rsa2048 a=rsa-sha256 c=$c/$c"
	want "the body hash without a final line end" "$(tag "$tmp/nofinal.eml" bh)" "$bh_lf"
	end
done

for c in relaxed simple; do
	if [ $c = simple ]; then bh=$BH_EMPTY_SIMPLE; else bh=$BH_EMPTY_RELAXED; fi
	for m in empty nobody; do
		begin "an empty body ($m, $c): bh=$bh"
		opts ed25519 "  dkim_canon = $c"
		signed "$m" "$tmp/$m" bob@example.net
		want_signed "$m" "bh" "pass d=example.org s=ed25519 a=ed25519-sha256 c=$c/$c bh=$bh"
		end
	done
done

for c in relaxed simple; do
	begin "blanks at line ends, runs of blanks, empty lines at the end ($c)"
	opts rsa2048 "  dkim_canon = $c"
	signed blanks "$tmp/blanks" bob@example.net
	want_signed blanks "" "pass d=example.org s=rsa2048 a=rsa-sha256 c=$c/$c"
	bh_blanks=$(tag "$tmp/blanks.eml" bh)
	signed blanks2 "$tmp/blanks-relaxed" bob@example.net
	if [ $c = relaxed ]; then
		want "the body hash, blanks relaxed" "$(tag "$tmp/blanks2.eml" bh)" "$bh_blanks"
	else
		[ "$(tag "$tmp/blanks2.eml" bh)" != "$bh_blanks" ] ||
			cwhy=${cwhy:-"simple: the body hash ignores blanks"}
	fi
	end
done

for c in relaxed simple; do
	begin "folded fields ($c)"
	opts rsa2048 "  dkim_canon = $c"
	signed folded "$tmp/folded" bob@example.net
	want_signed folded "" "pass d=example.org s=rsa2048 a=rsa-sha256 c=$c/$c"
	end

	begin "a bare CR in the body ($c)"
	opts rsa2048 "  dkim_canon = $c"
	signed cr "$tmp/cr" bob@example.net
	want_signed cr "" "pass d=example.org s=rsa2048 a=rsa-sha256 c=$c/$c"
	end

	begin "a body of 1.5 MB, every line length, blanks and dots ($c)"
	opts ed25519 "  dkim_canon = $c"
	signed big "$tmp/big" bob@example.net
	want_signed big "" "pass d=example.org s=ed25519 a=ed25519-sha256 c=$c/$c"
	end
done

begin "a message altered after signing: a body octet, a signed field"
opts rsa2048
signed alter "$tmp/msg" bob@example.net
want_signed alter "" "pass $R"
edit body "$tmp/alter.eml"
want_sigs "$tmp/edited.eml" "" "fail-bh $R"
edit header:subject "$tmp/alter.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $R"
edit header:dkim-signature "$tmp/alter.eml"
verify "$tmp/edited.eml"
want "the verifier's exit status, b= altered" "$vrc" 1
end

begin "headers_add and headers_remove: the header as sent is signed"
printf 'From: alice@example.org\nTo: bob@example.net\nSubject: transport headers\nX-Remove: me\n\nbody\n' \
	>"$tmp/xhdr"
opts rsa2048 "  dkim_sign_headers = From:X-Added:X-Remove" "  headers_add = X-Added: yes" \
	"  headers_remove = X-Remove"
signed xhdr "$tmp/xhdr" bob@example.net
want_signed xhdr "hs" "pass $R hs=from:x-added:x-remove"
want_absent "the removed field" "X-Remove:" "$tmp/xhdr.eml"
grep -q '^X-Added: yes' "$tmp/xhdr.eml" || cwhy=${cwhy:-"no X-Added: field"}
edit header:x-added "$tmp/xhdr.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $R"
end

begin "-t with Resent- fields: Resent-Bcc: gone, the fields noq adds signed"
printf 'From: alice@example.org\nTo: bob@example.net\nResent-From: carol@example.org\nResent-To: dave@example.net\nResent-Bcc: eve@example.net\nSubject: resent\n\nbody\n' \
	>"$tmp/resent"
opts ed25519
signed resent "$tmp/resent" -t
want_signed resent "" "pass $E"
want_x srv 1.messages.1.rcpts '["TO:<dave@example.net>", "TO:<eve@example.net>"]'
want_absent "the Resent-Bcc: address" "eve@" "$tmp/resent.eml"
edit header:resent-date "$tmp/resent.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $E"
end

begin "a message signed before: noq's signature on top, both verify"
"$PY" "$VERIFY" sign --key "$keys/rsa2048b.pem" --domain example.net --selector rsa2048b \
	"$tmp/msg.crlf" >"$tmp/presigned" 2>"$tmp/err" || cwhy="verify.py sign failed"
opts ed25519
signed resign "$tmp/presigned" bob@example.net
top=1
want_signed resign "" "pass $E
pass d=example.net s=rsa2048b a=rsa-sha256 c=relaxed/relaxed"
top=
end

begin "-bs: a message from an SMTP client, dot-stuffed, is signed"
printf 'EHLO client.example.org\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nFrom: alice@example.org\r\nTo: bob@example.net\r\nSubject: -bs\r\n\r\n..a dot line\r\nbody\r\n.\r\nQUIT\r\n' \
	>"$tmp/bs.in"
opts rsa2048
signed bs "$tmp/bs.in" -bs
want_rc 0
want_err ""
want_sigs "$tmp/bs.eml" "" "pass $R"
want "the body received" "$(sed '1,/^\r$/d' "$tmp/bs.eml" | tr -d '\r')" ".a dot line
body"
end

begin "From:, Date: and Message-ID: added by noq are signed"
opts rsa2048
signed bare "$tmp/bare" bob@example.net
want_signed bare "hs" "pass $R hs=$HS_DEFAULT"
for f in From: Date: Message-I; do
	grep -iq "^$f" "$tmp/bare.eml" || cwhy=${cwhy:-"noq added no $f field"}
done
edit header:from "$tmp/bare.eml"
want_sigs "$tmp/edited.eml" "" "fail-b $R"
end

begin "a From: rewritten by noq is signed as rewritten"
# shellcheck disable=SC2016
opts rsa2048 "" "begin rewrite" "" '*@old.example.org $1@example.org Ff'
signed rewrite "$tmp/old" bob@example.net
want_signed rewrite "" "pass $R"
want_absent "the old From:" "old.example.org" "$tmp/rewrite.eml"
grep -q '^From: Alice <alice@example.org>' "$tmp/rewrite.eml" ||
	cwhy=${cwhy:-"no rewritten From: in the message"}
end

# ---- 6. -v and --dry-run -------------------------------------------------------------

begin "-v says which signatures were added"
cat >"$tmp/opts" <<EOF
  dkim_domain = example.org
  dkim_selector = rsa2048 : ed25519
  dkim_private_key = $keys/\${dkim_selector}.pem
EOF
signed verbose "$tmp/msg" -v bob@example.net
want_rc 0
want_line "noq: -v: DKIM: signed with d=example.org s=rsa2048 a=rsa-sha256 c=relaxed/relaxed"
want_line "noq: -v: DKIM: signed with d=example.org s=ed25519 a=ed25519-sha256 c=relaxed/relaxed"
want_sigs "$tmp/verbose.eml" "" "pass $R
pass $E"
end

begin "--dry-run shows the DKIM-Signature field first, and connects nowhere"
# A port where nothing listens: the dry run must not try it.
opts rsa2048
conf dry "127.0.0.1:$(free_port)" <"$tmp/opts"
send dry "$tmp/msg" --dry-run bob@example.net
want_rc 0
want_err ""
want "the line after DATA" "$(sed -n '/^DATA\r$/{n;p;}' "$tmp/out" | cut -d: -f1)" DKIM-Signature
unstuff "$tmp/out" >"$tmp/dry.eml"
want_sigs "$tmp/dry.eml" "hs" "pass $R hs=$HS_DEFAULT"
end

# ---- 7. keys noq must not use --------------------------------------------------------

cp "$keys/rsa2048.pem" "$tmp/open.pem" && chmod 644 "$tmp/open.pem" || exit 99
cp "$keys/rsa2048.pem" "$tmp/group.pem" && chmod 640 "$tmp/group.pem" || exit 99

# bad NAME KEY STRICT: the options that sign with the key file KEY (a
# path), dkim_strict = STRICT.
bad() {
	printf '  dkim_domain = example.org\n  dkim_selector = rsa2048\n  dkim_private_key = %s\n  dkim_strict = %s\n' \
		"$2" "$3" >"$tmp/opts"
	signed "$1" "$tmp/msg" bob@example.net
}

begin "a key file of mode 0640: taken"
bad group "$tmp/group.pem" true
want_signed group "" "pass $R"
end

printf 'not a key\n' >"$tmp/junk.pem" && chmod 600 "$tmp/junk.pem" || exit 99

# Each key noq must refuse: a name, the file, and why (noq's words).
cat >"$tmp/badkeys" <<EOF || exit 99
open	$tmp/open.pem	secret file $tmp/open.pem is readable by others (mode 0644); run chmod o-r $tmp/open.pem
missing	$tmp/no-such-key.pem	cannot open secret file $tmp/no-such-key.pem: No such file or directory
rsa512	$keys/rsa512.pem	cannot use the DKIM key $keys/rsa512.pem: an RSA key of 512 bits; DKIM needs 1024 at least (2048 recommended)
junk	$tmp/junk.pem	cannot read the DKIM key $tmp/junk.pem: not a PEM private key
ecp256	$keys/ecp256.pem	cannot use the DKIM key $keys/ecp256.pem: a key of type EC; DKIM signs with RSA or Ed25519 keys
locked	$keys/locked.pem	cannot read the DKIM key $keys/locked.pem: the key is encrypted; DKIM keys must be stored without a passphrase
EOF

# With dkim_strict the message fails before MAIL FROM (the key is read
# before noq connects), the dry run too; without it, it goes out unsigned
# with a warning.
while IFS='	' read -r k kf why; do
	begin "dkim_strict, key $k: nothing sent, the reason said"
	bad "s-$k" "$kf" true
	want_rc 1
	want_err "Delivery failed: DKIM signing failed: $why"
	want_no_mail srv
	want "the dry run's exit status" "$drc" 1
	want_file "the dry run's standard error" "$tmp/dry.err" "Delivery failed: DKIM signing failed: $why"
	end

	begin "not strict, key $k: sent unsigned, with a warning"
	bad "ns-$k" "$kf" false
	want_rc 0
	want_err "noq: warning: DKIM signing failed: $why; the message goes out unsigned (dkim_strict is false)"
	want_unsigned "$tmp/ns-$k.eml" "$tmp/msg"
	want_unsigned "$tmp/ns-$k.dry" "$tmp/msg"
	end
done <"$tmp/badkeys"

begin "dkim_strict as an expansion (\${if ...} gives true)"
# shellcheck disable=SC2016
bad strictx "$tmp/no-such-key.pem" '${if eq{a}{a}{true}{false}}'
want_rc 1
want_no_mail srv
end

# half NAME STRICT: two selectors, the second one's key missing.
half() {
	cat >"$tmp/opts" <<EOF
  dkim_domain = example.org
  dkim_selector = rsa2048 : rsa2048b
  dkim_private_key = $tmp/\${dkim_selector}.pem
  dkim_strict = $2
EOF
	cp "$keys/rsa2048.pem" "$tmp/rsa2048.pem" || exit 99
	rm -f "$tmp/rsa2048b.pem"
	signed "$1" "$tmp/msg" bob@example.net
}

begin "not strict, one key of two missing: all signatures or none (none)"
half halfns false
want_rc 0
want_err "noq: warning: DKIM signing failed: cannot open secret file $tmp/rsa2048b.pem: No such file or directory; the message goes out unsigned (dkim_strict is false)"
want_unsigned "$tmp/halfns.eml" "$tmp/msg"
end

begin "dkim_strict, one key of two missing: nothing sent"
half halfs 1
want_rc 1
want_err "Delivery failed: DKIM signing failed: cannot open secret file $tmp/rsa2048b.pem: No such file or directory"
want_no_mail srv
end

begin "dkim_strict, an expansion that gives a relative key path: nothing sent"
# shellcheck disable=SC2016
bad relative '${if eq{a}{a}{keys/rsa2048.pem}}' true
want_rc 1
want_err "Delivery failed: DKIM signing failed: dkim_private_key for d=example.org s=rsa2048 gives 'keys/rsa2048.pem', not the absolute path of a file: noq reads the key from a file"
want_no_mail srv
end

begin "dkim_strict, an identity outside the signing domain: nothing sent"
# shellcheck disable=SC2016
opts rsa2048 "  dkim_strict = true" '  dkim_identity = alice@${if eq{a}{a}{other.example}}'
signed idout "$tmp/msg" bob@example.net
want_rc 1
want_err "Delivery failed: DKIM signing failed: dkim_identity gives 'alice@other.example', not an address in example.org or below it (RFC 6376 section 3.5)"
want_no_mail srv
end

begin "an identity in a subdomain of the signing domain: signed"
opts rsa2048 "  dkim_identity = alice@mail.example.org"
signed idsub "$tmp/msg" bob@example.net
want_signed idsub "" "pass $R"
end

begin "dkim_strict, dkim_timestamps expanded to 0: nothing sent"
# shellcheck disable=SC2016
opts rsa2048 "  dkim_strict = true" '  dkim_timestamps = ${if eq{a}{a}{0}}'
signed ts0 "$tmp/msg" bob@example.net
want_rc 1
want_err "Delivery failed: DKIM signing failed: dkim_timestamps is '0': a number of seconds, 1 or more, is needed"
want_no_mail srv
end

begin "dkim_canon expanded to neither: relaxed, with a warning"
opts rsa2048 "  dkim_canon = \${if eq{a}{a}{bogus}}"
signed canonx "$tmp/msg" bob@example.net
want_rc 0
want_err "noq: warning: DKIM: unknown canonicalization method 'bogus', defaulting to 'relaxed'"
want_sigs "$tmp/canonx.eml" "" "pass $R"
end

begin "RSA 1024: signed, with a warning"
opts rsa1024
signed weak "$tmp/msg" bob@example.net
want_rc 0
want_err "noq: warning: the DKIM key $keys/rsa1024.pem has 1024 bits: verifiers may refuse it; 2048 or more is the rule (RFC 8301)"
want_sigs "$tmp/weak.eml" "" "pass d=example.org s=rsa1024 a=rsa-sha256 c=relaxed/relaxed"
end

# ---- 8. what noqc refuses ----------------------------------------------------------

# refused NAME OPTION VALUE PATTERN: noqc refuses the configuration that
# signs with rsa2048 but for OPTION = VALUE, with a line "FILE:LINE:COL:
# error: ..." for that line that matches PATTERN (after "error: ").
refused() {
	{
		cat "$top_srcdir/tests/tlsdata/base.conf" &&
			{ opts rsa2048 && grep -v "^  $2 = " "$tmp/opts"; } &&
			printf '  %s = %s\n' "$2" "$3"
	} >"$tmp/$1.conf" || exit 99
	line=$(wc -l <"$tmp/$1.conf")
	"$NOQC" -D HOSTS=127.0.0.1:2525 -o "$tmp/$1.policy" "$tmp/$1.conf" >"$tmp/err" 2>&1
	rc=$?
	want_rc 1
	want_stderr_match "$tmp/$1.conf:$line:[0-9]*: error: $4"
}

begin "noqc refuses dkim_hash = sha1, with the reason"
refused sha1 dkim_hash sha1 "'dkim_hash' sha1 is refused: RFC 8301 forbids *"
end

begin "noqc refuses dkim_hash = sha512"
refused sha512 dkim_hash sha512 "'dkim_hash' sha512 is refused: *"
end

begin "noqc refuses dkim_canon = nonsense"
refused canon dkim_canon nonsense "'dkim_canon' must be relaxed or simple *, not 'nonsense'"
end

begin "noqc refuses dkim_timestamps that is not a number of seconds"
refused stamps dkim_timestamps soon "'dkim_timestamps' must be a number of seconds*, not 'soon'"
end

begin "noqc refuses a relative key path"
refused relpath dkim_private_key keys/rsa2048.pem "'dkim_private_key' must be the absolute path of the key file*"
end

begin "noqc refuses a key written in the configuration"
refused literal dkim_private_key \
	'"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n"' \
	"'dkim_private_key' must be the absolute path of the key file: * (this is the key itself: *"
end

finish
