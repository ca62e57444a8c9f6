"""Where a node's agent is reached: its API binds there and its certificate
(issued by apply) names them."""

from __future__ import annotations

import contextlib
import ipaddress

from hapair.spec.models import Node


def agent_addresses(node: Node) -> tuple[str, ...]:
    """Where the node's agent is reached (its certificate names them): the
    interconnect and public addresses, and the SSH address when it is one."""
    found = [str(node.interconnect), str(node.public)]
    # A host name: the certificate names the node (its CN) instead.
    with contextlib.suppress(ValueError):
        found.append(str(ipaddress.ip_address(node.ssh)))
    return tuple(dict.fromkeys(found))
