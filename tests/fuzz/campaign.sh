#!/bin/sh
# campaign.sh -- run one libFuzzer target until it has used a given
# amount of CPU time (not wall time: on a shared machine an hour of wall
# time can buy a few minutes of fuzzing), then stop it with SIGINT so it
# prints its final statistics.
#
# usage: tests/fuzz/campaign.sh BUILDDIR NAME [CPU_SECONDS [ARGS...]]
#
# Run from the source tree.  BUILDDIR is a build configured with
# --enable-fuzzing; NAME is the target without "fuzz_" (addr, intake...).
# The corpus is BUILDDIR/campaign-NAME (kept between runs, so a campaign
# goes on where the last one stopped); tests/fuzz/seeds/NAME and
# tests/fuzz/regress/NAME are read too when they exist.  The log is
# BUILDDIR/campaign-NAME.log; a summary line (start, end, CPU seconds,
# executions, coverage) is appended to BUILDDIR/campaigns.txt.
# CPU_SECONDS defaults to 3600; the wall time is capped at four times it.
# Exit status: 0 when the target stopped only because its time was up.
#
# A campaign survives being killed (a session or machine going down):
# every 30 seconds the CPU time and executions so far are written to
# BUILDDIR/campaign-NAME.state, and the next run of the same NAME goes on
# from there, counting the earlier segments against CPU_SECONDS and in
# the summary line (segments=N).  The state file is removed when a
# campaign completes; remove it by hand to start a new one from zero.

set -u
[ $# -ge 2 ] || { echo "usage: $0 BUILDDIR NAME [CPU_SECONDS [ARGS...]]" >&2; exit 2; }
build=$1 name=$2
budget=${3:-3600}
[ $# -ge 3 ] && shift 3 || shift $#
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=$build/tests/fuzz/fuzz_$name
[ -x "$bin" ] || { echo "$0: no $bin (configure with --enable-fuzzing and make)" >&2; exit 2; }
case $budget in ''|*[!0-9]*) echo "$0: CPU_SECONDS must be a number" >&2; exit 2;; esac

corpus=$build/campaign-$name
log=$build/campaign-$name.log
state=$build/campaign-$name.state
mkdir -p "$corpus"

# An unfinished campaign: CPU seconds, executions, start time, segments
# and wall seconds of what ran before.
prev_cpu=0 prev_execs=0 segments=1 start= prev_wall=0
if [ -f "$state" ]; then
	read -r prev_cpu prev_execs start segments prev_wall < "$state" || :
	segments=$((segments + 1))
	echo "$0: going on with fuzz_$name after ${prev_cpu}s of CPU in $((segments - 1)) segment(s)" >&2
else
	: > "$log"
fi
[ -n "$start" ] || start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
dirs=$corpus
for d in "$src/tests/fuzz/seeds/$name" "$src/tests/fuzz/regress/$name"; do
	[ -d "$d" ] && dirs="$dirs $d"
done

tick=$(getconf CLK_TCK)
t0=$(date +%s)
left=$((budget - prev_cpu))
[ "$left" -gt 0 ] || left=1
echo "=== segment $segments: $(date -u +%Y-%m-%dT%H:%M:%SZ), ${left}s of CPU to go" >> "$log"
# shellcheck disable=SC2086
"$bin" -max_total_time=$((left * 4)) -max_len=65536 -print_final_stats=1 \
	"$@" $dirs >> "$log" 2>&1 &
pid=$!

# Executions of this segment: libFuzzer's status lines start "#N".
seg_execs() {
	sed -n '/^=== segment/h;/^#[0-9]/{s/^#\([0-9]*\).*/\1/;h};${x;p}' "$log" |
		sed 's/^=== .*/0/'
}

cpu=0 n=0
while kill -0 "$pid" 2>/dev/null; do
	# utime and stime are fields 14 and 15 of /proc/PID/stat; the name
	# in field 2 holds no blank here (fuzz_NAME).
	st=$(cat "/proc/$pid/stat" 2>/dev/null) || break
	set -- $st
	shift 13
	cpu=$((($1 + $2) / tick))
	if [ "$cpu" -ge "$left" ]; then
		kill -INT "$pid"
		break
	fi
	n=$((n + 1))
	if [ $((n % 6)) -eq 0 ]; then
		echo "$((prev_cpu + cpu)) $((prev_execs + $(seg_execs))) $start $segments $((prev_wall + $(date +%s) - t0))" > "$state.new" &&
			mv "$state.new" "$state"
	fi
	sleep 5
done
wait "$pid"
rc=$?
end=$(date -u +%Y-%m-%dT%H:%M:%SZ)
wall=$((prev_wall + $(date +%s) - t0))

# libFuzzer exits 72 (its interrupt code) on SIGINT, 0 when
# max_total_time ran out first; anything else is a finding.
case $rc in 0|72|130) ok=0 ;; *) ok=1 ;; esac
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=$(seg_execs)
execs=$((prev_execs + execs))
cpu=$((prev_cpu + cpu))
cov=$(grep -o 'cov: [0-9]*' "$log" | sed -n '1p;$p' | sed 's/cov: //' | paste -sd' ' -)
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
line="fuzz_$name commit=$commit start=$start end=$end wall=${wall}s cpu=${cpu}s execs=$execs edges(start,end)=${cov:-?} corpus=$(ls "$corpus" | wc -l) segments=$segments rc=$rc"
echo "$line" >> "$build/campaigns.txt"
echo "$line"
if [ $ok -eq 0 ]; then
	rm -f "$state"
else
	echo "$0: fuzz_$name stopped with status $rc: see $log" >&2
fi
exit $ok
