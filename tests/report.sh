# report.sh -- what the noq test scripts share, sourced by tests/noq/lib.sh
# and tests/delivery/lib.sh (after they set top_srcdir): absolute paths to
# the built programs ($NOQ, $NOQC, from "make check"), a C locale, and the
# counting of cases.  Each case prints "ok", "FAIL" or "SKIP" and its name;
# finish() prints the counts and gives the exit status: non-zero when a
# case failed or when none ran.

for prog in NOQ NOQC; do
	eval "path=\${$prog:-}"
	if [ -z "$path" ] || [ ! -x "$path" ]; then
		echo "$0: set $prog to the built program (got '$path')" >&2
		exit 99
	fi
	# Cases run in other directories and as other users: absolute paths.
	case $path in
	/*) ;;
	*) eval "$prog=\$(pwd)/\$path" ;;
	esac
done

# strerror() texts must not depend on the locale; awk and sed count bytes.
LC_ALL=C
export LC_ALL

passed=0
failed=0
skipped=0

pass() {
	echo "ok   $1"
	passed=$((passed + 1))
}

# fail NAME WHY: one failed case (show details after it).
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}

skip() {
	echo "SKIP $1: $2"
	skipped=$((skipped + 1))
}

finish() {
	echo "$(basename "$0" .sh): $passed passed, $failed failed, $skipped skipped"
	if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
		echo "$(basename "$0" .sh): no case ran"
		exit 1
	fi
	[ "$failed" -eq 0 ]
}

# show FILE: the first lines of FILE, indented (after a FAIL).
show() {
	head -c 3000 "$1" | sed 's/^/    | /'
	echo
}
