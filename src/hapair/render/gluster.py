"""The GlusterFS plan: peers, the replicated volume, its options, the mounts.

The volume is created once, from the first node; every node mounts it from
its own address (a mount through a dead first server waits ~42 s).

The pool and the bricks are named by host name, never by address, and each
host's /etc/hosts says where a name is (`names`): on the nodes, a node is its
interconnect address (the data stays on the interconnect); on the witness,
which is not on the interconnect, a node is its public address. So the
witness can hold the arbiter brick (names and metadata only, no data)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from hapair.render.files import RenderedFile, header, host_header
from hapair.render.systemd import UNIT_DIR, mount_unit
from hapair.spec.models import ClusterSpec, Node

PLAN_PATH = "/etc/hapair/gluster-plan.json"


@dataclass(frozen=True)
class GlusterPlan:
    volume: str
    peers: tuple[str, ...]  # host names, first node first
    bricks: tuple[str, ...]  # "name:/path", the arbiter last
    create: tuple[str, ...]  # argv of `gluster volume create`
    # argv that turns a live replica-2 volume into this one (the arbiter
    # added), or () when the plan has no arbiter.
    add_arbiter: tuple[str, ...]
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
        # close() returns once the data is on the bricks: a write the volume
        # refuses (the losing side of a cut, a full brick) fails the writer,
        # not a background flush nobody hears of. Seen in the lab: a write
        # from the arbiter's losing side "succeeded", its refusal unseen.
        "performance.flush-behind": "off",
        # Bricks and volfiles served to the pool's own addresses only, not to
        # anyone the firewall lets through (a first apply, a firewall off).
        "auth.allow": ",".join(pool_addresses(spec)),
        # TLS on the bricks' I/O (glusterd's own port: SECURE_ACCESS), each
        # side's certificate from the cluster CA, and of those only the
        # pool's own hosts by name (a certificate's CN) let in.
        **TLS_OPTIONS,
        "auth.ssl-allow": ",".join(pool_names(spec)),
    }
    if vol.arbiter is None:
        # Replica 2: both sides of a partition accept writes; the newest copy
        # wins afterwards instead of EIO on split-brain.
        opts["cluster.quorum-type"] = "none"
        opts["cluster.favorite-child-policy"] = "mtime"
    else:
        # With an arbiter the isolated side refuses writes and heals cleanly.
        opts["cluster.quorum-type"] = "auto"
        # A write returns only once the others' bricks are marked stale (AFR
        # otherwise delays that mark 1 s, and a write from the other side of a
        # cut within that second was taken: seen in the lab).
        opts["cluster.post-op-delay-secs"] = "0"
    return opts


#: The volume's options that a running brick or mount never takes: changed on
#: a started volume, its bricks restart and every mount is made again.
TLS_OPTIONS = {"client.ssl": "on", "server.ssl": "on"}

#: On every host of the pool, glusterd's management port speaks TLS when this
#: file exists (read at glusterd's start, and by each brick and mount at its
#: own). Depth 1: a peer's certificate signed by the CA in glusterfs.ca.
SECURE_ACCESS = "/var/lib/glusterd/secure-access"
SECURE_ACCESS_TEXT = "option transport.socket.ssl-cert-depth 1\n"


def restarts_volume(have: dict[str, str], want: dict[str, str]) -> bool:
    """Whether setting want on a started volume whose options are have calls
    for its bricks' restart (pure): a TLS option changed."""
    return any(have.get(k) != want.get(k) for k in TLS_OPTIONS if k in want)


def pool_names(spec: ClusterSpec) -> list[str]:
    """Every host of the pool by name: the nodes, and the arbiter's host."""
    return list(dict.fromkeys([*(n.name for n in spec.nodes),
                               *([spec.volume.arbiter] if spec.volume.arbiter else [])]))


def pool_addresses(spec: ClusterSpec) -> list[str]:
    """Every address a host of the pool connects from (pure): each node's
    interconnect and public ones, the witness's, and loopback."""
    found = ["127.0.0.1"]
    for n in spec.nodes:
        found += [str(n.interconnect), str(n.public)]
    if spec.witness is not None:
        found.append(str(spec.witness.address))
    return list(dict.fromkeys(found))


def names(spec: ClusterSpec, *, on_witness: bool) -> list[tuple[str, str]]:
    """(address, name) of every host of the pool, as one host resolves them:
    the nodes by their interconnect addresses, or by their public ones on the
    witness; the witness by its (public) address."""
    out = [(str(n.public if on_witness else n.interconnect), n.name) for n in spec.nodes]
    if spec.witness is not None:
        out.append((str(spec.witness.address), spec.witness.name))
    return out


def plan(spec: ClusterSpec, node: Node) -> GlusterPlan:
    vol = spec.volume
    bricks = [f"{n}:{vol.brick_path}" for n in vol.brick_nodes(spec.nodes)]
    layout = ["replica", str(len(bricks))]
    add_arbiter: tuple[str, ...] = ()
    if vol.arbiter is not None:
        arbiter = f"{vol.arbiter}:{vol.brick_path}"
        bricks.append(arbiter)
        layout = ["replica", str(len(bricks)), "arbiter", "1"]
        add_arbiter = ("gluster", "volume", "add-brick", vol.name, *layout, arbiter, "force")
    # force: bricks may sit on the root filesystem (the lab, small servers).
    create = ("gluster", "volume", "create", vol.name, *layout, *bricks, "force")
    peers = tuple(dict.fromkeys(a.split(":", 1)[0] for a in bricks))
    return GlusterPlan(
        volume=vol.name,
        peers=peers,
        bricks=tuple(bricks),
        create=create,
        add_arbiter=add_arbiter,
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
        lazy=True,
    )
    return [RenderedFile(PLAN_PATH, text, 0o644, "gluster"), unit,
            glusterd_dropin(header(spec, node))]


GLUSTERD_DROPIN = f"{UNIT_DIR}/glusterd.service.d/hapair.conf"


def glusterd_dropin(head: str) -> RenderedFile:
    """glusterd's unit as upstream GlusterFS ships it, `KillMode=process`:
    stopping glusterd stops glusterd, not the host's bricks and self-heal
    daemon with it (Debian's unit says control-group). apply restarts those
    itself where it means to (deploy/gluster_ops.py `restart_with_bricks`).
    In the lab's containers, systemd could not tell when the bricks of a
    control group it failed to kill had gone (`Failed to kill control group
    ...: Input/output error`), and a restart of glusterd hung in
    final-sigterm for the unit's 300 s timeout (seen in CI, more than once
    a run)."""
    text = head + "[Service]\nKillMode=process\n"
    return RenderedFile(GLUSTERD_DROPIN, text, 0o644, "systemd")


def render_witness(spec: ClusterSpec) -> list[RenderedFile]:
    """The witness's Gluster files: glusterd's drop-in where it holds the arbiter."""
    w = spec.witness
    if w is None or spec.volume.arbiter != w.name:
        return []
    return [glusterd_dropin(host_header(spec, f"witness {w.name}"))]


