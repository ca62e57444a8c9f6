"""Opening for writes against a fence that arrives meanwhile (act.open_writes):
the fence's record and the opening's last check share a lock, so a fence is
never undone by an opening that had already checked."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from hapair.agent.act import open_writes
from hapair.agent.db import OPEN_SQL
from hapair.agent.fencing import Abort


@dataclass
class FakeDb:
    """The I/O layer faked: records statements; a fence lands during the
    preparation (the lease clears may wait on a row lock)."""

    during_prepare: threading.Event = field(default_factory=threading.Event)
    fence_done: threading.Event = field(default_factory=threading.Event)
    ran: list[str] = field(default_factory=list)

    def prepare_writes(self, semi: bool) -> None:
        self.during_prepare.set()
        assert self.fence_done.wait(5)

    def execute(self, sql: str) -> None:
        self.ran.append(sql)


@dataclass
class FakeRuntime:
    db: FakeDb
    by: str = ""
    open_lock: threading.Lock = field(default_factory=threading.Lock)

    def fenced_by(self) -> str:
        return self.by


def test_a_fence_during_the_preparation_stops_the_opening() -> None:
    rt = FakeRuntime(FakeDb())

    def fence() -> None:
        assert rt.db.during_prepare.wait(5)
        with rt.open_lock:
            rt.by = "node2"
        rt.db.fence_done.set()

    t = threading.Thread(target=fence)
    t.start()
    with pytest.raises(Abort, match="fenced by node2"):
        open_writes(rt, semi=True)  # type: ignore[arg-type]
    t.join()
    assert OPEN_SQL not in rt.db.ran


def test_a_fence_waits_for_an_opening_past_its_check() -> None:
    """A fence that comes while read_only goes off is recorded after it (and
    its own read_only=ON then lands last)."""
    rt = FakeRuntime(FakeDb())
    rt.db.fence_done.set()
    order: list[str] = []

    class Slow(FakeDb):
        def execute(self, sql: str) -> None:
            fencer.start()
            fencer.join(0.2)  # the fence cannot record itself meanwhile
            order.append("opened")

    def fence() -> None:
        with rt.open_lock:
            rt.by = "node2"
            order.append("fenced")

    fencer = threading.Thread(target=fence)
    rt.db = Slow(fence_done=rt.db.fence_done)
    open_writes(rt, semi=False)  # type: ignore[arg-type]
    fencer.join()
    assert order == ["opened", "fenced"]
