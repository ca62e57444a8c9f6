"""Python code for the nodes, as wheels built on the control side (the nodes
may have no route to a package index)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import hapair
from hapair.spec.models import ClusterSpec


class WheelError(RuntimeError):
    pass


@dataclass(frozen=True)
class Wheelhouse:
    directory: Path
    wheels: tuple[Path, ...]

    @property
    def sums(self) -> str:
        """sha256sum-style listing: what identifies this set of wheels."""
        lines = [f"{hashlib.sha256(w.read_bytes()).hexdigest()}  {w.name}" for w in self.wheels]
        return "\n".join(sorted(lines)) + "\n"


def hapair_source() -> Path:
    root = Path(hapair.__file__).resolve().parents[2]
    if not (root / "pyproject.toml").exists():
        raise WheelError(f"hapair's source tree is not at {root}: pass --wheelhouse")
    return root


# Caches anywhere, and the folders of a source tree that never go into its wheel.
CACHE_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
TOP_DIRS = {"build", "dist", ".git", ".venv", "tests", "out", "bench", "examples", "apps", "docs"}


def fingerprint(requirements: list[str]) -> str:
    """What the wheels are made from: the requirement strings and, for local
    source trees, every file that goes into a wheel."""
    h = hashlib.sha256()
    for req in requirements:
        h.update(req.encode() + b"\0")
        root = Path(req)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if rel.parts[0] in TOP_DIRS or any(
                part in CACHE_DIRS or part.endswith(".egg-info") for part in rel.parts
            ):
                continue
            if path.is_file():
                h.update(str(rel).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def build(directory: Path, requirements: list[str]) -> Wheelhouse:
    """pip wheel the requirements (paths or names) into an emptied directory, so
    that no stale wheel is shipped; unless nothing they are made from changed
    since the last build there, which is then used as it is."""
    stamp = directory / ".fingerprint"
    want = fingerprint(requirements)
    if stamp.exists() and stamp.read_text() == want and any(directory.glob("*.whl")):
        return existing(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    # A fixed timestamp makes a rebuilt wheel byte-identical when its source
    # did not change, so apply sees no change and restarts nothing.
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(directory), *requirements],
        capture_output=True, text=True, env=env,
    )
    if result.returncode != 0:
        tail = " ".join(result.stderr.strip().splitlines()[-3:])
        raise WheelError(f"building wheels for {', '.join(requirements)} failed: {tail}")
    stamp.write_text(want)
    return existing(directory)


def build_for(spec: ClusterSpec, spec_path: Path, base: Path
              ) -> tuple[Wheelhouse | None, Wheelhouse]:
    """(app, hapair) wheels for a spec, under base/app and base/hapair. The
    application's source is relative to the spec file; none when it has none."""
    app = None
    if spec.web.source:
        source = (spec_path.parent / spec.web.source).resolve()
        app = build(base / "app", [str(source), "gunicorn"])
    return app, build(base / "hapair", [str(hapair_source())])


def archive(house: Wheelhouse) -> Path:
    """The wheels as one uncompressed tar (they are zip files already), made
    once per set of wheels and byte-identical for the same wheels: one
    upload per node instead of one per wheel."""
    out = house.directory / ".wheels.tar"
    stamp = house.directory / ".wheels.tar.sums"
    if out.exists() and stamp.exists() and stamp.read_text() == house.sums:
        return out
    partial = out.with_suffix(".part")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for wheel in sorted(house.wheels, key=lambda w: w.name):
            info = tar.gettarinfo(str(wheel), arcname=wheel.name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 315532800
            info.mode = 0o644
            with wheel.open("rb") as f:
                tar.addfile(info, f)
    partial.replace(out)
    stamp.write_text(house.sums)
    return out


def existing(directory: Path) -> Wheelhouse:
    wheels = tuple(sorted(directory.glob("*.whl")))
    if not wheels:
        raise WheelError(f"no wheels in {directory}")
    return Wheelhouse(directory, wheels)
