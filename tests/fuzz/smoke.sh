#!/bin/sh
# smoke.sh -- libFuzzer smoke runs of every fuzz target, as CI runs them
# (tools/test, step 6).
#
#   tests/fuzz/smoke.sh [BUILDDIR]
#
# BUILDDIR (default _build/fuzz, relative to the top of the tree) must be
# configured with "CC=clang ../../configure --enable-fuzzing" and built.
# Each target's corpus, BUILDDIR/corpus-NAME, is seeded from the tree
# (examples, unit test strings, test messages; see below), then the
# target runs from it, from tests/fuzz/seeds/NAME when there is one, and
# from tests/fuzz/regress/NAME (the crashes found before; both read
# only), then from new inputs for NOQ_FUZZ_SECONDS (60 by default for the
# front end, the policy loader, the expansions and the proof against
# routing; 30 for each parser an attacker feeds, and for DKIM signing).
# New inputs stay in the corpus, so a later run goes on from them.  A
# crash, a leak or a failed check stops the script with the target's log;
# the input is in BUILDDIR (crash-*, leak-*).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
b=$(cd "${1:-_build/fuzz}" && pwd)
fuzz_seconds=${NOQ_FUZZ_SECONDS:-60}
parser_seconds=${NOQ_FUZZ_SECONDS:-30}

for t in frontend policy xp route addr intake fixup redir bs auth alias reply dkim; do
	mkdir -p "$b/corpus-$t"
done
# Seed the expansions' corpus with the cases compared with Exim.
grep -v '^#' tests/exim-be/cases.txt | sed 's/^\(![a-z]* \)*//' | grep -v '^$' |
	awk -v dir="$b/corpus-xp" '{ f = sprintf("%s/case-%04d", dir, NR); printf "%s", $0 > f; close(f) }'
# Seed the loader's corpus with the examples' policies.
for conf in examples/*.conf; do
	name=$(basename "$conf" .conf)
	(cd examples && "$b/noqc" -o "$b/corpus-policy/$name.policy" "$name.conf")
done
# Seed the address parsers' corpus with the unit tests' strings, each as
# a header value ('A': ADDR_HEADER) and as -f's argument ('F': ADDR_SINGLE
# and ADDR_ALLOW_EMPTY); the first byte is the options (fuzz_addr.c).
grep -o '"[^"\\]*\(\\.[^"\\]*\)*"' tests/unit/test_addr.c | sed 's/^"//; s/"$//' | sort -u |
	awk -v dir="$b/corpus-addr" '
	function unesc(s,   out, i, c) {
		out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\\" && i < length(s)) {
				c = substr(s, ++i, 1)
				c = c == "n" ? "\n" : c == "r" ? "\r" : c == "t" ? "\t" : c
			}
			out = out c
		}
		return out
	}
	{
		s = unesc($0)
		h = sprintf("%s/unit-%04d-h", dir, NR); printf "A%s", s > h; close(h)
		f = sprintf("%s/unit-%04d-f", dir, NR); printf "F%s", s > f; close(f)
	}'
# Seed message intake with the callers' messages of tests/noq/in: as they
# are; in CR LF with -i and MSG_BODY_CR; with limits, spilling to the
# temporary file, a "From " line dropped.  Four bytes of options first
# (fuzz_intake.c).
for msg in tests/noq/in/*.msg; do
	name=$(basename "$msg" .msg)
	{ printf '\000\000\000\000'; cat "$msg"; } >"$b/corpus-intake/$name"
	{ printf '\003\007\000\000'; sed 's/$/\r/' "$msg"; } >"$b/corpus-intake/$name-crlf"
	{ printf '\034\021\003\040'; cat "$msg"; } >"$b/corpus-intake/$name-limits"
done
# Seed the header fixups with the same messages: as they are; with -t, the
# rewrite rules and a command-line recipient; trusted, with -F, the null
# sender, headers_add and headers_remove.  Three bytes of options and the
# texts first (fuzz_fixup.c).
for msg in tests/noq/in/*.msg; do
	name=$(basename "$msg" .msg)
	{ printf '\000\000\000\000\000'; cat "$msg"; } >"$b/corpus-fixup/$name"
	{ printf '\001\040\000bob@example.net\000\000'; cat "$msg"; } >"$b/corpus-fixup/$name-t"
	{ printf '\004\340\001\000Alice\000X-Added: yes\n\tmore\000Subject:X-*\000'
	  cat "$msg"; } >"$b/corpus-fixup/$name-add"
done
# Seed DKIM signing with the same messages: simple with Exim's default
# header list (an empty list), relaxed with i=, t= and x= and a list with
# '=' and '+'.  Three bytes of options and the list first (fuzz_dkim.c).
for msg in tests/noq/in/*.msg; do
	name=$(basename "$msg" .msg)
	{ printf '\000\024\003\000'; cat "$msg"; } >"$b/corpus-dkim/$name"
	{ printf '\210\101\011From:=Received:+Subject:To\000'; cat "$msg"; } >"$b/corpus-dkim/$name-relaxed"
done
# And a body whose canonical forms pass dkim.c's 64 KiB block, ending in
# a run of empty lines longer than a block holds, spilled to the file.
{ printf '\110\036\377\000From: big@example.org\n\n'
  awk 'BEGIN { for (i = 0; i < 1400; i++) printf "line %04d  of\ttext \n", i
	       for (i = 0; i < 20000; i++) printf "\n"
	       printf "end\n" }'; } >"$b/corpus-dkim/large"
# Seed -bs with the client sessions of tests/bs.sh, in CR LF, after an
# options byte of 0 (fuzz_bs.c).
awk -v dir="$b/corpus-bs" '
	/^client <<.EOF.$/ { f = sprintf("%s/session-%02d", dir, ++n); printf "%c", 0 > f; on = 1; next }
	on && /^EOF$/ { close(f); on = 0; next }
	on { printf "%s\r\n", $0 > f }' tests/bs.sh

# Seed the alias lookups with compiled policies that have alias tables,
# each followed by "\n#keys\n" and its keys (fuzz_alias.c): the
# examples', tests/noq's, and one made here with a larger table and a
# second one keyed by local_part@domain.
mkdir -p "$b/alias-seed"
(cd examples && "$b/noqc" -o "$b/alias-seed/examples.policy" aliases.conf)
(cd tests/noq && "$b/noqc" -o "$b/alias-seed/noq.policy" test.conf)
awk 'BEGIN { for (i = 0; i < 300; i++) printf "user%d: t%d@example.net, u%d@example.net\n", i, i, i }' \
	>"$b/alias-seed/big"
awk 'BEGIN { for (i = 0; i < 40; i++) printf "user%d@example.%s: f%d@example.net\n", i, i % 2 ? "org" : "com", i }' \
	>"$b/alias-seed/full"
cat >"$b/alias-seed/seed.conf" <<'EOF'
qualify_domain = example.org
domainlist local_domains = example.org : example.com
begin routers
big:
  driver = redirect
  domains = +local_domains
  data = ${lookup{$local_part}lsearch{big}}
full:
  driver = redirect
  data = ${lookup{$local_part@$domain}lsearch{full}}
smarthost:
  driver = manualroute
  route_list = * smtp.example.net
  transport = remote_smtp
begin transports
remote_smtp:
  driver = smtp
EOF
(cd "$b/alias-seed" && "$b/noqc" -o seed.policy seed.conf)
for p in "$b"/alias-seed/*.policy; do
	{ cat "$p"; printf '\n#keys\n'
	  "$b/noqc" --dump "$p" | sed -n '/^begin aliases$/,/^begin sources$/s/^  \([^:]*\):.*/\1/p'
	} >"$b/corpus-alias/$(basename "$p" .policy)"
done

fuzz() {  # fuzz SECONDS TARGET CORPUS...: new inputs go to the first CORPUS
	seconds=$1
	target=$2
	shift 2
	# The seeds kept in the tree, and the crashes found before (replayed
	# first): read only.
	for d in tests/fuzz/seeds/${target#fuzz_} tests/fuzz/regress/${target#fuzz_}; do
		if [ -d "$d" ]; then
			set -- "$@" "$d"
		fi
	done
	if ! "$b/tests/fuzz/$target" -max_total_time="$seconds" -max_len=65536 -artifact_prefix="$b/" \
		-print_final_stats=1 "$@" >"$b/$target.log" 2>&1; then
		tail -n 60 "$b/$target.log"
		echo "$target found a crash; the input is in $b (crash-*)"
		exit 1
	fi
	echo "$target: $(sed -n 's/^stat::number_of_executed_units: *//p' "$b/$target.log") inputs in ${seconds}s"
}
fuzz "$fuzz_seconds" fuzz_frontend "$b/corpus-frontend" examples tests/golden
fuzz "$fuzz_seconds" fuzz_policy "$b/corpus-policy"
fuzz "$fuzz_seconds" fuzz_xp "$b/corpus-xp"
# fuzz_route generates its configurations from the bytes: no seeds.  It
# leaves out no shape (FUZZ_ROUTE_AVOID, see tests/fuzz/fuzz_route.c):
# every finding so far is fixed.
fuzz "$fuzz_seconds" fuzz_route "$b/corpus-route"
fuzz "$parser_seconds" fuzz_addr "$b/corpus-addr"
fuzz "$parser_seconds" fuzz_intake "$b/corpus-intake"
fuzz "$parser_seconds" fuzz_fixup "$b/corpus-fixup"
# fuzz_redir's seeds are in tests/fuzz/seeds/redir.
fuzz "$parser_seconds" fuzz_redir "$b/corpus-redir"
fuzz "$parser_seconds" fuzz_bs "$b/corpus-bs"
# fuzz_auth's seeds (one or more exchanges of each mechanism) are in
# tests/fuzz/seeds/auth.
fuzz "$parser_seconds" fuzz_auth "$b/corpus-auth"
fuzz "$parser_seconds" fuzz_alias "$b/corpus-alias"
# fuzz_reply's seeds are in tests/fuzz/seeds/reply.
fuzz "$parser_seconds" fuzz_reply "$b/corpus-reply"
# fuzz_dkim's seeds (messages with blanks, dot lines, folded fields, empty
# bodies, RFC 8463's example; lists refused) are in tests/fuzz/seeds/dkim.
fuzz "$parser_seconds" fuzz_dkim "$b/corpus-dkim"
