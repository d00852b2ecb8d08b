#!/bin/sh
# examples.sh -- every configuration in examples/ must check cleanly.
#
# Runs "$NOQC --check -Werror" on each examples/*.conf and requires exit
# status 0 and no output at all: the examples are what users copy, so they
# must draw neither errors nor warnings.  Run by "make check" with
#   NOQC        absolute path of the noqc binary
#   top_srcdir  absolute path of the source tree
# Exit status: 0 all passed, 1 a file failed or there was none to check,
# 99 (automake's "hard error") when the environment is unusable.

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(dirname "$0")/..
fi
if [ -z "${NOQC:-}" ] || [ ! -x "$NOQC" ]; then
	echo "examples.sh: NOQC must name the noqc binary (got '${NOQC:-}')" >&2
	exit 99
fi

dir=$top_srcdir/examples
out=$(mktemp "${TMPDIR:-/tmp}/noq-examples.XXXXXX") || exit 99
trap 'rm -f "$out"' EXIT
trap 'exit 99' HUP INT TERM

total=0
failed=0
for conf in "$dir"/*.conf; do
	[ -f "$conf" ] || continue
	total=$((total + 1))
	name=examples/$(basename "$conf")
	"$NOQC" --check -Werror "$conf" >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$out" ]; then
		echo "PASS: $name"
	else
		failed=$((failed + 1))
		echo "FAIL: $name (exit status $rc)"
		sed 's/^/    /' "$out"
	fi
done

if [ "$total" -eq 0 ]; then
	echo "FAIL: no configuration found in $dir"
	exit 1
fi
echo "$total checked, $failed failed"
[ "$failed" -eq 0 ] || exit 1
exit 0
