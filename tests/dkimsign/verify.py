#!/usr/bin/python3
"""verify.py -- check a DKIM-signed message with dkimpy (Debian's
python3-dkim), an implementation independent of noq's.

Usage: verify.py KEYFILE SIGNED-MESSAGE...

The key record that a DNS lookup would return is made from the private key
KEYFILE (PEM): "k=rsa; p=" the DER SubjectPublicKeyInfo, or "k=ed25519;
p=" the raw 32-octet public key, for whatever selector and domain the
signature names.  Exit status 0 when the first signature of every message
verifies, 1 when one does not (its name and dkimpy's reason on standard
error), 77 when dkimpy or the cryptography module is missing.
"""
import base64
import sys

try:
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
except ImportError as e:
    print("verify.py: %s" % e, file=sys.stderr)
    sys.exit(77)


def record(keyfile):
    with open(keyfile, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    pub = key.public_key()
    if isinstance(pub, ed25519.Ed25519PublicKey):
        raw = pub.public_bytes(serialization.Encoding.Raw,
                               serialization.PublicFormat.Raw)
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    der = pub.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def verify(txt, path):
    with open(path, "rb") as f:
        msg = f.read()
    d = dkim.DKIM(msg, minkey=1024)
    try:
        if d.verify(dnsfunc=lambda name, timeout=5: txt):
            return True
        why = "signature does not verify"
    except dkim.DKIMException as e:
        why = str(e)
    print("verify.py: %s: %s" % (path, why), file=sys.stderr)
    return False


def main():
    if len(sys.argv) < 3:
        print("usage: verify.py KEYFILE SIGNED-MESSAGE...", file=sys.stderr)
        return 2
    txt = record(sys.argv[1])
    bad = [p for p in sys.argv[2:] if not verify(txt, p)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
