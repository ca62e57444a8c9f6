"""The nodes' wheels for a Python other than this host's, made by pip as
apply makes them: the project's own pure wheels built here, every dependency
a binary wheel from the package index for the node's interpreter and
platform. Needs the package index (as `make install` does)."""

from __future__ import annotations

import sys
from pathlib import Path

from hapair.deploy.wheels import Wheelhouse, build_for, check_fit
from hapair.probes.python import Target
from hapair.spec import load_spec
from tests.conftest import EXAMPLES

TRIXIE = Target((3, 13), "x86_64", (2, 41))


def test_wheels_for_cpython_3_13_fit_it_and_are_kept(tmp_path: Path) -> None:
    spec_path = EXAMPLES / "lab-pair.toml"
    spec = load_spec(spec_path).spec
    app, agent = build_for(spec, spec_path, tmp_path, TRIXIE)
    assert app is not None and agent.directory == tmp_path / TRIXIE.tag / "hapair"
    names = [w.name for w in (*app.wheels, *agent.wheels)]
    assert any(n.startswith("hapair-") and n.endswith("-py3-none-any.whl") for n in names)
    assert any(n.startswith("roombook-") for n in names)
    compiled = [n for n in names if "-cp3" in n and "-abi3-" not in n]
    assert compiled and all("-cp313-" in n for n in compiled), compiled  # pydantic_core, ...
    check_fit(agent, TRIXIE)
    check_fit(app, TRIXIE)
    # The installer the venvs are built with travels beside hapair's wheels.
    assert agent.installer is not None and agent.installer.name.startswith("uv-")
    check_fit(Wheelhouse(agent.installer.parent, (agent.installer,)), TRIXIE)
    before = {w: w.stat().st_mtime_ns for w in agent.wheels}
    again = build_for(spec, spec_path, tmp_path, TRIXIE)[1]
    assert {w: w.stat().st_mtime_ns for w in again.wheels} == before  # the same sources: kept


def test_a_hapair_installed_from_a_wheel_ships_itself(tmp_path: Path) -> None:
    """Installed with pipx (no checkout), hapair makes its own wheel for the
    nodes again from its installed files: it installs and runs."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    control, node = tmp_path / "control", tmp_path / "node"
    for venv in (control, node):
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([control / "bin/pip", "install", "-q", str(root)], check=True, timeout=600)
    make = ("import sys; from pathlib import Path; from hapair.deploy.wheels import "
            "hapair_source; print(hapair_source(Path(sys.argv[1])))")
    made = [subprocess.run([control / "bin/python", "-c", make, str(tmp_path / f"out{i}")],
                           capture_output=True, text=True, check=True, cwd=tmp_path
                           ).stdout.strip() for i in (1, 2)]
    assert made[0].endswith("-py3-none-any.whl") and "/out1/" in made[0]
    assert Path(made[0]).read_bytes() == Path(made[1]).read_bytes()  # the same bytes again
    subprocess.run([node / "bin/pip", "install", "-q", "--no-deps", made[0]], check=True)
    r = subprocess.run([node / "bin/python", "-c", "import hapair.probes.python as p; "
                        "print(p.__file__)"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and str(node) in r.stdout, r.stderr
