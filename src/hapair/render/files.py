"""A rendered file: where it goes on the node, what it holds, its mode."""

from __future__ import annotations

from dataclasses import dataclass

from hapair.paths import RESTART_WINDOW
from hapair.spec.models import ClusterSpec, Node

# A shell function for the scripts that act without the agent (its stop hook,
# keepalived's check): whether a restart of the agent in place is under way
# at uptime $1 (agent/restarting.py). Whole seconds (the shell's arithmetic):
# it can end a second early, never late.
IN_RESTART_WINDOW = (f'in_restart_window() {{ [ -r {RESTART_WINDOW} ] && '
                     f'read -r end _ < {RESTART_WINDOW} && [ "${{1%.*}}" -lt "${{end%.*}}" ]; }}')


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
    return host_header(spec, f"node {node.name}", comment)


def host_header(spec: ClusterSpec, host: str, comment: str = "#") -> str:
    return (
        f"{comment} Rendered by hapair for {host} of cluster {spec.name}.\n"
        f"{comment} Do not edit: `hapair apply` puts this file back as rendered.\n"
    )
