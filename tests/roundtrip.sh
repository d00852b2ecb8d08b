#!/bin/sh
# roundtrip.sh -- policies are canonical, reproducible and refuse damage.
#
# For every examples/*.conf:
#   * the dump matches tests/dumps/NAME.dump (run with --update to rewrite);
#   * compile -> dump -> compile gives identical bytes;
#   * copies compiled from two other directories, with other mtimes, by
#     relative and absolute paths, give identical bytes.
# Then damaged policies: --dump refuses each with a precise message, exit 1.
#
# Environment (set by "make check"): NOQC, top_srcdir.
set -u

: "${NOQC:?NOQC must name the noqc binary}"
: "${top_srcdir:?top_srcdir must name the source tree}"
update=no
[ "${1:-}" = --update ] && update=yes
LC_ALL=C
export LC_ALL
tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-roundtrip.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0
fail=0

ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

mkdir "$tmp/a" "$tmp/b"
cp -R "$top_srcdir/examples/." "$tmp/a/"
cp -R "$top_srcdir/examples/." "$tmp/b/"
touch -d '2001-02-03 04:05:06' "$tmp/a"/*
touch -d '2031-12-30 23:59:59' "$tmp/b"/*

for conf in "$top_srcdir"/examples/*.conf; do
	name=$(basename "$conf" .conf)
	# Compile in place from the source tree's copy (relative path).
	if ! (cd "$tmp/a" && "$NOQC" -o "$tmp/$name.policy" "$name.conf"); then
		bad "$name: does not compile"
		continue
	fi
	"$NOQC" --dump "$tmp/$name.policy" >"$tmp/$name.dump" 2>"$tmp/err" ||
		{ bad "$name: --dump failed: $(cat "$tmp/err")"; continue; }
	golden=$top_srcdir/tests/dumps/$name.dump
	if [ $update = yes ]; then
		cp "$tmp/$name.dump" "$golden"
		ok "$name: dump updated"
	elif cmp -s "$tmp/$name.dump" "$golden"; then
		ok "$name: dump matches tests/dumps/$name.dump"
	else
		bad "$name: dump differs from tests/dumps/$name.dump"
		diff -u "$golden" "$tmp/$name.dump" | head -n 40
	fi
	# The dump compiles back to the same bytes.
	if (cd "$tmp" && "$NOQC" -o "$tmp/$name.re.policy" "$name.dump") &&
	   cmp -s "$tmp/$name.policy" "$tmp/$name.re.policy"; then
		ok "$name: compile -> dump -> compile gives identical bytes"
	else
		bad "$name: the recompiled dump differs"
	fi
	# Another directory, other mtimes, an absolute path: same bytes.
	if (cd / && "$NOQC" -o "$tmp/$name.b.policy" "$tmp/b/$name.conf") &&
	   cmp -s "$tmp/$name.policy" "$tmp/$name.b.policy"; then
		ok "$name: identical bytes from another directory and mtime"
	else
		bad "$name: output depends on the directory or the time"
	fi
done

# Damaged policies: every kind of damage is refused with its own message.
pol=$tmp/smarthost.policy
size=$(wc -c <"$pol")
damage() {  # damage NAME PATTERN: --dump "$tmp/bad" must fail matching PATTERN
	if "$NOQC" --dump "$tmp/bad" >/dev/null 2>"$tmp/err"; then
		bad "$1: accepted"
	elif grep -Eq -- "$2" "$tmp/err"; then
		ok "$1: refused ($(head -c 100 "$tmp/err" | tr '\n' ' '))"
	else
		bad "$1: unexpected message: $(cat "$tmp/err")"
	fi
}
head -c $((size / 2)) "$pol" >"$tmp/bad"
damage "truncated policy" 'truncated'
{ cat "$pol"; printf 'x'; } >"$tmp/bad"
damage "policy with a byte appended" 'size|truncated'
printf 'primary_hostname = x\n' >"$tmp/bad"
damage "a configuration given as policy" 'not a noq policy'
{ head -c 100 "$pol"; printf '\377'; tail -c +102 "$pol"; } >"$tmp/bad"
damage "one byte changed" 'checksum|format'
{ head -c 8 "$pol"; printf '\007\000'; tail -c +11 "$pol"; } >"$tmp/bad"
damage "future format version" 'version'
{ head -c 8 "$pol"; printf '\001\000'; tail -c +11 "$pol"; } >"$tmp/bad"
damage "format 1 (before compiled expansions)" 'recompile it with noqc'
{ head -c 8 "$pol"; printf '\002\000'; tail -c +11 "$pol"; } >"$tmp/bad"
damage "format 2 (before shared lookup tables)" 'recompile it with noqc'
{ head -c 8 "$pol"; printf '\003\000'; tail -c +11 "$pol"; } >"$tmp/bad"
damage "format 3 (before transports' rewrite rules)" 'recompile it with noqc'
{ head -c 8 "$pol"; printf '\004\000'; tail -c +11 "$pol"; } >"$tmp/bad"
damage "format 4 (before alias blocks checked by lookups)" 'recompile it with noqc'
{ head -c 8 "$pol"; printf '\005\000'; tail -c +11 "$pol"; } >"$tmp/bad"
damage "format 5 (before the DKIM options' expansions)" 'recompile it with noqc'
: >"$tmp/bad"
damage "empty file" 'truncated|not a noq policy'

echo "roundtrip: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
