#!/bin/sh
# precommit.sh -- the pre-commit hook "noqc" of .pre-commit-hooks.yaml.
#
# The hook file must define "noqc" as pre-commit wants it (python3-yaml
# reads it), and its entry must do a hook's job on several files at once,
# as pre-commit passes them: fail with the diagnostic of a bad file, pass
# clean ones.  Then, with Debian's pre-commit, the hook for real: from a
# repository of hooks made here (a copy of the hook file, committed) into a
# repository with a good and a bad configuration, by "pre-commit try-repo"
# and by a .pre-commit-config.yaml naming a revision, "files:" and "args:"
# as a user would.  Without pre-commit (or python3-yaml) those cases are
# skipped.  pre-commit needs no network for a hook of language "system";
# its cache goes into a temporary directory.
#
# Run by "make check" with
#   NOQC        the noqc binary (its directory goes first on PATH, as the
#               hook runs "noqc")
#   top_srcdir  the source tree
#   PYTHON      optional: a python3 with yaml (default /usr/bin/python3)
#   PRE_COMMIT  optional: the pre-commit program (default pre-commit)
# Each case prints "ok", "FAIL" or "SKIP" and its name.  Exit status: 0 all
# passed, 1 a case failed or none ran, 99 when the environment is unusable.

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/.." && pwd) || exit 99
fi
top_srcdir=$(cd "$top_srcdir" && pwd) || exit 99
# pass, fail, skip, show and finish: the counting all test scripts share;
# it also checks NOQ and NOQC and makes them absolute.
. "$top_srcdir/tests/report.sh"
# The hook runs "noqc": this one, whatever else is installed.
PATH=$(dirname "$NOQC"):$PATH
export PATH
PYTHON=${PYTHON:-/usr/bin/python3}
PRE_COMMIT=${PRE_COMMIT:-pre-commit}

LC_ALL=C
export LC_ALL
# No __pycache__ beside tests/sarif/check.py, which may be read-only.
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-precommit.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

hooks=$top_srcdir/.pre-commit-hooks.yaml
good=$top_srcdir/examples/smarthost.conf
bad=$top_srcdir/tests/golden/format-sarif.conf
warn=$top_srcdir/tests/golden/inc/several-warning.conf
# The diagnostic that bad.conf draws, as noqc prints it.
bad_error='bad.conf:5:1: error: option '\''qualify_domain'\'' is set more than once in the main section'


# ---- the hook's definition ----------------------------------------------

entry="noqc --check"
if [ ! -f "$hooks" ]; then
	fail ".pre-commit-hooks.yaml" "not in the source tree"
elif ! "$PYTHON" -c 'import yaml' 2>/dev/null; then
	skip ".pre-commit-hooks.yaml" "$PYTHON has no yaml module (python3-yaml)"
elif entry=$("$PYTHON" "$top_srcdir/tests/sarif/check.py" hooks "$hooks" 2>"$tmp/hooks.err"); then
	pass ".pre-commit-hooks.yaml defines noqc: noqc --check, language system, files *.conf"
else
	fail ".pre-commit-hooks.yaml" "$(tail -n 1 "$tmp/hooks.err")"
	entry="noqc --check"
fi

# ---- the entry on several files, as pre-commit passes them -----------------

mkdir "$tmp/files" || exit 99
cp "$good" "$tmp/files/good.conf" && cp "$bad" "$tmp/files/bad.conf" &&
	cp "$good" "$tmp/files/other.conf" && cp "$warn" "$tmp/files/warn.conf" || exit 99

# entry_case NAME STATUS TEXT FILE...: the entry on FILE... exits with
# STATUS, and its output holds TEXT (unless empty) and, with status 0, no
# error.
entry_case() {
	name=$1
	want=$2
	text=$3
	shift 3
	# $entry is split at blanks, as pre-commit splits it.
	(cd "$tmp/files" && $entry "$@") >"$tmp/entry.out" 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "exit status $rc, not $want"
		show "$tmp/entry.out"
	elif [ -n "$text" ] && ! grep -qF "$text" "$tmp/entry.out"; then
		fail "$name" "no '$text' in the output"
		show "$tmp/entry.out"
	elif [ "$want" -eq 0 ] && grep -q 'error:' "$tmp/entry.out"; then
		fail "$name" "an error on clean files"
		show "$tmp/entry.out"
	else
		pass "$name"
	fi
}
warning="warn.conf:2:1: warning: option 'spool_directory' has no effect in noq"
entry_case "the entry passes two clean files" 0 "" good.conf other.conf
entry_case "the entry fails a bad file among good ones, with its error" 1 \
	"$bad_error" good.conf bad.conf other.conf
entry_case "the entry fails a bad file first, and still checks the rest" 1 \
	"$warning" bad.conf warn.conf
entry_case "the entry passes a file with warnings only" 0 "$warning" good.conf warn.conf
entry_case "the entry with -Werror (args) fails it" 1 \
	"noqc: note: warnings are treated as errors (-Werror)" -Werror warn.conf good.conf
if [ "$(cd "$tmp/files" && $entry good.conf missing.conf 2>&1)" != \
	"noqc: error: cannot read 'missing.conf': No such file or directory" ]; then
	fail "the entry on a file that is gone" "not the one error expected"
else
	pass "the entry on a file that is gone: one error, naming it"
fi

# ---- pre-commit itself -------------------------------------------------------

if ! command -v "$PRE_COMMIT" >/dev/null 2>&1; then
	skip "pre-commit" "$PRE_COMMIT is not installed (Debian: apt-get install pre-commit)"
elif ! command -v git >/dev/null 2>&1; then
	skip "pre-commit" "git is not installed"
else
	PRE_COMMIT_HOME=$tmp/cache
	export PRE_COMMIT_HOME
	# Nothing from the user's git configuration; commits of the fixture
	# repositories need a name.
	GIT_CONFIG_NOSYSTEM=1 HOME=$tmp/home
	GIT_AUTHOR_NAME=noq-test GIT_AUTHOR_EMAIL=noq-test@example.org
	GIT_COMMITTER_NAME=noq-test GIT_COMMITTER_EMAIL=noq-test@example.org
	export GIT_CONFIG_NOSYSTEM HOME GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL \
		GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
	mkdir "$tmp/home" "$tmp/hookrepo" "$tmp/work" || exit 99
	# A repository of hooks: the hook file of this tree, committed (the tree
	# itself need not be a git repository: make distcheck).
	cp "$hooks" "$tmp/hookrepo/.pre-commit-hooks.yaml" || exit 99
	if ! (cd "$tmp/hookrepo" && git init -q && git add .pre-commit-hooks.yaml &&
		git commit -q -m "noq hooks") >"$tmp/git.out" 2>&1; then
		fail "pre-commit" "cannot make the repository of hooks"
		show "$tmp/git.out"
	fi
	rev=$(cd "$tmp/hookrepo" && git rev-parse HEAD)
	(cd "$tmp/work" && git init -q && cp "$good" good.conf && cp "$bad" bad.conf &&
		cp "$warn" warn.conf && git add good.conf bad.conf warn.conf) || exit 99

	# pc_case NAME STATUS ARG...: "pre-commit ARG..." in the work repository
	# exits with STATUS (0 or not), and the hook's output says so.
	pc_case() {
		name=$1
		want=$2
		shift 2
		(cd "$tmp/work" && timeout 300 "$PRE_COMMIT" "$@") >"$tmp/pc.out" 2>&1
		rc=$?
		if [ "$want" -eq 0 ] && [ "$rc" -eq 0 ] && grep -q '^noqc --check\.*Passed$' "$tmp/pc.out"; then
			pass "$name"
		elif [ "$want" -ne 0 ] && [ "$rc" -ne 0 ] &&
			grep -q '^noqc --check\.*Failed$' "$tmp/pc.out" &&
			grep -qF "$bad_error" "$tmp/pc.out"; then
			pass "$name"
		else
			fail "$name" "exit status $rc (expected $([ "$want" -eq 0 ] && echo 0 || echo 'not 0')), or the hook was not reported $([ "$want" -eq 0 ] && echo Passed || echo 'Failed with the error')"
			show "$tmp/pc.out"
		fi
	}
	pc_case "pre-commit try-repo: a good and a bad file fail, with the error" 1 \
		try-repo "$tmp/hookrepo" noqc --files good.conf bad.conf
	pc_case "pre-commit try-repo: the good file alone passes" 0 \
		try-repo "$tmp/hookrepo" noqc --files good.conf

	# As a user would: a configuration naming the repository and revision.
	# write_config FILES ARGS: a .pre-commit-config.yaml, staged.
	write_config() {
		cat >"$tmp/work/.pre-commit-config.yaml" <<EOF
repos:
  - repo: $tmp/hookrepo
    rev: $rev
    hooks:
      - id: noqc
        files: $1
        args: [$2]
EOF
		(cd "$tmp/work" && git add .pre-commit-config.yaml) || exit 99
	}
	write_config '\.conf$' ''
	pc_case "pre-commit run --all-files: fails on bad.conf" 1 run --all-files
	write_config '^(good|warn)\.conf$' ''
	pc_case "pre-commit run --all-files, files: narrowed to the good ones: passes" 0 \
		run --all-files
	write_config '^(good|warn)\.conf$' '-Werror'
	(cd "$tmp/work" && timeout 300 "$PRE_COMMIT" run --all-files) >"$tmp/pc.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q "^warn.conf:2:1: warning: option 'spool_directory'" "$tmp/pc.out" &&
		grep -q '^noqc --check\.*Failed$' "$tmp/pc.out"; then
		pass "pre-commit run, args: [-Werror]: a warning fails"
	else
		fail "pre-commit run, args: [-Werror]" "exit status $rc, or no warning shown"
		show "$tmp/pc.out"
	fi
fi

finish
