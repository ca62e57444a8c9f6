"""Python code for the nodes, as wheels built on the control side (the nodes
may have no route to a package index)."""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import hapair
from hapair.deploy import sources
from hapair.probes.python import Target
from hapair.spec.models import ClusterSpec

if TYPE_CHECKING:
    from packaging.tags import Tag


class WheelError(RuntimeError):
    pass


#: The installer the nodes' venvs are built with when it is shipped: uv
#: installs a venv's wheels in a fraction of pip's time (pip is the fallback).
#: A static binary in a py3-none wheel, one for every glibc of a machine kind.
INSTALLER = "uv==0.13.9"


@dataclass(frozen=True)
class Wheelhouse:
    directory: Path
    wheels: tuple[Path, ...]
    installer: Path | None = None  # a wheel of INSTALLER made for the same target
    # Dependencies with no wheel for the target, built on the node (sources.py),
    # and the wheels their build needs there.
    sources: tuple[Path, ...] = ()
    build: tuple[Path, ...] = ()

    @property
    def sums(self) -> str:
        """sha256sum-style listing: what identifies this set of wheels."""
        lines = [f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {name}"
                 for f, name in sources.archive_entries(self.wheels, self.sources, self.build)]
        return "\n".join(sorted(lines)) + "\n"


def hapair_source(scratch: Path) -> Path:
    """What the nodes' hapair is made from: this source tree (a checkout), or
    when this hapair was installed from a wheel (pipx), a wheel of it made
    again in scratch from the installed files."""
    root = Path(hapair.__file__).resolve().parents[2]
    if (root / "pyproject.toml").exists():
        return root
    return own_wheel(scratch)


def own_wheel(scratch: Path, dist_name: str = "hapair") -> Path:
    """A wheel of an installed pure-Python distribution, from its installed
    files and metadata: byte-identical for the same installed files."""
    dist = metadata.distribution(dist_name)
    name, version = dist.metadata["Name"].replace("-", "_"), dist.version
    info = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for f in dist.files or ():
        parts = Path(str(f)).parts
        if parts[0] == ".." or "__pycache__" in parts or str(f).endswith((".pyc", ".pth")):
            continue
        if parts[0] == info and parts[-1] not in ("METADATA", "entry_points.txt"):
            continue  # RECORD, INSTALLER and the like are the installer's
        files[Path(str(f)).as_posix()] = Path(str(f.locate())).read_bytes()
    if not any(k.startswith(f"{dist_name}/") for k in files):
        raise WheelError(f"{dist_name} {version} is installed without its files (an editable "
                         "install?): deploy from a checkout or a wheel install")
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: hapair\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n")
    record = "".join(f"{path},sha256={_digest(data)},{len(data)}\n"
                     for path, data in sorted(files.items()))
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    scratch.mkdir(parents=True, exist_ok=True)
    out = scratch / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as whl:
        for path, data in sorted(files.items()):
            whl.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


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
        if root.is_file():  # a wheel
            h.update(root.read_bytes())
            continue
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


def build(directory: Path, requirements: list[str], target: Target | None = None,
          on_node: tuple[str, ...] = ()) -> Wheelhouse:
    """Wheels of the requirements (paths or names) and their dependencies for
    a target (default: this interpreter), in an emptied directory, so that no
    stale wheel is shipped; unless nothing they are made from changed since
    the last build there, which is then used as it is. on_node: dependencies
    (names) shipped as source and built on the node even if a wheel exists."""
    stamp = directory / ".fingerprint"
    want = fingerprint([*requirements, *(f"on-node:{n}" for n in on_node)])
    if stamp.exists() and stamp.read_text() == want and any(directory.glob("*.whl")):
        return existing(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    here = (target is None or target == this_target()) and not on_node
    if here:
        _pip("wheel", "--wheel-dir", str(directory), *requirements)
    else:
        _for_another_python(directory, requirements, target or this_target(), on_node)
    stamp.write_text(want)
    house = existing(directory)
    check_fit(house, target or this_target(), built_here=here)
    return house


def _pip(*args: str) -> None:
    code, out = _pip_run(*args, "-q")
    if code != 0:
        tail = " ".join(out.strip().splitlines()[-3:])
        raise WheelError(f"pip {args[0]} {' '.join(a for a in args[1:] if '/' in a)} "
                         f"failed: {tail}")


def _pip_run(*args: str) -> tuple[int, str]:
    """pip's exit code and its output (standard output, then its errors)."""
    # A fixed timestamp makes a rebuilt wheel byte-identical when its source
    # did not change, so apply sees no change and restarts nothing.
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
    result = subprocess.run([sys.executable, "-m", "pip", *args],
                            capture_output=True, text=True, env=env)
    return result.returncode, result.stdout + result.stderr


def _for_another_python(directory: Path, requirements: list[str], target: Target,
                        on_node: tuple[str, ...] = ()) -> None:
    """Source trees become wheels here (they must be pure Python: no
    compiled part); every dependency is a wheel from the package index made
    for the target's interpreter and platform, never built here, or when
    there is none (or on_node names it), its source archive, built on the
    node (sources.py)."""
    if target.glibc is None:
        raise WheelError(f"a node runs {target}: apply ships binary wheels for glibc "
                         "systems only")
    local = [r for r in requirements if Path(r).is_dir()]
    named = [r for r in requirements if not Path(r).is_dir()]
    own = directory / ".own"
    own.mkdir()
    if local:
        _pip("wheel", "--no-deps", "--wheel-dir", str(own), *local)
    for wheel in own.glob("*.whl"):
        if not wheel.name.endswith("-none-any.whl"):
            raise WheelError(f"{wheel.name} is not pure Python: it cannot be built here "
                             f"for {target}")
    for_target = _target_flags(target)
    standins = directory / ".standin"
    for _ in range(MAX_SOURCES + 1):
        links = ["--find-links", str(standins)] if standins.is_dir() else []
        code, out = _pip_run("download", *for_target, *links, "--dest", str(directory),
                             *(str(w) for w in sorted(own.glob("*.whl"))), *named)
        if code == 0:
            break
        missing = sources.missing_wheels(out)
        if not missing:
            raise WheelError(f"pip download for {target} failed: "
                             f"{' '.join(out.strip().splitlines()[-3:])}")
        for requirement in missing:
            try:
                sources.fetch(directory, requirement, _pip_run)
            except ValueError as exc:
                raise WheelError(str(exc)) from None
    else:
        raise WheelError(f"more than {MAX_SOURCES} dependencies have no wheel for {target}")
    # The stand-ins pip copied along; the wheels on_node names give way to
    # their sources (their version as resolved).
    for stand in standins.glob("*.whl") if standins.is_dir() else ():
        (directory / stand.name).unlink(missing_ok=True)
    for name in on_node:
        for wheel in sorted(directory.glob("*.whl")):
            dist, version = _name_version(wheel.name)
            if dist == sources.dist_name(name):
                wheel.unlink()
                try:
                    sources.fetch(directory, f"{name}=={version}", _pip_run)
                except ValueError as exc:
                    raise WheelError(str(exc)) from None
    shutil.rmtree(own)
    shutil.rmtree(standins, ignore_errors=True)
    archives = sorted((directory / sources.SOURCES).glob("*")) \
        if (directory / sources.SOURCES).is_dir() else []
    needs = sorted({r for a in archives for r in sources.build_requirements(a)})
    if needs:
        _pip("download", *for_target, "--dest", str(directory / sources.BUILD), *needs)


#: How many dependencies may lack a wheel for a node before apply gives up.
MAX_SOURCES = 8


def _target_flags(target: Target) -> list[str]:
    major, minor = target.python
    platforms = [a for p in platform_tags(target) for a in ("--platform", p)]
    return ["--only-binary=:all:", "--implementation", "cp", "--python-version",
            f"{major}.{minor}", "--abi", f"cp{major}{minor}", "--abi", "abi3", "--abi", "none",
            *platforms]


def _name_version(filename: str) -> tuple[str, str]:
    parts = filename.split("-")
    return sources.dist_name(parts[0]), parts[1]


def this_target() -> Target:
    """This interpreter, as the probe would describe it."""
    libc, version = platform.libc_ver()
    parts = version.split(".")
    glibc = (int(parts[0]), int(parts[1])) if libc == "glibc" and len(parts) >= 2 else None
    return Target((sys.version_info.major, sys.version_info.minor), platform.machine(), glibc)


def platform_tags(target: Target) -> list[str]:
    """The manylinux platforms a glibc of the target's version loads, newest
    first, with their legacy names (manylinux2014 is 2.17, 2010 is 2.12,
    manylinux1 is 2.5)."""
    if target.glibc is None:
        return []
    arch, (major, minor) = target.machine, target.glibc
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    out = []
    for m in range(minor, 4, -1):
        out.append(f"manylinux_{major}_{m}_{arch}")
        if m in legacy:
            out.append(f"{legacy[m]}_{arch}")
    return out


def supported_tags(target: Target, built_here: bool = False) -> set[Tag]:
    """built_here: also what pip builds here from a source archive (tagged
    linux_ARCH), which fits a node only when it runs this very platform."""
    # packaging is the control side's (the deploy extra): a node has none.
    from packaging.tags import compatible_tags, cpython_tags

    plats = platform_tags(target) + ([f"linux_{target.machine}"] if built_here else [])
    return {*cpython_tags(target.python, platforms=plats),
            *compatible_tags(target.python, f"cp{target.python[0]}{target.python[1]}",
                             platforms=plats)}


def check_fit(house: Wheelhouse, target: Target, built_here: bool = False) -> None:
    """Every wheel loads on the target, or an error names the first that does not."""
    from packaging.utils import parse_wheel_filename

    ok = supported_tags(target, built_here)
    for wheel in (*house.wheels, *house.build):
        if not parse_wheel_filename(wheel.name)[3] & ok:
            raise WheelError(f"{wheel.name} does not fit {target}")


def build_for(spec: ClusterSpec, spec_path: Path, base: Path, target: Target | None = None,
              on_node: tuple[str, ...] = ()) -> tuple[Wheelhouse | None, Wheelhouse]:
    """(app, hapair) wheels for a spec and a target Python (default: this
    one), under base/TARGET-TAG/app and .../hapair. The application's source
    is relative to the spec file; none when it has none. on_node: dependencies
    shipped as source and built on the node."""
    target = target or this_target()
    base = base / target.tag
    app = None
    if spec.web.source:
        source = (spec_path.parent / spec.web.source).resolve()
        app = build(base / "app", [str(source), "gunicorn"], target, on_node)
    own = hapair_source(base / "own")
    installer = build(base / "installer", [INSTALLER], target).wheels[0]
    return app, replace(build(base / "hapair", [str(own)], target, on_node),
                        installer=installer)


def prebuilt(base: Path, target: Target, app: bool) -> tuple[Wheelhouse | None, Wheelhouse]:
    """(app, hapair) wheels built before for this target under base (as
    build_for lays them out), used as they are: never built here."""
    folder = base / target.tag
    if not (folder / "hapair").is_dir():
        raise WheelError(f"no wheels for {target} in {base} (a folder {target.tag} is "
                         "wanted): build them where the package index is reachable")
    installer = next(iter(sorted((folder / "installer").glob("uv-*.whl"))), None)
    houses = (existing(folder / "app") if app else None,
              replace(existing(folder / "hapair"), installer=installer))
    for house in (*houses, Wheelhouse(folder, (installer,)) if installer else None):
        if house is not None:
            check_fit(house, target, built_here=target == this_target())
    return houses


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
        for wheel, name in sources.archive_entries(house.wheels, house.sources, house.build):
            info = tar.gettarinfo(str(wheel), arcname=name)
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
    return Wheelhouse(directory, wheels,
                      sources=tuple(sorted((directory / sources.SOURCES).glob("*"))),
                      build=tuple(sorted((directory / sources.BUILD).glob("*.whl"))))
