"""The nodes' wheels for a Python other than this host's, made by pip as
apply makes them: the project's own pure wheels built here, every dependency
a binary wheel from the package index for the node's interpreter and
platform. Needs the package index (as `make install` does)."""

from __future__ import annotations

import sys
from pathlib import Path

from hapair.deploy.wheels import Wheelhouse, build, build_for, check_fit
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


def test_a_dependency_with_no_wheel_for_the_node_travels_as_source(tmp_path: Path) -> None:
    """alembic for a Debian loong64 node: MarkupSafe (under Mako and Jinja2)
    has no loongarch64 wheel. pip resolves around a metadata-only stand-in;
    MarkupSafe's source archive and the wheels its build needs go in its
    place."""
    loong = Target((3, 11), "loongarch64", (2, 36))
    house = build(tmp_path / "h", ["alembic==1.20.1"], loong)
    names = [w.name.lower() for w in house.wheels]
    assert any(n.startswith("alembic-") for n in names)
    assert any(n.startswith("mako-") for n in names)
    assert not any(n.startswith("markupsafe-") for n in names)  # neither wheel nor stand-in
    assert [s.name.lower().split("-")[0] for s in house.sources] == ["markupsafe"]
    assert any(b.name.startswith("setuptools-") for b in house.build)
    check_fit(house, loong)


def test_a_dependency_named_is_built_on_the_node_though_it_has_a_wheel(tmp_path: Path) -> None:
    house = build(tmp_path / "h", ["jinja2==3.1.6"], TRIXIE, on_node=("MarkupSafe",))
    assert not any(w.name.lower().startswith("markupsafe-") for w in house.wheels)
    (source,) = house.sources
    assert source.name.lower().startswith("markupsafe-3.")  # the version jinja2 resolved to
