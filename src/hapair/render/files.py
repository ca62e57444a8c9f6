"""A rendered file: where it goes on the node, what it holds, its mode."""

from __future__ import annotations

from dataclasses import dataclass

from hapair.spec.models import ClusterSpec, Node


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
