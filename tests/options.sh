#!/bin/sh
# options.sh -- every option noqc knows is in exactly one state, and the
# state is true (issue: "never accept an option it does not honour"):
#
#  - noqc --list-options gives each option one of: implemented, no effect,
#    overridden, refused; all but implemented with a reason;
#  - an implemented option is read by the semantic pass or by noq (its
#    name, as a string, is in compiler/sema*.c, compiler/rewrite.c,
#    compiler/aliases.c, policy/, runtime/ or lib/): an option that only
#    the option table knows would be accepted and ignored;
#  - an implemented option is used by a test (its name is in a file under
#    tests/ other than the option table's own unit test);
#  - noq.conf(5)'s OPTION INDEX is what man/option-index.sh makes of the
#    table (make option-index rewrites it).
#
# Environment (set by "make check"): NOQC, top_srcdir.

top=${top_srcdir:-$(dirname "$0")/..}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-options.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

"$NOQC" --list-options >"$tmp/list" || { echo "FAIL noqc --list-options"; exit 1; }
n=$(wc -l <"$tmp/list")
[ "$n" -gt 400 ] || fail "only $n options listed"

# One state each, reasons where they belong.
awk -F '\t' '
	NF != 5 { print "FAIL line " NR ": " NF " fields"; next }
	$4 != "implemented" && $4 != "no effect" && $4 != "overridden" && $4 != "refused" {
		print "FAIL " $1 " " $2 ": state \"" $4 "\"" }
	$4 == "implemented" && $5 != "" { print "FAIL " $1 " " $2 ": implemented, with a reason" }
	$4 != "implemented" && $5 == "" { print "FAIL " $1 " " $2 ": " $4 ", without a reason" }
' "$tmp/list" >"$tmp/states"
if [ -s "$tmp/states" ]; then
	cat "$tmp/states"
	fails=$((fails + $(wc -l <"$tmp/states")))
fi

# Where the implemented ones are read, and where they are tested.
cd "$top" || exit 99
readers="compiler/sema*.c compiler/rewrite.c compiler/aliases.c policy/*.c runtime/*.c lib/*.c"
awk -F '\t' '$4 == "implemented" { print $2 }' "$tmp/list" | sort -u >"$tmp/impl"
# shellcheck disable=SC2086
cat $readers >"$tmp/code"
find tests -type f ! -name test_options.c ! -name '*.err' ! -name '*.out' \
	-exec cat {} + >"$tmp/tests" 2>/dev/null
nread=0
while read -r o; do
	grep -Fq "\"$o\"" "$tmp/code" || fail "$o: implemented, but nothing reads it"
	grep -Eq "(^|[^a-z_])(no_)?$o([^a-z_]|\$)" "$tmp/tests" ||
		fail "$o: implemented, but no test uses it"
	nread=$((nread + 1))
done <"$tmp/impl"

# The man page's index.
sh man/option-index.sh <"$tmp/list" >"$tmp/index"
sed -n '/^\.\\" BEGIN OPTION INDEX/,/^\.\\" END OPTION INDEX/p' man/noq.conf.5 |
	sed '1d;$d' >"$tmp/man"
if ! cmp -s "$tmp/index" "$tmp/man"; then
	fail "noq.conf(5) OPTION INDEX is not the table (make option-index):"
	diff "$tmp/man" "$tmp/index" | head -20
fi

echo "options: $n listed, $nread implemented and checked, $fails failures"
[ "$fails" -eq 0 ]
