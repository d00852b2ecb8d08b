#!/bin/sh
# hostile.sh -- malformed and hostile configurations end in diagnostics:
# never a crash, never a hang, never unbounded output.
#
# Environment (set by "make check"): NOQC, the noqc binary.
set -u

: "${NOQC:?NOQC must name the noqc binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-hostile.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

pass=0
fail=0

# run NAME EXPECTED-STATUS PATTERN [noqc arguments...]
# Runs noqc under a time limit, then checks the status and that stderr
# matches PATTERN (a grep -E expression; empty means "stderr is empty").
run() {
	name=$1 want=$2 pattern=$3
	shift 3
	timeout 60 "$NOQC" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	ok=yes
	if [ "$got" -ne "$want" ]; then
		echo "FAIL $name: exit status $got, expected $want"
		ok=no
	fi
	if [ -z "$pattern" ]; then
		if [ -s "$tmp/err" ]; then
			echo "FAIL $name: expected no diagnostics"
			ok=no
		fi
	elif ! grep -Eq -- "$pattern" "$tmp/err"; then
		echo "FAIL $name: diagnostics do not match /$pattern/"
		ok=no
	fi
	# Output stays bounded whatever the input (capped errors, windowed lines).
	size=$(wc -c <"$tmp/err")
	if [ "$size" -gt 200000 ]; then
		echo "FAIL $name: $size bytes of diagnostics"
		ok=no
	fi
	if [ $ok = yes ]; then
		echo "ok   $name (exit $got, $size bytes of diagnostics)"
		pass=$((pass + 1))
	else
		head -c 2000 "$tmp/err"
		fail=$((fail + 1))
	fi
}

# Random bytes, reproducible: awk's generator with fixed seeds.
for seed in 1 2 3 4 5 6 7 8; do
	awk -v seed=$seed 'BEGIN { srand(seed); for (i = 0; i < 65536; i++)
		printf "%c", int(rand() * 255) + 1 }' >"$tmp/random$seed.conf"
	run "random bytes (seed $seed)" 1 'error:' --check "$tmp/random$seed.conf"
done

# Random printable lines built from the language's own punctuation.
awk 'BEGIN { srand(42); split("begin routers transports : = \\ # . .ifdef .endif .include \" hide no_ driver smtp X", w, " ");
	for (l = 0; l < 5000; l++) { n = int(rand() * 6); s = "";
		for (i = 0; i < n; i++) s = s w[int(rand() * 19) + 1] (rand() < 0.5 ? " " : "");
		print s } }' >"$tmp/tokens.conf"
run "random token soup" 1 'error:' --check "$tmp/tokens.conf"

# The smallest configuration that compiles: one route to a smart host.
route='begin routers
smarthost:
  driver = manualroute
  route_list = * smtp.example.net
  transport = remote
begin transports
remote:
  driver = smtp
'

# A 1 MB value is fine; a 1 MB line of garbage is one windowed diagnostic.
{ printf 'primary_hostname = '; head -c 1048576 /dev/zero | tr '\0' a; echo; printf '%s' "$route"; } >"$tmp/bigvalue.conf"
run "1 MB value" 0 '' --check "$tmp/bigvalue.conf"
{ head -c 1048576 /dev/zero | tr '\0' '*'; echo; } >"$tmp/bigjunk.conf"
run "1 MB junk line" 1 'unexpected text .*\.\.\.' --check "$tmp/bigjunk.conf"

# A NUL byte.
printf 'primary_hostname = a\000b\nqualify_domain = example.org\n' >"$tmp/nul.conf"
run "NUL byte" 1 'NUL byte in configuration file' --check "$tmp/nul.conf"

# Unterminated constructs.
printf 'primary_hostname = "abc\n' >"$tmp/quote.conf"
run "unterminated quote" 1 'unterminated quoted string' --check "$tmp/quote.conf"
printf '.ifdef X\nprimary_hostname = a\n' >"$tmp/ifdef.conf"
run "unterminated .ifdef" 1 'unterminated \.ifdef' --check "$tmp/ifdef.conf"
printf '%s  port = 25 \\\n' "$route" >"$tmp/cont.conf"
run "continuation at end of file" 0 '' --check "$tmp/cont.conf"

# Include trouble.
printf '.include loop.conf\n' >"$tmp/loop.conf"
run "include loop" 1 'include loop' --check "$tmp/loop.conf"
printf '.include no-such-file.conf\n' >"$tmp/missing.conf"
run "missing include" 1 "cannot read included file .*no-such-file.conf" --check "$tmp/missing.conf"
i=0
while [ $i -lt 20 ]; do
	printf '.include deep%d.conf\n' $((i + 1)) >"$tmp/deep$i.conf"
	i=$((i + 1))
done
: >"$tmp/deep20.conf"
run "include depth" 1 'nested too deeply' --check "$tmp/deep0.conf"

# 10,000 errors: capped, with a count of the rest.
awk 'BEGIN { for (i = 0; i < 10000; i++) printf "no_such_option_%d = 1\n", i }' >"$tmp/many.conf"
run "10,000 errors" 1 '9950 more errors and 0 more warnings not shown' --check "$tmp/many.conf"
run "10,000 errors, cap 5" 1 '9995 more errors' --check --max-errors=5 "$tmp/many.conf"

# Macro bombs stop at the line limit instead of eating memory.
{
	printf 'A = '; head -c 4096 /dev/zero | tr '\0' x; echo
	printf 'B = A A A A A A A A A A A A A A A A A A A A A A A A A A A A A A A A\n'
	printf 'C = B B B B B B B B B B B B B B B B B B B B B B B B B B B B B B B B\n'
	printf 'D = C C C C C C C C C C C C C C C C C C C C C C C C C C C C C C C C\n'
	printf 'primary_hostname = D D D D\n'
} >"$tmp/bomb.conf"
run "macro bomb" 1 'too long after (macro )?expansion' --check "$tmp/bomb.conf"

# Not a configuration at all.
run "directory" 1 'Is a directory' --check "$tmp"
run "missing file" 1 'No such file or directory' --check "$tmp/nope.conf"
: >"$tmp/empty.conf"
run "empty file" 1 'no router can deliver' --check "$tmp/empty.conf"
run "no arguments" 64 'no configuration file' --check
run "bad -D" 64 'macro name' --check -D lower=1 "$tmp/empty.conf"

echo "hostile: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
