"""Where each key of a TOML document stands: field path -> line number.

tomllib gives values without positions; this scan of the text recovers the
line of every table header and key, so that an error can name its line. It
understands what cluster specs use: ``[table]``, ``[[array.of.tables]]``,
``key = value`` (dotted and quoted keys too) and inline tables, whose inner
keys take the line of the key that opens them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Loc = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(_PART, text)
    return tuple(p.strip("\"'") for p in parts)


def key_lines(text: str) -> dict[Loc, int]:
    """Map every key path in ``text`` to its 1-based line number."""
    lines: dict[Loc, int] = {}
    table: Loc = ()
    counts: dict[tuple[str, ...], int] = {}
    depth = 0  # open brackets of a multi-line array: keys inside are not ours
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if depth > 0:
            depth += _bracket_balance(stripped)
            continue
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header:
            path = _split_key(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(path, 0)
                counts[path] = index + 1
                table = (*path, index)
            else:
                table = _resolve(path, counts)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            loc = (*table, *_split_key(key.group(1)))
            lines.setdefault(loc, number)
            depth = max(0, _bracket_balance(line[key.end():]))
    return lines


def _resolve(path: tuple[str, ...], counts: dict[tuple[str, ...], int]) -> Loc:
    """A ``[a.b]`` header inside the last ``[[a]]`` element means ``a.<last>.b``."""
    out: list[str | int] = []
    for i, part in enumerate(path):
        out.append(part)
        prefix = path[: i + 1]
        if prefix in counts and i < len(path) - 1:
            out.append(counts[prefix] - 1)
    return tuple(out)


def _bracket_balance(text: str) -> int:
    text = re.sub(r'"[^"]*"|\'[^\']*\'|#.*$', "", text)
    return text.count("[") + text.count("{") - text.count("]") - text.count("}")


def line_of(lines: dict[Loc, int], loc: Sequence[str | int]) -> int | None:
    """The line of ``loc``, or of its nearest enclosing key that has one."""
    for end in range(len(loc), 0, -1):
        found = lines.get(tuple(loc[:end]))
        if found is not None:
            return found
    return None
