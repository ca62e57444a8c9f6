"""The per-node agent: tells keepalived whether this node may hold the VIP,
and keeps the database coherent with it.

Its face is `run`, what `hapair agent` (systemd's unit) calls; nothing
outside this package imports its modules (a test keeps it so): what the
agent shares with the operator's tools, the drills and apply lives in
hapair.model, hapair.tls and hapair.xbstream."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hapair.spec.models import ClusterSpec, Node


def run(spec: ClusterSpec, me: Node, token: str, admin_password: str, repl_password: str, *,
        fence_password: str, webhook_secret: str, etcd_password: str) -> None:
    """The agent's process for node `me`, until systemd stops it."""
    from hapair.agent.loop import Agent

    Agent(spec, me, token, admin_password, repl_password, fence_password=fence_password,
          webhook_secret=webhook_secret, etcd_password=etcd_password).run()
