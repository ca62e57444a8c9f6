"""The drill's clients end when the run says so: SIGTERM, each operation
finished and written, no line cut; the load's upper bound; the wait
before a fault."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hapair.drill.runner import load_bound, window_left


class _Roombook(BaseHTTPRequestHandler):
    """Signs anyone in and confirms every booking, 20 ms each."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(0.02)
        status, body = ((200, {"token": "t"}) if self.path == "/api/login"
                        else (201, {"id": 1}))
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def roombook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Roombook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_sigterm_ends_the_load_long_before_its_time_and_every_line_is_whole(
        roombook: str, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hapair.drill.workload", "--base", roombook, "--clients", "3",
         "--seconds", "120", "--out", str(history)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "ROOMBOOK_PASSWORD": "x"})
    assert proc.stdout is not None
    assert "ready" in proc.stdout.readline()
    time.sleep(0.5)
    asked = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    took = time.monotonic() - asked
    assert proc.returncode == 0, err
    assert took < 2, took  # its operations take 20 ms: nothing waits out the 120 s
    ops = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(ops) >= 3 and {op["outcome"] for op in ops} == {"confirmed"}
    assert f"{len(ops)} operations" in err


def test_the_load_may_outlast_its_plan_by_a_minute_at_least() -> None:
    assert load_bound(16) == 76  # a power cut: 3 + 5 + 8, a minute of room
    assert load_bound(121) == 181.5  # an apply: half its plan again
    assert load_bound(101) > 102 + 8 + 3  # a rolling reboot that took 102 s, observed


def test_a_run_waits_only_for_what_is_left_of_the_failover_window() -> None:
    assert window_left(5, "1.250000\n") == 4.25  # promoted 1.25 s ago
    assert window_left(5, "7.5\n") == 0  # the settle already outlasted it
    assert window_left(5, "") == 5  # unread (a refused query): the whole window
    assert window_left(5, "ERROR 1146") == 5
