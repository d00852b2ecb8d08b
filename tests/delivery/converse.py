#!/usr/bin/python3
"""converse.py -- hold an SMTP conversation with a program that speaks SMTP
on its standard input and output (noq -bs), one command at a time.

    converse.py [--wait SECONDS] -- PROGRAM ARGS... < SCRIPT

SCRIPT holds the client's lines, one a line.  The program's greeting is
read first; then each command is sent (with CR LF) and its whole reply is
read before the next one is sent, except for the lines of a message after
a 354 reply, which go out without waiting until the "." line.  So a program
that holds its replies back until it has more input (or until the end of
its input) is caught: the reply does not come within --wait seconds
(default 5).

The conversation goes to standard output, "C: " before the client's lines
and "S: " before the program's (without their CR LF).  A reply line not
ended by CR LF is shown with "(no CR LF)" after it.  Exit status: 0 when
every command got its reply; 1 when a reply did not come in time, or the
program closed its output before the end of SCRIPT.
"""

import os
import select
import subprocess
import sys
import time


def main():
    args = sys.argv[1:]
    wait = 5.0
    if len(args) >= 2 and args[0] == "--wait":
        wait = float(args[1])
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.stderr.write("usage: converse.py [--wait SECONDS] -- PROGRAM ARGS...\n")
        return 2
    script = sys.stdin.buffer.read().split(b"\n")
    if script and script[-1] == b"":
        script.pop()

    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = sys.stdout.buffer
    buf = b""

    def reply():
        """Read one whole reply; False when it does not come in time."""
        nonlocal buf
        deadline = time.monotonic() + wait
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.endswith(b"\r"):
                    out.write(b"S: " + line[:-1] + b"\n")
                else:
                    out.write(b"S: " + line + b" (no CR LF)\n")
                if len(line) < 4 or line[3:4] != b"-":
                    return line[:3]
            left = deadline - time.monotonic()
            if left <= 0:
                out.write(b"(no reply within %g s)\n" % wait)
                return None
            r, _, _ = select.select([proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                out.write(b"(end of output)\n")
                return None
            buf += chunk

    status = 0
    code = reply()
    in_data = False
    for line in script:
        if code is None:
            status = 1
            break
        out.write(b"C: " + line + b"\n")
        proc.stdin.write(line + b"\r\n")
        proc.stdin.flush()
        if in_data:
            if line != b".":
                continue
            in_data = False
        code = reply()
        if code == b"354":
            in_data = True
    else:
        if code is None:
            status = 1
    proc.stdin.close()
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        out.write(b"(the program did not exit)\n")
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
