#!/bin/sh
#
# golden.sh -- compare noqc's diagnostics with the expected ones.
#
# Every case in tests/golden/ is one small configuration that shows one rule:
#
#   NAME.conf   the configuration, checked as it is;
#   NAME.gen    or a sh script that writes NAME.conf (and any file it
#               includes) into the empty directory it runs in, for inputs
#               that are large or awkward to commit (NUL bytes, deep chains);
#   NAME.args   optional extra arguments for noqc, split at blanks
#               (e.g. "-D FOO=bar" or "--max-errors=3");
#   NAME.err    the expected output (stderr and stdout), then "exit: N".
#
# noqc runs in the case's directory with the relative name NAME.conf, so the
# paths in diagnostics do not depend on where the tree lives.
#
# Usage: NOQC=/path/to/noqc top_srcdir=/path/to/src sh tests/golden.sh [--update]
# With --update the .err files are rewritten instead of compared: review the
# change with git diff before committing it.

update=false
case $# in
0) ;;
1)
	if [ "$1" = --update ]; then
		update=true
	else
		echo "usage: $0 [--update]" >&2
		exit 99
	fi
	;;
*)
	echo "usage: $0 [--update]" >&2
	exit 99
	;;
esac

if [ -z "$top_srcdir" ]; then
	top_srcdir=$(cd "$(dirname "$0")/.." && pwd) || exit 99
fi
if [ -z "$NOQC" ] || [ ! -x "$NOQC" ]; then
	echo "golden: set NOQC to the noqc binary (got '${NOQC-}')" >&2
	exit 99
fi
# Cases run in other directories: make both paths absolute.
case $NOQC in
/*) ;;
*) NOQC=$(pwd)/$NOQC ;;
esac
if ! gdir=$(cd "$top_srcdir/tests/golden" 2>/dev/null && pwd); then
	echo "golden: no directory $top_srcdir/tests/golden" >&2
	exit 99
fi

# Messages from strerror() and friends must not depend on the user's locale.
LC_ALL=C
export LC_ALL

# A hung noqc is a failure, not a stuck test run.
if command -v timeout >/dev/null 2>&1; then
	run_timeout="timeout 60"
else
	run_timeout=
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/golden.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' HUP INT TERM

passed=0
failed=0
updated=0

# run_case NAME DIR: run noqc on DIR/NAME.conf, leaving the output in
# $tmp/NAME.out.
run_case() {
	args=
	if [ -f "$gdir/$1.args" ]; then
		args=$(cat "$gdir/$1.args")
	fi
	# $args is split at blanks on purpose, but never globbed.
	set -f
	(cd "$2" && $run_timeout "$NOQC" --check $args "$1.conf") \
		>"$tmp/$1.out" 2>&1
	echo "exit: $?" >>"$tmp/$1.out"
	set +f
}

# finish_case NAME: compare (or update) NAME's output with NAME.err.
finish_case() {
	if $update; then
		if [ ! -f "$gdir/$1.err" ] || ! cmp -s "$tmp/$1.out" "$gdir/$1.err"; then
			cp "$tmp/$1.out" "$gdir/$1.err" || exit 99
			echo "updated: $1.err"
			updated=$((updated + 1))
		fi
		passed=$((passed + 1))
	elif [ ! -f "$gdir/$1.err" ]; then
		echo "FAIL: $1: no $1.err (run with --update to create it)"
		sed 's/^/    /' "$tmp/$1.out"
		failed=$((failed + 1))
	elif cmp -s "$gdir/$1.err" "$tmp/$1.out"; then
		passed=$((passed + 1))
	else
		echo "FAIL: $1"
		diff -u "$gdir/$1.err" "$tmp/$1.out" | sed "1,2s|[^ ]*/$1.out|$1 (actual)|"
		failed=$((failed + 1))
	fi
}

for conf in "$gdir"/*.conf; do
	[ -f "$conf" ] || continue
	name=$(basename "$conf" .conf)
	run_case "$name" "$gdir"
	finish_case "$name"
done

for gen in "$gdir"/*.gen; do
	[ -f "$gen" ] || continue
	name=$(basename "$gen" .gen)
	if [ -f "$gdir/$name.conf" ]; then
		echo "FAIL: $name: both $name.conf and $name.gen exist"
		failed=$((failed + 1))
		continue
	fi
	work=$tmp/gen.$name
	mkdir "$work" || exit 99
	if ! (cd "$work" && sh "$gen") || [ ! -f "$work/$name.conf" ]; then
		echo "FAIL: $name: $name.gen did not write $name.conf"
		failed=$((failed + 1))
		continue
	fi
	run_case "$name" "$work"
	finish_case "$name"
done

# An expected file whose case is gone is a renamed or deleted case.
for err in "$gdir"/*.err; do
	[ -f "$err" ] || continue
	name=$(basename "$err" .err)
	if [ ! -f "$gdir/$name.conf" ] && [ ! -f "$gdir/$name.gen" ]; then
		echo "FAIL: $name.err has no $name.conf or $name.gen"
		failed=$((failed + 1))
	fi
done

if $update; then
	echo "golden: $passed cases, $updated updated, $failed failed"
else
	echo "golden: $passed passed, $failed failed"
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
	echo "golden: no cases in $gdir"
	exit 1
fi
[ "$failed" -eq 0 ]
