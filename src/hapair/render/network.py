"""The two networks and their bonds: netplan YAML and ifupdown interfaces."""

from __future__ import annotations

from hapair.render.files import RenderedFile, header
from hapair.spec.hardware import Network
from hapair.spec.models import ClusterSpec, Node

NETPLAN_PATH = "/etc/netplan/60-hapair.yaml"
IFUPDOWN_PATH = "/etc/network/interfaces.d/hapair"
NETWORKS = ("interconnect", "public")


def _networks(spec: ClusterSpec, node: Node) -> list[tuple[str, Network, str]]:
    """(name, network, this node's address with prefix) for each network."""
    out = []
    for name in NETWORKS:
        net: Network = getattr(spec.networks, name)
        addr = node.interconnect if name == "interconnect" else node.public
        out.append((name, net, f"{addr}/{net.cidr.prefixlen}"))
    return out


def netplan(spec: ClusterSpec, node: Node) -> RenderedFile:
    ethernets: list[str] = []
    bonds: list[str] = []
    for name, net, cidr in _networks(spec, node):
        lines = [f"      # the {name} network, {net.cidr}", f"      addresses: [{cidr}]"]
        if net.gateway is not None:
            lines += ["      routes:", "        - to: default", f"          via: {net.gateway}"]
        if net.bond is None:
            ethernets += [f"    {net.device}:", "      dhcp4: false", *lines]
            continue
        b = net.bond
        for member in b.interfaces:
            ethernets += [f"    {member}:", "      dhcp4: false"]
        params = [f"        mode: {b.mode}", f"        mii-monitor-interval: {b.miimon_ms}"]
        if b.primary:
            params.append(f"        primary: {b.primary}")
        bonds += [
            f"    {b.name}:",
            f"      interfaces: [{', '.join(b.interfaces)}]",
            *lines,
            "      parameters:",
            *params,
        ]
    body = ["network:", "  version: 2", "  renderer: networkd", "  ethernets:", *ethernets]
    if bonds:
        body += ["  bonds:", *bonds]
    text = header(spec, node) + "\n".join(body) + "\n"
    # netplan refuses world-readable configuration files.
    return RenderedFile(NETPLAN_PATH, text, 0o600, "network")


def ifupdown(spec: ClusterSpec, node: Node) -> RenderedFile:
    """For ifupdown with the ifenslave package (older systems, like the guide's 14.04)."""
    blocks: list[str] = []
    for name, net, cidr in _networks(spec, node):
        gateway = [f"    gateway {net.gateway}"] if net.gateway else []
        if net.bond is None:
            blocks.append(
                "\n".join([f"# the {name} network, {net.cidr}", f"auto {net.device}",
                           f"iface {net.device} inet static", f"    address {cidr}", *gateway])
            )
            continue
        b = net.bond
        for member in b.interfaces:
            blocks.append(
                "\n".join([f"auto {member}", f"iface {member} inet manual",
                           f"    bond-master {b.name}"])
            )
        extra = [f"    bond-primary {b.primary}"] if b.primary else []
        blocks.append(
            "\n".join([
                f"# the {name} network, {net.cidr}",
                f"auto {b.name}",
                f"iface {b.name} inet static",
                f"    address {cidr}",
                *gateway,
                f"    bond-slaves {' '.join(b.interfaces)}",
                f"    bond-mode {b.mode}",
                f"    bond-miimon {b.miimon_ms}",
                *extra,
            ])
        )
    text = header(spec, node) + "\n" + "\n\n".join(blocks) + "\n"
    return RenderedFile(IFUPDOWN_PATH, text, 0o644, "network")


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    return [netplan(spec, node), ifupdown(spec, node)]
