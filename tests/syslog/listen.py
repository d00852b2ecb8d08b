"""listen.py -- a stand-in for syslogd in tests/syslog.sh.

    listen.py SOCKET OUT

Binds the datagram socket SOCKET (as /dev/log, inside the test's own mount
namespace), creates OUT.ready once it listens, and appends each datagram
it receives to OUT, one a line, until it has been idle for 20 seconds or
is killed.  Standard library only."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
open(out + ".ready", "w").close()
s.settimeout(20)
with open(out, "ab") as f:
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        f.write(d + b"\n")
        f.flush()
