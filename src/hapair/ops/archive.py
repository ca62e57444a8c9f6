"""The binary logs' archive on this host (`hapair backup --binlogs`): each
node's logs fetched through its agent, only what is new each time; a node
whose logs began again (a rebuild, or a new cluster under the old name) gets a
new folder, the old one kept."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from hapair import binlog
from hapair.ops.client import Agents
from hapair.ops.pitr import (
    Archive,
    Logged,
    another_history,
    read_archive,
    to_fetch,
    write_archive,
)
from hapair.spec.models import Node


def folder_of(root: Path, node: str) -> Path:
    return root / "binlogs" / node


def archive_node(agents: Agents, node: Node, root: Path, say: Callable[[str], None]
                 ) -> tuple[int, int]:
    """(files fetched, bytes fetched) from the node's agent into its folder."""
    folder = folder_of(root, node.name)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    began = dt.datetime.now(dt.UTC)
    with agents.stream(node, "/binlogs", timeout=30) as r:
        listed = [Logged.model_validate(x) for x in json.load(r)]
    archive = _made_here(folder, read_archive(folder, node.name))
    if another_history(archive, listed):
        aside = folder.with_name(f"{node.name}.{began:%Y%m%dT%H%M%SZ}")
        folder.rename(aside)
        folder.mkdir(mode=0o700)
        archive = Archive(node=node.name)
        say(f"{node.name}: its binary logs began again (rebuilt): the earlier ones kept in "
            f"{aside}")
    files, total = 0, 0
    sizes = {f.name: f.size for f in archive.files}
    for f, start in to_fetch(archive, listed):
        path = folder / f.name
        with agents.stream(node, f"/binlogs/{f.name}?from={start}", timeout=60) as r, \
                path.open("r+b" if start and path.exists() else "wb") as out:
            out.seek(start)
            shutil.copyfileobj(r, out, 1 << 20)
            out.truncate()
            sizes[f.name] = out.tell()
        files, total = files + 1, total + sizes[f.name] - start
    known = {f.name: f for f in archive.files} | {f.name: f for f in listed}
    archive = Archive(node=node.name, fetched_at=began.isoformat(),
                      files=[known[n].model_copy(update={"size": sizes.get(n, known[n].size)})
                             for n in sorted(known)])
    write_archive(folder, _made_here(folder, archive))
    return files, total


def _made_here(folder: Path, archive: Archive) -> Archive:
    """Each archived file's identity read from its copy here where the index
    lacks it (an index written before it was kept, or an older agent's)."""
    files = []
    for f in archive.files:
        if not f.made:
            f = f.model_copy(update={"made": binlog.file_identity(folder / f.name)})
        files.append(f)
    return archive.model_copy(update={"files": files})


def archives(root: Path, nodes: list[str]) -> list[Archive]:
    """Every node's current archive (not the ones set aside)."""
    return [read_archive(folder_of(root, n), n) for n in nodes
            if (folder_of(root, n) / "index.json").exists()]
