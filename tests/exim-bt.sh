#!/bin/sh
# exim-bt.sh -- noq's routing compared with real Exim's.
#
# For each case tests/exim-bt/NAME.conf, every address in NAME.addrs is
# routed by Exim ("exim -C CONF -bt ADDR", CONF being the case with the
# main options Exim needs to run from a scratch directory put first) and by
# noq ("noq -C POLICY -bt ADDR", the policy compiled from the case).  In
# both, @DIR@ stands for the directory of the cases (Exim wants absolute
# paths for its lookups).  Their output and exit status must be the same.
#
# Exim is the one "tools/deps --bench" unpacks into _build/exim of the
# source tree, or NOQ_EXIM; without it, or when it cannot run here (it
# needs root to run with -C as its own user), the test is skipped (77).
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir; NOQ_EXIM.
# Exit status: 0 when every case passed, 1 otherwise, 77 skipped.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${NOQ:=$top_srcdir/noq}" "${NOQC:=$top_srcdir/noqc}"
exim=${NOQ_EXIM:-$top_srcdir/_build/exim/usr/sbin/exim4}
exim_lib=${exim%/usr/sbin/exim4}/usr/lib/x86_64-linux-gnu
pass=0 failed=0

if [ ! -x "$exim" ]; then
	echo "SKIP: no Exim at $exim (tools/deps --bench, or set NOQ_EXIM)"
	exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: Exim runs a -C configuration as root only"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-exim-bt.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/spool" "$tmp/log"

run_exim() {  # run_exim CONF ADDR
	LD_LIBRARY_PATH=$exim_lib "$exim" -C "$1" -bt "$2"
}

dir=$(cd "$top_srcdir/tests/exim-bt" && pwd)
for conf in "$dir"/*.conf; do
	name=$(basename "$conf" .conf)
	sed "s|@DIR@|$dir|g" "$conf" >"$tmp/$name.conf"
	{
		echo "exim_user = root"
		echo "exim_group = root"
		echo "spool_directory = $tmp/spool"
		echo "log_file_path = $tmp/log/%slog"
		cat "$tmp/$name.conf"
	} >"$tmp/$name.exim"
	if ! "$NOQC" -o "$tmp/$name.policy" "$tmp/$name.conf" >"$tmp/noqc.out" 2>&1; then
		failed=$((failed + 1))
		echo "FAIL $name: noqc refused it"
		sed 's/^/    | /' "$tmp/noqc.out"
		continue
	fi
	while IFS= read -r addr; do
		run_exim "$tmp/$name.exim" "$addr" >"$tmp/exim.out" 2>&1
		echo "exit: $?" >>"$tmp/exim.out"
		"$NOQ" -C "$tmp/$name.policy" -bt "$addr" >"$tmp/noq.out" 2>&1
		echo "exit: $?" >>"$tmp/noq.out"
		if cmp -s "$tmp/exim.out" "$tmp/noq.out"; then
			pass=$((pass + 1))
			echo "ok   $name: $addr"
		else
			failed=$((failed + 1))
			echo "FAIL $name: $addr (- Exim, + noq)"
			diff -u "$tmp/exim.out" "$tmp/noq.out" | tail -n +3 | sed 's/^/    | /'
		fi
	done <"${conf%.conf}.addrs"
done

echo "exim-bt.sh: $pass passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$pass" -gt 0 ]
