"""A node's hapair is installed without the control side's extra (pyinfra,
the tool of apply; packaging, cryptography): its command line, which
imports every subcommand, must load without them. (A lab module that
imported deploy/ at load time stopped every agent.)"""

from __future__ import annotations

import subprocess
import sys

NO_PYINFRA = ("import sys; "
              "sys.modules.update(pyinfra=None, packaging=None, cryptography=None); ")


def test_the_command_line_loads_without_pyinfra() -> None:
    for argv in (["agent", "--help"], ["apply", "--help"], ["lab", "fault", "--help"]):
        code = NO_PYINFRA + (f"from hapair.entry import main; sys.argv = ['hapair', *{argv!r}]; "
                             "main()")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert r.returncode == 0, f"hapair {' '.join(argv)}: {r.stderr[-2000:]}"


def test_the_lab_and_drill_modules_load_without_pyinfra() -> None:
    code = NO_PYINFRA + ("import hapair.lab.machine, hapair.lab.vm, hapair.lab.rootfs, "
                         "hapair.lab.faults, hapair.drill.scenarios, hapair.agent.loop")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
