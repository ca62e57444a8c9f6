"""A rendered file: where it goes on the node, what it holds, its mode."""

from __future__ import annotations

from dataclasses import dataclass

from hapair.spec.models import ClusterSpec, Node

# Where the agent and keepalived meet on every node.
RUN_DIR = "/run/hapair"
NOTIFY_FIFO = f"{RUN_DIR}/keepalived.fifo"
TRACK_FILE = f"{RUN_DIR}/vrrp-fault"
ETC_DIR = "/etc/hapair"
SPEC_JSON = f"{ETC_DIR}/cluster.json"
APP_ENV = f"{ETC_DIR}/app.env"
APP_SECRETS_ENV = f"{ETC_DIR}/app-secrets.env"
AGENT_SECRETS_ENV = f"{ETC_DIR}/agent-secrets.env"
HAPAIR_VENV = "/opt/hapair/venv"
APP_USER = "hapair-app"


@dataclass(frozen=True)
class RenderedFile:
    path: str  # absolute path on the node
    content: str
    mode: int = 0o644
    component: str = ""

    @property
    def relpath(self) -> str:
        return self.path.lstrip("/")


def header(spec: ClusterSpec, node: Node, comment: str = "#") -> str:
    return (
        f"{comment} Rendered by hapair for node {node.name} of cluster {spec.name}.\n"
        f"{comment} Do not edit: `hapair apply` puts this file back as rendered.\n"
    )
