"""The shape the folders promise, checked over the code's own imports (run
`pytest tests/unit/test_layout.py` to see it hold): no cycle between
hapair's subpackages, nothing outside the agent reaching into its modules,
and the shared words (hapair.model) importing none of the parts that use
them."""

from __future__ import annotations

from pathlib import Path

import hapair
from tests.support.imports import imported

ROOT = Path(hapair.__file__).parent


def _imports(file: Path) -> set[str]:
    """Every hapair module a file imports, anywhere in it (functions too)."""
    return {m for m in imported(file) if m == "hapair" or m.startswith("hapair.")}


def _part(module: str) -> str:
    """hapair.agent.loop -> agent; hapair.pki -> pki (a top-level module is
    a part of its own)."""
    return module.split(".")[1] if module.count(".") else ""


def _graph() -> dict[str, set[str]]:
    parts: dict[str, set[str]] = {}
    for file in ROOT.rglob("*.py"):
        rel = file.relative_to(ROOT)
        me = rel.parts[0].removesuffix(".py")
        targets = {_part(m) for m in _imports(file)} - {"", me}
        known = {p.name.removesuffix(".py") for p in ROOT.iterdir()}
        parts.setdefault(me, set()).update(t for t in targets if t in known)
    return parts


def test_no_cycle_between_subpackages() -> None:
    graph = _graph()
    assert {"agent", "model", "ops", "deploy", "drill", "lab", "cli"} <= graph.keys()
    seen: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            assert seen.get(nxt) != 1, " -> ".join([*path, node, nxt])
            if nxt not in seen:
                visit(nxt, [*path, node])
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node, [])


def test_nothing_outside_the_agent_imports_its_modules() -> None:
    """Only the package's face (`hapair.agent.run`, for `hapair agent`)."""
    inside = ROOT / "agent"
    reaching = {}
    for file in ROOT.rglob("*.py"):
        if inside in file.parents:
            continue
        deep = {m for m in _imports(file) if m.startswith("hapair.agent.")} - {"hapair.agent.run"}
        if deep:
            reaching[str(file.relative_to(ROOT))] = sorted(deep)
    assert not reaching
    assert (ROOT / "cli" / "apply_cmds.py").read_text().count("from hapair.agent import run") == 1


def test_the_shared_words_import_no_part_that_uses_them() -> None:
    users = {"agent", "ops", "drill", "cli", "deploy", "lab"}
    files = sorted((ROOT / "model").glob("*.py"))
    assert len(files) >= 6
    for file in files:
        assert not {_part(m) for m in _imports(file)} & users, file.name
