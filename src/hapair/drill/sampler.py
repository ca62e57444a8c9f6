"""Samples one node's read_only every few milliseconds, from inside the node,
through one long-lived `mariadb` client: "wall-time read_only" lines on
stdout ("wall-time down" when the server does not answer). Standard library
only: the drill runs this file's source with the node's own python3."""

from __future__ import annotations

import os
import subprocess
import sys
import time

INTERVAL = 0.02
MARK = "hapair-drill-sampler"  # in argv, so that the drill can find and stop it


def main() -> None:
    while True:
        proc = subprocess.Popen(["mariadb", "-N", "-B", "--unbuffered", "--connect-timeout=1"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, bufsize=1)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            while True:
                asked = time.time()
                proc.stdin.write("SELECT @@read_only;\n")
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
        main()
    except KeyboardInterrupt:
        sys.exit(0)
