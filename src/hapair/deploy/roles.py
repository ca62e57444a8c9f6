"""Which node apply treats as the primary, from what the databases say."""

from __future__ import annotations

from dataclasses import dataclass

from hapair.probes.mariadb import META_SCHEMA, MariaDBState
from hapair.spec.models import ClusterSpec, Node


class RoleError(Exception):
    pass


@dataclass(frozen=True)
class Roles:
    primary: Node
    replica: Node
    fresh: bool  # no replication anywhere yet: apply opens the first primary
    reason: str


def choose_roles(spec: ClusterSpec, states: dict[str, MariaDBState | None]) -> Roles:
    """A running cluster keeps its primary; a fresh one starts on the first node."""
    # Only a server already running on hapair's config (its own server_id)
    # counts: a fresh package install is writable but belongs to no cluster yet.
    up = {n.name: s for n in spec.nodes
          if (s := states.get(n.name)) is not None and s.up and s.server_id == n.server_id}
    managed = any(META_SCHEMA in s.schemas or s.slave.configured for s in up.values())
    if not managed:
        first = spec.nodes[0]
        return Roles(first, spec.peer(first), True,
                     f"a new cluster: {first.name}, the first node, starts as primary")
    writable = [n for n in spec.nodes if (s := up.get(n.name)) and not s.read_only]
    if len(writable) > 1:
        raise RoleError(
            "both nodes accept writes: refusing to touch the databases "
            "(two writable primaries; see `hapair status`)"
        )
    if writable:
        p = writable[0]
        return Roles(p, spec.peer(p), False, f"{p.name} is the writable primary")
    # None writable (writes paused): the agents' truth, the newest epoch, names it.
    newest = max(up.values(), key=lambda s: s.epoch)
    named = [n for n in spec.nodes if n.name == newest.epoch_primary]
    if newest.epoch and named:
        return Roles(named[0], spec.peer(named[0]), False,
                     f"{named[0].name} is the primary by epoch {newest.epoch} (writes paused)")
    for n in spec.nodes:
        s = up.get(n.name)
        if s and s.slave.configured:
            for other in spec.nodes:
                if s.slave.master_host in (str(other.interconnect), str(other.public)):
                    return Roles(other, n, False,
                                 f"{n.name} replicates from {other.name}")
    raise RoleError(
        "the cluster was set up before, but no node is writable and none replicates: "
        "apply will not guess the primary (see `hapair status`)"
    )
