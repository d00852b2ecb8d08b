#!/bin/sh
# package.sh -- the Debian package, for real, on this machine.
#
#   tests/package.sh
#
# 1. builds a site package (debian/site/ with a configuration for a local
#    aiosmtpd and an alias file) with dpkg-buildpackage -us -uc -b;
# 2. builds it again from another directory: the policy bytes must be the
#    same (reproducible);
# 3. builds a site package with a broken configuration: the build must
#    fail with noqc's diagnostic (file:line:col);
# 4. installs the first package with dpkg -i and checks what it put where
#    (sendmail, mailq, newaliases, /usr/lib/sendmail, man pages, the noq
#    group, conffiles without the policy);
# 5. sends a message through /usr/sbin/sendmail with Debian cron's exact
#    flags and checks that aiosmtpd got it, alias resolved; runs
#    noqc --check /etc/noq/noq.conf;
# 6. edits the alias file: noq warns that the policy is older, newaliases
#    recompiles, the new alias works;
#    reinstalling keeps the administrator's aliases and the postinst
#    recompiles the policy;
# 7. the setgid group: with the policy 0640 root:noq, nobody can send only
#    once noq is made setgid noq with dpkg-statoverride (README.Debian);
#    a CA directory only the group may reach verifies the server;
# 8. removes the package (dpkg -r: programs gone, conffiles kept) and
#    purges it (nothing left in /etc/noq).
#
# Root only: it installs and removes a package.  It refuses to run when an
# MTA is installed (noq conflicts with mail-transport-agent) or when noq is
# installed already.  tools/test runs it (after tools/deps --package).
# Exit status: 0 when every case passed, 1 otherwise (or when none ran).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
pass=0 failed=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() {
	failed=$((failed + 1))
	echo "FAIL $1"
	shift
	for f in "$@"; do [ -f "$f" ] && sed 's/^/    | /' "$f" | tail -n 40; done
}
# check NAME COMMAND...: the command succeeds.
check() {
	name=$1
	shift
	if "$@" >"$tmp/check.out" 2>&1; then ok "$name"; else bad "$name" "$tmp/check.out"; fi
}
die() { echo "$0: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root: it installs and removes the noq package"
if dpkg-query -W -f='${Status}\n' noq 2>/dev/null | grep -q 'installed'; then
	die "noq is installed already; remove it first (dpkg -P noq)"
fi
mta=$(dpkg-query -W -f='${Package} ${Status} ${Provides}\n' 2>/dev/null |
	awk '/ installed / && /mail-transport-agent/ { print $1 }')
[ -z "$mta" ] || die "an MTA is installed ($mta); the noq package conflicts with it"
for t in dpkg-buildpackage dh "$PY"; do
	command -v "$t" >/dev/null || die "$t is missing (tools/deps --package)"
done
"$PY" -c 'import aiosmtpd' 2>/dev/null || die "python3-aiosmtpd is missing (tools/deps --package)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/noq-package.XXXXXX")
chmod 755 "$tmp"
sink_pid=
cleanup() {
	[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
	[ -n "${tls_pid:-}" ] && kill "$tls_pid" 2>/dev/null
	rm -rf /etc/noq/tls-test
	if dpkg-query -W -f='${Status}\n' noq 2>/dev/null | grep -q 'installed'; then
		dpkg-statoverride --remove /usr/bin/noq >/dev/null 2>&1
		dpkg -P noq >/dev/null 2>&1
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# copy DIR: the source tree (files git knows, or all but the builds) in DIR.
copy() {
	mkdir -p "$1"
	if [ -d "$top/.git" ] && command -v git >/dev/null; then
		(cd "$top" && git ls-files -z --cached --others --exclude-standard |
			tar --null -T - -cf -) | tar -C "$1" -xf -
	else
		(cd "$top" && tar --exclude=./_build --exclude=./.git -cf - .) | tar -C "$1" -xf -
	fi
}

# site DIR: the site configuration of the test in DIR/debian/site.
site() {
	cat >"$1/debian/site/noq.conf" <<EOF
# The site configuration of tests/package.sh: aiosmtpd on loopback.
primary_hostname = pkgtest.example.org
qualify_domain = example.org
domainlist local_domains = example.org : @ : localhost

begin routers
system_aliases:
  driver = redirect
  domains = +local_domains
  data = \${lookup{\$local_part}lsearch{aliases}}
smarthost:
  driver = manualroute
  route_list = * 127.0.0.1::$port
  transport = remote_smtp

begin transports
remote_smtp:
  driver = smtp
EOF
	printf 'root:\tops@example.net\npostmaster:\troot\n' >"$1/debian/site/aliases"
}

# build DIR LOG: dpkg-buildpackage in DIR; the .deb lands beside DIR.
build() {
	(cd "$1" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
		dpkg-buildpackage -us -uc -b) >"$2" 2>&1
}

policy_of() { dpkg-deb --fsys-tarfile "$1" | tar -xOf - ./etc/noq/noq.policy | sha256sum | cut -d' ' -f1; }

# ---- 1-3: building ---------------------------------------------------------------

copy "$tmp/a/src" && site "$tmp/a/src"
cp -a "$tmp/a/src" "$tmp/a/src.orig"
if build "$tmp/a/src" "$tmp/a.log"; then
	ok "site package: dpkg-buildpackage -us -uc -b"
else
	bad "site package: dpkg-buildpackage -us -uc -b" "$tmp/a.log"
	exit 1
fi
deb=$(ls "$tmp"/a/noq_*.deb)
if dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./etc/noq/noq.conf | grep -q "127.0.0.1::$port"; then
	ok "site package: it carries the site configuration"
else
	bad "site package: it carries the site configuration"
fi

# The same source (a copy of the first, taken before it was built) in
# another directory, built at another time.
mkdir -p "$tmp/b/elsewhere"
cp -a "$tmp/a/src.orig" "$tmp/b/elsewhere/src"
if build "$tmp/b/elsewhere/src" "$tmp/b.log"; then
	pa=$(policy_of "$deb") pb=$(policy_of "$(ls "$tmp"/b/elsewhere/noq_*.deb)")
	if [ -n "$pa" ] && [ "$pa" = "$pb" ]; then
		ok "reproducible: two builds, the same policy bytes (sha256 $pa)"
	else
		bad "reproducible: two builds, the same policy bytes ($pa, $pb)"
	fi
	if cmp -s "$deb" "$(ls "$tmp"/b/elsewhere/noq_*.deb)"; then
		ok "reproducible: the two .deb files are identical"
	else
		bad "reproducible: the two .deb files are identical"
	fi
else
	bad "second build" "$tmp/b.log"
fi

copy "$tmp/c/src" && site "$tmp/c/src"
# A typo in an option name.
cat >>"$tmp/c/src/debian/site/noq.conf" <<'EOF'
other_smtp:
  driver = smtp
  hots = mx.example.net
EOF
if build "$tmp/c/src" "$tmp/c.log"; then
	bad "site package with a broken configuration: the build fails" "$tmp/c.log"
elif grep -Eq 'noq\.conf:2[0-9]:3: error: unknown option .hots.' "$tmp/c.log"; then
	ok "site package with a broken configuration: the build fails with noqc's diagnostic"
else
	bad "site package with a broken configuration: no diagnostic in the build log" "$tmp/c.log"
fi

if command -v lintian >/dev/null; then
	if lintian --fail-on error,warning "$deb" >"$tmp/lintian.log" 2>&1; then
		ok "lintian: no error, no warning"
	else
		bad "lintian: no error, no warning" "$tmp/lintian.log"
	fi
fi

# ---- 4: installing ---------------------------------------------------------------

if dpkg -i "$deb" >"$tmp/install.log" 2>&1; then
	ok "dpkg -i"
else
	bad "dpkg -i" "$tmp/install.log"
	exit 1
fi
check "/usr/sbin/sendmail is noq" test "$(readlink -f /usr/sbin/sendmail)" = /usr/bin/noq
check "/usr/lib/sendmail is noq" test "$(readlink -f /usr/lib/sendmail)" = /usr/bin/noq
check "mailq and newaliases are noq" test "$(readlink -f /usr/bin/mailq)$(readlink -f /usr/bin/newaliases)" = /usr/bin/noq/usr/bin/noq
check "noqc is installed" test -x /usr/bin/noqc
check "the man pages" test -f /usr/share/man/man8/noq.8.gz -a -f /usr/share/man/man1/noqc.1.gz \
	-a -f /usr/share/man/man5/noq.conf.5.gz -a -f /usr/share/man/man5/noq-policy.5.gz \
	-a -f /usr/share/man/man8/sendmail.8.gz -a -f /usr/share/man/man8/mailq.8.gz \
	-a -f /usr/share/man/man8/newaliases.8.gz
check "the group noq exists" getent group noq
conffiles=$(dpkg-query -W -f='${Conffiles}\n' noq | awk 'NF { print $1 }' | sort | tr '\n' ' ')
check "conffiles: noq.conf and aliases, not the policy" test "$conffiles" = "/etc/noq/aliases /etc/noq/noq.conf "
check "the policy is installed, mode 644" test "$(stat -c %a /etc/noq/noq.policy)" = 644
/usr/sbin/sendmail -bV >"$tmp/bV" 2>&1
check "sendmail -bV: the policy is up to date" grep -qx 'policy is up to date with /etc/noq/noq.conf' "$tmp/bV"
check "mailq: no queue" sh -c 'mailq | grep -q "^Mail queue is empty"'
check "noqc --check /etc/noq/noq.conf" noqc --check /etc/noq/noq.conf

# ---- 5: sending ------------------------------------------------------------------

mkdir "$tmp/aio"
"$PY" "$top/tests/delivery/sink.py" --dir "$tmp/aio" --port-file "$tmp/aio.port" \
	--port "$port" --lifetime 600 2>"$tmp/aio.log" &
sink_pid=$!
i=0
while [ ! -f "$tmp/aio.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$tmp/aio.port" ] || { bad "aiosmtpd did not start" "$tmp/aio.log"; exit 1; }

# meta N KEY: a field of the envelope of message N, as JSON.
meta() {
	"$PY" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' \
		"$tmp/aio/$1.json" "$2" 2>/dev/null || echo "(none)"
}

# Debian cron: sendmail -FCronDaemon -i -B8BITMIME -oem USER.
printf 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> run-parts /etc/cron.daily\n\nall went well\n' |
	/usr/sbin/sendmail -FCronDaemon -i -B8BITMIME -oem root >"$tmp/send.out" 2>"$tmp/send.err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$tmp/send.err" ]; then
	ok "cron's flags through /usr/sbin/sendmail: exit 0, nothing on stderr"
else
	bad "cron's flags through /usr/sbin/sendmail: exit $rc" "$tmp/send.err"
fi
check "aiosmtpd got it, for root's alias" test "$(meta 1 rcpt_tos)" = '["ops@example.net"]'
check "the envelope sender is root, qualified" test "$(meta 1 mail_from)" = '"root@example.org"'
check "the body arrived" grep -q '^all went well' "$tmp/aio/1.eml"

# ---- 6: editing the configuration ----------------------------------------------------

printf 'backup:\tbackup-team@example.net\n' >>/etc/noq/aliases
touch -d '+1 minute' /etc/noq/aliases
printf 'Subject: x\n\ny\n' | /usr/sbin/sendmail -i root 2>"$tmp/warn.err"
rc=$?
if [ $rc -eq 0 ] && grep -q 'warning: the policy /etc/noq/noq.policy is older than /etc/noq/aliases' "$tmp/warn.err"; then
	ok "an edited alias file: noq warns, and still delivers"
else
	bad "an edited alias file: noq warns, and still delivers (exit $rc)" "$tmp/warn.err"
fi
check "newaliases recompiles" newaliases
/usr/sbin/sendmail -bV >"$tmp/bV" 2>&1
check "sendmail -bV after newaliases: up to date" grep -qx 'policy is up to date with /etc/noq/noq.conf' "$tmp/bV"
printf 'Subject: backup\n\ndone\n' | /usr/sbin/sendmail -i backup 2>"$tmp/send.err"
check "the new alias is in use" test "$(meta 3 rcpt_tos)" = '["backup-team@example.net"]'

# Reinstalling (an upgrade) brings the shipped policy back while dpkg keeps
# the administrator's alias file: the postinst finds the policy older than
# it and recompiles.
printf 'upgrade:\tupgrade-team@example.net\n' >>/etc/noq/aliases
if dpkg -i --force-confold "$deb" >"$tmp/upgrade.log" 2>&1 &&
	grep -q 'recompiled /etc/noq/noq.policy from /etc/noq/noq.conf' "$tmp/upgrade.log"; then
	ok "reinstall with a changed alias file: the postinst recompiles"
else
	bad "reinstall with a changed alias file: the postinst recompiles" "$tmp/upgrade.log"
fi
printf 'Subject: upgrade\n\ndone\n' | /usr/sbin/sendmail -i upgrade 2>"$tmp/send.err"
check "after the reinstall, the administrator's alias is in use" \
	test "$(meta 4 rcpt_tos)" = '["upgrade-team@example.net"]'
check "after the reinstall, no warning" test ! -s "$tmp/send.err"

# ---- 7: the setgid group (README.Debian) ----------------------------------------------

chgrp noq /etc/noq/noq.policy && chmod 0640 /etc/noq/noq.policy
send_as_nobody() {
	printf 'Subject: from nobody\n\nhi\n' |
		runuser -u nobody -- /usr/sbin/sendmail -i root >"$tmp/nobody.out" 2>"$tmp/nobody.err"
}
if send_as_nobody; then
	bad "policy 0640 root:noq, noq not setgid: nobody cannot send" "$tmp/nobody.err"
elif grep -q 'cannot use the policy /etc/noq/noq.policy' "$tmp/nobody.err"; then
	ok "policy 0640 root:noq, noq not setgid: nobody cannot send"
else
	bad "policy 0640 root:noq, noq not setgid: another error" "$tmp/nobody.err"
fi
dpkg-statoverride --update --add root noq 2755 /usr/bin/noq
check "dpkg-statoverride makes noq setgid noq" test "$(stat -c '%a %G' /usr/bin/noq)" = "2755 noq"
n_before=$(find "$tmp/aio" -name '*.json' | wc -l)
if send_as_nobody && [ ! -s "$tmp/nobody.err" ] &&
	[ "$(find "$tmp/aio" -name '*.json' | wc -l)" -eq $((n_before + 1)) ]; then
	ok "setgid noq: nobody sends through the group-readable policy"
else
	bad "setgid noq: nobody sends through the group-readable policy" "$tmp/nobody.err"
fi

# The trust anchors of a setgid noq: a hashed CA directory inside a
# directory only the group may enter (0750 root:noq).  Whether the path is
# a file or a directory is decided with the group's rights: with the
# caller's, nobody could not stat it and the directory was taken for a file.
certs=$tmp/certs
mkdir "$certs" && sh "$top/tests/tls/mkcerts.sh" "$certs" >/dev/null 2>&1 ||
	die "cannot make the test certificates"
mkdir -p /etc/noq/tls-test/ca && cp "$certs/ca.pem" /etc/noq/tls-test/ca/ &&
	ln -s ca.pem "/etc/noq/tls-test/ca/$(openssl x509 -hash -noout -in "$certs/ca.pem").0" &&
	chgrp -R noq /etc/noq/tls-test && chmod 0750 /etc/noq/tls-test || die "cannot make the CA directory"
"$PY" "$top/tests/tlsdata/aiosrv.py" --port-file "$tmp/tls.port" --log "$tmp/tls.log" \
	--cert "$certs/server.pem" --key "$certs/server.key" 2>"$tmp/tls.err" &
tls_pid=$!
i=0
while [ ! -s "$tmp/tls.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$tmp/tls.port" ] || { bad "aiosrv.py did not start" "$tmp/tls.err"; exit 1; }
sed -e "s/127\.0\.0\.1::$port/127.0.0.1::$(cat "$tmp/tls.port")/" /etc/noq/noq.conf >"$tmp/tls.conf" &&
	printf '  hosts_require_tls = *\n  tls_verify_certificates = /etc/noq/tls-test/ca\n' >>"$tmp/tls.conf" &&
	cp /etc/noq/aliases "$tmp/" && cp /etc/noq/noq.policy "$tmp/saved.policy" &&
	noqc -o /etc/noq/noq.policy "$tmp/tls.conf" >"$tmp/tls.noqc" 2>&1 &&
	chgrp noq /etc/noq/noq.policy && chmod 0640 /etc/noq/noq.policy ||
	bad "the TLS policy" "$tmp/tls.noqc"
if send_as_nobody && [ ! -s "$tmp/nobody.err" ] &&
	"$PY" "$top/tests/tlsdata/aiosrv.py" --show "$tmp/tls.log" | grep -q ' tls=yes '; then
	ok "setgid noq: the CA directory in a 0750 root:noq directory verifies the server"
else
	bad "setgid noq: the CA directory in a 0750 root:noq directory verifies the server" \
		"$tmp/nobody.err" "$tmp/tls.log"
fi
kill "$tls_pid" 2>/dev/null
cp "$tmp/saved.policy" /etc/noq/noq.policy && rm -rf /etc/noq/tls-test
dpkg-statoverride --remove /usr/bin/noq >/dev/null && chmod 0755 /usr/bin/noq && chgrp root /usr/bin/noq

# ---- 8: removing -----------------------------------------------------------------

if dpkg -r noq >"$tmp/remove.log" 2>&1; then ok "dpkg -r"; else bad "dpkg -r" "$tmp/remove.log"; fi
check "removed: sendmail, noq, noqc, mailq, the policy" sh -c \
	'! [ -e /usr/sbin/sendmail ] && ! [ -e /usr/bin/noq ] && ! [ -e /usr/bin/noqc ] &&
	 ! [ -e /usr/bin/mailq ] && ! [ -e /usr/lib/sendmail ] && ! [ -e /etc/noq/noq.policy ]'
check "removed: the conffiles stay until purge" test -f /etc/noq/noq.conf
if dpkg -P noq >"$tmp/purge.log" 2>&1; then ok "dpkg -P"; else bad "dpkg -P" "$tmp/purge.log"; fi
check "purged: nothing left in /etc/noq" test ! -e /etc/noq
check "purged: dpkg knows no noq" sh -c '! dpkg-query -W -f="\${Status}" noq 2>/dev/null | grep -q installed'

echo
echo "package: $pass passed, $failed failed"
[ $failed -eq 0 ] && [ $pass -gt 0 ]
