"""Alerts: hooks run in order with the event's arguments, a webhook gets a
signed JSON post (retried on a server error), and emitting never waits."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from hapair.agent.node.alerts import Alerts, AlertsConfig, hooks_in, signature


def config(tmp_path: Path, webhook: str | None = None, **kw: Any) -> AlertsConfig:
    return AlertsConfig(str(tmp_path / "hooks.d"), webhook, kw.pop("timeout_s", 2.0),
                        kw.pop("retries", 2), "lab", "node2", kw.pop("secret", "k" * 32))


def hook(folder: Path, name: str, body: str, executable: bool = True) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755 if executable else 0o644)
    return path


def test_hooks_run_in_name_order_with_the_event(tmp_path: Path) -> None:
    folder, log = tmp_path / "hooks.d", tmp_path / "log"
    hook(folder, "20-second", f'echo "second $1 $2 $3 $4" >> {log}')
    hook(folder, "10-first", f'echo "first $1" >> {log}; echo "$HAPAIR_EVENT" >> {log}; exit 3')
    hook(folder, "30-not-executable", f"echo never >> {log}", executable=False)
    hook(folder, "40-editor-leftover~", f"echo never >> {log}")
    alerts = Alerts(config(tmp_path))
    alerts.emit("role-change", "primary", "promoted")
    assert alerts.drain(5)
    first, event, second = log.read_text().splitlines()
    assert first == "first role-change"  # a failing hook does not stop the next
    assert json.loads(event)["detail"] == "promoted"
    assert second == "second role-change node2 primary lab"
    assert [Path(p).name for p in hooks_in(str(folder))] == ["10-first", "20-second"]


def test_emit_never_waits_for_a_slow_hook(tmp_path: Path) -> None:
    hook(tmp_path / "hooks.d", "slow", "sleep 1")
    alerts = Alerts(config(tmp_path))
    started = time.monotonic()
    for _ in range(5):
        alerts.emit("pause", "primary")
    assert time.monotonic() - started < 0.1


class Receiver(BaseHTTPRequestHandler):
    got: list[tuple[dict[str, Any], str]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        Receiver.got.append((json.loads(body), self.headers["X-Hapair-Signature"]))
        assert self.headers["X-Hapair-Signature"] == signature("k" * 32, body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_webhook_gets_a_signed_post_retried_after_a_server_error(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.got, Receiver.fail_first = [], 1
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        alerts = Alerts(config(tmp_path, url), backoff_s=0.01)
        alerts.emit("fence", "primary", "node1 powered off")
        assert alerts.drain(5)
    finally:
        server.shutdown()
    ((doc, sig),) = Receiver.got
    assert doc["event"] == "fence" and doc["node"] == "node2" and doc["cluster"] == "lab"
    assert sig.startswith("sha256=")
