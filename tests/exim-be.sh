#!/bin/sh
# exim-be.sh -- "noqc --expand" compared with real Exim's "exim -be".
#
# Every case of tests/exim-be/cases.txt (one expansion string a line; blank
# lines and lines starting with # are ignored) is expanded by Exim 4.96
# ("exim -C CONF -be", CONF holding only the main options Exim needs to run
# from a scratch directory, and primary_hostname set to "uname -n", which
# noqc takes from gethostname() for $primary_hostname, $qualify_domain and
# $qualify_recipient) and by "noqc --expand".  noq's output must be Exim's:
# the same expansion, or the same "Failed: MESSAGE" text.
#
# All the cases go to each program in one run, on standard input, one line
# each, with a separator line (below) after each, so that results and
# messages spanning several lines (Exim's "curly-bracket problem" message
# does) keep the cases apart.  Exim's "> " prompt before each result is
# taken off.
#
# A case may start with directives, each followed by one blank:
#   !unsupported  noq is expected to refuse the construct: its output must
#                 start with "Failed: " and contain "not supported by noq"
#                 (what Exim does is not compared);
#   !refused      noq refuses the string on purpose where Exim does not
#                 (a deliberate difference, listed in noq.conf(5) under
#                 "Expansions"): noq's output must start with "Failed: ";
#                 what Exim does is not compared;
#   !wording      both fail, and noq words it its own way on purpose
#                 (one line naming the construct at its column, where
#                 Exim's yes/no and curly-bracket messages quote the rest
#                 of the string): noq's output must start with "Failed: ",
#                 Exim's too;
#   !known        a known difference not yet resolved (none today), listed in
#                 noq.conf(5) under "Expansions": not compared, but shown
#                 and counted, so that the list stays visible;
#   !args         the string is given as a command-line argument instead
#                 (exim -be STRING..., noqc --expand STRING..., again all
#                 in one run): on standard input Exim strips trailing white
#                 space and joins a line ending in \ with the next;
#   !raw          the string is fed on standard input as it is after
#                 turning \n, \t and \\ into a newline, a tab and \: for
#                 what Exim's reader does with trailing blanks and \
#                 continuation lines.  It must be one logical line to Exim.
# Exim treats an input line starting with an upper-case letter as a macro
# definition, and replaces built-in macros (_HAVE_..., _OPT_...) anywhere
# in a line: cases must have neither (they are refused as broken cases).
#
# Exim is the one "tools/deps --bench" unpacks into _build/exim of the
# source tree, or NOQ_EXIM; without it, or when it cannot run here (it
# needs root to run with -C as its own user), the test is skipped (77).
#
# Environment (set by "make check"): NOQC, top_srcdir; NOQ_EXIM.
# Exit status: 0 when every case passed, 1 otherwise, 77 skipped, 99 error.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${NOQC:=$top_srcdir/noqc}"
exim=${NOQ_EXIM:-$top_srcdir/_build/exim/usr/sbin/exim4}
exim_lib=${exim%/usr/sbin/exim4}/usr/lib/x86_64-linux-gnu
cases=$top_srcdir/tests/exim-be/cases.txt
# The separator line: an expansion that fails in both, after a match_domain
# condition that matched nothing.  In Exim that also resets $0..$9 and
# $value, which a failed ${if} or ${extract} leaves set for the lines after
# it (exim -be keeps them from one line to the next; noq does not).
# shellcheck disable=SC2016 # an Exim expansion, not the shell's
sep='${if match_domain{noq.exim.be}{separator}{}{$noq_exim_be_separator}}'
sep_out='Failed: unknown variable name "noq_exim_be_separator"'

if [ ! -x "$exim" ]; then
	echo "SKIP: no Exim at $exim (tools/deps --bench, or set NOQ_EXIM)"
	exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: Exim runs a -C configuration as root only"
	exit 77
fi
if [ ! -x "$NOQC" ]; then
	echo "exim-be.sh: no noqc at $NOQC (set NOQC)" >&2
	exit 99
fi
if [ ! -r "$cases" ]; then
	echo "exim-be.sh: cannot read $cases" >&2
	exit 99
fi

# Byte semantics for awk and stable messages from the C library.
LC_ALL=C
export LC_ALL

if command -v timeout >/dev/null 2>&1; then
	run_timeout="timeout 120"
else
	run_timeout=
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-exim-be.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' HUP INT TERM
mkdir -p "$tmp/spool" "$tmp/log"
{
	echo "exim_user = root"
	echo "exim_group = root"
	echo "spool_directory = $tmp/spool"
	echo "log_file_path = $tmp/log/%slog"
	echo "primary_hostname = $(uname -n)"
} >"$tmp/exim.conf"

# The cases: $tmp/index has "LINE<TAB>FLAGS<TAB>STRING" for each (FLAGS:
# "-", or the letters u, f, w, k, a, r for !unsupported, !refused,
# !wording, !known, !args, !raw), in order;
# $tmp/stdin the standard input of both programs; $tmp/args the strings
# given as arguments, one a line.  Cases neither program can be given as
# they are go to $tmp/broken.
awk -v sep="$sep" -v stdin="$tmp/stdin" -v args="$tmp/args" \
    -v index_="$tmp/index" -v broken="$tmp/broken" '
function unraw(s,    out, c) {
	out = ""
	while (s != "") {
		c = substr(s, 1, 1)
		if (c == "\\" && length(s) > 1) {
			c = substr(s, 2, 1)
			if (c == "n") c = "\n"
			else if (c == "t") c = "\t"
			else if (c != "\\") c = "\\" c
			s = substr(s, 3)
		} else
			s = substr(s, 2)
		out = out c
	}
	return out
}
/^#/ || /^[ \t]*$/ { next }
{
	s = $0; flags = ""
	for (;;) {
		if (substr(s, 1, 13) == "!unsupported ") { flags = flags "u"; s = substr(s, 14) }
		else if (substr(s, 1, 9) == "!refused ") { flags = flags "f"; s = substr(s, 10) }
		else if (substr(s, 1, 9) == "!wording ") { flags = flags "w"; s = substr(s, 10) }
		else if (substr(s, 1, 7) == "!known ") { flags = flags "k"; s = substr(s, 8) }
		else if (substr(s, 1, 6) == "!args ") { flags = flags "a"; s = substr(s, 7) }
		else if (substr(s, 1, 5) == "!raw ") { flags = flags "r"; s = substr(s, 6) }
		else break
	}
	why = ""
	if (s ~ /^[A-Z]/)
		why = "starts with an upper-case letter (a macro definition to Exim)"
	else if (s ~ /_[A-Z]/)
		why = "has _ and an upper-case letter (a built-in macro to Exim)"
	else if (length(s) > 1000)
		why = "is longer than Exim reads in one go"
	else if (flags !~ /[ar]/ && s ~ /[ \t\\]$/)
		why = "ends in blank or \\ (use !args)"
	else if (flags ~ /a/ && flags ~ /r/)
		why = "has both !args and !raw"
	if (why != "") {
		printf "%d\t%s\t%s\n", NR, why, s > broken
		next
	}
	if (flags == "") flags = "-"
	printf "%d\t%s\t%s\n", NR, flags, s > index_
	if (flags ~ /a/)
		print s > args
	else {
		print (flags ~ /r/ ? unraw(s) : s) > stdin
		print sep > stdin
	}
}' "$cases" || exit 99
touch "$tmp/index" "$tmp/stdin" "$tmp/args" "$tmp/broken"

run_exim() {
	LD_LIBRARY_PATH=$exim_lib $run_timeout "$exim" -C "$tmp/exim.conf" -be "$@"
}
run_noq() {
	$run_timeout "$NOQC" --expand "$@"
}

# Standard input: one run each.  (NUL bytes, should a program print any,
# become \001 for awk.)
status=0
run_exim <"$tmp/stdin" 2>"$tmp/exim.err" | tr '\000' '\001' >"$tmp/exim.out"
run_noq <"$tmp/stdin" 2>"$tmp/noq.err" | tr '\000' '\001' >"$tmp/noq.out"

# Arguments: one run each, a separator after each string.
set --
while IFS= read -r a; do
	set -- "$@" "$a" "$sep"
done <"$tmp/args"
: >"$tmp/exim-args.out"
: >"$tmp/noq-args.out"
if [ $# -gt 0 ]; then
	run_exim "$@" 2>>"$tmp/exim.err" </dev/null | tr '\000' '\001' >"$tmp/exim-args.out"
	run_noq "$@" 2>>"$tmp/noq.err" </dev/null | tr '\000' '\001' >"$tmp/noq-args.out"
fi

# Not compared (Exim logs some errors there), but shown.
for f in exim noq; do
	if [ -s "$tmp/$f.err" ]; then
		echo "exim-be.sh: note: $f wrote on standard error:"
		sed 's/^/    | /' "$tmp/$f.err"
	fi
done

# Split each output into one record per case (the lines before each
# separator line) and compare.
awk -v sep="$sep_out" -v dir="$tmp" '
function load(file, tag, prompt,    line, n, rec, first) {
	n = 0; rec = ""; first = 1
	while ((getline line < file) > 0) {
		if (prompt && first && substr(line, 1, 2) == "> ")
			line = substr(line, 3)
		if (line == sep || prompt && line == "> " sep) {
			out[tag, ++n] = rec; rec = ""; first = 1
			continue
		}
		rec = first ? line : rec "\n" line
		first = 0
	}
	close(file)
	count[tag] = n
}
function show(s) {
	gsub(/\n/, "\n          | ", s)
	return s
}
BEGIN {
	load(dir "/exim.out", "es", 1); load(dir "/noq.out", "ns", 0)
	load(dir "/exim-args.out", "ea", 0); load(dir "/noq-args.out", "na", 0)
	while ((getline line < (dir "/broken")) > 0) {
		split(line, f, "\t")
		printf "FAIL line %d: %s\n", f[1], substr(line, length(f[1]) + length(f[2]) + 3)
		printf "    broken case: %s\n", f[2]
		total++; failed++
	}
	while ((getline line < (dir "/index")) > 0) {
		split(line, f, "\t")
		nr = f[1]; flags = f[2]
		s = substr(line, length(nr) + length(flags) + 3)
		m = flags ~ /a/ ? "a" : "s"
		k = ++seen[m]
		e = (("e" m, k) in out) ? out["e" m, k] : "<no output>"
		n = (("n" m, k) in out) ? out["n" m, k] : "<no output>"
		total++
		if (flags ~ /u/)
			ok = substr(n, 1, 8) == "Failed: " && index(n, "not supported by noq") > 0
		else if (flags ~ /f/)
			ok = substr(n, 1, 8) == "Failed: "
		else if (flags ~ /w/)
			ok = substr(n, 1, 8) == "Failed: " && substr(e, 1, 8) == "Failed: "
		else if (flags ~ /k/) {
			known++
			printf "KNOWN line %d: %s\n    exim: %s\n    noq:  %s\n", nr, s, show(e), show(n)
			ok = 1
		} else
			ok = e == n && e != "<no output>"
		if (ok) {
			passed++
			continue
		}
		failed++
		printf "FAIL line %d: %s\n", nr, s
		if (flags ~ /u/)
			printf "    (expected noq to fail: not supported by noq)\n"
		if (flags ~ /f/)
			printf "    (expected noq to refuse it)\n"
		printf "    exim: %s\n", show(e)
		printf "    noq:  %s\n", show(n)
	}
	for (m in seen)
		if (count["e" m] != seen[m] || count["n" m] != seen[m]) {
			printf "exim-be.sh: %s: %d cases, %d results from Exim, %d from noq\n", \
			    m == "a" ? "arguments" : "standard input", seen[m], \
			    count["e" m], count["n" m]
			failed++
		}
	printf "exim-be.sh: %d cases, %d passed (%d of them known differences), %d failed\n", \
	    total, passed, known, total - passed
	exit !(failed == 0 && total > 0 && passed == total)
}' || status=1

exit $status
