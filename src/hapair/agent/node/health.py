"""The application's and Apache's health, checked in a thread of their own:
an application whose workers all wait on a commit answers slowly or not at
all, and the loop must not wait with it (it is the loop that releases those
commits). The loop reads the latest verdict."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable

from hapair.agent.node import observe
from hapair.paths import APP_LOADED_DIR, APP_WANTED_FILE
from hapair.probes import procs

NOT_YET = "the application not checked yet"


def loading(names: Iterable[str], wanted: str | None, alive: Callable[[int], bool]) -> str:
    """How many of the application's workers have not loaded it yet, in
    words ("" when all have, or when nothing says: no APP_WANTED_FILE, as with an
    application started without hapair's gunicorn hooks). names: the files of
    APP_LOADED_DIR (render/systemd.gunicorn_conf), one per loaded worker's
    pid; wanted: APP_WANTED_FILE's text, how many workers gunicorn starts. A worker
    gone without removing its file does not count, nor one that ended and
    waits to be reaped (`procs.gone`)."""
    if wanted is None or not wanted.strip().isdigit():
        return ""
    want = int(wanted)
    loaded = sum(1 for n in names if n.isdigit() and alive(int(n)))
    return "" if loaded >= want else f"{loaded} of {want} application workers loaded"


def _loading_now(folder: str) -> str:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return ""
    return loading(names, observe.read_text(os.path.join(folder, APP_WANTED_FILE)),
                   lambda pid: not procs.gone(pid))


class HealthChecker:
    def __init__(self, app_port: int, interval_s: float, wake: threading.Event,
                 loaded_dir: str = APP_LOADED_DIR):
        self.app_url = f"http://127.0.0.1:{app_port}/healthz"
        self.interval_s = interval_s
        self.wake = wake  # a changed verdict wakes the loop
        self._latest = (NOT_YET, "")
        self.loaded_dir = loaded_dir
        # Not a problem (the application answers with one worker loaded): a
        # switchover waits for it, since the new primary would queue its
        # first bookings behind the loading ones (ops/settled.py).
        self.loading = ""

    def latest(self) -> tuple[str, str]:
        """(the application's problem, Apache's problem): "" when healthy."""
        return self._latest

    def check(self) -> tuple[str, str]:
        app = observe.http_problem(self.app_url, "the application")
        apache = "" if app else observe.http_problem("http://127.0.0.1/healthz", "Apache")
        return app, apache

    def run(self) -> None:
        """Never dies: a frozen verdict would freeze every decision's health."""
        while True:
            start = time.monotonic()
            try:
                found = self.check()
            except Exception as exc:  # noqa: BLE001 - keep checking whatever happened
                found = (f"the application's check failed ({exc})", "")
            if found != self._latest:
                self._latest = found
                self.wake.set()
            self.loading = _loading_now(self.loaded_dir)
            time.sleep(max(0.0, self.interval_s - (time.monotonic() - start)))
