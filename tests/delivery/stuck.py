#!/usr/bin/python3
"""stuck.py -- a listening socket that never completes a connection.

    stuck.py --port-file FILE [--listen ADDR] [--lifetime SECONDS]

It listens with a backlog of 0 and fills its own accept queue with
connections it never accepts: the kernel then drops the SYN of any further
client, whose connect() neither succeeds nor fails until its own timeout.
That is a connect timeout on the loopback interface, without depending on
how some non-routable address behaves on the machine that runs the tests.

The port is written to FILE (temporary file + rename) once the queue is
full.  It exits on SIGTERM, or after --lifetime seconds (default 60).
"""

import argparse
import os
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--lifetime", type=float, default=60.0)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind((a.listen, 0))
    srv.listen(0)
    port = srv.getsockname()[1]

    # Fill the queue: connections that complete are queued (never
    # accepted); once it is full, the kernel drops new SYNs.  Keep the
    # sockets open so that the queue stays full.
    fillers = []
    for _ in range(4):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect((a.listen, port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.1)

    # Check that the queue is full: a probe must not connect.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.3)
    try:
        probe.connect((a.listen, port))
        sys.stderr.write("stuck.py: the accept queue does not fill up\n")
        return 2
    except (socket.timeout, OSError):
        pass
    probe.close()

    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, a.port_file)
    time.sleep(a.lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
