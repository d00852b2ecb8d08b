#!/bin/sh
# mkcerts.sh DIR -- the certificates test_tls needs, made with the openssl
# command (OpenSSL 3.0 or later) into DIR, which must exist:
#
#   ca.pem ca.key              "noq test CA"
#   ca2.pem ca2.key            "noq other CA", trusted by no test
#   server.pem server.key      CN=localhost, SAN DNS:localhost IP:127.0.0.1,
#                              signed by the CA
#   server.pin server.pin.hex  the SHA-256 of its SubjectPublicKeyInfo,
#                              base64 and hex
#   wrongname.pem .key         CN=other.example.org, SAN DNS:other.example.org
#                              DNS:www.other.example.org DNS:*.wild.example.org
#                              DNS:f*.partial.example.org, signed by the CA
#   expired.pem .key           like server.pem, valid only in January 2020
#   selfsigned.pem .key        CN=localhost, SAN DNS:localhost, self-signed
#   client.pem client.key      CN=noq test client (clientAuth), signed by
#                              the CA
#
# Keys are EC P-256: quick to make.  Exits non-zero on any failure, with
# openssl's messages on stderr.
set -eu

dir=${1:?usage: mkcerts.sh DIR}
cd "$dir"
OPENSSL=${OPENSSL:-openssl}

# openssl's chatter goes to a log, shown only when something failed.
exec 3>&2 2>mkcerts.log
trap 'st=$?; [ $st -eq 0 ] || { echo "mkcerts.sh: failed in $dir:" >&3; cat mkcerts.log >&3; }' EXIT

key() {
	"$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

# ca NAME CN
ca() {
	key "$1.key"
	"$OPENSSL" req -x509 -new -key "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign"
}

# leaf NAME CN EXTENSIONS: a key, a request, and a certificate signed by ca.pem
leaf() {
	key "$1.key"
	"$OPENSSL" req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
	printf '%s\n' "$3" >"$1.ext"
	"$OPENSSL" x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(
		"$OPENSSL" rand -hex 8)" -days 3650 -extfile "$1.ext" -out "$1.pem"
	rm -f "$1.csr" "$1.ext"
}

SERVER_EXT='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1'

ca ca "noq test CA"
ca ca2 "noq other CA"

leaf server localhost "$SERVER_EXT"
leaf wrongname other.example.org 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:other.example.org,DNS:www.other.example.org,DNS:*.wild.example.org,DNS:f*.partial.example.org'
leaf client "noq test client" 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'

# OpenSSL 3.0's "x509 -req" cannot set dates in the past; "ca" can.
key expired.key
"$OPENSSL" req -new -key expired.key -subj "/CN=localhost" -out expired.csr
mkdir -p ca.db
: >ca.db/index.txt
printf '%s\n' "$SERVER_EXT" >expired.ext
cat >ca.db/ca.cnf <<'CNF'
[ca]
default_ca = test_ca
[test_ca]
database = ca.db/index.txt
new_certs_dir = ca.db
serial = ca.db/serial
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
CNF
echo 1000 >ca.db/serial
"$OPENSSL" ca -batch -config ca.db/ca.cnf -notext -in expired.csr -out expired.pem \
	-startdate 20200101000000Z -enddate 20200201000000Z -extfile expired.ext
rm -rf ca.db expired.csr expired.ext

key selfsigned.key
"$OPENSSL" req -x509 -new -key selfsigned.key -out selfsigned.pem -days 3650 \
	-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
	-addext "basicConstraints=critical,CA:FALSE"

# The pin, computed without noq: SHA-256 of the DER SubjectPublicKeyInfo.
"$OPENSSL" x509 -in server.pem -pubkey -noout | "$OPENSSL" pkey -pubin -outform DER |
	"$OPENSSL" dgst -sha256 -binary >server.spki.sha256
"$OPENSSL" base64 -A <server.spki.sha256 >server.pin
echo >>server.pin
od -An -v -tx1 server.spki.sha256 | tr -d ' \n' >server.pin.hex
echo >>server.pin.hex
rm -f server.spki.sha256 mkcerts.log
