"""The `hapair` executable. `apply` drives pyinfra, which runs on gevent: the
standard library must be patched before anything else is imported (as
pyinfra's own CLI does), or SSH channels can hang. Nothing else needs gevent,
and the nodes do not have it."""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "apply":
        from gevent import monkey  # type: ignore[import-untyped]

        monkey.patch_all()
    from hapair.cli import main as cli_main

    cli_main()
