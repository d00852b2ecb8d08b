#!/bin/sh
# peers.sh -- noq against msmtp, Exim (mua_wrapper) and a floor client.
#
#   bench/peers.sh BUILDDIR
#
# BUILDDIR holds a built tree: noq, noqc, bench/floor, bench/timeit
# ("make bench" builds them, installs the peers with tools/deps --bench and
# runs this).  Starts postfix's smtp-sink on loopback and runs, side by side
# and alternating the programs (the order rotates every round), with medians
# over the rounds:
#   1. one 1 KiB message: floor, noq, msmtp, Exim
#   2. the same to an alias, with 1,000,000 aliases for noq (compiled policy)
#      and Exim (lsearch); msmtp with 10,000 (its expansion is quadratic)
#   3. a 100 MiB message: wall time and peak RSS, from a file and through a
#      pipe ("bigpipe"), with esmtp too (issue 20's streaming peer)
#   4. one message to 10,000 recipients
#   5. noqc compiling 1,000,000 aliases
#   6. one 1 KiB message through 20 routers with conditions and lookups
#      (noq only, against noq with one router; and with a regex)
#   7. DKIM: the 1 KiB and the 100 MiB message signed (relaxed) with an
#      RSA-2048 key and with an Ed25519 key, against noq unsigned
#   8. "distant": a caller that takes 300 ms to write its 1 KiB message,
#      to a smart host whose greeting and EHLO reply take 150 ms each
#      (tests/smtp/faultsrv.py standing in for the round trips of a
#      distant server's TCP, TLS and AUTH): a client that opens the
#      session while it reads needs about 300 ms, one that reads first
#      about 600
# and prints a table with the ratios to noq and the targets of issue 7.
# Every run must exit 0 (the smart host accepted the message), or the
# benchmark stops with that program's stderr.
#
# Environment: NOQ_SMTP_SINK (smtp-sink; default _build/postfix/...),
# NOQ_EXIM (exim4; default _build/exim/usr/sbin/exim4), MSMTP (default
# msmtp on PATH), BENCH_ROUNDS (scales the rounds; default 1 = 31/15/5/7;
# 0 = one round each, a smoke run that only shows every program works),
# BENCH_BIG_MIB (default 100), BENCH_ALIASES (default 1000000),
# BENCH_CASES (the cases to run, of: small aliases big bigpipe rcpts
# routers compile dkim dkimbig distant; default all), NOQ_ESMTP (esmtp; default
# _build/esmtp/usr/bin/esmtp, its library beside it; without it, its
# columns are left out).
# Exim needs root (it switches to the Debian-exim user); without root or
# without Exim its columns say "-".
set -eu

build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
noq=$build/noq
noqc=$build/noqc
floor=$build/bench/floor
timeit=$build/bench/timeit
sink=${NOQ_SMTP_SINK:-$top/_build/postfix/usr/sbin/smtp-sink}
sink_lib=${sink%/usr/sbin/smtp-sink}/usr/lib/postfix
exim=${NOQ_EXIM:-$top/_build/exim/usr/sbin/exim4}
msmtp=${MSMTP:-$(command -v msmtp || echo msmtp)}
esmtp=${NOQ_ESMTP:-$top/_build/esmtp/usr/bin/esmtp}
esmtp_lib=${esmtp%/usr/bin/esmtp}/usr/lib/x86_64-linux-gnu
scale=${BENCH_ROUNDS:-1}
big_mib=${BENCH_BIG_MIB:-100}
cases=${BENCH_CASES:-small aliases big bigpipe rcpts routers compile dkim dkimbig distant}
naliases=${BENCH_ALIASES:-1000000}
nrcpt=10000

for f in "$noq" "$noqc" "$floor" "$timeit" "$sink"; do
	[ -x "$f" ] || { echo "peers: $f is missing (make bench installs and builds everything)" >&2; exit 1; }
done
command -v "$msmtp" >/dev/null || { echo "peers: no msmtp (tools/deps --bench)" >&2; exit 1; }
have_exim=yes
if [ ! -x "$exim" ]; then
	have_exim=no why_exim="no $exim (tools/deps --bench)"
elif [ "$(id -u)" -ne 0 ] || ! getent passwd Debian-exim >/dev/null; then
	have_exim=no why_exim="Exim needs root and the Debian-exim user"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-peers.XXXXXX")
sink_pid= far_pid=
cleanup() {
	[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
	[ -n "$far_pid" ] && kill "$far_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
chmod 755 "$tmp"    # Exim runs as Debian-exim and must reach its spool

# ---- the sink ----------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
[ -n "$port" ] || { echo "peers: no free port" >&2; exit 1; }
set --
[ "$(id -u)" -eq 0 ] && set -- -u root
LD_LIBRARY_PATH=$sink_lib "$sink" "$@" "127.0.0.1:$port" 1024 2>"$tmp/sink.log" &
sink_pid=$!
i=0
until "$floor" 127.0.0.1 "$port" a@b c@d </dev/null 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "peers: smtp-sink did not start:" >&2; cat "$tmp/sink.log" >&2; exit 1; }
	sleep 0.05
done

# ---- inputs ------------------------------------------------------------------
{
	echo "From: Benchmark <bench@example.org>"
	echo "To: user@example.net"
	echo "Subject: benchmark"
	echo
	awk 'BEGIN { for (i = 0; i < 13; i++) printf "%076d\n", i }'
} >"$tmp/small.txt"
{
	echo "From: Benchmark <bench@example.org>"
	echo "To: user@example.net"
	echo "Subject: a big one"
	echo
	awk -v n=$((big_mib * 1024 * 1024 / 77)) 'BEGIN {
		line = "The quick brown fox jumps over the lazy dog, again and again and again."
		for (i = 0; i < n; i++) printf "%s%05d\n", line, i % 100000 }'
} >"$tmp/big.txt"
awk -v n="$naliases" 'BEGIN { for (i = 0; i < n; i++) printf "user%d: user%d@example.net\n", i, i }' \
	>"$tmp/aliases"
head -n 10000 "$tmp/aliases" >"$tmp/aliases-10k"
: >"$tmp/aliases-empty"
alias_rcpt=user$((naliases * 7 / 10))
alias_rcpt_10k=user7000
awk -v n=$nrcpt 'BEGIN { for (i = 0; i < n; i++) printf "r%d@example.net\n", i }' >"$tmp/rcpts"

# routers ALIASFILE: the routers both noq and Exim get -- the alias router
# (unless ALIASFILE is empty) and the smart host.
routers() {
	if [ -n "$1" ]; then
		echo "system_aliases:"
		echo "  driver = redirect"
		echo "  domains = example.org"
		echo "  data = \${lookup{\$local_part}lsearch{$1}}"
	fi
	echo "smarthost:"
	echo "  driver = manualroute"
	echo "  route_list = * 127.0.0.1::$port"
	echo "  transport = remote_smtp"
}

# noq: a smart host; and the same with the alias router.
noq_conf() { # NAME ALIASFILE (empty: no alias router)
	{
		echo "primary_hostname = bench.example.org"
		echo "qualify_domain = example.org"
		echo "begin routers"
		routers "$2"
		echo "begin transports"
		echo "remote_smtp:"
		echo "  driver = smtp"
	} >"$tmp/$1.conf"
}
noq_conf noq-plain ""
noq_conf noq-aliases "$tmp/aliases"
"$noqc" -o "$tmp/noq-plain.policy" "$tmp/noq-plain.conf"

# noq signing with DKIM: the plain configuration and a key of each kind.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$tmp/ed.pem" 2>/dev/null
chmod 600 "$tmp/rsa.pem" "$tmp/ed.pem"
for k in rsa ed; do
	{
		cat "$tmp/noq-plain.conf"
		echo "  dkim_domain = example.org"
		echo "  dkim_selector = $k"
		echo "  dkim_private_key = $tmp/$k.pem"
	} >"$tmp/noq-dkim-$k.conf"
	"$noqc" -o "$tmp/noq-dkim-$k.policy" "$tmp/noq-dkim-$k.conf"
done

# noq with 20 routers: 19 that the message's recipient passes through
# (conditions on two lookups in a 1,000-entry file, string comparisons,
# lists, operators, header tests), then the smart host; and the same with
# one condition a regular expression (the first one costs loading PCRE2).
awk 'BEGIN { for (i = 0; i < 1000; i++) printf "staff%d: team%d\n", i, i % 19 }' >"$tmp/lookup"
routers20() { # REGEX(yes|no)
	echo "primary_hostname = bench.example.org"
	echo "qualify_domain = example.org"
	echo "begin routers"
	i=0
	while [ $i -lt 19 ]; do
		echo "r$i:"
		echo "  driver = redirect"
		case $((i % 4)) in
		0) if [ $i -lt 8 ]; then
			echo "  condition = \${if eq{\${lookup{\$local_part}lsearch{$tmp/lookup}}}{team$i}}"
		   elif [ "$1" = yes ] && [ $i -eq 8 ]; then
			echo "  condition = \${if match{\$local_part}{\\N^staff$i\\d+\$\\N}}"
		   else
			echo "  condition = \${if eq{\$local_part}{staff$i}}"
		   fi ;;
		1) echo "  condition = \${if eqi{\${lc:\$local_part}}{staff$i}}" ;;
		2) echo "  domains = \${lc:team$i.example} : *.team$i.example"
		   echo "  condition = \${if inlist{\$local_part}{a$i:b$i:c$i}}" ;;
		3) echo "  condition = \${if and{{eq{\$domain}{team$i.example}}{!def:h_x-team$i:}}}" ;;
		esac
		echo "  data = team$i@example.net"
		i=$((i + 1))
	done
	echo "smarthost:"
	echo "  driver = manualroute"
	echo "  route_list = * 127.0.0.1::$port"
	echo "  transport = remote_smtp"
	echo "begin transports"
	echo "remote_smtp:"
	echo "  driver = smtp"
}
routers20 no >"$tmp/noq-routers.conf"
routers20 yes >"$tmp/noq-routers-re.conf"
"$noqc" -o "$tmp/noq-routers-re.policy" "$tmp/noq-routers-re.conf"
"$noqc" -o "$tmp/noq-routers.policy" "$tmp/noq-routers.conf"

# msmtp: one account; with aliases, its aliases file (same format).
printf 'account default\nhost 127.0.0.1\nport %s\nfrom bench@example.org\nauth off\ntls off\n' \
	"$port" >"$tmp/msmtp-plain.rc"
cp "$tmp/msmtp-plain.rc" "$tmp/msmtp-aliases.rc"
echo "aliases $tmp/aliases-10k" >>"$tmp/msmtp-aliases.rc"
chmod 600 "$tmp"/msmtp-*.rc

# esmtp: the smart host only.
printf 'hostname = 127.0.0.1:%s\n' "$port" >"$tmp/esmtp.rc"
chmod 600 "$tmp/esmtp.rc"

# Exim in mua_wrapper mode, as DESIGN.md describes; max_rcpt = 0 keeps
# 10,000 recipients in one transaction, as noq does.
exim_conf() { # NAME ALIASFILE
	mkdir -p "$tmp/exim-$1/spool" "$tmp/exim-$1/log"
	{
		echo "mua_wrapper = true"
		echo "primary_hostname = bench.example.org"
		echo "qualify_domain = example.org"
		echo "spool_directory = $tmp/exim-$1/spool"
		echo "log_file_path = $tmp/exim-$1/log/%slog"
		echo "message_size_limit = 0"
		echo "keep_environment ="
		echo "exim_path = $exim"
		echo "begin routers"
		routers "$2"
		echo "  self = send"
		echo "begin transports"
		echo "remote_smtp:"
		echo "  driver = smtp"
		echo "  allow_localhost"
		echo "  max_rcpt = 0"
	} >"$tmp/exim-$1.conf"
	[ "$(id -u)" -eq 0 ] && chown -R Debian-exim "$tmp/exim-$1"
	return 0
}
exim_conf plain ""
exim_conf aliases "$tmp/aliases"

# The distant smart host (case 8): faultsrv with slow replies, and each
# program's configuration for it.
case " $cases " in *" distant "*)
	{
		echo "greeting: delay 0.15 then 220 far.example ESMTP"
		printf '%s\n' 'ehlo: delay 0.15 then 250-far.example\n250-PIPELINING\n250 8BITMIME'
	} >"$tmp/far.script"
	/usr/bin/python3 "$top/tests/smtp/faultsrv.py" --script "$tmp/far.script" \
		--transcript "$tmp/far.t" --port-file "$tmp/far.port" --connections 0 \
		2>"$tmp/far.log" &
	far_pid=$!
	i=0
	until [ -s "$tmp/far.port" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "peers: faultsrv did not start:" >&2; cat "$tmp/far.log" >&2; exit 1; }
		sleep 0.05
	done
	near=$port port=$(cat "$tmp/far.port")
	noq_conf noq-far ""
	"$noqc" -o "$tmp/noq-far.policy" "$tmp/noq-far.conf"
	exim_conf far ""
	printf 'account default\nhost 127.0.0.1\nport %s\nfrom bench@example.org\nauth off\ntls off\n' \
		"$port" >"$tmp/msmtp-far.rc"
	printf 'hostname = 127.0.0.1:%s\n' "$port" >"$tmp/esmtp-far.rc"
	chmod 600 "$tmp/msmtp-far.rc" "$tmp/esmtp-far.rc"
	far=$port port=$near
	;;
esac

# ---- running -----------------------------------------------------------------
mkdir "$tmp/res"
# run KEY INPUT COMMAND...: time one run, append "microseconds KiB" to
# $tmp/res/KEY; stop with the program's stderr unless it exited 0.
run() {
	key=$1 input=$2
	shift 2
	# bigpipe: standard input is a pipe, filled by timeit's child;
	# distant: the same, after 300 ms.
	case $key in bigpipe.*) popt=-p ;; distant.*) popt="-p -d 300" ;; *) popt= ;; esac
	# esmtp finds its library, unpacked beside it; no other program
	# runs with LD_LIBRARY_PATH.
	case $key in *.esmtp) LD_LIBRARY_PATH=$esmtp_lib; export LD_LIBRARY_PATH ;; esac
	# shellcheck disable=SC2086
	out=$("$timeit" $popt -i "$input" -e "$tmp/stderr" "$@")
	unset LD_LIBRARY_PATH
	set -- $out
	if [ "$3" -ne 0 ]; then
		echo "peers: $key exited $3:" >&2
		cat "$tmp/stderr" >&2
		exit 1
	fi
	echo "$1 $2" >>"$tmp/res/$key"
}

# one CASE PROGRAM: one run of PROGRAM in CASE.
one() {
	case $1.$2 in
	small.floor) run "$1.$2" "$tmp/small.txt" "$floor" 127.0.0.1 "$port" bench@example.org user@example.net ;;
	small.noq) run "$1.$2" "$tmp/small.txt" "$noq" -C "$tmp/noq-plain.policy" -i -f bench@example.org user@example.net ;;
	small.msmtp) run "$1.$2" "$tmp/small.txt" "$msmtp" -C "$tmp/msmtp-plain.rc" -i -f bench@example.org user@example.net ;;
	small.exim) run "$1.$2" "$tmp/small.txt" "$exim" -C "$tmp/exim-plain.conf" -i -f bench@example.org user@example.net ;;
	aliases.noq0) run "$1.$2" "$tmp/small.txt" "$noq" -C "$tmp/noq-plain.policy" -i -f bench@example.org user@example.net ;;
	aliases.noq) run "$1.$2" "$tmp/small.txt" "$noq" -C "$tmp/noq-aliases.policy" -i -f bench@example.org "$alias_rcpt" ;;
	aliases.msmtp) run "$1.$2" "$tmp/small.txt" "$msmtp" -C "$tmp/msmtp-aliases.rc" -i -f bench@example.org "$alias_rcpt_10k" ;;
	aliases.exim) run "$1.$2" "$tmp/small.txt" "$exim" -C "$tmp/exim-aliases.conf" -i -f bench@example.org "$alias_rcpt" ;;
	small.esmtp) run "$1.$2" "$tmp/small.txt" "$esmtp" -C "$tmp/esmtp.rc" -i -f bench@example.org user@example.net ;;
	big.esmtp|bigpipe.esmtp) run "$1.$2" "$tmp/big.txt" "$esmtp" -C "$tmp/esmtp.rc" -i -f bench@example.org user@example.net ;;
	bigpipe.noq) run "$1.$2" "$tmp/big.txt" "$noq" -C "$tmp/noq-plain.policy" -i -f bench@example.org user@example.net ;;
	bigpipe.msmtp) run "$1.$2" "$tmp/big.txt" "$msmtp" -C "$tmp/msmtp-plain.rc" -i -f bench@example.org user@example.net ;;
	bigpipe.exim) run "$1.$2" "$tmp/big.txt" "$exim" -C "$tmp/exim-plain.conf" -i -f bench@example.org user@example.net ;;
	bigpipe.floor) run "$1.$2" "$tmp/big.txt" "$floor" 127.0.0.1 "$port" bench@example.org user@example.net ;;
	# shellcheck disable=SC2046
	rcpts.esmtp) run "$1.$2" "$tmp/small.txt" "$esmtp" -C "$tmp/esmtp.rc" -i -f bench@example.org $(cat "$tmp/rcpts") ;;
	big.noq) run "$1.$2" "$tmp/big.txt" "$noq" -C "$tmp/noq-plain.policy" -i -f bench@example.org user@example.net ;;
	big.msmtp) run "$1.$2" "$tmp/big.txt" "$msmtp" -C "$tmp/msmtp-plain.rc" -i -f bench@example.org user@example.net ;;
	big.exim) run "$1.$2" "$tmp/big.txt" "$exim" -C "$tmp/exim-plain.conf" -i -f bench@example.org user@example.net ;;
	big.floor) run "$1.$2" "$tmp/big.txt" "$floor" 127.0.0.1 "$port" bench@example.org user@example.net ;;
	# shellcheck disable=SC2046
	rcpts.noq) run "$1.$2" "$tmp/small.txt" "$noq" -C "$tmp/noq-plain.policy" -i -f bench@example.org $(cat "$tmp/rcpts") ;;
	# shellcheck disable=SC2046
	rcpts.msmtp) run "$1.$2" "$tmp/small.txt" "$msmtp" -C "$tmp/msmtp-plain.rc" -i -f bench@example.org $(cat "$tmp/rcpts") ;;
	# shellcheck disable=SC2046
	rcpts.exim) run "$1.$2" "$tmp/small.txt" "$exim" -C "$tmp/exim-plain.conf" -i -f bench@example.org $(cat "$tmp/rcpts") ;;
	routers.noq0) run "$1.$2" "$tmp/small.txt" "$noq" -C "$tmp/noq-plain.policy" -i -f bench@example.org user@example.net ;;
	routers.noq) run "$1.$2" "$tmp/small.txt" "$noq" -C "$tmp/noq-routers.policy" -i -f bench@example.org user@example.net ;;
	routers.noqre) run "$1.$2" "$tmp/small.txt" "$noq" -C "$tmp/noq-routers-re.policy" -i -f bench@example.org user@example.net ;;
	dkim.noq|dkimbig.noq) run "$1.$2" "$tmp/$(dkim_msg "$1")" "$noq" -C "$tmp/noq-plain.policy" -i -f bench@example.org user@example.net ;;
	dkim.noqrsa|dkimbig.noqrsa) run "$1.$2" "$tmp/$(dkim_msg "$1")" "$noq" -C "$tmp/noq-dkim-rsa.policy" -i -f bench@example.org user@example.net ;;
	dkim.noqed|dkimbig.noqed) run "$1.$2" "$tmp/$(dkim_msg "$1")" "$noq" -C "$tmp/noq-dkim-ed.policy" -i -f bench@example.org user@example.net ;;
	distant.floor) run "$1.$2" "$tmp/small.txt" "$floor" 127.0.0.1 "$far" bench@example.org user@example.net ;;
	distant.noq) run "$1.$2" "$tmp/small.txt" "$noq" -C "$tmp/noq-far.policy" -i -f bench@example.org user@example.net ;;
	distant.esmtp) run "$1.$2" "$tmp/small.txt" "$esmtp" -C "$tmp/esmtp-far.rc" -i -f bench@example.org user@example.net ;;
	distant.msmtp) run "$1.$2" "$tmp/small.txt" "$msmtp" -C "$tmp/msmtp-far.rc" -i -f bench@example.org user@example.net ;;
	distant.exim) run "$1.$2" "$tmp/small.txt" "$exim" -C "$tmp/exim-far.conf" -i -f bench@example.org user@example.net ;;
	*) echo "peers: no case $1.$2" >&2; exit 1 ;;
	esac
}

# dkim_msg CASE: the message of a DKIM case.
dkim_msg() { if [ "$1" = dkimbig ]; then echo big.txt; else echo small.txt; fi; }

# n BASE: the rounds of a case, scaled.
n() { if [ "$scale" -eq 0 ]; then echo 1; else echo $(($1 * scale)); fi; }

# rounds CASE N PROGRAM...: a warm-up run each, then N rounds, the order
# rotating by one program every round.
rounds() {
	c=$1 n=$2
	shift 2
	for p in "$@"; do
		one "$c" "$p"
		rm -f "$tmp/res/$c.$p"
	done
	r=0
	while [ $r -lt "$n" ]; do
		k=$((r % $#)) j=0
		for p in "$@" "$@"; do
			if [ $j -ge $k ] && [ $j -lt $((k + $#)) ]; then
				one "$c" "$p"
			fi
			j=$((j + 1))
		done
		r=$((r + 1))
	done
	echo "peers: $c: $n rounds of $*" >&2
}

peers=msmtp
[ $have_exim = yes ] && peers="$peers exim"
# esmtp sends (no aliases): the cases of one message.
speers=$peers
[ -x "$esmtp" ] && speers="esmtp $peers"

# want CASE: whether CASE is one of BENCH_CASES.
want() { case " $cases " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# 5. compiling the million aliases (median of 3); also makes the policy.
if want compile || want aliases; then
	: >"$tmp/res/compile.noqc"
	for _ in 1 2 3; do
		"$timeit" "$noqc" -o "$tmp/noq-aliases.policy" "$tmp/noq-aliases.conf" |
			awk '$3 != 0 { exit 1 } { print $1, $2 }' >>"$tmp/res/compile.noqc" ||
			{ "$noqc" -o "$tmp/noq-aliases.policy" "$tmp/noq-aliases.conf"; exit 1; }
	done
	echo "peers: compile: 3 runs of noqc" >&2
fi

# shellcheck disable=SC2086
! want small || rounds small $(n 31) floor noq $speers
# shellcheck disable=SC2086
! want aliases || rounds aliases $(n 15) noq0 noq $peers
# noq0, the baseline of case 2, is noq without the alias router, alongside.
# shellcheck disable=SC2086
! want big || rounds big $(n 5) floor noq $speers
# shellcheck disable=SC2086
! want bigpipe || rounds bigpipe $(n 5) floor noq $speers
# shellcheck disable=SC2086
! want rcpts || rounds rcpts $(n 7) noq $speers
! want routers || rounds routers "$(n 15)" noq0 noq noqre
! want dkim || rounds dkim "$(n 31)" noq noqrsa noqed
! want dkimbig || rounds dkimbig "$(n 5)" noq noqrsa noqed
# shellcheck disable=SC2086
! want distant || rounds distant $(n 7) floor noq $speers

# ---- the table ---------------------------------------------------------------
# median KEY FIELD: the median of column FIELD (1 time, 2 RSS) of KEY.
median() {
	[ -s "$tmp/res/$1" ] || { echo "-"; return; }
	awk -v f="$2" '{ print $f }' "$tmp/res/$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ms() { [ "$1" = - ] && echo - || awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
ratio() { { [ "$1" = - ] || [ "$2" = - ]; } && echo - || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { [ "$1" = - ] && echo - || awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo
echo "noq $("$noq" -bV 2>/dev/null | sed -n '1s/^[^0-9]*//p'), $("$msmtp" --version | sed -n 1p)," \
	"$([ $have_exim = yes ] && "$exim" -bV 2>/dev/null | sed -n 's/^\(Exim version [^ ]*\).*/\1/p' || echo "Exim: $why_exim")," \
	"smtp-sink from postfix $(dpkg-query -W -f='${Version}' postfix 2>/dev/null || ls "${sink%/usr/sbin/smtp-sink}"/deb 2>/dev/null | sed -n 's/^postfix_\([^_]*\)_.*/\1/p')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)," \
	"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
printf '%-38s %-7s %10s %8s %10s  %s\n' case program "median ms" "÷ noq" "peak MiB" runs
for c in $cases; do
	[ "$c" = compile ] && continue
	case $c in
	dkim) title="1 KiB message, DKIM-signed" ;;
	dkimbig) title="$big_mib MiB message, DKIM-signed" ;;
	small) title="1 KiB message" ;;
	aliases) title="1 KiB to an alias ($naliases aliases)" ;;
	big) title="$big_mib MiB message" ;;
	bigpipe) title="$big_mib MiB message, through a pipe" ;;
	distant) title="1 KiB, slow caller, distant host" ;;
	rcpts) title="1 KiB to $nrcpt recipients" ;;
	routers) title="1 KiB through 20 routers" ;;
	esac
	base=$(median "$c.noq" 1)
	for p in floor noq0 noq noqre noqrsa noqed esmtp msmtp exim; do
		[ -s "$tmp/res/$c.$p" ] || continue
		t=$(median "$c.$p" 1)
		note=
		[ $c = aliases ] && [ $p = msmtp ] && note=" ($(wc -l <"$tmp/aliases-10k") aliases: its expansion is quadratic)"
		[ $c = aliases ] && [ $p = noq0 ] && note=" (noq0: noq without aliases)"
		[ $c = routers ] && [ $p = noq0 ] && note=" (noq0: noq with one router)"
		[ $p = noqre ] && note=" (noqre: one condition a regular expression)"
		[ $p = noqrsa ] && note=" (noqrsa: signed, RSA-2048, relaxed)"
		[ $p = noqed ] && note=" (noqed: signed, Ed25519, relaxed)"
		printf '%-38s %-7s %10s %8s %10s  %s%s\n' "$title" "$p" "$(ms "$t")" "$(ratio "$t" "$base")" \
			"$(mib "$(median "$c.$p" 2)")" "$(wc -l <"$tmp/res/$c.$p")" "$note"
		title=
	done
done
ct=$(median compile.noqc 1)
want compile && printf '%-38s %-7s %10s %8s %10s  %s\n' "compile $naliases aliases" noqc "$(ms "$ct")" "" \
	"$(mib "$(median compile.noqc 2)")" 3

# ---- the targets -------------------------------------------------------------
echo
verdict() { # TEXT CONDITION(awk, on a b)
	if awk -v a="$2" -v b="$3" "BEGIN { exit !($4) }"; then r=met; else r=MISSED; fi
	printf '%-62s %s\n' "$1" "$r"
}
faster() { # CASE: noq's median below every peer's that ran
	ok=1
	for p in esmtp msmtp exim; do
		[ -s "$tmp/res/$1.$p" ] || continue
		t=$(median "$1.$p" 1)
		awk -v a="$(median "$1.noq" 1)" -v b="$t" 'BEGIN { exit !(a < b) }' || ok=0
	done
	[ $ok = 1 ] && echo met || echo MISSED
}
if want small; then
	small_noq=$(median small.noq 1)
	verdict "small message: noq <= 1.3 x floor ($(ratio "$small_noq" "$(median small.floor 1)"))" \
		"$small_noq" "$(median small.floor 1)" "a <= 1.3 * b"
	printf '%-62s %s\n' "small message: noq faster than $speers" "$(faster small)"
fi
! want aliases ||
	verdict "$naliases aliases: noq <= 1.05 x noq without ($(ratio "$(median aliases.noq 1)" "$(median aliases.noq0 1)"))" \
		"$(median aliases.noq 1)" "$(median aliases.noq0 1)" "a <= 1.05 * b"
! want routers ||
	verdict "20 routers: noq <= 1.05 x one router ($(ratio "$(median routers.noq 1)" "$(median routers.noq0 1)"))" \
		"$(median routers.noq 1)" "$(median routers.noq0 1)" "a <= 1.05 * b"
if want big; then
	printf '%-62s %s\n' "$big_mib MiB: noq faster than $speers" "$(faster big)"
	verdict "$big_mib MiB: noq peak RSS <= 8 MiB ($(mib "$(median big.noq 2)") MiB)" "$(median big.noq 2)" 8192 "a <= b"
	[ -s "$tmp/res/big.esmtp" ] &&
		verdict "$big_mib MiB from a file: noq <= 0.8 x esmtp ($(ratio "$(median big.noq 1)" "$(median big.esmtp 1)"))" \
			"$(median big.noq 1)" "$(median big.esmtp 1)" "a <= 0.8 * b"
fi
if want bigpipe; then
	printf '%-62s %s\n' "$big_mib MiB through a pipe: noq faster than $speers" "$(faster bigpipe)"
	verdict "$big_mib MiB through a pipe: noq peak RSS <= 8 MiB ($(mib "$(median bigpipe.noq 2)") MiB)" \
		"$(median bigpipe.noq 2)" 8192 "a <= b"
	[ -s "$tmp/res/bigpipe.esmtp" ] &&
		verdict "$big_mib MiB through a pipe: noq <= 1.0 x esmtp ($(ratio "$(median bigpipe.noq 1)" "$(median bigpipe.esmtp 1)"))" \
			"$(median bigpipe.noq 1)" "$(median bigpipe.esmtp 1)" "a <= b"
fi
! want rcpts || printf '%-62s %s\n' "$nrcpt recipients: noq faster than $speers" "$(faster rcpts)"
if want distant; then
	printf '%-62s %s\n' "distant host, slow caller: noq faster than $speers" "$(faster distant)"
	# The floor reads, then connects: 600 ms; the session hidden behind
	# the reading takes noq to 300.
	verdict "distant host: the session while reading, noq <= 0.6 x floor ($(ratio "$(median distant.noq 1)" "$(median distant.floor 1)"))" \
		"$(median distant.noq 1)" "$(median distant.floor 1)" "a <= 0.6 * b"
fi
for k in rsa ed; do
	want dkim && printf '%-62s %s\n' "1 KiB DKIM ($k): x unsigned (no target)" \
		"$(ratio "$(median dkim.noq$k 1)" "$(median dkim.noq 1)")"
	want dkimbig || continue
	verdict "$big_mib MiB DKIM ($k): <= 1.2 x unsigned ($(ratio "$(median dkimbig.noq$k 1)" "$(median dkimbig.noq 1)"))" \
		"$(median dkimbig.noq$k 1)" "$(median dkimbig.noq 1)" "a <= 1.2 * b"
	verdict "$big_mib MiB DKIM ($k): peak RSS <= 8 MiB ($(mib "$(median dkimbig.noq$k 2)") MiB)" \
		"$(median dkimbig.noq$k 2)" 8192 "a <= b"
done
! want compile || verdict "compile $naliases aliases <= 2 s ($(ms "$ct") ms)" "$ct" 2000000 "a <= b"
[ $have_exim = yes ] || echo "(Exim not measured: $why_exim)"
