"""pyinfra facts: each runs a probe's command on the node and parses it purely."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Iterable

from pyinfra.api.facts import FactBase

from hapair.probes import gluster, mariadb, python, units


class MariaDB(FactBase[mariadb.MariaDBState]):
    """The local server's role, replication state, users and schemas."""

    def command(self) -> str:
        return mariadb.state_command()

    def process(self, output: Iterable[str]) -> mariadb.MariaDBState:
        return mariadb.parse_state("\n".join(output))


class Gluster(FactBase[gluster.GlusterState]):
    """The trusted pool and one volume."""

    def command(self, volume: str) -> str:
        return gluster.state_command(volume)

    def process(self, output: Iterable[str]) -> gluster.GlusterState:
        return gluster.parse_state("\n".join(output))


class FileText(FactBase[str]):
    """A small file's text, or "" when it is missing."""

    @staticmethod
    def default() -> str:
        return ""

    def command(self, path: str) -> str:
        return f"cat {shlex.quote(path)} 2>/dev/null || true"

    def process(self, output: Iterable[str]) -> str:
        return "\n".join(output)


class PathAnswers(FactBase[bool]):
    """Whether a path can be looked up within 10 s: a FUSE mount whose client
    lost its servers for good answers "Transport endpoint is not connected"."""

    def command(self, path: str) -> str:
        return f"timeout 10 stat -t {shlex.quote(path)} >/dev/null 2>&1 && echo yes || echo no"

    def process(self, output: Iterable[str]) -> bool:
        return "yes" in list(output)


class KernelHas(FactBase[bool]):
    """Whether the kernel offers a driver: bonding (/sys/module) or md (/proc/mdstat)."""

    def command(self, what: str) -> str:
        if what == "md":
            test = "test -e /proc/mdstat"
        else:
            q = shlex.quote(what)
            test = f"test -d /sys/module/{q} || modprobe -n {q}"
        return f"({test}) >/dev/null 2>&1 && echo yes || echo no"

    def process(self, output: Iterable[str]) -> bool:
        return "yes" in list(output)


class FileTexts(FactBase[dict[str, str]]):
    """{path: text} for small text files; "" for one that is missing."""

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, paths: tuple[str, ...]) -> str:
        quoted = " ".join(shlex.quote(p) for p in paths)
        # base64: a file's text on one line, whatever it holds.
        return f'for f in {quoted}; do echo "$(base64 -w0 "$f" 2>/dev/null) $f"; done'

    def process(self, output: Iterable[str]) -> dict[str, str]:
        texts = {}
        for line in output:
            b64, _, path = line.partition(" ")
            texts[path] = base64.b64decode(b64).decode(errors="replace") if b64 else ""
        return texts


class FileDigests(FactBase[dict[str, tuple[str, str]]]):
    """{path: (sha256, octal mode)} for each path that exists."""

    @staticmethod
    def default() -> dict[str, tuple[str, str]]:
        return {}

    def command(self, paths: tuple[str, ...]) -> str:
        quoted = " ".join(shlex.quote(p) for p in paths)
        return (f'for f in {quoted}; do [ -f "$f" ] && '
                'echo "$(sha256sum < "$f" | cut -c1-64) $(stat -c %a "$f") $f"; done; true')

    def process(self, output: Iterable[str]) -> dict[str, tuple[str, str]]:
        digests = {}
        for line in output:
            parts = line.split(" ", 2)
            if len(parts) == 3:
                digests[parts[2]] = (parts[0], parts[1])
        return digests


class PythonTarget(FactBase[python.Target]):
    """The Python the node's venvs run on: version, machine, C library."""

    def command(self) -> str:
        return python.STATE_COMMAND

    def process(self, output: Iterable[str]) -> python.Target:
        return python.parse("\n".join(output))


class Passwd(FactBase["tuple[str, str] | None"]):
    """A user's (home, shell) from the passwd database, or None when there is
    no such user."""

    def command(self, user: str) -> str:
        return f"getent passwd {shlex.quote(user)} || true"

    def process(self, output: Iterable[str]) -> tuple[str, str] | None:
        for line in output:
            fields = line.split(":")
            if len(fields) == 7:
                return fields[5], fields[6]
        return None


class Unit(FactBase[units.UnitState]):
    """A systemd unit's state and boot setting, in one probe (pyinfra's
    SystemdStatus and SystemdEnabled are two)."""

    def command(self, unit: str) -> str:
        return units.state_command(unit)

    def process(self, output: Iterable[str]) -> units.UnitState:
        return units.parse_state("\n".join(output))


class MariaDBGlobals(FactBase[dict[str, str]]):
    """The running server's values of some global variables ({} when down)."""

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, names: tuple[str, ...]) -> str:
        return mariadb.globals_command(names)

    def process(self, output: Iterable[str]) -> dict[str, str]:
        return mariadb.parse_globals("\n".join(output))
