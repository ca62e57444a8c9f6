"""Python code for the nodes, as wheels built on the control side (the nodes
may have no route to a package index)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import hapair


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


def build(directory: Path, requirements: list[str]) -> Wheelhouse:
    """pip wheel the requirements (paths or names) into an emptied directory (pip's
    own cache keeps a rebuild quick), so that no stale wheel is shipped."""
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
    return existing(directory)


def existing(directory: Path) -> Wheelhouse:
    wheels = tuple(sorted(directory.glob("*.whl")))
    if not wheels:
        raise WheelError(f"no wheels in {directory}")
    return Wheelhouse(directory, wheels)
