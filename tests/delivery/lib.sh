# lib.sh -- shared by tests/delivery.sh, tests/servers.sh, tests/bs.sh,
# tests/tls.sh, tests/exim-diff.sh and tests/interop.sh: sourced, not run.
#
# Environment (set by "make check"): NOQ and NOQC, the built programs, and
# top_srcdir; NOQ_SMTP_SINK, Postfix's smtp-sink (servers.sh only).
# After sourcing, the script has:
#
#   $tmp       a private temporary directory, removed at exit (with every
#              server the script started still running: each is stopped);
#   $ddir      the tests/delivery directory;
#   $PY        the Python that runs the servers (Debian's, for its
#              packages: another python3 may come first on PATH);
#   $caller    the caller's address, the envelope sender noq uses when
#              it is given no -f (login@example.org, see smarthost.conf);
#
# and the functions below.  Each case prints "ok", "FAIL" or "SKIP" and its
# name; finish() prints the counts and gives the exit status: non-zero when
# a case failed or when none ran.
#
# A case is written as
#
#   begin "name"
#   ... run noq (send), then the checks: want_rc, want_err, want_x, want ...
#   end
#
# The first check that does not hold is the case's failure; the rest are
# skipped, and end() shows the difference (or noq's standard error).
# want_line and want_absent look for a line of standard error and for
# text in a file; want_either takes one of two values.
#
# Servers: fault() starts faultsrv, stop() stops it, x() reads its summary;
# other servers started in the background are registered with started()
# and stopped with stop_pid().  policy() compiles smarthost.conf for the
# servers' ports; conf() compiles tests/tlsdata/base.conf with a case's
# TLS and AUTH options.

set -u

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/.." && pwd) || exit 99
fi
. "$top_srcdir/tests/report.sh"
ddir=$(cd "$top_srcdir/tests/delivery" && pwd) || exit 99
PY=/usr/bin/python3
FAULTSRV=$top_srcdir/tests/smtp/faultsrv.py
if [ ! -x "$PY" ]; then
	echo "$0: $PY is needed to run the test servers" >&2
	exit 99
fi

umask 022

# A hung noq is a failure, not a stuck test run.
if command -v timeout >/dev/null 2>&1; then
	run_timeout="timeout 30"
else
	run_timeout=
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-delivery.XXXXXX") || exit 99
# The servers still running at exit are stopped (their ids are in
# $tmp/pids, one a line).
cleanup() {
	if [ -f "$tmp/pids" ]; then
		while read -r p; do
			kill -TERM "$p" 2>/dev/null
		done <"$tmp/pids"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' HUP INT TERM
: >"$tmp/pids"

login=$(id -un 2>/dev/null) || login=uid$(id -u)
caller=$login@example.org


# ---- cases -------------------------------------------------------------------

begin() {
	cname=$1
	cwhy=
	: >"$tmp/diff"
}

# want WHAT GOT EXPECTED: one check, on one-line values.
want() {
	[ -n "$cwhy" ] && return
	if [ "$2" != "$3" ]; then
		cwhy="$1: got '$2', expected '$3'"
	fi
}

# want_match WHAT GOT PATTERN: GOT matches the shell PATTERN.
want_match() {
	[ -n "$cwhy" ] && return
	# shellcheck disable=SC2254
	case $2 in
	$3) ;;
	*) cwhy="$1: got '$2', expected the pattern '$3'" ;;
	esac
}

# want_file WHAT FILE TEXT: FILE holds exactly TEXT and a newline ("" means
# an empty file).
want_file() {
	[ -n "$cwhy" ] && return
	if [ -z "$3" ]; then
		: >"$tmp/want"
	else
		printf '%s\n' "$3" >"$tmp/want"
	fi
	if ! cmp -s "$tmp/want" "$2"; then
		cwhy="$1 differs"
		diff -u "$tmp/want" "$2" | sed '1,2d' >"$tmp/diff"
	fi
}

want_rc() { want "exit status" "$rc" "$1"; }

# want_either WHAT GOT A B: GOT is A or B.
want_either() {
	[ -n "$cwhy" ] && return
	if [ "$2" != "$3" ] && [ "$2" != "$4" ]; then
		cwhy="$1: got '$2', expected '$3' or '$4'"
	fi
}

# want_line TEXT: noq's standard error has the line TEXT.
want_line() {
	[ -n "$cwhy" ] && return
	grep -Fqx -e "$1" "$tmp/err" || cwhy="standard error has no line '$1'"
}

# want_line_out TEXT: noq's standard output has the line TEXT.
want_line_out() {
	[ -n "$cwhy" ] && return
	grep -Fqx -e "$1" "$tmp/out" || cwhy="standard output has no line '$1'"
}

# want_absent WHAT TEXT FILE: TEXT occurs nowhere in FILE.
want_absent() {
	[ -n "$cwhy" ] && return
	if grep -Fq -e "$2" "$3"; then
		cwhy="$1 ('$2') found in $3"
	fi
}

# want_err TEXT: noq's standard error is exactly TEXT (lines).
want_err() { want_file "standard error" "$tmp/err" "$1"; }

end() {
	if [ -z "$cwhy" ]; then
		pass "$cname"
		return
	fi
	fail "$cname" "$cwhy"
	if [ -s "$tmp/diff" ]; then
		sed 's/^/    /' "$tmp/diff"
	else
		echo "  noq's standard error:"
		show "$tmp/err"
	fi
}

# ---- the policy ----------------------------------------------------------------

# policy NAME HOSTS [noqc options...]: compile tests/delivery/smarthost.conf
# with these hosts ("127.0.0.1:PORT ; 127.0.0.2:PORT") into $tmp/NAME.policy.
policy() {
	pname=$1 phosts=$2
	shift 2
	if ! "$NOQC" -D "HOSTS=$phosts" "$@" -o "$tmp/$pname.policy" \
		"$ddir/smarthost.conf" >"$tmp/noqc.out" 2>&1; then
		echo "$0: noqc cannot compile the test configuration:" >&2
		cat "$tmp/noqc.out" >&2
		exit 99
	fi
}

# conf NAME HOSTS: compile tests/tlsdata/base.conf followed by standard
# input (the case's transport options, then its authenticators) into
# $tmp/NAME.policy for HOSTS ("127.0.0.1:PORT").  A configuration noqc
# refuses is the case's failure (its messages shown as noq's stderr).
# (tests/tls.sh and tests/interop.sh.)
conf() {
	{
		cat "$top_srcdir/tests/tlsdata/base.conf" && cat
	} >"$tmp/$1.conf" || exit 99
	if ! "$NOQC" -D "HOSTS=$2" -o "$tmp/$1.policy" "$tmp/$1.conf" \
		>"$tmp/noqc.out" 2>&1; then
		[ -n "$cwhy" ] || cwhy="noqc refused the configuration $1"
		cp "$tmp/noqc.out" "$tmp/err"
	fi
}

# ---- servers -------------------------------------------------------------------

# wait_file FILE: wait (at most 10 s) for FILE to be non-empty.
wait_file() {
	wn=0
	while [ ! -s "$1" ]; do
		wn=$((wn + 1))
		if [ $wn -gt 200 ]; then
			return 1
		fi
		sleep 0.05
	done
}

# wait_port PORT: wait (at most 10 s) for a server to take a connection on
# 127.0.0.1:PORT.
wait_port() {
	"$PY" -c 'import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)' "$1"
}

# fault NAME ADDR [SCRIPT-LINE...]: start faultsrv on ADDR (127.0.0.1,
# 127.0.0.2...) with these script lines, serving connections until stop();
# its files are in $tmp/NAME/ and its port is in $port.
fault() {
	fname=$1 faddr=$2
	shift 2
	rm -rf "${tmp:?}/$fname"
	mkdir "$tmp/$fname" || exit 99
	: >"$tmp/$fname/script"
	for l in "$@"; do
		printf '%s\n' "$l" >>"$tmp/$fname/script"
	done
	"$PY" "$FAULTSRV" --listen "$faddr" --script "$tmp/$fname/script" \
		--transcript "$tmp/$fname/t" --port-file "$tmp/$fname/port" \
		--connections 0 --timeout 20 2>"$tmp/$fname/log" &
	echo $! >"$tmp/$fname/pid"
	started $!
	if ! wait_file "$tmp/$fname/port"; then
		echo "$0: faultsrv did not start:" >&2
		cat "$tmp/$fname/log" >&2
		exit 99
	fi
	port=$(cat "$tmp/$fname/port")
}

# started PID: a server started in the background, to be stopped at exit
# if it is still running then.
started() {
	echo "$1" >>"$tmp/pids"
}

# stop_pid PID: stop a server started in the background, wait for it, and
# forget it (its id may be another process's later).
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	# A server that has not exited 10 s after SIGTERM is killed, so that
	# a stuck test server cannot hang the suite (faultsrv once went on
	# accepting after writing its summary; the case's checks still run).
	_n=0
	while kill -0 "$1" 2>/dev/null && [ $_n -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		echo "note: test server $1 did not exit on SIGTERM; killed" >&2
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	grep -vx "$1" "$tmp/pids" >"$tmp/pids.new"
	mv "$tmp/pids.new" "$tmp/pids"
}

# stop NAME: stop the faultsrv NAME and wait for it (it then writes its
# complete summary).
stop() {
	stop_pid "$(cat "$tmp/$1/pid")"
}

# x NAME PATH: one field of faultsrv NAME's summary (see tests/smtp/README);
# "(none)" when there is no such field.
x() {
	"$PY" "$FAULTSRV" --extract "$tmp/$1/t.json" "$2" 2>/dev/null || echo "(none)"
}

# declared NAME PATH: the SIZE= noq declares for the message whose
# body_length is field PATH of faultsrv NAME's summary: its length plus
# 1024, size_addition's default (as in Exim).
declared() {
	echo $(($(x "$1" "$2") + 1024))
}

# want_x NAME PATH VALUE: the field is VALUE.
want_x() {
	[ -n "$cwhy" ] && return
	want "$1 $2" "$(x "$1" "$2")" "$3"
}

# free_port: a TCP port on which nothing listens (at the moment).
free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ---- running noq ----------------------------------------------------------------

# send POLICY IN ARGS...: noq -C $tmp/POLICY.policy ARGS with standard input
# IN; stdout in $tmp/out, stderr in $tmp/err, the exit status in $rc.
send() {
	spol=$1 sin=$2
	shift 2
	$run_timeout "$NOQ" -C "$tmp/$spol.policy" "$@" <"$sin" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
