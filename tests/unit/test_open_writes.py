"""Opening for writes against a fence, or the guard's self-fence, that
arrives meanwhile (act.open_writes): their records and the opening's last
check share a lock, so neither is undone by an opening that had already
checked; and an opening decided on stale evidence (act.evidence_age)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from hapair.agent.act import evidence_age, open_writes
from hapair.agent.core.view import Memory, Peer, View
from hapair.agent.node.db import OPEN_SQL
from hapair.agent.node.fencing import Abort


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
    memory: Memory = field(default_factory=Memory)

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
        open_writes(rt, semi=True, seen=0.0)  # type: ignore[arg-type]
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
    open_writes(rt, semi=False, seen=0.0)  # type: ignore[arg-type]
    fencer.join()
    assert order == ["opened", "fenced"]


class FakePeer:
    """The peer's agent faked: its answer to a fence, or no answer."""

    def __init__(self, answer: dict[str, object] | None) -> None:
        self.answer = answer

    def post(self, paths: object, url_path: str, body: object,
             timeout: float = 8.0) -> dict[str, object]:
        from hapair.agent.node.peer import PeerError
        if self.answer is None:
            raise PeerError("public: timed out; interconnect: timed out")
        return self.answer


@pytest.mark.parametrize(("answer", "renews"), [
    ({"db_up": True, "read_only": True, "gtid_binlog_pos": "0-1-5"}, True),
    ({"db_up": True, "read_only": False, "gtid_binlog_pos": "0-1-5"}, False),
    ({"db_up": False}, False),
    # its database answered for it (the agent did not see the fence)
    ({"db_up": True, "read_only": True, "via": "its database at 10.54.0.11"}, False),
])
def test_a_fence_answered_read_only_renews_the_lease(answer: dict[str, object],
                                                     renews: bool) -> None:
    """A node promoted out of a live pair is bound at once; its lease must
    start at the fence it just sent, not at its last poll of a read-only
    peer (seconds before: its lease watch closed it again after opening)."""
    import time
    from types import SimpleNamespace

    from hapair.agent.node.fencing import close_peer
    from hapair.agent.node.peer import Contact

    contact = Contact(0.0, 0.0, threading.Lock())
    before = time.monotonic()
    got = close_peer(SimpleNamespace(node="node2", peer="node1"),  # type: ignore[arg-type]
                     FakePeer(answer), "pw", (), contact)  # type: ignore[arg-type]
    assert got == answer
    renewed, _ = contact.read()
    assert (renewed >= before) is renews


def test_a_fence_unanswered_renews_nothing() -> None:
    from types import SimpleNamespace

    from hapair.agent.node.fencing import close_peer
    from hapair.agent.node.peer import Contact

    contact = Contact(0.0, 0.0, threading.Lock())
    with pytest.raises(Abort):
        close_peer(SimpleNamespace(node="node2", peer="node1"),  # type: ignore[arg-type]
                   FakePeer(None), "pw", (), contact)  # type: ignore[arg-type]
    assert contact.read() == (0.0, 0.0)


def test_a_self_fence_since_the_view_stops_the_opening() -> None:
    """A primary resumed from a pause: its loop decided to reopen on what it
    saw before its guard closed it (seen in CI: open again 13 ms after the
    guard's close, writable beside the new primary for 30 ms)."""
    rt = FakeRuntime(FakeDb())
    rt.db.fence_done.set()
    rt.memory = Memory(writes_closed_at=10.5)
    with pytest.raises(Abort, match="guard closed writes"):
        open_writes(rt, semi=True, seen=10.0)  # type: ignore[arg-type]
    assert OPEN_SQL not in rt.db.ran
    open_writes(rt, semi=True, seen=10.6)  # type: ignore[arg-type]  # a view after the close
    assert rt.db.ran == [OPEN_SQL]


def view_with(now: float, peer: Peer) -> View:
    from tests.unit.test_decide import primary_db
    return View(now=now, node="node1", keepalived_running=True, vrrp="MASTER",
                holds_vip=True, db=primary_db(), peer=peer)


@pytest.mark.parametrize(("peer", "age"), [
    (Peer(None, ()), 0.1),  # the peer silent: the view's own time
    (Peer(None, ("interconnect",), answered_at=99.85), 0.15),  # a fresh answer
    # the poller's answer from before an 8 s pause, in a view taken after it
    (Peer(None, ("interconnect",), answered_at=92.0), 8.0),
])
def test_a_views_age_is_its_oldest_evidences(peer: Peer, age: float) -> None:
    assert evidence_age(view_with(99.9, peer), now=100.0) == pytest.approx(age)
