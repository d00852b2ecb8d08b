#!/bin/sh
# sarif.sh -- noqc --check --format=sarif as a CI linter.
#
# The SARIF log must validate against the OASIS SARIF 2.1.0 schema kept in
# tests/sarif/ (see its README), carry what GitHub code scanning needs, and
# say what the text diagnostics say: for every configuration in examples/
# (no result) and every case of tests/golden/ (errors, warnings, notes,
# include chains, hidden diagnostics, UTF-8), noqc runs in the three
# formats, with the same exit status, and tests/sarif/check.py compares
# them.  Then several files in one run (one log, one run, the results of
# the files alone in order; the worst exit status; text and JSON likewise),
# artifact URIs of awkward file names, and the noqc commands of the GitHub
# Actions example in examples/ci/ run as written.
#
# Run by "make check" with
#   NOQC        the noqc binary
#   top_srcdir  the source tree
#   PYTHON      optional: a python3 with jsonschema (default /usr/bin/python3,
#               Debian's, with python3-jsonschema; python3-yaml for the
#               workflow case)
# Each case prints "ok", "FAIL" or "SKIP" and its name.  Exit status: 0 all
# passed, 1 a case failed or none ran, 77 (skipped) without
# python3-jsonschema, 99 when the environment is unusable.

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/.." && pwd) || exit 99
fi
top_srcdir=$(cd "$top_srcdir" && pwd) || exit 99
# pass, fail, skip, show and finish: the counting all test scripts share;
# it also checks NOQ and NOQC and makes them absolute.
. "$top_srcdir/tests/report.sh"

PYTHON=${PYTHON:-/usr/bin/python3}
if ! "$PYTHON" -c 'import jsonschema' 2>/dev/null; then
	echo "SKIP: sarif.sh needs $PYTHON with the jsonschema module" \
		"(Debian: apt-get install python3-jsonschema)"
	exit 77
fi

# strerror() texts and byte counts must not depend on the locale.
LC_ALL=C
export LC_ALL
# No __pycache__ beside tests/sarif/check.py, which may be read-only.
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-sarif.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

schema=$top_srcdir/tests/sarif/sarif-schema-2.1.0.json
check_py=$top_srcdir/tests/sarif/check.py
gdir=$top_srcdir/tests/golden
edir=$top_srcdir/examples


# verdict NAME FILE: the case passed if check.py's first word in FILE is PASS.
verdict() {
	if head -n 1 "$2" | grep -q '^PASS\( \|$\)'; then
		pass "$1"
	else
		fail "$1" "$(head -n 1 "$2")"
		sed 1d "$2" | head -n 20
	fi
}

# run3 OUT DIR ARG...: noqc --check ARG... in DIR in the three formats:
# OUT.sarif, OUT.txt, OUT.json, and the exit statuses in OUT.rc (text,
# SARIF, JSON).  Format options in ARG... are overridden.  Prints why if
# the statuses differ or a format wrote on the wrong stream.
run3() {
	out=$1
	dir=$2
	shift 2
	(cd "$dir" && "$NOQC" --check "$@" --format=text) >"$out.stdout" 2>"$out.txt"
	rc_text=$?
	(cd "$dir" && "$NOQC" --check "$@" --format=sarif) >"$out.sarif" 2>"$out.stderr"
	rc_sarif=$?
	(cd "$dir" && "$NOQC" --check "$@" --format=json) >"$out.json" 2>>"$out.stderr"
	rc_json=$?
	echo "$rc_text $rc_sarif $rc_json" >"$out.rc"
	if [ "$rc_text" != "$rc_sarif" ] || [ "$rc_text" != "$rc_json" ]; then
		echo "exit status text $rc_text, sarif $rc_sarif, json $rc_json"
	elif [ -s "$out.stdout" ] || [ -s "$out.stderr" ]; then
		echo "text wrote on standard output, or SARIF or JSON on standard error"
	fi
}

# ---- the schema is the genuine one --------------------------------------

if "$PYTHON" - "$schema" >"$tmp/schema.out" 2>&1 <<'EOF'
import json, sys, jsonschema
s = json.load(open(sys.argv[1], encoding="utf-8"))
assert s["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json", s["id"]
assert s["properties"]["version"]["enum"] == ["2.1.0"]
jsonschema.validators.validator_for(s).check_schema(s)
EOF
then
	pass "the vendored schema is OASIS SARIF 2.1.0 (errata 01) and a valid schema"
else
	fail "the vendored schema" "$(tail -n 1 "$tmp/schema.out")"
fi

# ---- every example and every golden case: valid, and as the text says ----

manifest=$tmp/manifest
: >"$manifest"

for conf in "$edir"/*.conf; do
	[ -f "$conf" ] || continue
	name=$(basename "$conf" .conf)
	why=$(run3 "$tmp/ex.$name" "$edir" "$name.conf")
	if [ -n "$why" ]; then
		fail "examples/$name.conf" "$why"
	elif [ "$(cat "$tmp/ex.$name.rc")" != "0 0 0" ]; then
		fail "examples/$name.conf" "exit status $(cat "$tmp/ex.$name.rc"), not 0"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\tclean\n' "examples/$name" "$edir" "$name.conf" \
		"$tmp/ex.$name.sarif" "$tmp/ex.$name.txt" "$tmp/ex.$name.json" >>"$manifest"
done

# golden_case NAME DIR: run the case NAME.conf of tests/golden in DIR.
golden_case() {
	args=
	if [ -f "$gdir/$1.args" ]; then
		args=$(cat "$gdir/$1.args")
	fi
	opts=
	files=$1.conf
	set -f
	for a in $args; do
		case $a in
		-Werror | --werror) opts=werror ;;
		-*) ;;
		*=*) ;;
		*) files="$files $a" ;;
		esac
	done
	# $args is split at blanks on purpose, as tests/golden.sh does.
	# shellcheck disable=SC2086
	why=$(run3 "$tmp/g.$1" "$2" $args "$1.conf")
	set +f
	if [ -n "$why" ]; then
		fail "golden/$1" "$why"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$files" "$tmp/g.$1.sarif" \
		"$tmp/g.$1.txt" "$tmp/g.$1.json" "$opts" >>"$manifest"
}

for conf in "$gdir"/*.conf; do
	[ -f "$conf" ] || continue
	golden_case "$(basename "$conf" .conf)" "$gdir"
done
for gen in "$gdir"/*.gen; do
	[ -f "$gen" ] || continue
	name=$(basename "$gen" .gen)
	mkdir "$tmp/gen.$name" || exit 99
	if ! (cd "$tmp/gen.$name" && sh "$gen") || [ ! -f "$tmp/gen.$name/$name.conf" ]; then
		fail "golden/$name" "$name.gen did not write $name.conf"
		continue
	fi
	golden_case "$name" "$tmp/gen.$name"
done

# Bytes that are not UTF-8 (a surrogate, an overlong form, stray bytes, a
# sequence cut short), a control byte and a character outside the BMP,
# echoed in messages and standing before a column: the log must still be
# UTF-8 JSON, its columns those a viewer counts.
mkdir "$tmp/hostile" || exit 99
printf 'foo\355\240\200 = 1\nbar\340\200\200\001 = 2\n\377\376qq = 3\ngecos_name = "\355\240\200\377\001\342\202 \360\237\231\202 \\xzz"\n' \
	>"$tmp/hostile/hostile-bytes.conf"
why=$(run3 "$tmp/h" "$tmp/hostile" hostile-bytes.conf)
[ -z "$why" ] || fail "hostile-bytes.conf" "$why"
printf '%s\t%s\t%s\t%s\t%s\t%s\t\n' "hostile bytes" "$tmp/hostile" hostile-bytes.conf \
	"$tmp/h.sarif" "$tmp/h.txt" "$tmp/h.json" >>"$manifest"

"$PYTHON" "$check_py" cases "$schema" "$manifest" >"$tmp/cases.out" 2>&1
ncases=$(wc -l <"$manifest")
if [ "$(grep -c '^PASS \|^FAIL ' "$tmp/cases.out")" -ne "$ncases" ]; then
	fail "check.py cases" "did not judge all $ncases cases"
	show "$tmp/cases.out"
fi
while IFS= read -r line; do
	case $line in
	"PASS "*) pass "SARIF valid and as the text says: ${line#PASS }" ;;
	"FAIL "*)
		name=${line#FAIL }
		fail "SARIF of ${name%%:*}" "${name#*: }"
		;;
	esac
done <"$tmp/cases.out"

# The examples' logs hold an empty result set, and still a results array.
for conf in "$edir"/*.conf; do
	name=$(basename "$conf" .conf)
	if ! grep -q '^    "results": \[\],$' "$tmp/ex.$name.sarif"; then
		fail "examples/$name.conf" "no empty results array in the SARIF log"
		show "$tmp/ex.$name.sarif"
	fi
done

# ---- several files in one run --------------------------------------------

# several NAME STATUS DIR ARG... -- FILE...: noqc --check ARG... FILE... in
# one run against one run per FILE: the SARIF results, the text, the JSON
# diagnostics and counts, and the exit status: the worst, STATUS.
several() {
	name=$1
	want=$2
	dir=$3
	shift 3
	opts=
	flags=
	while [ "$1" != -- ]; do
		opts="$opts $1"
		[ "$1" = -Werror ] && flags=werror
		shift
	done
	shift
	n=0
	parts=
	worst=0
	: >"$tmp/sev.cat.txt"
	for f in "$@"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		why=$(run3 "$tmp/sev.$n" "$dir" $opts "$f")
		[ -z "$why" ] || fail "$name: $f alone" "$why"
		cat "$tmp/sev.$n.txt" >>"$tmp/sev.cat.txt"
		parts="$parts $tmp/sev.$n.sarif"
		rc=$(cut -d' ' -f1 "$tmp/sev.$n.rc")
		[ "$rc" -gt "$worst" ] && worst=$rc
	done
	# shellcheck disable=SC2086
	why=$(run3 "$tmp/sev.all" "$dir" $opts "$@")
	[ -z "$why" ] || fail "$name" "$why"
	if [ "$(cat "$tmp/sev.all.rc")" != "$worst $worst $worst" ] || [ "$worst" != "$want" ]; then
		fail "$name" "exit status $(cat "$tmp/sev.all.rc"), the worst alone $worst, expected $want"
	else
		pass "$name: exit status $worst, the worst of the files alone"
	fi
	if cmp -s "$tmp/sev.cat.txt" "$tmp/sev.all.txt"; then
		pass "$name: text is that of the files alone, one after the other"
	else
		fail "$name" "text differs from the files alone"
		diff "$tmp/sev.cat.txt" "$tmp/sev.all.txt" | head -n 20
	fi
	# shellcheck disable=SC2086
	"$PYTHON" "$check_py" same "$tmp/sev.all.sarif" $parts >"$tmp/sev.same" 2>&1
	verdict "$name: one SARIF run with the results of the files alone, in order" \
		"$tmp/sev.same"
	# shellcheck disable=SC2046,SC2086
	"$PYTHON" - "$tmp/sev.all.json" $(echo "$parts" | sed 's/\.sarif/.json/g') \
		>"$tmp/sev.json" 2>&1 <<'EOF'
import json, sys
whole = json.load(open(sys.argv[1]))
parts = [json.load(open(p)) for p in sys.argv[2:]]
ok = whole["diagnostics"] == [d for p in parts for d in p["diagnostics"]] and all(
    whole[k] == sum(p[k] for p in parts) for k in ("errors", "warnings", "not_shown"))
print("PASS" if ok else "FAIL: the JSON is not the files' diagnostics and counts added up")
EOF
	verdict "$name: JSON diagnostics and counts of the files alone, added up" \
		"$tmp/sev.json"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$dir" "$*" "$tmp/sev.all.sarif" \
		"$tmp/sev.all.txt" "$tmp/sev.all.json" "$flags" >"$tmp/sev.manifest"
	"$PYTHON" "$check_py" cases "$schema" "$tmp/sev.manifest" >"$tmp/sev.cases" 2>&1
	verdict "$name: SARIF valid and as the text says" "$tmp/sev.cases"
}

# shellcheck disable=SC2046
several "every example at once" 0 "$edir" -- $(cd "$edir" && ls ./*.conf)
several "examples and broken configurations" 1 "$gdir" --max-errors=2 -- \
	format-sarif.conf "$edir/smarthost.conf" include-chain-error.conf \
	inc/several-missing.conf max-errors-cap.conf utf8-caret.conf werror.conf
several "warnings alone" 0 "$gdir" -- "$edir/gmail.conf" inc/several-warning.conf \
	"$edir/smarthost.conf"
several "warnings with -Werror" 1 "$gdir" -Werror -- "$edir/gmail.conf" \
	inc/several-warning.conf

# A usage error writes no document, with one file or several.
for files in smarthost.conf "smarthost.conf gmail.conf"; do
	for fmt in sarif json; do
		# shellcheck disable=SC2086
		(cd "$edir" && "$NOQC" --check --format=$fmt -D bad $files) >"$tmp/usage.out" 2>/dev/null
		rc=$?
		if [ "$rc" -eq 64 ] && [ ! -s "$tmp/usage.out" ]; then
			pass "a bad -D with --format=$fmt and $files: status 64, nothing on standard output"
		else
			fail "a bad -D with --format=$fmt and $files" "exit status $rc, or output"
			show "$tmp/usage.out"
		fi
	done
done

# ---- artifact URIs ---------------------------------------------------------

bad='primary_hostnam = mail.example.org'
mkdir -p "$tmp/odd dir #1/sub" || exit 99
printf '%s\n' "$bad" >"$tmp/odd dir #1/sub/caf$(printf '\303\251') 50%.conf"
printf '%s\n' "$bad" >"$tmp/odd dir #1/a:b.conf"
# uri_case NAME DIR FILE: the URI of FILE's first result, run in DIR.
uri_case() {
	(cd "$2" && "$NOQC" --check --format=sarif "$3") >"$tmp/uri.sarif" 2>/dev/null
	"$PYTHON" "$check_py" uri "$tmp/uri.sarif" "$3" >"$tmp/uri.out" 2>&1
	verdict "$1" "$tmp/uri.out"
	"$PYTHON" "$check_py" valid "$schema" "$tmp/uri.sarif" >"$tmp/uri.out" 2>&1
	verdict "$1: valid" "$tmp/uri.out"
}
for f in "$tmp/odd dir #1/sub/"*.conf; do
	uri_case "absolute name with blank, '#', '%' and UTF-8: a file: URI" "/" "$f"
	uri_case "relative name with blank, '#', '%' and UTF-8" "$tmp" \
		"odd dir #1/sub/$(basename "$f")"
done
uri_case "relative name with ./ in front: dropped" "$tmp/odd dir #1" ./a:b.conf
uri_case "relative name with ':' before any '/': not a scheme" "$tmp/odd dir #1" a:b.conf

# ---- the GitHub Actions example runs as written -----------------------------

wf=$top_srcdir/examples/ci/noq-lint.yml
if ! "$PYTHON" -c 'import yaml' 2>/dev/null; then
	skip "examples/ci/noq-lint.yml" "$PYTHON has no yaml module (python3-yaml)"
elif ! "$PYTHON" "$check_py" workflow "$wf" >"$tmp/wf.sh" 2>"$tmp/wf.err"; then
	fail "examples/ci/noq-lint.yml" "$(tail -n 1 "$tmp/wf.err")"
else
	pass "examples/ci/noq-lint.yml: a workflow that uploads SARIF with security-events: write"
	# Its noqc commands, in a copy of the parts of the tree they read.
	mkdir "$tmp/wf" && cp -R "$edir" "$tmp/wf/examples" || exit 99
	wf_run() {
		(cd "$tmp/wf" && PATH=$(dirname "$NOQC"):$PATH && export PATH &&
			sh -e "$tmp/wf.sh") >"$tmp/wf.out" 2>&1
	}
	if wf_run && [ -s "$tmp/wf/noq.sarif" ]; then
		"$PYTHON" "$check_py" valid "$schema" "$tmp/wf/noq.sarif" >"$tmp/wf.v" 2>&1
		verdict "noq-lint.yml's commands pass on clean configurations, valid SARIF" "$tmp/wf.v"
	else
		fail "noq-lint.yml's commands" "failed on clean configurations"
		show "$tmp/wf.out"
	fi
	# A broken configuration where the workflow looks: the job must fail,
	# and the log must hold the error.
	cp "$gdir/format-sarif.conf" "$tmp/wf/examples/broken.conf" || exit 99
	rm -f "$tmp/wf/noq.sarif"
	if wf_run; then
		fail "noq-lint.yml's commands" "passed with an error in examples/broken.conf"
	elif ! grep -q '"uri": "examples/broken.conf"' "$tmp/wf/noq.sarif" ||
		! grep -q '^examples/broken.conf:5:1: error:' "$tmp/wf.out"; then
		fail "noq-lint.yml's commands" "the error is not in the SARIF log and the job log"
		show "$tmp/wf.out"
	else
		pass "noq-lint.yml's commands fail on an error, which SARIF and the log show"
	fi
fi

finish
