#!/usr/bin/python3
"""sink.py -- a real SMTP server (aiosmtpd) that keeps what it receives.

    sink.py --dir DIR --port-file FILE [--listen ADDR] [--port N]
            [--smtputf8] [--lifetime SECONDS]

Each message accepted is saved in DIR as N.eml (the data, exactly as
received once the dot-stuffing is undone) and N.json (the envelope:
helo, mail_from, mail_options, rcpt_tos, rcpt_options), N counting from 1;
both are written before the final reply, so a client that has its 250 can
read them.  aiosmtpd offers SIZE and 8BITMIME (and SMTPUTF8 with
--smtputf8), not PIPELINING nor DSN.

The port (N, or one the system picks) is written to FILE (temporary
file + rename) once the server listens.  It exits on SIGTERM, or after --lifetime seconds (default 60).
Run it with Debian's Python, whose package aiosmtpd is (python3-aiosmtpd).
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Saver:
    def __init__(self, where):
        self.where = where
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.where, "%d" % self.n)
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        meta = {
            "helo": session.host_name,
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
            f.write("\n")
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Ok: saved as %d" % self.n


async def serve(a):
    loop = asyncio.get_running_loop()
    saver = Saver(a.dir)
    server = await loop.create_server(
        lambda: SMTP(saver, hostname="sink.test", enable_SMTPUTF8=a.smtputf8),
        host=a.listen, port=a.port)
    port = server.sockets[0].getsockname()[1]
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, a.port_file)
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    try:
        await asyncio.wait_for(done.wait(), a.lifetime)
    except asyncio.TimeoutError:
        pass
    server.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--smtputf8", action="store_true")
    ap.add_argument("--lifetime", type=float, default=60.0)
    a = ap.parse_args()
    # aiosmtpd logs every session (and a warning about AUTH without TLS).
    logging.disable(logging.CRITICAL)
    asyncio.run(serve(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
