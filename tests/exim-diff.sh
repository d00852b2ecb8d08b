#!/bin/sh
# exim-diff.sh -- noq and real Exim on the same configuration, input and
# flags, delivering to the same recording server (issue 16's differential
# suite).
#
# Each line of tests/exim-diff/cases is a case:
#
#   NAME  CONF  USER  INPUT  ARGUMENTS...
#
# CONF is tests/exim-diff/CONF.conf, in which @PORT@ stands for the port of
# the recording server, @DIR@ for the directory of the cases and @KEYS@
# for one holding tests/dkimsign's RFC 8463 keys as rsa.pem and ed.pem,
# owned by Exim's user and mode 0600, as both programs want a key.  USER is
# root or nobody (an untrusted caller).  INPUT is the standard input: a
# file of tests/exim-diff/in/, else of tests/noq/in/ (the messages of real
# callers); a name ending in .esc is one line of printf %b escapes (\r, \n,
# \0351), for the octets a text file does not show; "-" is no input.  The
# ARGUMENTS are split as the shell splits them (quotes work).
#
# Exim runs as "exim -C CONF.exim ARGUMENTS" (for an untrusted caller see
# ns.sh below), CONF.exim being the case's configuration after the main
# options it needs to run from a scratch directory and deliver at once
# (mua_wrapper); noq as "noq -C CONF.policy
# ARGUMENTS", the policy compiled from the same configuration.  Both deliver
# to one faultsrv (tests/smtp/faultsrv.py).  What is compared, normalised by
# tests/exim-diff/norm.py (which masks only ids, the dates of now and the
# program's name): the exit status, the standard output (with the standard
# error for -bt and -bv, as tests/exim-bt.sh does, the server's port
# written PORT; of a -bs session, the reply codes), and per connection each
# command, MAIL and RCPT with their parameters, the header fields in order
# and the body.
#
# Where noq differs from Exim on purpose, or has not caught up yet,
# tests/exim-diff/NAME.diff holds the expected difference: "diff -u" of
# Exim's normalised run and noq's, without the two file lines, after
# comment lines ("#") saying which point of issue 16 it is.  Any other
# difference fails the case, and so does an expected difference that no
# longer occurs (the .diff file must then go).
#
# Exim is the one "tools/deps --bench" unpacks into _build/exim of the
# source tree, or NOQ_EXIM; without it, or without root (Exim runs a -C
# configuration only for root, and the untrusted cases run as nobody), the
# test is skipped (77).
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir; NOQ_EXIM.
# Usage: sh tests/exim-diff.sh [--update] [NAME...]
# With --update the differences found are written to the .diff files (with
# a TODO comment, which fails until it is replaced by the reason): review
# them with git diff.  NAMEs run only those cases.
# Exit status: 0 when every case passed, 1 otherwise, 77 skipped.

# shellcheck source=delivery/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/delivery/lib.sh"

exim=${NOQ_EXIM:-$top_srcdir/_build/exim/usr/sbin/exim4}
exim_lib=${exim%/usr/sbin/exim4}/usr/lib/x86_64-linux-gnu
cdir=$(cd "$top_srcdir/tests/exim-diff" && pwd) || exit 99
update=no
if [ "${1:-}" = --update ]; then
	update=yes
	shift
fi

if [ ! -x "$exim" ]; then
	echo "SKIP: no Exim at $exim (tools/deps --bench, or set NOQ_EXIM)"
	exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: Exim runs a -C configuration as root only"
	exit 77
fi
nogroup=$(id -gn nobody 2>/dev/null) || {
	echo "SKIP: no user nobody to run the untrusted cases as"
	exit 77
}
# Exim's own user: not root (it refuses to run a transport as root) and not
# nobody (its own user is a trusted caller).  "tools/deps --bench" creates
# Debian-exim.
for eximuser in Debian-exim daemon ''; do
	[ -n "$eximuser" ] && id "$eximuser" >/dev/null 2>&1 && break
done
if [ -z "$eximuser" ]; then
	echo "SKIP: no user for Exim to run as (Debian-exim: tools/deps --bench)"
	exit 77
fi

# The untrusted runs read the configurations; Exim writes its spool as its
# own user.
chmod 755 "$tmp" || exit 99
mkdir -p "$tmp/spool" "$tmp/log" "$tmp/in" "$tmp/ns" &&
	chown "$eximuser" "$tmp/spool" "$tmp/log" || exit 99

# Exim runs a -C configuration for root and its own user only: anyone else
# gets Exim without privileges, which cannot write its spool.  So for an
# untrusted caller the configuration goes where Exim looks by default,
# /etc/exim4/exim4.conf, in a mount namespace of its own: an overlay on /etc
# that only this run sees (ns.sh CONF COMMAND...).  Where that cannot be
# done, the untrusted cases are skipped.
cat >"$tmp/ns.sh" <<'EOF'
set -e
mount -t tmpfs noq-exim-diff "$NS"
mkdir "$NS/up" "$NS/work" "$NS/up/exim4"
cp "$1" "$NS/up/exim4/exim4.conf"
shift
mount -t overlay noq-exim-diff -o "lowerdir=/etc,upperdir=$NS/up,workdir=$NS/work" /etc
exec "$@"
EOF
NS=$tmp/ns
export NS
if unshare -m sh "$tmp/ns.sh" /dev/null test -f /etc/exim4/exim4.conf 2>/dev/null; then
	untrusted=yes
else
	untrusted=no
fi

fault srv 127.0.0.1
srv=$tmp/srv/t

# The DKIM keys (@KEYS@): Exim reads them as its own user, noq as root.
mkdir -p "$tmp/keys" &&
	cp "$top_srcdir/tests/dkimsign/rfc8463-rsa.pem" "$tmp/keys/rsa.pem" &&
	cp "$top_srcdir/tests/dkimsign/rfc8463-ed25519.pem" "$tmp/keys/ed.pem" &&
	chown "$eximuser" "$tmp/keys/rsa.pem" "$tmp/keys/ed.pem" &&
	chmod 600 "$tmp/keys/rsa.pem" "$tmp/keys/ed.pem" || exit 99

# ---- the configurations ---------------------------------------------------------

# conf NAME: $tmp/NAME.exim and $tmp/NAME.policy from tests/exim-diff/NAME.conf
# (once); non-zero when noqc refuses it (its output in $tmp/NAME.noqc).
conf() {
	[ -f "$tmp/$1.policy" ] && return 0
	[ -f "$tmp/$1.noqc" ] && return 1
	sed "s|@DIR@|$cdir|g; s|@PORT@|$port|g; s|@KEYS@|$tmp/keys|g" "$cdir/$1.conf" >"$tmp/$1.conf"
	{
		echo "exim_user = $eximuser"
		echo "spool_directory = $tmp/spool"
		echo "log_file_path = $tmp/log/%slog"
		echo "keep_environment ="
		echo "mua_wrapper = true"
		cat "$tmp/$1.conf"
	} >"$tmp/$1.exim"
	"$NOQC" -o "$tmp/$1.policy" "$tmp/$1.conf" >"$tmp/$1.noqc" 2>&1
}

# ---- one run --------------------------------------------------------------------

# connections: how many connections the server has seen.
connections() {
	grep -ac '^--- connection [0-9]* ---$' "$srv"
}

# run PROG CONF USER INPUT ARGS...: PROG (exim or noq) on this case; its
# normalised run in $tmp/PROG.run.
run() {
	rprog=$1 rconf=$2 ruser=$3 rin=$4
	shift 4
	before=$(connections)
	if [ "$rprog" = noq ]; then
		set -- "$NOQ" -C "$tmp/$rconf.policy" "$@"
		slack=0
	elif [ "$ruser" = root ]; then
		set -- "$exim" -C "$tmp/$rconf.exim" "$@"
		slack=1
	else
		set -- "$exim" "$@"
		slack=1
	fi
	if [ "$ruser" = nobody ]; then
		set -- setpriv --reuid=nobody --regid="$nogroup" --clear-groups "$@"
		if [ "$rprog" = exim ]; then
			set -- unshare -m sh "$tmp/ns.sh" "$tmp/$rconf.exim" "$@"
		fi
	fi
	LD_LIBRARY_PATH=$exim_lib $run_timeout "$@" <"$rin" >"$tmp/out" 2>"$tmp/err"
	rrc=$?
	case " $* " in
	*" -bt "* | *" -bv "* | *" -bvs "*) cat "$tmp/err" >>"$tmp/out" ;;
	esac
	after=$(connections)
	{
		echo "exit: $rrc"
		echo "--- output"
		case " $* " in
		*" -bs "*) "$PY" "$cdir/norm.py" codes "$tmp/out" ;;
		*)
			# The port of the recording server changes from run to run.
			sed "s/\b$port\b/PORT/g" "$tmp/out" >"$tmp/out.port"
			"$PY" "$cdir/norm.py" text "$tmp/out.port"
			;;
		esac
		n=$before
		while [ "$n" -lt "$after" ]; do
			n=$((n + 1))
			# The summary has the connection once it is over.
			wn=0
			while [ "$(x srv "$n.ended")" = "(none)" ] && [ $wn -lt 100 ]; do
				sleep 0.05
				wn=$((wn + 1))
			done
			echo "--- connection"
			"$PY" "$cdir/norm.py" smtp "$srv.json" "$n" "$slack"
		done
	} >"$tmp/$rprog.run"
	cp "$tmp/err" "$tmp/$rprog.err"
}

# ---- the cases ------------------------------------------------------------------

# expected NAME: the expected difference of the case, without comments
# (empty when there is none).
expected() {
	if [ -f "$cdir/$1.diff" ]; then
		grep -v '^#' "$cdir/$1.diff"
	fi
}

only=" $* "
while read -r name cname user input args; do
	case $name in
	'' | '#'*) continue ;;
	esac
	if [ "$only" != "  " ]; then
		case $only in
		*" $name "*) ;;
		*) continue ;;
		esac
	fi
	if [ "$user" = nobody ] && [ "$untrusted" = no ]; then
		skip "$name" "no mount namespace here, to run Exim for an untrusted caller"
		continue
	fi
	if ! conf "$cname"; then
		fail "$name" "noqc refused $cname.conf"
		show "$tmp/$cname.noqc"
		continue
	fi
	case $input in
	-) in=/dev/null ;;
	*.esc)
		in=$tmp/in/$input
		printf '%b' "$(tr -d '\n' <"$cdir/in/$input")" >"$in"
		;;
	*)
		in=$cdir/in/$input
		[ -f "$in" ] || in=$top_srcdir/tests/noq/in/$input
		;;
	esac
	eval "set -- $args"
	run exim "$cname" "$user" "$in" "$@"
	run noq "$cname" "$user" "$in" "$@"
	diff -u "$tmp/exim.run" "$tmp/noq.run" | tail -n +3 >"$tmp/got"
	expected "$name" >"$tmp/want"
	why=$(sed -n 's/^# *//p' "$cdir/$name.diff" 2>/dev/null | head -n 1)
	if cmp -s "$tmp/got" "$tmp/want" && [ "$why" != TODO ]; then
		if [ -s "$tmp/want" ]; then
			pass "$name (differs as expected: $why)"
		else
			pass "$name"
		fi
		continue
	fi
	if [ "$update" = yes ]; then
		if [ -s "$tmp/got" ]; then
			{
				if [ -n "$why" ]; then
					grep '^#' "$cdir/$name.diff"
				else
					echo "# TODO"
				fi
				cat "$tmp/got"
			} >"$tmp/new" && mv "$tmp/new" "$cdir/$name.diff"
		else
			rm -f "$cdir/$name.diff"
		fi
	fi
	if [ ! -s "$tmp/got" ]; then
		fail "$name" "the expected difference no longer occurs: noq now does as Exim; remove tests/exim-diff/$name.diff ($why)"
	elif [ ! -s "$tmp/want" ]; then
		fail "$name" "noq differs from Exim (- Exim, + noq)"
		sed 's/^/    | /' "$tmp/got"
		echo "  noq's standard error:"
		show "$tmp/noq.err"
	elif [ "$why" = TODO ]; then
		fail "$name" "tests/exim-diff/$name.diff does not say why (TODO)"
	else
		fail "$name" "noq differs from Exim otherwise than expected ($why); now (- Exim, + noq):"
		sed 's/^/    | /' "$tmp/got"
		echo "  expected:"
		sed 's/^/    | /' "$tmp/want"
	fi
done <"$cdir/cases"

stop srv
finish
