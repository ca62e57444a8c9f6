"""The agent's first form: a health verdict for keepalived.

This node may hold the VIP when its application answers and its database is
the writable primary. The verdict goes to keepalived twice: at once through
the tracked file (0 eligible, 1 not), and as /health for keepalived's own
check, which catches an agent that stopped. The failover controller builds on
this (view, decide, act)."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from hapair.render.files import TRACK_FILE
from hapair.spec.models import ClusterSpec, Node

log = logging.getLogger("hapair.agent")


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    reason: str


def check_app(port: int, timeout: float = 1.0) -> str | None:
    """None when the application answers its liveness endpoint, else why not."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as r:
            return None if r.status == 200 else f"application answered {r.status}"
    except OSError as exc:
        return f"application not answering ({exc})"


def check_database() -> str | None:
    try:
        out = subprocess.run(["mariadb", "-N", "-B", "-e", "SELECT @@read_only"],
                             capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"database not answering ({exc})"
    if out.returncode != 0:
        return f"database not answering ({out.stderr.strip()[:120]})"
    return None if out.stdout.strip() == "0" else "database is read-only (not the primary)"


def verdict(spec: ClusterSpec) -> Verdict:
    for problem in (check_database(), check_app(spec.web.port)):
        if problem:
            return Verdict(False, problem)
    return Verdict(True, "application answers and the database is the writable primary")


class Agent:
    def __init__(self, spec: ClusterSpec, node: Node, track_file: Path = Path(TRACK_FILE)):
        self.spec = spec
        self.node = node
        self.track_file = track_file
        self.current = Verdict(False, "starting")
        self.lock = threading.Lock()

    def cycle(self) -> None:
        new = verdict(self.spec)
        with self.lock:
            old, self.current = self.current, new
        if new != old:
            state = "eligible for the VIP" if new.healthy else "not eligible"
            log.info("%s: %s", state, new.reason)
        self.track_file.parent.mkdir(parents=True, exist_ok=True)
        want = "0\n" if new.healthy else "1\n"
        try:
            same = self.track_file.read_text() == want
        except OSError:
            same = False
        if not same:
            self.track_file.write_text(want)

    def run(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.spec.agent.port), self._handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        log.info("agent for %s listening on 127.0.0.1:%d", self.node.name, self.spec.agent.port)
        while True:
            self.cycle()
            time.sleep(self.spec.timing.agent_interval_s)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with agent.lock:
                    v = agent.current
                code = (200 if v.healthy else 503) if self.path == "/health" else 404
                body = f"{v.reason}\n".encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler
