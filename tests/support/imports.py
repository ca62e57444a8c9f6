"""What a source file imports, read from its syntax tree (the architecture
tests: tests/unit/test_layout.py, tests/unit/test_decide.py)."""

from __future__ import annotations

import ast
from pathlib import Path


def imported(file: Path) -> set[str]:
    """Every module a file imports, anywhere in it (functions too), and for
    `from M import N` also M.N (N may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found
