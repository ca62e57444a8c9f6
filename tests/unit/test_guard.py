"""The primary's lease guard (agent/guard.py) over a fake agent."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from hapair.agent import guard
from hapair.agent.core import events as ev
from hapair.agent.core.view import Memory, Peer, View, as_closed
from tests.unit.test_decide import primary_db


def test_a_guard_that_stood_still_longer_than_the_lease_fences_at_once() -> None:
    """A machine paused whole (the drill's freeze-machine-primary): on
    resuming, the peer's stale paths and a fresh answer must not keep the
    database writable, since the peer may have promoted meanwhile; the
    application is stopped at once rather than waited for."""
    fenced: list[float] = []
    recorded: list[ev.Event] = []

    def fence(app_user: str, stop_clients: Any = None, patience: float = 0.3) -> None:
        fenced.append(patience)

    now = time.monotonic()
    agent = SimpleNamespace(
        memory=SimpleNamespace(degraded=False, paused=False, peer_complete=True,
                               peer_stopped_at=0.0, restart_until=0.0),
        cfg=SimpleNamespace(fence=None, lease_s=0.8, app_user="roombook", peer="node2"),
        peer=SimpleNamespace(paths=("interconnect",)),  # as last seen, before the pause
        contact=SimpleNamespace(read=lambda: (now, now)),  # renewed as it resumed
        keeper=None, guard_db=SimpleNamespace(close_writes=fence), stop_app=lambda: None,
        open_lock=threading.Lock(),
        lease_row=SimpleNamespace(keep=lambda until: None),
        gate_row=SimpleNamespace(keep=lambda until: None),
        closed_itself=lambda *a, **k: None, record=recorded.append)
    agent.view = View(now=now, node="node1", keepalived_running=True,
                      vrrp="MASTER", holds_vip=True, db=primary_db(), peer=Peer(None, ()))
    guard.once(agent, stalled=0.06)  # type: ignore[arg-type]
    assert fenced == []  # a tick as usual: the peer answers, the lease holds
    guard.once(agent, stalled=8.0)  # type: ignore[arg-type]
    # the loop's view is older: said before the close (an opening decided on
    # it is refused, act.open_writes) and after it
    assert fenced == [0.0] and recorded == [ev.WritesClosed(r.at) for r in recorded]
    assert len(recorded) == 2 and recorded[0].at <= recorded[1].at
    agent.view = View(now=now, node="node1", keepalived_running=True,
                      vrrp="MASTER", holds_vip=True, db=primary_db(semi_sync_master=False),
                      peer=Peer(None, ()))
    agent.memory.peer_complete = False  # the peer may lack commits: it never takes over
    guard.once(agent, stalled=8.0)  # type: ignore[arg-type]
    assert fenced == [0.0]


def test_the_lease_row_holds_the_guards_own_end_only_while_the_lease_binds() -> None:
    """The database's lease watch (agent/node/db_lease.py) applies the guard's
    rule: the end it is given is the guard's, in the wall clock; a node the
    lease does not bind (read-only, committing alone, paused, with fence
    devices) gives it none, so the server leaves it alone."""
    rows: list[float | None] = []
    gates: list[float | None] = []  # the write gate's copy: the same end
    now = time.monotonic()
    renewed = now - 0.3  # the last answered poll was sent 0.3 s ago
    agent = SimpleNamespace(
        memory=SimpleNamespace(degraded=False, paused=False, peer_complete=True,
                               peer_stopped_at=0.0, restart_until=0.0),
        cfg=SimpleNamespace(fence=None, lease_s=0.8, app_user="roombook", peer="node2"),
        peer=SimpleNamespace(paths=("interconnect",)),
        contact=SimpleNamespace(read=lambda: (renewed, renewed)),
        keeper=SimpleNamespace(state=SimpleNamespace(renewed=renewed + 0.1)),
        guard_db=SimpleNamespace(close_writes=lambda *a, **k: None), stop_app=lambda: None,
        open_lock=threading.Lock(),
        lease_row=SimpleNamespace(keep=rows.append), gate_row=SimpleNamespace(keep=gates.append),
        record=lambda event: None)
    agent.view = View(now=now, node="node1", keepalived_running=True,
                      vrrp="MASTER", holds_vip=True, db=primary_db(), peer=Peer(None, ()))
    wall = time.time()
    guard.once(agent)  # type: ignore[arg-type]
    until = rows[-1]
    # The witness's renewal is the later one: the end is 0.2 s ago + 0.8 s.
    assert until is not None and abs(until - (wall - 0.2 + 0.8)) < 0.05
    agent.memory.degraded = True  # committing alone on purpose: no lease
    guard.once(agent)  # type: ignore[arg-type]
    assert rows[-1] is None
    assert gates == rows
    agent.memory.degraded = False
    agent.view = View(now=now, node="node1", keepalived_running=True,
                      vrrp="BACKUP", holds_vip=False, db=primary_db(read_only=True),
                      peer=Peer(None, ()))
    guard.once(agent)  # type: ignore[arg-type]
    assert rows[-1] is None


def test_a_restart_in_place_holds_the_lease_to_its_windows_end_whatever_the_polls() -> None:
    """The standby took the window (agent/restarting.py): the lease row and
    the write gate hold its end, and silence within it fences nothing; once
    it has passed, the lease is the polls' again."""
    rows: list[float | None] = []
    fenced: list[float] = []
    now = time.monotonic()
    renewed = now - 5.0  # the peer silent for 5 s: far past the 0.8 s lease
    agent = SimpleNamespace(
        memory=SimpleNamespace(degraded=False, paused=False, peer_complete=True,
                               peer_stopped_at=0.0, restart_until=now + 6.0),
        cfg=SimpleNamespace(fence=None, lease_s=0.8, margin_s=0.4, app_user="roombook",
                            peer="node2"),
        peer=SimpleNamespace(paths=()),
        contact=SimpleNamespace(read=lambda: (renewed, renewed)), keeper=None,
        guard_db=SimpleNamespace(close_writes=lambda *a, **k: fenced.append(1.0)),
        open_lock=threading.Lock(),
        stop_app=lambda: None, closed_itself=lambda *a, **k: None, record=lambda event: None,
        lease_row=SimpleNamespace(keep=rows.append), gate_row=SimpleNamespace(keep=rows.append))
    agent.view = View(now=now, node="node1", keepalived_running=True,
                      vrrp="MASTER", holds_vip=True, db=primary_db(), peer=Peer(None, ()))
    wall = time.time()
    guard.once(agent)  # type: ignore[arg-type]
    assert fenced == []
    assert rows[-1] is not None and abs(rows[-1] - (wall + 6.0)) < 0.05 and rows[-1] == rows[-2]
    agent.memory.restart_until = now - 0.1  # the window has passed
    guard.once(agent)  # type: ignore[arg-type]
    assert fenced == [1.0]
    assert rows[-2] is not None and rows[-2] < wall  # the polls' end: long gone


def test_the_stop_hooks_record_is_read_or_refused() -> None:
    """What the stop hook writes (render/systemd.py, "START END HOW"):
    the next agent reports how long it took."""
    end, took, how = guard.parse_stop_hook(
        "1796439816.915 1796439816.950 watchdog: the application stopped first\n") or (0, 0, "")
    assert (end, round(took, 3), how) == (1796439816.95, 0.035,
                                          "watchdog: the application stopped first")
    assert guard.parse_stop_hook("") is None
    assert guard.parse_stop_hook("garbage here") is None


def test_a_view_taken_before_a_self_fence_reads_closed() -> None:
    """The guard closes while the loop may be stuck: the status, the
    endpoints and the commands read the loop's last view as read-only from
    then on; a view taken later is the database's own word again."""
    view = View(now=10.0, node="node1", keepalived_running=True, vrrp="MASTER",
                holds_vip=True, db=primary_db(), peer=Peer(None, ()))
    assert as_closed(view, Memory()) is view and as_closed(None, Memory()) is None
    closed = as_closed(view, ev.changed(Memory(), ev.WritesClosed(10.5)))
    assert closed is not None and closed.db.read_only and not view.db.read_only
    assert as_closed(view, Memory(writes_closed_at=9.9)) is view  # the view is newer


def test_the_watch_s_last_closing_is_reported_once_across_the_agent_s_restarts(
        tmp_path: Any) -> None:
    """The row keeps its last closing: a new agent (after an apply, a reboot)
    read it again and reported an old closing as new, a self-fence counted
    each time. A closing while no agent ran (a frozen one, killed by the
    watchdog) is still reported by the next."""
    from hapair.agent.node.db_lease import LeaseRow

    row = {"closed_at": 1796655000.5, "late_s": 0.003}
    db = SimpleNamespace(one=lambda sql, args=(): dict(row))
    seen = tmp_path / "lease-watch-seen"
    first = LeaseRow(db, seen=seen)  # type: ignore[arg-type]
    assert first.closed() == (1796655000.5, 0.003)
    assert first.closed() is None
    assert LeaseRow(db, seen=seen).closed() is None  # the next agent: already reported
    row["closed_at"] = 1796655100.0  # closed again while no agent looked
    assert LeaseRow(db, seen=seen).closed() == (1796655100.0, 0.003)
    assert LeaseRow(db).closed() == (1796655100.0, 0.003)  # nothing kept: as before
