"""Dependencies with no wheel for a node's Python or platform (a new Python,
an uncommon machine): shipped as their source archives and built on the node.

The control side still resolves the whole set for the node: pip finds no
wheel for such a package, so it is given a stand-in, a wheel holding only
the package's metadata (read from its source archive, nothing compiled here),
named with tags every interpreter accepts. pip then resolves around it and
downloads every other dependency as a wheel for the node; the stand-in is
dropped, and the source archive, with the wheels its build needs, travels in
its place."""

from __future__ import annotations

import json
import re
import tarfile
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Source archives a wheelhouse carries (sdist/) and what building them needs (build/).
SOURCES, BUILD = "sdist", "build"
#: pip's default build requirements for a source archive without pyproject.toml.
LEGACY_BUILD = ["setuptools>=40.8.0", "wheel"]


def missing_wheels(pip_output: str) -> list[str]:
    """The requirements pip found no wheel for, in its own words (pure):
    "No matching distribution found for X>=1", or within a conflict, the
    names under "no matching distributions available for your environment"."""
    found = re.findall(r"No matching distribution found for (\S+)", pip_output)
    block = re.search(r"no matching distributions available for your environment:\n"
                      r"((?:[ \t]+\S+\n?)+)", pip_output)
    if block:
        found += block.group(1).split()
    return list(dict.fromkeys(found))


def dist_name(name: str) -> str:
    """A distribution's name as wheel file names spell it (PEP 427, lower case)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def standin(report: dict[str, Any], directory: Path) -> Path:
    """A wheel of metadata only, from `pip install --dry-run --report` of a
    source archive: enough for pip to resolve the package's dependencies for
    any target, tagged py3-none-any so that every target takes it."""
    (item,) = report["install"]
    meta = item["metadata"]
    name, version = meta["name"], meta["version"]
    dist = dist_name(name)
    info = f"{dist}-{version}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if meta.get("requires_python"):
        lines.append(f"Requires-Python: {meta['requires_python']}")
    lines += [f"Provides-Extra: {e}" for e in meta.get("provides_extra", [])]
    lines += [f"Requires-Dist: {r}" for r in meta.get("requires_dist", [])]
    files = {f"{info}/METADATA": "\n".join(lines) + "\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hapair\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{p},,\n" for p in (*files, f"{info}/RECORD"))
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as whl:
        for path, text in files.items():
            whl.writestr(path, text)
    return out


def build_requirements(archive: Path) -> list[str]:
    """What building a source archive needs: its pyproject.toml's
    [build-system] requires, or pip's default for a setup.py alone."""
    data = _member(archive, "pyproject.toml")
    if data is None:
        return LEGACY_BUILD
    requires = tomllib.loads(data.decode()).get("build-system", {}).get("requires")
    return list(requires) if requires is not None else LEGACY_BUILD


def _member(archive: Path, name: str) -> bytes | None:
    """A top-level file of a source archive (inside its one folder)."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for n in z.namelist():
                if n.count("/") == 1 and n.endswith(f"/{name}"):
                    return z.read(n)
        return None
    with tarfile.open(archive) as t:
        for m in t.getmembers():
            if m.isfile() and m.name.count("/") == 1 and m.name.endswith(f"/{name}"):
                f = t.extractfile(m)
                return f.read() if f else None
    return None


def report_of(output: str) -> dict[str, Any]:
    """pip's --report - on standard output (after any other line)."""
    start = output.index("{")
    data: dict[str, Any] = json.loads(output[start:])
    return data


Pip = Callable[..., tuple[int, str]]


def fetch(directory: Path, requirement: str, pip: Pip) -> Path:
    """A requirement's source archive in directory/sdist, and its stand-in in
    directory/.standin; the archive's path."""
    sources = directory / SOURCES
    sources.mkdir(parents=True, exist_ok=True)
    before = set(sources.iterdir())
    code, out = pip("download", "--no-deps", "--no-binary=:all:", "--dest", str(sources),
                    requirement)
    new = sorted(set(sources.iterdir()) - before)
    if code != 0 or len(new) != 1:
        tail = " ".join(out.strip().splitlines()[-2:])
        raise ValueError(f"{requirement}: no wheel for the node and no source archive "
                         f"either ({tail})")
    code, out = pip("install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet",
                    "--report", "-", str(new[0]))
    if code != 0:
        raise ValueError(f"{new[0].name}: cannot read its metadata ({out.strip()[-200:]})")
    standin(report_of(out), directory / ".standin")
    return new[0]


def archive_entries(wheels: tuple[Path, ...], sources: tuple[Path, ...],
                    build: tuple[Path, ...]) -> list[tuple[Path, str]]:
    """(file, its name in the venv's archive): wheels at the top, source
    archives under sdist/, their build's wheels under build/."""
    return sorted([*((w, w.name) for w in wheels), *((s, f"{SOURCES}/{s.name}") for s in sources),
                   *((b, f"{BUILD}/{b.name}") for b in build)], key=lambda e: e[1])
