#!/bin/sh
# interop.sh -- noq against real mail servers that nobody here wrote:
# Postfix 3.7 with Dovecot 2.3's auth service for SASL, and Exim 4.96, as
# Debian 12 ships them.  tools/deps --interop unpacks the packages into
# _build/ (postfix, dovecot, exim; none is installed, no user or group is
# created); this script starts them on loopback ports with configurations
# of its own under its temporary directory (tests/interop/*), as root,
# and stops them at exit.
#
# Each case checks noq's exit status and its standard error, and on the
# server's side what the server did: the message in the mailbox it
# delivered to (Postfix's virtual(8) maildirs, Exim's appendfile maildirs),
# byte for byte where that is the point; the DSNs they sent back; the
# commands Postfix counted for the session ("disconnect from ... ehlo=2
# starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1"); what Exim logged of the
# message ("<= ... P=esmtpsa L A=plain:alice": L when the client
# pipelined).
#
# Exim's binary runs as the user Debian-exim: where it does not exist
# (tools/deps --bench creates it, --interop does not), Exim is lent one in
# a mount namespace of its own (start_exim).
#
# Servers absent (a developer who did not run tools/deps --interop) or not
# root: skipped (77).  NOQ_INTEROP set (tools/test sets it to _build): the
# servers must be there and every case must run, or the script fails.
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir; NOQ_INTEROP,
# the directory holding postfix/, dovecot/ and exim/ (default
# $top_srcdir/_build).
# Usage: sh tests/interop.sh    (docs/INTEROP.md)

# shellcheck source=delivery/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/delivery/lib.sh"

idir=$(cd "$top_srcdir/tests/interop" && pwd) || exit 99
root=${NOQ_INTEROP:-$top_srcdir/_build}
PF=$root/postfix
DC=$root/dovecot
EXIM=$root/exim/usr/sbin/exim4

# unavailable WHY: the servers cannot run here: a skip, or a failure when
# NOQ_INTEROP asks for them.
unavailable() {
	if [ -n "${NOQ_INTEROP:-}" ]; then
		echo "FAIL interop: $1 (NOQ_INTEROP=$NOQ_INTEROP asks for the servers)"
		exit 1
	fi
	echo "$0: $1: skipped (tools/deps --interop unpacks the servers, as root)"
	exit 77
}

for prog in "$PF/usr/lib/postfix/sbin/master" "$DC/usr/sbin/dovecot" "$EXIM"; do
	[ -x "$prog" ] || unavailable "no $prog"
done
[ "$(id -u)" -eq 0 ] || unavailable "Postfix's master and Exim's daemon need root"
command -v openssl >/dev/null 2>&1 || unavailable "no openssl command for the certificates"

# Postfix's smtpd and Dovecot's auth run as nobody, Exim's as its user:
# they must reach their files here.  Secrets stay mode 0600.
chmod 755 "$tmp" || exit 99
nobody_uid=$(id -u nobody) || unavailable "no user nobody"
nogroup_gid=$(id -g nobody)

certs=$tmp/certs
mkdir "$certs" || exit 99
sh "$top_srcdir/tests/tls/mkcerts.sh" "$certs" || exit 99
chmod 644 "$certs"/*.pem
ca=$certs/ca.pem

# ---- secrets, tokens, messages -----------------------------------------------

user=alice
pw=s3cret-Pa55
secret() {  # secret FILE TEXT: TEXT in FILE, mode 0600
	printf '%s\n' "$2" >"$1" && chmod 600 "$1" || exit 99
}
secret "$tmp/secret" "$pw"
secret "$tmp/wrong" "not-the-password"

# Bearer tokens for XOAUTH2 and OAUTHBEARER: JWTs that Dovecot checks
# itself (introspection_mode = local), signed with HS256 by a key it has,
# and one signed by another key.  jwt KEY-FILE: a token for alice.
"$PY" -c 'import os, base64, sys
for f in sys.argv[1:]:
    open(f, "w").write(base64.b64encode(os.urandom(32)).decode() + "\n")' \
	"$tmp/jwt.key" "$tmp/jwt-other.key" || exit 99
jwt() {
	"$PY" -c 'import base64, hmac, json, sys
def b(d): return base64.urlsafe_b64encode(d).rstrip(b"=").decode()
key = base64.b64decode(open(sys.argv[1]).read())
h = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = b(json.dumps({"sub": sys.argv[2], "exp": 4102444800}).encode())
s = b(hmac.new(key, (h + "." + p).encode(), "sha256").digest())
print(h + "." + p + "." + s)' "$1" "$user"
}
secret "$tmp/token" "$(jwt "$tmp/jwt.key")"
secret "$tmp/token-wrong" "$(jwt "$tmp/jwt-other.key")"

# The plain message, and its body.
cat >"$tmp/msg" <<EOF || exit 99
From: sender@example.net
To: bob@example.net
Subject: interop test
Message-ID: <interop-test@example.org>
Date: Mon, 1 Jan 2001 00:00:00 +0000

hello from noq
EOF
sed '1,/^$/d' "$tmp/msg" >"$tmp/hello" || exit 99

# The 8-bit message: Latin-1 and UTF-8 octets, lines that begin with a dot
# (one is a dot alone: sent with -oi) or "From ", a line of 990 octets,
# trailing spaces: it must arrive as it left.
{
	printf 'From: sender@example.net\nTo: bob@example.net\n'
	printf 'Subject: 8bit \303\251t\303\251\nMessage-ID: <8bit@example.org>\n'
	printf 'Date: Mon, 1 Jan 2001 00:00:00 +0000\nMIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n'
	printf 'caf\303\251 \342\202\254 \346\227\245\346\234\254 and Latin-1 \351\n'
	printf '.a line with a leading dot\n..two dots\n.\nFrom the start of a line\n'
	printf 'trailing spaces   \n\ttab first\n'
	"$PY" -c 'print("x" * 990)'
	printf 'last line\n'
} >"$tmp/8bit" || exit 99
sed '1,/^$/d' "$tmp/8bit" >"$tmp/8bit.body" || exit 99

# A message over the small port's limit.
{
	printf 'Subject: big\n\n'
	"$PY" -c 'print(("y" * 76 + "\n") * 100, end="")'
} >"$tmp/big" || exit 99

# ---- servers -------------------------------------------------------------------

# render TEMPLATE OUT: tests/interop/TEMPLATE with its @NAMES@ filled in.
render() {
	sed -e "s|@DIR@|$rdir|g" -e "s|@TMP@|$tmp|g" -e "s|@PF@|$PF|g" -e "s|@DC@|$DC|g" \
		-e "s|@EXIM@|$EXIM|g" -e "s|@CERTS@|$certs|g" -e "s|@UID@|$nobody_uid|g" \
		-e "s|@GID@|$nogroup_gid|g" -e "s|@SUB@|$p_sub|g" -e "s|@SMTPS@|$p_smtps|g" \
		-e "s|@WRONG@|$p_wrong|g" -e "s|@EXPIRED@|$p_expired|g" \
		-e "s|@CCERT@|$p_ccert|g" -e "s|@NOPIPE@|$p_nopipe|g" \
		-e "s|@SMALL@|$p_small|g" -e "s|@SMALL_LIMIT@|$small_limit|g" \
		-e "s|@NOUTF8@|$p_noutf8|g" -e "s|@EXIM_PORT@|$p_exim|g" \
		-e "s|@EXIM_NOPIPE@|$p_exim_nopipe|g" -e "s|@EXIM_UID@|$exim_uid|g" \
		-e "s|@EXIM_GID@|$exim_gid|g" \
		-e "s|@PW@|$pw|g" -e "s|@USER@|$user|g" \
		"$idir/$1" >"$2" || exit 99
}

# The ports: one socket each, held open together so that they differ.
# shellcheck disable=SC2046
set -- $("$PY" -c 'import socket
ss = [socket.socket() for _ in range(10)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
p_sub=$1 p_smtps=$2 p_wrong=$3 p_expired=$4 p_ccert=$5 p_nopipe=$6 p_small=$7
p_noutf8=$8 p_exim=$9 p_exim_nopipe=${10}
small_limit=4000

# daemon NAME COMMAND...: run a server in the foreground of a session of
# its own (its children in its process group), registered to be stopped.
daemon() {
	dname=$1
	shift
	setsid "$@" >"$tmp/$dname.out" 2>&1 &
	echo $! >"$tmp/$dname.pid"
	started $!
}

# stop_daemon NAME: SIGTERM to its process group, then wait for the
# daemon (killed after 10 s); what is left of its group a second later is
# killed (a group with members keeps its id: it is still the daemon's).
stop_daemon() {
	[ -f "$tmp/$1.pid" ] || return 0
	sd_pid=$(cat "$tmp/$1.pid")
	kill -s TERM -- "-$sd_pid" 2>/dev/null
	stop_pid "$sd_pid"
	if kill -s 0 -- "-$sd_pid" 2>/dev/null; then
		sleep 1
		kill -s KILL -- "-$sd_pid" 2>/dev/null
	fi
	rm -f "$tmp/$1.pid"
}

# Each daemon is stopped before lib.sh removes $tmp.
trap 'stop_daemon exim; stop_daemon postfix; stop_daemon dovecot; cleanup' EXIT

# Should this shell die without its traps (SIGKILL, or SIGPIPE when its
# output is cut short), a watchdog stops the daemons all the same, within
# a second, and removes $tmp.
(
	while kill -0 $$ 2>/dev/null; do
		sleep 1
	done
	left=
	for n in exim postfix dovecot; do
		if [ -f "$tmp/$n.pid" ]; then
			kill -s TERM -- "-$(cat "$tmp/$n.pid")" 2>/dev/null
			left=yes
		fi
	done
	[ -n "$left" ] && sleep 2 && rm -rf "$tmp"
) >/dev/null 2>&1 &

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
	wmax=$(($1 * 10))
	shift
	wn=0
	until "$@"; do
		wn=$((wn + 1))
		[ $wn -ge $wmax ] && return 1
		sleep 0.1
	done
}

# Dovecot: its master, auth on demand.  doveconf parses the configuration
# and starts the master with it (the master would run /usr/bin/doveconf).
start_dovecot() {
	rdir=$tmp/dovecot
	mkdir -p "$rdir/run" "$rdir/state" "$rdir/keys/default/HS256" || exit 99
	render dovecot.conf "$rdir/dovecot.conf"
	printf '%s:{PLAIN}%s\n' "$user" "$pw" >"$rdir/passwd"
	cp "$tmp/jwt.key" "$rdir/keys/default/HS256/default"
	cat >"$rdir/oauth2.conf" <<EOF || exit 99
introspection_mode = local
local_validation_key_dict = fs:posix:prefix=$rdir/keys/
username_attribute = sub
EOF
	chown nobody "$rdir/passwd" "$rdir/keys/default/HS256/default" &&
		chmod 600 "$rdir/passwd" "$rdir/keys/default/HS256/default" || exit 99
	LD_LIBRARY_PATH=$DC/usr/lib/dovecot:$DC/usr/lib/dovecot/modules/old-stats
	export LD_LIBRARY_PATH
	daemon dovecot "$DC/usr/bin/doveconf" -c "$rdir/dovecot.conf" -m master \
		-e "$DC/usr/sbin/dovecot" -F -c "$rdir/dovecot.conf"
	unset LD_LIBRARY_PATH
	if ! wait_for 10 test -S "$rdir/auth-client"; then
		echo "$0: Dovecot did not start:" >&2
		cat "$tmp/dovecot.out" "$rdir/log" >&2
		exit 99
	fi
}

# Postfix: the queue's directories as post-install would make them, then
# its master in the foreground (-d), logging to $tmp/postfix/maillog.
start_postfix() {
	rdir=$tmp/postfix
	mkdir -p "$rdir/etc" "$rdir/data" "$rdir/mail" "$rdir/spool/pid" || exit 99
	render postfix-main.cf "$rdir/etc/main.cf"
	render postfix-master.cf "$rdir/etc/master.cf"
	# The mailboxes: every address that any case sends to.
	{
		for u in bob sender fails; do
			printf '%s@example.net %s/\n' "$u" "$u"
		done
		printf 'j\303\266rg@example.net joerg/\n'
		for i in $(seq 1 50); do
			printf 'rcpt%d@example.net rcpt%d/\n' "$i" "$i"
		done
	} >"$rdir/etc/vmailbox"
	echo "fails@example.net fail:" >"$rdir/etc/transport"
	for d in active bounce corrupt defer deferred flush hold incoming private \
		saved trace public maildrop; do
		mkdir "$rdir/spool/$d" && chmod 700 "$rdir/spool/$d" || exit 99
	done
	chmod 710 "$rdir/spool/public" && chmod 730 "$rdir/spool/maildrop" &&
		chown -R nobody "$rdir/spool" "$rdir/data" &&
		chown root "$rdir/spool" "$rdir/spool/pid" &&
		chgrp mail "$rdir/spool/public" "$rdir/spool/maildrop" &&
		chown nobody:nogroup "$rdir/mail" || exit 99
	: >"$rdir/maillog"
	LD_LIBRARY_PATH=$PF/usr/lib/postfix
	export LD_LIBRARY_PATH
	daemon postfix "$PF/usr/lib/postfix/sbin/master" -c "$rdir/etc" -d
	unset LD_LIBRARY_PATH
	for p in $p_sub $p_smtps $p_wrong $p_expired $p_ccert $p_nopipe $p_small $p_noutf8; do
		if ! wait_port "$p"; then
			echo "$0: Postfix did not start:" >&2
			cat "$tmp/postfix.out" "$rdir/maillog" >&2
			exit 99
		fi
	done
}

# Exim: its binary is built to run as Debian-exim and looks that user up
# first of all.  Where the user does not exist, Exim is lent one: copies of
# /etc/passwd and /etc/group with Debian-exim as nobody's ids, mounted over
# the real ones in a mount namespace of Exim's own (unshare -m: the mounts
# are private to it and vanish with it).  Without root's right to do that,
# the Exim cases are not run.
if getent passwd Debian-exim >/dev/null; then
	exim_uid=$(id -u Debian-exim) exim_gid=$(id -g Debian-exim) exim_lent=
	have_exim=true
else
	exim_uid=$nobody_uid exim_gid=$nogroup_gid exim_lent=yes
	if unshare -m sh -c 'mount --bind /dev/null /dev/null' 2>/dev/null; then
		have_exim=true
	else
		have_exim=false why_exim="no user Debian-exim, and no mount namespace to lend it in"
	fi
fi

# Exim: its daemon in the foreground (-bdf), as root with -C, logging to
# $tmp/exim/log/mainlog.
start_exim() {
	rdir=$tmp/exim
	mkdir -p "$rdir/spool" "$rdir/log" "$rdir/mail" || exit 99
	render exim.conf "$rdir/exim.conf"
	printf 'bob: bob\nsender: sender\nj\303\266rg: joerg\n' >"$rdir/users"
	# Its processes that read the key run as its user.
	cp "$certs/server.pem" "$certs/server.key" "$rdir/" &&
		chown "$exim_uid:$exim_gid" "$rdir/server.key" "$rdir/spool" "$rdir/log" \
			"$rdir/mail" || exit 99
	set -- "$EXIM" -C "$rdir/exim.conf" -bdf
	if [ -n "$exim_lent" ]; then
		{
			grep -v '^Debian-exim:' /etc/passwd
			echo "Debian-exim:x:$exim_uid:$exim_gid::/nonexistent:/usr/sbin/nologin"
		} >"$rdir/passwd" &&
			{
				grep -v '^Debian-exim:' /etc/group
				echo "Debian-exim:x:$exim_gid:"
			} >"$rdir/group" || exit 99
		# shellcheck disable=SC2016 # expanded by that sh
		set -- unshare -m sh -c 'mount --bind "$1" /etc/passwd &&
			mount --bind "$2" /etc/group && shift 2 && exec "$@"' \
			sh "$rdir/passwd" "$rdir/group" "$@"
	fi
	daemon exim "$@"
	for p in $p_exim $p_exim_nopipe; do
		if ! wait_port "$p"; then
			echo "$0: Exim did not start:" >&2
			cat "$tmp/exim.out" "$rdir/log/"* >&2
			exit 99
		fi
	done
}

start_dovecot
start_postfix
pflog=$tmp/postfix/maillog
pfmail=$tmp/postfix/mail
if $have_exim; then
	start_exim
fi
exlog=$tmp/exim/log/mainlog
exmail=$tmp/exim/mail

# ---- what the servers did ------------------------------------------------------

# size FILE: its size (0 when it does not exist).
size() {
	if [ -f "$1" ]; then wc -c <"$1"; else echo 0; fi
}

# mark: the case's log lines begin here (pf_log, ex_log).
mark() {
	pf_mark=$(size "$pflog")
	ex_mark=$(size "$exlog")
}

# pf_log, ex_log: what Postfix, Exim logged since mark.
pf_log() {
	tail -c +$((pf_mark + 1)) "$pflog"
}
ex_log() {
	tail -c +$((ex_mark + 1)) "$exlog"
}

# pf_session: the commands Postfix counted for the case's session, from its
# "disconnect from" line ("ehlo=2 starttls=1 mail=1 ... commands=8"),
# waited for (3 s at most).  Sessions without a command (the probes of
# wait_port, logged late) do not count.
pf_sessions() {
	pf_log | sed -n 's/.*: disconnect from [^ ]* //p' | grep -vx 'commands=0/0'
}
pf_disconnected() { [ -n "$(pf_sessions)" ]; }
pf_session() {
	wait_for 3 pf_disconnected
	pf_sessions
}

# want_session COUNTS: Postfix counted these commands.
want_session() {
	[ -n "$cwhy" ] && return
	want "the commands Postfix counted" "$(pf_session)" "$1"
}

# want_log WHO PATTERN: a line that WHO (pf or ex) logged since mark
# matches the basic regular expression PATTERN.
want_log() {
	[ -n "$cwhy" ] && return
	"$1_log" >"$tmp/log"
	if ! grep -q -- "$2" "$tmp/log"; then
		cwhy="$1 logged no line matching '$2'"
		cp "$tmp/log" "$tmp/diff"
	fi
}
want_pf_log() { want_log pf "$1"; }

# ex_received: Exim's "<=" line for the case's message, waited for (3 s at
# most), from the "P=" field on.
ex_has_received() { ex_log | grep -q ' <= '; }
ex_received() {
	wait_for 3 ex_has_received
	ex_log | sed -n 's/.* <= .* \(P=.*\)/\1/p'
}

# count DIR: how many messages the maildir DIR holds.
count() {
	find "$1/new" -type f 2>/dev/null | wc -l | tr -d ' '
}

# counted DIR: how many it held when the case began (snapshot).
counted() {
	cat "$tmp/count/$(echo "$1" | tr / _)" 2>/dev/null || echo 0
}

# snapshot: the number of messages in each maildir, as the case begins.
snapshot() {
	mkdir -p "$tmp/count"
	for d in "$pfmail"/* "$exmail"/*; do
		[ -d "$d" ] && count "$d" >"$tmp/count/$(echo "$d" | tr / _)"
	done
}

# mailbox_has DIR N: the maildir DIR holds N messages.
mailbox_has() { [ "$(count "$1")" -eq "$2" ]; }

# want_delivered DIR: one message more than at the case's beginning in
# the maildir DIR, waited for (10 s at most); $got is its file.
want_delivered() {
	[ -n "$cwhy" ] && return
	wd_want=$(($(counted "$1") + 1))
	if ! wait_for 10 mailbox_has "$1" "$wd_want"; then
		cwhy="$1 holds $(count "$1") messages, expected $wd_want"
		return
	fi
	# shellcheck disable=SC2012 # maildir names: no odd characters
	got=$(ls -t "$1"/new/* | head -n 1)
}

# want_has FILE TEXT: a line of the delivered FILE is exactly TEXT.
want_has() {
	[ -n "$cwhy" ] && return
	if ! grep -Fqx -- "$2" "$1"; then
		cwhy="no line '$2' in $(basename "$1")"
		cp "$1" "$tmp/diff"
	fi
}

# want_body FILE EXPECTED: the body of the delivered FILE (after its first
# empty line) is, octet for octet, the file EXPECTED.
want_body() {
	[ -n "$cwhy" ] && return
	sed '1,/^$/d' "$1" >"$tmp/body"
	if ! cmp -s "$2" "$tmp/body"; then
		cwhy="the body that arrived differs from the body sent"
		diff -u "$2" "$tmp/body" | sed '1,2d' | head -n 40 >"$tmp/diff"
	fi
}

# want_none: no maildir gained a message (the case's session is over).
want_none() {
	[ -n "$cwhy" ] && return
	for d in "$pfmail"/* "$exmail"/*; do
		[ -d "$d" ] || continue
		if [ "$(count "$d")" != "$(counted "$d")" ]; then
			cwhy="a message arrived in $d"
			return
		fi
	done
}

# pf_idle: every session Postfix logged the connection of, it logged the
# end of (noq may exit before Postfix logs its QUIT).
pf_idle() {
	[ "$(grep -c ': connect from ' "$pflog")" -eq "$(grep -c ': disconnect from ' "$pflog")" ]
}

# pcase NAME, ecase NAME: begin a case against Postfix (once the last
# session's lines are logged), Exim.
pcase() {
	begin "Postfix: $1"
	got=
	wait_for 3 pf_idle
	mark
	snapshot
}
ecase() {
	begin "Exim: $1"
	got=
	mark
	snapshot
}

# H HOST: the head of the failure line for HOST.
H() { echo "Delivery failed: H=$1 [127.0.0.1]"; }

# auth_conf MECH SECRET-FILE: the authenticator for MECH (noq.conf(5)),
# the secret read from SECRET-FILE at send time, TLS verified and required.
auth_conf() {
	cat <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
  hosts_require_auth = *

begin authenticators

EOF
	case $1 in
	PLAIN) cat <<EOF ;;
plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$2}{}}
EOF
	LOGIN) cat <<EOF ;;
login:
  driver = plaintext
  public_name = LOGIN
  client_send = : $user : \${readfile{$2}{}}
EOF
	CRAM-MD5) cat <<EOF ;;
cram:
  driver = cram_md5
  client_name = $user
  client_secret = \${readfile{$2}{}}
EOF
	SCRAM-SHA-256) cat <<EOF ;;
scram:
  driver = scram_sha_256
  client_username = $user
  client_password = \${readfile{$2}{}}
EOF
	XOAUTH2 | OAUTHBEARER) cat <<EOF ;;
oauth:
  driver = oauth2
  mechanism = $(echo "$1" | tr '[:upper:]' '[:lower:]')
  client_username = $user
  client_token_command = /bin/cat $2
EOF
	esac
}

verified="tls_verify_certificates = $ca"

# ---- Postfix: TLS ---------------------------------------------------------------

for host in localhost 127.0.0.1; do
	pcase "STARTTLS verified by $host: in bob's maildir"
	conf starttls "$host:$p_sub" <<EOF
  $verified
  hosts_require_tls = *
EOF
	send starttls "$tmp/msg" -v -f sender@example.net bob@example.net
	want_rc 0
	want_match "TLS trace" "$(grep '^noq: -v: TLS: ' "$tmp/err")" \
		"noq: -v: TLS: TLS1.3 *, verified, CN=localhost"
	want_session "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"
	want_delivered "$pfmail/bob"
	want_has "$got" "	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
	want_has "$got" "	(No client certificate requested)"
	want_has "$got" "Subject: interop test"
	want_body "$got" "$tmp/hello"
	end

	pcase "implicit TLS (protocol = smtps) verified by $host: delivered"
	conf smtps "$host:$p_smtps" <<EOF
  protocol = smtps
  $verified
EOF
	send smtps "$tmp/msg" -f sender@example.net bob@example.net
	want_rc 0
	want_err ""
	want_session "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
	want_pf_log "TLS connection established from localhost\[127.0.0.1\]: TLSv1.3"
	want_delivered "$pfmail/bob"
	want_has "$got" "	by mx.example.net (Postfix) with ESMTPS id $(pf_log | sed -n 's/.*postfix\/smtpd\[[0-9]*\]: \([0-9A-F]*\): client=.*/\1/p' | head -n 1)"
	end
done

# tls_refused NAME HOST PORT CA REASON: STARTTLS to PORT fails verification
# with REASON; Postfix saw EHLO and STARTTLS, nothing else, and nothing
# arrived.
tls_refused() {
	pcase "$1"
	conf refused "$2:$3" <<EOF
  tls_verify_certificates = $4
  hosts_require_tls = *
EOF
	send refused "$tmp/msg" -f sender@example.net bob@example.net
	want_rc 1
	want_err "$(H "$2"): TLS session not started: certificate verify failed: $5"
	want_session "ehlo=1 starttls=0/1 commands=1/2"
	want_none
	end
}
wrong_names="other.example.org, www.other.example.org, *.wild.example.org, f*.partial.example.org"
tls_refused "a certificate for another name, by IP: refused" 127.0.0.1 "$p_wrong" "$ca" \
	"IP address mismatch (the certificate is for $wrong_names)"
tls_refused "a certificate for another name, by name: refused" localhost "$p_wrong" "$ca" \
	"hostname mismatch (the certificate is for $wrong_names)"
tls_refused "an expired certificate: refused" localhost "$p_expired" "$ca" \
	"certificate has expired"
tls_refused "a certificate of an unknown CA: refused" localhost "$p_sub" "$certs/ca2.pem" \
	"unable to get local issuer certificate (issuer CN=noq test CA)"

pcase "a client certificate required and given: delivered, Postfix verified it"
conf ccert "localhost:$p_ccert" <<EOF
  $verified
  hosts_require_tls = *
  tls_certificate = $certs/client.pem
  tls_privatekey = $certs/client.key
EOF
send ccert "$tmp/msg" -f sender@example.net bob@example.net
want_rc 0
want_err ""
want_session "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"
want_pf_log "Trusted TLS connection established from localhost\[127.0.0.1\]"
want_delivered "$pfmail/bob"
want_has "$got" '	(Client CN "noq test client", Issuer "noq test CA" (verified OK))'
end

# Postfix refuses the EHLO after STARTTLS with a 421 (tests/delivery.sh
# "EHLO 421: the reason given, no HELO" plays the same with faultsrv).
pcase "a client certificate required, none given: Postfix's 421 is the reason"
conf noccert "localhost:$p_ccert" <<EOF
  $verified
  hosts_require_tls = *
EOF
send noccert "$tmp/msg" -f sender@example.net bob@example.net
want_rc 1
want_err "$(H localhost): SMTP error from remote mail server after EHLO mail.example.org: 421 4.7.1 mx.example.net Error: No client certificate presented"
want_pf_log "abort: TLS from localhost\[127.0.0.1\]: No client certificate presented"
want_none
end

# ---- Postfix: AUTH through Dovecot --------------------------------------------

for mech in PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER; do
	case $mech in
	*OAUTH*) right=$tmp/token wrong=$tmp/token-wrong ;;
	*) right=$tmp/secret wrong=$tmp/wrong ;;
	esac
	lmech=$(echo "$mech" | tr '[:upper:]' '[:lower:]')

	pcase "AUTH $mech, checked by Dovecot: delivered as alice"
	auth_conf "$mech" "$right" | conf "auth-$lmech" "localhost:$p_sub"
	send "auth-$lmech" "$tmp/msg" -v -f sender@example.net bob@example.net
	want_rc 0
	want_line "noq: -v: authenticated with $mech"
	want_session "ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8"
	want_pf_log "client=localhost\[127.0.0.1\], sasl_method=$mech, sasl_username=$user\$"
	want_delivered "$pfmail/bob"
	want_has "$got" "	(Authenticated sender: $user)"
	want_absent "the secret" "$(cat "$right")" "$tmp/err"
	end

	pcase "AUTH $mech with the wrong secret: refused, nothing sent"
	auth_conf "$mech" "$wrong" | conf "auth-$lmech-wrong" "localhost:$p_sub"
	send "auth-$lmech-wrong" "$tmp/msg" -f sender@example.net bob@example.net
	want_rc 1
	want_err "$(H localhost): authentication failed: 535 5.7.8 Error: authentication failed: (reason unavailable); nothing was sent"
	want_session "ehlo=2 starttls=1 auth=0/1 quit=1 commands=4/5"
	want_pf_log "SASL $mech authentication failed"
	want_none
	end
done

# ---- Postfix: the message and its envelope ---------------------------------------

# tls_to NAME PORT: the transport of the cases below, STARTTLS verified and
# required, no AUTH (Postfix takes mail for example.net from anyone).
tls_to() {
	conf "$1" "localhost:$2" <<EOF
  $verified
  hosts_require_tls = *
EOF
}
tls_to plain "$p_sub"
tls_to nopipe "$p_nopipe"
tls_to small "$p_small"
tls_to noutf8 "$p_noutf8"

pcase "8-bit body and header: BODY=8BITMIME, arrived octet for octet"
send plain "$tmp/8bit" -v -oi -f sender@example.net bob@example.net
want_rc 0
want_match "the MAIL command" "$(grep '^noq: -v: SMTP>> MAIL ' "$tmp/err")" \
	"noq: -v: SMTP>> MAIL FROM:<sender@example.net> SIZE=* BODY=8BITMIME"
want_session "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"
want_delivered "$pfmail/bob"
want_has "$got" "$(printf 'Subject: 8bit \303\251t\303\251')"
want_body "$got" "$tmp/8bit.body"
end

# jörg@example.net, in UTF-8.
joerg=$(printf 'j\303\266rg@example.net')
pcase "an SMTPUTF8 address: MAIL ... SMTPUTF8, ORCPT=utf-8, in jörg's maildir"
send plain "$tmp/msg" -v -N failure -f sender@example.net "$joerg"
want_rc 0
# RFC 6533: a UTF-8 original recipient goes as utf-8-addr-unitext.
want_line "noq: -v: SMTP>> RCPT TO:<$joerg> NOTIFY=failure ORCPT=utf-8;$joerg"
want_session "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"
want_pf_log "to=<$joerg>, relay=virtual.*status=sent"
want_delivered "$pfmail/joerg"
want_has "$got" "Delivered-To: $joerg"
want_match "Postfix's Received" "$(grep -F '	by mx.example.net (Postfix) with' "$got")" \
	"*with UTF8SMTPS id *"
end

pcase "an SMTPUTF8 address, the server without SMTPUTF8: refused before MAIL"
send noutf8 "$tmp/msg" -f sender@example.net "$joerg"
want_rc 1
want_err "$(H localhost): the message needs SMTPUTF8 (an address is not ASCII) and the server does not offer it"
want_session "ehlo=2 starttls=1 quit=1 commands=4"
want_none
end

pcase "a message over the server's SIZE: refused before MAIL"
send small "$tmp/big" -f sender@example.net bob@example.net
want_rc 1
want "standard error" "$(sed 's/is [0-9]* octets/is N octets/' "$tmp/err")" \
	"$(H localhost): the message is N octets; the server accepts at most $small_limit"
want_session "ehlo=2 starttls=1 quit=1 commands=4"
want_none
end

# reject_unauth_pipelining refuses the message of a client that sends a
# command before the reply it must wait for.
pcase "no PIPELINING offered: one command at a time, the message taken"
send nopipe "$tmp/msg" -f sender@example.net bob@example.net
want_rc 0
want_err ""
want_session "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"
want_delivered "$pfmail/bob"
end

# The recipients: rcpt1..rcpt50@example.net.
rcpts=$(seq 1 50 | sed 's/.*/rcpt&@example.net/')
pcase "50 recipients in one pipelined transaction: one copy in each maildir"
# shellcheck disable=SC2086
send plain "$tmp/msg" -f sender@example.net $rcpts
want_rc 0
want_err ""
want_session "ehlo=2 starttls=1 mail=1 rcpt=50 data=1 quit=1 commands=56"
for i in $(seq 1 50); do
	want_delivered "$pfmail/rcpt$i"
done
end

# rcpt25 replaced by an address Postfix does not know.
bad=nobody25@example.net
pcase "one refused recipient among 50: nothing delivered, the refusal given"
# shellcheck disable=SC2046
send plain "$tmp/msg" -f sender@example.net $(echo "$rcpts" | sed "s/^rcpt25@.*/$bad/")
want_rc 1
want_line "$(H localhost): SMTP error from remote mail server after pipelined RCPT TO:<$bad>: 550 5.1.1 <$bad>: Recipient address rejected: User unknown in virtual mailbox table"
want_match "the commands Postfix counted" "$(pf_session)" \
	"ehlo=2 starttls=1 mail=1 rcpt=49/50 *quit=1 commands=*"
want_none
end

# ---- Postfix: DSN ---------------------------------------------------------------

# fails@example.net is accepted, then bounced: its transport (transport_maps)
# is a pipe(8) to /bin/false.

# dsn_case NAME RCPT NOTIFY RET ENVID: a message to RCPT with these DSN
# options; Postfix delivers or bounces it and sends sender@example.net the
# DSN, whose common fields are checked (the caller ends the case).
dsn_case() {
	pcase "$1"
	send plain "$tmp/msg" -N "$3" -R "$4" -V "$5" -f sender@example.net "$2"
	want_rc 0
	want_err ""
	want_session "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"
	want_delivered "$pfmail/sender"
	want_has "$got" "Original-Envelope-Id: $5"
	want_has "$got" "Original-Recipient: rfc822;$2"
	want_has "$got" "Final-Recipient: rfc822; $2"
}
dsn_case "NOTIFY=SUCCESS, RET=HDRS, ENVID, ORCPT: in the DSN Postfix sent back" \
	bob@example.net success hdrs envid-1
want_delivered "$pfmail/bob"
want_delivered "$pfmail/sender"
want_has "$got" "Action: delivered"
want_has "$got" "Content-Type: text/rfc822-headers"
want_absent "the body (RET=HDRS)" "hello from noq" "$got"
want_pf_log "sender delivery status notification"
end
dsn_case "NOTIFY=FAILURE, RET=FULL: the whole message in the failure DSN" \
	fails@example.net failure full envid-2
want_has "$got" "Action: failed"
want_has "$got" "Status: 5.3.0"
want_has "$got" "Content-Type: message/rfc822"
want_has "$got" "hello from noq"
want_pf_log "sender non-delivery notification"
end

pcase "NOTIFY=NEVER: bounced, and no DSN"
send plain "$tmp/msg" -N never -f sender@example.net fails@example.net
want_rc 0
want_err ""
want_session "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"
pf_removed() { pf_log | grep -q ': removed$'; }
wait_for 10 pf_removed
want_pf_log "to=<fails@example.net>, .*status=bounced"
want_none
end

# Postfix logs "improper command pipelining" when a client sends a command
# before the reply it must wait for (after EHLO or DATA, or any on a port
# without PIPELINING); noq never did in this run.
# ---- noq --serverinfo against the real servers ------------------------------------

si_ready="    result:       a message could be sent now (the check stopped before MAIL FROM)"

pcase "--serverinfo: STARTTLS verified, AUTH PLAIN by Dovecot, no MAIL"
auth_conf PLAIN "$tmp/secret" | conf si-plain "localhost:$p_sub"
send si-plain /dev/null --serverinfo
want_rc 0
want_err ""
want_match "the TLS line" "$(grep '^    TLS: ' "$tmp/out")" \
	"    TLS:          TLS1.3 *, verified, CN=localhost"
want_line_out "    issuer:       CN=noq test CA"
want_match "the capabilities" "$(grep '^    capabilities: ' "$tmp/out")" \
	"    capabilities: SIZE *, PIPELINING, 8BITMIME, SMTPUTF8, DSN, STARTTLS, AUTH *PLAIN*"
want_line_out "    auth:         PLAIN with authenticator 'plain': succeeded"
want_line_out "$si_ready"
want_session "ehlo=2 starttls=1 auth=1 quit=1 commands=5"
want_absent "the secret" "$(cat "$tmp/secret")" "$tmp/out"
want_none
end

pcase "--serverinfo: no client certificate, Postfix's 421 is the reason"
conf si-noccert "localhost:$p_ccert" <<EOF
  $verified
  hosts_require_tls = *
EOF
send si-noccert /dev/null --serverinfo
want_rc 1
want "the last line" "$(tail -n 1 "$tmp/err")" \
	"Delivery would fail: H=localhost [127.0.0.1]: SMTP error from remote mail server after EHLO mail.example.org: 421 4.7.1 mx.example.net Error: No client certificate presented"
want_absent "a result" "result:" "$tmp/out"
want_none
end


begin "Postfix: no improper command pipelining in the whole run"
want_absent "Postfix's complaint" "improper command pipelining" "$pflog"
end

# ---- Exim as the server ------------------------------------------------------------

# exim_auth MECH SECRET-FILE HOST [PORT]: the policy "exim" for Exim's port
# (or PORT) by HOST, TLS verified, AUTH with MECH (auth_conf).
exim_auth() {
	auth_conf "$1" "$2" | conf exim "$3:${4:-$p_exim}"
}

# The "<=" line's fields from P= on, up to X= and from A= to S=: the
# protocol, "L" when the client pipelined, the authenticator and user.
ex_fields() {
	ex_received | sed 's/ X=[^ ]*//; s/ CV=[^ ]*//; s/ S=.*//'
}

if $have_exim; then
	for mech in PLAIN LOGIN CRAM-MD5; do
		case $mech in
		PLAIN) name=plain host=localhost ;;
		LOGIN) name=login host=127.0.0.1 ;;
		CRAM-MD5) name=cram host=localhost ;;
		esac

		ecase "STARTTLS verified by $host, AUTH $mech: pipelined, in bob's maildir"
		exim_auth "$mech" "$tmp/secret" "$host"
		send exim "$tmp/msg" -v -f sender@example.net bob@example.net
		want_rc 0
		want_line "noq: -v: authenticated with $mech"
		want "Exim's <= line" "$(ex_fields)" "P=esmtpsa L A=$name:$user"
		want_log ex " X=TLS1.3:"
		want_delivered "$exmail/bob"
		want_has "$got" "Envelope-to: bob@example.net"
		want_has "$got" "Subject: interop test"
		want_body "$got" "$tmp/hello"
		end

		ecase "AUTH $mech with the wrong password: refused, nothing sent"
		exim_auth "$mech" "$tmp/wrong" "$host"
		send exim "$tmp/msg" -f sender@example.net bob@example.net
		want_rc 1
		want_err "$(H "$host"): authentication failed: 535 Incorrect authentication data; nothing was sent"
		want_log ex "$name authenticator failed for (mail.example.org) \[127.0.0.1\]"
		want_none
		end
	done

	ecase "--serverinfo: CRAM-MD5 with the wrong password, Exim's 535 the reason"
	exim_auth CRAM-MD5 "$tmp/wrong" localhost
	send exim /dev/null --serverinfo
	want_rc 1
	want "the last line" "$(tail -n 1 "$tmp/err")" \
		"Delivery would fail: H=localhost [127.0.0.1]: authentication failed: 535 Incorrect authentication data; nothing was sent"
	want_line_out "    auth:         CRAM-MD5 with authenticator 'cram': failed: 535 Incorrect authentication data"
	want_log ex "cram authenticator failed for (mail.example.org) \[127.0.0.1\]"
	want_none
	end

	ecase "8-bit body and header: arrived octet for octet"
	exim_auth PLAIN "$tmp/secret" localhost
	send exim "$tmp/8bit" -oi -f sender@example.net bob@example.net
	want_rc 0
	want_err ""
	want_delivered "$exmail/bob"
	want_has "$got" "$(printf 'Subject: 8bit \303\251t\303\251')"
	want_body "$got" "$tmp/8bit.body"
	end

	ecase "an SMTPUTF8 address: in jörg's maildir"
	exim_auth PLAIN "$tmp/secret" localhost
	send exim "$tmp/msg" -f sender@example.net "$joerg"
	want_rc 0
	want_err ""
	want "Exim's <= line" "$(ex_fields)" "P=utf8esmtpsa L A=plain:$user"
	want_delivered "$exmail/joerg"
	want_has "$got" "Envelope-to: $joerg"
	end

	# Exim drops a client that sends a command early where PIPELINING is
	# not offered (smtp_enforce_sync).
	ecase "no PIPELINING offered: one command at a time, the message taken"
	exim_auth CRAM-MD5 "$tmp/secret" localhost "$p_exim_nopipe"
	send exim "$tmp/msg" -f sender@example.net bob@example.net
	want_rc 0
	want_err ""
	want "Exim's <= line" "$(ex_fields)" "P=esmtpsa A=cram:$user"
	want_delivered "$exmail/bob"
	end

	ecase "NOTIFY=SUCCESS, ENVID, ORCPT: in the DSN Exim sent back"
	exim_auth PLAIN "$tmp/secret" localhost
	send exim "$tmp/msg" -N success -V envid-3 -f sender@example.net bob@example.net
	want_rc 0
	want_err ""
	want_delivered "$exmail/bob"
	want_delivered "$exmail/sender"
	want_has "$got" "Original-Envelope-ID: envid-3"
	want_has "$got" "Original-Recipient: rfc822;bob@example.net"
	want_has "$got" "Action: delivered"
	end

	begin "Exim: no synchronization error in the whole run"
	want_absent "Exim's complaint" "synchronization error" "$exlog"
	end
elif [ -n "${NOQ_INTEROP:-}" ]; then
	fail "Exim" "$why_exim"
else
	skip "Exim" "$why_exim"
fi

finish
