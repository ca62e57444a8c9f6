"""The nodes' Python environments, built from shipped wheels in the
background while the other steps run, and waited for before anything uses
them: the build is CPU work, the steps between are mostly waits (a database
restart, Gluster's peers), and a lab's nodes share the host's cores.

Each venv holds exactly its wheels, installed offline: rebuilt whole when its
set of wheels changes, untouched otherwise. The wheels travel as one archive a
venv.

The background job is a script file (venv-job.sh, shipped beside the job):
it starts the build detached under a lock, and waits for its result. The
build itself is a script of its own (the job's .sh), written here from the
venvs to build."""

from __future__ import annotations

import hashlib
import io
import shlex
from collections.abc import Generator
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from pyinfra.api.command import FileUploadCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host

from hapair.deploy.facts import FileText
from hapair.deploy.ops import INCOMING, note
from hapair.deploy.shell import cmd
from hapair.deploy.sources import BUILD, SOURCES

#: Where a background build keeps its pid, log and exit status: root's only.
JOBS = f"{INCOMING}/venvs"
#: Held by a build while it runs: an apply started while an earlier one's
#: build still runs waits for it rather than pulling its files away.
LOCK = "/var/lib/hapair/venvs.lock"
#: Where the shipped installer (uv) lives on a node, and what marks its version.
UV_DIR = "/opt/hapair/uv"
UV = f"{UV_DIR}/uv"
UV_MARKER = f"{UV_DIR}/.hapair-wheel"
#: How long a build may take (pip on one emulated CPU takes minutes).
WAIT_S = 1800
#: The job's script on a node (shipped with each build: a node always runs
#: the script of the hapair that started its build).
JOB_SCRIPT = f"{JOBS}/venv-job.sh"


def job_script() -> Path:
    """venv-job.sh as this hapair ships it."""
    return Path(str(resources.files("hapair.deploy") / "venv-job.sh"))


@dataclass(frozen=True)
class VenvSpec:
    """A venv to hold exactly these wheels (local paths, also in archive),
    unpacked on the node in wheel_dir; keys: what its change calls for."""

    venv: str
    wheels: tuple[str, ...]
    archive: str
    wheel_dir: str
    keys: tuple[str, ...]
    # Source archives built on the node (in the archive's sdist/) and the
    # wheels their build needs (build/): see deploy/sources.py.
    sources: tuple[str, ...] = ()
    build_needs: tuple[str, ...] = ()

    @property
    def marker(self) -> str:
        return f"{self.venv}/.hapair-wheels"

    @cached_property
    def want(self) -> str:
        """What the venv's marker holds once built: the wheels' digest."""
        sums = "".join(f"{hashlib.sha256(Path(w).read_bytes()).hexdigest()}  {Path(w).name}\n"
                       for w in sorted((*self.wheels, *self.sources, *self.build_needs)))
        return hashlib.sha256(sums.encode()).hexdigest()

    @property
    def tar(self) -> str:
        """Where its archive lands: named by its digest, so that an apply's
        upload never replaces the archive an earlier build is reading."""
        return f"{self.wheel_dir}.{self.want[:16]}.tar"

    def build(self) -> str:
        """One command: unpack the archive, make the venv, install offline."""
        w, v, tar = shlex.quote(self.wheel_dir), shlex.quote(self.venv), shlex.quote(self.tar)
        # Source archives are built with their build's wheels, offline.
        what = f"{w}/*.whl" + (f" {w}/{SOURCES}/*" if self.sources else "")
        links = f"--find-links {w}" + (f" --find-links {w}/{BUILD}" if self.sources else "")
        install = f"install -q --disable-pip-version-check --no-index {links} {what}"
        uv = (f"{UV} pip install -q --no-cache --offline --no-index {links} "
              f"--python {v}/bin/python --compile-bytecode {what}")
        # The system's Python (not whatever python3 a login shell finds first).
        # uv when shipped; else pip run from the wheel Debian and Ubuntu ship
        # with python3-venv, which installs into the venv without first
        # installing itself there.
        return " && ".join([
            f"rm -rf {w} {v}", f"mkdir -p {w}", f"tar -xf {tar} -C {w}", f"rm -f {tar}",
            "pip=$(ls /usr/share/python-wheels/pip-*.whl 2>/dev/null | sort -V | tail -n 1)",
            f"if [ -x {UV} ]; then /usr/bin/python3 -m venv --without-pip {v} && {uv}; "
            f'elif [ -n "$pip" ]; then /usr/bin/python3 -m venv --without-pip {v} && '
            f'{v}/bin/python "$pip/pip" {install}; '
            f"else /usr/bin/python3 -m venv {v} && {v}/bin/pip {install}; fi",
            f"echo {self.want} > {shlex.quote(self.marker)}", note(self.keys)])


def job_id(envs: tuple[VenvSpec, ...]) -> str:
    return hashlib.sha256(" ".join(e.want for e in envs).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Installer:
    """The installer's wheel (a local path), shipped to a node that lacks
    this very one."""

    wheel: str

    @cached_property
    def want(self) -> str:
        return hashlib.sha256(Path(self.wheel).read_bytes()).hexdigest()

    @property
    def upload(self) -> str:
        return f"{JOBS}/installer.whl"

    def unpack(self) -> str:
        """Its one binary out of the wheel (a zip: Python's zipfile, no unzip
        on a minimal node), in place before its marker."""
        tmp = f"{UV_DIR}.new"
        return " && ".join([
            f"rm -rf {tmp}", f"/usr/bin/python3 -m zipfile -e {self.upload} {tmp}",
            f"mkdir -p {UV_DIR}", f"install -m 755 {tmp}/*.data/scripts/uv {UV}",
            f"rm -rf {tmp} {self.upload}", f"echo {self.want} > {UV_MARKER}"])


def build_all(envs: tuple[VenvSpec, ...]) -> str:
    """The venvs built side by side (each node has its own cores), every
    build waited for; fails if any failed."""
    if len(envs) == 1:
        return envs[0].build()
    jobs = " ".join(f"( {e.build()} ) & p{i}=$!;" for i, e in enumerate(envs))
    waits = " ".join(f'wait "$p{i}" || failed=1;' for i in range(len(envs)))
    return f'failed=; {jobs} {waits} [ -z "$failed" ]'


def stale(envs: tuple[VenvSpec, ...]) -> tuple[VenvSpec, ...]:
    return tuple(e for e in envs
                 if (host.get_fact(FileText, path=e.marker) or "").strip() != e.want)


@operation()
def venvs_start(envs: tuple[VenvSpec, ...], jobs: dict[str, str],
                installer: Installer | None = None) -> Generator[Any, None, None]:
    """Ship the wheels of every venv that lacks them (and the installer, if
    this node lacks it) and start building in the background (niced: the
    steps running meanwhile come first); record the job in `jobs` (node
    name -> job id) for `venvs_ready`."""
    todo = stale(envs)
    if not todo:
        jobs[host.data.get("node")] = ""  # nothing to wait for
        host.noop(f"{', '.join(e.venv for e in envs)} have their wheels")
        return
    job = f"{JOBS}/{job_id(todo)}"
    dirs = sorted({str(Path(e.wheel_dir).parent) for e in todo} | {JOBS})
    yield "mkdir -p " + " ".join(map(shlex.quote, dirs)) + f" && chmod 700 {JOBS}"
    # The installer, unless this node has this very one.
    ship = installer if installer is not None and (
        host.get_fact(FileText, path=UV_MARKER).strip() != installer.want) else None
    if ship is not None:
        yield FileUploadCommand(ship.wheel, ship.upload)
    for e in todo:
        yield FileUploadCommand(e.archive, e.tar)
    build = build_all(todo)
    if ship is not None:
        build = f"{ship.unpack()} && {{ {build}; }}"
    yield FileUploadCommand(str(job_script()), JOB_SCRIPT)
    yield FileUploadCommand(io.StringIO(f"{build}\n"), f"{job}.sh")
    yield cmd("sh", JOB_SCRIPT, "start", job, LOCK)
    jobs[host.data.get("node")] = job


@operation()
def venvs_ready(envs: tuple[VenvSpec, ...], jobs: dict[str, str]
                ) -> Generator[Any, None, None]:
    """Wait for the build `venvs_start` began on this node; fail with the
    end of its log if it failed."""
    job = jobs.get(host.data.get("node"))
    if not job:
        missing = stale(envs) if job is None else ()  # None: the start step did not run
        if missing:
            raise OperationError(f"{', '.join(e.venv for e in missing)} not built")
        host.noop(f"{', '.join(e.venv for e in envs)} have their wheels")
        return
    yield cmd("sh", JOB_SCRIPT, "wait", job, str(WAIT_S))
