#!/bin/sh
# targets.sh -- every make target builds on its own from an empty build
# directory, as the tools and a newcomer ask for it.
#
#   tests/targets.sh [--all]
#
# Works on a fresh clone of this checkout's HEAD (what is committed; a used
# tree hides missing dependencies behind files an earlier build left), with
# autoreconf run once.  Each case configures an empty directory and runs
# "make -jJOBS TARGET", then checks that TARGET exists:
#
#   default  each target that a "make" command line in tools/* names, and
#            one program of each other kind (a unit test that links only
#            the shared library lib/, one that links the front end, a
#            benchmark helper, the fuzz targets); out of tree with -j1
#            (make then takes prerequisites in order, so a missing
#            ordering fails every time rather than by chance) and the
#            tools' targets in tree with -j$(nproc);
#   --all    every program the Makefile knows (bin, check, extra and fuzz
#            programs), out of tree and in tree, each with -j1 and
#            -j$(nproc).
#
# The phony targets that tools/* names (all, check, distcheck, bench) run
# the tests and the benchmark; tools/test runs each of them from a fresh
# build directory itself.  A tools/* "make" line naming a target the
# Makefile does not have fails here.
# Exit status: 0 when every case passed, 1 otherwise (or when none ran).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
mode=short
case ${1:-} in
--all) mode=all ;;
"") ;;
*) echo "usage: tests/targets.sh [--all]" >&2; exit 64 ;;
esac
jobs=$(nproc)
pass=0 failed=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-targets.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
git -C "$top" rev-parse -q --verify HEAD >/dev/null ||
	{ echo "targets.sh: $top is not a git checkout with a commit" >&2; exit 1; }
git -c advice.detachedHead=false clone -q "$top" "$tmp/src" || exit 1
(cd "$tmp/src" && { autoreconf -fi >/dev/null 2>&1 || autoreconf -fi; }) || exit 1
echo "targets.sh: $(git -C "$tmp/src" log -1 --format='%h %s')"

# The targets that tools/* asks make for, from its command lines: quoted
# strings and $(...) dropped, then "make" at the start of a command, and
# its words that are not options or variables, up to a redirection or the
# end of the command.
tool_targets=$(grep -hv '^[[:space:]]*#' "$tmp"/src/tools/* |
	sed -E 's/"[^"]*"//g; s/\$\([^)]*\)//g' |
	sed -nE 's/(^|.*[;&|(]|.*exec)[[:space:]]*make[[:space:]]+//p' |
	sed -E 's/[<>&|;)].*//' |
	tr ' \t' '\n\n' | grep -vE '^$|^-|=' | sort -u)
[ -n "$tool_targets" ] || { echo "targets.sh: found no make command in tools/*" >&2; exit 1; }

# One configured, untouched directory per case.  In-tree builds use a copy
# of the source tree (configure refuses a source tree configured in place
# for other builds).
# build in-tree|out-of-tree JOBS TARGET [CONFIGURE-ARGS...]
build() {
	where=$1 j=$2 target=$3
	shift 3
	n=$((pass + failed))
	if [ "$where" = in-tree ]; then
		dir=$tmp/in$n
		cp -a "$tmp/src" "$dir"
		conf=./configure
	else
		dir=$tmp/src/_build/out$n
		mkdir -p "$dir"
		conf=../../configure
	fi
	start=$(date +%s)
	if (cd "$dir" && $conf -q "$@" && make -s -j"$j" "$target") >"$tmp/log" 2>&1 &&
		[ -f "$dir/$target" ]; then
		pass=$((pass + 1))
		echo "ok   $target ($where, -j$j${1:+, $*}) $(($(date +%s) - start)) s"
	else
		failed=$((failed + 1))
		echo "FAIL $target ($where, -j$j${1:+, $*})"
		sed 's/^/    | /' "$tmp/log" | tail -n 30
		[ -f "$dir/$target" ] || echo "    | no $target after make $target"
	fi
	rm -rf "$dir"
}

# Every program of the Makefile, as make itself lists them.
programs() {  # programs CONFIGURE-ARGS...
	d=$tmp/list
	mkdir -p "$d" && (cd "$d" && "$tmp/src/configure" -q "$@" >/dev/null &&
		printf 'list:\n\t@echo $(bin_PROGRAMS) $(check_PROGRAMS) $(EXTRA_PROGRAMS) $(noinst_PROGRAMS)\n' |
		make -s -f Makefile -f - list EXEEXT=)
	rm -rf "$d"
}

# Each target named in tools/* must exist in the Makefile.
all_programs=$(programs)
tool_files=
for t in $tool_targets; do
	case " $all_programs " in
	*" $t "*) tool_files="$tool_files $t" ;;
	*)
		case $t in
		all | check | distcheck | bench) ;;
		*)
			failed=$((failed + 1))
			echo "FAIL tools/* runs \"make $t\", and the Makefile has no target $t"
			;;
		esac
		;;
	esac
done

if [ "$mode" = all ]; then
	for where in out-of-tree in-tree; do
		for j in 1 "$jobs"; do
			for t in $all_programs; do build "$where" "$j" "$t"; done
			for t in $(programs CC=clang --enable-fuzzing | tr ' ' '\n' | grep '^tests/fuzz/'); do
				build "$where" "$j" "$t" CC=clang --enable-fuzzing
			done
		done
	done
else
	for t in $tool_files tests/unit/test_addr tests/unit/test_sema bench/pol_lookup; do
		build out-of-tree 1 "$t"
	done
	for t in tests/fuzz/fuzz_frontend tests/fuzz/fuzz_policy tests/fuzz/fuzz_xp \
	    tests/fuzz/fuzz_route tests/fuzz/fuzz_bs; do
		build out-of-tree 1 "$t" CC=clang --enable-fuzzing
	done
	for t in $tool_files; do build in-tree "$jobs" "$t"; done
fi

echo "targets.sh: $pass passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$pass" -gt 0 ]
