#!/bin/sh
# policy.sh -- benchmark the compiler and the policy with a million aliases.
#
#   bench/policy.sh BUILDDIR [ALIASES]
#
# BUILDDIR holds a built tree (noqc, noq, bench/pol_lookup and bench/timeit:
# "make bench-policy" builds them).
# Prints: compile time (median of 3) for ALIASES aliases (default 1,000,000),
# the policy's size against the alias source, the start-up cost of a
# policy with the aliases against one without (open + validate + one lookup),
# and the same for a whole message through noq's dry run.
set -eu

build=$(cd "$1" && pwd)
n=${2:-1000000}
noqc=$build/noqc
noq=$build/noq
lookup=$build/bench/pol_lookup
timeit=$build/bench/timeit
tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "user%d: user%d@example.org\n", i, i }' \
	>"$tmp/aliases"
for variant in with without; do
	{
		echo "primary_hostname = host.example.org"
		echo "qualify_domain = example.org"
		echo "begin routers"
		if [ $variant = with ]; then
			echo "system_aliases:"
			echo "  driver = redirect"
			echo "  domains = example.org"
			echo '  data = ${lookup{$local_part}lsearch{aliases}}'
		else
			echo "system_aliases:"
			echo "  driver = redirect"
			echo "  domains = example.org"
			echo '  data = ${lookup{$local_part}lsearch{aliases-empty}}'
		fi
		echo "smarthost:"
		echo "  driver = manualroute"
		echo "  route_list = * smtp.example.net::587"
		echo "  transport = remote_smtp"
		echo "begin transports"
		echo "remote_smtp:"
		echo "  driver = smtp"
	} >"$tmp/$variant.conf"
done
: >"$tmp/aliases-empty"

times=
for i in 1 2 3; do
	t0=$(date +%s.%N)
	"$noqc" -o "$tmp/with.policy" "$tmp/with.conf"
	t1=$(date +%s.%N)
	times="$times $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
done
"$noqc" -o "$tmp/without.policy" "$tmp/without.conf"
median=$(printf '%s\n' $times | sort -n | sed -n 2p)
src=$(wc -c <"$tmp/aliases")
pol=$(wc -c <"$tmp/with.policy")

echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
echo "compile $n aliases: median of 3: ${median}s (runs:$times)"
echo "alias source: $src bytes; policy: $pol bytes; ratio $(awk -v a="$pol" -v b="$src" 'BEGIN { printf "%.3f", a / b }')"
"$lookup" --bench 300 "$tmp/without.policy" "$tmp/with.policy" 0 "user$((n / 2))"

# The whole cost of a message: noq's dry run (everything but the socket) of
# 1 KiB to an alias, 41 rounds alternating which policy goes first, after a
# warm-up run each; medians of the wall time (bench/timeit).
{
	printf 'From: Benchmark <bench@example.org>\nSubject: benchmark\n\n'
	awk 'BEGIN { for (i = 0; i < 13; i++) printf "%076d\n", i }'
} >"$tmp/msg"
dry() { # POLICY: one run, its microseconds appended to POLICY.us
	"$timeit" -i "$tmp/msg" "$noq" -C "$tmp/$1.policy" --dry-run -i \
		-f bench@example.org "user$((n / 2))" >"$tmp/run"
	read -r us _ rc <"$tmp/run"
	[ "$rc" -eq 0 ] || { echo "policy.sh: noq -C $1.policy failed" >&2; exit 1; }
	echo "$us" >>"$tmp/$1.us"
}
dry without && dry with && : >"$tmp/without.us" && : >"$tmp/with.us"
i=0
while [ $i -lt 41 ]; do
	if [ $((i % 2)) -eq 0 ]; then dry without; dry with; else dry with; dry without; fi
	i=$((i + 1))
done
a=$(sort -n "$tmp/without.us" | sed -n 21p)
b=$(sort -n "$tmp/with.us" | sed -n 21p)
echo "noq --dry-run, a message:    A $a us, B $b us, B/A $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }') (median of 41; load $(cut -d' ' -f1-3 /proc/loadavg))"
