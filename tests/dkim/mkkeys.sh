#!/bin/sh
# mkkeys.sh DIR -- the DKIM keys tests/dkim.sh signs with, made with the
# openssl command (OpenSSL 3.0 or later) into DIR, which must exist:
#
#   rsa2048.pem      RSA, 2048 bits: taken without a word
#   rsa2048b.pem     another one, for a second selector
#   rsa2048-pkcs1.pem  rsa2048.pem as PKCS#1 ("RSA PRIVATE KEY")
#   rsa1024.pem      RSA, 1024 bits: taken with a warning
#   rsa512.pem       RSA, 512 bits: refused
#   ed25519.pem      Ed25519 (RFC 8463)
#   ed25519b.pem     another one
#   ecp256.pem       EC P-256: a key DKIM does not sign with (no record)
#   locked.pem       RSA 2048 under the passphrase "secret" (no record)
#
# all PKCS#8 PEM (but the one said) without a passphrase, mode 0600 (a secret file), and for
# each NAME.pem its DNS record NAME.txt (one line, what a TXT lookup of
# SELECTOR._domainkey.DOMAIN gives a verifier):
#
#   v=DKIM1; k=rsa; p=BASE64      the DER SubjectPublicKeyInfo
#   v=DKIM1; k=ed25519; p=BASE64  the raw 32-octet public key (RFC 8463)
#
# Exits non-zero on any failure, with openssl's messages on stderr.
set -eu

dir=${1:?usage: mkkeys.sh DIR}
cd "$dir"
OPENSSL=${OPENSSL:-openssl}
umask 077

# openssl's chatter goes to a log, shown only when something failed.
exec 3>&2 2>mkkeys.log
trap 'st=$?; [ $st -eq 0 ] || { echo "mkkeys.sh: failed in $dir:" >&3; cat mkkeys.log >&3; }' EXIT

b64() { "$OPENSSL" base64 -A; }

# rsa NAME BITS
rsa() {
	"$OPENSSL" genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1.pem"
	printf 'v=DKIM1; k=rsa; p=%s\n' \
		"$("$OPENSSL" pkey -in "$1.pem" -pubout -outform DER | b64)" >"$1.txt"
}

# ed NAME: the public key is the last 32 octets of its SubjectPublicKeyInfo
# (a fixed 12-octet prefix, RFC 8410).
ed() {
	"$OPENSSL" genpkey -algorithm ED25519 -out "$1.pem"
	"$OPENSSL" pkey -in "$1.pem" -pubout -outform DER >"$1.der"
	[ "$(wc -c <"$1.der")" -eq 44 ]
	printf 'v=DKIM1; k=ed25519; p=%s\n' "$(tail -c 32 "$1.der" | b64)" >"$1.txt"
	rm -f "$1.der"
}

rsa rsa2048 2048
rsa rsa2048b 2048
rsa rsa1024 1024
rsa rsa512 512
ed ed25519
ed ed25519b
"$OPENSSL" pkey -in rsa2048.pem -traditional -out rsa2048-pkcs1.pem
cp rsa2048.txt rsa2048-pkcs1.txt
"$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ecp256.pem
"$OPENSSL" pkey -in rsa2048b.pem -aes256 -passout pass:secret -out locked.pem
chmod 600 ./*.pem
chmod 644 ./*.txt
