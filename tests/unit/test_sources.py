"""Dependencies with no wheel for a node: pip's words parsed (captured
output), the metadata-only stand-in that lets pip resolve around them, and
what building a source archive needs."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from hapair.deploy import sources

PIP = Path(__file__).parent.parent / "fixtures" / "pip"


def test_pip_names_the_requirement_it_found_no_wheel_for() -> None:
    # pip download --only-binary=:all: --python-version 3.13 ... pyyaml==5.3.1
    assert sources.missing_wheels((PIP / "no-wheel-direct.txt").read_text()) == ["pyyaml==5.3.1"]


def test_pip_names_a_dependency_it_found_no_wheel_for() -> None:
    # jinja2 for loongarch64: MarkupSafe has no wheel for it
    text = (PIP / "no-wheel-transitive.txt").read_text()
    assert sources.missing_wheels(text) == ["MarkupSafe>=2.0"]


def test_within_a_conflict_pip_lists_the_packages_with_no_wheel() -> None:
    # alembic for riscv64: markupsafe (under mako) has no riscv64 wheel
    text = (PIP / "no-wheel-in-conflict.txt").read_text()
    assert sources.missing_wheels(text) == ["markupsafe"]
    assert sources.missing_wheels("ERROR: a network error\n") == []


def test_a_standin_carries_the_metadata_pip_resolves_with(tmp_path: Path) -> None:
    report = {"install": [{"metadata": {
        "name": "MarkupSafe", "version": "3.0.4", "requires_python": ">=3.9",
        "requires_dist": ["foo>=1; python_version < '3.12'", "bar; extra == 'x'"],
        "provides_extra": ["x"]}}]}
    wheel = sources.standin(report, tmp_path)
    assert wheel.name == "markupsafe-3.0.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        meta = z.read("markupsafe-3.0.4.dist-info/METADATA").decode()
        assert "Tag: py3-none-any" in z.read("markupsafe-3.0.4.dist-info/WHEEL").decode()
    assert "Requires-Python: >=3.9" in meta and "Provides-Extra: x" in meta
    assert "Requires-Dist: foo>=1; python_version < '3.12'" in meta


def sdist(tmp_path: Path, files: dict[str, str]) -> Path:
    out = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(f"pkg-1.0/{name}")
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return out


def test_a_source_archive_names_what_its_build_needs(tmp_path: Path) -> None:
    modern = sdist(tmp_path, {"pyproject.toml": '[build-system]\nrequires = ["flit_core>=3"]\n',
                              "sub/pyproject.toml": "not read"})
    assert sources.build_requirements(modern) == ["flit_core>=3"]
    legacy = sdist(tmp_path, {"setup.py": "from setuptools import setup\nsetup()\n"})
    assert sources.build_requirements(legacy) == sources.LEGACY_BUILD


def test_the_archive_puts_sources_and_their_build_apart(tmp_path: Path) -> None:
    w, s, b = tmp_path / "a-1-py3-none-any.whl", tmp_path / "m-3.tar.gz", tmp_path / "st.whl"
    names = [n for _, n in sources.archive_entries((w,), (s,), (b,))]
    assert names == ["a-1-py3-none-any.whl", "build/st.whl", "sdist/m-3.tar.gz"]


def test_pips_report_is_read_after_its_other_lines() -> None:
    assert sources.report_of('Processing ./x.tar.gz\n{"install": []}\n') == {"install": []}
