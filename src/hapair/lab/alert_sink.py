"""The lab's webhook receiver: the agents' alerts (the lab specs name it as
their webhook) written one JSON line each, with the time they arrived and
whether their signature checks. Runs in the lab's control point, started by
`hapair lab up`; the drills read it for the alert delay.

    python -m hapair.lab.alert_sink ADDRESS PORT OUT_FILE SECRETS_FILE"""

from __future__ import annotations

import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hapair.model.webhook import signature

MAX_BODY = 64 * 1024


def record(body: bytes, signed_as: str, secret: str, received: float) -> dict[str, Any]:
    """What the file keeps of one POST (pure)."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        doc = {"unreadable": body[:200].decode(errors="replace")}
    ok = bool(secret) and hmac.compare_digest(signed_as.encode(),
                                              signature(secret, body).encode())
    return {"received": received, "signed": ok, **doc}


def read(path: Path) -> list[dict[str, Any]]:
    """The alerts a lab received, oldest first (none if the file is missing)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def main(argv: list[str]) -> None:
    address, port, out_file, secrets_file = argv
    from hapair.secrets import load_secrets

    webhook = load_secrets(Path(secrets_file)).webhook_secret
    secret = webhook.get_secret_value() if webhook is not None else ""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received = time.time()
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                self.send_error(413)
                return
            body = self.rfile.read(length)
            line = json.dumps(record(body, self.headers.get("X-Hapair-Signature", ""),
                                     secret, received))
            with lock, open(out_file, "a") as f:
                f.write(line + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    ThreadingHTTPServer((address, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
