"""hapair's own pyinfra operations: each reads a fact at run time and yields
commands only when the node differs from the plan, so a second apply changes
nothing and says so."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Generator
from dataclasses import dataclass
from io import BytesIO, StringIO
from typing import Any

from pyinfra.api.command import FileUploadCommand, StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import Directory, File
from pyinfra.operations import systemd

from hapair.deploy import sql
from hapair.deploy.facts import (
    FileDigests,
    KernelHas,
    MariaDB,
    MariaDBGlobals,
    Passwd,
    Unit,
)
from hapair.deploy.shell import cmd, then, tried
from hapair.paths import PENDING_DIR
from hapair.probes.mariadb import Thread
from hapair.probes.units import UnitState
from hapair.secrets import Secrets
from hapair.spec.models import ClusterSpec, Node

SQL_FILE = "/root/.hapair-apply.sql"


def run_sql(statements: list[str]) -> Generator[Any, None, None]:
    """Statements through a file under /root (0700), removed at once: secrets
    never appear on a command line or in pyinfra's output."""
    yield FileUploadCommand(StringIO(sql.script(statements)), SQL_FILE)
    yield StringCommand(f"chmod 600 {SQL_FILE}; mariadb < {SQL_FILE}; rc=$?; "
                        f"rm -f {SQL_FILE}; exit $rc")


def _state() -> Any:
    st = host.get_fact(MariaDB)
    if not st.up:
        raise OperationError(f"MariaDB is not answering on {host.name}: {st.error}")
    return st


@operation()
def mariadb_bootstrap(spec: ClusterSpec, secrets: Secrets) -> Generator[Any, None, None]:
    """Schemas and accounts on the primary (they replicate to the other node)."""
    st = _state()
    statements = sql.bootstrap_sql(spec, secrets, st.users, st.schemas, st.ddl, st.plain,
                                   st.trigger)
    if not statements:
        host.noop("schemas and accounts present")
        return
    yield from run_sql(statements)


@operation()
def mariadb_replica_of(
    spec: ClusterSpec, secrets: Secrets, primary: Node
) -> Generator[Any, None, None]:
    """Replicate from the primary by GTID, unless already doing so."""
    st = _state()
    hosts = {str(primary.interconnect), str(primary.public)}
    if (st.slave.master_host in hosts and st.slave.io in (Thread.RUNNING, Thread.CONNECTING)
            and st.slave.ssl):
        host.noop(f"already a replica of {primary.name} ({st.slave.master_host})")
        return
    yield from run_sql(sql.replicate_from(spec, secrets, primary))


@operation()
def mariadb_open_primary(spec: ClusterSpec) -> Generator[Any, None, None]:
    st = _state()
    if not st.read_only:
        host.noop("already open for writes")
        return
    yield from run_sql(sql.open_primary(spec))


@operation()
def mariadb_globals(wanted: dict[str, str]) -> Generator[Any, None, None]:
    """Variables a running server takes, set where it runs on other values
    (its config file, already written, holds them for its next start)."""
    have = host.get_fact(MariaDBGlobals, names=tuple(sorted(wanted)))
    if not have:
        host.noop("the server does not answer: it reads its config when it starts")
        return
    differ = {k: v for k, v in wanted.items() if have.get(k, "").upper() != v.upper()}
    if not differ:
        host.noop("the running server's values are the config's")
        return
    yield from run_sql(sql.set_globals(differ))


@operation()
def mariadb_datadir(datadir: str) -> Generator[Any, None, None]:
    if host.get_fact(Directory, path=f"{datadir}/mysql"):
        host.noop(f"{datadir} holds a database")
        return
    yield cmd("install", "-d", "-o", "mysql", "-g", "mysql", "-m", "0750", datadir)
    yield cmd("mariadb-install-db", "--user=mysql", f"--datadir={datadir}",
              "--skip-test-db") + " >/dev/null"


def note(keys: tuple[str, ...]) -> str:
    """A note on the node that a restart or reload is owed; it survives an apply
    that fails before the restart, so the next apply still does it."""
    return then(cmd("mkdir", "-p", PENDING_DIR),
                cmd("touch", *(f"{PENDING_DIR}/{k}" for k in keys)))


@dataclass(frozen=True)
class FileSpec:
    path: str
    content: bytes
    mode: int
    keys: tuple[str, ...]  # what a change calls for (see steps.COMPONENT_KEYS)
    owner: str = "root"  # and its group

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


INCOMING = "/var/lib/hapair/incoming"


def files_archive(files: list[FileSpec]) -> bytes:
    """The files as one tar, each at its path (less the leading /) with its
    mode, root's."""
    buf = BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            info = tarfile.TarInfo(f.path.lstrip("/"))
            info.size, info.mode, info.mtime = len(f.content), f.mode, 315532800
            tar.addfile(info, BytesIO(f.content))
    return buf.getvalue()


@operation()
def put_files(files: tuple[FileSpec, ...]) -> Generator[Any, None, None]:
    """Upload the files whose content or mode differ, in one step of three
    round trips whatever their number: a private staging folder, one archive,
    then one command that renames each into place (atomically, from a
    neighbour in its own directory); note what their change calls for."""
    have = host.get_fact(FileDigests, paths=tuple(f.path for f in files))
    stale = [f for f in files if have.get(f.path) != (f.digest, f"{f.mode:o}")]
    if not stale:
        host.noop(f"{len(files)} files in place")
        return
    yield from upload(stale)


def upload(stale: list[FileSpec]) -> Generator[Any, None, None]:
    """The files in place in three round trips, noting what they call for."""
    stage, tar = f"{INCOMING}/files", f"{INCOMING}/files.tar"
    # The archive holds secrets: made private before a byte is written to it.
    yield then(cmd("rm", "-rf", stage), cmd("install", "-d", "-m", "700", INCOMING, stage),
               cmd("install", "-m", "600", "/dev/null", tar))
    yield FileUploadCommand(BytesIO(files_archive(stale)), tar)
    moves = [cmd("tar", "-xf", tar, "-C", stage)]
    for f in stale:
        new = f"{f.path}.hapair-new"
        moves += [cmd("mkdir", "-p", f.path.rsplit("/", 1)[0] or "/"),
                  cmd("mv", "-f", f"{stage}{f.path}", new), cmd("chmod", f"{f.mode:o}", new),
                  "" if f.owner == "root" else cmd("chown", f"{f.owner}:{f.owner}", new),
                  cmd("mv", "-f", new, f.path)]
    keys = tuple(sorted({k for f in stale for k in f.keys}))
    yield then(*moves, cmd("rm", "-rf", stage, tar), note(keys) if keys else "")


@operation()
def when_noted(key: str, command: str) -> Generator[Any, None, None]:
    """Run command (a restart, a reload) when a note says it is owed."""
    if _noted(key):
        yield owed_done(command, key)


def owed_done(command: str, key: str) -> str:
    """The shell that runs an owed restart or reload and clears its note
    (tried three times, shell.tried)."""
    return tried(command, cmd("rm", "-f", f"{PENDING_DIR}/{key}"))


def unit_state(unit: str) -> tuple[str, UnitState]:
    """The unit's full name and its state on this host (a fact)."""
    name = unit if "." in unit else f"{unit}.service"
    return name, host.get_fact(Unit, unit=name)


def _cleared(clears: tuple[str, ...]) -> str:
    return cmd("rm", "-f", *(f"{PENDING_DIR}/{k}" for k in clears))


@operation()
def unit_starting(unit: str, clears: tuple[str, ...] = ()) -> Generator[Any, None, None]:
    """A slow unit's start begun, not waited for: a later step waits for it
    (unit_started), and meanwhile the others run. The unit reads its files
    as they are when its start is queued: the restarts noted for it (clears)
    are owed no more. Should the start fail, unit_started starts it again,
    on the same files."""
    name, st = unit_state(unit)
    if not st.running:
        yield then(cmd("systemctl", "start", "--no-block", name),
                   _cleared(clears) if clears else "")


@operation()
def unit_started(unit: str, clears: tuple[str, ...] = ()) -> Generator[Any, None, None]:
    """A unit enabled and started (three tries, as when_noted's: the lab's
    containers have failed a first start with 219/CGROUP). A unit started
    here reads its files as they are now: the restarts or reloads noted for
    it (clears) are then owed no more, and a first apply does not restart
    what it has just started. A start under way (unit_starting's) is waited
    for."""
    name, st = unit_state(unit)
    if not st.enabled:
        yield cmd("systemctl", "enable", name)
    if not st.running:
        yield tried(cmd("systemctl", "start", name), _cleared(clears) if clears else "")


@operation()
def unit_stopped(unit: str) -> Generator[Any, None, None]:
    """A unit stopped and kept from starting at boot (a masked one is left so)."""
    name, st = unit_state(unit)
    if st.running:
        yield cmd("systemctl", "stop", name)
    if st.file == "enabled":
        yield cmd("systemctl", "disable", name)


@operation()
def system_user(user: str, home: str, shell: str) -> Generator[Any, None, None]:
    """A system user with its own group, no home directory made: one probe
    when it is already there (pyinfra's server.user reads every user and
    group, a second of round trips)."""
    have = host.get_fact(Passwd, user=user)
    if have is None:
        yield cmd("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", home,
                  "--shell", shell, user)
    elif have != (home, shell):
        yield cmd("usermod", "--home", home, "--shell", shell, user)
    else:
        host.noop(f"user {user} exists")


__all__ = [
    "mariadb_bootstrap", "mariadb_datadir", "mariadb_open_primary",
    "mariadb_replica_of", "network_apply", "raid_create", "system_user",
    "unit_started", "unit_starting", "unit_stopped",
]


def _noted(key: str) -> bool:
    return host.get_fact(File, path=f"{PENDING_DIR}/{key}") is not None


@operation()
def network_apply(spec: ClusterSpec) -> Generator[Any, None, None]:
    """Bring the networks up as the netplan file says, when it changed."""
    if not _noted("network"):
        return
    bonded = any(getattr(spec.networks, n).bond for n in ("interconnect", "public"))
    if bonded and not host.get_fact(KernelHas, what="bonding"):
        host.noop("network: skipped, the kernel has no bonding driver "
                  "(the rendered netplan file is in place for a kernel that has)")
        return
    devices = [getattr(spec.networks, n).device for n in ("interconnect", "public")]
    # Without a running udev (containers: their /sys is read-only), netplan
    # apply cannot run (it reloads udev): hand the generated files to
    # systemd-networkd directly.
    yield ("if [ -S /run/udev/control ]; then netplan apply; else netplan generate && "
           "systemctl enable --now systemd-networkd >/dev/null 2>&1; networkctl reload && "
           f"{cmd('networkctl', 'reconfigure', *devices)}; fi")
    yield cmd("rm", "-f", f"{PENDING_DIR}/network")


@operation()
def raid_create() -> Generator[Any, None, None]:
    if not _noted("raid"):
        return
    if not host.get_fact(KernelHas, what="md"):
        host.noop("raid: skipped, the kernel has no md driver (/proc/mdstat is missing)")
        return
    yield then("/etc/hapair/raid-create.sh", cmd("rm", "-f", f"{PENDING_DIR}/raid"))


@operation()
def raid_mount(unit: str) -> Generator[Any, None, None]:
    """The array mounted where the spec puts the data, now and at every boot
    (before MariaDB: its drop-in requires the mount)."""
    if not host.get_fact(KernelHas, what="md"):
        host.noop("raid: not mounted, the kernel has no md driver")
        return
    yield from systemd.service._inner(service=unit, running=True, enabled=True)


@operation()
def mariadb_config_loaded(server_id: int) -> Generator[Any, None, None]:
    """Restart a server still running on another config than hapair's (its
    server_id tells): after a fresh package install, or an apply that failed
    between writing the config and restarting."""
    st = host.get_fact(MariaDB)
    if st.up and st.server_id == server_id:
        host.noop("running on hapair's config")
        return
    yield "systemctl restart mariadb"


@operation()
def apache_links(modules: tuple[str, ...], site: str) -> Generator[Any, None, None]:
    """a2enmod, a2ensite, a2dissite 000-default, in one step; a change notes a reload."""
    paths = [f"/etc/apache2/mods-enabled/{m}.load" for m in modules]
    paths += [f"/etc/apache2/sites-enabled/{site}.conf",
              "/etc/apache2/sites-enabled/000-default.conf"]
    have = host.get_fact(FileDigests, paths=tuple(paths))
    missing = [m for m, p in zip(modules, paths, strict=False) if p not in have]
    commands = [cmd("a2enmod", "-q", *missing)] if missing else []
    if paths[-2] not in have:
        commands.append(cmd("a2ensite", "-q", site))
    if paths[-1] in have:
        commands.append("a2dissite -q 000-default")
    if not commands:
        host.noop("modules and site enabled")
        return
    yield then(*commands, note(("apache",)))
