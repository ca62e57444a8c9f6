"""Spec -> the files each node needs: a pure, deterministic function."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from hapair.paths import SPEC_JSON
from hapair.render import (
    apache,
    etcd,
    firewall,
    gluster,
    keepalived,
    mariadb,
    network,
    raid,
    systemd,
)
from hapair.render.files import RenderedFile, header
from hapair.spec.models import ClusterSpec, Node

Renderer = Callable[[ClusterSpec, Node], list[RenderedFile]]

RENDERERS: tuple[Renderer, ...] = (
    keepalived.render,
    mariadb.render,
    apache.render,
    gluster.render,
    etcd.render,
    network.render,
    raid.render,
    systemd.render,
    firewall.render,
)


def spec_json(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    """The spec itself, for the agent (it holds no secrets)."""
    text = spec.model_dump_json(indent=2) + "\n"
    return [RenderedFile(SPEC_JSON, text, 0o644, "hapair")]


def render_node(spec: ClusterSpec, node: Node) -> tuple[RenderedFile, ...]:
    files = [f for r in (*RENDERERS, spec_json) for f in r(spec, node)]
    return tuple(sorted(files, key=lambda f: f.path))


def render_cluster(spec: ClusterSpec) -> dict[str, tuple[RenderedFile, ...]]:
    return {node.name: render_node(spec, node) for node in spec.nodes}


def write_tree(root: Path, files: Iterable[RenderedFile]) -> list[Path]:
    """Write files below root (their node paths made relative), with their modes."""
    written = []
    for f in files:
        target = root / f.relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, f.mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f.content)
        os.chmod(tmp, f.mode)
        tmp.replace(target)
        written.append(target)
    return written


__all__ = ["RenderedFile", "header", "render_cluster", "render_node", "write_tree"]
