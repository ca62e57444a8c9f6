"""The lease's write gate: which triggers to make or drop (pure), and which
answers of the peer renew the lease."""

from __future__ import annotations

from hapair.agent.node import write_gate
from hapair.agent.node.peer import renews_lease
from hapair.model.roles import Role
from hapair.model.status import StatusDoc


def test_every_table_gets_its_three_triggers_once_and_older_versions_go() -> None:
    have = [(write_gate.trigger_name("bookings", e), "bookings", e) for e in write_gate.EVENTS]
    old = [("hapair_lease1_i_rooms", "rooms", "INSERT")]
    create, drop = write_gate.plan(["rooms", "bookings"], have + old)
    assert create == [("rooms", "INSERT"), ("rooms", "UPDATE"), ("rooms", "DELETE")]
    assert drop == ["hapair_lease1_i_rooms"]
    assert write_gate.plan(["bookings"], have) == ([], [])


def test_trigger_names_are_unique_and_fit_mariadb_s_limit() -> None:
    long_a, long_b = "t" * 60 + "a", "t" * 60 + "b"
    names = {write_gate.trigger_name(t, e) for t in ("x", long_a, long_b)
             for e in write_gate.EVENTS}
    assert len(names) == 9 and all(len(n) <= 64 for n in names)
    assert write_gate.trigger_name("bookings", "UPDATE") == "hapair_lease2_u_bookings"


def test_the_trigger_refuses_with_the_read_only_error_and_quotes_names() -> None:
    sql = write_gate.trigger_sql("app", "odd`name", "DELETE")
    assert "BEFORE DELETE ON `app`.`odd``name` FOR EACH ROW" in sql
    assert "@@GLOBAL.read_only = 0" in sql and "MYSQL_ERRNO = 1290" in sql


def test_only_a_peer_that_cannot_be_writing_renews_the_lease() -> None:
    """A primary resuming from a pause, answered by the node that took over,
    must not read the answer as leave to go on."""
    replica = StatusDoc(node="node2", read_only=True, role=Role.REPLICA)
    assert renews_lease(replica)
    assert renews_lease(replica.model_copy(update={"role": Role.CANDIDATE}))
    assert not renews_lease(None)
    assert not renews_lease(replica.model_copy(update={"read_only": False}))
    for role in (Role.PROMOTING, Role.FENCING):
        assert not renews_lease(replica.model_copy(update={"role": role})), role
    # A primary just fenced, read-only, not yet rejoined: it renews the new
    # primary's lease (counting it out closed the new primary).
    assert renews_lease(replica.model_copy(update={"role": Role.PRIMARY_PAUSED}))


def test_a_poll_that_outlasted_a_pause_is_thrown_away() -> None:
    """The answer of a poll that took far longer than its timeout may have
    waited in a socket since before this machine was paused: it renews
    nothing and says nothing of the peer (a resumed primary reopened on
    such an answer, 8 s after its peer had promoted)."""
    import threading
    import time

    from hapair.agent.core.config import from_spec
    from hapair.agent.node.peer import Contact, PeerClient
    from tests.unit.test_decide import SPEC

    class Slow(PeerClient):
        delay = 0.0

        def _status(self, path: str) -> StatusDoc | None:  # type: ignore[override]
            time.sleep(self.delay)
            return StatusDoc(node="node2", read_only=True, role=Role.REPLICA)

    cfg = from_spec(SPEC, SPEC.nodes[0])
    client = Slow(cfg, "poller", "token", "/nonexistent", timeout=0.05)
    contact = Contact(0.0, 0.0, threading.Lock())
    assert client.poll(contact).paths and contact.read()[0] > 0  # a prompt answer renews
    before = contact.read()
    client.delay = 0.2  # four timeouts: the machine stood still meanwhile
    peer = client.poll(contact)
    assert (peer.status, peer.paths) == (None, ()) and contact.read() == before
