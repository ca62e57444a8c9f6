"""Each event beside the loop changes exactly the fields it names."""

from dataclasses import fields, replace

import pytest

from hapair.agent.core import events as ev
from hapair.agent.core.view import Memory, Task
from hapair.model.roles import Role

# Not the defaults, so that a field an event should clear is seen cleared.
BUSY = replace(Memory(), switchover_to="node1", force=True, degraded=True, peer_complete=True,
               fenced_by="node2", paused=True, fence_failed_at=9.0, fence_note="old",
               restart_announced=True)

TASK = Task(Role.PROMOTING, "promoting", 1.0)
CASES: list[tuple[ev.Event, dict[str, object]]] = [
    (ev.Announced(1.0), {"announced_at": 1.0}),
    (ev.ReplicationKicked(2.0), {"replication_kicked": 2.0}),
    (ev.Healed(3.0), {"last_heal": 3.0}),
    (ev.PeerPoweredOff(4.0, "off"), {"peer_off_at": 4.0, "fence_failed_at": 0.0,
                                     "fence_note": "off"}),
    (ev.FenceFailed(5.0, "x" * 300), {"fence_failed_at": 5.0, "fence_note": "x" * 200}),
    (ev.FenceChecked("12:00:00 on"), {"fence_check": "12:00:00 on"}),
    (ev.PeerFenced(6.0), {"peer_fenced_at": 6.0}),
    (ev.PromotionFailed(7.0, "y" * 300), {"promote_failed_at": 7.0, "promote_note": "y" * 200}),
    (ev.Promoted(), {"switchover_to": "", "force": False, "degraded": False,
                     "peer_complete": False}),
    (ev.FencedBy("node2", 8.0), {"fenced_by": "node2", "fenced_at": 8.0}),
    (ev.Draining(12.5), {"drain_until": 12.5}),
    (ev.WritesClosed(3.5), {"writes_closed_at": 3.5}),
    (ev.Paused(False), {"paused": False}),
    (ev.Maintenance(True), {"maintenance": True}),
    (ev.Degraded(), {"degraded": True}),
    (ev.SwitchoverAsked(False, to="node2"), {"switchover_to": "node2", "force": False}),
    (ev.SwitchoverDropped(), {"switchover_to": "", "force": False}),
    (ev.TaskChanged(TASK), {"task": TASK}),
    (ev.RebuildLater(10.0), {"rebuild_after": 10.0}),
    (ev.Stopping(), {"stopping": True}),
    (ev.RestartWindow(9.0, announced=True), {"restart_until": 9.0, "restart_announced": True}),
    (ev.RestartWindow(9.0), {"restart_until": 9.0, "restart_announced": False}),
    (ev.RestartWindow(0.0, announced=True), {"restart_until": 0.0, "restart_announced": False}),
    (ev.Restored(), {"fenced_by": "", "switchover_to": "", "paused": False}),
]


@pytest.mark.parametrize(("event", "expected"), CASES, ids=lambda c: type(c).__name__)
def test_an_event_changes_what_it_names_and_nothing_else(event: ev.Event,
                                                         expected: dict[str, object]) -> None:
    after = ev.changed(BUSY, event)
    for f in fields(Memory):
        want = expected.get(f.name, getattr(BUSY, f.name))
        assert getattr(after, f.name) == want, f.name


def test_every_event_has_a_row() -> None:
    assert {type(e) for e, _ in CASES} == set(ev.Event.__args__)  # type: ignore[attr-defined]
