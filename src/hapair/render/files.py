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
    return (
        f"{comment} Rendered by hapair for node {node.name} of cluster {spec.name}.\n"
        f"{comment} Do not edit: `hapair apply` puts this file back as rendered.\n"
    )
