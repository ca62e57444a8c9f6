"""Alerts: every role change, fence, pause, resume and degrade, and the
standby lost, told to the executables in the hooks folder (arguments: event,
node, role, cluster; the whole event as JSON in HAPAIR_EVENT) and, when the
spec names one, to a webhook (a JSON POST with an HMAC-SHA256 signature of
the body in X-Hapair-Signature, retried). One worker thread, in order; the
loop only queues, and a full queue drops the event with a log line."""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from hapair.model.webhook import signature

log = logging.getLogger("hapair.agent")

QUEUE_SIZE = 100


@dataclass(frozen=True)
class AlertsConfig:
    hooks_dir: str
    webhook: str | None
    timeout_s: float
    retries: int
    cluster: str
    node: str
    secret: str = ""  # the webhook's signing key


def hooks_in(folder: str) -> list[str]:
    """The executables of a folder, in name order (editor leftovers skipped)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    paths = [os.path.join(folder, n) for n in names if not n.startswith(".")
             and not n.endswith(("~", ".dpkg-old", ".dpkg-new", ".swp"))]
    return [p for p in paths if os.path.isfile(p) and os.access(p, os.X_OK)]


class Alerts:
    def __init__(self, cfg: AlertsConfig, backoff_s: float = 1.0):
        self.cfg = cfg
        self.backoff_s = backoff_s
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(QUEUE_SIZE)
        threading.Thread(target=self._work, name="alerts", daemon=True).start()

    def emit(self, event: str, role: str, detail: str = "") -> None:
        """Queue an event; never blocks."""
        doc = {"event": event, "node": self.cfg.node, "role": role,
               "cluster": self.cfg.cluster, "detail": detail, "at": time.time()}
        try:
            self._queue.put_nowait(doc)
        except queue.Full:
            log.warning("alert %s dropped: %d alerts are waiting already", event, QUEUE_SIZE)

    def drain(self, seconds: float) -> bool:
        """Wait until every queued event was handled (tests); True if so."""
        deadline = time.monotonic() + seconds
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _work(self) -> None:
        while True:
            doc = self._queue.get()
            try:
                self._hooks(doc)
                if self.cfg.webhook:
                    self._post(doc)
            except Exception:  # noqa: BLE001 - the worker must go on
                log.exception("alert %s failed", doc["event"])
            finally:
                self._queue.task_done()

    def _hooks(self, doc: dict[str, Any]) -> None:
        argv = [doc["event"], doc["node"], doc["role"], doc["cluster"]]
        env = {**os.environ, "HAPAIR_EVENT": json.dumps(doc)}
        for hook in hooks_in(self.cfg.hooks_dir):
            try:
                done = subprocess.run([hook, *argv], env=env, capture_output=True,
                                      timeout=self.cfg.timeout_s)
                said = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
                log.info("hook %s %s: exit %d%s", os.path.basename(hook), doc["event"],
                         done.returncode, f" ({said[0][:120]})" if said else "")
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("hook %s %s: %s", os.path.basename(hook), doc["event"], exc)

    def _post(self, doc: dict[str, Any]) -> None:
        assert self.cfg.webhook
        body = json.dumps(doc).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "hapair-agent"}
        if self.cfg.secret:
            headers["X-Hapair-Signature"] = signature(self.cfg.secret, body)
        for attempt in range(self.cfg.retries + 1):
            req = urllib.request.Request(self.cfg.webhook, data=body, headers=headers,
                                         method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as r:
                    log.info("webhook %s: HTTP %d", doc["event"], r.status)
                    return
            except urllib.error.HTTPError as exc:
                said = f"HTTP {exc.code}"
                if exc.code < 500 and exc.code != 429:
                    log.warning("webhook %s: %s, not retried", doc["event"], said)
                    return
            except (OSError, ValueError) as exc:
                said = str(getattr(exc, "reason", exc))
            if attempt < self.cfg.retries:
                time.sleep(self.backoff_s * 2 ** attempt)
        log.warning("webhook %s: %s after %d attempts", doc["event"], said,
                    self.cfg.retries + 1)
