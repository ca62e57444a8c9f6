"""Which Python a node runs its venvs with: its version, the CPU architecture
and the C library, so that the wheels shipped to it are ones it can load.

Read before apply installs anything: when /usr/bin/python3 is not there yet,
the version is the one apt would install."""

from __future__ import annotations

import re
from dataclasses import dataclass

STATE_COMMAND = (
    "v=$(/usr/bin/python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])' "
    "2>/dev/null || apt-cache policy python3 2>/dev/null | "
    "sed -n 's/^ *Candidate: \\([0-9]*\\.[0-9]*\\).*/\\1/p'); "
    'echo "python $v"; echo "machine $(uname -m)"; '
    'echo "libc $(getconf GNU_LIBC_VERSION 2>/dev/null)"')


class ProbeError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Target:
    """CPython major.minor on a machine (uname -m), with glibc's version
    (None: another C library, for which only pure wheels fit)."""

    python: tuple[int, int]
    machine: str
    glibc: tuple[int, int] | None

    @property
    def tag(self) -> str:
        """A folder name for this target's wheels: cp311-x86_64-glibc2.36."""
        libc = f"glibc{self.glibc[0]}.{self.glibc[1]}" if self.glibc else "other-libc"
        return f"cp{self.python[0]}{self.python[1]}-{self.machine}-{libc}"

    def __str__(self) -> str:
        libc = f"glibc {self.glibc[0]}.{self.glibc[1]}" if self.glibc else "no glibc"
        return f"CPython {self.python[0]}.{self.python[1]} on {self.machine} ({libc})"


def parse(text: str) -> Target:
    """The probe's three lines; a clear error when the node has no python3
    and apt offers none either."""
    fields = dict(line.split(" ", 1) for line in text.splitlines() if " " in line.strip())
    version = re.fullmatch(r"(\d+)\.(\d+)", fields.get("python", "").strip())
    if version is None:
        raise ProbeError("the node has no /usr/bin/python3 and apt offers no python3 package")
    machine = fields.get("machine", "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_]+", machine):
        raise ProbeError(f"uname -m gave {machine!r}")
    libc = re.fullmatch(r"glibc (\d+)\.(\d+).*", fields.get("libc", "").strip())
    glibc = (int(libc[1]), int(libc[2])) if libc else None
    return Target((int(version[1]), int(version[2])), machine, glibc)
