"""Long actions beside the loop (in the spirit of Patroni's AsyncExecutor):
one at a time, in a thread of its own, so that the loop keeps observing and
answering while a promotion or a rebuild runs. The task is part of the
agent's memory, so ``decide`` and /status see it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hapair.agent.core.view import Task
from hapair.model.roles import Role

log = logging.getLogger("hapair.agent")


class TaskRunner:
    def __init__(self, set_task: Callable[[Task | None], None], done: Callable[[], None]):
        self._set_task = set_task  # records the task in the agent's memory
        self._done = done  # wakes the loop
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, kind: Role, what: str, work: Callable[[], None],
              on_error: Callable[[BaseException], None]) -> bool:
        """Start ``work`` unless a task runs already (False then)."""
        with self._lock:
            if self.busy:
                return False
            self._set_task(Task(kind, what, time.monotonic()))
            self._thread = threading.Thread(target=self._run, args=(what, work, on_error),
                                            name=kind.value, daemon=True)
            self._thread.start()
            return True

    def _run(self, what: str, work: Callable[[], None],
             on_error: Callable[[BaseException], None]) -> None:
        start = time.monotonic()
        try:
            work()
            log.info("%s: done in %.1fs", what, time.monotonic() - start)
        except Exception as exc:  # noqa: BLE001 - a task's failure is logged, never fatal
            on_error(exc)
        finally:
            self._set_task(None)
            self._done()
