#!/bin/sh
# tls.sh -- noq delivering over TLS and with SMTP AUTH, end to end: the
# policy's TLS options (verification, pins, client certificates, smtps,
# STARTTLS required or avoided) and every authenticator, against two
# servers: aiosmtpd (tests/tlsdata/aiosrv.py), which checks the
# certificates and the credentials, and faultsrv (tests/smtp/faultsrv.py),
# which misbehaves on request and records every octet the client sends.
# The last section checks the same servers with noq --serverinfo.
#
# Each case checks noq's exit status, its exact standard error, and on the
# server's side what arrived: that a message was accepted, under TLS, as
# the right user; or that nothing was, that nothing followed a failed
# STARTTLS, that a password never went on the wire in clear.
#
# The certificates are made at start by tests/tls/mkcerts.sh (openssl
# needed: without it the script is skipped).  The servers listen on
# 127.0.0.1; the configuration is tests/tlsdata/base.conf and the case's
# options (conf below).
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir.
# Usage: sh tests/tls.sh

. "${top_srcdir:-$(dirname "$0")/..}/tests/delivery/lib.sh"

tdir=$(cd "$top_srcdir/tests/tlsdata" && pwd) || exit 99
AIOSRV=$tdir/aiosrv.py

if ! command -v openssl >/dev/null 2>&1; then
	echo "$0: no openssl command to make the test certificates: skipped"
	exit 77
fi
certs=$tmp/certs
mkdir "$certs" || exit 99
sh "$top_srcdir/tests/tls/mkcerts.sh" "$certs" || exit 99
ca=$certs/ca.pem

# aiosmtpd for the cases that need a server that checks (Debian's
# python3-aiosmtpd).
if "$PY" -c 'import aiosmtpd' 2>/dev/null; then
	have_aio=true
else
	have_aio=false
fi

# ---- secrets and messages ---------------------------------------------------

user=alice
pw=s3cret-Pa55
printf '%s\n' "$pw" >"$tmp/secret" || exit 99
chmod 600 "$tmp/secret"
# A wrong password, and the right one in a file anyone may read.
printf 'not-the-password\n' >"$tmp/wrong" || exit 99
chmod 600 "$tmp/wrong"
printf '%s\n' "$pw" >"$tmp/open" || exit 99
chmod 644 "$tmp/open"

token=ya29.test-token-0123456789
# The token command: run without a shell, with its arguments; it records
# them, one a line, and prints the token.
cat >"$tmp/token.sh" <<EOF || exit 99
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/token.args"
printf '%s\n' "$token"
EOF
cat >"$tmp/token-fails.sh" <<'EOF' || exit 99
#!/bin/sh
echo "token endpoint unreachable" >&2
exit 3
EOF
chmod 755 "$tmp/token.sh" "$tmp/token-fails.sh"

cat >"$tmp/msg" <<'EOF' || exit 99
To: bob@example.net
Subject: TLS test
Message-ID: <tls.1@example.org>
Date: Mon, 1 Jan 2001 00:00:00 +0000

hello over TLS
EOF

# b64 TEXT: the base64 of TEXT, in which Python's escapes stand for
# octets ("\0alice\0pw", "\x01").
b64() {
	"$PY" -c 'import base64, codecs, sys
print(base64.b64encode(codecs.decode(sys.argv[1], "unicode_escape").encode("latin-1")).decode())' "$1"
}
plain_b64=$(b64 "\\0$user\\0$pw")
pw_b64=$(b64 "$pw")
user_b64=$(b64 "$user")

# ---- configurations ---------------------------------------------------------

# ---- servers ----------------------------------------------------------------

# tfault NAME CERT MODE [SCRIPT-LINE...]: faultsrv on 127.0.0.1 with the
# certificate CERT of $certs (server, wrongname, expired, selfsigned; "-"
# for none: no STARTTLS), MODE starttls or implicit (smtps), serving
# connections until stop NAME; its files in $tmp/NAME/, its port in $port.
tfault() {
	fname=$1 fcert=$2 fmode=$3
	shift 3
	rm -rf "${tmp:?}/$fname"
	mkdir "$tmp/$fname" || exit 99
	: >"$tmp/$fname/script"
	for l in "$@"; do
		printf '%s\n' "$l" >>"$tmp/$fname/script"
	done
	set -- --listen 127.0.0.1 --script "$tmp/$fname/script" \
		--transcript "$tmp/$fname/t" --port-file "$tmp/$fname/port" \
		--connections 0 --timeout 20
	if [ "$fcert" != - ]; then
		set -- "$@" --tls-cert "$certs/$fcert.pem" --tls-key "$certs/$fcert.key"
	fi
	if [ "$fmode" = implicit ]; then
		set -- "$@" --implicit-tls
	fi
	"$PY" "$FAULTSRV" "$@" 2>"$tmp/$fname/log" &
	echo $! >"$tmp/$fname/pid"
	started $!
	if ! wait_file "$tmp/$fname/port"; then
		echo "$0: faultsrv did not start:" >&2
		cat "$tmp/$fname/log" >&2
		exit 99
	fi
	port=$(cat "$tmp/$fname/port")
}

# aio NAME [OPTION...]: aiosrv.py with the server certificate, user alice,
# the password in $tmp/secret and $token, and these options; its files in
# $tmp/NAME/, its port in $port.  It serves until stop NAME.
aio() {
	aname=$1
	shift
	rm -rf "${tmp:?}/$aname"
	mkdir "$tmp/$aname" || exit 99
	"$PY" "$AIOSRV" --port-file "$tmp/$aname/port" --log "$tmp/$aname/log" \
		--cert "$certs/server.pem" --key "$certs/server.key" \
		--user "$user" --password-file "$tmp/secret" --token "$token" \
		"$@" 2>"$tmp/$aname/stderr" &
	echo $! >"$tmp/$aname/pid"
	started $!
	if ! wait_file "$tmp/$aname/port"; then
		echo "$0: aiosrv.py did not start:" >&2
		cat "$tmp/$aname/stderr" >&2
		exit 99
	fi
	port=$(cat "$tmp/$aname/port")
}

# want_seen NAME TEXT: what aiosrv NAME logged since it started or since
# the last want_seen (aiosrv.py --show) is exactly TEXT ("" for nothing).
want_seen() {
	"$PY" "$AIOSRV" --show "$tmp/$1/log" >"$tmp/seen" 2>&1
	: >"$tmp/$1/log"
	want_file "what $1 saw" "$tmp/seen" "$2"
}

# ---- checks -----------------------------------------------------------------

# want_tls_only NAME: the faultsrv NAME's client sent nothing after its
# STARTTLS line: no octet in clear, none under TLS, no second connection.
want_tls_only() {
	want_x "$1" 1.verbs "EHLO STARTTLS"
	want_x "$1" 1.plaintext_after_starttls ""
	want_x "$1" 1.data_sent false
	want_x "$1" 2.n "(none)"
	want "$1 transcript end" "$(tail -n 1 "$tmp/$1/t")" "--- TLS ---"
}

# The Delivery failed line for the one test host.
H="Delivery failed: H=127.0.0.1 [127.0.0.1]"

# ---- 1. STARTTLS, verified, AUTH PLAIN and LOGIN (aiosmtpd) -----------------

if $have_aio; then
	aio aio

	begin "STARTTLS verified, AUTH PLAIN: delivered, the password redacted"
	conf plain "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
  hosts_require_auth = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/secret}{}}
EOF
	send plain "$tmp/msg" -v bob@example.net
	want_rc 0
	want_seen aio "auth PLAIN alice ok tls
message FROM=<$caller> TO=<bob@example.net> auth=alice tls=yes cert=- sni=-
body hello over TLS"
	want_line "noq: -v: SMTP>> STARTTLS"
	want_match "TLS trace" "$(grep '^noq: -v: TLS: ' "$tmp/err")" \
		"noq: -v: TLS: TLS1.[23] *, verified, CN=localhost"
	want_line "noq: -v: SMTP>> AUTH PLAIN <redacted>"
	want_line "noq: -v: authenticated with PLAIN"
	want_line "noq: -v: accepted: 250 2.0.0 Ok: queued"
	want_absent "the password" "$pw" "$tmp/err"
	want_absent "the PLAIN response" "$plain_b64" "$tmp/err"
	want_absent "the password in base64" "$pw_b64" "$tmp/err"
	end

	# Through a pipe, the session (STARTTLS and AUTH with it) is opened
	# in a second thread while the message is read (noq(8), "The session
	# and the message"): the -v trace shows it done before routing.
	begin "STARTTLS and AUTH PLAIN while the message comes through a pipe"
	cat "$tmp/msg" | $run_timeout "$NOQ" -C "$tmp/plain.policy" -v bob@example.net \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	want_rc 0
	want "the trace's order" "$(grep -e 'SMTP>> STARTTLS' -e 'authenticated with' \
		-e 'routed by' "$tmp/err" | sed 's/.*STARTTLS.*/starttls/; s/.*authenticated.*/auth/;
		s/.*routed by.*/routed/' | paste -sd' ' -)" "starttls auth routed"
	want_seen aio "auth PLAIN alice ok tls
message FROM=<$caller> TO=<bob@example.net> auth=alice tls=yes cert=- sni=-
body hello over TLS"
	want_absent "the password" "$pw" "$tmp/err"
	end

	begin "STARTTLS verified, AUTH LOGIN: delivered, both answers redacted"
	conf login "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
  hosts_require_auth = *

begin authenticators

login:
  driver = plaintext
  public_name = LOGIN
  client_send = : $user : \${readfile{$tmp/secret}{}}
EOF
	send login "$tmp/msg" -v bob@example.net
	want_rc 0
	want_seen aio "auth LOGIN alice ok tls
message FROM=<$caller> TO=<bob@example.net> auth=alice tls=yes cert=- sni=-
body hello over TLS"
	want_line "noq: -v: SMTP>> AUTH LOGIN"
	want "redacted answers" "$(grep -cx 'noq: -v: SMTP>> <redacted>' "$tmp/err")" 2
	want_absent "the password" "$pw" "$tmp/err"
	want_absent "the password in base64" "$pw_b64" "$tmp/err"
	want_absent "the user in base64" "$user_b64" "$tmp/err"
	end

	# client_condition: the first authenticator's is false, so PLAIN, the
	# second, is used (as in Exim, which skips it before the mechanisms).
	begin "client_condition false: LOGIN skipped, AUTH PLAIN used"
	conf cond "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_auth = *

begin authenticators

login:
  driver = plaintext
  public_name = LOGIN
  client_condition = \${if eq{\$sender_address}{nobody@example.org}{yes}{no}}
  client_send = : $user : \${readfile{$tmp/secret}{}}

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/secret}{}}
EOF
	send cond "$tmp/msg" -v bob@example.net
	want_rc 0
	want_seen aio "auth PLAIN alice ok tls
message FROM=<$caller> TO=<bob@example.net> auth=alice tls=yes cert=- sni=-
body hello over TLS"
	want_line "noq: -v: skipping login authenticator: client_condition is false"
	want_line "noq: -v: SMTP>> AUTH PLAIN <redacted>"
	end

	# aiosmtpd's own verdict, not a scripted one.
	begin "AUTH PLAIN with the wrong password: refused, nothing sent"
	conf wrongpw "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_auth = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/wrong}{}}
EOF
	send wrongpw "$tmp/msg" bob@example.net
	want_rc 1
	want_err "$H: authentication failed: 535 5.7.8 Authentication credentials invalid; nothing was sent"
	want_seen aio "auth PLAIN alice refused tls"
	end

	begin "tls_sni: the name is sent; none by default for an IP literal"
	conf sni "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  tls_sni = smtp.example.net
EOF
	send sni "$tmp/msg" bob@example.net
	want_rc 0
	want_err ""
	want_seen aio "message FROM=<$caller> TO=<bob@example.net> auth=- tls=yes cert=- sni=smtp.example.net
body hello over TLS"
	end

	begin "a host name: verified by name, and sent as SNI"
	conf byname "localhost:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
EOF
	send byname "$tmp/msg" -v bob@example.net
	want_rc 0
	want_match "TLS trace" "$(grep '^noq: -v: TLS: ' "$tmp/err")" \
		"noq: -v: TLS: TLS1.[23] *, verified, CN=localhost"
	want_seen aio "message FROM=<$caller> TO=<bob@example.net> auth=- tls=yes cert=- sni=localhost
body hello over TLS"
	end

	stop aio
else
	skip "AUTH PLAIN and LOGIN (aiosmtpd)" "python3-aiosmtpd is not installed"
fi

# ---- 2. implicit TLS --------------------------------------------------------

begin "protocol = smtps: TLS from the first octet, delivered"
tfault srv server implicit
conf smtps "127.0.0.1:$port" <<EOF
  protocol = smtps
  tls_verify_certificates = $ca
EOF
send smtps "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.tls implicit
want_x srv 1.verbs "EHLO MAIL RCPT DATA QUIT"
want_x srv 1.accepted true
want "the body's last line" "$(x srv 1.body | tail -n 1 | tr -d '\r')" "hello over TLS"
end

begin "protocol = smtps against a certificate of another name: nothing sent"
tfault srv wrongname implicit
conf smtps2 "127.0.0.1:$port" <<EOF
  protocol = smtps
  tls_verify_certificates = $ca
EOF
send smtps2 "$tmp/msg" bob@example.net
# noq has gone when faultsrv may still be reading its alert: wait for the
# server to record the connection's end before stopping it (else it ends
# as "terminated", as it did once under distcheck on a loaded machine).
_n=0
while [ "$(x srv 1.ended)" = "(none)" ] && [ $_n -lt 200 ]; do
	sleep 0.05
	_n=$((_n + 1))
done
stop srv
want_rc 1
want_err "$H: TLS session not started: certificate verify failed: IP address mismatch (the certificate is for other.example.org, www.other.example.org, *.wild.example.org, f*.partial.example.org)"
want_match "server's end" "$(x srv 1.ended)" "tls-failed: *"
want_x srv 1.bytes_received 0
end

# ---- 3. verification failures -----------------------------------------------

# verify_fails NAME CERT CA-OPTION TEXT: STARTTLS to a server with CERT
# fails verification with TEXT; nothing follows STARTTLS.
verify_fails() {
	begin "$1"
	tfault srv "$2" starttls
	conf verify "127.0.0.1:$port" <<EOF
  $3
  hosts_require_tls = *
EOF
	send verify "$tmp/msg" bob@example.net
	stop srv
	want_rc 1
	want_err "$H: TLS session not started: certificate verify failed: $4"
	want_tls_only srv
	want_match "server's end" "$(x srv 1.ended)" "tls-failed: *"
	end
}

verify_fails "a certificate for another name" wrongname "tls_verify_certificates = $ca" \
	"IP address mismatch (the certificate is for other.example.org, www.other.example.org, *.wild.example.org, f*.partial.example.org)"
verify_fails "an unknown CA (the system's store)" server "" \
	"unable to get local issuer certificate (issuer CN=noq test CA)"
verify_fails "another CA than tls_verify_certificates" server \
	"tls_verify_certificates = $certs/ca2.pem" \
	"unable to get local issuer certificate (issuer CN=noq test CA)"
verify_fails "an expired certificate" expired "tls_verify_certificates = $ca" \
	"certificate has expired"
verify_fails "a self-signed certificate" selfsigned "tls_verify_certificates = $ca" \
	"self-signed certificate"

begin "a host name the certificate does not name"
tfault srv wrongname starttls
conf vname "localhost:$port" <<EOF
  tls_verify_certificates = $ca
EOF
send vname "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "Delivery failed: H=localhost [127.0.0.1]: TLS session not started: certificate verify failed: hostname mismatch (the certificate is for other.example.org, www.other.example.org, *.wild.example.org, f*.partial.example.org)"
want_tls_only srv
end

begin "tls_verify_cert_hostnames leaving the host out: the name is not checked"
tfault srv wrongname starttls
conf vnames "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  tls_verify_cert_hostnames = 192.0.2.1
EOF
send vnames "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.tls starttls
want_x srv 1.accepted true
end

# A CRL from the test CA, first empty, then revoking server.pem.
crl() {
	mkdir "$tmp/crl" &&
		cat >"$tmp/crl/ca.cnf" <<EOF &&
[ca]
default_ca = test_ca
[test_ca]
database = $tmp/crl/index.txt
certificate = $ca
private_key = $certs/ca.key
crlnumber = $tmp/crl/number
default_md = sha256
default_crl_days = 30
EOF
		: >"$tmp/crl/index.txt" &&
		echo 01 >"$tmp/crl/number" &&
		openssl ca -batch -config "$tmp/crl/ca.cnf" -gencrl -out "$tmp/crl/empty.pem" &&
		openssl ca -batch -config "$tmp/crl/ca.cnf" -revoke "$certs/server.pem" &&
		openssl ca -batch -config "$tmp/crl/ca.cnf" -gencrl -out "$tmp/crl/revoked.pem"
}
if crl >"$tmp/crl.log" 2>&1; then
	begin "tls_crl, the certificate not revoked: delivered"
	tfault srv server starttls
	conf crl1 "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  tls_crl = $tmp/crl/empty.pem
EOF
	send crl1 "$tmp/msg" bob@example.net
	stop srv
	want_rc 0
	want_err ""
	want_x srv 1.accepted true
	end

	begin "tls_crl revoking the server's certificate: refused"
	tfault srv server starttls
	conf crl2 "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  tls_crl = $tmp/crl/revoked.pem
EOF
	send crl2 "$tmp/msg" bob@example.net
	stop srv
	want_rc 1
	want_err "$H: TLS session not started: certificate verify failed: certificate revoked"
	want_tls_only srv
	end
else
	fail "tls_crl" "openssl could not make the CRLs"
	show "$tmp/crl.log"
fi

# Files and settings that can only be tried at send time: each failure is
# noq's, after the server's 220 to STARTTLS, and nothing follows.
# tls_conf_fails NAME TEXT <OPTIONS
tls_conf_fails() {
	begin "$1"
	tfault srv server starttls
	conf tlsconf "127.0.0.1:$port"
	send tlsconf "$tmp/msg" bob@example.net
	stop srv
	want_rc 1
	want_err "$H: TLS session not started: $2"
	want_tls_only srv
	end
}
tls_conf_fails "tls_verify_certificates names no file" \
	"cannot load the trusted certificates from $certs/none.pem: No such file or directory" <<EOF
  tls_verify_certificates = $certs/none.pem
EOF
tls_conf_fails "tls_require_ciphers matches no cipher" \
	'tls_require_ciphers "NO-SUCH-CIPHER": no cipher match' <<EOF
  tls_verify_certificates = $ca
  tls_require_ciphers = NO-SUCH-CIPHER
EOF
tls_conf_fails "tls_privatekey names no file" \
	"cannot use the client key $certs/none.key: No such file or directory" <<EOF
  tls_verify_certificates = $ca
  tls_certificate = $certs/client.pem
  tls_privatekey = $certs/none.key
EOF
tls_conf_fails "tls_privatekey does not match tls_certificate" \
	"the client key $certs/server.key does not match the certificate $certs/client.pem" <<EOF
  tls_verify_certificates = $ca
  tls_certificate = $certs/client.pem
  tls_privatekey = $certs/server.key
EOF

# Opportunistic STARTTLS (no hosts_require_tls) is still verified, and a
# failure does not fall back to clear text.
# tls_verify_certificates naming a hashed directory (c_rehash): noq tells a
# directory from a file when the session is set up (with the setgid group,
# when installed so: tests/package.sh checks that case).
cadir=$certs/cadir
mkdir -p "$cadir" && cp "$ca" "$cadir/" &&
	ln -sf ca.pem "$cadir/$(openssl x509 -hash -noout -in "$ca").0" || exit 99
begin "tls_verify_certificates: a hashed directory verifies"
tfault srv server starttls
conf cadir "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $cadir
  hosts_require_tls = *
EOF
send cadir "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.accepted true
end

begin "STARTTLS offered, not required, verification fails: no clear-text retry"
tfault srv selfsigned starttls
conf opp "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
EOF
send opp "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: TLS session not started: certificate verify failed: self-signed certificate"
want_tls_only srv
end

# ---- 4. relaxed verification ------------------------------------------------

begin "tls_try_verify_hosts = *: a self-signed certificate is taken"
tfault srv selfsigned starttls
conf relax "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
  tls_try_verify_hosts = *
EOF
send relax "$tmp/msg" -v bob@example.net
stop srv
want_rc 0
want_match "TLS trace" "$(grep '^noq: -v: TLS: ' "$tmp/err")" "noq: -v: TLS: TLS1.[23] *"
want_absent "a verified session" ", verified" "$tmp/err"
want_x srv 1.tls starttls
want_x srv 1.verbs "EHLO STARTTLS EHLO MAIL RCPT DATA QUIT"
want_x srv 1.accepted true
end

begin "tls_try_verify_hosts and tls_verify_hosts = *: verified after all"
tfault srv selfsigned starttls
conf relax2 "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  tls_try_verify_hosts = *
  tls_verify_hosts = *
EOF
send relax2 "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: TLS session not started: certificate verify failed: self-signed certificate"
want_tls_only srv
end

# An unverified session is no place for a password.
begin "tls_try_verify_hosts: AUTH PLAIN refused over the unverified session"
tfault srv selfsigned starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN"
conf relax3 "127.0.0.1:$port" <<EOF
  tls_try_verify_hosts = *
  hosts_require_auth = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/secret}{}}
EOF
send relax3 "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: PLAIN would send the password without a verified TLS session; noq refuses (see noq.conf(5), client_allow_cleartext); nothing was sent"
want_x srv 1.verbs "EHLO STARTTLS EHLO QUIT"
want_absent "the PLAIN response" "$plain_b64" "$tmp/srv/t"
end

# ---- 5. pins ----------------------------------------------------------------

pin=$(cat "$certs/server.pin")
pin_hex=$(cat "$certs/server.pin.hex")
# The self-signed certificate's pin, computed as mkcerts.sh does.
ss_pin=$(openssl x509 -in "$certs/selfsigned.pem" -pubkey -noout |
	openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | openssl base64 -A)

begin "tls_pin_sha256 matches (sha256/ base64): delivered"
tfault srv server starttls
conf pin "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  tls_pin_sha256 = sha256/$ss_pin : sha256/$pin
EOF
send pin "$tmp/msg" -v bob@example.net
stop srv
want_rc 0
want_match "TLS trace" "$(grep '^noq: -v: TLS: ' "$tmp/err")" \
	"noq: -v: TLS: TLS1.[23] *, verified, pinned, CN=localhost"
want_x srv 1.accepted true
end

# A pin stands in for the CA: the self-signed certificate, relaxed, pinned.
begin "tls_pin_sha256 matches (hex) a self-signed certificate: delivered"
tfault srv selfsigned starttls
ss_hex=$(openssl x509 -in "$certs/selfsigned.pem" -pubkey -noout |
	openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | od -An -v -tx1 |
	tr -d ' \n')
conf pinhex "127.0.0.1:$port" <<EOF
  tls_try_verify_hosts = *
  tls_pin_sha256 = $ss_hex
EOF
send pinhex "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.accepted true
end

begin "tls_pin_sha256 does not match: refused, the server's pin named"
tfault srv server starttls
conf nopin "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
  tls_pin_sha256 = $ss_pin
EOF
send nopin "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: TLS session not started: the server's public key matches no tls_pin_sha256 pin (it is sha256/$pin)"
want_tls_only srv
end

begin "tls_pin_sha256 in hex does not match: refused"
tfault srv selfsigned starttls
conf nopin2 "127.0.0.1:$port" <<EOF
  tls_try_verify_hosts = *
  tls_pin_sha256 = $pin_hex
EOF
send nopin2 "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: TLS session not started: the server's public key matches no tls_pin_sha256 pin (it is sha256/$ss_pin)"
want_tls_only srv
end

# ---- 6. client certificates -------------------------------------------------

if $have_aio; then
	aio cc --client-ca "$ca"

	begin "client certificate required: given, delivered"
	conf cc "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
  tls_certificate = $certs/client.pem
  tls_privatekey = $certs/client.key
EOF
	send cc "$tmp/msg" bob@example.net
	want_rc 0
	want_err ""
	want_seen cc "message FROM=<$caller> TO=<bob@example.net> auth=- tls=yes cert=noq test client sni=-
body hello over TLS"
	end

	# TLS 1.3: the server refuses after the client's part of the
	# handshake, so noq learns of it on the first read, after its EHLO.
	# asyncio's TLS closes without an alert, at once: a FIN, or a reset
	# when the EHLO arrived first (a race: under sanitizers noq is slower).
	# test_tls checks the alert from a server that sends it.
	begin "client certificate required: none given, nothing delivered"
	conf nocc "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
EOF
	send nocc "$tmp/msg" bob@example.net
	want_rc 1
	want_either "standard error" "$(cat "$tmp/err")" \
		"$H: Remote host closed connection in response to EHLO mail.example.org" \
		"$H: SMTP protocol error in response to EHLO mail.example.org: TLS: TLS read failed: Connection reset by peer"
	want_seen cc ""
	end

	stop cc
else
	skip "client certificates (aiosmtpd)" "python3-aiosmtpd is not installed"
fi

# ---- 7, 8. STARTTLS injection, STARTTLS required, avoided, refused ----------

begin "STARTTLS injection: refused, nothing else sent"
tfault srv server starttls 'starttls: raw "220 ready\r\n250 injected\r\n"'
conf inject "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
EOF
send inject "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: the server sent more after its reply to STARTTLS (a STARTTLS injection?); nothing was sent"
want_x srv 1.verbs "EHLO STARTTLS"
want_x srv 1.plaintext_after_starttls ""
want_x srv 1.data_sent false
want_x srv 2.n "(none)"
end

begin "hosts_require_tls, STARTTLS not offered: nothing sent"
tfault srv server starttls "ehlo-extensions: PIPELINING 8BITMIME AUTH=PLAIN"
conf reqtls "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
EOF
send reqtls "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: the policy requires TLS (hosts_require_tls) and the server does not offer STARTTLS; nothing was sent"
want_x srv 1.verbs "EHLO QUIT"
want_x srv 1.data_sent false
end

begin "hosts_require_tls = +loopback (a named host list): nothing sent"
tfault srv server starttls "ehlo-extensions: PIPELINING 8BITMIME AUTH=PLAIN"
conf reqnamed "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = +loopback
EOF
send reqnamed "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: the policy requires TLS (hosts_require_tls) and the server does not offer STARTTLS; nothing was sent"
want_x srv 1.verbs "EHLO QUIT"
end

begin "hosts_require_tls = ! +loopback : *: not required here, delivered"
tfault srv server starttls "ehlo-extensions: PIPELINING 8BITMIME AUTH=PLAIN"
conf reqnot "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = ! +loopback : *
EOF
send reqnot "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "EHLO MAIL RCPT DATA QUIT"
want_x srv 1.tls none
end

begin "hosts_require_tls, STARTTLS refused (454): nothing sent"
tfault srv server starttls "starttls: 454 4.7.0 TLS not available due to local problem"
conf reqtls2 "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
EOF
send reqtls2 "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: SMTP error from remote mail server after STARTTLS: 454 4.7.0 TLS not available due to local problem"
want_x srv 1.verbs "EHLO STARTTLS QUIT"
want_x srv 1.data_sent false
end

begin "STARTTLS refused (454), not required: delivered in clear"
tfault srv server starttls "starttls: 454 4.7.0 TLS not available due to local problem"
conf opt454 "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
EOF
send opt454 "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "EHLO STARTTLS MAIL RCPT DATA QUIT"
want_x srv 1.tls none
want_x srv 1.accepted true
end

begin "hosts_avoid_tls: STARTTLS offered, not used"
tfault srv server starttls
conf avoid "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_avoid_tls = 127.0.0.1
EOF
send avoid "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "EHLO MAIL RCPT DATA QUIT"
want_x srv 1.tls none
end

begin "hosts_require_tls wins over hosts_avoid_tls"
tfault srv server starttls
conf avoid2 "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_avoid_tls = *
  hosts_require_tls = *
EOF
send avoid2 "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "EHLO STARTTLS EHLO MAIL RCPT DATA QUIT"
want_x srv 1.tls starttls
end

# What EHLO said before TLS is forgotten: the second EHLO offers no AUTH
# here, so there is none, though the first one offered it.
begin "after STARTTLS the first EHLO's extensions are forgotten"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN" \
	"tls-ehlo-extensions: PIPELINING"
conf forget "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_auth = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/secret}{}}
EOF
send forget "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: the server offers no mechanism the authenticators use (it offers: none); nothing was sent"
want_x srv 1.verbs "EHLO STARTTLS EHLO QUIT"
end

# ---- 9. AUTH refused --------------------------------------------------------

plain_auth() {
	cat <<EOF
  tls_verify_certificates = $ca
  $1 = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/secret}{}}
EOF
}

begin "AUTH refused (535), hosts_require_auth: nothing sent"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN" \
	"auth: 535 5.7.8 bad credentials"
plain_auth hosts_require_auth | conf auth535 "127.0.0.1:$port"
send auth535 "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: 535 5.7.8 bad credentials; nothing was sent"
want_x srv 1.verbs "EHLO STARTTLS EHLO AUTH QUIT"
want_x srv 1.commands.4.args "PLAIN $plain_b64"
want_x srv 1.commands.4.tls true
want_x srv 1.data_sent false
end

begin "AUTH refused (535), hosts_try_auth: delivered without"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN" \
	"auth: 535 5.7.8 bad credentials"
plain_auth hosts_try_auth | conf try535 "127.0.0.1:$port"
send try535 "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "EHLO STARTTLS EHLO AUTH MAIL RCPT DATA QUIT"
want_x srv 1.accepted true
end

begin "hosts_require_auth, no AUTH offered: nothing sent"
tfault srv server starttls
plain_auth hosts_require_auth | conf noauth "127.0.0.1:$port"
send noauth "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: the server offers no mechanism the authenticators use (it offers: none); nothing was sent"
want_x srv 1.verbs "EHLO STARTTLS EHLO QUIT"
end

# The list of mechanisms is quoted when none fits: a server cannot send
# escape sequences to the caller's terminal through it.
begin "the mechanisms offered are quoted cleaned"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS" \
	"tls-ehlo-extensions: PIPELINING AUTH=X$(printf '\033]0;pwned\007\033[2J')"
plain_auth hosts_require_auth | conf hostileauth "127.0.0.1:$port"
send hostileauth "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: the server offers no mechanism the authenticators use (it offers: X?]0;pwned??[2J); nothing was sent"
end

# ---- 10. no password in clear -----------------------------------------------

begin "AUTH PLAIN without TLS: refused, the password never sent"
tfault srv - starttls "ehlo-extensions: PIPELINING AUTH=PLAIN,LOGIN"
conf clear "127.0.0.1:$port" <<EOF
  hosts_require_auth = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/secret}{}}
EOF
send clear "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: PLAIN would send the password without a verified TLS session; noq refuses (see noq.conf(5), client_allow_cleartext); nothing was sent"
want_x srv 1.verbs "EHLO QUIT"
want_absent "the PLAIN response" "$plain_b64" "$tmp/srv/t"
want_absent "the password" "$pw" "$tmp/srv/t"
want_absent "the password in base64" "$pw_b64" "$tmp/srv/t"
end

begin "AUTH LOGIN without TLS: refused, the password never sent"
tfault srv - starttls "ehlo-extensions: PIPELINING AUTH=PLAIN,LOGIN"
conf clear2 "127.0.0.1:$port" <<EOF
  hosts_require_auth = *

begin authenticators

login:
  driver = plaintext
  public_name = LOGIN
  client_send = : $user : \${readfile{$tmp/secret}{}}
EOF
send clear2 "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: LOGIN would send the password without a verified TLS session; noq refuses (see noq.conf(5), client_allow_cleartext); nothing was sent"
want_x srv 1.verbs "EHLO QUIT"
want_absent "the user in base64" "$user_b64" "$tmp/srv/t"
want_absent "the password in base64" "$pw_b64" "$tmp/srv/t"
end

begin "client_allow_cleartext = true: AUTH PLAIN sent without TLS"
tfault srv - starttls "ehlo-extensions: PIPELINING AUTH=PLAIN,LOGIN"
conf clearok "127.0.0.1:$port" <<EOF
  hosts_require_auth = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/secret}{}}
  client_allow_cleartext = true
EOF
send clearok "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "EHLO AUTH MAIL RCPT DATA QUIT"
want_x srv 1.commands.2.args "PLAIN $plain_b64"
want_x srv 1.commands.2.tls false
want_x srv 1.accepted true
end

# ---- 11. OAuth 2 ------------------------------------------------------------

oauth_conf() {
	cat <<EOF
  tls_verify_certificates = $ca
  hosts_require_auth = *

begin authenticators

oauth:
  driver = oauth2
  mechanism = $1
  client_username = $user
  client_token_command = $2
EOF
}

begin "XOAUTH2: the token command's token, as user=...^Aauth=Bearer ...^A^A"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=XOAUTH2"
rm -f "$tmp/token.args"
oauth_conf xoauth2 "$tmp/token.sh --scope 'smtp imap' \$HOME \"a\\\"b\"" |
	conf xoauth "127.0.0.1:$port"
send xoauth "$tmp/msg" -v bob@example.net
stop srv
want_rc 0
want_x srv 1.verbs "EHLO STARTTLS EHLO AUTH MAIL RCPT DATA QUIT"
want_x srv 1.commands.4.args "XOAUTH2 $(b64 "user=$user\\x01auth=Bearer $token\\x01\\x01")"
want_x srv 1.commands.4.tls true
want_x srv 1.accepted true
# Run without a shell: quotes make words, "$HOME" is not expanded.
want_file "the token command's arguments" "$tmp/token.args" "--scope
smtp imap
\$HOME
a\"b"
want_line "noq: -v: SMTP>> AUTH XOAUTH2 <redacted>"
want_absent "the token" "$token" "$tmp/err"
end

begin "the token command fails: its message, nothing sent"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=XOAUTH2"
oauth_conf xoauth2 "$tmp/token-fails.sh" | conf tokfail "127.0.0.1:$port"
send tokfail "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authenticator oauth: token command $tmp/token-fails.sh exited with status 3: token endpoint unreachable; nothing was sent"
want_x srv 1.verbs "EHLO STARTTLS EHLO QUIT"
end

begin "the token command does not exist: nothing sent"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=XOAUTH2"
oauth_conf xoauth2 "$tmp/no-such-command" | conf tokmissing "127.0.0.1:$port"
send tokmissing "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authenticator oauth: cannot run token command $tmp/no-such-command: No such file or directory; nothing was sent"
want_x srv 1.verbs "EHLO STARTTLS EHLO QUIT"
end

if $have_aio; then
	aio aio
	for mech in xoauth2 oauthbearer; do
		MECH=$(echo "$mech" | tr "[:lower:]" "[:upper:]")
		begin "$MECH checked by the server: delivered"
		oauth_conf "$mech" "$tmp/token.sh" | conf "$mech" "127.0.0.1:$port"
		send "$mech" "$tmp/msg" bob@example.net
		want_rc 0
		want_err ""
		want_seen aio "auth $MECH alice ok tls
message FROM=<$caller> TO=<bob@example.net> auth=alice tls=yes cert=- sni=-
body hello over TLS"
		end
	done

	# The server's error challenge, noq's empty answer, then 535.
	begin "XOAUTH2 with a token the server refuses: nothing sent"
	printf '#!/bin/sh\necho expired-token\n' >"$tmp/token-bad.sh"
	chmod 755 "$tmp/token-bad.sh"
	oauth_conf xoauth2 "$tmp/token-bad.sh" | conf badtok "127.0.0.1:$port"
	send badtok "$tmp/msg" bob@example.net
	want_rc 1
	want_err "$H: authentication failed: 535 5.7.8 Authentication credentials invalid; nothing was sent"
	want_seen aio "auth XOAUTH2 alice refused tls"
	end
	stop aio
fi

# ---- 12. CRAM-MD5 -----------------------------------------------------------

cram_conf() {
	cat <<EOF
  tls_verify_certificates = $ca
  hosts_require_auth = *

begin authenticators

cram:
  driver = cram_md5
  client_name = $user
  client_secret = \${readfile{$1}{}}
${2:-}
EOF
}

# The CRAM-MD5 response to challenge $1, as the server computes it.
cram_response() {
	"$PY" -c 'import base64, hmac, sys
d = hmac.new(sys.argv[2].encode(), sys.argv[3].encode(), "md5").hexdigest()
print(base64.b64encode((sys.argv[1] + " " + d).encode()).decode())' "$user" "$pw" "$1"
}

# Without TLS, CRAM-MD5 would hand whoever strips STARTTLS the HMAC of the
# password over a challenge of their choosing: refused like a password.
begin "CRAM-MD5 without TLS: refused, nothing sent"
tfault srv - starttls "ehlo-extensions: PIPELINING AUTH=CRAM-MD5"
cram_conf "$tmp/secret" | conf cramclear "127.0.0.1:$port"
send cramclear "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: CRAM-MD5 without a verified TLS session would let whoever is in between guess the password offline; noq refuses (see noq.conf(5), client_allow_cleartext); nothing was sent"
want_x srv 1.verbs "EHLO QUIT"
end

scram_conf() {
	cat <<EOF
  tls_verify_certificates = $ca
  hosts_require_auth = *

begin authenticators

scram:
  driver = scram_sha_256
  client_username = $user
  client_password = \${readfile{$1}{}}
EOF
}

begin "SCRAM-SHA-256 without TLS: refused, nothing sent"
tfault srv - starttls "ehlo-extensions: PIPELINING AUTH=SCRAM-SHA-256"
scram_conf "$tmp/secret" | conf scramclear "127.0.0.1:$port"
send scramclear "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: SCRAM-SHA-256 without a verified TLS session would let whoever is in between guess the password offline; noq refuses (see noq.conf(5), client_allow_cleartext); nothing was sent"
want_x srv 1.verbs "EHLO QUIT"
end

# faultsrv's challenge is <1.CONNECTION@HOSTNAME>.
begin "CRAM-MD5 with client_allow_cleartext: the response to faultsrv's challenge"
tfault srv - starttls "ehlo-extensions: PIPELINING AUTH=CRAM-MD5"
cram_conf "$tmp/secret" "  client_allow_cleartext = true" | conf cram "127.0.0.1:$port"
send cram "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "EHLO AUTH MAIL RCPT DATA QUIT"
want_x srv 1.commands.2.args "CRAM-MD5"
want_x srv 1.commands.3.args "$(cram_response "<1.1@faultsrv.test>")"
want_x srv 1.accepted true
want_absent "the password" "$pw" "$tmp/srv/t"
end

# The challenge is decoded from the 334 as sent, not from the text kept
# for messages (cut at 1024 octets): a 1,600-octet one works.
longhost=$(printf 'h%.0s' $(seq 1 1150)).test
begin "CRAM-MD5: a challenge of 1,600 octets in base64"
tfault srv - starttls "ehlo-extensions: PIPELINING AUTH=CRAM-MD5" "hostname: $longhost"
cram_conf "$tmp/secret" "  client_allow_cleartext = true" | conf cramlong "127.0.0.1:$port"
send cramlong "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.commands.3.args "$(cram_response "<1.1@$longhost>")"
want_x srv 1.accepted true
end

# When several authenticators are tried, the reason given is the one that
# went furthest: here the server's 535 to PLAIN, not that it does not offer
# CRAM-MD5, which the second authenticator would use.
begin "two authenticators: the server's refusal is the reason given"
tfault srv - starttls "ehlo-extensions: PIPELINING AUTH=PLAIN" \
	"auth: 535 5.7.8 bad credentials"
conf tworeasons "127.0.0.1:$port" <<EOF
  hosts_require_auth = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/secret}{}}
  client_allow_cleartext = true

cram:
  driver = cram_md5
  client_name = $user
  client_secret = \${readfile{$tmp/secret}{}}
EOF
send tworeasons "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authentication failed: 535 5.7.8 bad credentials; nothing was sent"
want_x srv 1.verbs "EHLO AUTH QUIT"
end

if $have_aio; then
	aio aio

	begin "CRAM-MD5 checked by the server: delivered"
	cram_conf "$tmp/secret" | conf cram2 "127.0.0.1:$port"
	send cram2 "$tmp/msg" bob@example.net
	want_rc 0
	want_err ""
	want_seen aio "auth CRAM-MD5 alice ok tls
message FROM=<$caller> TO=<bob@example.net> auth=alice tls=yes cert=- sni=-
body hello over TLS"
	end

	begin "CRAM-MD5 with the wrong secret: refused"
	cram_conf "$tmp/wrong" | conf cram3 "127.0.0.1:$port"
	send cram3 "$tmp/msg" bob@example.net
	want_rc 1
	want_err "$H: authentication failed: 535 5.7.8 Authentication credentials invalid; nothing was sent"
	want_seen aio "auth CRAM-MD5 alice refused tls"
	end

	# ---- 14. SCRAM-SHA-256 (aiosrv.py implements the server side) -------

	begin "SCRAM-SHA-256: both proofs checked, delivered"
	scram_conf "$tmp/secret" | conf scram "127.0.0.1:$port"
	send scram "$tmp/msg" -v bob@example.net
	want_rc 0
	want_seen aio "auth SCRAM-SHA-256 alice ok tls
message FROM=<$caller> TO=<bob@example.net> auth=alice tls=yes cert=- sni=-
body hello over TLS"
	want_line "noq: -v: SMTP>> AUTH SCRAM-SHA-256 <redacted>"
	want_line "noq: -v: authenticated with SCRAM-SHA-256"
	end

	begin "SCRAM-SHA-256 with the wrong password: refused by the server"
	scram_conf "$tmp/wrong" | conf scram2 "127.0.0.1:$port"
	send scram2 "$tmp/msg" bob@example.net
	want_rc 1
	want_err "$H: authentication failed: 535 5.7.8 Authentication credentials invalid; nothing was sent"
	want_seen aio "auth SCRAM-SHA-256 alice refused tls"
	end
	stop aio

	begin "SCRAM-SHA-256: a server that does not know the password is refused"
	aio aio --scram-wrong-signature
	scram_conf "$tmp/secret" | conf scram3 "127.0.0.1:$port"
	send scram3 "$tmp/msg" bob@example.net
	want_rc 1
	want_err "$H: authentication failed: SCRAM-SHA-256: the server's signature is wrong: it does not know the password; nothing was sent"
	want_seen aio "auth SCRAM-SHA-256 alice refused tls"
	end
	stop aio
else
	skip "CRAM-MD5, SCRAM-SHA-256 and OAuth checked by a server" \
		"python3-aiosmtpd is not installed (SCRAM-SHA-256: see test_auth's RFC 7677 vector)"
fi

# ---- 13. secret files -------------------------------------------------------

begin "a secret file readable by others: refused with the chmod hint, nothing sent"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN"
conf open "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_auth = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/open}{}}
EOF
send open "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authenticator plain: client_send item 1: secret file $tmp/open is readable by others (mode 0644); run chmod o-r $tmp/open; nothing was sent"
want_x srv 1.verbs "EHLO STARTTLS EHLO QUIT"
end

begin "a secret file of mode 0640: taken"
chmod 640 "$tmp/open"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN"
# The same configuration, for this server's port.
sed '1,/^  final_timeout/d' "$tmp/open.conf" | conf open2 "127.0.0.1:$port"
send open2 "$tmp/msg" bob@example.net
stop srv
want_rc 0
want_err ""
want_x srv 1.verbs "EHLO STARTTLS EHLO AUTH MAIL RCPT DATA QUIT"
want_x srv 1.commands.4.args "PLAIN $plain_b64"
end

begin "a missing secret file: nothing sent"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN"
conf missing "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_auth = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  client_send = ^$user^\${readfile{$tmp/no-such-secret}{}}
EOF
send missing "$tmp/msg" bob@example.net
stop srv
want_rc 1
want_err "$H: authenticator plain: client_send item 1: cannot open secret file $tmp/no-such-secret: No such file or directory; nothing was sent"
want_x srv 1.verbs "EHLO STARTTLS EHLO QUIT"
end

# ---- 14. noq --serverinfo ----------------------------------------------------

# info POLICY [ARGS...]: noq -C $tmp/POLICY.policy --serverinfo ARGS, with
# nothing on standard input; stdout in $tmp/out, stderr in $tmp/err.
info() {
	ipol=$1
	shift
	send "$ipol" /dev/null --serverinfo "$@"
}

# want_out TEXT: noq's standard output is exactly TEXT (lines).
want_out() { want_file "standard output" "$tmp/out" "$1"; }


# cert_date NAME startdate|enddate: the validity of $certs/NAME.pem as
# openssl reads it, in noq's words.
cert_date() {
	openssl x509 -in "$certs/$1.pem" -noout "-$2" -dateopt iso_8601 |
		sed 's/^[^=]*=//; s/Z$/ UTC/'
}

# cert_pin NAME: the SHA-256 pin of $certs/NAME.pem's public key, made by
# openssl alone.
cert_pin() {
	echo "sha256/$(openssl x509 -in "$certs/$1.pem" -pubkey -noout |
		openssl pkey -pubin -outform der | openssl dgst -sha256 -binary |
		openssl base64 -A)"
}

caps="SIZE 10240000, PIPELINING, 8BITMIME, SMTPUTF8, DSN"
ready="    result:       a message could be sent now (the check stopped before MAIL FROM)"

# plain_block PORT: what --serverinfo shows of faultsrv on PORT without
# TLS, when the policy has no authenticators.
plain_block() {
	cat <<EOF
SMTP server at 127.0.0.1 [127.0.0.1], port $1:
    greeting:     220 faultsrv.test ESMTP faultsrv
    TLS:          none: the server does not offer STARTTLS
    capabilities: $caps
    auth:         not used: the policy has no authenticators
$ready
EOF
}

begin "--serverinfo, a plain server: what it offers, EHLO then QUIT, no MAIL"
tfault srv - starttls
conf si_plain "127.0.0.1:$port" </dev/null
info si_plain
stop srv
want_rc 0
want_err ""
want_out "$(plain_block "$port")"
want_x srv 1.verbs "EHLO QUIT"
want_x srv 1.data_sent false
want_x srv 2.n "(none)"
end

begin "-S, STARTTLS verified: the certificate, its validity and pin"
tfault srv server starttls
conf si_tls "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
  hosts_require_tls = *
EOF
send si_tls /dev/null -S
stop srv
want_rc 0
want_err ""
want_match "TLS line" "$(sed -n 3p "$tmp/out")" \
	"    TLS:          TLS1.[23] *, verified, CN=localhost"
want "the rest" "$(sed 3d "$tmp/out")" "SMTP server at 127.0.0.1 [127.0.0.1], port $port:
    greeting:     220 faultsrv.test ESMTP faultsrv
    certificate:  CN=localhost (localhost, 127.0.0.1)
    issuer:       CN=noq test CA
    valid:        $(cert_date server startdate) to $(cert_date server enddate)
    pin:          $(cert_pin server)
    capabilities: $caps, STARTTLS
    auth:         not used: the policy has no authenticators
$ready"
want_x srv 1.verbs "EHLO STARTTLS EHLO QUIT"
want_x srv 1.tls starttls
end

begin "--serverinfo over smtps: TLS from the first octet"
tfault srv server implicit
conf si_smtps "127.0.0.1:$port" <<EOF
  protocol = smtps
  tls_verify_certificates = $ca
EOF
info si_smtps
stop srv
want_rc 0
want_err ""
want_line_out "    pin:          $(cert_pin server)"
want_line_out "    capabilities: $caps"
want_line_out "$ready"
want_x srv 1.tls implicit
want_x srv 1.verbs "EHLO QUIT"
end

# The reason is a delivery's, word for word, and the certificate that
# failed is shown.
begin "--serverinfo, verification fails: exit 1, a delivery's reason"
tfault srv wrongname starttls
conf si_wrong "127.0.0.1:$port" <<EOF
  tls_verify_certificates = $ca
EOF
send si_wrong "$tmp/msg" bob@example.net
cp "$tmp/err" "$tmp/delivery.err"
info si_wrong
stop srv
want_rc 1
want "the reason" "$(sed 's/^Delivery would fail: //' "$tmp/err")" \
	"$(sed 's/^Delivery failed: //' "$tmp/delivery.err")"
want_err "Delivery would fail: H=127.0.0.1 [127.0.0.1]: TLS session not started: certificate verify failed: IP address mismatch (the certificate is for other.example.org, www.other.example.org, *.wild.example.org, f*.partial.example.org)"
want_out "SMTP server at 127.0.0.1 [127.0.0.1], port $port:
    greeting:     220 faultsrv.test ESMTP faultsrv
    TLS:          not started (the reason follows)
    certificate:  CN=other.example.org (other.example.org, www.other.example.org, *.wild.example.org, f*.partial.example.org)
    issuer:       CN=noq test CA
    valid:        $(cert_date wrongname startdate) to $(cert_date wrongname enddate)
    pin:          $(cert_pin wrongname)
    capabilities: $caps, STARTTLS"
want_x srv 2.verbs "EHLO STARTTLS"
want_x srv 3.n "(none)"
end

begin "--serverinfo -v, AUTH PLAIN succeeds: said, the secret never shown"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN,LOGIN"
plain_auth hosts_require_auth | conf si_auth "127.0.0.1:$port"
info si_auth -v
stop srv
want_rc 0
want_line_out "    capabilities: PIPELINING, STARTTLS, AUTH PLAIN LOGIN"
want_line_out "    auth:         PLAIN with authenticator 'plain': succeeded"
want_line_out "$ready"
want_line "noq: -v: SMTP>> AUTH PLAIN <redacted>"
want_line "noq: -v: SMTP>> QUIT"
want_x srv 1.verbs "EHLO STARTTLS EHLO AUTH QUIT"
want_x srv 1.commands.4.args "PLAIN $plain_b64"
for f in "$tmp/out" "$tmp/err"; do
	want_absent "the password" "$pw" "$f"
	want_absent "the PLAIN response" "$plain_b64" "$f"
	want_absent "the password in base64" "$pw_b64" "$f"
done
end

begin "--serverinfo, AUTH refused (535), hosts_require_auth: exit 1"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN" \
	"auth: 535 5.7.8 bad credentials"
plain_auth hosts_require_auth | conf si_535 "127.0.0.1:$port"
info si_535 -v
stop srv
want_rc 1
want "the last line" "$(tail -n 1 "$tmp/err")" \
	"Delivery would fail: H=127.0.0.1 [127.0.0.1]: authentication failed: 535 5.7.8 bad credentials; nothing was sent"
want_line_out "    auth:         PLAIN with authenticator 'plain': failed: 535 5.7.8 bad credentials"
want_absent "a result" "result:" "$tmp/out"
want_x srv 1.verbs "EHLO STARTTLS EHLO AUTH QUIT"
for f in "$tmp/out" "$tmp/err"; do
	want_absent "the password" "$pw" "$f"
	want_absent "the PLAIN response" "$plain_b64" "$f"
	want_absent "the password in base64" "$pw_b64" "$f"
done
end

begin "--serverinfo, AUTH refused (535), hosts_try_auth: a message would go"
tfault srv server starttls "ehlo-extensions: PIPELINING STARTTLS AUTH=PLAIN" \
	"auth: 535 5.7.8 bad credentials"
plain_auth hosts_try_auth | conf si_try "127.0.0.1:$port"
info si_try
stop srv
want_rc 0
want_err ""
want_line_out "    auth:         PLAIN with authenticator 'plain': failed: 535 5.7.8 bad credentials (hosts_try_auth: a message would go without)"
want_line_out "$ready"
want_x srv 1.verbs "EHLO STARTTLS EHLO AUTH QUIT"
end

begin "--serverinfo, hosts_require_auth and no mechanism fits: exit 1"
tfault srv server starttls
plain_auth hosts_require_auth | conf si_nomech "127.0.0.1:$port"
info si_nomech
stop srv
want_rc 1
want_err "Delivery would fail: H=127.0.0.1 [127.0.0.1]: authentication failed: the server offers no mechanism the authenticators use (it offers: none); nothing was sent"
want_line_out "    auth:         failed: the server offers no mechanism the authenticators use (it offers: none)"
want_x srv 1.verbs "EHLO STARTTLS EHLO QUIT"
end

# A server's words reach the terminal cleaned: no escape sequence.
begin "--serverinfo, escape sequences in the greeting and EHLO: cleaned"
tfault srv - starttls \
	"greeting: 220 evil$(printf '\033]0;pwned\007') ESMTP$(printf '\033[2J')" \
	"ehlo-extensions: PIPELINING AUTH=X$(printf '\033[31m')Y"
conf si_esc "127.0.0.1:$port" </dev/null
info si_esc
stop srv
want_rc 0
want_absent "an escape" "$(printf '\033')" "$tmp/out"
want_absent "a BEL" "$(printf '\007')" "$tmp/out"
want_line_out "    greeting:     220 evil?]0;pwned? ESMTP?[2J"
want_line_out "    capabilities: PIPELINING, AUTH X?[31mY"
end

dead=$(free_port)

begin "--serverinfo, first host refuses, the second is fine: both told, exit 0"
tfault srv - starttls
conf si_next "127.0.0.1:$dead ; 127.0.0.1:$port" </dev/null
info si_next
stop srv
want_rc 0
want_err "noq: Connection refused: H=127.0.0.1 [127.0.0.1]; tried the next host"
want_line_out "SMTP server at 127.0.0.1 [127.0.0.1], port $port:"
want_line_out "$ready"
want_x srv 1.verbs "EHLO QUIT"
end

begin "--serverinfo, first host greets 421, the second is fine: both shown"
tfault srv2 - starttls "greeting: 421 4.3.2 too busy"
port1=$port
tfault srv - starttls
conf si_421 "127.0.0.1:$port1 ; 127.0.0.1:$port" </dev/null
info si_421
stop srv2
stop srv
want_rc 0
want_err "noq: H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after initial connection: 421 4.3.2 too busy; tried the next host"
want_out "SMTP server at 127.0.0.1 [127.0.0.1], port $port1:
    greeting:     421 4.3.2 too busy
$(plain_block "$port")"
want_x srv2 1.verbs "QUIT"
want_x srv 1.verbs "EHLO QUIT"
end

begin "--serverinfo, no host answers: exit 1, a delivery's reason"
conf si_none "127.0.0.1:$dead" </dev/null
info si_none
want_rc 1
want_err "Delivery would fail: Connection refused: H=127.0.0.1 [127.0.0.1]"
want_out ""
end

# A configuration edited but not compiled: the check says which it uses.
begin "--serverinfo, the configuration changed since: the warning says so"
printf '# edited\n' >>"$tmp/si_none.conf"
info si_none
want_rc 1
want_err "noq: warning: the policy $tmp/si_none.policy is older than $tmp/si_none.conf (changed since it was compiled); the check runs under the policy as compiled; recompile it with newaliases, or noqc -o $tmp/si_none.policy $tmp/si_none.conf
Delivery would fail: Connection refused: H=127.0.0.1 [127.0.0.1]"
end

begin "--serverinfo with a recipient or -t: refused"
info si_none bob@example.net
want_rc 1
want_err "noq: --serverinfo takes no recipients: it checks the smart hosts and sends no message
noq: see 'noq --help' or noq(8)"
info si_none -t
want_rc 1
want_line "noq: -t cannot be used with --serverinfo: it reads no message"
end

finish
