"""The agents' use of etcd against a real etcd (TLS, authentication on, set up
by the same calls apply makes): two keepers, node1 and node2, share it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from hapair.agent.core.actions import Claim
from hapair.agent.core.view import Memory, View
from hapair.agent.node.dcs import Etcd, EtcdError, key_names
from hapair.agent.node.witness import Keeper, Lost
from tests.support.etcd import EtcdServer, etcd_server
from tests.unit.test_decide import primary_db, replica_db, view

pytestmark = pytest.mark.tools
SLOW_OK = 3.0  # a loaded test machine: the agents' 0.5 s is for a cluster, not for this


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    with etcd_server(tmp_path_factory.mktemp("etcd"), "t") as s:
        yield s


def _node1_primary(epoch: int = 3) -> View:
    return view(primary_db(epoch=epoch), None, node="node1")


def test_the_primary_claims_renews_and_names_the_standby(server: EtcdServer) -> None:
    one, two = (Keeper(Etcd(server.access, timeout=SLOW_OK), "t", n) for n in ("node1", "node2"))
    one.claim(3)
    first = one.state.leader_rev
    renewed = one.round(_node1_primary())
    assert renewed.ok and renewed.leader == "node1" and renewed.leader_rev > first
    one.write_sync("node2")
    seen = two.round(view(replica_db(), None))
    assert (seen.leader, seen.leader_epoch, seen.complete) == ("node1", 3, "node2")
    assert seen.renewed == 0.0  # node2 holds nothing: it never writes the key

    # node2 takes over only with the sync record as it read it, in one swap.
    with pytest.raises(Lost, match="leader key moved"):
        two.claim(4, Claim(seen.leader_rev - 1, seen.sync_rev))
    one.write_sync("")
    with pytest.raises(Lost, match="sync record changed"):
        two.claim(4, Claim(None, seen.sync_rev))
    one.write_sync("node2")
    now = two.round(view(replica_db(), None))
    two.claim(4, Claim(now.leader_rev, now.sync_rev))
    assert two.round(view(replica_db(), None)).leader == "node2"

    # node1 no longer renews (the key names node2), and may not write the sync record.
    after = one.round(_node1_primary())
    assert after.leader == "node2" and after.leader_epoch == 4
    with pytest.raises(Lost, match="names node2"):
        one.write_sync("")
    # Nor take the key back on its own word: node2 holds it for a newer epoch.
    with pytest.raises(Lost, match="node2 holds the leader key for epoch 4"):
        one.claim(3)


def test_a_fenced_primary_does_not_renew(server: EtcdServer) -> None:
    one = Keeper(Etcd(server.access, timeout=SLOW_OK), "t", "node1")
    one.claim(9)
    v = _node1_primary(9)
    rev = one.round(v).leader_rev
    fenced = replace(v, memory=Memory(fenced_by="node2"))
    assert one.round(fenced).leader_rev == rev


def test_no_majority_is_an_answer_not_a_hang(server: EtcdServer) -> None:
    url = server.access.urls[0].rsplit(":", 1)[0] + ":1"  # nothing listens there
    keeper = Keeper(Etcd(replace(server.access, urls=(url,)), timeout=SLOW_OK), "t", "node1")
    seen = keeper.round(None)
    assert not seen.ok and "127.0.0.1" in seen.error


def test_the_agents_user_is_confined_to_the_cluster_s_keys(server: EtcdServer) -> None:
    etcd = Etcd(server.access, timeout=SLOW_OK)
    with pytest.raises(EtcdError, match="permission denied"):
        etcd.swap("/elsewhere", {"x": 1}, {"/elsewhere": 0})
    with pytest.raises(EtcdError, match="authentication failed|invalid"):
        Etcd(replace(server.access, password="wrong-password"), timeout=SLOW_OK).read("t")
    leader, _ = key_names("t")
    assert leader == "/hapair/t/leader"


@contextmanager
def _silent_member() -> Iterator[str]:
    """A member that takes the connection and never says a word (a member
    without a leader, or behind a dropped link, looks like this)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"https://127.0.0.1:{s.getsockname()[1]}"


def test_a_silent_member_delays_a_read_by_the_hedge_not_its_timeout(server: EtcdServer) -> None:
    """Asked in turn, a silent member first cost its whole timeout on every
    read (seconds, during an etcd election); now the others are asked as soon
    as it is slow, and it is not asked again while its request hangs."""
    with _silent_member() as silent:
        etcd = Etcd(replace(server.access, urls=(silent, *server.access.urls)), timeout=SLOW_OK)
        took = []
        for _ in range(3):
            start = time.monotonic()
            etcd.read("t")
            took.append(time.monotonic() - start)
        assert max(took) < SLOW_OK / 2, took
        assert etcd.last == 1  # writes now go to the member that answers
        assert etcd.swap("/hapair/t/probe", {"x": 1}, {"/hapair/t/probe": 0}) > 0
