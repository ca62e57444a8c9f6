"""ipmitool for the fence agents that run it (fence_ipmilan and its
aliases), with the BMC's password out of every process's arguments.

fence_ipmilan puts the password it is given on ipmitool's command line
(`-P PASSWORD`), where any local user reads it from /proc/*/cmdline: every
60 s for the device check, and at every fence. So hapair gives the agent no
password, and `ipmitool_path` names this wrapper (the `hapair-ipmitool`
console script, beside `hapair` in the same venv): it drops the empty `-P ''`
the agent then passes and runs the real ipmitool with `-E`, which reads the
password from IPMI_PASSWORD. That variable is in the fence agent's
environment only, which only root can read."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

PASSWORD_ENV = "IPMI_PASSWORD"  # ipmitool -E reads it
REAL_ENV = "HAPAIR_IPMITOOL"  # the real ipmitool's path (the spec's ipmitool_path, or ipmitool)
SCRIPT = "hapair-ipmitool"
# The agents built on ipmitool (fence_ipmilan and its symlinks in fence-agents).
AGENTS = frozenset({"fence_ipmilan", "fence_ipmilanplus", "fence_ilo3", "fence_ilo4",
                    "fence_ilo5", "fence_imm", "fence_idrac"})


def argv(real: str, args: Sequence[str]) -> list[str]:
    """The real ipmitool's argv (pure): every `-P VALUE` dropped, `-E` first."""
    out: list[str] = [real, "-E"]
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a == "-P":
            skip = True
        elif not a.startswith("-P"):  # "-Psecret", glued
            out.append(a)
    return out


def wrapper_path() -> str:
    """This venv's hapair-ipmitool (where hapair itself runs from)."""
    return str(Path(sys.executable).parent / SCRIPT)


def main() -> None:
    real = os.environ.get(REAL_ENV) or "ipmitool"
    os.execvp(real, argv(real, sys.argv[1:]))  # noqa: S606 - the operator's own ipmitool
