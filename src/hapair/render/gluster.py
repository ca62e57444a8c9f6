"""The GlusterFS plan: peers, the replicated volume, its options, the mounts.

The volume is created once, from the first node; every node mounts it from
its own address (a mount through a dead first server waits ~42 s)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from hapair.render.files import RenderedFile
from hapair.render.systemd import mount_unit
from hapair.spec.models import ClusterSpec, Node

PLAN_PATH = "/etc/hapair/gluster-plan.json"


@dataclass(frozen=True)
class GlusterPlan:
    volume: str
    peers: tuple[str, ...]  # interconnect addresses, first node first
    bricks: tuple[str, ...]  # "address:/path", the arbiter last
    create: tuple[str, ...]  # argv of `gluster volume create`
    options: dict[str, str]
    mount_source: str


def options(spec: ClusterSpec) -> dict[str, str]:
    vol = spec.volume
    opts = {
        # A vanished server stalls clients for ping-timeout (42 s by default).
        "network.ping-timeout": str(vol.ping_timeout_s),
        # The self-heal daemon crawls every heal-timeout (600 s by default).
        "cluster.heal-timeout": str(vol.heal_timeout_s),
        "cluster.self-heal-daemon": "on",
    }
    if vol.arbiter is None:
        # Replica 2: both sides of a partition accept writes; the newest copy
        # wins afterwards instead of EIO on split-brain.
        opts["cluster.quorum-type"] = "none"
        opts["cluster.favorite-child-policy"] = "mtime"
    else:
        # With an arbiter the isolated side refuses writes and heals cleanly.
        opts["cluster.quorum-type"] = "auto"
    return opts


def _address_of(spec: ClusterSpec, name: str) -> str:
    if spec.witness is not None and spec.witness.name == name:
        return str(spec.witness.address)
    return str(spec.node(name).interconnect)


def plan(spec: ClusterSpec, node: Node) -> GlusterPlan:
    vol = spec.volume
    data = [_address_of(spec, n) for n in vol.brick_nodes(spec.nodes)]
    bricks = [f"{a}:{vol.brick_path}" for a in data]
    layout = ["replica", str(len(bricks))]
    if vol.arbiter is not None:
        bricks.append(f"{_address_of(spec, vol.arbiter)}:{vol.brick_path}")
        layout = ["replica", str(len(bricks)), "arbiter", "1"]
    # force: bricks may sit on the root filesystem (the lab, small servers).
    create = ("gluster", "volume", "create", vol.name, *layout, *bricks, "force")
    peers = tuple(dict.fromkeys(a.split(":", 1)[0] for a in bricks))
    return GlusterPlan(
        volume=vol.name,
        peers=peers,
        bricks=tuple(bricks),
        create=create,
        options=options(spec),
        mount_source=f"{node.interconnect}:/{vol.name}",
    )


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    p = plan(spec, node)
    text = json.dumps(asdict(p), indent=2, sort_keys=True) + "\n"
    unit = mount_unit(
        spec,
        node,
        what=p.mount_source,
        where=spec.volume.mount_point,
        fstype="glusterfs",
        options="_netdev",
        after=("glusterd.service",),
    )
    return [RenderedFile(PLAN_PATH, text, 0o644, "gluster"), unit]


