"""The application's and Apache's health, checked in a thread of their own:
an application whose workers all wait on a commit answers slowly or not at
all, and the loop must not wait with it (it is the loop that releases those
commits). The loop reads the latest verdict."""

from __future__ import annotations

import threading
import time

from hapair.agent.node import observe

NOT_YET = "the application not checked yet"


class HealthChecker:
    def __init__(self, app_port: int, interval_s: float, wake: threading.Event):
        self.app_url = f"http://127.0.0.1:{app_port}/healthz"
        self.interval_s = interval_s
        self.wake = wake  # a changed verdict wakes the loop
        self._latest = (NOT_YET, "")

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
            time.sleep(max(0.0, self.interval_s - (time.monotonic() - start)))
