"""A restart of the primary's agent in place (agent/restarting.py): the
window's file, the standby's memory of the
peer's window, and the status that carries it."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from hapair.agent import restarting
from hapair.agent.api.commands import asked
from hapair.agent.api.publish import status_doc
from hapair.agent.core.actions import Decision
from hapair.agent.core.learn import learn
from hapair.agent.core.view import Memory, Peer
from hapair.agent.node.journal import Journal
from hapair.agent.restarting import parse_window
from hapair.model.roles import Role
from tests.unit.test_decide import (
    CFG,
    CFG1,
    NOW,
    peer_primary,
    peer_replica,
    primary_db,
    replica_db,
    view,
)

PRIMARY = Decision(reason="primary", eligible=True, role=Role.PRIMARY)


@pytest.mark.parametrize(("text", "left"), [
    ("105.500 1796551116.886\n", 5.5),  # as the agent writes it
    ("99.000 1796551116.886\n", 0.0),  # over
    ("", 0.0), (None, 0.0), ("garbage\n", 0.0),
])
def test_the_windows_file_says_how_long_is_left(text: str | None, left: float) -> None:
    assert parse_window(text, 100.0) == pytest.approx(left)


def test_the_standby_keeps_the_peers_window_while_it_is_silent_then_the_margin() -> None:
    """Counted from its receiving the answer (NOW here), kept through the
    silence until the window and the margin have passed, ended by an answer
    that no longer says it."""
    said = view(replica_db(), peer_primary(back_within_s=8.0), answered_at=NOW)
    m = learn(said, CFG)
    assert m.peer_back_until == NOW + 8.0
    silent = replace(view(replica_db(), None), memory=m)
    assert learn(silent, CFG).peer_back_until == NOW + 8.0
    after = replace(silent, now=NOW + 8.0 + CFG.margin_s - 0.01)
    assert learn(after, CFG).peer_back_until == NOW + 8.0  # the margin still runs
    assert learn(replace(silent, now=NOW + 8.0 + CFG.margin_s + 0.01), CFG).peer_back_until == 0
    back = replace(view(replica_db(), peer_primary()), memory=m)
    assert learn(back, CFG).peer_back_until == 0


def test_the_status_says_the_window_only_where_it_was_announced() -> None:
    v = view(primary_db(), None, node="node1", holds_vip=True)
    announced = Memory(restart_until=NOW + 7.5, restart_announced=True)
    doc = status_doc("node1", v, PRIMARY, announced, Journal().recent(1), NOW, 0.0)
    assert doc.back_within_s == 7.5 and not doc.peer_back
    inherited = Memory(restart_until=NOW + 7.5)  # the next agent: it says nothing
    assert status_doc("node1", v, PRIMARY, inherited, Journal().recent(1), NOW,
                      0.0).back_within_s == 0
    took = Memory(peer_back_until=NOW + 3)
    assert status_doc("node2", view(replica_db(), None), PRIMARY, took, Journal().recent(1),
                      NOW, 0.0).peer_back


def _agent(peer_takes: bool) -> SimpleNamespace:
    """The primary's agent as announce() sees it; the standby takes the
    window (its status says peer_back) 50 ms after the ask, or never."""
    from hapair.agent.core import events as ev

    v = view(primary_db(), peer_replica(), node="node1", holds_vip=True)
    agent = SimpleNamespace(
        view=v, decision=PRIMARY, memory=Memory(peer_complete=True), cfg=CFG1,
        peer=Peer(peer_replica(), ("interconnect",), 0.0), wake=threading.Event(),
        lease_row=SimpleNamespace(written=None, WHAT="the lease watch"),
        gate_row=SimpleNamespace(written=None, WHAT="the write gate"))
    agent.record = lambda e: setattr(agent, "memory", ev.changed(agent.memory, e))

    def standby() -> None:
        # After the ask (an answer from before it does not count), however
        # slowly the test's own thread gets there.
        while not agent.memory.restart_announced:
            time.sleep(0.01)
        time.sleep(0.05)
        agent.lease_row.written = agent.gate_row.written = time.time() + 10
        if peer_takes:
            agent.peer = Peer(peer_replica(peer_back=True), ("interconnect",), time.monotonic())
    threading.Thread(target=standby, daemon=True).start()
    return agent


def test_the_window_opens_once_the_standby_took_it_and_the_rows_hold_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restarting, "RESTART_WINDOW", str(tmp_path / "window"))
    agent = _agent(peer_takes=True)
    code, answer = restarting.announce(agent, asked(agent))  # type: ignore[arg-type]
    assert code == 200 and answer["back_within_s"] == restarting.WINDOW_S
    assert agent.memory.restart_announced and agent.memory.restart_until > time.monotonic()
    left = parse_window((tmp_path / "window").read_text(), time.clock_gettime(
        time.CLOCK_BOOTTIME))
    # The file holds milliseconds, rounded: read back at once, its end may
    # lie half a millisecond past the window (it failed so, 1 run in ~10).
    assert restarting.WINDOW_S - 1 < left <= restarting.WINDOW_S + 0.001


def test_a_window_the_standby_never_took_is_closed_again_and_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restarting, "RESTART_WINDOW", str(tmp_path / "window"))
    monkeypatch.setattr(restarting, "TAKE_WAIT_S", 0.3)
    agent = _agent(peer_takes=False)
    code, answer = restarting.announce(agent, asked(agent))  # type: ignore[arg-type]
    assert code == 409 and "node2 has not taken the window" in answer["error"]
    assert agent.memory.restart_until == 0 and not agent.memory.restart_announced
    assert not (tmp_path / "window").exists()
