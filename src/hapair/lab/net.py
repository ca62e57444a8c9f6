"""Namespaces, bridges and veths of a lab (iproute2), and partitions (nftables)."""

from __future__ import annotations

import os
import time

from hapair.lab.plan import LabPlan, Namespace
from hapair.lab.sh import LabError, run

NETNS_DIR = "/run/netns"


def netns_exists(name: str) -> bool:
    return os.path.exists(f"{NETNS_DIR}/{name}")


def lab_namespaces(cluster: str) -> list[str]:
    """Every namespace of this lab, found by name (works after a crash too)."""
    if not os.path.isdir(NETNS_DIR):
        return []
    prefix = f"hapair-{cluster}"
    return sorted(n for n in os.listdir(NETNS_DIR) if n == prefix or n.startswith(prefix + "-"))


def create_core(plan: LabPlan) -> None:
    run(["ip", "netns", "add", plan.core])
    run(["ip", "-n", plan.core, "link", "set", "lo", "up"])
    for bridge in plan.bridges.values():
        run(["ip", "-n", plan.core, "link", "add", bridge, "type", "bridge"])
        run(["ip", "-n", plan.core, "link", "set", bridge, "up"])


def create_namespace(plan: LabPlan, ns: Namespace) -> None:
    """A plain namespace (client, control) with one link onto a lab bridge."""
    link = ns.link
    run(["ip", "netns", "add", ns.name])
    run(["ip", "-n", ns.name, "link", "set", "lo", "up"])
    run(["ip", "-n", plan.core, "link", "add", link.outside, "type", "veth",
         "peer", "name", link.inside, "netns", ns.name])
    run(["ip", "-n", plan.core, "link", "set", link.outside, "master", link.bridge, "up"])
    if link.address is not None:
        run(["ip", "-n", ns.name, "addr", "add", str(link.address), "dev", link.inside])
    run(["ip", "-n", ns.name, "link", "set", link.inside, "up"])


def attach(plan: LabPlan, outside: str, bridge: str, timeout: float = 20) -> None:
    """Put a machine's veth end (made by nspawn) on its bridge, once it exists."""
    deadline = time.monotonic() + timeout
    while run(["ip", "-n", plan.core, "link", "show", outside], check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise LabError(f"{outside} did not appear in {plan.core} within {timeout:g}s")
        time.sleep(0.05)
    run(["ip", "-n", plan.core, "link", "set", outside, "master", bridge, "up"])


def set_link(plan: LabPlan, outside: str, up: bool) -> None:
    run(["ip", "-n", plan.core, "link", "set", outside, "up" if up else "down"])


def delete_namespace(name: str, timeout: float = 10) -> None:
    """Delete a namespace and wait until it is really gone (removal is asynchronous)."""
    if not netns_exists(name):
        return
    run(["ip", "netns", "del", name], check=False)
    deadline = time.monotonic() + timeout
    while netns_exists(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    if netns_exists(name):
        raise LabError(f"namespace {name} is still there after {timeout:g}s")


PARTITION_TABLE = "hapair_partition"


def partition_rules(pairs: list[tuple[str, str]]) -> str:
    """An nftables bridge table that drops frames between each pair of ports."""
    rules = []
    for a, b in pairs:
        rules.append(f"        iifname {a} oifname {b} drop")
        rules.append(f"        iifname {b} oifname {a} drop")
    body = "\n".join(rules)
    return (
        f"table bridge {PARTITION_TABLE} {{\n"
        "    chain cut {\n"
        "        type filter hook forward priority 0; policy accept;\n"
        f"{body}\n"
        "    }\n"
        "}\n"
    )


def apply_partition(plan: LabPlan, pairs: list[tuple[str, str]]) -> None:
    heal_partition(plan)
    if pairs:
        run(["ip", "netns", "exec", plan.core, "nft", "-f", "-"], input=partition_rules(pairs))


def heal_partition(plan: LabPlan) -> None:
    run(["ip", "netns", "exec", plan.core, "nft", "delete", "table", "bridge", PARTITION_TABLE],
        check=False)
