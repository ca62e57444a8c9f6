"""The keeper: a thread that reads the witness's two keys every cycle and,
while this node is the primary by epoch and holds the leader key, writes it
again (a new revision: the lease the standby watches). It also carries out
the loop's writes (take the key, the sync record), always by
compare-and-swap. What it saw is one frozen ``Witness`` for the next view."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from hapair.agent.core.actions import Claim
from hapair.agent.core.view import Witness
from hapair.agent.core.witness_rules import refusal
from hapair.agent.node.dcs import Etcd, EtcdAccess, EtcdError, Keys, key_names
from hapair.agent.node.etcd_leader import LeaderMover
from hapair.paths import ETCD_AGENT_CERT, ETCD_AGENT_KEY, ETCD_AGENT_USER, ETCD_CA
from hapair.spec.models import ClusterSpec, Node

if TYPE_CHECKING:
    from hapair.agent.core.view import View

log = logging.getLogger("hapair.agent")
CLAIM_TRIES = 3  # a compare-and-swap lost to our own renewal is tried again


class Lost(RuntimeError):
    """A compare-and-swap found the keys changed: someone else acted first."""


class Keeper:
    def __init__(self, etcd: Etcd, cluster: str, node: str) -> None:
        self.etcd = etcd
        self.node = node
        self.leader_key, self.sync_key = key_names(cluster)
        self.cluster = cluster
        self.lock = threading.Lock()  # one request at a time; state replaced whole
        self.state = Witness(ok=False, error="not read yet")

    # ---- reading, and renewing the key this node holds ---------------------------------

    def round(self, view: View | None) -> Witness:
        with self.lock:
            try:
                keys = self.etcd.read(self.cluster)
            except EtcdError as exc:
                return self._failed(exc)
            self._seen(keys)
            if keys.leader_node == self.node and _may_renew(view, self.node):
                assert view is not None
                # A view taken before this node's promotion shows the old epoch.
                epoch = max(view.db.epoch, keys.leader_epoch)
                sent = time.monotonic()
                try:
                    rev = self.etcd.swap(self.leader_key, self._value(epoch),
                                         {self.leader_key: keys.leader.rev})
                except EtcdError as exc:
                    return self._failed(exc)
                if rev:
                    self.state = replace(self.state, leader_rev=rev, renewed=sent,
                                         leader_epoch=epoch, leader_seen=time.monotonic())
            return self.state

    def _value(self, epoch: int) -> dict[str, object]:
        return {"node": self.node, "epoch": epoch}

    def _seen(self, keys: Keys) -> None:
        now = time.monotonic()
        s = self.state
        if not s.ok:
            log.info("witness: a majority answers (leader %s, complete %s)",
                     keys.leader_node or "none", keys.complete or "none")
        seen = s.leader_seen if keys.leader.rev == s.leader_rev and s.leader_seen else now
        self.state = Witness(ok=True, leader=keys.leader_node, leader_epoch=keys.leader_epoch,
                             leader_rev=keys.leader.rev, leader_seen=seen,
                             complete=keys.complete, sync_rev=keys.sync.rev,
                             renewed=s.renewed)

    def _failed(self, exc: Exception) -> Witness:
        if self.state.ok or self.state.error == "not read yet":
            what = "etcd refuses this agent" if refusal(str(exc)) else "no answer from a majority"
            log.warning("witness: %s: %s", what, exc)
        self.state = replace(self.state, ok=False, error=str(exc))
        return self.state

    # ---- the loop's writes -------------------------------------------------------------------

    def claim(self, epoch: int, claim: Claim | None = None) -> None:
        """Take the leader key for ``epoch``. Lost if the keys moved."""
        with self.lock:
            for _ in range(CLAIM_TRIES):
                keys = self.etcd.read(self.cluster)
                self._seen(keys)
                expect = {self.leader_key: keys.leader.rev}
                if claim is None and keys.leader_node not in ("", self.node) \
                        and keys.leader_epoch >= epoch:
                    raise Lost(f"{keys.leader_node} holds the leader key for epoch "
                               f"{keys.leader_epoch}")
                if claim is not None and claim.leader_rev is not None \
                        and keys.leader.rev != claim.leader_rev:
                    raise Lost(f"the leader key moved (revision {keys.leader.rev}, "
                               f"{keys.leader_node or 'none'})")
                if claim is not None and claim.sync_rev is not None:
                    if keys.sync.rev != claim.sync_rev or keys.complete != self.node:
                        raise Lost(f"the sync record changed (it names "
                                   f"{keys.complete or 'no node'})")
                    expect[self.sync_key] = keys.sync.rev
                sent = time.monotonic()
                rev = self.etcd.swap(self.leader_key, self._value(epoch), expect)
                if rev:
                    self.state = replace(self.state, leader=self.node, leader_epoch=epoch,
                                         leader_rev=rev, leader_seen=time.monotonic(),
                                         renewed=sent)
                    log.info("witness: this node holds the leader key (epoch %d)", epoch)
                    return
            raise Lost("the leader key kept changing")

    def write_sync(self, complete: str) -> None:
        """The leader's record of the complete node. Lost unless this node
        still holds the leader key."""
        with self.lock:
            for _ in range(CLAIM_TRIES):
                keys = self.etcd.read(self.cluster)
                self._seen(keys)
                if keys.leader_node != self.node:
                    raise Lost(f"the witness names {keys.leader_node or 'no node'} the leader")
                rev = self.etcd.swap(self.sync_key, {"complete": complete},
                                     {self.leader_key: keys.leader.rev,
                                      self.sync_key: keys.sync.rev})
                if rev:
                    self.state = replace(self.state, complete=complete, sync_rev=rev)
                    log.info("witness: sync record now names %s complete",
                             complete or "no node")
                    return
            raise Lost("the keys kept changing")


def _may_renew(view: View | None, node: str) -> bool:
    """The primary by epoch, not fenced: writable, or paused and may reopen."""
    return (view is not None and view.db.up and view.db.epoch_primary == node
            and not view.memory.fenced_by)


def run(keeper: Keeper, view: Callable[[], View | None], interval: float) -> None:
    """Never dies: a keeper that stopped would let the lease run out."""
    while True:
        start = time.monotonic()
        try:
            keeper.round(view())
        except Exception:  # noqa: BLE001 - keep going whatever happened
            log.exception("witness keeper")
        time.sleep(max(0.0, interval - (time.monotonic() - start)))


def keeper_for(spec: ClusterSpec, node: Node, password: str) -> Keeper | None:
    """The local member first (it answers while this node is in the majority),
    then the witness, then the peer."""
    if spec.witness is None:
        return None
    client = spec.witness.port
    peer = spec.peer(node)
    urls = (f"https://127.0.0.1:{client}", f"https://{spec.witness.address}:{client}",
            f"https://{peer.public}:{client}")
    access = EtcdAccess(urls, ETCD_CA, ETCD_AGENT_CERT, ETCD_AGENT_KEY, ETCD_AGENT_USER, password)
    return Keeper(Etcd(access), spec.name, node.name)


def leader_mover_for(spec: ClusterSpec, keeper: Keeper) -> LeaderMover | None:
    """Who keeps etcd's leader on the witness (etcd_leader.py); None without one."""
    if spec.witness is None:
        return None
    return LeaderMover(keeper.etcd.access, spec.witness.name)


def primary_by_epoch(view: Callable[[], View | None], node: str) -> Callable[[], bool]:
    """Whether this node is the primary by epoch now (the leader key's holder's test)."""
    return lambda: _may_renew(view(), node)
