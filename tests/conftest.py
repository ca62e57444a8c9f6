from __future__ import annotations

from pathlib import Path

import pytest

from hapair.spec import ClusterSpec, load_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def m2l_text() -> str:
    return (EXAMPLES / "m2l.toml").read_text()


@pytest.fixture(scope="session")
def m2l() -> ClusterSpec:
    return load_spec(EXAMPLES / "m2l.toml").spec


@pytest.fixture(scope="session")
def lab_m2l() -> ClusterSpec:
    return load_spec(EXAMPLES / "lab-m2l.toml").spec


@pytest.fixture(scope="session")
def lab() -> ClusterSpec:
    return load_spec(EXAMPLES / "lab-pair.toml").spec
