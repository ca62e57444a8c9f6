"""The site's mail server in a drill: an SMTP server (aiosmtpd) on the lab's
client network that takes every mail and writes when it came and its
Message-ID, one a line ("1796439816.915 <id>"), to a file; run inside the
client's namespace by drill/mail.py.

    python -m hapair.drill.mailsink --listen 10.54.0.254 --port 2525 --out FILE

It says "listening" once it listens, and stops when its standard input
closes (the drill ends it)."""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import sys
import threading
import time
from typing import Any, TextIO

from aiosmtpd.controller import Controller


class Received:
    """Each mail's Message-ID, appended and flushed as it arrives (the drill
    reads the file while the server runs)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        headers = self.parser.parsebytes(envelope.content)
        mid = str(headers.get("Message-ID", "")).strip() or "-"
        with self.lock:
            self.out.write(f"{time.time():.3f} {mid}\n")
            self.out.flush()
        return "250 OK"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="hapair.drill.mailsink")
    p.add_argument("--listen", required=True)
    p.add_argument("--port", type=int, default=2525)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    with open(a.out, "a", encoding="utf-8") as out:
        controller = Controller(Received(out), hostname=a.listen, port=a.port)
        controller.start()
        print("listening", flush=True)
        try:
            sys.stdin.read()  # until the drill closes it
        finally:
            controller.stop()


if __name__ == "__main__":
    main()
