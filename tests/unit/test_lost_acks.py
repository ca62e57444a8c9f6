"""Letting go commits whose acknowledgements were lost (agent/node/lost_acks):
the statements are listed first, the binary log read after them, and only a
replica holding that position lets them go, each by its query id."""

from __future__ import annotations

from typing import Any

import pytest

from hapair.agent.node import lost_acks
from hapair.agent.node.db import DBError


class FakeDB:
    """The server as the release sees it; every statement recorded."""

    def __init__(self, waiting: list[int], binlog: str, gone: tuple[int, ...] = (),
                 fails: str = "") -> None:
        self.waiting, self.binlog, self.gone, self.fails = waiting, binlog, gone, fails
        self.said: list[str] = []

    def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        self.said.append(sql)
        assert sql == lost_acks.WAITING_SQL and args == (lost_acks.LOST_ACK_MS,)
        return [{"query_id": q} for q in self.waiting]

    def one(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any]:
        self.said.append(sql)
        return {"pos": self.binlog}

    def execute(self, sql: str, args: tuple[Any, ...] = (), timeout: float = 3.0) -> None:
        self.said.append(sql % args)
        if args and args[0] in self.gone:
            raise DBError(f"Unknown query id: {args[0]}")
        if self.fails:
            raise DBError(self.fails)


def test_the_waiting_statements_are_let_go_when_the_replica_holds_the_binary_log() -> None:
    db = FakeDB([41, 57], "0-1-100", gone=(41,))  # 41 was acknowledged meanwhile
    assert lost_acks.release(db, "0-1-100") == ([41, 57], "0-1-100")  # type: ignore[arg-type]
    assert db.said == [lost_acks.WAITING_SQL, lost_acks.BINLOG_POS_SQL,
                       "KILL QUERY ID 41", "KILL QUERY ID 57"]


def test_a_binary_log_grown_past_the_replica_since_the_decision_lets_nothing_go() -> None:
    db = FakeDB([41], "0-1-101")
    assert lost_acks.release(db, "0-1-100") == ([], "0-1-101")  # type: ignore[arg-type]
    assert not [s for s in db.said if s.startswith("KILL")]


def test_nothing_waiting_reads_nothing_more() -> None:
    db = FakeDB([], "0-1-100")
    assert lost_acks.release(db, "0-1-100") == ([], "")  # type: ignore[arg-type]
    assert db.said == [lost_acks.WAITING_SQL]


def test_a_kill_refused_for_another_reason_is_said() -> None:
    with pytest.raises(DBError, match="denied"):
        lost_acks.release(FakeDB([41], "0-1-100", fails="Access denied"),  # type: ignore[arg-type]
                          "0-1-100")
