"""Rules that relate fields of a spec to each other.

Each rule reads the sections it names (already validated one by one) and
yields findings; a rule whose sections failed to validate is skipped, so one
run reports every mistake it can see.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any, cast

from hapair.spec import lease
from hapair.spec.hardware import BOND_MODES, FENCE_RESERVED, Network, Networks, Storage
from hapair.spec.issues import Finding
from hapair.spec.models import SUPPORTED_NODES as PAIR
from hapair.spec.models import Agent, Database, Firewall, Node, Timing, Vip, Volume, Witness
from hapair.spec.web import PLACEHOLDERS, Web

Sections = Mapping[str, Any]

RuleFn = Callable[[Sections], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    needs: tuple[str, ...]
    check: RuleFn


RULES: list[Rule] = []


def rule(*needs: str) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        RULES.append(Rule(needs, fn))
        return fn

    return register


def run_rules(sections: Sections) -> list[Finding]:
    found: list[Finding] = []
    for r in RULES:
        if all(name in sections for name in r.needs):
            found.extend(r.check(sections))
    return found


def _host_in(addr: IPv4Address, net: IPv4Network) -> str | None:
    """Why ``addr`` cannot be a host address on ``net``, or None if it can."""
    if addr not in net:
        return f"{addr} is outside the network {net}"
    if net.prefixlen < 31 and addr in (net.network_address, net.broadcast_address):
        return f"{addr} is the network or broadcast address of {net}"
    return None


@rule("nodes", "networks")
def node_addresses(s: Sections) -> Iterator[Finding]:
    nets = cast(Networks, s["networks"])
    for i, node in enumerate(cast(tuple[Node, ...], s["nodes"])):
        for field in ("interconnect", "public"):
            net: Network = getattr(nets, field)
            why = _host_in(getattr(node, field), net.cidr)
            if why:
                yield Finding(("nodes", i, field), f"{why} (networks.{field}.cidr)")


@rule("nodes")
def node_count(s: Sections) -> Iterator[Finding]:
    nodes = cast(tuple[Node, ...], s["nodes"])
    if len(nodes) > PAIR:  # named at the first one too many, with its line
        yield Finding(("nodes", PAIR),
                      f"{len(nodes)} nodes, not {PAIR}: hapair runs a pair for now "
                      "(three or more are being built: docs/three-nodes.md)")


@rule("nodes")
def unique_nodes(s: Sections) -> Iterator[Finding]:
    nodes = cast(tuple[Node, ...], s["nodes"])
    yield from _duplicates(nodes, lambda n: [("name", n.name)])
    yield from _duplicates(nodes, lambda n: [("server_id", n.server_id)])
    yield from _duplicates(
        nodes, lambda n: [("interconnect", n.interconnect), ("public", n.public)]
    )


def _duplicates(
    nodes: tuple[Node, ...], values: Callable[[Node], list[tuple[str, object]]]
) -> Iterator[Finding]:
    seen: dict[object, tuple[int, str]] = {}
    for i, node in enumerate(nodes):
        for field, value in values(node):
            if value in seen:
                j, other = seen[value]
                yield Finding(
                    ("nodes", i, field),
                    f"{value} is already used by nodes[{j}].{other}; "
                    "each node needs its own",
                )
            else:
                seen[value] = (i, field)


@rule("networks")
def networks_apart(s: Sections) -> Iterator[Finding]:
    nets = cast(Networks, s["networks"])
    if nets.interconnect.cidr.overlaps(nets.public.cidr):
        yield Finding(
            ("networks", "public", "cidr"),
            f"{nets.public.cidr} overlaps the interconnect {nets.interconnect.cidr}; "
            "the two networks must be separate",
        )
    for name in ("interconnect", "public"):
        net: Network = getattr(nets, name)
        if net.bond is not None and net.interface is not None:
            yield Finding(
                ("networks", name, "interface"),
                "give either a bond or a plain interface, not both",
            )
        if net.gateway is not None:
            why = _host_in(net.gateway, net.cidr)
            if why:
                yield Finding(("networks", name, "gateway"), why)


@rule("networks")
def bonds(s: Sections) -> Iterator[Finding]:
    nets = cast(Networks, s["networks"])
    members: dict[str, str] = {}
    names: dict[str, str] = {}
    for name in ("interconnect", "public"):
        bond = cast(Network, getattr(nets, name)).bond
        if bond is None:
            continue
        loc = ("networks", name, "bond")
        if bond.mode not in BOND_MODES:
            yield Finding(
                (*loc, "mode"),
                f"unknown bond mode {bond.mode!r}; the Linux bonding driver knows "
                + ", ".join(BOND_MODES),
            )
        if bond.name in names:
            yield Finding((*loc, "name"), f"{bond.name} is already the {names[bond.name]} bond")
        names[bond.name] = name
        for member in bond.interfaces:
            if member in members:
                yield Finding(
                    (*loc, "interfaces"),
                    f"{member} is already a member of the {members[member]} bond",
                )
            members[member] = name
        if bond.primary is not None:
            if bond.mode != "active-backup":
                yield Finding((*loc, "primary"), "primary applies only to mode active-backup")
            elif bond.primary not in bond.interfaces:
                yield Finding((*loc, "primary"), f"{bond.primary} is not one of the interfaces")


@rule("vip", "networks")
def vip_network(s: Sections) -> Iterator[Finding]:
    vip = cast(Vip, s["vip"])
    net = cast(Network, getattr(s["networks"], vip.network))
    why = _host_in(vip.address, net.cidr)
    if why:
        yield Finding(("vip", "address"), f"{why} (networks.{vip.network}.cidr)")
    if vip.network != "public":
        yield Finding(
            ("vip", "network"),
            "clients reach the service on the public network; the interconnect is "
            "for the nodes only",
            severity="warning",
        )


@rule("vip", "nodes")
def vip_not_a_node(s: Sections) -> Iterator[Finding]:
    vip = cast(Vip, s["vip"])
    for i, node in enumerate(cast(tuple[Node, ...], s["nodes"])):
        if vip.address in (node.interconnect, node.public):
            yield Finding(("vip", "address"), f"{vip.address} is nodes[{i}]'s own address")


@rule("timing")
def timing(s: Sections) -> Iterator[Finding]:
    t = cast(Timing, s["timing"])
    if abs(round(t.advert_interval_s * 100) - t.advert_interval_s * 100) > 1e-6:
        yield Finding(
            ("timing", "advert_interval_s"),
            "VRRPv3 counts the advert interval in hundredths of a second",
        )
    if t.check_timeout_s > t.check_interval_s:
        yield Finding(
            ("timing", "check_timeout_s"),
            f"{t.check_timeout_s}s is longer than check_interval_s "
            f"({t.check_interval_s}s): checks would overlap",
        )
    # keepalived declares a silent master dead after about 3 adverts. A health
    # check that gives up faster than that fails over on a blip the protocol
    # itself would ride out.
    detect = t.check_interval_s * t.fall
    floor = 3 * t.advert_interval_s
    if detect < floor:
        yield Finding(
            ("timing", "fall"),
            f"check_interval_s x fall = {detect:g}s is shorter than 3 adverts "
            f"({floor:g}s): a single lost advert would look like a failure",
        )
    if detect > 30:
        yield Finding(
            ("timing", "fall"),
            f"check_interval_s x fall = {detect:g}s: a failed node keeps the VIP that long",
            severity="warning",
        )
    yield from lease.findings(t)


@rule("volume", "nodes")
def volume_nodes(s: Sections) -> Iterator[Finding]:
    vol = cast(Volume, s["volume"])
    nodes = cast(tuple[Node, ...], s["nodes"])
    known = {n.name for n in nodes}
    witness = cast(Witness | None, s.get("witness"))
    for i, name in enumerate(vol.bricks_on or ()):
        if name not in known:
            yield Finding(("volume", "bricks_on", i), f"{name!r} is not a node of this cluster")
    if vol.bricks_on is not None and len(set(vol.bricks_on)) < 2:
        yield Finding(("volume", "bricks_on"), "a replicated volume needs bricks on two nodes")
    if vol.arbiter is not None:
        allowed = known | ({witness.name} if witness else set())
        if vol.arbiter not in allowed:
            yield Finding(
                ("volume", "arbiter"),
                f"{vol.arbiter!r} is neither a node nor the witness of this cluster",
            )
        elif vol.arbiter in vol.brick_nodes(nodes):
            yield Finding(("volume", "arbiter"), f"{vol.arbiter!r} already holds a data brick")
    else:
        hint = (f'; the witness can hold the arbiter: arbiter = "{witness.name}"'
                if witness else "")
        yield Finding(
            ("volume", "arbiter"),
            "a replica-2 volume without an arbiter can split-brain when the nodes "
            "lose each other; hapair sets favorite-child-policy=mtime so the newest "
            "copy wins" + hint,
            severity="warning",
        )
    if vol.brick_path.startswith(vol.mount_point.rstrip("/") + "/"):
        yield Finding(("volume", "brick_path"), "the brick must not lie inside the mount point")


@rule("storage")
def raid_devices(s: Sections) -> Iterator[Finding]:
    st = cast(Storage | None, s["storage"])
    if st is None:
        return
    least = {0: 2, 1: 2, 5: 3, 6: 4, 10: 4}[st.level]
    if len(st.devices) < least:
        yield Finding(
            ("storage", "devices"),
            f"RAID {st.level} needs at least {least} devices, got {len(st.devices)}",
        )
    for i, dev in enumerate(st.devices):
        if st.devices.index(dev) != i:
            yield Finding(("storage", "devices", i), f"{dev} is listed twice")


@rule("database", "web", "agent")
def ports(s: Sections) -> Iterator[Finding]:
    used = {
        ("database", "port"): cast(Database, s["database"]).port,
        ("web", "port"): cast(Web, s["web"]).port,
        ("agent", "port"): cast(Agent, s["agent"]).port,
    }
    seen: dict[int, tuple[str, str]] = {80: ("apache", "port")}
    for loc, port in used.items():
        if port in seen:
            yield Finding(loc, f"port {port} is already taken by {'.'.join(seen[port])}")
        seen[port] = loc


@rule("witness", "nodes", "vip", "networks")
def witness_apart(s: Sections) -> Iterator[Finding]:
    w = cast(Witness | None, s["witness"])
    if w is None:
        return
    public = cast(Networks, s["networks"]).public.cidr
    if w.address not in public:
        yield Finding(("witness", "address"), f"{w.address} is not on the public network "
                      f"{public}: etcd's members talk there (docs/controller.md)")
    nodes = cast(tuple[Node, ...], s["nodes"])
    if w.name in {n.name for n in nodes}:
        yield Finding(("witness", "name"), "the witness must be a third host, not a node")
    taken = {a for n in nodes for a in (n.interconnect, n.public)} | {cast(Vip, s["vip"]).address}
    if w.address in taken:
        yield Finding(("witness", "address"), f"{w.address} is a node's address or the VIP")


@rule("nodes")
def fence_devices(s: Sections) -> Iterator[Finding]:
    nodes = cast(tuple[Node, ...], s["nodes"])
    have = [n.fence is not None for n in nodes]
    if any(have) and not all(have):
        i = have.index(False)
        yield Finding(("nodes", i, "fence"), f"{nodes[i].name} has no fence device while "
                      "its peer has one: give both nodes a device, or neither")
    for i, n in enumerate(nodes):
        if n.fence is None:
            continue
        for key in sorted(set(n.fence.options) & FENCE_RESERVED):
            yield Finding(("nodes", i, "fence", "options", key),
                          f"{key!r} is set by hapair (the password comes from the secrets "
                          f"file, fence_passwords.{n.name})")


@rule("nodes", "witness")
def two_node_quorum(s: Sections) -> Iterator[Finding]:
    fenced = all(n.fence is not None for n in cast(tuple[Node, ...], s["nodes"]))
    if fenced or s["witness"] is not None:
        return
    yield Finding(("witness",), "two nodes with neither a witness nor a fence device: when the "
                  "nodes lose each other, writes pause "
                  "rather than diverge (reads go on); `hapair degrade` resumes them on purpose",
                  severity="warning")


@rule("database")
def durability(s: Sections) -> Iterator[Finding]:
    if cast(Database, s["database"]).durability == "async":
        yield Finding(
            ("database", "durability"),
            "asynchronous replication: a standby never knows that it holds every confirmed "
            "booking, so it never takes over by itself: when the primary fails, writes stop "
            "until an operator forces a failover (`hapair switchover --to NODE --force`), "
            "which can lose the bookings confirmed just before",
            severity="warning",
        )


@rule("web")
def web_templates_and_commands(s: Sections) -> Iterator[Finding]:
    """What render and apply would trip on: an environment value naming a
    placeholder nobody fills, or a brace out of place; a setup command whose
    quotes do not close."""
    web = cast(Web, s["web"])
    known = set(PLACEHOLDERS)
    for key, template in web.env.items():
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as exc:
            yield Finding(("web", "env", key), f"not a valid template ({exc}); write a "
                          "literal brace as {{ or }}")
            continue
        unknown = sorted(names - known)
        if unknown:
            yield Finding(("web", "env", key), f"unknown placeholder {{{unknown[0]}}} (known: "
                          f"{', '.join('{' + k + '}' for k in PLACEHOLDERS)})")
    for i, command in enumerate(web.setup):
        try:
            shlex.split(command)
        except ValueError as exc:
            yield Finding(("web", "setup", i), f"cannot be split into words ({exc})")
    if web.tls == "files":
        for field in ("tls_cert", "tls_key"):
            if getattr(web, field) is None:
                yield Finding(("web", field), 'tls = "files" needs the certificate and its key '
                              "(tls_cert, tls_key: paths on every node)")
    elif web.tls_cert or web.tls_key:
        yield Finding(("web", "tls_cert" if web.tls_cert else "tls_key"),
                      f'is used only with tls = "files" (tls is "{web.tls}")')


@rule("web", "firewall")
def web_limits(s: Sections) -> Iterator[Finding]:
    """Limits that contradict each other: a header deadline below its start,
    an upload cap below the ordinary one, or one address allowed every
    Apache worker (the cap exists so that it cannot take them all)."""
    limits, fw = cast(Web, s["web"]).limits, cast(Firewall, s["firewall"])
    if limits.header_max_s < limits.header_timeout_s:
        yield Finding(("web", "limits", "header_max_s"), f"is below header_timeout_s "
                      f"({limits.header_max_s} < {limits.header_timeout_s})")
    if limits.upload_max_bytes < limits.body_max_bytes:
        yield Finding(("web", "limits", "upload_max_bytes"), "is below body_max_bytes: the "
                      "upload paths would take less than every other path")
    cap = fw.web_connections_per_source
    if fw.enabled and (cap == 0 or cap >= limits.max_connections):
        yield Finding(("firewall", "web_connections_per_source"),
                      f"{cap or 'no cap'} lets one client address hold every Apache worker "
                      f"(web.limits.max_connections = {limits.max_connections}): one slow "
                      "client would stop everybody's bookings", severity="warning")
