#!/usr/bin/python3
"""verify.py -- an independent DKIM verifier for tests/dkim.sh, built on
Debian's python3-dkim (which noq does not use), with the helpers that
check the verifier itself and alter signed messages.

  verify.py verify --dns ZONE [--show TAGS] [--top N] MESSAGE
      Verify every DKIM-Signature field of MESSAGE (topmost first) against
      the keys in ZONE, and print one line per signature:

        sig 1: pass d=example.org s=sel a=rsa-sha256 c=relaxed/relaxed

      the result being "pass", "fail-bh" (the body hash differs), "fail-b"
      (the signature does not verify) or "error" (the message, signature
      or key is malformed), followed by the tags of --show (a comma list,
      in that order; "-" when a tag is absent):
        i, q, l      as in the field;
        h            as in the field, white space removed;
        hs           the names of h=, lowercased, sorted, ':'-separated
                     (the order of h= is the signer's choice);
        t            "now" when within an hour of this verifier's clock,
                     else the number;
        x            "t+N" (x= less t=), or the number without t=.
      The reason of a failure goes to standard error.  The wire format is
      checked too: every line must end with CR LF, and every
      DKIM-Signature field must come before all other fields (with --top
      N: the first N fields must be DKIM-Signature fields, for a message
      that was signed before); a breach is reported on a "FAIL:" line.  Without any DKIM-Signature field it
      prints "no DKIM-Signature field".  Exit 0 when every signature
      passed and the checks held, 1 otherwise, 2 for a usage error.

      ZONE has one line per key: "SELECTOR._domainkey.DOMAIN RECORD",
      RECORD being the TXT record ("v=DKIM1; k=rsa; p=...").  A name
      not in it has no record.

  verify.py sign --key PEM --domain D --selector S [--canon C]
                 [--headers NAMES] MESSAGE
      Sign MESSAGE with python3-dkim (RSA or Ed25519 PKCS#8 PEM key;
      canonicalization C for header and body, default relaxed; NAMES a
      colon list, default python3-dkim's) and print it with the new field
      first: how tests/dkim.sh checks that verify accepts a good signature.

  verify.py edit OP MESSAGE
      Print MESSAGE altered by OP:
        body           the first letter of the body changes case;
        header:NAME    the last NAME field gets "X" added to its value;
        first:NAME     the first NAME field gets "X" added to its value;
        prepend:FIELD  FIELD ("Name: value") goes before the first field
                       that is not a DKIM-Signature;
        append:FIELD   FIELD goes after the last field.

Run it with /usr/bin/python3 (Debian's, for python3-dkim).
"""

import base64
import re
import sys
import time

try:
    import dkim
except ImportError:
    sys.stderr.write("verify.py: python3-dkim is not installed\n")
    sys.exit(77)

# The DER prefix of an Ed25519 PKCS#8 private key (RFC 8410): the seed
# follows, 32 octets.
ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420")


def usage(msg):
    sys.stderr.write("verify.py: %s\n" % msg)
    sys.exit(2)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def split_message(msg):
    """(header, body): the header section up to and including the CR LF
    that ends its last field, and the body after the empty line."""
    i = msg.find(b"\r\n\r\n")
    if i < 0:
        if msg.endswith(b"\r\n"):
            return msg, b""
        usage("the message has no header section")
    return msg[:i + 2], msg[i + 4:]


def fields(header):
    """The fields of a header section, each with its continuation lines
    and its final CR LF."""
    out = []
    for line in header.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += line + b"\r\n"
        else:
            out.append(line + b"\r\n")
    return out


def field_name(f):
    return f.split(b":", 1)[0].strip().lower()


def load_zone(path):
    zone = {}
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(b"#"):
                continue
            name, record = line.split(None, 1)
            zone[name.lower().rstrip(b".")] = record
    return zone


def tags_of(value):
    """A DKIM-Signature field's tags, white space removed from the values
    (enough for the tags this script shows)."""
    out = {}
    for part in value.split(b";"):
        if b"=" not in part:
            continue
        k, v = part.split(b"=", 1)
        out[k.strip().decode("ascii", "replace")] = \
            re.sub(rb"\s+", b"", v).decode("ascii", "replace")
    return out


def show(tags, name):
    if name == "hs":
        names = [n.lower() for n in tags.get("h", "").split(":") if n]
        return "hs=" + ":".join(sorted(names))
    if name == "t" and "t" in tags:
        try:
            t = int(tags["t"])
        except ValueError:
            return "t=" + tags["t"]
        return "t=now" if abs(t - time.time()) <= 3600 else "t=%d" % t
    if name == "x" and "x" in tags and "t" in tags:
        try:
            return "x=t+%d" % (int(tags["x"]) - int(tags["t"]))
        except ValueError:
            return "x=" + tags["x"]
    return "%s=%s" % (name, tags.get(name, "-"))


def cmd_verify(argv):
    zone = None
    shown = []
    top = None
    path = None
    while argv:
        a = argv.pop(0)
        if a == "--dns" and argv:
            zone = load_zone(argv.pop(0))
        elif a == "--show" and argv:
            shown = [t for t in argv.pop(0).split(",") if t]
        elif a == "--top" and argv:
            top = int(argv.pop(0))
        elif path is None and not a.startswith("--"):
            path = a
        else:
            usage("verify: unexpected argument %s" % a)
    if zone is None or path is None:
        usage("verify --dns ZONE [--show TAGS] [--top N] MESSAGE")
    msg = read(path)
    ok = True

    # The wire format: CR LF line ends, the signatures first.
    bare = len(re.findall(rb"(?<!\r)\n", msg))
    if bare:
        print("FAIL: %d line(s) end with a bare LF" % bare)
        ok = False
    header, _ = split_message(msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    names = [field_name(f) for f in fields(header)]
    if top is not None:
        if names[:top] != [b"dkim-signature"] * top:
            print("FAIL: the first %d fields are not all DKIM-Signature fields" % top)
            ok = False
        names = []
    seen_other = None
    for n in names:
        if n != b"dkim-signature":
            seen_other = seen_other or n
        elif seen_other is not None:
            print("FAIL: a DKIM-Signature field follows a %s field"
                  % seen_other.decode("ascii", "replace"))
            ok = False
            break

    def dnsfunc(name, timeout=5):
        return zone.get(name.lower().rstrip(b"."))

    sigs = [f for f in fields(header) if field_name(f) == b"dkim-signature"]
    if not sigs:
        print("no DKIM-Signature field")
        return 1
    for idx, f in enumerate(sigs):
        tags = tags_of(f.split(b":", 1)[1])
        d = dkim.DKIM(msg)
        try:
            res = "pass" if d.verify(idx=idx, dnsfunc=dnsfunc) else "fail-b"
            if res != "pass":
                sys.stderr.write("sig %d: the signature does not verify\n" % (idx + 1))
        except dkim.ValidationError as e:
            res = "fail-bh" if "body hash mismatch" in str(e) else "error"
            sys.stderr.write("sig %d: %s\n" % (idx + 1, e))
        except Exception as e:  # DKIMException, and the crypto's own
            res = "error"
            sys.stderr.write("sig %d: %s: %s\n" % (idx + 1, type(e).__name__, e))
        if res != "pass":
            ok = False
        line = ["sig %d: %s" % (idx + 1, res)]
        line += [show(tags, t) for t in ["d", "s", "a", "c"] + shown]
        print(" ".join(line))
    return 0 if ok else 1


def cmd_sign(argv):
    opts = {"--canon": "relaxed", "--headers": None}
    path = None
    while argv:
        a = argv.pop(0)
        if a in ("--key", "--domain", "--selector", "--canon", "--headers") and argv:
            opts[a] = argv.pop(0)
        elif path is None and not a.startswith("--"):
            path = a
        else:
            usage("sign: unexpected argument %s" % a)
    if path is None or not all(k in opts for k in ("--key", "--domain", "--selector")):
        usage("sign --key PEM --domain D --selector S [--canon C] [--headers H] MESSAGE")
    pem = read(opts["--key"])
    der = base64.b64decode(b"".join(
        l for l in pem.splitlines() if l and not l.startswith(b"-----")))
    if der.startswith(ED25519_PKCS8) and len(der) == len(ED25519_PKCS8) + 32:
        alg, key = b"ed25519-sha256", base64.b64encode(der[-32:])
    else:
        alg, key = b"rsa-sha256", pem
    canon = opts["--canon"].encode()
    headers = None
    if opts["--headers"]:
        headers = [h.encode() for h in opts["--headers"].split(":")]
    msg = read(path)
    sig = dkim.sign(msg, opts["--selector"].encode(), opts["--domain"].encode(), key,
                    canonicalize=(canon, canon), signature_algorithm=alg,
                    include_headers=headers)
    sys.stdout.buffer.write(sig + msg)
    return 0


def cmd_edit(argv):
    if len(argv) != 2 or ":" not in argv[0] + ":":
        usage("edit OP MESSAGE")
    op, path = argv
    msg = read(path)
    header, body = split_message(msg)
    fs = fields(header)
    kind, _, arg = op.partition(":")
    if kind == "body":
        m = re.search(rb"[A-Za-z]", body)
        if not m:
            usage("edit body: the body has no letter")
        i = m.start()
        body = body[:i] + body[i:i + 1].swapcase() + body[i + 1:]
    elif kind in ("header", "first"):
        want = arg.lower().encode()
        at = [i for i, f in enumerate(fs) if field_name(f) == want]
        if not at:
            usage("edit %s: no %s field" % (kind, arg))
        i = at[-1] if kind == "header" else at[0]
        fs[i] = fs[i][:-2] + b"X\r\n"
    elif kind == "prepend":
        i = 0
        while i < len(fs) and field_name(fs[i]) == b"dkim-signature":
            i += 1
        fs.insert(i, arg.encode() + b"\r\n")
    elif kind == "append":
        fs.append(arg.encode() + b"\r\n")
    else:
        usage("edit: unknown operation %s" % op)
    sys.stdout.buffer.write(b"".join(fs) + b"\r\n" + body)
    return 0


def main(argv):
    if not argv:
        usage("verify|sign|edit ... (see the script's head)")
    cmd = {"verify": cmd_verify, "sign": cmd_sign, "edit": cmd_edit}.get(argv[0])
    if cmd is None:
        usage("unknown command %s" % argv[0])
    return cmd(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
