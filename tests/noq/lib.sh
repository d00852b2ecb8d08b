# lib.sh -- shared by tests/noq.sh, tests/callers.sh and tests/noq-hostile.sh:
# sourced, not run.
#
# Environment (set by "make check"): NOQ and NOQC, the built programs, and
# top_srcdir.  After sourcing, the script has:
#
#   $tmp       a private temporary directory, removed at exit;
#   $tdir      the tests/noq directory (configuration, inputs, outputs);
#   $POL       the policy compiled from tests/noq/test.conf;
#   $update    true when the script was given --update (rewrite the
#              expected outputs instead of comparing them);
#
# and the functions below.  Each case prints "ok", "FAIL" or "SKIP" and
# its name; finish() prints the counts and gives the exit status: non-zero
# when a case failed or when none ran.
#
# The dry run of noq prints what it would send (noq(8), DRY RUN).  What
# differs from run to run is normalised before comparing: the Message-Id
# noq adds, "E" and the id as Exim makes it, becomes <EID@host>; in the Received field it puts first, the id
# becomes ID, the date DATE and the version VERSION; a Date noq adds
# becomes DATE; SIZE=n becomes SIZE=N once it was checked against the
# octets that follow DATA.  So that the expected outputs hold for any
# user, the caller's address (<root@example.org>) becomes
# <CALLER@example.org> in MAIL FROM, in that Received field (with "from
# LOGIN by"), in a From field noq made from the caller's name (which
# becomes CALLER-NAME) and in Sender; for a caller other than root, the
# Sender field that noq then adds is dropped.  Outputs that show a rule
# for trusted callers (root) are checked only when root runs the tests.

set -u

update=false
case $# in
0) ;;
1)
	if [ "$1" = --update ]; then
		update=true
	else
		echo "usage: $0 [--update]" >&2
		exit 99
	fi
	;;
*)
	echo "usage: $0 [--update]" >&2
	exit 99
	;;
esac

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/.." && pwd) || exit 99
fi
. "$top_srcdir/tests/report.sh"
tdir=$(cd "$top_srcdir/tests/noq" && pwd) || exit 99

unset MAILRC NAIL_EXTRA_RC 2>/dev/null
umask 022

# A hung noq is a failure, not a stuck test run.
if command -v timeout >/dev/null 2>&1; then
	run_timeout="timeout 60"
else
	run_timeout=
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-test.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' HUP INT TERM
# Other users (nobody) run noq in some cases: they must reach the policy.
chmod 755 "$tmp"


# ---- policies ------------------------------------------------------------

# compile NAME [noqc options...]: compile tests/noq/test.conf (with its
# alias file) into $tmp/NAME/test.policy; print the policy's path.
compile() {
	cdir=$tmp/$1
	shift
	mkdir -p "$cdir" || exit 99
	cp "$tdir/test.conf" "$tdir/aliases" "$cdir/" || exit 99
	if ! "$NOQC" "$@" -o "$cdir/test.policy" "$cdir/test.conf" >"$cdir/noqc.out" 2>&1; then
		echo "$0: noqc cannot compile the test configuration:" >&2
		cat "$cdir/noqc.out" >&2
		exit 99
	fi
	echo "$cdir/test.policy"
}

POL=$(compile policy) || exit 99

# ---- the caller --------------------------------------------------------------

uid=$(id -u)
login=$(id -un 2>/dev/null) || login=uid$uid
is_root() { [ "$uid" -eq 0 ]; }

# $as_nobody CMD...: run CMD as the user nobody, without groups (when
# can_be_nobody says that works: root, and setpriv installed).
nobody_gid=$(id -g nobody 2>/dev/null) || nobody_gid=
as_nobody=$tmp/as-nobody
printf '#!/bin/sh\nexec setpriv --reuid=nobody --regid=%s --clear-groups -- "$@"\n' \
	"$nobody_gid" >"$as_nobody" && chmod 755 "$as_nobody" || exit 99
can_be_nobody() {
	is_root && [ -n "$nobody_gid" ] && command -v setpriv >/dev/null 2>&1
}

# ---- running noq ---------------------------------------------------------------

# run IN PROG ARGS...: run PROG (noq, a link to it, or a wrapper such as
# $as_nobody) with standard input from IN; stdout in $tmp/out, stderr in
# $tmp/err, the exit status in $rc.
run() {
	in=$1
	shift
	$run_timeout "$@" <"$in" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# text_is FILE TEXT: FILE holds exactly TEXT and a newline ("" = empty).
text_is() {
	if [ -z "$2" ]; then
		[ ! -s "$1" ]
	else
		printf '%s\n' "$2" >"$tmp/want"
		cmp -s "$tmp/want" "$1"
	fi
}

# expect NAME STATUS STDOUT STDERR: the last run exited with STATUS and
# printed exactly STDOUT and STDERR (each given without its final newline;
# "" means nothing at all).
expect() {
	ename=$1
	eok=yes
	if [ "$rc" -ne "$2" ]; then
		fail "$ename" "exit status $rc, expected $2"
		eok=no
	elif ! text_is "$tmp/out" "$3"; then
		fail "$ename" "standard output differs"
		eok=no
	elif ! text_is "$tmp/err" "$4"; then
		fail "$ename" "standard error differs"
		eok=no
	fi
	if [ $eok = yes ]; then
		pass "$ename"
	else
		printf '%s\n' "$3" >"$tmp/want.out"
		printf '%s\n' "$4" >"$tmp/want.err"
		echo "  expected stdout:"; show "$tmp/want.out"
		echo "  got stdout:"; show "$tmp/out"
		echo "  expected stderr:"; show "$tmp/want.err"
		echo "  got stderr:"; show "$tmp/err"
	fi
}

# ---- the dry run -----------------------------------------------------------------

# gecos name, as noq puts it in a From field it adds (noq(8)).
gecos=$(getent passwd "$login" 2>/dev/null | cut -d: -f5 | cut -d, -f1)

# normalise RAW OUT: check the structure of the dry run in RAW (CR LF
# everywhere, host lines, MAIL, RCPT, DATA, the message, "."; SIZE equal to
# the octets of the message before dot-stuffing, plus 1024: size_addition's
# default) and write it to OUT with
# LF line ends and the varying parts normalised (see the top of this file).
# Returns 1 with the reason on stdout when the structure is wrong.
normalise() {
	awk -v login="$login" -v gecos="$gecos" -v root="$(is_root && echo 1 || echo 0)" '
	function bad(why) { print "line " NR ": " why; failed = 1; exit 1 }
	# id: time-pid-fraction, six base-62 digits each (noq(8)).
	function isid(s) {
		return s ~ /^[0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z]-[0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z]-[0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z]$/
	}
	# A date of this run: RFC 5322, year 2020 or later (inputs use 2001).
	function isnow(s) {
		return s ~ /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9][0-9]? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) 20[2-9][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [-+][0-9][0-9][0-9][0-9]$/
	}
	function subst(s, from, to,   i, r) {
		r = ""
		while ((i = index(s, from)) > 0) {
			r = r substr(s, 1, i - 1) to
			s = substr(s, i + length(from))
		}
		return r s
	}
	BEGIN {
		state = "hosts"; caller = "<" login "@example.org>"
		# The name of a From field noq adds: the gecos up to its first
		# comma, & standing for the login with a capital first letter.
		sub(/,.*/, "", gecos)
		gname = subst(gecos, "&", toupper(substr(login, 1, 1)) substr(login, 2))
	}
	{
		if (substr($0, length($0)) != "\r")
			bad("no CR LF line end")
		line = substr($0, 1, length($0) - 1)
		if (index(line, "\r"))
			bad("a CR inside the line")
	}
	state == "hosts" && line ~ /^# host [^ ]+ port [0-9]+$/ { print line; next }
	state == "hosts" {
		if (line !~ /^MAIL FROM:<[^>]*> SIZE=[0-9]+( BODY=8BITMIME)?( SMTPUTF8)?( RET=[a-zA-Z]+)?( ENVID=[^ ]+)?$/)
			bad("not a MAIL command: " line)
		size = line; sub(/.* SIZE=/, "", size); sub(/ .*/, "", size)
		sub(/ SIZE=[0-9]+/, " SIZE=N", line)
		print subst(line, caller, "<CALLER@example.org>")
		state = "rcpt"; next
	}
	state == "rcpt" && line ~ /^RCPT TO:<[^>]*>( NOTIFY=[a-zA-Z,]+ ORCPT=rfc822;[!-~]+)?$/ {
		print line; nrcpt++; next
	}
	state == "rcpt" {
		if (line != "DATA") bad("neither RCPT nor DATA: " line)
		if (nrcpt == 0) bad("DATA without RCPT")
		print line; state = "header"; octets = 0; stuffed = 0; next
	}
	state == "end" { bad("text after the final dot") }
	line == "." { print line; state = "end"; next }
	{
		octets += length(line) + 2
		if (substr(line, 1, 1) == ".") stuffed++
	}
	state == "header" && line == "" { state = "body" }
	state == "header" {
		if (line ~ /^(Resent-)?Message-I[Dd]: </) {
			v = substr(line, index(line, "<") + 1)
			id = substr(v, 1, index(v, "@") - 1)
			if (substr(id, 1, 1) == "E" && isid(substr(id, 2)))
				line = substr(line, 1, index(line, "<")) "EID" substr(v, index(v, "@"))
		}
		if (line ~ /^(Resent-)?Date: / && isnow(substr(line, index(line, ":") + 2)))
			line = substr(line, 1, index(line, ":")) " DATE"
		# The Received field noq puts first, however it is folded.
		if (line ~ /^[^ \t]/)
			received = hline == 0 && line ~ /^Received: from /
		hline++
		if (received) {
			sub(/ with local \(noq [0-9][^ ()]*\)/, " with local (noq VERSION)", line)
			line = subst(line, "Received: from " login " by ", "Received: from CALLER by ")
			if ((i = index(line, "id ")) > 0 && isid(substr(line, i + 3, 20)))
				line = substr(line, 1, i + 2) "ID" substr(line, i + 23)
			if ((i = index(line, "; ")) > 0 && isnow(substr(line, i + 2)))
				line = substr(line, 1, i + 1) "DATE"
			else if (substr(line, 1, 1) == "\t" && isnow(substr(line, 2)))
				line = "\tDATE"
		}
		if (received)
			line = subst(line, caller, "<CALLER@example.org>")
		# A From field noq made from the name of the caller; Sender.
		if (gname != "" && index(line, "From: " gname " <") == 1)
			line = "From: CALLER-NAME <" substr(line, length(gname) + 9)
		else if (gname != "" && index(line, "From: \"" gname "\" <") == 1)
			line = "From: CALLER-NAME <" substr(line, length(gname) + 11)
		else if (gname == "" && index(line, "From: <") == 1)
			line = "From: CALLER-NAME <" substr(line, 8)
		if (index(line, "From: CALLER-NAME <") == 1 || line ~ /^(Resent-)?Sender: /)
			line = subst(line, caller, "<CALLER@example.org>")
		if (!root && line ~ /^(Resent-)?Sender: / && index(line, "<CALLER@example.org>"))
			next
	}
	{ print line }
	END {
		if (failed) exit 1
		if (state != "end") { print "no final dot line"; exit 1 }
		if (octets - stuffed + 1024 != size) {
			print "SIZE=" size " but the message has " octets - stuffed " octets (" stuffed " stuffed lines) and size_addition is 1024"
			exit 1
		}
	}' "$1" >"$2.tmp" || { cat "$2.tmp"; return 1; }
	mv "$2.tmp" "$2"
}

# dry NAME INPUT ARGS...: the dry run of noq ARGS with the message INPUT
# (a file in tests/noq/in, or a path).  It must exit 0, print nothing on
# stderr, and its normalised output must be tests/noq/out/NAME.out.
dry() {
	dname=$1 input=$2
	shift 2
	case $input in
	/*) ;;
	*) input=$tdir/in/$input ;;
	esac
	run "$input" "$NOQ" -C "$POL" --dry-run "$@"
	check_dry "$dname"
}

# dry_root NAME INPUT ARGS...: dry(), when root runs the tests; the output
# shows a rule that holds for trusted callers only.
dry_root() {
	if is_root; then
		dry "$@"
	else
		skip "$1" "the expected output is that of a root caller"
	fi
}

# check_dry NAME: check the last run ($tmp/out) as dry() does.
check_dry() {
	if [ "$rc" -ne 0 ] || [ -s "$tmp/err" ]; then
		fail "$1" "exit status $rc, expected 0 and no diagnostics"
		show "$tmp/err"
		return
	fi
	if ! normalise "$tmp/out" "$tmp/norm" >"$tmp/why"; then
		fail "$1" "malformed dry run: $(cat "$tmp/why")"
		show "$tmp/out"
		return
	fi
	want=$tdir/out/$1.out
	if $update; then
		if [ ! -f "$want" ] || ! cmp -s "$tmp/norm" "$want"; then
			cp "$tmp/norm" "$want" || exit 99
			echo "updated: out/$1.out"
		fi
		pass "$1"
	elif [ ! -f "$want" ]; then
		fail "$1" "no out/$1.out (run with --update to create it)"
		show "$tmp/norm"
	elif cmp -s "$want" "$tmp/norm"; then
		pass "$1"
	else
		fail "$1" "output differs from out/$1.out"
		diff -u "$want" "$tmp/norm" | sed "1,2s|[^ ]*norm|$1 (actual)|"
	fi
}
