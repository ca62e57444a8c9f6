"""Samples one node's read_only every few milliseconds, from inside the node,
through one long-lived `mariadb` client: "wall-time value" lines on stdout,
the value 1 (read-only), 0 (writable) or 2 (read_only off, but every write
of the application refused by the lease's write gate, agent/node/write_gate.py),
or "down" when the server does not answer. The gate is counted only where
the node holds it on every table of the application (the first query given,
asked at each connection); elsewhere only read_only is asked. Standard library only: the
drill runs this file's source with the node's own python3, the two queries
as arguments."""

from __future__ import annotations

import os
import subprocess
import sys
import time

INTERVAL = 0.02
MARK = "hapair-drill-sampler"  # in argv, so that the drill can find and stop it


FLAG = "SELECT @@GLOBAL.read_only;\n"


def main(ready: str = "", gated: str = "") -> None:
    """ready: a query that answers 1 where the write gate is complete;
    gated: the sample where it is."""
    while True:
        proc = subprocess.Popen(["mariadb", "-N", "-B", "--unbuffered", "--connect-timeout=1"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, bufsize=1)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            query = FLAG
            if ready:
                proc.stdin.write(ready.rstrip(";") + ";\n")
                proc.stdin.flush()
                query = gated.rstrip(";") + ";\n" if proc.stdout.readline().strip() == "1" else FLAG
            while True:
                asked = time.time()
                proc.stdin.write(query)
                proc.stdin.flush()
                line = proc.stdout.readline()
                if not line:
                    break
                # The value held somewhere between asking and the answer: stamp
                # writable samples with the answer's time, read-only ones with
                # the question's, so that an overlap is never hidden.
                answered = time.time()
                value = line.strip()
                stamp = answered if value == "0" else asked
                print(f"{stamp:.4f} {value}", flush=True)
                time.sleep(INTERVAL)
        except BrokenPipeError:
            proc.kill()
            os._exit(0)  # the drill stopped reading: nobody wants samples any more
        except OSError:
            pass
        proc.kill()
        try:
            print(f"{time.time():.4f} down", flush=True)
        except BrokenPipeError:
            os._exit(0)
        time.sleep(0.1)


if __name__ == "__main__":
    try:
        main(*sys.argv[2:4])
    except KeyboardInterrupt:
        sys.exit(0)
