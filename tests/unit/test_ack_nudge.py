"""The write that releases commits whose acknowledgements were lost
(agent/node/acks.py), its I/O faked: one at a time, each on a row of its own,
an unacknowledged one ended on the server, failures spacing the next out."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from hapair.agent.node import acks
from hapair.agent.node.db import DBError


class FakeDB:
    log: list[tuple[str, Any]] = []
    answer_with: DBError | None = None
    go = threading.Event()

    def __init__(self, endpoint: object) -> None:
        pass

    def one(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any]:
        return {"id": 41}

    def execute(self, sql: str, args: tuple[Any, ...] = (), timeout: float = 3.0) -> None:
        FakeDB.go.wait(5)
        FakeDB.log.append(("execute", args))
        if FakeDB.answer_with is not None:
            raise FakeDB.answer_with

    def kill(self, ids: list[int]) -> None:
        FakeDB.log.append(("kill", ids))

    def close(self) -> None:
        pass


@pytest.fixture
def nudge(monkeypatch: pytest.MonkeyPatch) -> acks.AckNudge:
    monkeypatch.setattr(acks, "Database", FakeDB)
    FakeDB.log, FakeDB.answer_with = [], None
    FakeDB.go.clear()
    return acks.AckNudge(object())  # type: ignore[arg-type]


def wait_idle(n: acks.AckNudge) -> None:
    for _ in range(500):
        if not n.busy.is_set():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the nudge never ended")


def test_one_at_a_time_each_on_a_row_of_its_own(nudge: acks.AckNudge) -> None:
    nudge.later()
    nudge.later()  # the first still waits for its acknowledgement: nothing more
    FakeDB.go.set()
    wait_idle(nudge)
    assert FakeDB.log == [("execute", (1,))]
    nudge.at -= acks.NUDGE_EVERY_S  # a second later
    nudge.later()
    wait_idle(nudge)
    assert FakeDB.log == [("execute", (1,)), ("execute", (2,))]


def test_an_unacknowledged_one_is_ended_and_the_next_waits_longer(nudge: acks.AckNudge
                                                                 ) -> None:
    FakeDB.answer_with = DBError("(2013, 'Lost connection to MySQL server during query "
                                 "(timed out)')")
    FakeDB.go.set()
    nudge.later()
    wait_idle(nudge)
    assert FakeDB.log == [("execute", (1,)), ("kill", [41])]
    assert nudge.every == 2 * acks.NUDGE_EVERY_S
    nudge.at -= acks.NUDGE_EVERY_S
    nudge.later()  # only one second later: not yet
    assert len(FakeDB.log) == 2
    for _ in range(10):
        nudge.at -= acks.NUDGE_MAX_EVERY_S
        nudge.later()
        wait_idle(nudge)
    assert nudge.every == acks.NUDGE_MAX_EVERY_S
    FakeDB.answer_with = None
    nudge.at -= acks.NUDGE_MAX_EVERY_S
    nudge.later()
    wait_idle(nudge)
    assert nudge.every == acks.NUDGE_EVERY_S  # acknowledged: back to the start
