"""The status page on the agent's API: who may see it, and what it shows
(this node's status and the peer's last answer, rendered by page.py).

A browser signs in with HTTP Basic: any user name, the read-only credential
(or the API token) as the password. Over TLS on the node's addresses, in
plain HTTP on loopback only."""

from __future__ import annotations

import base64
import binascii
import time
from typing import TYPE_CHECKING, Protocol

from hapair.agent.api import page
from hapair.model.status import NodeStatus, StatusDoc

if TYPE_CHECKING:
    from hapair.agent.core.config import AgentConfig
    from hapair.agent.core.view import View


class Shown(Protocol):
    """What the status page reads of the agent."""

    cfg: AgentConfig
    @property
    def view(self) -> View | None: ...


    def status(self) -> StatusDoc: ...


# The page has no script; it may load nothing, be framed by nobody, and is never cached.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "frame-ancestors 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def basic_password(authorization: str) -> str | None:
    """The password of an HTTP Basic header (None if it is not one)."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None


def html(agent: Shown) -> str:
    own = agent.status()
    peer = agent.view.peer if agent.view is not None else None
    if peer is not None and peer.status is not None:
        age = time.monotonic() - peer.answered_at
        theirs = NodeStatus(agent.cfg.peer, peer.status) if age < 5 else NodeStatus(
            agent.cfg.peer, None, f"its agent has not answered {agent.cfg.node} for {age:.0f} s")
    else:
        theirs = NodeStatus(agent.cfg.peer, None, f"its agent does not answer {agent.cfg.node}")
    statuses = sorted([NodeStatus(own.node, own), theirs], key=lambda s: s.node)
    return page.render(agent.cfg.cluster, agent.cfg.vip, statuses,
                       {agent.cfg.node: agent.cfg.peer, agent.cfg.peer: agent.cfg.node},
                       agent.cfg.node, time.time())
