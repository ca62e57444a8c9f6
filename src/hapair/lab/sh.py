"""Running commands on the lab host: one place, one error type, one log line each."""

from __future__ import annotations

import logging
import shlex
import subprocess
from collections.abc import Sequence

log = logging.getLogger("hapair.lab")


class LabError(RuntimeError):
    pass


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    log.debug("run: %s", shlex.join(argv))
    try:
        result = subprocess.run(
            list(argv), capture_output=True, text=True, input=input, timeout=timeout
        )
    except FileNotFoundError:
        raise LabError(f"{argv[0]} is not installed (run `make install`)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"timed out after {timeout:g}s: {shlex.join(argv)}") from None
    if check and result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines()
        raise LabError(f"{shlex.join(argv)} failed ({result.returncode}): {' '.join(said[-3:])}")
    return result


def in_netns(ns: str, argv: Sequence[str]) -> list[str]:
    """argv run inside a named network namespace (mounts and /sys untouched)."""
    return ["nsenter", f"--net=/run/netns/{ns}", *argv]
